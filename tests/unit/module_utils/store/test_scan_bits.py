"""The per-scan bit planes (``_store/planes.py``): what ingest and schema migration 4 store, and the
flag groups ``_compliance/reads.py`` counts from them, checked against the records in ``scan_updates``
and the grouped SQL over them on both backends."""

import json
import os

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._compliance import reads as compliance_reads
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.reads import (
    _FLAGS_SQL,
    _JOIN,
    Scratch,
    evaluate_store,
)
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.update_sets import (
    all_updates,
    parse_update_sets,
)
from ansible_collections.patchwave.windows.plugins.module_utils._scan.ingest import ingest
from ansible_collections.patchwave.windows.plugins.module_utils._scan.spool import write_message
from ansible_collections.patchwave.windows.plugins.module_utils._store import planes as _scan_bits
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_collections.patchwave.windows.plugins.module_utils._store.retention import prune_history
from ansible_collections.patchwave.windows.plugins.module_utils._store.schema import SCHEMA_VERSION

from tests.compliance_data import (
    NOW,
    Fleet,
    add_catalog,
    fleet_in_store,
    iso,
    planes_from_records,
    planes_of,
    scan_body,
    undo_migration_5,
)

# Overlapping sets, so that updates fall into several set masks.
SETS = [{"name": "critical", "severities": ["Critical"]},
        {"name": "serious", "severities": ["Critical", "Important"]},
        {"name": "few", "kbs": ["5000003", "5000004", "5000050", "5000100"]}]


def test_blobs_and_popcount():
    for number in (0, 1, 255, 256, (1 << 300) | (1 << 7), (1 << 4096) - 1):
        assert _scan_bits.from_blob(_scan_bits.to_blob(number)) == number
        assert _scan_bits.popcount(number) == bin(number).count("1") == _scan_bits._count_ones(number)
    assert _scan_bits.to_blob(0) == b"" and _scan_bits.from_blob(b"") == 0 and _scan_bits.from_blob(None) == 0
    assert _scan_bits.to_blob(1 << 8) == b"\x00\x01"  # little-endian
    for ordinals in ([], [0], [7, 8, 9], [4095, 3, 64], range(0, 5000, 7)):
        assert _scan_bits.bits_of(iter(ordinals)) == sum(1 << n for n in set(ordinals))


def write_records(spool, host, records, version=3):
    """A hand-made version 2 scan message (records as given, e.g. a repeated id or a null restart)."""
    body = scan_body({}, iso(NOW), {}, scan_id="hand-%s" % host)
    del body["updates"]
    body["records"] = records
    message = {"message_version": 2, "message_id": "m-%s" % host, "host": host, "kind": "scan", "created": iso(NOW),
               "catalog_version": version, "forced": False, "controller": "test", "body": body}
    os.makedirs(spool, exist_ok=True)
    with open(os.path.join(spool, "%s~m-%s.json" % (host, host)), "w", encoding="utf-8") as handle:
        json.dump(message, handle)


def test_ingest_numbers_ids_once_and_stores_planes_like_the_records(store_address, tmp_path):
    store = open_store(store_address)
    try:
        spool = str(tmp_path / "spool")
        write_records(spool, "h1", [["AAAA", 1, True, False, True, None], ["bbbb", 1, False, True, False, False],
                                    ["aaaa", 2, False, False, False, False]])  # repeated (case aside): first wins
        assert ingest(store, spool)["ingested"] == 1
        first = {r["update_id"]: r["ordinal"] for r in store.query("SELECT * FROM update_ordinals")}
        assert sorted(first) == ["aaaa", "bbbb"] and sorted(first.values()) == [0, 1]
        write_records(spool, "h2", [["cccc", 1, True, False, True, True], ["bbbb", 1, True, False, True, True]])
        write_records(spool, "h3", [])
        assert ingest(store, spool)["ingested"] == 2
        now = {r["update_id"]: r["ordinal"] for r in store.query("SELECT * FROM update_ordinals")}
        assert now == dict(first, cccc=2)  # earlier numbers never change
        assert planes_of(store) == planes_from_records(store)
        h1 = store.query("SELECT scan_pk FROM scans WHERE host_name = 'h1'")[0]["scan_pk"]
        assert planes_of(store)[h1] == {"returned": {"aaaa", "bbbb"}, "installed": {"aaaa"}, "hidden": {"bbbb"},
                                        "reboot": set()}
        assert len(planes_of(store)) == 3  # the empty scan has (empty) planes too
    finally:
        store.close()


