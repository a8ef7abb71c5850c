"""The store's two backends, SQLite and PostgreSQL, behind one interface: every test that takes
``store_address`` runs on both (conftest starts a private PostgreSQL server for the second)."""

import contextlib
import multiprocessing
import os
import shutil
import uuid

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.query import (
    UpdateFilter,
    describe_updates,
    select_update_ids,
    validate_filter,
)
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.sync import SyncOptions, sync_records
from ansible_collections.patchwave.windows.plugins.module_utils._scan.ingest import ingest
from ansible_collections.patchwave.windows.plugins.module_utils._scan.previous import last_good_scan
from ansible_collections.patchwave.windows.plugins.module_utils._scan.spool import (
    QUARANTINE,
    pending_files,
    write_message,
)
from ansible_collections.patchwave.windows.plugins.module_utils._store.address import redact
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_collections.patchwave.windows.plugins.module_utils._store.errors import StoreError
from ansible_collections.patchwave.windows.plugins.module_utils._store.postgresql import postgresql_sql
from ansible_collections.patchwave.windows.plugins.module_utils._store.schema import MIGRATIONS, SCHEMA_VERSION

from tests.catalog_gen import generate
from tests.catalog_gen.store import sync_file
from tests.compliance_data import planes_from_records, planes_of

TABLES = ("catalog_versions", "updates", "update_titles", "update_kbs", "update_categories", "update_prerequisites",
          "update_bundles", "update_supersedence", "files", "file_urls", "update_files", "hosts", "scans",
          "scan_updates", "message_quarantine", "update_ordinals", "scan_bits", "enforcement_states", "waves",
          "wave_hosts", "wave_events")


@contextlib.contextmanager
def fresh_database(postgres_dsn):
    """The DSN of a new, empty database on the test server; dropped afterwards."""
    import psycopg

    base = postgres_dsn.rsplit("/", 1)[0]
    name = "t_%s" % uuid.uuid4().hex[:16]
    with psycopg.connect(base + "/postgres", autocommit=True) as connection:
        connection.execute("CREATE DATABASE %s" % name)
    try:
        yield base + "/" + name
    finally:
        with psycopg.connect(base + "/postgres", autocommit=True) as connection:
            connection.execute("DROP DATABASE %s WITH (FORCE)" % name)


def backend_of(address):
    return "postgresql" if address.startswith("postgresql://") else "sqlite"


@pytest.fixture
def store(store_address):
    opened = open_store(store_address)
    yield opened
    opened.close()


def count(store, table, where=""):
    return store.query("SELECT count(*) AS n FROM %s %s" % (table, where))[0]["n"]


# -- SQL translation (no database) ---------------------------------------------------------------
def test_placeholders_and_percent_are_translated_outside_quotes():
    assert postgresql_sql("SELECT a FROM t WHERE b = ? AND c LIKE 'x%' AND d = '?' AND e = ?") == \
        "SELECT a FROM t WHERE b = %s AND c LIKE 'x%%' AND d = '?' AND e = %s"
    assert postgresql_sql('SELECT "we?ird" FROM t WHERE a = ?') == 'SELECT "we?ird" FROM t WHERE a = %s'
    assert postgresql_sql("SELECT 'it''s ?' || ?") == "SELECT 'it''s ?' || %s"


