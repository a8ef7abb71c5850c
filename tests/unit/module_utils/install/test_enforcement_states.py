"""Enforcement state messages (``_install/enforcement.py`` writes them, ``_scan/messages.py`` holds
their format): checked where they enter the spool and where ingest reads them, stored in
``enforcement_states`` in the same transaction as scans, ordered with scans on one clock, applied by
compliance when newer than the deciding scan, and pruned by retention."""

import datetime
import json
import os

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._compliance import rules
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.reads import evaluate_store, host_pairs
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.update_sets import all_updates
from ansible_collections.patchwave.windows.plugins.module_utils._install.enforcement import (
    CONFIGMGR_STATES,
    DEPLOYMENT_ENFORCEMENT_STATES,
    UPDATE_ENFORCEMENT_STATES,
    not_attempted_detail,
    waiting_for_window_detail,
    write_enforcement,
)
from ansible_collections.patchwave.windows.plugins.module_utils._scan.ingest import ingest
from ansible_collections.patchwave.windows.plugins.module_utils._scan.messages import parse_message
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_collections.patchwave.windows.plugins.module_utils._store.retention import prune_history
from ansible_collections.patchwave.windows.plugins.module_utils._store.schema import SCHEMA_VERSION

from tests.compliance_data import NOW, Fleet, add_catalog, iso, undo_migration_9

HOUR = datetime.timedelta(hours=1)


def test_every_state_mirrors_a_configmgr_state_or_says_it_has_none():
    assert set(CONFIGMGR_STATES["update"]) == set(UPDATE_ENFORCEMENT_STATES)
    assert set(CONFIGMGR_STATES["deployment"]) == set(DEPLOYMENT_ENFORCEMENT_STATES)
    assert CONFIGMGR_STATES["update"]["waiting_for_window"] == (402, 4)
    assert CONFIGMGR_STATES["update"]["failed"] == (402, 11)


def test_a_message_travels_as_written(tmp_path):
    path = write_enforcement(str(tmp_path), "web01", "wave-1", "ABC-1", "waiting_for_window",
                             detail=waiting_for_window_detail(NOW, 60, NOW + HOUR / 2, NOW + 24 * HOUR))
    with open(path, encoding="utf-8") as handle:
        message, problem = parse_message(handle.read())
    assert problem is None
    assert message["kind"] == "enforcement"
    assert message["body"] == {"deployment": "wave-1", "update_id": "abc-1", "state": "waiting_for_window",
                               "hresult": None, "detail": {"would_start": "2026-11-23T12:00:00Z", "needs_minutes": 60,
                                                           "window_ends": "2026-11-23T12:30:00Z",
                                                           "next_window": "2026-11-24T12:00:00Z"}}
    assert not_attempted_detail("window", would_start=NOW) == {"reason": "window", "would_start": iso(NOW)}


@pytest.mark.parametrize("deployment, update_id, state, hresult, message", [
    ("w", "u1", "compliant", None, "a state of a deployment, and body.update_id is set"),
    ("w", None, "installed", None, "a state of an update, and body.update_id is null"),
    (None, None, "in_progress", None, "needs the deployment"),
    ("w", "u1", "exploded", None, "'exploded' is not one of"),
    ("w", "u1", "failed", "0x80070005", "body.hresult: expected"),
])
def test_a_body_that_breaks_the_format_is_refused_where_it_enters_the_spool(
        tmp_path, deployment, update_id, state, hresult, message):
    with pytest.raises(ValueError, match="state message for web01: the enforcement result breaks the contract: .*"
                       + message.replace("(", "\\(")):
        write_enforcement(str(tmp_path), "web01", deployment, update_id, state, hresult=hresult)
    assert not os.listdir(str(tmp_path)) or os.listdir(str(tmp_path)) == []


def test_a_hand_made_file_that_breaks_the_format_is_quarantined(store_address, tmp_path):
    store = open_store(store_address)
    try:
        spool = str(tmp_path / "spool")
        path = write_enforcement(spool, "web01", "w", "u1", "installed")
        with open(path, encoding="utf-8") as handle:
            message = json.load(handle)
        message["body"]["update_id"] = None
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(message, handle)
        assert ingest(store, spool)["quarantined"] == 1
        assert store.query("SELECT count(*) AS n FROM enforcement_states")[0]["n"] == 0
    finally:
        store.close()


