#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: update_list
short_description: Define an update list (a software update group), static or by rule, and freeze its versions
version_added: 0.2.0
description:
  - An update list is Configuration Manager's software update group, the named set of updates that
    deployments and deployment packages are made from. Its members are the updates named in O(updates),
    plus those its rule selects, like an automatic deployment rule (O(products), O(classifications),
    O(severities), O(title), O(released_days_ago_min), O(required_min_hosts), ...).
  - The list's definition is stored by name, with its history. O(freeze=true) evaluates the members
    against the store's current catalog and compliance and, when they differ from the newest frozen
    version (by update id, revision and run-time override), stores a new frozen version with its number,
    the updates with their revision numbers, the catalog version, a content hash, when, and what was added
    and removed against the previous version. A frozen version never changes.
  - Members that have since been superseded or expired are reported in warnings, and in RV(removed)
    with their reason when they left the list; nothing is dropped silently.
  - A stored list is a named set wherever sets are taken (O(patchwave.windows.compliance_info#module:update_sets)
    with C(update_list)).
  - Runs on the controller. State messages waiting in the spool are ingested first, so
    O(required_min_hosts) counts every scan that has finished. A store that does not exist is an error
    (a store is made by M(patchwave.windows.catalog_sync)), never created. Every change is one transaction.
options:
  name:
    description: The list's name.
    type: str
    required: true
  state:
    description:
      - V(present) creates or updates the list; V(absent) deletes it with its frozen versions (refused while a
        deployment package was built from one of them).
    type: str
    choices: [present, absent]
    default: present
  description:
    description: What the list is for. When not set, the stored description is kept.
    type: str
  updates:
    description:
      - Static members, by update id (GUID) or KB number (C(KB5046616) or C(5046616)).
      - A KB that several updates carry (one per architecture or operating system) takes all of them,
        and says so in a warning and RV(kb_matches). An update or KB the catalog does not hold is an error.
      - When neither O(updates) nor a rule option is given, the stored definition is used as it is
        (to freeze a stored list again without repeating its rule); O(max_updates) and O(max_run_time_minutes)
        are then refused, being part of the definition.
    type: list
    elements: str
    default: []
  update_ids:
    description: Rule; only these updates (GUIDs).
    type: list
    elements: str
    default: []
  kbs:
    description: Rule; only updates with these KB numbers.
    type: list
    elements: str
    default: []
  products:
    description:
      - Rule; only updates of these products, by GUID or title. A name the catalog does not know is an error
        naming the list and the closest names the catalog knows.
    type: list
    elements: str
    default: []
  classifications:
    description:
      - Rule; only updates of these classifications, by GUID or title (for example C(Security Updates)).
        A name the catalog does not know is an error, as for O(products).
    type: list
    elements: str
    default: []
  severities:
    description: Rule; only updates with these MSRC severities; V(Unspecified) matches updates without one.
    type: list
    elements: str
    choices: [Critical, Important, Moderate, Low, Unspecified]
    default: []
  title:
    description: Rule; only updates whose title matches (C(*) and C(?) are wildcards; else a substring).
    type: str
  released_after:
    description: Rule; only updates released on or after this date (ISO 8601; a date means midnight UTC).
    type: str
  released_before:
    description: Rule; only updates released on or before this date (ISO 8601; a date means midnight UTC).
    type: str
  released_days_ago_min:
    description:
      - Rule; only updates released at least this many days before the run ("the pilot waits a week").
    type: int
  superseded:
    description:
      - Rule; decided within the list, as for update sets. V(false) (the default, as an automatic deployment
        rule's) leaves out an update that another update the rule selects supersedes; V(true) keeps only those.
    type: bool
    default: false
  previews:
    description: Rule; Microsoft's optional non-security previews. V(false) (the default) leaves them out.
    type: bool
    default: false
  kinds:
    description: Rule; kinds of update.
    type: list
    elements: str
    choices: [software, driver, category, detectoid]
    default: [software]
  include_expired:
    description: Rule; also expired updates.
    type: bool
    default: false
  include_bundle_members:
    description: Rule; also the payload updates that bundles contain.
    type: bool
    default: false
  exclude_titles:
    description: Rule; leave out updates whose title matches one of these patterns (as for update sets).
    type: list
    elements: str
    default: []
  exclude_kbs:
    description: Rule; leave out updates with a KB number matching one of these patterns (C(KB50466*)).
    type: list
    elements: str
    default: []
  required_min_hosts:
    description:
      - Rule; only updates Required on at least this many hosts by the current compliance evaluation (the
        "Required > 0" pattern is V(1)). Hosts whose newest scan is stale, failed or missing are Unknown and
        do not count. V(0) or not set does not filter.
    type: int
  max_updates:
    description:
      - The most updates the list may hold. When more match, the module fails naming the count, so a too
        wide rule is never cut at an arbitrary update. Configuration Manager refuses more than 1000.
    type: int
    default: 1000
  max_run_time_minutes:
    description:
      - Per-update maximum run time overrides, update id or KB number to minutes (V(5) to V(9999)).
      - A member without one takes the deployment template's default for its classification, else 60 minutes.
      - A key that is not a member is named in a warning.
    type: dict
    default: {}
  freeze:
    description:
      - Store a new frozen version when the evaluated members differ from the newest one.
      - Without it, the members are evaluated and returned, with RV(added) and RV(removed) against the
        newest frozen version, and only the definition is stored.
    type: bool
    default: false
extends_documentation_fragment:
  - patchwave.windows.store
  - patchwave.windows.store.spool
  - patchwave.windows.attributes
  - patchwave.windows.attributes.controller
attributes:
  check_mode:
    support: full
    details:
      - Evaluates the members and returns the plan (the version it would freeze, added, removed) and changes
        nothing (waiting state messages are still ingested).
  diff_mode:
    support: full
    details:
      - The description, the definition and the members (of the newest frozen version before, of this
        evaluation after).
notes:
  - The rules and the versions are described in the collection's C(docs/preparation.md).
seealso:
  - module: patchwave.windows.update_list_info
  - module: patchwave.windows.catalog_info
  - module: patchwave.windows.compliance_info
author:
  - patchwave.windows contributors (@patchwave)
"""

EXAMPLES = r"""
- name: This month's security list, updates a week old and required somewhere, frozen
  patchwave.windows.update_list:
    name: month
    description: Security and critical updates of the month
    classifications: [Security Updates, Critical Updates]
    released_days_ago_min: 7
    required_min_hosts: 1
    freeze: true
  register: month

- name: A static list of two KBs, one with a longer run time
  patchwave.windows.update_list:
    name: hotfixes
    updates: [KB5046616, KB5044281]
    max_run_time_minutes:
      KB5046616: 120
    freeze: true

- name: What freezing would change, without changing anything
  patchwave.windows.update_list:
    name: month
    freeze: true
  check_mode: true
  register: plan

- name: Remove a list and its versions
  patchwave.windows.update_list:
    name: hotfixes
    state: absent
"""

RETURN = r"""
name:
  description: The list's name.
  returned: always
  type: str
  sample: month
version:
  description:
    - The newest frozen version after this run (the one frozen now, or that would be in check mode); null when
      the list has none, and with O(state=absent).
  returned: always
  type: int
  sample: 3
frozen:
  description: Whether this run froze a new version (would, in check mode).
  returned: always
  type: bool
  sample: true
catalog_version:
  description: The catalog version the members were evaluated against; null with O(state=absent).
  returned: always
  type: int
  sample: 7
content_hash:
  description:
    - SHA-256 over the members' sorted update ids, revision numbers and run-time overrides; null with O(state=absent).
  returned: always
  type: str
  sample: 0c1f6d3f0a9b8e0f2d0a4b7c1e9d5f3a2b6c8d0e1f2a3b4c5d6e7f8091a2b3c4
updates:
  description: The evaluated members, newest release first (empty with O(state=absent)).
  returned: always
  type: list
  elements: dict
  contains:
    update_id:
      description: The update's GUID.
      type: str
      sample: 5a9d4f2e-3c1b-4e8f-9a7d-2b6c1e0f4a3d
    revision_number:
      description: The revision the catalog holds (and a frozen version records).
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
    release_date:
      description: When the update was released (ISO 8601 UTC); null when the catalog gives no date.
      type: str
      sample: "2026-11-12T18:00:00Z"
    max_run_time_minutes:
      description: The maximum run time, the list's override, else 60 (the deployment's template may give a default).
      type: int
      sample: 60
added:
  description:
    - Members not in the previous frozen version (with O(freeze) and a new version, the one before it; else the
      newest). Every member when there is none.
  returned: always
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
      sample: 2026-11 Cumulative Update for Windows Server 2022 for x64-based Systems (KB5046616)
removed:
  description: Members of that previous version that are members no longer, each with the reason.
  returned: always
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
      sample: "5044281"
    title:
      description: The update's title; null when the catalog has none.
      type: str
      sample: 2026-10 Cumulative Update for Windows Server 2022 for x64-based Systems (KB5044281)
    reason:
      description: V(superseded) (by a current update), V(expired), or V(not_selected) (the rule or O(updates) changed).
      type: str
      sample: superseded
superseded:
  description: Members that a current update of the catalog supersedes (each also named in a warning).
  returned: always
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
      sample: "5044281"
    superseded_by:
      description: The current updates that supersede it.
      type: list
      elements: str
      sample: [7b1e0c3a-5d2f-4a6b-8c9d-0e1f2a3b4c5d]
expired:
  description: Members that have expired from the catalog (each also named in a warning).
  returned: always
  type: list
  elements: str
  sample: [5a9d4f2e-3c1b-4e8f-9a7d-2b6c1e0f4a3d]
kb_matches:
  description: For each KB of O(updates) that several updates carry, keyed by C(KB) number, the update ids it took.
  returned: always
  type: dict
  sample: {"KB5046616": ["5a9d4f2e-3c1b-4e8f-9a7d-2b6c1e0f4a3d", "7b1e0c3a-5d2f-4a6b-8c9d-0e1f2a3b4c5d"]}
"""

import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.module_store import ingested_store
from ansible_collections.patchwave.windows.plugins.module_utils._prepare import lists
from ansible_collections.patchwave.windows.plugins.module_utils._store.address import resolve_store_address, secrets_of
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import utc_now


def _diff_lines(members):
    return [lists.describe(m) for m in sorted(members, key=lambda m: (m.get("kb") or "", m["update_id"]))]


def _present(module, store, params, now):
    name = params["name"]
    stored = lists.read_object(store, name)
    if not params["updates"] and not lists.has_rule(params):
        if stored is None:
            raise lists.ListError("update list '%s' does not exist; give its members: updates, or a rule" % name)
        if params["max_run_time_minutes"] or params["max_updates"] != lists.DEFAULT_MAX_UPDATES:
            raise lists.ListError("update list '%s': max_updates and max_run_time_minutes are part of the definition; "
                                  "give them with updates or the rule" % name)
        definition = stored["definition"]
    else:
        definition = lists.definition_from_params(name, params)
    plan = lists.plan(store, name, definition, params["description"], params["freeze"], now)
    previous = lists.update_facts(store, plan.previous_ids)
    if plan.changed and not module.check_mode:
        lists.apply(store, plan, now)
    evaluated = plan.evaluated
    result = dict(
        changed=plan.changed, name=name, version=plan.version, frozen=plan.new_version is not None,
        catalog_version=evaluated.catalog_version, content_hash=evaluated.content_hash,
        updates=[lists.member_result(m) for m in evaluated.members], added=plan.added, removed=plan.removed,
        superseded=[{"update_id": m["update_id"], "kb": m["kb"],
                     "superseded_by": [s["update_id"] for s in m["superseded_by"]]}
                    for m in evaluated.members if m["superseded_by"]],
        expired=[m["update_id"] for m in evaluated.members if m["expired"]],
        kb_matches=evaluated.kb_matches)
    if module._diff:
        before = plan.before
        result["diff"] = {
            "before": {} if before is None else {"description": before["description"], "definition": before["definition"],
                                                 "updates": _diff_lines(previous.values())},
            "after": {"description": plan.description, "definition": plan.definition,
                      "updates": _diff_lines(evaluated.members)}}
    return result, plan.warnings


def _absent(module, store, params, now):
    name = params["name"]
    stored = lists.read_object(store, name)
    result = dict(changed=stored is not None, name=name, version=None, frozen=False, catalog_version=None,
                  content_hash=None, updates=[], added=[], removed=[], superseded=[], expired=[], kb_matches={})
    if stored is not None:
        versions = lists.list_versions(store, name)
        if module._diff:
            result["diff"] = {"before": {"description": stored["description"], "definition": stored["definition"],
                                         "versions": [v["version"] for v in versions]}, "after": {}}
        if not module.check_mode:
            lists.delete(store, name, stored, now)
    return result, []


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            description=dict(type="str"),
            updates=dict(type="list", elements="str", default=[]),
            max_updates=dict(type="int", default=lists.DEFAULT_MAX_UPDATES),
            max_run_time_minutes=dict(type="dict", default={}),
            freeze=dict(type="bool", default=False),
            store=dict(type="str"),
            spool=dict(type="path"),
            **lists.RULE_SPEC
        ),
        supports_check_mode=True,
    )
    module.no_log_values.update(secrets_of(resolve_store_address(module.params["store"])))  # never echo a DSN's password
    params = module.params
    if not params["name"].strip():
        module.fail_json(msg="name must not be empty")
    now = utc_now()
    with ingested_store(module, params["store"], params["spool"],
                        failure="update list '%s' failed" % params["name"]) as (store, _ingested):
        try:
            if params["state"] == "absent":
                result, warnings = _absent(module, store, params, now)
            else:
                result, warnings = _present(module, store, params, now)
        except lists.ListError as exc:
            module.fail_json(msg=str(exc))
        except ValueError as exc:
            module.fail_json(msg="update list '%s': %s" % (params["name"], exc), exception=traceback.format_exc())
    for text in warnings:
        module.warn(text)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