def test_ddl_is_translated_for_postgresql():
    assert postgresql_sql("CREATE TABLE t (a INTEGER PRIMARY KEY, b BIGINT) WITHOUT ROWID") == \
        "CREATE TABLE t (a BIGINT PRIMARY KEY, b BIGINT)"
    assert postgresql_sql("ALTER TABLE scan_updates ADD COLUMN reboot_required INTEGER") == \
        "ALTER TABLE scan_updates ADD COLUMN reboot_required BIGINT"
    assert postgresql_sql("CREATE TEMP TABLE s (x INTEGER)") == "CREATE TEMP TABLE s (x BIGINT)"
    assert postgresql_sql("CREATE TABLE b (k INTEGER PRIMARY KEY, bits BLOB NOT NULL)") == \
        "CREATE TABLE b (k BIGINT PRIMARY KEY, bits BYTEA NOT NULL)"
    assert postgresql_sql("CREATE INDEX temp.s_ix ON s (x)") == "CREATE INDEX s_ix ON s (x)"
    assert postgresql_sql("DROP TABLE IF EXISTS temp.s_updates") == "DROP TABLE IF EXISTS pg_temp.s_updates"
    # Queries keep INTEGER (a cast, say) as written.
    assert postgresql_sql("SELECT CAST(? AS INTEGER)") == "SELECT CAST(%s AS INTEGER)"


def test_every_migration_statement_translates():
    for steps in MIGRATIONS.values():
        for statement in (step for step in steps if not callable(step)):  # data steps are Python
            translated = postgresql_sql(statement.replace("{without_rowid}", ""))
            assert "WITHOUT ROWID" not in translated and " INTEGER" not in translated.upper().replace("BIGINT", "")
            assert "BLOB" not in translated.upper()


def test_redact_removes_passwords():
    assert redact("postgresql://me:s3cret@db.example:5432/pw") == "postgresql://me@db.example:5432/pw"
    assert redact("postgresql://db.example/pw?sslmode=verify-full&password=s3cret") == \
        "postgresql://db.example/pw?sslmode=verify-full"
    assert redact("postgresql://me@db.example/pw?password=s3cret&sslmode=require") == \
        "postgresql://me@db.example/pw?sslmode=require"
    assert redact("/srv/patchwave.db") == "/srv/patchwave.db"


# -- the interface on both backends --------------------------------------------------------------
def test_migration_from_empty(store_address):
    store = open_store(store_address)
    try:
        assert store.backend == backend_of(store_address)
        assert store.placeholder == "?"
        assert store.schema_version() == SCHEMA_VERSION
        for table in TABLES:
            assert count(store, table) == 0
    finally:
        store.close()
    again = open_store(store_address)  # already current: nothing to do
    assert again.schema_version() == SCHEMA_VERSION
    again.close()


def test_newer_schema_is_refused(store_address):
    store = open_store(store_address)
    with store.transaction() as cursor:
        cursor.execute("UPDATE schema_info SET version = ?", (SCHEMA_VERSION + 7,))
    store.close()
    with pytest.raises(StoreError, match="schema version %d, newer" % (SCHEMA_VERSION + 7)):
        open_store(store_address)


def test_large_integers_fit_every_integer_column(store):
    hresult = 0x80070005  # 2147942405, more than a 32-bit integer holds
    with store.transaction() as cursor:
        cursor.execute("INSERT INTO scans (scan_pk, message_id, host_name, forced, finished, succeeded, result_code, "
                       "hresult, source, ingested_at) VALUES (?, ?, ?, 0, ?, 0, ?, ?, 'test', ?)",
                       (5000000000, "m1", "win01", "2026-11-23T00:00:00Z", hresult, hresult, "2026-11-23T00:00:00Z"))
        cursor.execute("INSERT INTO scan_updates (scan_pk, update_id, revision_number, installed, hidden, downloaded) "
                       "VALUES (?, ?, ?, 0, 0, 0)", (5000000000, "u1", hresult))
    assert store.query("SELECT scan_pk, result_code, hresult FROM scans") == [
        {"scan_pk": 5000000000, "result_code": hresult, "hresult": hresult}]
    assert store.query("SELECT revision_number FROM scan_updates")[0]["revision_number"] == hresult


