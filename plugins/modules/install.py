#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation only: the action plugin plugins/action/install.py runs on the controller and drives the
# PowerShell module plugins/modules/install.ps1 on the host.

from __future__ import annotations

DOCUMENTATION = r"""
module: install
short_description: Install Windows updates of a deployment inside maintenance windows, with reboots by policy
version_added: 0.1.0
description:
  - With O(deployment), installs on each host what the deployment's update list version needs there.
    The host must be in one of the deployment's targets, the deployment must be available, and an
    available (optional) deployment installs only with O(optional=true); otherwise the host is
    skipped with the reason.
  - A restart already pending happens first (inside a maintenance window). Then a fresh scan, run and
    recorded as M(patchwave.windows.scan) does, decides what the host needs now; the controller orders
    the work (servicing stack updates and prerequisites first, then the shortest maximum run time;
    exclusive updates alone) and gives the host, per update, the latest instant it may start in the
    current maintenance window, corrected by the host's clock offset. An update that does not fit
    waits for the next window and says so, with the figures.
  - Content comes from the host's own update service (the template's C(content_source=wua)), or from the
    deployment's distribution point (C(content_source=distribution_point)), where the host fetches only
    the files of the updates it installs, checks their size and digests, and hands them to the Windows
    Update Agent with C(IUpdate2.CopyToCache).
  - After the install the host restarts by the deployment's reboot policy (only inside a window unless
    the template allows otherwise), the controller waits until it is back with a new boot time
    (O(reboot_timeout)), and a verification scan follows. An update that reported success and is still
    required after the restart is an update loop; it is not retried in the same run.
  - Every step writes enforcement state messages into the O(spool) (per update and per deployment), so
    compliance follows the install without waiting for the next scan.
  - Without O(deployment) (ad hoc), it works as C(ansible.windows.win_updates) for the options and returns
    named alike, from the host's own update service, honouring O(maintenance_windows) when given.
  - The host's B(outcome) is exactly one of C(compliant), C(installed_pending_restart),
    C(waiting_for_window), C(skipped), C(failed), C(update_loop), C(did_not_return), C(unreachable).
  - Like M(patchwave.windows.scan), the Windows Update work runs in a worker process on the host outside
    the WinRM logon, polled by the controller.
options:
  deployment:
    description:
      - The stored deployment (M(patchwave.windows.deployment)) to install.
      - Without it the install is ad hoc.
    type: str
  optional:
    description:
      - Install an available (optional) deployment too.
    type: bool
    default: false
  category_names:
    description:
      - Ad hoc only. The update classifications or products to install, by name, spaces and case ignored
        (V(SecurityUpdates) or V(Security Updates)); V(*) is every category.
      - Defaults to C(CriticalUpdates), C(SecurityUpdates) and C(UpdateRollups), as in win_updates.
    type: list
    elements: str
  accept_list:
    description:
      - Ad hoc only. Regular expressions; only updates whose title, KB (C(KB5034441)) or update id matches
        one are installed.
    type: list
    elements: str
  reject_list:
    description:
      - Ad hoc only. Regular expressions; updates whose title, KB or update id matches one are not installed.
    type: list
    elements: str
  server_selection:
    description:
      - The update service the scans (and, ad hoc or with C(content_source=wua), the downloads) use.
    type: str
    choices: [default, managed_server, windows_update]
    default: default
  reboot:
    description:
      - Ad hoc only. Restart the host when the installed updates need it. A deployment takes its
        template's reboot policy (C(if_required), C(never), C(always)).
    type: bool
    default: false
  reboot_timeout:
    description:
      - Seconds to wait for the host to come back after a restart (a new boot time and WinRM answering).
        A host that does not is C(did_not_return).
    type: int
    default: 1200
  maintenance_windows:
    description:
      - The host's maintenance windows (the definition of M(patchwave.windows.maintenance_window_info)).
      - When not set, the merged host variables whose names start with C(patchwave_maintenance_windows);
        V([]) means always inside a window.
    type: list
    elements: dict
  max_run_time_minutes:
    description:
      - Ad hoc only. The maximum run time of each update for the window fit rule (5 to 9999). A
        deployment takes the list's override, else its template's default for the classification.
    type: int
    default: 60
  window_wait:
    description:
      - Minutes to wait for a maintenance window that opens soon. V(0) returns at once, with the
        updates C(waiting_for_window).
    type: int
    default: 0
  predownload:
    description:
      - Only fetch and verify the content of the updates the host needs (from the distribution point, or
        with WUA's own downloader), whatever the maintenance windows, and hand it to WUA; install nothing,
        restart nothing. Downloads are not bound by windows, so a run ahead of the window leaves only the
        install for the window. Each such update's outcome is C(downloaded); the host's outcome is
        C(waiting_for_window) (C(failed) when a download failed).
    type: bool
    default: false
  accept_eula:
    description:
      - Accept the license terms of updates that have them.
    type: bool
    default: true
  timeout:
    description:
      - Seconds the install worker may take on the host, from its start.
    type: int
    default: 7200
  scan_timeout:
    description:
      - Seconds each scan (before the install, and after the restart) may take.
    type: int
    default: 3600
  poll_interval:
    description:
      - Least seconds between the starts of two polls of the host's worker (each poll is held on the host
        until the work ends or 25 seconds pass).
    type: float
    default: 5.0
  reconnect_timeout:
    description:
      - Seconds the controller keeps trying to reach a host that stopped answering during the work.
    type: int
    default: 300
  store:
    description:
      - The store address, as for M(patchwave.windows.scan); E(PATCHWAVE_STORE) when not set.
    type: str
  spool:
    description:
      - The folder where scans and enforcement state messages are written before they are ingested.
      - E(PATCHWAVE_SPOOL) when not set, else C(spool/) beside a SQLite O(store).
    type: path
  _operation:
    description:
      - Internal use only. Set by the action plugin for each round trip to the host; never set it in a task.
    type: str
    choices: [status, start, poll, cancel, reboot]
  _operation_options:
    description:
      - Internal use only. Set by the action plugin; never set it in a task.
    type: dict
    suboptions:
      install_id:
        description:
          - Internal use only. The install to poll or cancel.
        type: str
      wait_seconds:
        description:
          - Internal use only. How long a poll waits for the worker to end before it answers.
        type: int
        default: 0
      give_up_seconds:
        description:
          - Internal use only. When the controller has given up on the work (as for the scan).
        type: int
        default: 0
      reboot_delay_seconds:
        description:
          - Internal use only. Seconds between the answer to C(reboot) and the restart.
        type: int
        default: 5
  batches:
    description:
      - Internal use only. The controller's Install() calls, each update with its maximum run time and the
        latest instant (host clock) it may start.
    type: list
    elements: dict
  content:
    description:
      - Internal use only. Where the worker takes the files from, and which files.
    type: dict
notes:
  - The worker runs as the connecting user (an S4U logon) or as SYSTEM, so a UNC distribution point is read
    with the computer account (the double-hop problem); give the computer accounts read access to the share,
    or prefer an HTTP(S) distribution point.
  - Check mode returns the plan per host from the store's newest usable scan (its age stated), with a
    deployment as without one; nothing runs on the host.
  - Third-party updates are installed only when the host's update service publishes them.
seealso:
  - module: patchwave.windows.deployment
  - module: patchwave.windows.maintenance_window_info
  - module: patchwave.windows.scan
author:
  - patchwave.windows contributors (@patchwave)
"""

