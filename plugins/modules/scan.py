#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation only: the action plugin plugins/action/scan.py runs on the controller and drives the
# PowerShell module plugins/modules/scan.ps1 on the host.

from __future__ import annotations

DOCUMENTATION = r"""
module: scan
short_description: Scan Windows hosts for updates with the Windows Update Agent
version_added: 0.1.0
description:
  - Runs a compliance scan with the Windows Update Agent (WUA) on each Windows host and records the
    result in the store, as a state message written to the O(spool) and ingested into the store
    before anything reads host state.
  - B(Online) scans ask the update service the host is configured with (O(server_selection=default)),
    its WSUS server (V(managed_server)) or Windows Update (V(windows_update)).
  - B(Offline) scans (O(server_selection=offline)) use Microsoft's offline scan file
    (C(wsusscn2.cab)) named by O(offline_scan_file), on the host or on a share; the host needs no
    access to Windows Update or WSUS.
  - B(Unforced) scans (the default) are skipped while the host's last good scan is younger than
    O(scan_ttl) B(and) was made against the store's current catalog version. B(Forced) scans
    (O(force=true)) always run.
  - The scan reports installed updates as well as the ones still needed, and hidden updates with
    their hidden flag, so that compliance can tell Installed from Required; the state of each
    (host, update) pair is evaluated later, on the controller.
  - WUA refuses much of its API to a WinRM network logon. The search therefore runs in a worker
    process on the host, started by a short-lived scheduled task (an S4U logon as the connecting
    user, or SYSTEM when that user may not log on as a batch job), or in the module's own process
    when its logon is already one WUA serves (for example with become). The worker is not tied to
    the connection; the controller polls it, tolerates dropped connections, and removes the task and
    the worker's files once it has the result.
options:
  server_selection:
    description:
      - Which update source the scan asks.
      - V(default) is the managed (WSUS) server when the host has one, else Windows Update.
      - V(managed_server) is the host's WSUS server; V(windows_update) is Windows Update.
      - V(offline) scans against O(offline_scan_file) (WUA C(ssOthers) with an offline scan package).
    type: str
    choices: [default, managed_server, windows_update, offline]
    default: default
  offline_scan_file:
    description:
      - The offline scan file (C(wsusscn2.cab)) for O(server_selection=offline), a path on the host
        or a UNC path to a share.
      - A file on a share is first copied to the host, with the connection's credentials; when they
        cannot reach the share (no delegation), the worker tries with its own identity, which is the
        computer account when it runs as SYSTEM. Use a local path or become when neither can read it.
      - Required when O(server_selection=offline).
    type: path
  include_hidden:
    description:
      - Report updates hidden on the host too, with their hidden flag set, so compliance can see them.
      - V(false) leaves hidden updates out of the result.
    type: bool
    default: true
  search_criteria:
    description:
      - The WUA search criteria (C(IUpdateSearcher::Search)).
      - The default finds installed updates as well as the ones not installed, because compliance
        needs both to tell Installed from Required; WUA's own default (C(IsInstalled=0 and IsHidden=0))
        would report neither installed nor hidden updates.
      - C(OR) is allowed only at the top level of the criteria.
    type: str
    default: IsInstalled=0 or IsInstalled=1
  force:
    description:
      - Scan even when the host's last good scan is younger than O(scan_ttl) and was made against
        the current catalog version.
    type: bool
    default: false
  poll_interval:
    description:
      - Least seconds between the starts of two polls of a running scan.
      - Each poll is a separate module run that the host holds until the scan ends or 25 seconds pass
        (less when O(timeout) is nearer), so an hour-long search costs about 150 module runs, and a
        dropped WinRM connection costs one poll (it is retried), not the scan.
    type: float
    default: 5.0
  timeout:
    description:
      - Seconds a scan may take, from its start, before it is given up and cleaned up on the host.
    type: int
    default: 3600
  reconnect_timeout:
    description:
      - Seconds the controller keeps trying to reach a host that stopped answering during a scan (a
        restart of WinRM, a network blip), with growing pauses of 1 to 15 seconds on a fresh
        connection each time, before it reports the host unreachable. Never past O(timeout).
      - The host keeps the scan's result until the controller fetches it, so a host that comes back
        within this time loses nothing. C(0) gives up at the first dropped poll.
    type: int
    default: 300
  scan_ttl:
    description:
      - How long a good scan stays current for unforced scans, as a number and a unit, C(s)
        (seconds), C(m) (minutes), C(h) (hours) or C(d) (days), for example C(90m), C(24h) or C(2d).
      - A scan made against an older catalog version is never current.
    type: str
    default: 24h
  spool:
    description:
      - The folder where each host's result is written as a state message (one file per host,
        written atomically) before it is ingested into the store.
      - When not set, the environment variable E(PATCHWAVE_SPOOL) is used, else C(spool/) beside a
        SQLite O(store), or C($XDG_DATA_HOME/patchwave/spool) for a PostgreSQL store.
      - Several controllers sharing one PostgreSQL store each keep their own spool.
    type: path
  _operation:
    description:
      - Internal use only. Set by the action plugin for each round trip to the host; never set it in
        a task.
    type: str
    default: start
    choices: [start, poll, cancel]
  _operation_options:
    description:
      - Internal use only. Set by the action plugin; never set it in a task.
    type: dict
    suboptions:
      scan_id:
        description:
          - Internal use only. The scan to poll or cancel.
        type: str
      wait_seconds:
        description:
          - Internal use only. How long a poll waits for the scan to end before it answers.
        type: int
        default: 0
      give_up_seconds:
        description:
          - Internal use only. Sent with C(start), the seconds after which the controller has given
            up on the scan (its timeout and reconnect window); sent with each C(poll), the seconds the
            controller may still need before its next poll (the poll's wait, the poll interval and the
            reconnect window, with a margin), which renew it. Past them the host removes the scan's
            task and folder at the next start of any scan. V(0) means 13 hours (C(start)) or no renewal (C(poll)).
        type: int
        default: 0
extends_documentation_fragment:
  - patchwave.windows.store
  - patchwave.windows.attributes
attributes:
  check_mode:
    support: full
    details:
      - Check mode reports whether a scan would run, and against which source, without starting one
        on the host or writing a state message.
  diff_mode:
    support: none
  platform:
    description: Runs on the Windows hosts; the store and the spool are on the controller.
    support: full
    platforms: windows
notes:
  - The connecting user must be a local Administrator on the host.
  - The worker's files live in C(%SystemRoot%\Temp\patchwave-scan-<id>), readable only by SYSTEM,
    Administrators and the connecting user, and are removed with the worker's scheduled task once
    the controller has the result. Ctrl-C cancels the scan on the host before the play stops. A scan
    whose controller never came back (killed, or the host away past O(reconnect_timeout)) is removed
    by the next scan of the host once its next poll is overdue (the poll's wait, O(poll_interval) and
    O(reconnect_timeout), plus a minute, after the last poll; O(timeout) and O(reconnect_timeout) after
    the start when no poll came); M(patchwave.windows.host_workers) lists and removes such scans at any time.
  - WUA's search reports no progress while it runs; a first online scan of a host can take a long
    time.
seealso:
  - module: patchwave.windows.host_workers
  - module: patchwave.windows.catalog_sync
  - module: patchwave.windows.catalog_info
  - name: Using WUA to Scan for Updates Offline
    description: Microsoft's description of offline scans with C(wsusscn2.cab).
    link: https://learn.microsoft.com/en-us/windows/win32/wua_sdk/using-wua-to-scan-for-updates-offline
author:
  - patchwave.windows contributors (@patchwave)
"""

