#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation only: the module is the PowerShell plugins/modules/host_workers.ps1, run on the host.

from __future__ import annotations

DOCUMENTATION = r"""
module: host_workers
short_description: List and remove the scan and install workers left on Windows hosts
version_added: 0.1.0
description:
  - Lists the workers that patchwave.windows host modules started on each Windows host (a compliance
    scan by M(patchwave.windows.scan), later an installation), and removes them with O(state=absent).
  - A worker is a process outside the WinRM logon with a folder C(%SystemRoot%\Temp\patchwave-<kind>-<id>)
    and, while it starts, a scheduled task of the same name. The controller removes it once it has the
    result; a controller that was killed, lost its connection for good, or timed out while the host was
    away leaves it behind.
  - Each worker is C(running) (it runs, or is still being started), C(finished) (its result waits for
    the controller) or C(abandoned) (past the time its controller gives up on it, or it ended without a
    result). The next start of any host module on the host removes abandoned workers of its own; this
    module lets an admin see and remove any of them.
options:
  state:
    description:
      - V(present) lists the workers (nothing changes).
      - V(absent) removes the workers that O(kind) and O(older_than) select, whatever their state; it
        stops the process if it still runs, deletes the task and the folder. A worker whose controller
        still polls it is then lost to that controller (its task fails); use O(older_than) to spare
        recent ones.
    type: str
    choices: [present, absent]
    default: present
  kind:
    description:
      - The kind of work to select; V(all) selects every kind.
    type: str
    choices: [all, scan, install]
    default: all
  older_than:
    description:
      - Select only workers started at least this long ago, as a number and a unit, C(s) (seconds),
        C(m) (minutes), C(h) (hours) or C(d) (days), for example C(90m) or C(2h).
      - Not set selects every worker.
    type: str
extends_documentation_fragment:
  - patchwave.windows.attributes
attributes:
  check_mode:
    support: full
    details:
      - With O(state=absent), check mode lists the workers that would be removed in RV(removed) and
        removes nothing.
  diff_mode:
    support: none
  platform:
    description: Runs on the Windows hosts.
    support: full
    platforms: windows
notes:
  - The connecting user must be a local Administrator on the host, to see the folders of workers
    other users started.
seealso:
  - module: patchwave.windows.scan
author:
  - patchwave.windows contributors (@patchwave)
"""

EXAMPLES = r"""
- name: List the workers left on the hosts
  patchwave.windows.host_workers:
  register: left

- name: Remove scans started more than two hours ago
  patchwave.windows.host_workers:
    state: absent
    kind: scan
    older_than: 2h

- name: Show which workers would be removed (nothing is removed)
  patchwave.windows.host_workers:
    state: absent
  check_mode: true
"""

RETURN = r"""
workers:
  description:
    - The workers O(kind) and O(older_than) select, as they were before anything was removed.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: The kind of work, C(scan) or C(install).
      type: str
      sample: scan
    work_id:
      description: The work's id (a GUID), the C(scan_id) of a scan.
      type: str
      sample: 5f0c2a8e-4b1d-4d6e-9a53-2f1e8b7c6d40
    owner:
      description: The SID of the user whose connection started the worker; null when the worker's folder does not say.
      type: str
      sample: S-1-5-21-1004336348-1177238915-682003330-500
    started:
      description: When the worker was started, by the host's clock (ISO 8601, UTC).
      type: str
      sample: "2026-11-23T20:15:00Z"
    give_up_at:
      description: When its controller gives up on it (its timeout and reconnect window); after it the worker is abandoned.
      type: str
      sample: "2026-11-23T21:20:00Z"
    state:
      description: C(running), C(finished) (its result waits for the controller) or C(abandoned).
      type: str
      sample: abandoned
    alive:
      description:
        - Whether the worker's scheduled task or process still runs. An V(abandoned) worker may still be
          alive, for example an install whose controller was killed and that Windows is still installing;
          removing it stops that install.
      type: bool
      sample: false
    task_name:
      description: The name of the worker's folder and scheduled task, C(patchwave-<kind>-<id>).
      type: str
      sample: patchwave-scan-5f0c2a8e-4b1d-4d6e-9a53-2f1e8b7c6d40
    folder:
      description: The worker's folder on the host.
      type: str
      sample: C:\Windows\Temp\patchwave-scan-5f0c2a8e-4b1d-4d6e-9a53-2f1e8b7c6d40
removed:
  description:
    - The names (RV(workers[].task_name)) of the workers removed; in check mode, those that would be.
  returned: always
  type: list
  elements: str
  sample: [patchwave-scan-5f0c2a8e-4b1d-4d6e-9a53-2f1e8b7c6d40]
"""
