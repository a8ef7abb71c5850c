"""Bulk compliance over the store (``_compliance_store``) against the pure rules applied pair by pair
to the generated truth: the store's grouping and counting must agree with ``_compliance.evaluate``
for every host, every update and every set."""

import datetime

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.query import superseded_ids
from ansible_collections.patchwave.windows.plugins.module_utils._compliance import rules as c
from ansible_collections.patchwave.windows.plugins.module_utils._compliance import history as history_module
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.history import history
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.reads import (
    evaluate_rows,
    evaluate_store,
    host_pairs,
    load_host_statuses,
    read_rows,
)
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.report_data import report_data
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.update_sets import (
    UpdateSetError,
    all_updates,
    parse_update_sets,
)
from ansible_collections.patchwave.windows.plugins.module_utils._scan.ingest import ingest
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import parse_time
from ansible_collections.patchwave.windows.plugins.module_utils._store.retention import prune_history

from tests.compliance_data import NOW, Fleet, add_catalog, fleet_in_store, iso


def expected_states(fleet, hosts, set_ids, stale_after_days=c.DEFAULT_STALE_AFTER_DAYS):
    """Per host: {update_id: state}, from the generated truth and the pure rules alone: ``evaluate``
    over the newest scan, then ``apply_enforcement`` with the pair's newest enforcement state received
    after that scan (the generator never puts one in the same second as a scan)."""
    expected = {}
    for host in hosts:
        scans = fleet.scans.get(host, [])
        latest = None
        last_good = None
        for number, record in enumerate(scans, 1):
            facts = c.ScanFacts(scan_pk=number, finished=record["finished"], succeeded=record["succeeded"],
                                catalog_version=record["catalog_version"], source="patchwave.windows.scan",
                                received=record["received"])
            latest = facts
            if record["succeeded"]:
                last_good = (facts, record)
        status = c.host_status(latest, last_good[0] if last_good else None, NOW, stale_after_days)
        results = scans[-1]["results"] if scans else {}
        enforced = {}
        for entry in fleet.enforcement.get(host, ()):
            if entry["update_id"] and scans and scans[-1]["received"] and entry["received"] > scans[-1]["received"]:
                newest = enforced.get(entry["update_id"])
                if newest is None or entry["received"] > newest["received"]:
                    enforced[entry["update_id"]] = entry
        states = {}
        for uid in set_ids:
            update = c.UpdateFacts(fleet.catalog[uid]["first_version"], fleet.catalog[uid]["superseded_by"] is not None)
            raw = results.get(uid)
            state, detail = c.evaluate(status, update, None if raw is None else c.ResultFacts(*raw))
            entry = enforced.get(uid)
            states[uid] = c.apply_enforcement(state, detail, entry and c.EnforcementFacts(entry["state"], entry["reason"]))
        expected[host] = states
    return expected


@pytest.fixture
def populated(store_address, tmp_path):
    with fleet_in_store(store_address, str(tmp_path / "spool"), enforcement=True) as (store, fleet, hosts, counts):
        assert counts["ingested"] > 60 and counts["quarantined"] == 0
        yield store, fleet, hosts


SETS = [
    {"name": "critical", "severities": ["Critical"]},
    {"name": "by_kb", "kbs": ["KB5000003", "5000050", "5000119"]},
    {"name": "by_id", "update_ids": ["00005eed-0000-0000-0000-000000000007"]},
    {"name": "empty", "kbs": ["KB999999"]},
]


def expected_update_counts(expected, hosts, update_ids):
    """Per update: hosts per state, from the pair-by-pair states."""
    counts = {uid: c.empty_counts() for uid in update_ids}
    for host in hosts:
        for uid in update_ids:
            counts[uid][expected[host][uid][0]] += 1
    return counts


def _no_catalog_version_onwards(fleet, hosts):
    """The hosts from the first one whose newest scan is usable and has no catalog version on: the bulk
    path must not take any host's states from the first usable host it meets."""
    first = min(h for h in hosts if fleet.scans.get(h) and fleet.scans[h][-1]["succeeded"]
                and fleet.scans[h][-1]["catalog_version"] is None)
    return [h for h in hosts if h >= first]


