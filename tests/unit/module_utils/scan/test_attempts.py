"""A failed connection is not a failed scan: attempts that never reached the host's updates are kept
apart from scans (``scan_attempt`` messages, the ``scan_attempts`` table), leave the host's
compliance as it was, and show as its last attempt; a search the host did not complete still makes it
Unknown (scan failed)."""

import datetime

import pytest
from ansible_collections.patchwave.windows.plugins.action.scan import (
    attempt_failure,
    offline_file_missing,
    request_failure,
    skip_reason,
)
from ansible_collections.patchwave.windows.plugins.module_utils._compliance import rules
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.reads import (
    evaluate_store,
    load_host_statuses,
)
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.update_sets import all_updates
from ansible_collections.patchwave.windows.plugins.module_utils._scan.ingest import ingest
from ansible_collections.patchwave.windows.plugins.module_utils._scan.previous import last_attempts
from ansible_collections.patchwave.windows.plugins.module_utils._scan.spool import write_message
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_collections.patchwave.windows.plugins.module_utils._store.schema import SCHEMA_VERSION

from tests.compliance_data import NOW, Fleet, add_catalog, iso, undo_migration_6

HOUR = datetime.timedelta(hours=1)


@pytest.fixture
def fleet_store(store_address, tmp_path):
    """A store with a catalog and two hosts scanned an hour before NOW: web01 misses updates."""
    store = open_store(store_address)
    spool = str(tmp_path / "spool")
    fleet = Fleet(add_catalog(store, 30, versions=1), seed=3)
    missing = {uid: (False, False, False) for uid in list(fleet.catalog)[:5]}
    fleet.add_scan(spool, "web01", NOW - 2 * HOUR, 1, results=missing)
    fleet.add_scan(spool, "web02", NOW - 2 * HOUR, 1, results={})
    ingest(store, spool)
    try:
        yield store, spool, fleet
    finally:
        store.close()


def attempt(spool, host, failure, reason, received):
    write_message(spool, host, "scan_attempt", {"failure": failure, "reason": reason, "server_selection": "default"},
                  catalog_version=1, created=iso(received))


def compliance(store):
    evaluation = evaluate_store(store, [all_updates()], now=NOW)
    return evaluation.sets["all"].host_compliance, evaluation.hosts


def test_an_unreachable_host_keeps_its_state_and_shows_the_attempt(fleet_store):
    store, spool, _fleet = fleet_store
    before = compliance(store)[0]
    assert before == {"web01": "non_compliant", "web02": "compliant"}
    attempt(spool, "web01", "credentials", "ntlm: the specified credentials were rejected", NOW - HOUR)
    attempt(spool, "web02", "unreachable", "connection refused", NOW - HOUR)
    assert ingest(store, spool)["ingested"] == 2
    after, statuses = compliance(store)
    assert after == before  # nothing was learnt of the hosts' updates
    assert statuses["web01"].status == rules.USABLE and statuses["web02"].status == rules.USABLE
    assert statuses["web01"].last_attempt == {"time": iso(NOW - HOUR), "failed": True, "failure": "credentials",
                                              "reason": "ntlm: the specified credentials were rejected"}
    assert statuses["web02"].last_attempt["failure"] == "unreachable"
    # the scans table holds scans only
    assert store.query("SELECT count(*) AS n FROM scans")[0]["n"] == 2


def test_a_search_the_host_did_not_complete_makes_it_unknown(fleet_store):
    store, spool, fleet = fleet_store
    fleet.add_failure(spool, "web02", NOW - HOUR, error="scan abc was lost on the host")
    ingest(store, spool)
    after, statuses = compliance(store)
    assert after["web02"] == "unknown" and statuses["web02"].status == rules.SCAN_FAILED
    assert statuses["web02"].last_attempt == {"time": iso(NOW - HOUR), "failed": True, "failure": "scan_failed",
                                              "reason": "scan abc was lost on the host"}


def test_the_newest_attempt_wins_a_later_good_scan_clears_it(fleet_store):
    store, spool, fleet = fleet_store
    attempt(spool, "web01", "unreachable", "refused", NOW - 90 * datetime.timedelta(minutes=1))
    fleet.add_scan(spool, "web01", NOW - HOUR, 1, results={})
    ingest(store, spool)
    found = last_attempts(store)
    assert found["web01"] == {"time": iso(NOW - HOUR), "failed": False, "failure": None, "reason": None}
    assert found["web02"]["failed"] is False
    assert last_attempts(store, "web01") == {"web01": found["web01"]}
    assert last_attempts(store, "nobody") == {}