EXAMPLES = r"""
- name: Install the December deployment inside the hosts' maintenance windows
  patchwave.windows.install:
    deployment: 2026-12-pilot
  register: wave

- name: What would install, from the store's newest scans (nothing runs on the hosts)
  patchwave.windows.install:
    deployment: 2026-12-broad
  check_mode: true

- name: Ad hoc, as win_updates, security updates only, restarting when needed
  patchwave.windows.install:
    category_names: [SecurityUpdates]
    reject_list: ['KB5034441']
    reboot: true
"""

RETURN = r"""
outcome:
  description:
    - The host's one outcome, C(compliant), C(installed_pending_restart), C(waiting_for_window), C(skipped),
      C(failed), C(update_loop), C(did_not_return) or C(unreachable).
  returned: always
  type: str
  sample: compliant
reason:
  description: Why the host was skipped (C(not_targeted), C(not_available_yet), C(optional)); null otherwise.
  returned: always
  type: str
  sample: not_targeted
updates:
  description:
    - The updates the run was about, keyed by update id, with C(win_updates)' fields and the update's C(outcome)
      (C(installed), C(pending_restart), C(failed), C(download_failed), C(waiting_for_window), C(not_attempted),
      C(update_loop)); a waiting update carries C(would_start), C(needs_minutes), C(window_ends) and C(message).
  returned: when the host was not skipped
  type: dict
  sample: {"7f1e...": {"id": "7f1e...", "title": "2026-12 Cumulative Update", "kb": ["KB5040001"], "installed": true,
           "downloaded": true, "failure_hresult_code": null, "failure_msg": null, "outcome": "installed"}}
filtered_updates:
  description: Updates found and not installed, keyed by update id, with C(filtered_reasons).
  returned: when the host was not skipped
  type: dict
found_update_count:
  description: How many updates the run was about.
  returned: always
  type: int
installed_update_count:
  description: How many were installed.
  returned: always
  type: int
failed_update_count:
  description: How many failed to download or install.
  returned: always
  type: int
reboot_required:
  description: A restart is still needed to finish the install.
  returned: always
  type: bool
rebooted:
  description: The host was restarted during the run.
  returned: always
  type: bool
update_loops:
  description: Update ids that reported success and were still required after the restart.
  returned: when the host was not skipped
  type: list
  elements: str
plan:
  description: The plan from the store (docs/install_planning.md); in check mode the only result.
  returned: with a deployment
  type: dict
clock_offset_seconds:
  description: The host's clock minus the controller's, measured when the install started.
  returned: when the host was reached
  type: int
state_messages:
  description: How many state messages the run wrote into the spool.
  returned: when the host was reached
  type: int
messages:
  description: What the run did besides installing (restarts, waits).
  returned: when the host was reached
  type: list
  elements: str
"""