@pytest.mark.parametrize("which", ["every_host", "from_a_host_without_catalog_version"])
def test_bulk_evaluation_agrees_with_the_rules_pair_by_pair(populated, which):
    store, fleet, hosts = populated
    if which != "every_host":
        hosts = _no_catalog_version_onwards(fleet, hosts)
    sets = [all_updates()] + parse_update_sets(SETS)
    evaluation = evaluate_store(store, sets, hosts=hosts, now=NOW)
    assert set(evaluation.hosts) == set(hosts)
    report = report_data(evaluation, top=1000)
    for update_set in sets:
        result = evaluation.sets[update_set.name]
        expected = expected_states(fleet, hosts, result.update_ids)
        if update_set.name == "by_kb":
            assert sorted(fleet.catalog[u]["kb"] for u in result.update_ids) == ["5000003", "5000050", "5000119"]
        if update_set.name == "empty":
            assert result.update_ids == []
        for host in hosts:
            counts = c.empty_counts()
            for state, _detail in expected[host].values():
                counts[state] += 1
            assert result.host_counts[host] == counts, (update_set.name, host)
            assert result.host_compliance[host] == c.set_compliance(counts, evaluation.hosts[host].usable)
            required = sorted((u, d) for u, (s, d) in expected[host].items() if s == c.REQUIRED)
            assert sorted(result.host_required.get(host, [])) == required
        per_update = expected_update_counts(expected, hosts, result.update_ids)
        for uid in result.update_ids:
            assert result.update_counts[uid] == per_update[uid], (update_set.name, uid)
        # The report's most-required table: every update some host requires, hosts per state as the rules say.
        top = report["sets"][update_set.name]["top_required"]
        assert {row["update_id"]: row["counts"] for row in top} == {
            uid: counts for uid, counts in per_update.items() if counts[c.REQUIRED]}
    overall = evaluation.sets["all"]
    # The mix really exercises every state and every host status, and scans without a catalog version.
    assert all(overall.state_totals()[s] > 0 for s in c.STATES)
    statuses = {s.status for s in evaluation.hosts.values()}
    assert statuses == {c.USABLE, c.STALE, c.SCAN_FAILED, c.NEVER_SCANNED}
    assert any(s.usable and s.scan.catalog_version is None for s in evaluation.hosts.values())
    assert any(s.usable and s.scan.catalog_version is not None for s in evaluation.hosts.values())
    assert sum(overall.summary().values()) == len(hosts)
    # ...and enforcement states that decide pairs: every detail they give, on hosts the test reads.
    if which == "every_host":
        details = {d for states in expected_states(fleet, hosts, overall.update_ids).values() for _s, d in states.values()}
        assert {c.INSTALL_FAILED, c.NOT_ATTEMPTED_WINDOW} <= details


def test_raw_rows_survive_json_and_give_the_same_evaluation(populated):
    import json
    store, _fleet, hosts = populated
    sets = [all_updates()] + parse_update_sets(SETS)
    direct = evaluate_store(store, sets, hosts=hosts, now=NOW)
    rows = json.loads(json.dumps(read_rows(store, sets, now=NOW, per_update=True)))
    again = evaluate_rows(rows, hosts=hosts, now=NOW)
    for name in direct.sets:
        assert again.sets[name].host_counts == direct.sets[name].host_counts
        assert again.sets[name].update_counts == direct.sets[name].update_counts
        assert sorted(map(tuple, again.sets[name].host_required.get("win0007", []))) == sorted(
            direct.sets[name].host_required.get("win0007", []))
    # hosts beside the store's own: a name the store never saw is never scanned, store hosts stay.
    extra = evaluate_rows(rows, hosts=["not-in-store"], now=NOW, include_store_hosts=True)
    assert extra.hosts["not-in-store"].status == c.NEVER_SCANNED
    assert set(extra.hosts) == set(h for h in hosts if h in direct.hosts and direct.hosts[h].scan) | {"not-in-store"}


def test_pairs_carry_details_and_provenance(populated):
    store, fleet, hosts = populated
    evaluation = evaluate_store(store, [all_updates()], hosts=hosts, now=NOW, per_update=False)
    result = evaluation.sets["all"]
    expected = expected_states(fleet, hosts, result.update_ids)
    details = set()
    superseded = superseded_ids(store, result.update_ids)
    for host in hosts[:30]:
        status = evaluation.hosts[host]
        for pair in host_pairs(store, status, result.update_ids, result.updates, superseded):
            assert (pair["state"], pair["detail"]) == expected[host][pair["update_id"]]
            details.add(pair["detail"])
            if status.scan:
                assert pair["provenance"]["scan_time"] == status.scan.finished
                assert pair["provenance"]["source"] == "patchwave.windows.scan"
    assert {c.SUPERSEDED, c.MISSING, c.IS_INSTALLED, c.NOT_APPLICABLE} <= details


