"""Readers do not write: a compliance read takes no write lock on SQLite, and on PostgreSQL a role
with SELECT on the store (and TEMP, which PUBLIC has by default) runs every read that
compliance_info, compliance_report and the compliance inventory plugin make. A reader that finds an
older schema it may not migrate says so."""

import contextlib
import datetime
import json
import sqlite3
import uuid

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.query import superseded_ids
from ansible_collections.patchwave.windows.plugins.module_utils._compliance import rules as c
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
    all_updates,
    parse_update_sets,
)
from ansible_collections.patchwave.windows.plugins.module_utils._scan.ingest import ingest
from ansible_collections.patchwave.windows.plugins.module_utils._scan.previous import last_good_scan
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_collections.patchwave.windows.plugins.module_utils._store.errors import StoreError
from ansible_collections.patchwave.windows.plugins.module_utils._store.schema import SCHEMA_VERSION

from tests.compliance_data import NOW, fleet_in_store, undo_migration_5

SETS = [all_updates()] + parse_update_sets([{"name": "critical", "severities": ["Critical"]}])

# What ingest writes (docs/compliance.md, "Store roles"): a role that also moves state messages in.
INGEST_GRANTS = ("GRANT INSERT, UPDATE ON hosts TO {role}",
                 "GRANT INSERT, DELETE ON scans, scan_updates, scan_bits TO {role}",
                 "GRANT INSERT ON update_ordinals, message_quarantine TO {role}",
                 "GRANT INSERT, DELETE ON scan_attempts, enforcement_states TO {role}")


def everything_a_reader_reads(store, spool, hosts):
    """What compliance_info (details, per update), compliance_report (history) and the inventory plugin
    (read_rows + evaluate_rows) read, as plain data to compare."""
    counts = ingest(store, spool)
    evaluation = evaluate_store(store, SETS, hosts=hosts, now=NOW, per_update=True, required=True)
    result = evaluation.sets["all"]
    superseded = superseded_ids(store, result.update_ids)
    pairs = [host_pairs(store, evaluation.hosts[h], result.update_ids, result.updates, superseded) for h in hosts[:5]]
    report = report_data(evaluation, {"all": history(store, SETS, days=10, now=NOW)["all"]})
    rows = json.loads(json.dumps(read_rows(store, SETS, now=NOW)))
    inventory = evaluate_rows(rows, now=NOW)
    return {"ingested": counts, "report": json.loads(json.dumps(report, sort_keys=True)), "pairs": pairs,
            "inventory": {h: inventory.sets["critical"].host_compliance[h] for h in inventory.hosts},
            "statuses": {h: s.status for h, s in load_host_statuses(store, hosts, NOW).items()},
            "last_good": last_good_scan(store, hosts[-1])}


