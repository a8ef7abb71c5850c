#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: compliance_report
short_description: Write an HTML dashboard, CSV and JSON of update compliance from the patchwave store
version_added: 0.1.0
description:
  - Evaluates every host of the store (or the hosts named in O(hosts)) against named sets of updates
    and writes the result to the folder O(dest) as C(<basename>.html), C(<basename>.csv) and
    C(<basename>.json).
  - The HTML dashboard is one self-contained page with inline CSS and inline SVG charts, no JavaScript,
    no fonts, images, stylesheets or links to anything else, so it can be mailed or archived as is.
    It shows hosts and update states per set and overall, the trend over O(history_days), the O(top)
    most required updates, the age and status of the hosts' scans and every host with its Required KBs.
  - The CSV has one row per host and set; the JSON is the whole evaluation as plain data.
  - The section "Deployments and waves" shows every deployment of the store with each host's enforcement state
    (installed, pending restart, waiting for a window, in progress, failed with the HRESULT's code and name, or not
    attempted with the reason, for example a host not targeted, a failed pre-install hook or a host that never
    reported), and every patch wave with its rings, their outcomes per host, halts and times. With V(csv) in
    O(formats) it is also written as C(<basename>_deployments.csv), one row per deployment and host. A host the
    store knows nothing of is never counted as installed.
  - Pending state messages in the spool are ingested into the store first, as by every reader of host
    state (also in check mode). A store that does not exist is an error, never created (a store is
    made by M(patchwave.windows.catalog_sync)).
  - A host without a usable scan is Unknown against every set, a set that selects no update included.
    A store without a catalog version (every host Unknown) and each set that selects no update are
    warnings of the module and shown at the top of the HTML dashboard (and in the JSON's C(warnings)).
  - Each file is written to a temporary file in O(dest), flushed to disk and renamed over the old one,
    and only when its content differs. The generation time embedded in the HTML and JSON is left out
    of that comparison, so a run that finds nothing new reports no change. What the report says can
    still change with time alone, for example when a host's last scan becomes stale or a new day
    enters the trend; that is a real change and is written.
options:
  dest:
    description:
      - The folder to write the report files to. It is created when missing.
    type: path
    required: true
  basename:
    description: The file name of the report files, without the extension.
    type: str
    default: compliance
  formats:
    description:
      - The files to write. V(csv) writes two files, C(<basename>.csv) (hosts and update sets) and
        C(<basename>_deployments.csv) (deployments and hosts).
    type: list
    elements: str
    choices: [html, csv, json]
    default: [html, csv, json]
  title:
    description: The title of the HTML dashboard (and the C(title) of the JSON).
    type: str
    default: Update compliance
  hosts:
    description:
      - Only these hosts, for example C({{ groups['windows'] }}). A name the store does not know is
        reported as never scanned.
      - When not set, every host the store knows.
    type: list
    elements: str
  groups:
    description:
      - The inventory's groups, C({{ groups }}), to tell a host a deployment does not target (its state is then
        not attempted, reason V(not_targeted)) from a host that never reported (reason V(never_reported)).
      - When not set, a host without any report on a deployment is said to have never reported.
      - The deployments show the hosts of O(hosts) when it is set; else every host of the report and every host
        that reported on the deployment or is in one of its waves.
    type: dict
  history_days:
    description: Days of history in the trend chart (and the JSON). C(0) leaves the trend out.
    type: int
    default: 30
  top:
    description: How many of the most required updates to list per set.
    type: int
    default: 20
extends_documentation_fragment:
  - patchwave.windows.store
  - patchwave.windows.store.spool
  - patchwave.windows.update_sets
  - patchwave.windows.attributes
  - patchwave.windows.attributes.controller
attributes:
  check_mode:
    support: full
    details:
      - The report is computed and compared with the files on disk; C(changed) and C(changed_files) say
        what would be written, and nothing is written.
  diff_mode:
    support: partial
    details:
      - Says which files change (path and size before and after); the CSV's text is shown in full when
        it has at most 500 lines.
seealso:
  - module: patchwave.windows.catalog_info
  - module: patchwave.windows.scan
  - module: patchwave.windows.deployment_info
  - module: patchwave.windows.wave_info