def test_staleness_policy_is_an_option(populated):
    store, _fleet, hosts = populated
    relaxed = load_host_statuses(store, hosts, NOW, stale_after_days=0)
    assert not [h for h, s in relaxed.items() if s.status == c.STALE]  # 0 turns the policy off
    for days in (1, 7, 30):
        strict = load_host_statuses(store, hosts, NOW, stale_after_days=days)
        limit = datetime.timedelta(days=days)
        for host in hosts:
            before, after = relaxed[host], strict[host]
            # exactly the usable hosts whose newest scan arrived more than `days` ago turn stale;
            # nothing else changes
            old = before.status == c.USABLE and NOW - parse_time(before.scan.age_time) > limit
            assert after.status == (c.STALE if old else before.status), (days, host)
            assert after.scan == before.scan
        if days < 30:
            assert [h for h, s in strict.items() if s.status == c.STALE], days  # the fleet has such hosts


def test_corrupt_message_leaves_the_host_unknown_with_the_reason(store_address, tmp_path):
    store = open_store(store_address)
    catalog = add_catalog(store, 10)
    fleet = Fleet(catalog)
    spool = str(tmp_path / "spool")
    fleet.add_scan(spool, "good", NOW - datetime.timedelta(hours=2), 3)
    ingest(store, spool)
    fleet.add_corrupt(spool, "good", None)
    assert ingest(store, spool)["quarantined"] == 1
    evaluation = evaluate_store(store, [all_updates()], now=datetime.datetime.now(datetime.timezone.utc))
    status = evaluation.hosts["good"]
    assert status.status == c.CORRUPT_MESSAGE and "not valid JSON" in status.scan.error
    assert evaluation.sets["all"].host_compliance["good"] == c.UNKNOWN
    assert evaluation.sets["all"].host_counts["good"][c.UNKNOWN] == 10
    store.close()


def test_a_new_scan_adds_history_and_retention_prunes_only_old_scans(store_address, tmp_path, monkeypatch):
    store = open_store(store_address)
    catalog = add_catalog(store, 20)
    fleet = Fleet(catalog, seed=5)
    spool = str(tmp_path / "spool")
    for days in (40, 30, 20, 10, 1):
        fleet.add_scan(spool, "h1", NOW - datetime.timedelta(days=days), 3)
    fleet.add_scan(spool, "h2", NOW - datetime.timedelta(days=50), 3)
    fleet.add_scan(spool, "h2", NOW - datetime.timedelta(days=45), 3, succeeded=False)
    ingest(store, spool)
    assert store.query("SELECT count(*) AS n FROM scans")[0]["n"] == 7
    trend = history(store, [all_updates()], days=45, now=NOW, stale_after_days=7)["all"]
    # several sets in one pass give what each gives alone
    sets = [all_updates()] + parse_update_sets([{"name": "some", "kbs": ["5000001", "5000002"]}])
    together = history(store, sets, days=45, now=NOW, stale_after_days=7)
    assert together["all"] == trend
    assert together["some"] == history(store, sets[1:], days=45, now=NOW, stale_after_days=7)["some"]
    # given the evaluation of the same sets, the trend reads neither the catalog version nor the sets again
    evaluation = evaluate_store(store, sets, now=NOW, stale_after_days=7)
    monkeypatch.setattr(history_module, "resolve", lambda *args: pytest.fail("sets resolved twice"))
    monkeypatch.setattr(history_module, "current_version", lambda *args: pytest.fail("catalog version read twice"))
    assert history(store, sets, days=45, now=NOW, stale_after_days=7, evaluation=evaluation) == together
    assert len(trend) == 45 and trend[-1]["date"] == "2026-11-23"
    assert [p for p in trend if p["date"] == iso(NOW - datetime.timedelta(days=44))[:10]][0][c.UNKNOWN] == 2
    assert sum(trend[-1][k] for k in c.COMPLIANCE) == 2
    # h1's scan of 10 days ago, stale by today's policy, decided the day it was made.
    assert prune_history(store, 25, now=NOW) == 2  # h1's scans of 40 and 30 days; h2 keeps both newest
    remaining = store.query("SELECT host_name, finished FROM scans ORDER BY host_name, finished")
    assert [r["host_name"] for r in remaining] == ["h1", "h1", "h1", "h2", "h2"]
    assert prune_history(store, 25, now=NOW) == 0
    assert prune_history(store, 0, now=NOW) == 0
    store.close()