def test_both_ways_of_building_planes_agree(store_address, tmp_path, monkeypatch):
    """Past SUM_UP_TO ordinals, planes are filled byte-wise instead of summed: same planes (and
    written a few scans at a time)."""
    monkeypatch.setattr(_scan_bits, "SUM_UP_TO", 0)
    monkeypatch.setattr(_scan_bits, "_FLUSH_EVERY", 3)
    with fleet_in_store(store_address, str(tmp_path / "spool"), updates=60, hosts=12, seeds=(8, 9)) as opened:
        store = opened[0]
        assert planes_of(store) == planes_from_records(store)
        assert len(planes_of(store)) >= 10


@pytest.fixture
def fleet_store(store_address, tmp_path):
    with fleet_in_store(store_address, str(tmp_path / "spool"), hosts=50, seeds=(3, 4)) as opened:
        store, _fleet, hosts, counts = opened
        assert counts["ingested"] > 50
        yield store, hosts


def groups_both_ways(store, extra=None):
    """(grouped SQL over the records, groups from the planes) for every successful scan and the sets
    (``extra``: more update ids, with a set bit of their own, catalog or not)."""
    sets = [all_updates()] + parse_update_sets(SETS)
    from ansible_collections.patchwave.windows.plugins.module_utils._compliance.update_sets import resolve
    masks = {}
    for index, update_set in enumerate(sets):
        for uid in resolve(store, update_set):
            masks[uid] = masks.get(uid, 0) | (1 << index)
    for uid in extra or ():
        masks[uid] = masks.get(uid, 0) | (1 << len(sets))
    scans = [(r["scan_pk"], r["catalog_version"], True)
             for r in store.query("SELECT scan_pk, catalog_version FROM scans WHERE succeeded = 1")]
    with store.transaction() as cursor:
        scratch = Scratch(store, cursor)
        try:
            scratch.load_scans(scans)
            scratch.load_sets(masks)
            by_sql = scratch.rows("SELECT su.scan_pk, st.mask, %s, count(*) %s GROUP BY 1, 2, 3" % (_FLAGS_SQL, _JOIN))
            by_bits = scratch.flag_groups({pk: version for pk, version, _usable in scans})
        finally:
            scratch.close()
    return sorted(map(tuple, by_sql)), sorted(map(tuple, by_bits))


def test_flag_groups_from_planes_equal_the_grouped_records(fleet_store, monkeypatch):
    store, _hosts = fleet_store
    by_sql, by_bits = groups_both_ways(store)
    assert by_bits == by_sql
    monkeypatch.setattr(compliance_reads, "_PLANES_CHUNK", 7)  # many chunks of planes
    assert groups_both_ways(store)[1] == by_sql
    # The data exercises every flag and several set masks.
    assert {flags & bit for _pk, _mask, flags, _n in by_sql for bit in (1, 2, 4, 8)} == {0, 1, 2, 4, 8}
    assert len({mask for _pk, mask, _flags, _n in by_sql}) >= 3