author:
  - patchwave.windows contributors (@patchwave)
"""

EXAMPLES = r"""
- name: Report compliance of the Windows group against critical updates and this month's updates
  patchwave.windows.compliance_report:
    dest: /srv/reports/patchwave
    hosts: "{{ groups['windows'] }}"
    update_sets:
      - name: critical
        severities: [Critical]
      - name: november
        released_after: "2026-11-01"
  delegate_to: localhost
  run_once: true
  register: report

- name: Tell hosts a deployment does not target from hosts that never reported on it
  patchwave.windows.compliance_report:
    dest: /srv/reports/patchwave
    hosts: "{{ groups['windows'] }}"
    groups: "{{ groups }}"
  delegate_to: localhost
  run_once: true

- name: Only the CSV, against the whole catalog, with a two-week trend
  patchwave.windows.compliance_report:
    dest: /tmp/report
    formats: [csv]
    history_days: 14
"""

RETURN = r"""
files:
  description:
    - The path of each report file, keyed by format (those of O(formats)); with V(csv), C(csv_deployments) is the
      second CSV file.
  returned: always
  type: dict
  sample: {"html": "/srv/reports/patchwave/compliance.html", "csv": "/srv/reports/patchwave/compliance.csv",
           "csv_deployments": "/srv/reports/patchwave/compliance_deployments.csv"}
changed_files:
  description: The paths whose content changed (or would change in check mode).
  returned: always
  type: list
  elements: str
  sample: ["/srv/reports/patchwave/compliance.html"]
generated:
  description: When the report was computed (ISO 8601 UTC); the time staleness and scan ages are measured from.
  returned: always
  type: str
  sample: "2026-11-23T12:00:00Z"
catalog_version:
  description: The store's current catalog version; null for a store without a catalog.
  returned: always
  type: int
  sample: 7
host_count:
  description: Number of hosts in the report.
  returned: always
  type: int
  sample: 120
host_statuses:
  description: Hosts per scan status.
  returned: always
  type: dict
  contains:
    usable:
      description: Hosts whose newest scan is usable.
      type: int
      sample: 100
    stale:
      description: Hosts whose newest good scan is older than the staleness policy.
      type: int
      sample: 12
    scan_failed:
      description: Hosts whose newest scan failed.
      type: int
      sample: 5
    corrupt_message:
      description: Hosts whose newest state message could not be read.
      type: int
      sample: 0
    never_scanned:
      description: Hosts without any scan.
      type: int
      sample: 3
sets:
  description:
    - The update sets, keyed by set name, each with its number of updates, hosts per compliance state and the share of hosts
      compliant (the headline), pairs per state and the share of pairs compliant.
  returned: always
  type: dict
  contains:
    updates:
      description: Number of updates in the set.
      type: int
      sample: 14
    hosts:
      description: Hosts per compliance state (compliant, non_compliant, unknown).
      type: dict
      sample: {"compliant": 80, "non_compliant": 30, "unknown": 10}
    percent_hosts_compliant:
      description:
        - The headline figure, compliant hosts as a share of the report's hosts (an unknown host counts as a host, not as
          compliant), in percent with one decimal; the same figure as M(patchwave.windows.compliance_info)'s for the same
          store and hosts. Null when the report has no host.
      type: float
      sample: 66.7
    pairs:
      description: (host, update) pairs per state (required, not_required, installed, unknown).
      type: dict
      sample: {"required": 41, "not_required": 900, "installed": 600, "unknown": 139}
    percent_pairs_compliant:
      description: Installed and Not Required (host, update) pairs as a share of all pairs, in percent (100.0 when there is no pair).
      type: float
      sample: 89.3
overall:
  description: Hosts per compliance state over all sets (non-compliant in any set is non-compliant) and pairs summed over the sets.
  returned: always
  type: dict
  contains:
    hosts:
      description: Hosts per compliance state (compliant, non_compliant, unknown).
      type: dict
      sample: {"compliant": 80, "non_compliant": 30, "unknown": 10}
    percent_hosts_compliant:
      description: Hosts compliant over all sets as a share of the report's hosts, in percent with one decimal; null when the report has no host.
      type: float
      sample: 66.7
    pairs:
      description: (host, update) pairs per state, summed over the sets.
      type: dict
      sample: {"required": 41, "not_required": 900, "installed": 600, "unknown": 139}
    percent_pairs_compliant:
      description: Installed and Not Required pairs as a share of all pairs, in percent (100.0 when there is no pair).
      type: float
      sample: 89.3
