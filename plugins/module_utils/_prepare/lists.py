# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Update lists: Configuration Manager's software update groups, static or driven by a rule as an
automatic deployment rule is, and their frozen versions.

A list's definition (static ``updates``, a ``rule``, ``max_updates``, per-update
``max_run_time_minutes``) is a named object in ``update_lists`` (``_store/objects.py``, with its
history). ``evaluate`` turns a definition into members against the store's current catalog and
compliance; ``plan`` compares them with the newest frozen version, and ``apply`` writes what the plan
says in the caller's transaction: the definition, and a new frozen version when the members differ.
A written version (``update_list_versions`` + ``update_list_members``) never changes.

Deployments and packages read a version with ``read_version(store, name, version=None)``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from dataclasses import dataclass, field

from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import normalize_guid, normalize_kb
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.query import (
    UpdateFilter,
    current_version,
    select_update_ids,
    unknown_category_messages,
)
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.reads import evaluate_store
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.rules import REQUIRED
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.update_sets import (
    FILTER_SPEC,
    UpdateSet,
    filter_from_params,
)
from ansible_collections.patchwave.windows.plugins.module_utils._prepare import templates
from ansible_collections.patchwave.windows.plugins.module_utils._store import objects
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import format_time, utc_now

TABLE = "update_lists"
OBJECT_TYPE = "update_list"

# ConfigMgr refuses more than 1000 updates in one software update group or automatic deployment rule.
DEFAULT_MAX_UPDATES = 1000

# The rule's options: the update-set filter, where ``superseded`` and ``previews`` default to false
# as an automatic deployment rule's do, plus the rule-only criteria.
RULE_SPEC = dict(
    FILTER_SPEC,
    superseded=dict(type="bool", default=False),
    previews=dict(type="bool", default=False),
    released_days_ago_min=dict(type="int"),
    required_min_hosts=dict(type="int"),
)

# A list has a rule when one of these is set; the other rule options only adjust what they select.
SELECTING_KEYS = ("update_ids", "kbs", "products", "classifications", "severities", "title", "released_after",
                  "released_before", "released_days_ago_min", "required_min_hosts")

_CHUNK = 500


class ListError(ValueError):
    """An update list cannot be evaluated or written; the message names the list and the cause."""


# -- definitions -------------------------------------------------------------------------------------

def _member_key(name, value, option):
    """An update id (lower-case GUID) or a KB (``KB`` + digits) as given in ``updates`` or an override."""
    text = str(value).strip()
    try:
        return normalize_guid(text)
    except ValueError:
        pass
    try:
        return "KB" + normalize_kb(text)
    except ValueError:
        raise ListError("update list '%s': %s: %r is neither an update id (GUID) nor a KB number" % (name, option, value))


def has_rule(params):
    """Whether the options select updates by rule (any of SELECTING_KEYS set)."""
    return any(params.get(key) not in (None, [], (), "") for key in SELECTING_KEYS)


def definition_from_params(name, params):
    """The stored definition of a list from option values (missing keys take their defaults).

    ``{"updates": [...], "rule": {...} or None, "max_updates": n, "max_run_time_minutes": {key: minutes}}``;
    raises ListError naming the list and the bad value.
    """
    updates = []
    for value in params.get("updates") or ():
        key = _member_key(name, value, "updates")
        if key not in updates:
            updates.append(key)
    rule = None
    if has_rule(params):
        rule = {key: params.get(key, spec.get("default")) for key, spec in RULE_SPEC.items()}
        for key in ("released_days_ago_min", "required_min_hosts"):
            if rule[key] is not None and (isinstance(rule[key], bool) or not isinstance(rule[key], int) or rule[key] < 0):
                raise ListError("update list '%s': %s must be 0 or more, not %r" % (name, key, rule[key]))
        try:
            rule_filter(rule)  # every value checked now, not at evaluation
        except ValueError as exc:
            raise ListError("update list '%s': %s" % (name, exc))
    if not updates and rule is None:
        raise ListError("update list '%s': give its members: updates (update ids or KBs), or a rule (products, "
                        "classifications, severities, title, kbs, update_ids, released_after, released_before, "
                        "released_days_ago_min, required_min_hosts)" % name)
    max_updates = params.get("max_updates")
    max_updates = DEFAULT_MAX_UPDATES if max_updates is None else max_updates
    if isinstance(max_updates, bool) or not isinstance(max_updates, int) or max_updates < 1:
        raise ListError("update list '%s': max_updates must be 1 or more, not %r" % (name, max_updates))
    overrides = {}
    for key, minutes in (params.get("max_run_time_minutes") or {}).items():
        member = _member_key(name, key, "max_run_time_minutes")
        try:
            minutes = int(minutes)
        except (TypeError, ValueError):
            raise ListError("update list '%s': max_run_time_minutes of %s: %r is not a number of minutes"
                            % (name, key, minutes))
        if not templates.RUN_TIME_RANGE[0] <= minutes <= templates.RUN_TIME_RANGE[1]:
            low, high = templates.RUN_TIME_RANGE
            raise ListError("update list '%s': max_run_time_minutes of %s: %d is out of range (%d to %d minutes, "
                            "as Configuration Manager allows)" % (name, key, minutes, low, high))
        overrides[member] = minutes
    return {"updates": updates, "rule": rule, "max_updates": max_updates, "max_run_time_minutes": overrides}