def test_a_read_takes_no_write_lock_on_sqlite(tmp_path):
    """While read_rows and history are inside their read, another connection can begin a write
    transaction and commit (a writer, or another reader's ingest, goes on)."""
    address = str(tmp_path / "store.db")
    with fleet_in_store(address, str(tmp_path / "spool"), updates=40, hosts=20) as (store, _fleet, hosts, _counts):
        expected = evaluate_store(store, SETS, hosts=hosts, now=NOW)
        writes = []
        original = store.copy_rows

        def copy_rows_then_write(cursor, table, columns, rows):
            number = original(cursor, table, columns, rows)  # the read's scratch tables are being filled
            other = sqlite3.connect(address, timeout=0, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("INSERT INTO hosts (host_name, first_seen, last_message_at) VALUES (?, ?, ?)",
                              ("written-%d" % len(writes), "2026-11-23T00:00:00Z", "2026-11-23T00:00:00Z"))
                other.execute("COMMIT")
                writes.append(table)
            finally:
                other.close()
            return number

        store.copy_rows = copy_rows_then_write
        during = evaluate_store(store, SETS, hosts=hosts, now=NOW)
        history(store, SETS, days=3, now=NOW)
        del store.copy_rows
        assert len(writes) == 4  # two scratch tables each for the read and the history
        for name, result in expected.sets.items():
            assert during.sets[name].host_counts == result.host_counts
            assert during.sets[name].update_counts == result.update_counts
        assert {r["host_name"] for r in store.query("SELECT host_name FROM hosts WHERE host_name LIKE 'written-%'")} \
            == {"written-%d" % n for n in range(4)}
        assert not store.connection.in_transaction  # the read left nothing open


@contextlib.contextmanager
def role(server, database_dsn, grants=()):
    """A login role granted SELECT on every table of the store (and what ``grants`` adds; TEMP it has
    from PUBLIC); yields its DSN for ``database_dsn``. Dropped afterwards."""
    import psycopg
    name = "reader_%s" % uuid.uuid4().hex[:10]
    password = "pw-%s" % uuid.uuid4().hex[:10]
    with psycopg.connect(database_dsn, autocommit=True) as connection:
        connection.execute("CREATE ROLE %s LOGIN PASSWORD '%s'" % (name, password))
        connection.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO %s" % name)
        # tables a later migration creates (as docs/compliance.md advises)
        connection.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO %s" % name)
        for grant in grants:
            connection.execute(grant.format(role=name))
    base, database = database_dsn.rsplit("/", 1)
    try:
        yield "postgresql://%s:%s@%s/%s" % (name, password, base.rsplit("@", 1)[1], database)
    finally:
        server.drop_database(database_dsn)
        server.admin("DROP ROLE %s" % name)


def test_a_role_with_select_only_runs_every_read_on_postgresql(postgres_server, tmp_path):
    dsn = postgres_server.new_database("r")
    spool = str(tmp_path / "spool")
    with fleet_in_store(dsn, spool, updates=60, hosts=30) as (store, _fleet, hosts, _counts):
        as_owner = everything_a_reader_reads(store, spool, hosts)
    assert as_owner["ingested"]["ingested"] == 0 and as_owner["report"]["sets"]["all"]["top_required"]
    with role(postgres_server, dsn) as reader_dsn:
        reader = open_store(reader_dsn)
        try:
            assert everything_a_reader_reads(reader, spool, hosts) == as_owner
            with pytest.raises(StoreError, match="permission denied"):
                with reader.transaction() as cursor:  # the role really cannot write
                    cursor.execute("DELETE FROM hosts")
        finally:
            reader.close()


def test_a_role_with_select_and_ingest_grants_moves_messages_in_on_postgresql(postgres_server, tmp_path):
    dsn = postgres_server.new_database("r")
    spool = str(tmp_path / "spool")
    with fleet_in_store(dsn, spool, updates=30, hosts=10) as (_store, fleet, hosts, _counts):
        with role(postgres_server, dsn, INGEST_GRANTS) as reader_dsn:
            reader = open_store(reader_dsn)
            try:
                fleet.add_scan(spool, hosts[0], NOW - datetime.timedelta(minutes=5), 3)
                with open("%s/%s~corrupt.json" % (spool, hosts[1]), "w", encoding="utf-8") as handle:
                    handle.write("{not json")
                counts = ingest(reader, spool, env={"PATCHWAVE_HISTORY_DAYS": "1"})
                assert (counts["ingested"], counts["quarantined"]) == (1, 1) and counts["pruned"] > 0
                statuses = load_host_statuses(reader, hosts[:2], NOW)
                assert statuses[hosts[0]].status == c.USABLE and statuses[hosts[1]].status == c.CORRUPT_MESSAGE
            finally:
                reader.close()


def test_a_reader_that_may_not_migrate_says_what_it_found_and_what_migrates(postgres_server, tmp_path):
    dsn = postgres_server.new_database("r")
    with fleet_in_store(dsn, str(tmp_path / "spool"), updates=10, hosts=5) as (store, _fleet, _hosts, _counts):
        with store.transaction() as cursor:
            undo_migration_5(cursor)
    with role(postgres_server, dsn) as reader_dsn:
        with pytest.raises(StoreError) as info:
            open_store(reader_dsn)
        message = str(info.value)
        assert "schema version 4 and this collection needs %d" % SCHEMA_VERSION in message
        assert "One run of any patchwave.windows writer" in message and "allowed to create and alter" in message
        assert "must be owner" in message and reader_dsn.split(":")[2].split("@")[0] not in message  # no password
        owner = open_store(dsn)  # a role allowed DDL migrates it ...
        try:
            assert owner.schema_version() == SCHEMA_VERSION
        finally:
            owner.close()
        reader = open_store(reader_dsn)  # ... and the reader reads
        try:
            assert reader.schema_version() == SCHEMA_VERSION
            assert load_host_statuses(reader, None, NOW)
        finally:
            reader.close()


def test_a_sqlite_store_that_cannot_be_written_is_not_migrated_and_says_why(tmp_path, monkeypatch):
    """SQLite has no roles: a reader that cannot write the file (a read-only copy or mount) gets the
    same message when the schema is older."""
    from ansible_collections.patchwave.windows.plugins.module_utils._store import sqlite as sqlite_backend
    address = str(tmp_path / "store.db")
    with fleet_in_store(address, str(tmp_path / "spool"), updates=10, hosts=5) as (store, _fleet, _hosts, _counts):
        with store.transaction() as cursor:
            undo_migration_5(cursor)

    def read_only(*_arguments):
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(sqlite_backend, "apply_migrations", read_only)
    with pytest.raises(StoreError, match="schema version 4 and this collection needs %d, but this connection may not "
                                         "migrate it \\(attempt to write a readonly database\\)" % SCHEMA_VERSION):
        open_store(address)
    monkeypatch.undo()
    migrated = open_store(address)
    assert migrated.schema_version() == SCHEMA_VERSION
    migrated.close()
