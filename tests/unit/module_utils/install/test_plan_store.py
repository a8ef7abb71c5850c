"""The check-mode plan read from the store (plugins/module_utils/_install/plan_store.py), on both backends:
the deployment, the host's newest usable scan against the list version, and the catalog facts the order
needs (impact, reboot behaviour, prerequisites; a bundle's from its members)."""

import datetime

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._install.plan_store import (
    PlanError,
    install_facts,
    plan_from_store,
)
from ansible_collections.patchwave.windows.plugins.module_utils._prepare import deployments as d
from ansible_collections.patchwave.windows.plugins.module_utils._scan.ingest import ingest
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store

from tests.compliance_data import NOW, Fleet, add_catalog
from tests.deployment_data import freeze_rows

HOUR = datetime.timedelta(hours=1)
WINDOWS = [{"name": "noon", "start": "11:00", "duration_minutes": 240, "date": "2026-11-23"},
           {"name": "next", "start": "11:00", "duration_minutes": 240, "date": "2026-11-30"}]


@pytest.fixture
def world(store_address, tmp_path):
    store = open_store(store_address)
    catalog = add_catalog(store, 12)
    ids = list(catalog)
    ssu_title = "2026-11 Servicing Stack Update for Windows Server 2019 (KB%s)" % catalog[ids[0]]["kb"]
    with store.transaction() as cursor:
        cursor.execute("UPDATE updates SET title = ?, impact = 'RequiresExclusiveHandling', "
                       "reboot_behavior = 'NeverReboots' WHERE update_id = ?", (ssu_title, ids[0]))
        cursor.execute("UPDATE updates SET impact = 'Normal', reboot_behavior = 'CanRequestReboot' "
                       "WHERE update_id = ?", (ids[1],))
        cursor.execute("INSERT INTO update_prerequisites (update_id, clause, prerequisite_id) VALUES (?, 0, ?)",
                       (ids[1], ids[0]))
        cursor.execute("INSERT INTO update_prerequisites (update_id, clause, prerequisite_id) VALUES (?, 1, ?)",
                       (ids[1], "f702a48c-919b-45d6-9aef-ca4248d50397"))
        # a bundle that says nothing itself: its member is exclusive and always reboots
        cursor.execute("UPDATE updates SET is_bundle = 1 WHERE update_id = ?", (ids[6],))
        cursor.execute("UPDATE updates SET impact = 'RequiresExclusiveHandling', reboot_behavior = "
                       "'AlwaysRequiresReboot' WHERE update_id = ?", (ids[7],))
        cursor.execute("INSERT INTO update_bundles (bundle_id, member_id) VALUES (?, ?)", (ids[6], ids[7]))
    members = [ids[n] for n in (0, 1, 2, 3, 4, 5, 6, 8)]
    freeze_rows(store, "month", 1, members, overrides={ids[0]: 30, ids[1]: 90, ids[5]: 20, ids[6]: 45})
    d.apply_deployment(store, "pilot", "present", {"update_list": "month", "targets": ["pilot"],
                                                   "start": "2026-11-20T00:00:00Z",
                                                   "settings": {"deadline_randomization_minutes": 0}})
    spool = str(tmp_path / "spool")
    fleet = Fleet(catalog, now=NOW)
    results = {ids[0]: (False, False, False), ids[1]: (False, False, False), ids[2]: (False, True, False),
               ids[3]: (True, False, False), ids[4]: (True, False, True), ids[5]: (False, False, False),
               ids[6]: (False, False, False), ids[9]: (False, False, False)}
    fleet.add_scan(spool, "web001", NOW - 2 * HOUR, 3, results=results, clock_offset=datetime.timedelta(minutes=3))
    fleet.add_scan(spool, "old01", NOW - datetime.timedelta(days=9), 3, results=results)
    ingest(store, spool)
    store.ids = ids
    try:
        yield store
    finally:
        store.close()