def test_transaction_rollback_leaves_nothing(store):
    with pytest.raises(RuntimeError):
        with store.transaction() as cursor:
            cursor.execute("INSERT INTO hosts (host_name, first_seen, last_message_at) VALUES (?, ?, ?)",
                           ("win01", "a", "b"))
            raise RuntimeError("boom")
    assert count(store, "hosts") == 0
    # A failing statement: the error comes out and the transaction is gone, with what came before it.
    with pytest.raises(Exception, match="(?i)unique|constraint|duplicate"):
        with store.transaction() as cursor:
            cursor.execute("INSERT INTO hosts (host_name, first_seen, last_message_at) VALUES (?, ?, ?)",
                           ("win02", "a", "b"))
            cursor.execute("INSERT INTO hosts (host_name, first_seen, last_message_at) VALUES (?, ?, ?)",
                           ("win02", "a", "b"))
    assert count(store, "hosts") == 0
    with store.transaction() as cursor:  # the store is usable afterwards
        cursor.execute("INSERT INTO hosts (host_name, first_seen, last_message_at) VALUES (?, ?, ?)", ("w", "a", "b"))
    assert count(store, "hosts") == 1


def test_rollback_to_clean_discards_and_continues(store):
    with store.transaction() as cursor:
        cursor.execute("INSERT INTO hosts (host_name, first_seen, last_message_at) VALUES ('gone', 'a', 'b')")
        store.rollback_to_clean(cursor)
        cursor.execute("INSERT INTO hosts (host_name, first_seen, last_message_at) VALUES ('kept', 'a', 'b')")
    assert store.query("SELECT host_name FROM hosts") == [{"host_name": "kept"}]


def test_query_temp_table_and_like_with_literal_percent(store):
    with store.transaction() as cursor:
        cursor.execute("DROP TABLE IF EXISTS temp.s_names")
        cursor.execute(store.temp_table("s_names", "name TEXT PRIMARY KEY, size INTEGER", keyed=True))
        cursor.executemany("INSERT INTO s_names VALUES (?, ?)",
                           [("100% done", 1), ("100 percent", 2), ("50%_off", 3), ("50xoff", 2 ** 40)])
        cursor.execute("CREATE INDEX temp.s_names_size_ix ON s_names (size)")
        literal = cursor.execute("SELECT name FROM s_names WHERE name LIKE '100%' ORDER BY name").fetchall()
        assert [r[0] for r in literal] == ["100 percent", "100% done"]
        escaped = cursor.execute("SELECT name FROM s_names WHERE lower(name) LIKE ? ESCAPE '\\' ORDER BY name",
                                 ("%\\%\\_%",)).fetchall()
        assert escaped == [("50%_off",)]
        question = cursor.execute("SELECT count(*) FROM s_names WHERE name <> '?' AND size >= ?", (2,)).fetchone()
        assert question[0] == 3
        changed = cursor.execute("UPDATE s_names SET size = size + 1 WHERE size < ?", (3,)).rowcount
        assert changed == 2
        cursor.execute("INSERT INTO hosts (host_name, first_seen, last_message_at) SELECT name, 'a', 'b' FROM s_names "
                       "WHERE size > 1000")
    assert store.query("SELECT host_name FROM hosts WHERE host_name LIKE ?", ("50%",)) == [{"host_name": "50xoff"}]


def test_copy_rows(store):
    rows = [("win%03d" % n, "2026-11-%02dT00:00:00Z" % (1 + n % 28), None if n % 2 else "x\ty\n\\z")
            for n in range(500)]
    with store.transaction() as cursor:
        assert store.copy_rows(cursor, "message_quarantine",
                               ("message_file", "reason", "quarantined_at", "host_name"),
                               ((r[0], "bad", r[1], r[2]) for r in rows)) == 500
        store.lock_for_ingest(cursor)
    assert count(store, "message_quarantine") == 500
    assert store.query("SELECT host_name FROM message_quarantine WHERE message_file = 'win000'") == [
        {"host_name": "x\ty\n\\z"}]
    assert count(store, "message_quarantine", "WHERE host_name IS NULL") == 250
    with pytest.raises(ValueError):
        with store.transaction() as cursor:
            store.copy_rows(cursor, "hosts; DROP TABLE scans", ("host_name",), [("a",)])