@pytest.mark.parametrize("entry,message", [
    ({"name": "all"}, "reserved"),
    ({"name": "bad name"}, "'name' must be"),
    ({"name": "x", "colour": "red"}, "unknown key(s) colour"),
    ({"name": "x", "kbs": ["KBx"]}, "update set 'x'"),
    ({"name": "x", "severities": ["Huge"]}, "'Huge' is not one of"),
])
def test_bad_update_sets_are_refused_with_the_set_named(entry, message):
    with pytest.raises(UpdateSetError, match=None) as info:
        parse_update_sets([entry])
    assert message in str(info.value)


def test_duplicate_set_names_and_unknown_products_are_refused(store_address):
    with pytest.raises(UpdateSetError, match="used twice"):
        parse_update_sets([{"name": "a"}, {"name": "a"}])
    store = open_store(store_address)
    add_catalog(store, 5)
    with pytest.raises(UpdateSetError, match="update set 'p': unknown product or classification 'Windows 95'"):
        evaluate_store(store, parse_update_sets([{"name": "p", "products": ["Windows 95"]}]))
    store.close()


def test_ingest_applies_the_retention_from_the_environment(store_address, tmp_path, monkeypatch):
    from ansible_collections.patchwave.windows.plugins.module_utils._store.retention import history_days
    store = open_store(store_address)
    catalog = add_catalog(store, 5)
    fleet = Fleet(catalog)
    spool = str(tmp_path / "spool")
    now = datetime.datetime.now(datetime.timezone.utc)
    fleet.add_scan(spool, "h1", now - datetime.timedelta(days=500), 3)
    fleet.add_scan(spool, "h1", now - datetime.timedelta(days=450), 3)
    assert ingest(store, spool)["pruned"] == 1  # the 500-day scan goes; the newest stays whatever its age
    fleet.add_scan(spool, "h1", now - datetime.timedelta(days=1), 3)
    monkeypatch.setenv("PATCHWAVE_HISTORY_DAYS", "0")
    assert ingest(store, spool)["pruned"] == 0
    fleet.add_scan(spool, "h1", now, 3)
    monkeypatch.delenv("PATCHWAVE_HISTORY_DAYS")
    assert ingest(store, spool)["pruned"] == 1  # the 450-day scan, now that newer ones exist
    assert store.query("SELECT count(*) AS n FROM scans")[0]["n"] == 2
    assert history_days({"PATCHWAVE_HISTORY_DAYS": "30"}) == 30
    with pytest.raises(ValueError, match="PATCHWAVE_HISTORY_DAYS"):
        history_days({"PATCHWAVE_HISTORY_DAYS": "a month"})
    store.close()


def test_per_update_counts_cover_exactly_the_hosts_asked_for(populated):
    store, fleet, hosts = populated
    subset = hosts[:8] + ["stranger"]
    evaluation = evaluate_store(store, [all_updates()], hosts=subset, now=NOW)
    result = evaluation.sets["all"]
    expected = expected_states(fleet, subset, result.update_ids)
    assert result.update_counts == expected_update_counts(expected, subset, result.update_ids)