deployments:
  description: Each deployment's list version and its hosts per enforcement state, keyed by deployment name.
  returned: always
  type: dict
  sample: {"2026-12-pilot": {"list_version": 4, "hosts": {"installed": 3, "pending_restart": 0, "waiting_for_window": 1,
                                                          "in_progress": 0, "failed": 1, "not_attempted": 0}}}
  contains:
    list_version:
      description: The list version the deployment deploys.
      type: int
      sample: 4
    hosts:
      description:
        - Hosts per state, V(installed), V(pending_restart), V(waiting_for_window), V(in_progress), V(failed),
          V(not_attempted) (the reasons are in the JSON file).
      type: dict
      sample: {"installed": 3, "failed": 1, "not_attempted": 2}
waves:
  description: The patch waves, newest first, each with its state and its rings' outcome counts.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The wave's name.
      type: str
      sample: "2026-12"
    state:
      description: V(running), V(halted) or V(finished).
      type: str
      sample: halted
    deployment:
      description: The wave's deployment.
      type: str
      sample: 2026-12-security
    list_version:
      description: The list version the wave froze at its start.
      type: int
      sample: 4
    halt_reason:
      description: Why the wave is halted; null when it is not.
      type: str
      sample: "ring pilot: 2 host(s) failed, the budget allows 1: win002 (failed: ...), win003 (unreachable: ...)"
    rings:
      description:
        - The rings in order, each with its V(name), V(state) (pending, running, done, halted) and V(counts) (hosts per
          install outcome and V(not_run)).
      type: list
      elements: dict
      sample: [{"name": "pilot", "state": "halted", "counts": {"compliant": 2, "failed": 2, "not_run": 0}}]
warnings:
  description: A store without a catalog version (every host Unknown), or each update set that selects no update.
  returned: when there is something to warn about
  type: list
  elements: str
ingested:
  description: What moving the state messages waiting in the spool into the store did before reading.
  returned: always
  type: dict
  contains:
    ingested:
      description: State messages stored.
      type: int
      sample: 3
    duplicates:
      description: State messages the store already held (dropped).
      type: int
      sample: 0
    quarantined:
      description: State messages that could not be read, moved aside.
      type: int
      sample: 0
    pruned:
      description: Scans and failed attempts removed from the history under the retention policy.
      type: int
      sample: 0
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.history import history
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.module_store import ingested_store
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.reads import evaluate_store
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.report_csv import (
    render_csv,
    render_deployments_csv,
)
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.report_data import (
    FORMATS,
    render_json,
    report_data,
    summaries,
)
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.report_deployments import (
    deployments_part,
    rollout_summaries,
    waves_part,
)
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.report_files import plan_files, write_atomic
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.report_html import render_html
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.update_sets import (
    UPDATE_SET_SPEC,
    UpdateSetError,
    all_updates,
    parse_update_sets,
)
from ansible_collections.patchwave.windows.plugins.module_utils._report.rollout import read_rollout
from ansible_collections.patchwave.windows.plugins.module_utils._store.address import resolve_store_address, secrets_of

RENDERERS = {"html": render_html, "csv": render_csv, "csv_deployments": render_deployments_csv, "json": render_json}
# The files each format writes: {kind: file name suffix}.
FILES = {"html": {"html": ".html"}, "csv": {"csv": ".csv", "csv_deployments": "_deployments.csv"},
         "json": {"json": ".json"}}
DIFF_LINES = 500


def _describe(text):
    return "absent\n" if text is None else "%d bytes\n" % len(text.encode("utf-8"))