def rule_filter(rule, now=None):
    """The rule as an ``UpdateFilter``; ``released_days_ago_min`` moves ``released_before`` back to
    that many days before ``now``."""
    update_filter = filter_from_params(rule)
    days = rule.get("released_days_ago_min")
    if days:
        cutoff = format_time((now or utc_now()) - datetime.timedelta(days=days))
        if update_filter.released_before is None or cutoff < update_filter.released_before:
            update_filter.released_before = cutoff
    return update_filter


# -- members -----------------------------------------------------------------------------------------

def _chunks(values):
    values = list(values)
    for start in range(0, len(values), _CHUNK):
        yield values[start:start + _CHUNK]


def _rows(store, sql, ids):
    rows = []
    for chunk in _chunks(ids):
        rows.extend(store.query(sql % ",".join("?" * len(chunk)), chunk))
    return rows


def update_facts(store, update_ids):
    """update id -> {update_id, revision_number, kb, kbs, title, classification, severity, release_date,
    expired, superseded_by: [{update_id, kb}]} for the ids the catalog holds (superseded by current updates)."""
    facts = {}
    for r in _rows(store, "SELECT update_id, revision_number, kb, title, msrc_severity, release_date, expired_version "
                          "FROM updates WHERE update_id IN (%s)", update_ids):
        facts[r["update_id"]] = {"update_id": r["update_id"], "revision_number": r["revision_number"], "kb": r["kb"],
                                 "kbs": [], "title": r["title"], "classification": None,
                                 "severity": r["msrc_severity"], "release_date": r["release_date"],
                                 "expired": r["expired_version"] is not None, "superseded_by": []}
    ids = list(facts)
    for r in _rows(store, "SELECT update_id, kb FROM update_kbs WHERE update_id IN (%s) ORDER BY kb", ids):
        facts[r["update_id"]]["kbs"].append(r["kb"])
    for r in _rows(store, "SELECT c.update_id, k.title FROM update_categories c JOIN updates k "
                          "ON k.update_id = c.category_id WHERE k.category_type = 'UpdateClassification' "
                          "AND c.update_id IN (%s) ORDER BY k.title", ids):
        if facts[r["update_id"]]["classification"] is None:
            facts[r["update_id"]]["classification"] = r["title"]
    for r in _rows(store, "SELECT s.superseded_id, s.update_id, r.kb FROM update_supersedence s JOIN updates r "
                          "ON r.update_id = s.update_id WHERE r.expired_version IS NULL AND s.superseded_id IN (%s) "
                          "ORDER BY s.update_id", ids):
        if r["update_id"] != r["superseded_id"]:
            facts[r["superseded_id"]]["superseded_by"].append({"update_id": r["update_id"], "kb": r["kb"]})
    return facts


def max_run_time(member, defaults=None):
    """A member's maximum run time in minutes: the list's override, else ``defaults`` (classification
    title -> minutes, a deployment template's), else 60 (``templates.max_run_time``, the one rule)."""
    return templates.max_run_time(member, {"max_run_time_minutes": defaults or {}}, member.get("max_run_time_override"))


def content_hash(members):
    """SHA-256 over the sorted (update id, revision, run-time override) of the members: equal members, equal hash."""
    key = sorted([m["update_id"], m["revision_number"], m.get("max_run_time_override")] for m in members)
    return hashlib.sha256(objects.dumps(key).encode("utf-8")).hexdigest()


