#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: compliance_info
short_description: Evaluated update compliance per host, per update and per named update set
version_added: 0.1.0
description:
  - Evaluates every (host, update) pair from the hosts' newest scans, with the four states of
    Configuration Manager (Required, Not Required, Installed, Unknown) and a detail saying why
    (missing, hidden, pending reboot, install failed, not attempted (window), installed, not
    applicable, superseded, never scanned, scan failed, corrupt message, stale, newer catalog).
  - An installation's enforcement state of an update received after the host's newest scan decides
    that pair until the next scan (installed, pending restart, failed, waiting for a maintenance
    window); RV(hosts.enforcement) shows what installation last said per deployment.
  - Returns, per host, its status, its compliance against each set with counts per state and the
    Required updates with their KBs, and the provenance of the scan that decided (scan time,
    catalog version, scan mode, source); per update of each set, how many hosts require it, have
    it, do not need it and are unknown, the figure to decide what to deploy.
  - State messages waiting in the spool are ingested first, so the answer includes every scan
    that has finished.
  - Runs on the controller. Apart from ingesting waiting state messages, it changes nothing; a store
    that does not exist is an error (a store is made by M(patchwave.windows.catalog_sync)), never created.
  - A host without a usable scan (never scanned, scan failed, corrupt message, stale) is V(unknown)
    against every set, a set that selects no update included. A set that selects no update is named
    in a warning (RV(warnings)); a store without a catalog version makes every host V(unknown), with a warning.
options:
  hosts:
    description:
      - The hosts to report, for example C({{ groups['windows'] }}). A host the store has never
        seen is reported as never scanned (Unknown).
      - When empty, every host the store knows is reported.
    type: list
    elements: str
    default: []
  compliance:
    description: Only report hosts whose compliance against the set V(all) is one of these.
    type: list
    elements: str
    choices: [compliant, non_compliant, unknown]
    default: []
  per_update:
    description:
      - Return hosts per state for every update of each set, most required first.
      - The counts cover every host of O(hosts) (or of the store), whatever O(compliance) filters.
    type: bool
    default: true
  top:
    description: At most this many updates per set in RV(update_sets), most required first. C(0) means all.
    type: int
    default: 0
  details:
    description:
      - Also return every (update, state, detail) pair of each reported host against each set.
        This grows with hosts times updates; use it with O(hosts) for a few hosts.
    type: bool
    default: false
extends_documentation_fragment:
  - patchwave.windows.store
  - patchwave.windows.store.spool
  - patchwave.windows.update_sets
  - patchwave.windows.attributes
  - patchwave.windows.attributes.controller
  - patchwave.windows.attributes.state_reader
notes:
  - The rules are documented in the collection's C(docs/compliance.md).
seealso:
  - module: patchwave.windows.scan
  - module: patchwave.windows.catalog_info
  - plugin: patchwave.windows.compliance
    plugin_type: inventory
author:
  - patchwave.windows contributors (@patchwave)
"""

EXAMPLES = r"""
- name: Compliance of the Windows group against this month's security updates
  patchwave.windows.compliance_info:
    hosts: "{{ groups['windows'] }}"
    update_sets:
      - name: november_security
        classifications: [Security Updates]
        released_after: "2026-11-01"
  delegate_to: localhost
  run_once: true
  register: compliance

- name: Hosts that still need something
  ansible.builtin.debug:
    msg: "{{ item.key }} misses {{ item.value.sets.november_security.required | map(attribute='kb') | list }}"
  loop: "{{ compliance.hosts | dict2items | selectattr('value.sets.november_security.compliance', '==', 'non_compliant') }}"

- name: Every pair of two hosts with its detail and provenance
  patchwave.windows.compliance_info:
    hosts: [web01, web02]
    details: true
    per_update: false
  delegate_to: localhost
"""

RETURN = r"""
catalog_version:
  description: The store's current catalog version; null for a store without a catalog.
  returned: always
  type: int
  sample: 7
evaluated_at:
  description: When the evaluation ran (ISO 8601 UTC); staleness is measured from it.
  returned: always
  type: str
  sample: "2026-11-23T12:00:00Z"