def test_the_plan_from_the_store(world):
    ids = world.ids
    plan = plan_from_store(world, "pilot", "web001", ["windows", "pilot"], WINDOWS, NOW)
    assert plan["outcome"] == "compliant" and plan["deadline"] == "2026-11-27T00:00:00Z"
    assert plan["scan"]["received"] == "2026-11-23T10:00:00Z" and plan["scan"]["scan_time"] == "2026-11-23T10:03:00Z"
    assert plan["scan"]["age"] == "2 h 0 min" and plan["scan"]["reboot_pending"] is False
    # the SSU (exclusive, a prerequisite) first and alone; then by run time; the bundle alone (its member's impact)
    assert plan["batches"] == [[ids[0]], [ids[5]], [ids[6]], [ids[1]]]
    by_id = {u["update_id"]: u for u in plan["install"]}
    assert [by_id[u]["would_start"] for u in (ids[0], ids[5], ids[6], ids[1])] == [
        "2026-11-23T12:00:00Z", "2026-11-23T12:30:00Z", "2026-11-23T12:50:00Z", "2026-11-23T13:35:00Z"]
    assert by_id[ids[1]]["may_wait"] and by_id[ids[1]]["latest_start"] == "2026-11-23T13:30:00Z"
    assert by_id[ids[6]]["reboot_behavior"] == "AlwaysRequiresReboot"
    assert [f["update_id"] for f in plan["filtered"]] == [ids[2]]
    assert [f["update_id"] for f in plan["pending_reboot"]] == [ids[4]]
    assert plan["reboot"]["pending_before"] and plan["reboot"]["required_after"] == [ids[6], ids[1]]
    assert plan["window"] == {"start": "2026-11-23T11:00:00Z", "end": "2026-11-23T15:00:00Z", "names": ["noon"]}


def test_the_host_clock_offset_reaches_the_latest_start(world):
    plan = plan_from_store(world, "pilot", "web001", ["pilot"], WINDOWS, NOW, clock_offset_seconds=180)
    (ssu,) = [u for u in plan["install"] if u["update_id"] == world.ids[0]]
    assert (ssu["latest_start"], ssu["latest_start_host"]) == ("2026-11-23T14:30:00Z", "2026-11-23T14:33:00Z")


def test_outside_the_window_everything_waits(world):
    plan = plan_from_store(world, "pilot", "web001", ["pilot"], WINDOWS, NOW + 4 * HOUR)
    assert plan["outcome"] == "waiting_for_window" and plan["batches"] == []
    assert plan["next_window"]["start"] == "2026-11-30T11:00:00Z"
    assert {u["update_id"] for u in plan["waiting"]} == {world.ids[n] for n in (0, 1, 5, 6)}


@pytest.mark.parametrize("host, groups, outcome, reason", [
    ("web001", ["windows"], "skipped", "not_targeted"),
    ("old01", ["pilot"], "unknown", "stale"),
    ("new01", ["pilot"], "unknown", "never_scanned"),
])
def test_skipped_and_unknown(world, host, groups, outcome, reason):
    plan = plan_from_store(world, "pilot", host, groups, [], NOW)
    assert (plan["outcome"], plan["reason"]) == (outcome, reason)


def test_a_deployment_that_does_not_exist(world):
    with pytest.raises(PlanError, match="deployment 'nope' does not exist"):
        plan_from_store(world, "nope", "web001", ["pilot"], [], NOW)


def test_install_facts(world):
    ids = world.ids
    facts = install_facts(world, [ids[0], ids[1], ids[6], ids[9], "not-in-the-catalog"])
    assert facts[ids[0]]["impact"] == "RequiresExclusiveHandling" and facts[ids[0]]["prerequisites"] == []
    assert facts[ids[1]]["prerequisites"] == [[ids[0]], ["f702a48c-919b-45d6-9aef-ca4248d50397"]]
    assert facts[ids[6]] == {"impact": "RequiresExclusiveHandling", "reboot_behavior": "AlwaysRequiresReboot",
                             "prerequisites": []}
    assert facts[ids[9]] == facts["not-in-the-catalog"] == {"impact": None, "reboot_behavior": None,
                                                            "prerequisites": []}