# -- catalog sync and queries on both backends ---------------------------------------------------
@pytest.fixture(scope="module")
def generated_catalog(tmp_path_factory):
    folder = tmp_path_factory.mktemp("backends")
    cab = str(folder / "wsusscn2.cab")
    manifest = generate("offline_scan", cab, updates=1200, seed=5, languages=("en", "de"))
    return cab, manifest


def sync_generated(store, cab, **extra):
    return sync_file(store, cab, languages=("en", "de"), **extra)


FILTERS = [
    {},
    {"superseded": True},
    {"superseded": False},
    {"title": "*Cumulative Update for Windows Server 2022*"},
    {"title": "cumulative update"},
    {"title": "100%"},
    {"severities": ("Critical", "Important")},
    {"released_after": "2026-11-01", "released_before": "2026-11-30"},
    {"classifications": ("Security Updates",)},
    {"kinds": ("software", "driver"), "include_expired": True, "include_bundle_members": True},
    {"kinds": ("software", "driver", "category", "detectoid"), "include_expired": True},
]


def catalog_answers(store, manifest):
    answers = []
    for criteria in FILTERS:
        found, unknown = select_update_ids(store, validate_filter(UpdateFilter(**criteria)))
        answers.append((found, unknown))
    product, update_ids = sorted(manifest["latest_cu_by_product"].items())[0]
    answers.append(select_update_ids(store, validate_filter(UpdateFilter(products=(product,)))))
    chain = manifest["supersedence_chain"]["update_ids"]
    answers.append(describe_updates(store, chain + update_ids[:3], languages=("en", "de")))
    answers.append(store.query("SELECT * FROM updates ORDER BY update_id"))
    answers.append(store.query("SELECT * FROM files ORDER BY file_id"))
    return answers


def test_catalog_sync_on_both_backends_gives_the_same_answers(generated_catalog, postgres_dsn, tmp_path):
    cab, manifest = generated_catalog
    with fresh_database(postgres_dsn) as dsn:
        stores = {"sqlite": open_store(str(tmp_path / "s.db")), "postgresql": open_store(dsn)}
        try:
            answers = {}
            for backend, store in stores.items():
                first = sync_generated(store, cab)
                assert first["changed"] is True and first["catalog_version"] == 1, backend
                again = sync_generated(store, cab)
                assert again["changed"] is False and again["catalog_version"] == 1, backend
                assert count(store, "catalog_versions") == 1
                checked = sync_generated(store, cab, check_mode=True, expire_superseded_days=0)
                assert checked["changed"] is True and count(store, "catalog_versions") == 1, backend
                answers[backend] = catalog_answers(store, manifest)
                first["counts"].pop("by_kind")
                answers[backend].append(first["counts"])
            assert answers["postgresql"] == answers["sqlite"]
            assert answers["sqlite"][0][0] and answers["sqlite"][3][0]
            # A second version: expiry by supersedence changes updates on both alike.
            expired = {backend: sync_generated(store, cab, expire_superseded_days=0)
                       for backend, store in stores.items()}
            assert expired["postgresql"] == expired["sqlite"] and expired["sqlite"]["catalog_version"] == 2
            assert catalog_answers(stores["postgresql"], manifest) == catalog_answers(stores["sqlite"], manifest)
        finally:
            for store in stores.values():
                store.close()


def test_first_sync_rebuilds_the_secondary_indexes(store_address, generated_catalog):
    from ansible_collections.patchwave.windows.plugins.module_utils._store.schema import CATALOG_INDEXES

    store = open_store(store_address)
    try:
        sync_generated(store, generated_catalog[0])
        if store.backend == "sqlite":
            rows = store.query("SELECT name FROM sqlite_master WHERE type = 'index'")
        else:
            rows = store.query("SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema()")
        assert set(CATALOG_INDEXES) <= {r["name"] for r in rows}
    finally:
        store.close()


