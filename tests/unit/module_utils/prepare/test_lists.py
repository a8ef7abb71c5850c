"""Update lists (plugins/module_utils/_prepare/lists.py) on both store backends: rules, freezing,
versions, added/removed, idempotence, superseded and expired members, max_updates, a KB carried by
several updates, run-time overrides, and a stored list as a named set in the compliance evaluation."""

import datetime

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.reads import evaluate_store
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.update_sets import (
    FILTER_SPEC,
    UpdateSetError,
    all_updates,
    parse_update_sets,
    resolve,
)
from ansible_collections.patchwave.windows.plugins.module_utils._prepare import lists
from ansible_collections.patchwave.windows.plugins.module_utils._scan.ingest import ingest
from ansible_collections.patchwave.windows.plugins.module_utils._store import objects
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store

from tests.compliance_data import NOW, Fleet, add_catalog, update_id


@pytest.fixture
def store(store_address):
    opened = open_store(store_address)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def catalog(store):
    """30 updates (KB5000000..KB5000029), every tenth superseded by the next, released one a day up to NOW."""
    return add_catalog(store, 30)


def freeze(store, name, params, now=NOW, description=None):
    """Define and freeze a list as the module does; return the plan."""
    plan = lists.plan(store, name, lists.definition_from_params(name, params), description, freeze=True, now=now)
    lists.apply(store, plan, now)
    return plan


def add_update(store, uid, kb, title="Extra update", supersedes=None, version=3):
    with store.transaction() as cursor:
        cursor.execute("INSERT INTO updates (update_id, revision_number, source, kind, title, kb, msrc_severity, "
                       "release_date, is_bundle, digest, first_version, changed_version) "
                       "VALUES (?, 1, 'test', 'software', ?, ?, 'Critical', '2026-11-20T00:00:00Z', 0, 'x', ?, ?)",
                       (uid, title, kb, version, version))
        cursor.execute("INSERT INTO update_kbs (update_id, kb) VALUES (?, ?)", (uid, kb))
        if supersedes:
            cursor.execute("INSERT INTO update_supersedence (update_id, superseded_id) VALUES (?, ?)", (uid, supersedes))


def ids(members):
    return sorted(m["update_id"] for m in members)


# -- definitions ----------------------------------------------------------------------------------

@pytest.mark.parametrize("params, message", [
    ({}, "give its members"),
    ({"updates": ["not-a-kb"]}, "neither an update id (GUID) nor a KB number"),
    ({"updates": ["KB5000001"], "max_run_time_minutes": {"KB5000001": 4}}, "out of range (5 to 9999"),
    ({"updates": ["KB5000001"], "max_run_time_minutes": {"KB5000001": 10000}}, "out of range (5 to 9999"),
    ({"updates": ["KB5000001"], "max_run_time_minutes": {"KB5000001": "long"}}, "is not a number of minutes"),
    ({"updates": ["KB5000001"], "max_updates": 0}, "max_updates must be 1 or more"),
    ({"severities": ["Critical"], "released_days_ago_min": -1}, "released_days_ago_min must be 0 or more"),
    ({"severities": ["Urgent"]}, "severities: 'Urgent' is not one of"),
    ({"released_after": "last week"}, "released_after"),
])
def test_bad_definitions_name_the_list_and_the_value(params, message):
    with pytest.raises(lists.ListError) as caught:
        lists.definition_from_params("month", params)
    assert str(caught.value).startswith("update list 'month'") and message in str(caught.value)


@pytest.mark.parametrize("minutes", [5, 60, 9999])
def test_run_time_overrides_in_range_are_kept(minutes):
    definition = lists.definition_from_params("l", {"updates": ["kb5000001"], "max_run_time_minutes": {"5000001": minutes}})
    assert definition["max_run_time_minutes"] == {"KB5000001": minutes} and definition["updates"] == ["KB5000001"]


@pytest.mark.parametrize("override, defaults, expected", [
    (None, None, 60), (90, None, 90), (None, {"Security Updates": 120}, 120), (30, {"Security Updates": 120}, 30),
    (None, {"Updates": 120}, 60)])
def test_max_run_time_override_then_template_default_then_60(override, defaults, expected):
    member = {"classification": "Security Updates", "max_run_time_override": override}
    assert lists.max_run_time(member, defaults) == expected


# -- rules and freezing ---------------------------------------------------------------------------