def test_a_skewed_host_clock_does_not_decide_which_scan_is_newest(store_address, tmp_path):
    """Every pick of a host's newest scan (statuses, per-set counts, history, the scan action's last
    good scan, retention) orders by the controller's clock, then by scan_pk; the host's own time is
    kept as data."""
    from ansible_collections.patchwave.windows.plugins.module_utils._scan.previous import last_good_scan
    hour = datetime.timedelta(hours=1)
    start = NOW - 10 * hour
    store = open_store(store_address)
    try:
        fleet = Fleet(add_catalog(store, 20), seed=7)
        spool = str(tmp_path / "spool")
        # 5 h fast: a good scan, then an hour later the controller cannot reach the host.
        fleet.add_scan(spool, "ahead", start, 3, clock_offset=5 * hour)
        fleet.add_failure(spool, "ahead", start + hour)
        # 5 h slow: unreachable, then a good scan an hour later.
        fleet.add_failure(spool, "behind", start)
        fleet.add_scan(spool, "behind", start + hour, 3, clock_offset=-5 * hour)
        # Its clock was 5 h fast for one scan against catalog 2, right for the next against catalog 3.
        fleet.add_scan(spool, "jumpy", start, 2, clock_offset=5 * hour)
        fleet.add_scan(spool, "jumpy", start + hour, 3)
        ingest(store, spool)
        # Received in the same second: the order of arrival (scan_pk) decides.
        fleet.add_failure(spool, "tie", start + 2 * hour)
        ingest(store, spool)
        fleet.add_scan(spool, "tie", start + 2 * hour, 3, clock_offset=-hour)
        ingest(store, spool)
        hosts = ["ahead", "behind", "jumpy", "tie"]

        statuses = load_host_statuses(store, hosts, NOW)
        assert {h: s.status for h, s in statuses.items()} == {
            "ahead": c.SCAN_FAILED, "behind": c.USABLE, "jumpy": c.USABLE, "tie": c.USABLE}
        assert statuses["ahead"].last_good.finished == iso(start + 5 * hour)  # the host's time, kept
        assert statuses["ahead"].last_good.received == iso(start)
        assert statuses["jumpy"].scan.catalog_version == 3
        assert statuses["behind"].scan.finished == iso(start - 4 * hour)

        evaluation = evaluate_store(store, [all_updates()], hosts=hosts, now=NOW)
        result = evaluation.sets["all"]
        expected = expected_states(fleet, hosts, result.update_ids)
        compliance = {}
        for host in hosts:
            counts = c.empty_counts()
            for state, _detail in expected[host].values():
                counts[state] += 1
            assert result.host_counts[host] == counts, host
            compliance[host] = c.set_compliance(counts, evaluation.hosts[host].usable)
        assert compliance["ahead"] == c.UNKNOWN
        assert result.update_counts == expected_update_counts(expected, hosts, result.update_ids)
        trend = history(store, [all_updates()], days=2, now=NOW)["all"]
        assert {k: trend[-1][k] for k in c.COMPLIANCE} == c.count_compliance(compliance.values())

        jumpy = last_good_scan(store, "jumpy")
        assert (jumpy["catalog_version"], jumpy["received"], jumpy["finished"]) == (3, iso(start + hour), iso(start + hour))
        assert last_good_scan(store, "ahead")["received"] == iso(start)

        # Received more than a day before start + 30 min and older than its host's newest good scan by
        # the controller's clock: jumpy's first scan, whatever its host said (each host's newest scan
        # and newest scan of each outcome stay).
        assert store.query("SELECT count(*) AS n FROM scans")[0]["n"] == 8
        assert prune_history(store, 1, now=start + datetime.timedelta(days=1, minutes=30)) == 1
        left = store.query("SELECT host_name, received FROM scans ORDER BY host_name, received, scan_pk")
        assert [(r["host_name"], r["received"]) for r in left] == [
            ("ahead", iso(start)), ("ahead", iso(start + hour)), ("behind", iso(start)), ("behind", iso(start + hour)),
            ("jumpy", iso(start + hour)), ("tie", iso(start + 2 * hour)), ("tie", iso(start + 2 * hour))]
    finally:
        store.close()


def test_migration_5_keeps_the_one_time_older_scans_had(store_address, tmp_path):
    from tests.compliance_data import undo_migration_5
    store = open_store(store_address)
    fleet = Fleet(add_catalog(store, 10), seed=3)
    spool = str(tmp_path / "spool")
    fleet.add_scan(spool, "h1", NOW - datetime.timedelta(days=2), 3, clock_offset=datetime.timedelta(hours=3))
    fleet.add_failure(spool, "h1", NOW - datetime.timedelta(days=1))
    ingest(store, spool)
    with store.transaction() as cursor:
        undo_migration_5(cursor)
    store.close()
    store = open_store(store_address)
    try:
        rows = store.query("SELECT finished, received FROM scans ORDER BY scan_pk")
        assert [r["received"] for r in rows] == [r["finished"] for r in rows] and len(rows) == 2
        assert load_host_statuses(store, ["h1"], NOW)["h1"].status == c.SCAN_FAILED
    finally:
        store.close()


def test_the_trend_applies_enforcement_states_as_the_figures_do(populated):
    """The trend's last day (its end is NOW) agrees with the evaluation, enforcement states included."""
    store, fleet, hosts = populated
    sets = [all_updates()] + parse_update_sets(SETS)
    evaluation = evaluate_store(store, sets, hosts=hosts, now=NOW)
    trend = history(store, sets, days=3, now=NOW, hosts=hosts)
    for update_set in sets:
        last = dict(trend[update_set.name][-1])
        assert last.pop("date") == NOW.date().isoformat()
        assert last == evaluation.sets[update_set.name].summary(), update_set.name
    # Without the states the last day differs: they count.
    with store.transaction() as cursor:
        cursor.execute("DELETE FROM enforcement_states")
    bare = history(store, sets, days=3, now=NOW, hosts=hosts)
    assert bare["all"][-1] != trend["all"][-1] or bare["critical"][-1] != trend["critical"][-1]