# -- state messages on both backends -------------------------------------------------------------
def scan_body(n=0, updates=1, result_code=2, finished="2026-11-23T10:00:00Z", duplicate=False):
    listed = [{
        "update_id": "00000000-0000-4000-8000-%012d" % (n * 100 + u), "revision_number": 200 + u,
        "title": "KB%d" % n, "kb_article_ids": [str(5000000 + n)], "is_installed": bool(u % 2), "is_hidden": False,
        "is_downloaded": False, "reboot_behavior": 1, "max_download_size": 1000, "msrc_severity": "Critical",
        "categories": [{"id": "f702a48c-919b-45d6-9aef-ca4248d50397", "name": "Windows Server 2019",
                        "type": "Product"}],
        "superseded_update_ids": []} for u in range(updates)]
    if duplicate and listed:
        listed.append(dict(listed[0], update_id=listed[0]["update_id"].upper(), revision_number=999))
    return {
        "scan_id": "scan-%d" % n, "mode": "online", "server_selection": "default",
        "started": "2026-11-23T09:59:00Z", "finished": finished, "result_code": result_code,
        "hresult": -2145107924 if result_code == 4 else None, "error": None, "wua_version": "10.0.20348.2849",
        "reboot_pending": False, "reboot_sources": [], "last_boot": "2026-11-01T00:00:00Z",
        "worker": "scheduled_task", "warnings": [], "updates": listed,
    }


def counted(counts):
    return {key: counts[key] for key in ("ingested", "duplicates", "quarantined")}


def test_state_messages_ingest_quarantine_and_idempotence(store, tmp_path):
    spool = str(tmp_path / "spool")
    kept = str(tmp_path / "kept")
    os.makedirs(kept)
    paths = [write_message(spool, "win01", "scan", scan_body(1, updates=3, duplicate=True,
                                                             finished="2026-11-20T00:00:00Z"), catalog_version=3),
             write_message(spool, "win01", "scan", scan_body(2, result_code=4, finished="2026-11-23T00:00:00Z")),
             write_message(spool, "win02", "scan_failure", {"error": "host unreachable", "hresult": 2147942405})]
    for path in paths:
        shutil.copy(path, kept)
    with open(os.path.join(spool, "win07~abc.json"), "w", encoding="utf-8") as handle:
        handle.write("{not json")
    assert counted(ingest(store, spool)) == {"ingested": 3, "duplicates": 0, "quarantined": 1}
    assert pending_files(spool) == [] and os.listdir(os.path.join(spool, QUARANTINE)) == ["win07~abc.json"]
    good = last_good_scan(store, "win01")
    assert good["finished"] == "2026-11-20T00:00:00Z" and good["catalog_version"] == 3
    assert last_good_scan(store, "win02") is None
    # The repeated update id in message 1 was stored once: the first listing wins.
    assert store.query("SELECT update_id, revision_number, installed FROM scan_updates ORDER BY update_id") == [
        {"update_id": "00000000-0000-4000-8000-000000000100", "revision_number": 200, "installed": 0},
        {"update_id": "00000000-0000-4000-8000-000000000101", "revision_number": 201, "installed": 1},
        {"update_id": "00000000-0000-4000-8000-000000000102", "revision_number": 202, "installed": 0}]
    assert store.query("SELECT hresult FROM scans WHERE host_name = 'win02'") == [{"hresult": 2147942405}]
    quarantined = store.query("SELECT host_name, succeeded, error FROM scans WHERE source = 'quarantine'")
    assert quarantined[0]["host_name"] == "win07" and "not valid JSON" in quarantined[0]["error"]
    for name in os.listdir(kept):
        shutil.copy(os.path.join(kept, name), spool)
    assert counted(ingest(store, spool)) == {"ingested": 0, "duplicates": 3, "quarantined": 0}
    assert count(store, "scans") == 4 and count(store, "scan_updates") == 3