def test_rule_freeze_and_second_run_unchanged(store, catalog):
    plan = freeze(store, "month", {"severities": ["Critical"], "max_run_time_minutes": {}}, description="crit")
    critical = sorted(uid for uid, u in catalog.items() if u["severity"] == "Critical")
    # superseded: false within the list: a Critical update superseded by a Critical update leaves
    superseded_within = {uid for uid in critical if catalog[uid]["superseded_by"] in critical}
    assert ids(plan.evaluated.members) == sorted(set(critical) - superseded_within)
    assert plan.new_version == 1 and plan.changed and ids(plan.added) == ids(plan.evaluated.members) and not plan.removed
    version = lists.read_version(store, "month")
    assert version["version"] == 1 and version["catalog_version"] == 3
    assert version["content_hash"] == plan.evaluated.content_hash
    assert sorted(m["update_id"] for m in version["members"]) == ids(plan.evaluated.members)
    assert all(m["revision_number"] == 100 and m["max_run_time_minutes"] is None for m in version["members"])
    assert version["definition"]["rule"]["severities"] == ["Critical"]
    again = lists.plan(store, "month", lists.definition_from_params("month", {"severities": ["Critical"]}), None,
                       freeze=True, now=NOW)
    assert not again.changed and again.new_version is None and again.version == 1
    assert again.description == "crit" and not again.added and not again.removed
    history = objects.object_history(store, lists.OBJECT_TYPE, "month")
    assert [h["action"] for h in history] == ["created", "frozen"]


def test_released_days_ago_min_and_max_updates(store, catalog):
    # update n was released 30 - n days before NOW
    plan = lists.plan(store, "pilot", lists.definition_from_params("pilot", {"kbs": [], "title": "Update for Windows",
                                                                             "released_days_ago_min": 25}),
                      freeze=False, now=NOW)
    assert ids(plan.evaluated.members) == sorted(update_id(n) for n in range(0, 6) if n != 0)  # 0 superseded by 1
    with pytest.raises(lists.ListError) as caught:
        lists.plan(store, "wide", lists.definition_from_params("wide", {"title": "Update", "max_updates": 5}), now=NOW)
    assert "update list 'wide'" in str(caught.value) and "more than max_updates (5" in str(caught.value)


def test_unknown_product_names_the_list_and_the_closest_names(store, catalog):
    with pytest.raises(lists.ListError) as caught:
        lists.plan(store, "month", lists.definition_from_params("month", {"products": ["Windows Server 2091"]}))
    assert "update list 'month'" in str(caught.value) and "'Windows Server 2019'" in str(caught.value)


def test_versions_added_and_removed_and_written_versions_never_change(store, catalog):
    first = freeze(store, "hotfixes", {"updates": ["KB5000001", "KB5000002"]})
    second = freeze(store, "hotfixes", {"updates": ["KB5000002", "KB5000003"]})
    assert second.new_version == 2
    assert [a["kb"] for a in second.added] == ["5000003"]
    assert [(r["kb"], r["reason"]) for r in second.removed] == [("5000001", "not_selected")]
    v1 = lists.read_version(store, "hotfixes", 1)
    assert sorted(m["update_id"] for m in v1["members"]) == sorted([update_id(1), update_id(2)])
    assert v1["content_hash"] == first.evaluated.content_hash and v1["definition"]["updates"] == ["KB5000001", "KB5000002"]
    v2 = lists.read_version(store, "hotfixes")
    assert v2["version"] == 2 and [r["kb"] for r in v2["removed"]] == ["5000001"]
    assert [v["version"] for v in lists.list_versions(store, "hotfixes")] == [1, 2]
    # the same members again: no version 3; an unfrozen change of definition writes only the definition
    assert freeze(store, "hotfixes", {"updates": ["KB5000003", "KB5000002"]}).new_version is None
    with pytest.raises(lists.ListError, match="has no version 7 .its versions: 1, 2"):
        lists.read_version(store, "hotfixes", 7)
    with pytest.raises(lists.ListError, match="update list 'nothing' does not exist"):
        lists.read_version(store, "nothing")


def test_a_run_time_override_is_a_new_version(store, catalog):
    freeze(store, "l", {"updates": ["KB5000004"]})
    plan = freeze(store, "l", {"updates": ["KB5000004"], "max_run_time_minutes": {"KB5000004": 120, "KB5000009": 30}})
    assert plan.new_version == 2 and not plan.added and not plan.removed
    assert lists.read_version(store, "l")["members"][0]["max_run_time_minutes"] == 120
    assert lists.member_result(plan.evaluated.members[0])["max_run_time_minutes"] == 120
    assert any("KB5000009, which is not a member" in w for w in plan.warnings)


