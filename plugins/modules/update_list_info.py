#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: update_list_info
short_description: Read update lists, their frozen versions, and one version's members with their compliance
version_added: 0.2.0
description:
  - Lists the stored update lists (M(patchwave.windows.update_list)) with their definitions and frozen versions.
  - With O(name), shows one frozen version of that list (O(version), default the newest) with its members and,
    per member, how many hosts require it, have it, do not need it and are unknown by the current compliance
    evaluation (the rules of M(patchwave.windows.compliance_info)), and the hosts' compliance against the version.
  - State messages waiting in the spool are ingested first, so the counts include every scan that has finished.
  - Runs on the controller. Apart from ingesting waiting state messages, it changes nothing; a store that
    does not exist is an error, never created.
options:
  name:
    description:
      - Only this list, and show one of its frozen versions in RV(list_version).
      - A list that does not exist gives an empty RV(lists).
    type: str
  version:
    description:
      - With O(name), the frozen version to show; when not set, the newest. A version the list does not have is
        an error.
    type: int
  hosts:
    description:
      - The hosts whose compliance is counted in RV(list_version), for example C({{ groups['windows'] }}). A host the
        store has never seen counts as never scanned (Unknown).
      - When empty, every host the store knows.
    type: list
    elements: str
    default: []
  stale_after_days:
    description:
      - A host whose newest scan is older than this many days is Unknown for every update. V(0) turns the
        staleness policy off.
    type: int
    default: 7
extends_documentation_fragment:
  - patchwave.windows.store
  - patchwave.windows.store.spool
  - patchwave.windows.attributes
  - patchwave.windows.attributes.controller
  - patchwave.windows.attributes.state_reader
seealso:
  - module: patchwave.windows.update_list
  - module: patchwave.windows.compliance_info
author:
  - patchwave.windows contributors (@patchwave)
"""

EXAMPLES = r"""
- name: Every update list and its versions
  patchwave.windows.update_list_info:
  register: update_lists

- name: The newest version of this month's list, with how many Windows hosts require each member
  patchwave.windows.update_list_info:
    name: month
    hosts: "{{ groups['windows'] }}"
  register: month

- name: Members still required somewhere
  ansible.builtin.debug:
    msg: "{{ month.list_version.updates | selectattr('hosts.required', '>', 0) | map(attribute='kb') | list }}"
"""

RETURN = r"""
catalog_version:
  description: The store's current catalog version; null for a store without a catalog.
  returned: always
  type: int
  sample: 7
lists:
  description: The stored lists (only O(name) when given), by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The list's name.
      type: str
      sample: month
    description:
      description: What the list is for; null when none was given.
      type: str
      sample: Security and critical updates of the month
    definition:
      description:
        - The stored definition, C(updates) (ids and KBs), C(rule) (the rule's options, null for a static list),
          C(max_updates) and C(max_run_time_minutes).
      type: dict
      sample: {"updates": [], "rule": {"classifications": ["Security Updates"], "superseded": false}, "max_updates": 1000,
               "max_run_time_minutes": {}}
    created_at:
      description: When the list was created (ISO 8601 UTC).
      type: str
      sample: "2026-11-12T08:00:00Z"
    updated_at:
      description: When its definition last changed (ISO 8601 UTC).
      type: str
      sample: "2026-12-10T08:00:00Z"
    versions:
      description: Its frozen versions, oldest first.
      type: list
      elements: dict
      contains:
        version:
          description: The version number.
          type: int
          sample: 2
        catalog_version:
          description: The catalog version it was evaluated against; null when the store had none.
          type: int
          sample: 7
        content_hash:
          description: SHA-256 over the sorted update ids, revisions and run-time overrides.
          type: str
          sample: 0c1f6d3f0a9b8e0f2d0a4b7c1e9d5f3a2b6c8d0e1f2a3b4c5d6e7f8091a2b3c4
        created_at:
          description: When it was frozen (ISO 8601 UTC).
          type: str
          sample: "2026-12-10T08:00:00Z"
        update_count:
          description: Its members.
          type: int
          sample: 12
        added:
          description: Members added against the version before it.
          type: int
          sample: 4
        removed:
          description: Members removed against the version before it.
          type: int
          sample: 3
list_version:
  description:
    - With O(name), the version shown, with its members and their compliance; null without O(name), for a list that
      does not exist, or for one without a frozen version.
  returned: always
  type: dict
  contains:
    name:
      description: The list's name.
      type: str
      sample: month
    version:
      description: The version number.
      type: int
      sample: 2
    catalog_version:
      description: The catalog version it was evaluated against; null when the store had none.
      type: int
      sample: 7
    content_hash:
      description: SHA-256 over the sorted update ids, revisions and run-time overrides.
      type: str
      sample: 0c1f6d3f0a9b8e0f2d0a4b7c1e9d5f3a2b6c8d0e1f2a3b4c5d6e7f8091a2b3c4
    created_at:
      description: When it was frozen (ISO 8601 UTC).
      type: str
      sample: "2026-12-10T08:00:00Z"
    definition:
      description: The list definition the version was evaluated from (as RV(lists[].definition)).
      type: dict
      sample: {"updates": ["KB5046616"], "rule": null, "max_updates": 1000, "max_run_time_minutes": {}}
    added:
      description: Members added against the version before it, each with C(update_id), C(kb) and C(title).
      type: list
      elements: dict
      sample: [{"update_id": "5a9d4f2e-3c1b-4e8f-9a7d-2b6c1e0f4a3d", "kb": "5046616", "title": "2026-11 Cumulative Update"}]
    removed:
      description: Members removed against the version before it, each with C(update_id), C(kb), C(title) and C(reason).
      type: list
      elements: dict
      sample: [{"update_id": "7b1e0c3a-5d2f-4a6b-8c9d-0e1f2a3b4c5d", "kb": "5044281", "title": "2026-10 Cumulative Update",
                "reason": "superseded"}]
    hosts:
      description: Hosts per compliance state against the version's members (compliant, non_compliant, unknown).
      type: dict
      sample: {"compliant": 80, "non_compliant": 30, "unknown": 10}
    updates:
      description: The members, most required first.
      type: list
      elements: dict
      contains:
        update_id:
          description: The update's GUID.
          type: str
          sample: 5a9d4f2e-3c1b-4e8f-9a7d-2b6c1e0f4a3d
        revision_number:
          description: The revision the version recorded.
          type: int
          sample: 200
        kb:
          description: The update's first KB number; null when it has none.
          type: str
          sample: "5046616"
        title:
          description: The update's title; null when the catalog has none.
          type: str
          sample: 2026-11 Cumulative Update for Windows Server 2022 for x64-based Systems (KB5046616)
        classification:
          description: The update's classification; null when the catalog gives none.
          type: str
          sample: Security Updates
        severity:
          description: The MSRC severity; null when the update has none.
          type: str
          sample: Critical
        max_run_time_minutes:
          description: The maximum run time, the list's override, else 60 (a deployment's template may give a default).
          type: int
          sample: 60
        hosts:
          description: Hosts per state of the update (required, not_required, installed, unknown).
          type: dict
          sample: {"required": 12, "not_required": 0, "installed": 100, "unknown": 8}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.query import UpdateFilter, current_version
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.module_store import ingested_store
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.reads import evaluate_store
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.rules import REQUIRED
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.update_sets import UpdateSet
from ansible_collections.patchwave.windows.plugins.module_utils._prepare import lists
from ansible_collections.patchwave.windows.plugins.module_utils._store.address import resolve_store_address, secrets_of