def test_failed_ingest_loses_nothing(store, tmp_path):
    spool = str(tmp_path / "spool")
    write_message(spool, "win01", "scan", scan_body(1))
    with store.transaction() as cursor:
        cursor.execute("DROP TABLE scan_updates")
    with pytest.raises(Exception):
        ingest(store, spool)
    assert len(pending_files(spool)) == 1
    assert count(store, "scans") == 0


# -- PostgreSQL only ------------------------------------------------------------------------------
def run_to_the_end(processes):
    """Start every process, wait for each (3 minutes at most) and require a clean exit."""
    for process in processes:
        process.start()
    for process in processes:
        process.join(180)
        assert process.exitcode == 0


def _controller(dsn, spool, kept, index, messages, barrier):
    """One controller: its own spool and connection, writing and ingesting while the others do too."""
    store = open_store(dsn)
    barrier.wait(60)
    for n in range(messages):
        number = index * 1000 + n
        path = write_message(spool, "c%d-win%03d" % (index, n % 7), "scan",
                             scan_body(number, updates=n % 5, duplicate=n % 9 == 0))
        shutil.copy(path, kept)
        if n % 4 == 3:
            ingest(store, spool)
    ingest(store, spool)
    store.close()


def _reingest(dsn, spool, barrier):
    store = open_store(dsn)
    barrier.wait(60)
    counts = ingest(store, spool)
    store.close()
    assert counts["ingested"] == 0 and counts["duplicates"] > 0


def test_concurrent_ingest_from_several_controllers_into_one_postgresql_store(postgres_dsn, tmp_path):
    controllers, messages = 4, 50
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(controllers)
    spools = [str(tmp_path / ("spool%d" % i)) for i in range(controllers)]
    kept = [str(tmp_path / ("kept%d" % i)) for i in range(controllers)]
    for folder in kept:
        os.makedirs(folder)
    expected_updates = controllers * sum(n % 5 for n in range(messages))
    with fresh_database(postgres_dsn) as dsn:
        # No schema exists yet: the controllers also race to create it.
        processes = [context.Process(target=_controller, args=(dsn, spools[i], kept[i], i, messages, barrier))
                     for i in range(controllers)]
        run_to_the_end(processes)
        store = open_store(dsn)
        try:
            assert store.schema_version() == SCHEMA_VERSION
            assert count(store, "scans") == controllers * messages
            assert store.query("SELECT count(DISTINCT message_id) AS n, count(DISTINCT scan_pk) AS p, "
                               "min(scan_pk) AS lo, max(scan_pk) AS hi FROM scans")[0] == {
                "n": controllers * messages, "p": controllers * messages, "lo": 1, "hi": controllers * messages}
            assert count(store, "scan_updates") == expected_updates
            assert planes_of(store) == planes_from_records(store)  # ordinals numbered once, planes complete
            assert count(store, "hosts") == controllers * 7
            assert all(pending_files(spool) == [] for spool in spools)
            # The same messages again, into second spools, all at once: nothing is counted twice.
            again = [str(tmp_path / ("again%d" % i)) for i in range(controllers)]
            for source, target in zip(kept, again):
                shutil.copytree(source, target)
            processes = [context.Process(target=_reingest, args=(dsn, again[i], barrier)) for i in range(controllers)]
            run_to_the_end(processes)
            assert count(store, "scans") == controllers * messages
            assert count(store, "scan_updates") == expected_updates
            assert all(pending_files(spool) == [] for spool in again)
        finally:
            store.close()


def _syncer(dsn, source, barrier, results):
    store = open_store(dsn)
    barrier.wait(60)
    results.put(sync_file(store, source)["changed"])
    store.close()