def test_a_kb_carried_by_several_updates_takes_all_and_says_so(store, catalog):
    other = "7b1e0c3a-5d2f-4a6b-8c9d-0e1f2a3b4c5d"
    add_update(store, other, "5000007", title="Update for Windows on ARM64 (KB5000007)")
    plan = freeze(store, "l", {"updates": ["KB5000007"]})
    assert ids(plan.evaluated.members) == sorted([update_id(7), other])
    assert sorted(plan.evaluated.kb_matches["KB5000007"]) == sorted([update_id(7), other])
    assert any("KB5000007 names 2 updates" in w for w in plan.warnings)


def test_unknown_update_or_kb_is_an_error(store, catalog):
    for value, text in (("KB9999999", "no update of catalog version 3 carries KB9999999"),
                        ("7b1e0c3a-5d2f-4a6b-8c9d-0e1f2a3b4c5d", "is not in the catalog")):
        with pytest.raises(lists.ListError) as caught:
            lists.plan(store, "l", lists.definition_from_params("l", {"updates": [value]}))
        assert str(caught.value).startswith("update list 'l'") and text in str(caught.value)


def test_members_since_superseded_or_expired_are_reported_never_dropped_silently(store, catalog):
    freeze(store, "static", {"updates": ["KB5000002"]})
    freeze(store, "rule", {"kbs": ["KB5000002", "KB5000003"]})
    newer = "7b1e0c3a-5d2f-4a6b-8c9d-0e1f2a3b4c5d"
    add_update(store, newer, "5000099", supersedes=update_id(2))  # next month's update, outside both lists
    with store.transaction() as cursor:
        cursor.execute("UPDATE updates SET expired_version = 3 WHERE update_id = ?", (update_id(3),))
    static = lists.plan(store, "static", lists.definition_from_params("static", {"updates": ["KB5000002"]}), now=NOW)
    member = static.evaluated.members[0]
    assert member["superseded_by"] == [{"update_id": newer, "kb": "5000099"}]
    assert any("member KB5000002" in w and "superseded by KB5000099" in w for w in static.warnings)
    # the rule no longer selects the expired update: removed, with its reason and a warning
    rule = lists.plan(store, "rule", lists.definition_from_params("rule", {"kbs": ["KB5000002", "KB5000003"]}),
                      freeze=True, now=NOW)
    assert [(r["kb"], r["reason"]) for r in rule.removed] == [("5000003", "expired")]
    assert any("KB5000003" in w and "has since expired" in w for w in rule.warnings)
    # a static member that expired stays, with a warning
    with store.transaction() as cursor:
        cursor.execute("UPDATE updates SET expired_version = 3 WHERE update_id = ?", (update_id(2),))
    static = lists.plan(store, "static", lists.definition_from_params("static", {"updates": ["KB5000002"]}), now=NOW)
    assert static.evaluated.members[0]["expired"] and any("has expired" in w for w in static.warnings)


def test_required_min_hosts_counts_required_hosts(store, catalog, tmp_path):
    now = datetime.datetime.now(datetime.timezone.utc)
    fleet = Fleet(catalog, now=now)
    spool = str(tmp_path / "spool")
    a, b, c = update_id(4), update_id(5), update_id(6)
    fleet.add_scan(spool, "win01", now - datetime.timedelta(hours=1), 3,
                   results={a: (False, False, False), b: (False, False, False), c: (True, False, False)})
    fleet.add_scan(spool, "win02", now - datetime.timedelta(hours=1), 3,
                   results={a: (False, False, False), c: (True, False, False)})
    ingest(store, spool)
    found = {}
    for minimum in (1, 2, 3):
        plan = lists.plan(store, "req", lists.definition_from_params(
            "req", {"kbs": ["KB5000004", "KB5000005", "KB5000006"], "required_min_hosts": minimum}), now=now)
        found[minimum] = ids(plan.evaluated.members)
    assert found == {1: sorted([a, b]), 2: [a], 3: []}


