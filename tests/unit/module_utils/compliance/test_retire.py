"""Retiring hosts (plugins/module_utils/_compliance/retire.py): who is chosen, and what readers do after."""

import datetime

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._compliance import retire
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.history import history
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.reads import evaluate_store, retired_hosts
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.update_sets import all_updates
from ansible_collections.patchwave.windows.plugins.module_utils._scan.ingest import ingest
from ansible_collections.patchwave.windows.plugins.module_utils._scan.spool import write_message
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store

from tests.compliance_data import NOW, Fleet, add_catalog, iso

DAY = datetime.timedelta(days=1)

KNOWN = {
    "old": {"last_seen": iso(NOW - 60 * DAY), "retired_at": None, "reason": None},
    "new": {"last_seen": iso(NOW - DAY), "retired_at": None, "reason": None},
    "gone": {"last_seen": iso(NOW - 90 * DAY), "retired_at": iso(NOW - 10 * DAY), "reason": "CHG1"},
}


@pytest.mark.parametrize("state, names, days, changed, unknown", [
    ("retired", ["new"], None, ["new"], []),
    ("retired", [], 45, ["old"], []),                  # "gone" is retired already
    ("retired", ["new", "typo"], 45, ["new", "old"], ["typo"]),
    ("retired", ["gone"], None, [], []),               # idempotent
    ("active", ["gone", "new"], None, ["gone"], []),   # only retired hosts come back
    ("active", ["nobody"], None, [], ["nobody"]),
])
def test_plan(state, names, days, changed, unknown):
    changes, missing = retire.plan(KNOWN, state, names, days, NOW)
    assert [c["name"] for c in changes] == changed
    assert missing == unknown


@pytest.fixture
def retired_store(store_address, tmp_path):
    """Three hosts: web01 compliant, web02 non-compliant, web03 last seen 60 days ago; web03 retired."""
    store = open_store(store_address)
    spool = str(tmp_path / "spool")
    fleet = Fleet(add_catalog(store, 20, versions=1), seed=4)
    fleet.add_scan(spool, "web01", NOW - DAY, 1, results={})
    fleet.add_scan(spool, "web02", NOW - DAY, 1, results={list(fleet.catalog)[0]: (False, False, False)})
    fleet.add_scan(spool, "web03", NOW - 60 * DAY, 1, results={})
    ingest(store, spool)
    changes, _unknown = retire.plan(retire.host_rows(store), "retired", [], 45, NOW)
    assert [c["name"] for c in changes] == ["web03"]
    assert changes[0]["last_seen"] == iso(NOW - 60 * DAY)
    retire.apply(store, "retired", changes, "decommissioned", NOW)
    try:
        yield store, spool, fleet
    finally:
        store.close()


def test_a_retired_host_leaves_evaluation_and_trend_and_keeps_its_history(retired_store):
    store, _spool, _fleet = retired_store
    evaluation = evaluate_store(store, [all_updates()], now=NOW)
    assert sorted(evaluation.hosts) == ["web01", "web02"]
    assert retired_hosts(store) == {"web03": {"retired_at": iso(NOW), "reason": "decommissioned"}}
    trend = history(store, [all_updates()], days=3, now=NOW)["all"]
    assert all(point["compliant"] + point["non_compliant"] + point["unknown"] <= 2 for point in trend)
    assert store.query("SELECT count(*) AS n FROM scans WHERE host_name = 'web03'")[0]["n"] == 1  # history kept
    # named explicitly, it is never compliant: nothing of its history is used
    named = evaluate_store(store, [all_updates()], hosts=["web03"], now=NOW)
    assert named.sets["all"].host_compliance["web03"] == "unknown"
    assert named.hosts["web03"].status == "never_scanned"


def test_a_retired_host_that_reports_again_is_back(retired_store):
    store, spool, fleet = retired_store
    fleet.add_scan(spool, "web03", NOW - 60 * 1 * datetime.timedelta(minutes=1), 1, results={})
    ingest(store, spool)
    assert retired_hosts(store) == {}
    assert evaluate_store(store, [all_updates()], now=NOW).sets["all"].host_compliance["web03"] == "compliant"


def test_an_attempt_also_brings_a_retired_host_back(retired_store):
    store, spool, _fleet = retired_store
    write_message(spool, "web03", "scan_attempt", {"failure": "unreachable", "reason": "refused"}, created=iso(NOW))
    ingest(store, spool)
    assert retired_hosts(store) == {}
    status = evaluate_store(store, [all_updates()], now=NOW).hosts["web03"]
    assert status.status == "stale" and status.last_attempt["failure"] == "unreachable"


def test_active_brings_hosts_back(retired_store):
    store, _spool, _fleet = retired_store
    changes, _unknown = retire.plan(retire.host_rows(store), "active", ["web03"])
    retire.apply(store, "active", changes)
    assert retired_hosts(store) == {}
    assert "web03" in evaluate_store(store, [all_updates()], now=NOW).hosts