EXAMPLES = r"""
- name: Scan against the host's configured update service unless a recent scan is current
  patchwave.windows.scan:
  register: scan

- name: Forced offline scan against the offline scan file on a share
  patchwave.windows.scan:
    server_selection: offline
    offline_scan_file: "\\\\fileserver\\patchwave\\wsusscn2.cab"
    force: true

- name: Which hosts would be scanned (nothing runs on the hosts)
  patchwave.windows.scan:
    scan_ttl: 12h
  check_mode: true
"""

RETURN = r"""
skipped:
  description:
    - V(true) when the scan was skipped because the host's last good scan is still current (Ansible drops
      the key when it would be false).
  returned: when the scan was skipped
  type: bool
  sample: true
skip_reason:
  description: Why the scan was skipped; null when it was not.
  returned: unless the arguments were refused
  type: str
  sample: the last good scan (received 2026-11-23T06:10:00Z, 2 hours 5 minutes ago) is younger than scan_ttl and was made
    against the current catalog version 7
scan:
  description: The scan as the host reported it.
  returned: when a scan ran
  type: dict
  contains:
    mode:
      description: V(online) or V(offline).
      type: str
      sample: online
    server_selection:
      description: The source asked, as in O(server_selection).
      type: str
      sample: default
    started:
      description: When the search started on the host, ISO 8601 UTC.
      type: str
      sample: "2026-11-23T20:15:00Z"
    finished:
      description: When the search ended on the host, ISO 8601 UTC.
      type: str
      sample: "2026-11-23T20:17:42Z"
    result_code:
      description: WUA's OperationResultCode of the search (2 Succeeded, 3 SucceededWithErrors, 4 Failed, 5 Aborted).
      type: int
      sample: 2
    result:
      description: The name of RV(scan.result_code).
      type: str
      sample: Succeeded
    hresult:
      description:
        - The HRESULT of a failed search, unsigned, as eight hexadecimal digits after C(0x); null when
          the search did not fail.
      type: str
      sample: "0x80240032"
    hresult_name:
      description: The HRESULT's name; null when the search did not fail.
      type: str
      sample: WU_E_INVALID_CRITERIA
    hresult_meaning:
      description: What the HRESULT means; null when the search did not fail.
      type: str
      sample: Invalid criteria string.
    error:
      description:
        - What went wrong, in the host's words, for a search that failed (for example an offline scan
          file that could not be copied from its share); null when the host gave no reason.
      type: str
      sample: "Could not copy the offline scan file '\\\\fs01\\wsus\\wsusscn2.cab' to the host: Cannot find path"
    wua_version:
      description: The Windows Update Agent's version (the file version of C(wuaueng.dll)).
      type: str
      sample: 10.0.20348.2227
    reboot_pending:
      description: Whether the host is waiting for a reboot.
      type: bool
      sample: false
    reboot_sources:
      description:
        - What says a reboot is pending, V(wua), V(component_based_servicing), V(windows_update),
          V(pending_file_rename), V(pending_computer_rename) or V(server_manager).
      type: list
      elements: str
      sample: []
    last_boot:
      description: When the host last started, ISO 8601 UTC, by the host's clock.
      type: str
      sample: "2026-11-20T04:02:11Z"
    update_count:
      description: Number of updates the scan found, installed or not.
      type: int
      sample: 1
    updates:
      description: The updates the scan found.
      type: list
      elements: dict
      contains:
        update_id:
          description: The update's GUID.
          type: str
          sample: 5a9d4f2e-3c1b-4e8f-9a7d-2b6c1e0f4a3d
        revision_number:
          description: The revision the host evaluated.
          type: int
          sample: 200
        kb:
          description: The update's first KB number, without the C(KB) prefix; null when it has none. RV(scan.updates[].kbs) has all.
          type: str
          sample: "5046616"
        kbs:
          description: All the update's KB numbers, without the C(KB) prefix (most updates have one).
          type: list
          elements: str
          sample: ["5046616"]
        title:
          description: The update's title, as WUA gives it.
          type: str
          sample: 2026-11 Cumulative Update for Microsoft server operating system version 21H2 for x64-based Systems (KB5046616)
        installed:
          description: Whether the update is installed.
          type: bool
          sample: false
        hidden:
          description: Whether the update is hidden on the host.
          type: bool
          sample: false
        downloaded:
          description: Whether the update's files are already downloaded on the host.
          type: bool
          sample: false
        reboot_behavior:
          description: V(NeverReboots), V(AlwaysRequiresReboot) or V(CanRequestReboot).
          type: str
          sample: CanRequestReboot
        max_download_size:
          description: The largest download the update may need, in bytes.
          type: int
          sample: 512000000
        severity:
          description: The MSRC severity; null when the update has none.
          type: str
          sample: Critical
        categories:
          description: The update's categories, products and classifications among them.
          type: list
          elements: dict
          contains:
            id:
              description: The category's GUID.
              type: str
              sample: f702a48c-919b-45d6-9aef-ca4248d50397
            name:
              description: The category's name, as WUA gives it.
              type: str
              sample: Windows Server 2019
            type:
              description: The category's type, as WUA gives it (for example V(Product), V(UpdateClassification)).
              type: str
              sample: Product
        superseded_ids:
          description: The GUIDs of the updates this update supersedes.
          type: list
          elements: str
          sample: ["0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"]
hresult:
  description:
    - The HRESULT with which the host refused to start the scan (for example C(0x80070005) when the
      worker's scheduled task could not start), as eight hexadecimal digits after C(0x); null when
      the refusal carried none (for example an offline scan file that does not exist on the host).
  returned: when the host refused to start the scan
  type: str
  sample: "0x80070005"
hresult_name:
  description: The name of RV(hresult); null when there is none.
  returned: when the host refused to start the scan
  type: str
  sample: E_ACCESSDENIED
hresult_meaning:
  description: What RV(hresult) means; null when there is none.
  returned: when the host refused to start the scan
  type: str
  sample: General access denied error.
state_message:
  description: The path of the state message spooled for the host (a scan, a failure to scan, or a failed attempt).
  returned: when a scan ran or failed, except in check mode
  type: str
  sample: /home/ops/.local/share/patchwave/spool/web01~5f0c2a8e-4b1d-4d6e-9a53-2f1e8b7c6d40.json
attempt:
  description:
    - What this attempt recorded for the host. An attempt that never reached the host's updates (the
      host was unreachable or refused the credentials, the connection was lost while the scan started,
      the host refused the request, or the offline scan file is not there) is kept apart from scans
      and leaves the host's compliance as it was; a search the host did not complete makes it Unknown.
    - An unforced scan after a failed attempt always runs, whatever O(scan_ttl) says.
  returned: when a scan ran or failed, except in check mode
  type: dict
  contains:
    failed:
      description: Whether the attempt failed.
      type: bool
      sample: true
    failure:
      description:
        - null when the scan succeeded. Otherwise V(unreachable), V(credentials), V(connection) or
          V(request) (the host keeps its state), or V(scan_failed) (the host did not complete the search).
      type: str
      sample: credentials
    reason:
      description: The error text; null when the scan succeeded.
      type: str
      sample: "ntlm: the specified credentials were rejected by the server"
store_unavailable:
  description:
    - Present and true when the store could not be read; the scan then ran without the TTL check and
      its result waits in the spool until a reader reaches the store.
  returned: when the store was unavailable
  type: bool
  sample: true
catalog_version:
  description:
    - The store's current catalog version, the one the scan is recorded against; null for a store without a
      catalog or when the store was unavailable.
  returned: unless the arguments were refused
  type: int
  sample: 7
"""