def test_flag_groups_cover_nulls_odd_ids_and_scans_without_planes(store_address, tmp_path):
    """What the generated fleet never has: no catalog version, no restart flag, ids in upper case,
    a set id outside the catalog, and a scan whose planes are missing (stored by older code)."""
    from tests.compliance_data import update_id
    outside = "0ddba11-0000-0000-0000-00000000beef"
    store = open_store(store_address)
    try:
        add_catalog(store, 30)  # ids 0..9 first in version 1, 10..19 in 2, 20..29 in 3
        spool = str(tmp_path / "spool")
        write_records(spool, "noversion", [[update_id(1), 1, True, False, True, None],
                                           [update_id(25), 1, False, False, False, None],
                                           [outside.upper(), 1, False, True, False, None]], version=None)
        write_records(spool, "older", [[update_id(2).upper(), 1, True, False, True, True],
                                       [update_id(15), 1, True, False, True, None],
                                       [update_id(26), 1, False, True, False, False]], version=1)
        write_records(spool, "current", [[update_id(n), 1, n % 2 == 0, n % 5 == 0, True, n % 4 == 0 or None]
                                         for n in range(0, 30, 3)], version=3)
        assert ingest(store, spool)["ingested"] == 3
        extra = [outside, update_id(2), update_id(26)]
        by_sql, by_bits = groups_both_ways(store, extra)
        assert by_bits == by_sql
        assert {flags & 8 for _pk, _mask, flags, _n in by_sql} == {0, 8}
        older = store.query("SELECT scan_pk FROM scans WHERE host_name = 'older'")[0]["scan_pk"]
        with store.transaction() as cursor:
            cursor.execute("DELETE FROM scan_bits WHERE scan_pk = ?", (older,))
        assert groups_both_ways(store, extra) == (by_sql, by_sql)
    finally:
        store.close()


def test_migration_4_computes_the_planes_of_stored_scans(fleet_store, store_address):
    store, hosts = fleet_store
    sets = [all_updates()] + parse_update_sets(SETS)
    before = evaluate_store(store, sets, hosts=hosts, now=NOW)
    truth = planes_from_records(store)
    # The store as schema 3 left it: records, no ordinals, no planes.
    with store.transaction() as cursor:
        undo_migration_5(cursor)
        cursor.execute("DROP TABLE scan_bits")
        cursor.execute("DROP TABLE update_ordinals")
        cursor.execute("UPDATE schema_info SET version = 3")
    store.close()
    migrated = open_store(store_address)
    try:
        assert migrated.schema_version() == SCHEMA_VERSION
        assert planes_of(migrated) == truth
        after = evaluate_store(migrated, sets, hosts=hosts, now=NOW)
        for name, result in before.sets.items():
            assert after.sets[name].host_counts == result.host_counts, name
            assert after.sets[name].update_counts == result.update_counts, name
        by_sql, by_bits = groups_both_ways(migrated)
        assert by_bits == by_sql
    finally:
        migrated.close()


def test_planes_exist_for_successful_scans_only_and_go_with_pruning(store_address, tmp_path):
    import datetime
    store = open_store(store_address)
    try:
        fleet = Fleet(add_catalog(store, 10), seed=6)
        spool = str(tmp_path / "spool")
        for days in (60, 50, 1):
            fleet.add_scan(spool, "h1", NOW - datetime.timedelta(days=days), 3)
        fleet.add_scan(spool, "h2", NOW, 3, succeeded=False)
        write_message(spool, "h3", "scan_failure", {"error": "host unreachable", "server_selection": "default"})
        assert ingest(store, spool)["ingested"] == 5
        with_planes = "SELECT scan_pk FROM scans WHERE scan_pk IN (SELECT scan_pk FROM scan_bits) ORDER BY scan_pk"
        assert store.query(with_planes) == store.query("SELECT scan_pk FROM scans WHERE host_name = 'h1' "
                                                       "ORDER BY scan_pk")
        assert prune_history(store, 30, now=NOW) == 2
        assert store.query("SELECT scan_pk FROM scan_bits") == store.query(with_planes)
        assert len(store.query(with_planes)) == 1
    finally:
        store.close()