stale_after_days:
  description: The staleness policy used.
  returned: always
  type: int
  sample: 7
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
hosts:
  description: The reported hosts, keyed by host name, each with its status and compliance.
  returned: always
  type: dict
  contains:
    status:
      description: V(usable), or why no usable scan exists (V(never_scanned), V(scan_failed), V(corrupt_message), V(stale)).
      type: str
      sample: usable
    compliance:
      description: Compliance against the set V(all), V(compliant), V(non_compliant) or V(unknown).
      type: str
      sample: non_compliant
    pending_reboot:
      description: The deciding scan found a restart outstanding.
      type: bool
      sample: false
    last_scan:
      description: Provenance of the host's newest scan or failure to scan; null for a host never scanned.
      type: dict
      contains:
        scan_time:
          description: When the scan ended (ISO 8601 UTC).
          type: str
          sample: "2026-11-23T06:10:00Z"
        catalog_version:
          description: The catalog version the scan was made against; null when the store had none or was unavailable.
          type: int
          sample: 7
        scan_mode:
          description: V(online) or V(offline); null when no search ran (for example the host could not be reached).
          type: str
          sample: online
        server_selection:
          description: The update source the scan asked, as the scan module's O(patchwave.windows.scan#module:server_selection).
          type: str
          sample: default
        source:
          description: What recorded the scan (the module's name).
          type: str
          sample: patchwave.windows.scan
        forced:
          description: Whether it was a forced scan.
          type: bool
          sample: false
        error:
          description: Why the scan failed.
          type: str
          returned: when the scan failed
          sample: "Exception from HRESULT: 0x8024402C"
    last_attempt:
      description:
        - The host's newest attempt to scan, successful or not; null when none was made.
        - An attempt that never reached the host's updates (unreachable, credentials refused, a request
          the host refused) is recorded here and leaves RV(hosts.status) and RV(hosts.compliance) as they were.
      type: dict
      contains:
        time:
          description: When the controller recorded it (ISO 8601 UTC, the controller's clock).
          type: str
          sample: "2026-11-23T06:10:02Z"
        failed:
          description: Whether the attempt failed.
          type: bool
          sample: true
        failure:
          description:
            - null for a successful scan; otherwise why it failed.
            - V(unreachable), V(credentials), V(connection) or V(request) said nothing of the host's updates.
            - V(scan_failed) or V(corrupt_message) mean the host did not complete a search, and make it Unknown.
          type: str
          sample: unreachable
        reason:
          description: The error as reported; null for a successful scan.
          type: str
          sample: "ntlm: the specified credentials were rejected by the server"
    enforcement:
      description:
        - What installation last said of each deployment on the host (enforcement state messages),
          keyed by deployment name; empty when no deployment has been installed on the host.
        - Shown as reported. An update's state changes its compliance only when it is newer than the
          host's deciding scan (the C(docs/compliance.md) rules); the next scan supersedes it.
      type: dict
      version_added: 0.4.0
      contains:
        state:
          description:
            - The deployment's newest state on the host, V(in_progress), V(compliant), V(non_compliant)
              or V(failed); null when only its updates have reported.
          type: str
          sample: in_progress
        time:
          description: When the controller received the newest of these states (ISO 8601 UTC).
          type: str
          sample: "2026-11-23T06:40:00Z"
        updates:
          description:
            - Update id to its newest state, V(downloading), V(downloaded), V(download_failed),
              V(installing), V(installed), V(pending_restart), V(failed), V(waiting_for_window) or
              V(not_attempted).
          type: dict
          sample: {"2f1d1a3e-7c54-4c1b-9a6b-0e1f2a3b4c5d": "waiting_for_window"}
      sample: {"november-pilot": {"state": "in_progress", "time": "2026-11-23T06:40:00Z",
               "updates": {"2f1d1a3e-7c54-4c1b-9a6b-0e1f2a3b4c5d": "waiting_for_window"}}}
    last_good_scan:
      description: The newest successful scan; null when there is none.
      type: dict
      contains:
        scan_time:
          description: When the scan ended (ISO 8601 UTC).
          type: str
          sample: "2026-11-23T06:10:00Z"
        catalog_version:
          description: The catalog version the scan was made against; null when the store had none or was unavailable.
          type: int
          sample: 7
        scan_mode:
          description: V(online) or V(offline).
          type: str
          sample: online
    sets:
      description: The host's compliance keyed by set name.
      type: dict
      contains:
        compliance:
          description: V(compliant), V(non_compliant) or V(unknown) against the set.
          type: str
          sample: non_compliant
        counts:
          description:
            - The set's updates per state on the host (required, not_required, installed, unknown).
            - C(required) is the host's figure, its Required updates (a count, not a percentage).
          type: dict
          sample: {"required": 2, "not_required": 150, "installed": 40, "unknown": 0}
        required:
          description: The set's Required updates on the host.
          type: list
          elements: dict
          contains:
            update_id:
              description: The update's GUID.
              type: str
              sample: 5a9d4f2e-3c1b-4e8f-9a7d-2b6c1e0f4a3d
            kb:
              description: The update's first KB number; null when it has none.
              type: str
              sample: "5046616"
            title:
              description: The update's title; null when the catalog has none.
              type: str
              sample: 2026-11 Cumulative Update for Microsoft server operating system version 21H2 for x64-based Systems (KB5046616)
            detail:
              description: Why it is Required (V(missing), V(hidden), V(pending_reboot), V(install_failed), V(not_attempted_window)).
              type: str
              sample: missing
    pairs:
      description:
        - With O(details), keyed by set name, every update of the set as a dict with its C(update_id), C(kb),
          C(title), C(state), C(detail) and the C(provenance) of the scan that decided it (as RV(hosts.last_scan)).
      type: dict
      returned: when O(details=true)
      sample: {"all": [{"update_id": "5a9d4f2e-3c1b-4e8f-9a7d-2b6c1e0f4a3d", "kb": "5046616", "title": "2026-11 Cumulative Update",
               "state": "required", "detail": "missing", "provenance": {"scan_time": "2026-11-23T06:10:00Z", "catalog_version": 7,
               "scan_mode": "online", "server_selection": "default", "source": "patchwave.windows.scan", "forced": false}}]}
warnings:
  description:
    - A store without a catalog version (every host is V(unknown)), or each update set that selects no update.
  returned: when there is something to warn about
  type: list
  elements: str
update_sets:
  description: The sets (always including V(all)), keyed by set name, with their size and summary.
  returned: always
  type: dict
  contains:
    update_count:
      description: Updates in the set.
      type: int
      sample: 167
    hosts:
      description: Reported hosts per compliance state (compliant, non_compliant, unknown).
      type: dict
      sample: {"compliant": 80, "non_compliant": 30, "unknown": 10}
    percent_hosts_compliant:
      description:
        - The headline figure, compliant hosts as a share of the reported hosts (an unknown host counts
          as a host, not as compliant), in percent with one decimal.
        - The same figure as the report's for the same store and hosts. Null when no host is reported.
      type: float
      sample: 66.7
    pairs:
      description: (host, update) pairs per state (required, not_required, installed, unknown).
      type: dict
      sample: {"required": 41, "not_required": 900, "installed": 600, "unknown": 139}
    percent_pairs_compliant:
      description:
        - Installed and Not Required (host, update) pairs as a share of all pairs, in percent (100.0 when there is no pair).
        - A figure about pairs, not hosts; per host, the figure is C(required) of RV(hosts.sets), its Required updates.
      type: float
      sample: 89.3
    updates:
      description: With O(per_update), each update with its hosts per state, most required first.
      type: list
      elements: dict
      returned: when O(per_update=true)
      contains:
        update_id:
          description: The update's GUID.
          type: str
          sample: 5a9d4f2e-3c1b-4e8f-9a7d-2b6c1e0f4a3d
        kb:
          description: The update's first KB number; null when it has none.
          type: str
          sample: "5046616"
        title:
          description: The update's title; null when the catalog has none.
          type: str
          sample: 2026-11 Cumulative Update for Microsoft server operating system version 21H2 for x64-based Systems (KB5046616)
        msrc_severity:
          description: MSRC severity; null when the update has none.
          type: str
          sample: Critical
        hosts:
          description: Reported hosts per state of the update (required, not_required, installed, unknown).
          type: dict
          sample: {"required": 12, "not_required": 0, "installed": 100, "unknown": 8}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.query import superseded_ids
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.deployment_states import (
    deployment_states,
    read_deployment_states,
)
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.groups import pending_reboot
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.module_store import ingested_store
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.reads import evaluate_store, host_pairs, retired_hosts
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.report_data import percent_hosts_compliant
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.rules import REQUIRED, percent_compliant
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.update_sets import (
    ALL_UPDATES,
    UPDATE_SET_SPEC,
    UpdateSetError,
    all_updates,
    parse_update_sets,
)
from ansible_collections.patchwave.windows.plugins.module_utils._store.address import resolve_store_address, secrets_of
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import format_time


def scan_summary(scan):
    return None if scan is None else {"scan_time": scan.finished, "catalog_version": scan.catalog_version,
                                      "scan_mode": scan.mode}


def host_report(name, status, evaluation, enforcement=None):
    """The RETURN ``hosts.<name>`` entry (without pairs); ``enforcement``: the host's deployment states."""
    last_scan = status.provenance()
    if last_scan is not None and status.scan.error:
        last_scan["error"] = status.scan.error
    sets = {}
    pending = False
    for set_name, result in evaluation.sets.items():
        required = []
        for update_id, detail in result.host_required.get(name, ()):
            facts = result.updates.get(update_id, {})
            required.append({"update_id": update_id, "kb": facts.get("kb"), "title": facts.get("title"),
                             "detail": detail})
        pending = pending or pending_reboot(status, result.host_required.get(name, ()))
        sets[set_name] = {"compliance": result.host_compliance[name], "counts": result.host_counts[name],
                          "required": required}
    return {"status": status.status, "compliance": evaluation.sets[ALL_UPDATES].host_compliance[name],
            "pending_reboot": pending, "last_scan": last_scan, "last_good_scan": scan_summary(status.last_good),
            "last_attempt": status.last_attempt, "enforcement": enforcement or {}, "sets": sets}


def set_report(result, hosts, per_update, top):
    pairs = result.state_totals(hosts)
    summary = result.summary(hosts)
    entry = {"update_count": len(result.update_ids), "hosts": summary, "percent_hosts_compliant": percent_hosts_compliant(summary),
             "pairs": pairs, "percent_pairs_compliant": percent_compliant(pairs)}
    if per_update:
        updates = []
        for uid in result.update_ids:
            facts = result.updates.get(uid, {})
            updates.append({"update_id": uid, "kb": facts.get("kb"), "title": facts.get("title"),
                            "msrc_severity": facts.get("msrc_severity"), "hosts": result.update_counts[uid]})
        updates.sort(key=lambda u: (-u["hosts"][REQUIRED], u["kb"] or "", u["update_id"]))
        entry["updates"] = updates[:top] if top else updates
    return entry


def main():
    module = AnsibleModule(
        argument_spec=dict(
            hosts=dict(type="list", elements="str", default=[]),
            compliance=dict(type="list", elements="str", default=[], choices=["compliant", "non_compliant", "unknown"]),
            per_update=dict(type="bool", default=True),
            top=dict(type="int", default=0),
            details=dict(type="bool", default=False),
            update_sets=dict(type="list", elements="dict", default=[], options=UPDATE_SET_SPEC),
            stale_after_days=dict(type="int", default=7),
            store=dict(type="str"),
            spool=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    module.no_log_values.update(secrets_of(resolve_store_address(module.params["store"])))  # never echo a DSN's password
    params = module.params
    for option in ("top", "stale_after_days"):
        if params[option] < 0:
            module.fail_json(msg="%s must be 0 or more, not %d" % (option, params[option]))
    try:
        update_sets = [all_updates()] + parse_update_sets(params["update_sets"])
    except UpdateSetError as exc:
        module.fail_json(msg=str(exc))

    with ingested_store(module, params["store"], params["spool"]) as (store, ingested):
        retired_named = {name: retired for name, retired in retired_hosts(store).items() if name in params["hosts"]}
        evaluation = evaluate_store(store, update_sets, hosts=params["hosts"] or None,
                                    stale_after_days=params["stale_after_days"], per_update=params["per_update"])
        enforcement = deployment_states(read_deployment_states(store))
        superseded = {}
        if params["details"]:
            superseded = {set_name: superseded_ids(store, result.update_ids)
                          for set_name, result in evaluation.sets.items()}
        hosts = {}
        for name, status in evaluation.hosts.items():
            report = host_report(name, status, evaluation, enforcement.get(name))
            if params["compliance"] and report["compliance"] not in params["compliance"]:
                continue
            if params["details"]:
                report["pairs"] = {set_name: host_pairs(store, status, result.update_ids, result.updates,
                                                        superseded[set_name])
                                   for set_name, result in evaluation.sets.items()}
            hosts[name] = report
        sets = {name: set_report(result, list(hosts), params["per_update"], params["top"])
                for name, result in evaluation.sets.items()}
    for text in evaluation.warnings():
        module.warn(text)
    for name, retired in sorted(retired_named.items()):
        module.warn("host %s was retired on %s (%s): its history is kept but not evaluated, so it is reported as "
                    "never scanned until it scans again" % (name, retired["retired_at"], retired["reason"] or "no reason"))
    module.exit_json(changed=False, catalog_version=evaluation.catalog_version,
                     evaluated_at=format_time(evaluation.now),
                     stale_after_days=params["stale_after_days"], ingested=ingested, hosts=hosts, update_sets=sets)


if __name__ == "__main__":
    main()