def describe(member):
    """One line naming an update for messages and diffs: ``KB5046616 <title> (<update id>)``."""
    kb = ("KB%s " % member["kb"]) if member.get("kb") else ""
    return "%s%s (%s)" % (kb, member.get("title") or "untitled", member["update_id"])


@dataclass
class Evaluated:
    """A list's members against the current catalog, and what is worth saying about them."""

    catalog_version: int
    members: list                                     # member dicts (update_facts + max_run_time_override)
    kb_matches: dict = field(default_factory=dict)    # KB of ``updates`` -> its update ids, when several
    warnings: list = field(default_factory=list)

    @property
    def content_hash(self):
        return content_hash(self.members)


def _static_ids(store, name, keys, evaluated):
    ids = []
    guids = [k for k in keys if not k.startswith("KB")]
    known = {r["update_id"] for r in _rows(store, "SELECT update_id FROM updates WHERE update_id IN (%s)", guids)}
    for key in keys:
        if not key.startswith("KB"):
            if key not in known:
                raise ListError("update list '%s': updates: update %s is not in the catalog (version %d)"
                                % (name, key, evaluated.catalog_version))
            ids.append(key)
            continue
        # A KB names every software update that carries it (one per architecture or OS, say), bundle
        # members aside; expired ones only when nothing current carries it.
        found = []
        for include_expired in (False, True):
            found, _unknown = select_update_ids(store, UpdateFilter(kbs=(key[2:],), previews=True,
                                                                    include_expired=include_expired))
            if found:
                break
        if not found:
            raise ListError("update list '%s': updates: no update of catalog version %d carries %s"
                            % (name, evaluated.catalog_version, key))
        if len(found) > 1:
            evaluated.kb_matches[key] = found
            evaluated.warnings.append("update list '%s': %s names %d updates; the list takes all of them: %s"
                                      % (name, key, len(found), ", ".join(found)))
        ids.extend(found)
    return ids


def _required_on(store, name, ids, minimum):
    """The ids Required on at least ``minimum`` hosts by the current compliance evaluation."""
    if not ids or not minimum:
        return list(ids)
    exact = UpdateSet(name, UpdateFilter(update_ids=tuple(ids), kinds=(), include_expired=True,
                                         include_bundle_members=True, previews=True))
    counts = evaluate_store(store, [exact], per_update=True, required=False).sets[name].update_counts
    return [uid for uid in ids if counts.get(uid, {}).get(REQUIRED, 0) >= minimum]


def evaluate(store, name, definition, now=None):
    """The list's members now: its static updates, then what its rule selects; raises ListError
    (an unknown product or classification, an unknown update or KB, more than ``max_updates``)."""
    version = current_version(store)
    if version is None:
        raise ListError("update list '%s': the store holds no catalog version; sync one with "
                        "patchwave.windows.catalog_sync first" % name)
    evaluated = Evaluated(version, [])
    ids = _static_ids(store, name, definition.get("updates") or [], evaluated)
    rule = definition.get("rule")
    if rule:
        update_filter = rule_filter(rule, now)
        selected, unknown = select_update_ids(store, update_filter)
        if unknown:
            raise ListError("update list '%s': %s" % (name, "; ".join(unknown_category_messages(store, update_filter))))
        ids.extend(_required_on(store, name, selected, rule.get("required_min_hosts")))
    unique = list(dict.fromkeys(ids))
    limit = definition.get("max_updates") or DEFAULT_MAX_UPDATES
    if len(unique) > limit:
        raise ListError("update list '%s': %d updates match, more than max_updates (%d; Configuration Manager refuses "
                        "more than 1000 in one group); narrow the rule or raise max_updates" % (name, len(unique), limit))
    facts = update_facts(store, unique)
    overrides = definition.get("max_run_time_minutes") or {}
    used = set()
    for uid in unique:
        member = dict(facts[uid], max_run_time_override=None)
        for key in [uid] + ["KB" + kb for kb in member["kbs"] or ([member["kb"]] if member["kb"] else [])]:
            if key in overrides:
                member["max_run_time_override"] = overrides[key]
                used.add(key)
                break
        evaluated.members.append(member)
        if member["expired"]:
            evaluated.warnings.append("update list '%s': member %s has expired from the catalog" % (name, describe(member)))
        if member["superseded_by"]:
            evaluated.warnings.append("update list '%s': member %s is superseded by %s" % (
                name, describe(member), ", ".join(_short(s) for s in member["superseded_by"])))
    for key in sorted(set(overrides) - used):
        evaluated.warnings.append("update list '%s': max_run_time_minutes names %s, which is not a member; ignored"
                                  % (name, key))
    return evaluated