@pytest.fixture
def fleet_store(store_address, tmp_path):
    """A store with a catalog and web01 scanned two hours before NOW, missing five updates."""
    store = open_store(store_address)
    spool = str(tmp_path / "spool")
    fleet = Fleet(add_catalog(store, 30, versions=1), seed=3)
    ids = sorted(fleet.catalog)[:5]
    fleet.add_scan(spool, "web01", NOW - 2 * HOUR, 1, results={uid: (False, False, False) for uid in ids})
    ingest(store, spool)
    try:
        yield store, spool, fleet, ids
    finally:
        store.close()


def _pairs(store, host="web01"):
    evaluation = evaluate_store(store, [all_updates()], hosts=[host], now=NOW)
    result = evaluation.sets["all"]
    pairs = {p["update_id"]: (p["state"], p["detail"])
             for p in host_pairs(store, evaluation.hosts[host], result.update_ids, result.updates, set())}
    required = dict(result.host_required.get(host, []))
    # the bulk path and the pair-by-pair details agree
    assert required == {u: d for u, (s, d) in pairs.items() if s == rules.REQUIRED}
    assert result.host_counts[host][rules.REQUIRED] == len(required)
    return result.host_compliance[host], required, pairs


def test_states_are_stored_and_a_redelivered_message_counts_once(fleet_store):
    store, spool, _fleet, ids = fleet_store
    path = write_enforcement(spool, "web01", "wave-1", ids[0].upper(), "failed", hresult=-2147024891,
                             detail={"message": "access denied"}, created=iso(NOW - HOUR))
    with open(path, encoding="utf-8") as handle:
        copy = handle.read()
    write_enforcement(spool, "web01", "wave-1", None, "non_compliant", created=iso(NOW - HOUR))
    assert ingest(store, spool)["ingested"] == 2
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(copy)
    assert ingest(store, spool) == {"ingested": 0, "duplicates": 1, "quarantined": 0, "pruned": 0}
    rows = store.query("SELECT host_name, deployment, update_id, state, hresult, detail, received, seq, controller "
                       "FROM enforcement_states ORDER BY seq")
    assert [(r["update_id"], r["state"], r["hresult"]) for r in rows] == [
        (ids[0], "failed", -2147024891), (None, "non_compliant", None)]
    assert json.loads(rows[0]["detail"]) == {"message": "access denied"}
    assert rows[0]["received"] == iso(NOW - HOUR) and rows[0]["controller"]
    scan_pk = store.query("SELECT max(scan_pk) AS pk FROM scans")[0]["pk"]
    assert rows[0]["seq"] > scan_pk and rows[1]["seq"] > rows[0]["seq"]


def test_compliance_follows_states_newer_than_the_scan_and_the_next_scan_supersedes_them(fleet_store):
    store, spool, fleet, ids = fleet_store
    assert _pairs(store)[0] == rules.NON_COMPLIANT
    older = NOW - 3 * HOUR  # before the scan: ignored
    write_enforcement(spool, "web01", "wave-1", ids[0], "installed", created=iso(older))
    write_enforcement(spool, "web01", "wave-1", ids[1], "installing", created=iso(NOW - HOUR))
    write_enforcement(spool, "web01", "wave-1", ids[1], "installed", created=iso(NOW - HOUR / 2))
    write_enforcement(spool, "web01", "wave-1", ids[2], "pending_restart", created=iso(NOW - HOUR))
    write_enforcement(spool, "web01", "wave-1", ids[3], "failed", hresult=-2145124329, created=iso(NOW - HOUR))
    write_enforcement(spool, "web01", "wave-1", ids[4], "waiting_for_window",
                      detail=waiting_for_window_detail(NOW - HOUR, 60, NOW - HOUR / 2), created=iso(NOW - HOUR))
    ingest(store, spool)
    compliance, required, pairs = _pairs(store)
    assert compliance == rules.NON_COMPLIANT
    assert required == {ids[0]: rules.MISSING, ids[2]: rules.PENDING_REBOOT, ids[3]: rules.INSTALL_FAILED,
                        ids[4]: rules.NOT_ATTEMPTED_WINDOW}
    assert pairs[ids[1]] == (rules.INSTALLED, rules.IS_INSTALLED)
    # everything installed since: compliant before any scan
    for uid in (ids[0], ids[2], ids[3], ids[4]):
        write_enforcement(spool, "web01", "wave-1", uid, "installed", created=iso(NOW - HOUR / 4))
    ingest(store, spool)
    assert _pairs(store)[:2] == (rules.COMPLIANT, {})
    # the next scan supersedes every state: it says two are still missing
    fleet.add_scan(spool, "web01", NOW - HOUR / 6, 1, results={ids[0]: (False, False, False),
                                                               ids[1]: (True, False, False)})
    ingest(store, spool)
    assert _pairs(store)[1] == {ids[0]: rules.MISSING}