def test_check_mode_plan_writes_nothing_and_absent_deletes_versions(store, catalog):
    plan = lists.plan(store, "l", lists.definition_from_params("l", {"updates": ["KB5000001"]}), freeze=True, now=NOW)
    assert plan.new_version == 1 and plan.changed
    assert lists.read_object(store, "l") is None and lists.list_versions(store, "l") == []
    lists.apply(store, plan, NOW)
    lists.delete(store, "l", lists.read_object(store, "l"), NOW)
    assert lists.read_object(store, "l") is None and lists.list_versions(store, "l") == []
    assert store.query("SELECT count(*) AS n FROM update_list_members")[0]["n"] == 0
    assert [h["action"] for h in objects.object_history(store, lists.OBJECT_TYPE, "l")] == [
        "created", "frozen", "deleted", "versions_deleted"]


# -- a stored list as a named set -----------------------------------------------------------------

def test_update_list_set_in_the_compliance_evaluation(store, catalog, tmp_path):
    freeze(store, "month", {"updates": ["KB5000004", "KB5000005"]})
    freeze(store, "month", {"updates": ["KB5000004", "KB5000005", "KB5000006"]})
    now = datetime.datetime.now(datetime.timezone.utc)
    fleet = Fleet(catalog, now=now)
    spool = str(tmp_path / "spool")
    fleet.add_scan(spool, "win01", now - datetime.timedelta(hours=1), 3,
                   results={update_id(4): (False, False, False), update_id(6): (True, False, False)})
    ingest(store, spool)
    # as Ansible passes an entry: every filter key present with its default
    entry = {key: spec.get("default") for key, spec in FILTER_SPEC.items()}
    entry.update(name="security", update_list="month", version=None)
    sets = parse_update_sets([entry, {"name": "first", "update_list": "month", "version": 1}])
    evaluation = evaluate_store(store, [all_updates()] + sets, hosts=["win01"])
    assert sorted(evaluation.sets["security"].update_ids) == sorted(update_id(n) for n in (4, 5, 6))
    assert sorted(evaluation.sets["first"].update_ids) == sorted(update_id(n) for n in (4, 5))
    assert evaluation.sets["security"].host_counts["win01"]["required"] == 1
    assert evaluation.sets["security"].host_compliance["win01"] == "non_compliant"
    assert evaluation.sets["security"].update_counts[update_id(6)]["installed"] == 1
    assert repr(sets[0].update_filter) != repr(sets[1].update_filter) != repr(all_updates().update_filter)


@pytest.mark.parametrize("entry, message", [
    ({"name": "s", "update_list": "nope"}, "update set 's': update list 'nope' does not exist"),
    ({"name": "s", "update_list": "month", "version": 9}, "update set 's': update list 'month' has no version 9"),
    ({"name": "s", "update_list": "draft"}, "update set 's': update list 'draft' has no frozen version"),
])
def test_update_list_set_errors_name_the_set_and_the_list(store, catalog, entry, message):
    freeze(store, "month", {"updates": ["KB5000004"]})
    with store.transaction() as cursor:
        objects.write_object(cursor, lists.TABLE, lists.OBJECT_TYPE, "draft", {"updates": ["KB5000004"]})
    (update_set,) = parse_update_sets([entry])
    with pytest.raises(UpdateSetError) as caught:
        resolve(store, update_set)
    assert message in str(caught.value)


@pytest.mark.parametrize("entry, message", [
    ({"name": "s", "update_list": "month", "products": ["Windows Server 2019"]}, "filter keys cannot narrow it (products)"),
    ({"name": "s", "update_list": "month", "superseded": False}, "(superseded)"),
    ({"name": "s", "version": 2}, "give update_list too"),
    ({"name": "s", "update_list": "month", "version": 0}, "version must be a list version number"),
    ({"name": "s", "update_list": ""}, "update_list must be the name of a stored update list"),
])
def test_update_list_set_entries_are_checked(entry, message):
    with pytest.raises(UpdateSetError) as caught:
        parse_update_sets([entry])
    assert message in str(caught.value) and "update set 's'" in str(caught.value)


def test_freezing_an_empty_list_warns_why(store_address):
    """A rule that selects nothing (no host has been scanned, so nothing is Required anywhere) still
    freezes, and says so."""
    store = open_store(store_address)
    try:
        add_catalog(store, 10, versions=1)
        definition = lists.definition_from_params("month", {"classifications": ["Security Updates"],
                                                            "required_min_hosts": 1})
        plan = lists.plan(store, "month", definition, None, True, NOW)
        assert plan.new_version == 1 and not plan.evaluated.members
        assert any("selects no update" in w and "have the hosts been scanned?" in w for w in plan.warnings), plan.warnings
    finally:
        store.close()