def _short(ref):
    return ("KB%s (%s)" % (ref["kb"], ref["update_id"])) if ref.get("kb") else ref["update_id"]


# -- versions ----------------------------------------------------------------------------------------

def _version_row(row):
    row = dict(row)
    for key in ("definition", "added", "removed"):
        row[key] = json.loads(row[key])
    return row


def list_versions(store, name):
    """The frozen versions of a list, oldest first, each with ``update_count``."""
    return [_version_row(r) for r in store.query(
        "SELECT v.list_name, v.version, v.catalog_version, v.content_hash, v.definition, v.added, v.removed, "
        "v.created_at, (SELECT count(*) FROM update_list_members m WHERE m.list_name = v.list_name "
        "AND m.version = v.version) AS update_count FROM update_list_versions v WHERE v.list_name = ? "
        "ORDER BY v.version", (name,))]


def version_members(store, name, version):
    """``[{update_id, revision_number, max_run_time_minutes}]`` of one version (the override; None without one)."""
    return store.query("SELECT update_id, revision_number, max_run_time_minutes FROM update_list_members "
                       "WHERE list_name = ? AND version = ? ORDER BY update_id", (name, version))


def read_version(store, name, version=None):
    """One frozen version (None: the newest) with its ``members``; raises ListError naming the list
    when the list does not exist, has no frozen version, or lacks ``version``.

    Returns ``{list_name, version, catalog_version, content_hash, definition, added, removed, created_at,
    update_count, members: [{update_id, revision_number, max_run_time_minutes}]}``.
    """
    versions = list_versions(store, name)
    if not versions:
        if read_object(store, name) is None:
            raise ListError("update list '%s' does not exist" % name)
        raise ListError("update list '%s' has no frozen version (freeze it with patchwave.windows.update_list, "
                        "freeze: true)" % name)
    if version is None:
        chosen = versions[-1]
    else:
        chosen = next((v for v in versions if v["version"] == version), None)
        if chosen is None:
            raise ListError("update list '%s' has no version %s (its versions: %s)"
                            % (name, version, ", ".join(str(v["version"]) for v in versions)))
    chosen["members"] = version_members(store, name, chosen["version"])
    return chosen


def read_object(store, name):
    """The stored list (``name``, ``description``, ``definition``, ``created_at``, ``updated_at``) or None."""
    return objects.read_object(store, TABLE, name)


def list_objects(store):
    return objects.list_objects(store, TABLE)


# -- plan and apply ----------------------------------------------------------------------------------

@dataclass
class Plan:
    """What one run of ``update_list`` does (or would do in check mode)."""

    name: str
    before: dict | None                   # the stored list, as read
    definition: dict
    description: str | None
    evaluated: Evaluated
    newest: dict | None                   # the newest frozen version before this run (without members)
    previous_ids: list                    # its members' ids
    new_version: int | None               # the version this run freezes, or None
    added: list
    removed: list
    warnings: list

    @property
    def object_changes(self):
        if self.before is None:
            return True
        return (objects.dumps(self.before["definition"]) != objects.dumps(self.definition)
                or self.before["description"] != self.description)

    @property
    def changed(self):
        return self.object_changes or self.new_version is not None

    @property
    def version(self):
        """The newest frozen version after the run (None when the list has none)."""
        if self.new_version is not None:
            return self.new_version
        return None if self.newest is None else self.newest["version"]


def _ref(member, reason=None):
    ref = {"update_id": member["update_id"], "kb": member.get("kb"), "title": member.get("title")}
    if reason is not None:
        ref["reason"] = reason
    return ref