def list_entry(row, versions):
    return {"name": row["name"], "description": row["description"], "definition": row["definition"],
            "created_at": row["created_at"], "updated_at": row["updated_at"],
            "versions": [{"version": v["version"], "catalog_version": v["catalog_version"],
                          "content_hash": v["content_hash"], "created_at": v["created_at"],
                          "update_count": v["update_count"], "added": len(v["added"]), "removed": len(v["removed"])}
                         for v in versions]}


def version_entry(store, name, chosen, hosts, stale_after_days):
    """One version with its members and, per member, hosts per state by the current evaluation."""
    members = chosen["members"]
    facts = lists.update_facts(store, [m["update_id"] for m in members])
    # exactly the version's members (as a set naming the stored list reads them), an empty version included
    exact = UpdateSet(name, UpdateFilter(), update_list=name, list_version=chosen["version"])
    evaluation = evaluate_store(store, [exact], hosts=hosts or None, stale_after_days=stale_after_days,
                                per_update=True, required=False)
    result = evaluation.sets[name]
    updates = []
    for member in members:
        described = dict(facts.get(member["update_id"], {"update_id": member["update_id"]}),
                         revision_number=member["revision_number"],
                         max_run_time_override=member["max_run_time_minutes"])
        entry = lists.member_result(described)
        del entry["release_date"]
        entry["hosts"] = result.update_counts.get(member["update_id"],
                                                  {"required": 0, "not_required": 0, "installed": 0, "unknown": 0})
        updates.append(entry)
    updates.sort(key=lambda u: (-u["hosts"][REQUIRED], u["kb"] or "", u["update_id"]))
    return {"name": name, "version": chosen["version"], "catalog_version": chosen["catalog_version"],
            "content_hash": chosen["content_hash"], "created_at": chosen["created_at"],
            "definition": chosen["definition"], "added": chosen["added"], "removed": chosen["removed"],
            "hosts": result.summary(), "updates": updates}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str"),
            version=dict(type="int"),
            hosts=dict(type="list", elements="str", default=[]),
            stale_after_days=dict(type="int", default=7),
            store=dict(type="str"),
            spool=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    module.no_log_values.update(secrets_of(resolve_store_address(module.params["store"])))  # never echo a DSN's password
    params = module.params
    if params["version"] is not None and not params["name"]:
        module.fail_json(msg="version is the version of one list; give its name too")
    if params["stale_after_days"] < 0:
        module.fail_json(msg="stale_after_days must be 0 or more, not %d" % params["stale_after_days"])
    with ingested_store(module, params["store"], params["spool"], failure="reading update lists failed") as (store, _i):
        catalog_version = current_version(store)
        rows = lists.list_objects(store)
        if params["name"] is not None:
            rows = [r for r in rows if r["name"] == params["name"]]
        entries = [list_entry(row, lists.list_versions(store, row["name"])) for row in rows]
        shown = None
        if params["name"] is not None and entries and entries[0]["versions"]:
            try:
                chosen = lists.read_version(store, params["name"], params["version"])
            except lists.ListError as exc:
                module.fail_json(msg=str(exc))
            shown = version_entry(store, params["name"], chosen, params["hosts"], params["stale_after_days"])
        elif params["name"] is not None and params["version"] is not None:
            module.fail_json(msg="update list '%s' %s" % (params["name"], "has no frozen version" if entries
                                                                          else "does not exist"))
    module.exit_json(changed=False, catalog_version=catalog_version, lists=entries, list_version=shown)


if __name__ == "__main__":
    main()