def test_a_state_and_a_scan_in_the_same_second_are_ordered_as_ingest_took_them(fleet_store):
    store, spool, fleet, ids = fleet_store
    second = NOW - HOUR
    fleet.add_scan(spool, "web01", second, 1, results={ids[0]: (False, False, False)})
    ingest(store, spool)
    write_enforcement(spool, "web01", "wave-1", ids[0], "installed", created=iso(second))
    ingest(store, spool)
    assert _pairs(store)[:2] == (rules.COMPLIANT, {})  # the state came after the scan
    fleet.add_scan(spool, "web01", second, 1, results={ids[0]: (False, False, False)})  # verification scan
    ingest(store, spool)
    assert _pairs(store)[1] == {ids[0]: rules.MISSING}  # the scan came after the state


def test_a_host_without_a_usable_scan_stays_unknown(fleet_store):
    store, spool, fleet, ids = fleet_store
    fleet.add_failure(spool, "web01", NOW - HOUR)
    write_enforcement(spool, "web01", "wave-1", ids[0], "installed", created=iso(NOW - HOUR / 2))
    write_enforcement(spool, "web09", "wave-1", ids[0], "installed", created=iso(NOW - HOUR / 2))
    ingest(store, spool)
    evaluation = evaluate_store(store, [all_updates()], now=NOW)
    assert evaluation.hosts["web01"].status == rules.SCAN_FAILED
    assert evaluation.hosts["web09"].status == rules.NEVER_SCANNED  # it reported, so the store knows it
    for host in ("web01", "web09"):
        assert evaluation.sets["all"].host_compliance[host] == rules.UNKNOWN
        assert evaluation.sets["all"].host_counts[host][rules.UNKNOWN] == 30


def test_retention_prunes_old_states(fleet_store):
    store, spool, _fleet, ids = fleet_store
    write_enforcement(spool, "web01", "wave-1", ids[0], "installed", created=iso(NOW - 20 * 24 * HOUR))
    write_enforcement(spool, "web01", "wave-1", ids[1], "installed", created=iso(NOW - HOUR))
    ingest(store, spool)
    assert prune_history(store, 10, now=NOW) == 1
    assert [r["update_id"] for r in store.query("SELECT update_id FROM enforcement_states")] == [ids[1]]
    assert prune_history(store, 10, now=NOW) == 0


def test_migration_9_adds_the_table_to_a_store_of_schema_8(fleet_store):
    store, spool, _fleet, ids = fleet_store
    with store.transaction() as cursor:
        undo_migration_9(cursor)
    address = store.address
    store.close()
    reopened = open_store(address)
    try:
        assert reopened.schema_version() == SCHEMA_VERSION == 10
        write_enforcement(spool, "web01", "wave-1", ids[0], "installed", created=iso(NOW - HOUR))
        assert ingest(reopened, spool)["ingested"] == 1
        assert _pairs(reopened)[1] == {uid: rules.MISSING for uid in ids[1:]}
    finally:
        reopened.close()


def test_the_trend_applies_a_state_from_the_day_it_was_received_until_the_next_scan(fleet_store):
    from ansible_collections.patchwave.windows.plugins.module_utils._compliance.history import history
    store, spool, fleet, ids = fleet_store
    day = 24 * HOUR
    fleet.add_scan(spool, "web01", NOW - 3 * day, 1, results={ids[0]: (False, False, False)})
    ingest(store, spool)  # the scan of the fixture (two hours ago) stays the newest; this one decides days -3, -2
    write_enforcement(spool, "web01", "wave-1", ids[0], "installed", created=iso(NOW - 2 * day))
    ingest(store, spool)
    trend = history(store, [all_updates()], days=4, now=NOW, stale_after_days=0)["all"]
    assert [(p["compliant"], p["non_compliant"]) for p in trend] == [(0, 1), (1, 0), (1, 0), (0, 1)]


def test_not_attempted_detail_keeps_figures_and_formats_instants():
    # install.py passes needs_minutes (an int) for an update longer than every window
    at = datetime.datetime(2026, 12, 5, 22, 0, tzinfo=datetime.timezone.utc)
    detail = not_attempted_detail("longer_than_every_window", needs_minutes=95, since=at, note="text")
    assert detail["reason"] == "longer_than_every_window" and detail["needs_minutes"] == 95
    assert detail["since"].startswith("2026-12-05T22:00:00") and detail["note"] == "text"