def plan(store, name, definition, description=None, freeze=False, now=None):
    """Evaluate the list and compare it with its newest frozen version. ``description`` None keeps the stored one."""
    before = read_object(store, name)
    if description is None and before is not None:
        description = before["description"]
    evaluated = evaluate(store, name, definition, now)
    versions = list_versions(store, name)
    newest = versions[-1] if versions else None
    previous = version_members(store, name, newest["version"]) if newest else []
    previous_ids = [m["update_id"] for m in previous]
    member_ids = {m["update_id"] for m in evaluated.members}
    added = [_ref(m) for m in evaluated.members if m["update_id"] not in set(previous_ids)]
    warnings = list(evaluated.warnings)
    removed = []
    gone = [uid for uid in previous_ids if uid not in member_ids]
    gone_facts = update_facts(store, gone)
    for uid in gone:
        facts = gone_facts.get(uid, {"update_id": uid})
        if facts.get("expired"):
            reason = "expired"
        elif facts.get("superseded_by"):
            reason = "superseded"
        else:
            reason = "not_selected"
        removed.append(_ref(facts, reason))
        if reason != "not_selected":
            warnings.append("update list '%s': %s of version %d has since %s; it is not a member any more" % (
                name, describe(facts), newest["version"],
                "expired" if reason == "expired" else "been superseded by %s"
                % ", ".join(_short(s) for s in facts["superseded_by"])))
    new_version = None
    if freeze and (newest is None or newest["content_hash"] != evaluated.content_hash):
        new_version = 1 if newest is None else newest["version"] + 1
    if freeze and not evaluated.members:
        # Deployed, an empty version installs nothing: say why it may be empty.
        warnings.append("update list '%s' selects no update of catalog version %s%s" % (
            name, evaluated.catalog_version,
            "; required_min_hosts counts hosts that require an update by their scans: have the hosts been scanned?"
            if (definition.get("rule") or {}).get("required_min_hosts") else ""))
    return Plan(name, before, definition, description, evaluated, newest, previous_ids, new_version, added, removed,
                warnings)


def apply(store, the_plan, now=None):
    """Write the plan in one transaction: the definition (with its history) and the new frozen version."""
    now = now or utc_now()
    with store.transaction() as cursor:
        if the_plan.object_changes:
            objects.write_object(cursor, TABLE, OBJECT_TYPE, the_plan.name, the_plan.definition, the_plan.before,
                                 columns={"description": the_plan.description}, now=now)
        if the_plan.new_version is None:
            return
        newest = cursor.execute("SELECT max(version) FROM update_list_versions WHERE list_name = ?",
                                (the_plan.name,)).fetchone()[0]
        if newest != (None if the_plan.newest is None else the_plan.newest["version"]):
            raise ListError("update list '%s': version %s was frozen by another run meanwhile; run again"
                            % (the_plan.name, newest))
        evaluated = the_plan.evaluated
        cursor.execute("INSERT INTO update_list_versions (list_name, version, catalog_version, content_hash, definition, "
                       "added, removed, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (the_plan.name, the_plan.new_version, evaluated.catalog_version, evaluated.content_hash,
                        objects.dumps(the_plan.definition), objects.dumps(the_plan.added),
                        objects.dumps(the_plan.removed), format_time(now)))
        cursor.executemany("INSERT INTO update_list_members (list_name, version, update_id, revision_number, "
                           "max_run_time_minutes) VALUES (?, ?, ?, ?, ?)",
                           [(the_plan.name, the_plan.new_version, m["update_id"], m["revision_number"],
                             m["max_run_time_override"]) for m in evaluated.members])
        objects.record_history(cursor, OBJECT_TYPE, the_plan.name, "frozen", None, {
            "version": the_plan.new_version, "catalog_version": evaluated.catalog_version,
            "content_hash": evaluated.content_hash, "added": [r["update_id"] for r in the_plan.added],
            "removed": [r["update_id"] for r in the_plan.removed]}, now)


def delete(store, name, before, now=None):
    """Delete the list, its versions and their members in one transaction; raises ListError when a
    deployment package was built from one of its versions."""
    packages = store.query("SELECT name FROM deployment_packages WHERE list_name = ? ORDER BY name", (name,))
    if packages:
        raise ListError("update list '%s' is used by deployment package(s) %s; remove them first"
                        % (name, ", ".join(p["name"] for p in packages)))
    versions = [v["version"] for v in list_versions(store, name)]
    with store.transaction() as cursor:
        cursor.execute("DELETE FROM update_list_members WHERE list_name = ?", (name,))
        cursor.execute("DELETE FROM update_list_versions WHERE list_name = ?", (name,))
        objects.delete_object(cursor, TABLE, OBJECT_TYPE, name, before, now=now)
        if versions:
            objects.record_history(cursor, OBJECT_TYPE, name, "versions_deleted", {"versions": versions}, None, now)


def member_result(member, defaults=None):
    """A member as modules return it: ids, KB, title, classification, severity, max run time."""
    return {"update_id": member["update_id"], "revision_number": member["revision_number"], "kb": member.get("kb"),
            "title": member.get("title"), "classification": member.get("classification"),
            "severity": member.get("severity"), "release_date": member.get("release_date"),
            "max_run_time_minutes": max_run_time(member, defaults)}