def test_concurrent_catalog_syncs_into_one_postgresql_store_wait_for_each_other(postgres_dsn, tmp_path):
    """Over a catalog already stored, three controllers sync a newer one at once: the merges take
    turns, the first adds catalog version 2 and the others find nothing changed; none fails."""
    controllers = 3
    older, newer = str(tmp_path / "older.json"), str(tmp_path / "newer.json")
    generate("catalog_file", older, updates=1500, seed=5, languages=("en",))
    generate("catalog_file", newer, updates=1600, seed=6, languages=("en",))
    reference = open_store(str(tmp_path / "one.db"))  # the same two syncs, one after the other
    assert sync_file(reference, older)["changed"] and sync_file(reference, newer)["changed"]
    expected = store_counts(reference)
    reference.close()
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(controllers)
    results = context.Queue()
    with fresh_database(postgres_dsn) as dsn:
        store = open_store(dsn)
        try:
            assert sync_file(store, older)["catalog_version"] == 1
            processes = [context.Process(target=_syncer, args=(dsn, newer, barrier, results))
                         for _index in range(controllers)]
            run_to_the_end(processes)
            assert sorted(results.get(timeout=5) for _index in range(controllers)) == [False, False, True]
            assert count(store, "catalog_versions") == 2
            assert store_counts(store) == expected
        finally:
            store.close()


def store_counts(store):
    counts = {table: count(store, table) for table in ("updates", "update_supersedence", "files", "update_files")}
    counts["expired"] = count(store, "updates", "WHERE expired_version IS NOT NULL")
    return counts


def test_failed_statement_cannot_be_committed_on_postgresql(postgres_dsn):
    store = open_store(postgres_dsn)
    try:
        with pytest.raises(StoreError, match="rolled back"):
            with store.transaction() as cursor:
                cursor.execute("INSERT INTO hosts (host_name, first_seen, last_message_at) VALUES ('z', 'a', 'b')")
                try:
                    cursor.execute("SELECT * FROM no_such_table")
                except Exception:  # pylint: disable=broad-except
                    pass  # swallowing it does not make the transaction usable again
        assert count(store, "hosts", "WHERE host_name = 'z'") == 0
    finally:
        store.close()


def test_connection_errors_name_the_store_without_the_password(postgres_dsn):
    base, _database = postgres_dsn.rsplit("/", 1)
    password = base.rsplit("@", 1)[0].rsplit(":", 1)[1]
    wrong = base.replace(password, "Wr0ngPassw0rd-xyz") + "/patchwave"
    with pytest.raises(StoreError) as raised:
        open_store(wrong)
    text = str(raised.value)
    assert "Wr0ngPassw0rd-xyz" not in text and password not in text
    assert "password authentication failed" in text and redact(wrong) in text
    with pytest.raises(StoreError, match="does not exist") as raised:
        open_store(base + "/no_such_database")
    assert password not in str(raised.value)
    port = int(base.rsplit(":", 1)[1])
    with pytest.raises(StoreError, match="cannot be opened") as raised:
        open_store(postgres_dsn.replace(":%d/" % port, ":1/") + "?connect_timeout=5")
    assert password not in str(raised.value)
    with pytest.raises(StoreError) as raised:
        open_store("postgresql://me:s3cretpw@127.0.0.1:%d/patchwave?sslmode=bogus" % port)
    assert "s3cretpw" not in str(raised.value)


def test_updates_without_release_date_or_title_sort_alike(postgres_dsn, tmp_path):
    from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import CatalogUpdate

    records = [CatalogUpdate(update_id="00000000-0000-4000-8000-%012d" % n, revision_number=1,
                             titles={"en": title} if title else {}, release_date=date)
               for n, (title, date) in enumerate([("b", None), ("a", "2026-01-01"), ("B", "2026-01-01"),
                                                  (None, "2026-01-01")])]
    found = {}
    with fresh_database(postgres_dsn) as dsn:
        for address in (str(tmp_path / "s.db"), dsn):
            store = open_store(address)
            try:
                sync_records(store, records, SyncOptions(source="t", format="catalog_file"))
                found[store.backend] = select_update_ids(store, UpdateFilter())[0]
            finally:
                store.close()
    assert found["postgresql"] == found["sqlite"]