def _diff(plan, contents):
    entries = []
    for fmt, (path, old, changed) in plan.items():
        if not changed:
            continue
        new = contents[fmt]
        if fmt.startswith("csv") and new.count("\n") <= DIFF_LINES and (old is None or old.count("\n") <= DIFF_LINES):
            before, after = old or "", new
        else:
            before, after = _describe(old), _describe(new)
        entries.append({"before_header": path, "after_header": path, "before": before, "after": after})
    return entries


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dest=dict(type="path", required=True),
            basename=dict(type="str", default="compliance"),
            formats=dict(type="list", elements="str", choices=list(FORMATS), default=list(FORMATS)),
            title=dict(type="str", default="Update compliance"),
            update_sets=dict(type="list", elements="dict", default=[], options=UPDATE_SET_SPEC),
            hosts=dict(type="list", elements="str"),
            groups=dict(type="dict"),
            stale_after_days=dict(type="int", default=7),
            history_days=dict(type="int", default=30),
            top=dict(type="int", default=20),
            spool=dict(type="path"),
            store=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    module.no_log_values.update(secrets_of(resolve_store_address(module.params["store"])))  # never echo a DSN's password
    params = module.params
    for key in ("stale_after_days", "history_days", "top"):
        if params[key] < 0:
            module.fail_json(msg="%s must be 0 or more, not %d" % (key, params[key]))
    basename = params["basename"]
    if not basename or os.sep in basename or basename in (".", ".."):
        module.fail_json(msg="basename must be a plain file name without a folder, not %r" % basename)
    formats = list(dict.fromkeys(params["formats"]))
    if not formats:
        module.fail_json(msg="formats must name at least one of %s" % ", ".join(FORMATS))
    try:
        sets = [all_updates()] + parse_update_sets(params["update_sets"])
    except UpdateSetError as exc:
        module.fail_json(msg=str(exc))

    dest = params["dest"]
    paths = {kind: os.path.join(dest, basename + suffix) for fmt in formats for kind, suffix in FILES[fmt].items()}
    groups = params["groups"]
    if groups is not None:
        bad = sorted(str(name) for name, members in groups.items()
                     if not isinstance(members, list) or not all(isinstance(h, str) for h in members))
        if bad:
            module.fail_json(msg="groups: %s not a list of host names (give the inventory's groups, {{ groups }})"
                             % ", ".join("'%s' is" % name for name in bad))
    with ingested_store(module, params["store"], params["spool"], "compliance report failed") as (store, ingested):
        evaluation = evaluate_store(store, sets, hosts=params["hosts"], stale_after_days=params["stale_after_days"])
        histories = {}
        if params["history_days"]:
            histories = history(store, sets, days=params["history_days"], now=evaluation.now,
                                stale_after_days=params["stale_after_days"], hosts=params["hosts"],
                                evaluation=evaluation)
        rollout = read_rollout(store)

    deployments = deployments_part(rollout, hosts=params["hosts"] or list(evaluation.hosts),
                                   only=params["hosts"] is not None, groups=groups)
    data = report_data(evaluation, histories, title=params["title"], top=params["top"], deployments=deployments,
                       waves=waves_part(rollout["waves"]))
    for text in data["warnings"]:
        module.warn(text)
    contents = {kind: RENDERERS[kind](data) for kind in paths}
    if os.path.exists(dest) and not os.path.isdir(dest):
        module.fail_json(msg="dest '%s' exists and is not a folder" % dest)
    plan = plan_files(paths, contents)
    changed_files = [entry[0] for entry in plan.values() if entry[2]]
    if changed_files and not module.check_mode:
        try:
            os.makedirs(dest, exist_ok=True)
            for fmt, entry in plan.items():
                if entry[2]:
                    write_atomic(entry[0], contents[fmt])
        except OSError as exc:
            module.fail_json(msg="cannot write the report to '%s': %s" % (dest, exc))

    result = dict(
        changed=bool(changed_files),
        files=paths,
        changed_files=changed_files,
        generated=data["generated"],
        catalog_version=data["catalog_version"],
        host_count=data["host_count"],
        host_statuses=data["host_statuses"],
        sets=summaries(data),
        overall={"hosts": data["overall"]["summary"], "percent_hosts_compliant": data["overall"]["percent_hosts_compliant"],
                 "pairs": data["overall"]["state_totals"], "percent_pairs_compliant": data["overall"]["percent_pairs_compliant"]},
        ingested=ingested,
    )
    result["deployments"], result["waves"] = rollout_summaries(data)
    if module._diff:
        result["diff"] = _diff(plan, contents)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