def test_a_host_only_ever_unreachable_is_never_scanned_not_failed(fleet_store):
    store, spool, _fleet = fleet_store
    attempt(spool, "web03", "unreachable", "Name or service not known", NOW - HOUR)
    ingest(store, spool)
    statuses = load_host_statuses(store, None, NOW)
    assert statuses["web03"].status == rules.NEVER_SCANNED
    assert statuses["web03"].last_attempt["failure"] == "unreachable"
    assert compliance(store)[0]["web03"] == "unknown"


def test_an_attempt_message_with_an_unknown_failure_is_refused(tmp_path):
    with pytest.raises(ValueError, match="failure"):
        write_message(str(tmp_path), "web01", "scan_attempt", {"failure": "bogus", "reason": "x"})


def test_migration_6_moves_unreachable_failures_out_of_the_scans(fleet_store):
    """Before schema 6 an unreachable host was stored as a failed scan: the migration makes it an attempt."""
    store, spool, fleet = fleet_store
    fleet.add_failure(spool, "web01", NOW - HOUR, error="host unreachable: connection refused")
    fleet.add_failure(spool, "web02", NOW - HOUR, error="scan abc was lost on the host")
    ingest(store, spool)
    with store.transaction() as cursor:
        undo_migration_6(cursor)
    store.close()
    reopened = open_store(store.address)
    try:
        assert reopened.schema_version() == SCHEMA_VERSION
        statuses = load_host_statuses(reopened, None, NOW)
        assert statuses["web01"].status == rules.USABLE  # the unreachable "failure" no longer decides
        assert statuses["web01"].last_attempt["failure"] == "unreachable"
        assert statuses["web02"].status == rules.SCAN_FAILED  # a real failure stays a failed scan
    finally:
        reopened.close()


UNREACHABLE = {"time": "2026-11-23T11:30:00Z", "failed": True, "failure": "unreachable", "reason": "refused"}
SCANNED = {"time": "2026-11-23T11:00:00Z", "failed": False, "failure": None, "reason": None}


@pytest.mark.parametrize("last_attempt, skipped", [(None, True), (SCANNED, True), (UNREACHABLE, False)])
def test_an_unforced_scan_never_skips_after_a_failed_attempt(last_attempt, skipped):
    last = {"finished": "2026-11-23T11:00:00Z", "catalog_version": 3}
    assert (skip_reason(last, 3, 86400, NOW, last_attempt) is not None) is skipped


@pytest.mark.parametrize("failure, cause", [
    ({"msg": "The offline scan file 'C:\\x.cab' does not exist on the host.", "round": "start"}, "request"),
    ({"msg": "Unsupported parameters", "round": "start"}, "request"),
    ({"msg": "the connection was lost while starting the scan", "round": "start_connection"}, "connection"),
    ({"msg": "Failed to start the scan worker", "round": "start", "worker_start_failed": True}, None),
    ({"msg": "scan x is lost", "round": "lost"}, None),
    ({"msg": "did not finish", "round": "timeout"}, None),
    ({"msg": "poll failed", "round": "poll"}, None),
])
def test_which_failures_say_nothing_of_the_host(failure, cause):
    assert request_failure(failure) == cause


@pytest.mark.parametrize("text, cause", [
    ("ntlm: the specified credentials were rejected by the server", "credentials"),
    ("basic: HTTP 401 Unauthorized", "credentials"),
    ("HTTPSConnectionPool: Failed to establish a new connection: [Errno 111] Connection refused", "unreachable"),
])
def test_attempt_failures_are_named(text, cause):
    assert attempt_failure(Exception(text)) == cause


@pytest.mark.parametrize("scan, missing", [
    ({"mode": "offline", "hresult": 0x80070002}, True),
    ({"mode": "offline", "hresult": -2147024894}, True),   # the same, signed as PowerShell gives it
    ({"mode": "offline", "hresult": 0x80070035}, True),
    ({"mode": "offline", "hresult": 0x8024402C}, False),
    ({"mode": "online", "hresult": 0x80070002}, False),
    ({"mode": "offline", "hresult": None}, False),
])
def test_an_offline_scan_file_that_is_not_there_is_a_bad_request(scan, missing):
    assert offline_file_missing(scan) is missing


def test_retention_prunes_old_attempts(fleet_store):
    from ansible_collections.patchwave.windows.plugins.module_utils._store.retention import prune_history
    store, spool, _fleet = fleet_store
    attempt(spool, "web01", "unreachable", "old", NOW - 30 * 24 * HOUR)
    attempt(spool, "web01", "unreachable", "new", NOW - HOUR)
    ingest(store, spool, env={"PATCHWAVE_HISTORY_DAYS": "0"})
    assert prune_history(store, 10, now=NOW) == 1
    assert [r["reason"] for r in store.query("SELECT reason FROM scan_attempts")] == ["new"]
    assert prune_history(store, 10, now=NOW) == 0
