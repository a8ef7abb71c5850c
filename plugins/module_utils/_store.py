# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""The store: where the collection keeps catalog versions, updates and (later) host state.

One interface, addressed the same way everywhere (option ``store``, else ``PATCHWAVE_STORE``,
else ``$XDG_DATA_HOME/patchwave/patchwave.db``). SQLite is the embedded backend; the schema uses
only types and statements PostgreSQL shares (TEXT, INTEGER/BIGINT, BLOB, ``ON CONFLICT``, ``EXCEPT``)
so a second backend can carry it without changing callers. SQL is written with ``?``
placeholders; a backend translates them if its driver needs another style.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sqlite3
import uuid
from urllib.parse import unquote

from ansible_collections.patchwave.windows.plugins.module_utils._scan_bits import backfill as backfill_scan_bits

SCHEMA_VERSION = 4

# Secondary indexes of the catalog tables. A first sync into an empty store drops and rebuilds them
# around its bulk copy (building an index once from the data is cheaper than growing it row by row).
CATALOG_INDEXES = {
    "updates_release_date": "CREATE INDEX updates_release_date ON updates (release_date)",
    "update_kbs_kb": "CREATE INDEX update_kbs_kb ON update_kbs (kb)",
    "update_categories_category": "CREATE INDEX update_categories_category ON update_categories (category_id)",
    "update_bundles_member": "CREATE INDEX update_bundles_member ON update_bundles (member_id)",
    "update_supersedence_superseded": "CREATE INDEX update_supersedence_superseded ON update_supersedence (superseded_id)",
    "update_files_file": "CREATE INDEX update_files_file ON update_files (file_id)",
}

# Each migration takes the store from version N-1 to N. Never edit a released migration: add one.
# {without_rowid} marks tables keyed by their primary key alone; SQLite stores them as one B-tree
# ("WITHOUT ROWID"), other backends drop the marker.
MIGRATIONS = {
    1: [
        """CREATE TABLE catalog_versions (
            version INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            source TEXT NOT NULL,
            format TEXT NOT NULL,
            source_path TEXT,
            source_sha256 TEXT,
            package_created TEXT,
            updates_added INTEGER NOT NULL,
            updates_modified INTEGER NOT NULL,
            updates_expired INTEGER NOT NULL,
            updates_total INTEGER NOT NULL
        )""",
        """CREATE TABLE updates (
            update_id TEXT PRIMARY KEY,
            revision_number INTEGER NOT NULL,
            source TEXT NOT NULL,
            kind TEXT NOT NULL,
            category_type TEXT,
            title TEXT,
            kb TEXT,
            msrc_severity TEXT,
            release_date TEXT,
            reboot_behavior TEXT,
            impact TEXT,
            max_download_size BIGINT,
            is_bundle INTEGER NOT NULL,
            explicitly_deployable INTEGER,
            support_url TEXT,
            default_language TEXT,
            security_bulletins TEXT,
            rules TEXT,
            digest TEXT NOT NULL,
            first_version INTEGER NOT NULL,
            changed_version INTEGER NOT NULL,
            expired_version INTEGER
        )""",
        CATALOG_INDEXES["updates_release_date"],
        """CREATE TABLE update_titles (
            update_id TEXT NOT NULL,
            language TEXT NOT NULL,
            title TEXT,
            description TEXT,
            PRIMARY KEY (update_id, language)
        ){without_rowid}""",
        """CREATE TABLE update_kbs (
            update_id TEXT NOT NULL,
            kb TEXT NOT NULL,
            PRIMARY KEY (update_id, kb)
        ){without_rowid}""",
        CATALOG_INDEXES["update_kbs_kb"],
        """CREATE TABLE update_categories (
            update_id TEXT NOT NULL,
            category_id TEXT NOT NULL,
            PRIMARY KEY (update_id, category_id)
        ){without_rowid}""",
        CATALOG_INDEXES["update_categories_category"],
        """CREATE TABLE update_prerequisites (
            update_id TEXT NOT NULL,
            clause INTEGER NOT NULL,
            prerequisite_id TEXT NOT NULL,
            PRIMARY KEY (update_id, clause, prerequisite_id)
        ){without_rowid}""",
        """CREATE TABLE update_bundles (
            bundle_id TEXT NOT NULL,
            member_id TEXT NOT NULL,
            PRIMARY KEY (bundle_id, member_id)
        ){without_rowid}""",
        CATALOG_INDEXES["update_bundles_member"],
        """CREATE TABLE update_supersedence (
            update_id TEXT NOT NULL,
            superseded_id TEXT NOT NULL,
            PRIMARY KEY (update_id, superseded_id)
        ){without_rowid}""",
        CATALOG_INDEXES["update_supersedence_superseded"],
        """CREATE TABLE files (
            file_id TEXT PRIMARY KEY,
            sha1 TEXT,
            sha256 TEXT,
            size BIGINT,
            modified TEXT
        ){without_rowid}""",
        """CREATE TABLE file_urls (
            file_id TEXT NOT NULL,
            url TEXT NOT NULL,
            PRIMARY KEY (file_id, url)
        ){without_rowid}""",
        """CREATE TABLE update_files (
            update_id TEXT NOT NULL,
            file_id TEXT NOT NULL,
            file_name TEXT NOT NULL,
            PRIMARY KEY (update_id, file_id)
        ){without_rowid}""",
        CATALOG_INDEXES["update_files_file"],
    ],
    2: [
        """CREATE TABLE hosts (
            host_name TEXT PRIMARY KEY,
            first_seen TEXT NOT NULL,
            last_message_at TEXT NOT NULL
        )""",
        """CREATE TABLE scans (
            scan_pk INTEGER PRIMARY KEY,
            message_id TEXT NOT NULL UNIQUE,
            host_name TEXT NOT NULL,
            scan_id TEXT,
            mode TEXT,
            server_selection TEXT,
            forced INTEGER NOT NULL,
            started TEXT,
            finished TEXT NOT NULL,
            succeeded INTEGER NOT NULL,
            result_code INTEGER,
            hresult BIGINT,
            error TEXT,
            catalog_version INTEGER,
            wua_version TEXT,
            reboot_pending INTEGER,
            reboot_sources TEXT,
            last_boot TEXT,
            source TEXT NOT NULL,
            controller TEXT,
            ingested_at TEXT NOT NULL
        )""",
        "CREATE INDEX scans_host_finished ON scans (host_name, finished)",
        """CREATE TABLE scan_updates (
            scan_pk INTEGER NOT NULL,
            update_id TEXT NOT NULL,
            revision_number INTEGER NOT NULL,
            installed INTEGER NOT NULL,
            hidden INTEGER NOT NULL,
            downloaded INTEGER NOT NULL,
            PRIMARY KEY (scan_pk, update_id)
        ){without_rowid}""",
        """CREATE TABLE message_quarantine (
            message_file TEXT PRIMARY KEY,
            host_name TEXT,
            reason TEXT NOT NULL,
            quarantined_at TEXT NOT NULL
        )""",
    ],
    3: [
        # IUpdate2.RebootRequired: installed, but the host must restart to finish (counts as Required).
        # NULL for messages that did not carry it.
        "ALTER TABLE scan_updates ADD COLUMN reboot_required INTEGER",
        # Compliance reads each host's newest scans; history is pruned by age.
        "CREATE INDEX scans_finished ON scans (finished)",
    ],
    4: [
        # Bit planes of each successful scan over stable update numbers (_scan_bits): per-set
        # summaries count them instead of joining every record to the set.
        """CREATE TABLE update_ordinals (
            ordinal INTEGER PRIMARY KEY,
            update_id TEXT NOT NULL UNIQUE
        )""",
        """CREATE TABLE scan_bits (
            scan_pk INTEGER PRIMARY KEY,
            returned BLOB NOT NULL,
            installed BLOB NOT NULL,
            hidden BLOB NOT NULL,
            reboot BLOB NOT NULL
        )""",
        backfill_scan_bits,  # the planes of the scans already stored
    ],
}


def _apply_migrations(store, cursor, current, without_rowid):
    """Take ``store`` from schema version ``current`` to SCHEMA_VERSION inside the caller's
    transaction; ``without_rowid`` is what the backend puts for the ``{without_rowid}`` marker."""
    if current == 0:
        cursor.execute("CREATE TABLE schema_info (version INTEGER NOT NULL)")
        cursor.execute("INSERT INTO schema_info (version) VALUES (0)")
    for version in range(current + 1, SCHEMA_VERSION + 1):
        for step in MIGRATIONS[version]:
            if callable(step):  # a data step, after the statements before it
                step(store, cursor)
            else:
                cursor.execute(step.replace("{without_rowid}", without_rowid))
        cursor.execute("UPDATE schema_info SET version = ?", (version,))


class StoreError(Exception):
    """The store cannot be opened or used; the message names the store and the cause."""


def default_data_dir(env=None):
    """``$XDG_DATA_HOME/patchwave`` (``~/.local/share/patchwave`` when unset)."""
    env = os.environ if env is None else env
    base = env.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "patchwave")


def resolve_store_address(store=None, env=None):
    """Return the store address: the option, else ``PATCHWAVE_STORE``, else the default file."""
    env = os.environ if env is None else env
    address = store or env.get("PATCHWAVE_STORE") or os.path.join(default_data_dir(env), "patchwave.db")
    return str(address)


def is_postgresql(address):
    return address.startswith(("postgresql://", "postgres://"))


def resolve_spool(spool=None, store=None, env=None):
    """Return the state-message spool folder for a store address (design.md §3)."""
    env = os.environ if env is None else env
    if spool or env.get("PATCHWAVE_SPOOL"):
        return str(spool or env.get("PATCHWAVE_SPOOL"))
    address = resolve_store_address(store, env)
    if is_postgresql(address):
        return os.path.join(default_data_dir(env), "spool")
    return os.path.join(os.path.dirname(os.path.abspath(address)), "spool")


def redact(address):
    """The address with any password removed, for messages."""
    if is_postgresql(address):
        address = re.sub(r"([?&])password=[^&]*&?", r"\1", address).rstrip("?&")
        if "@" in address:
            scheme, rest = address.split("://", 1)
            creds, host = rest.rsplit("@", 1)
            user = creds.split(":", 1)[0]
            return "%s://%s@%s" % (scheme, user, host)
    return address


class SQLiteStore:
    """The embedded backend: one SQLite file in WAL mode."""

    backend = "sqlite"
    placeholder = "?"

    def __init__(self, path, create=True):
        self.address = path
        self.path = os.path.abspath(os.path.expanduser(path))
        if not os.path.exists(self.path):
            if not create:
                raise StoreError("store '%s' does not exist" % self.path)
            directory = os.path.dirname(self.path)
            try:
                os.makedirs(directory, exist_ok=True)
            except OSError as exc:
                raise StoreError("store '%s': cannot create folder '%s': %s" % (self.path, directory, exc.strerror))
        try:
            self.connection = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute("PRAGMA synchronous=NORMAL")
            self.connection.execute("PRAGMA foreign_keys=ON")
            self.connection.execute("PRAGMA temp_store=FILE")
            self.connection.execute("PRAGMA cache_size=-16000")
            # Sync staging lives in TEMP tables; give them the same bounded cache as the main file.
            self.connection.execute("PRAGMA temp.cache_size=-16000")
        except sqlite3.DatabaseError as exc:
            raise StoreError("store '%s' cannot be opened: %s" % (self.path, exc))
        self._migrate()

    # -- transactions -------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self):
        """One write transaction: everything inside commits together or not at all."""
        cursor = self.connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            yield cursor
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        else:
            cursor.execute("COMMIT")

    def rollback_to_clean(self, cursor):
        """Discard everything done in the current transaction (check mode, no-op syncs)."""
        cursor.execute("ROLLBACK")
        cursor.execute("BEGIN IMMEDIATE")

    def query(self, sql, params=()):
        """Run a read query and return the rows as dicts."""
        cursor = self.connection.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def temp_table(self, name, columns, keyed=False):
        """DDL for a staging table that lives only as long as this connection."""
        return "CREATE TEMP TABLE %s (%s)%s" % (name, columns, " WITHOUT ROWID" if keyed else "")

    def analyze(self, cursor, table):
        """Planner statistics for a freshly filled staging table: SQLite plans joins well without."""

    def scratch_table(self, cursor, name, columns, keyed=False):
        """Create a working table for the current transaction's reads; return the name to use."""
        cursor.execute("DROP TABLE IF EXISTS temp.%s" % name)
        cursor.execute(self.temp_table(name, columns, keyed))
        return name

    def drop_scratch(self, cursor, name):
        cursor.execute("DROP TABLE IF EXISTS temp.%s" % name)

    def copy_rows(self, cursor, table, columns, rows):
        """Bulk-insert ``rows`` (tuples in ``columns`` order, any iterable) with the transaction's cursor;
        return the count."""
        sql = "INSERT INTO %s (%s) VALUES (%s)" % (_identifier(table), _column_list(columns), ", ".join("?" * len(columns)))
        return max(cursor.executemany(sql, rows).rowcount, 0)

    def lock_for_ingest(self, cursor):
        """Serialise state-message ingesters: BEGIN IMMEDIATE already admits one writer at a time."""

    def lock_for_sync(self, cursor):
        """Serialise catalog merges: BEGIN IMMEDIATE already admits one writer at a time."""

    def close(self):
        self.connection.close()

    # -- schema -------------------------------------------------------------------------------
    def schema_version(self):
        row = self.connection.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name='schema_info'").fetchone()
        if not row:
            return 0
        row = self.connection.execute("SELECT version FROM schema_info").fetchone()
        return row[0] if row else 0

    def _migrate(self):
        try:
            current = self.schema_version()
        except sqlite3.DatabaseError as exc:
            raise StoreError("store '%s' is not a patchwave store: %s" % (self.path, exc))
        if current > SCHEMA_VERSION:
            raise StoreError("store '%s' has schema version %d, newer than this collection's %d: "
                             "upgrade patchwave.windows" % (self.path, current, SCHEMA_VERSION))
        if current == SCHEMA_VERSION:
            return
        with self.transaction() as cursor:
            current = self.schema_version()  # another process may have migrated meanwhile
            _apply_migrations(self, cursor, current, " WITHOUT ROWID")


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _identifier(name):
    if not _IDENTIFIER.match(name):
        raise ValueError("not a plain SQL identifier: %r" % (name,))
    return name


def _column_list(columns):
    return ", ".join(_identifier(c) for c in columns)


# Advisory lock keys (64-bit, "patchwv" + n), taken per transaction on PostgreSQL.
_PG_MIGRATION_LOCK = 0x7061746368777601
_PG_INGEST_LOCK = 0x7061746368777602
_PG_SYNC_LOCK = 0x7061746368777603

_PG_DDL = re.compile(r"^\s*(CREATE|ALTER)\s+(TEMP\s+|TEMPORARY\s+)?TABLE\b", re.IGNORECASE)
_PG_TEMP_INDEX = re.compile(r"^(\s*CREATE\s+(UNIQUE\s+)?INDEX\s+(IF\s+NOT\s+EXISTS\s+)?)temp\.", re.IGNORECASE)
_PG_DROP_TEMP = re.compile(r"^(\s*DROP\s+(TABLE|INDEX)\s+(IF\s+EXISTS\s+)?)temp\.", re.IGNORECASE)


@functools.lru_cache(maxsize=2048)
def postgresql_sql(sql):
    """The SQLite-flavoured statement ``sql`` as psycopg runs it on PostgreSQL.

    ``?`` outside quotes becomes ``%s`` and every literal ``%`` becomes ``%%``. SQLite's ``temp.``
    schema becomes ``pg_temp.`` (PostgreSQL creates an index in its table's schema, so
    ``CREATE INDEX temp.x`` loses the prefix). In table DDL, INTEGER becomes BIGINT (SQLite's
    integers are 64-bit: HRESULTs and sizes exceed int4), BLOB becomes BYTEA and ``WITHOUT ROWID``
    is dropped.
    """
    if _PG_DDL.match(sql):
        sql = re.sub(r"\bINTEGER\b", "BIGINT", sql, flags=re.IGNORECASE)
        sql = re.sub(r"\bBLOB\b", "BYTEA", sql, flags=re.IGNORECASE)
        sql = re.sub(r"\s*\bWITHOUT\s+ROWID\b", "", sql, flags=re.IGNORECASE)
    sql = _PG_TEMP_INDEX.sub(r"\1", sql)
    sql = _PG_DROP_TEMP.sub(r"\1pg_temp.", sql)
    out = []
    quote = None
    for char in sql:
        if char == "%":
            out.append("%%")
            continue
        if quote:
            if char == quote:
                quote = None
        elif char in ("'", '"'):
            quote = char
        elif char == "?":
            out.append("%s")
            continue
        out.append(char)
    return "".join(out)


class PostgreSQLCursor:
    """A psycopg cursor that takes ``?`` placeholders and returns itself from ``execute``."""

    def __init__(self, raw):
        self.raw = raw

    def execute(self, sql, params=()):
        self.raw.execute(postgresql_sql(sql), tuple(params) if params is not None else ())
        return self

    def executemany(self, sql, rows):
        self.raw.executemany(postgresql_sql(sql), [tuple(row) for row in rows])
        return self

    def fetchone(self):
        return self.raw.fetchone()

    def fetchall(self):
        return self.raw.fetchall()

    def __iter__(self):
        return iter(self.raw)

    @property
    def rowcount(self):
        return self.raw.rowcount

    @property
    def description(self):
        return self.raw.description

    def close(self):
        self.raw.close()


class PostgreSQLStore:
    """The shared backend: a PostgreSQL database, through psycopg 3 (imported only when used).

    The address is a libpq URL given to psycopg as it is, so every libpq parameter works
    (``sslmode=verify-full``, ``sslrootcert``, ``connect_timeout``, ...). Transactions are explicit
    (``BEGIN`` ... ``COMMIT`` on an autocommit connection), like the SQLite backend's.
    """

    backend = "postgresql"
    placeholder = "?"  # callers write ?; PostgreSQLCursor translates

    def __init__(self, address):
        self.address = address
        self.redacted = redact(address)
        self._password = None
        try:
            import psycopg  # pylint: disable=import-outside-toplevel
            from psycopg.conninfo import conninfo_to_dict  # pylint: disable=import-outside-toplevel
        except ImportError as exc:
            raise StoreError("store '%s': the PostgreSQL backend needs the Python package psycopg "
                             "(pip install 'psycopg[binary]'): %s" % (self.redacted, exc))
        self._psycopg = psycopg
        try:
            params = conninfo_to_dict(address)
        except psycopg.Error as exc:
            raise StoreError("store '%s' is not a valid PostgreSQL address: %s" % (self.redacted, self._clean(exc)))
        self._password = params.get("password")
        extra = {}
        if "connect_timeout" not in params:
            extra["connect_timeout"] = 30
        if "application_name" not in params:
            extra["application_name"] = "patchwave.windows"
        try:
            self.connection = psycopg.connect(address, autocommit=True, **extra)
        except psycopg.Error as exc:
            raise StoreError("store '%s' cannot be opened: %s" % (self.redacted, self._clean(exc)))
        try:
            self._migrate()
        except BaseException:
            self.connection.close()
            raise

    def _clean(self, exc):
        """The text of an error, without the password should libpq ever echo it."""
        text = str(exc).strip()
        if self._password:
            for secret in (self._password, unquote(self._password)):
                if len(secret) >= 3:
                    text = text.replace(secret, "***")
        return text or exc.__class__.__name__

    def _error(self, exc):
        return StoreError("store '%s': %s" % (self.redacted, self._clean(exc)))

    # -- transactions -------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self):
        """One write transaction: everything inside commits together or not at all.

        A statement that fails aborts the whole transaction on PostgreSQL: the error ends it.
        """
        psycopg = self._psycopg
        try:
            cursor = PostgreSQLCursor(self.connection.cursor())
            cursor.execute("BEGIN")
        except psycopg.Error as exc:
            raise self._error(exc) from exc
        try:
            yield cursor
            if self.connection.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
                raise StoreError("store '%s': a statement failed inside the transaction; it was rolled back"
                                 % self.redacted)
            cursor.execute("COMMIT")
        except BaseException as exc:
            self._rollback()
            if isinstance(exc, psycopg.Error):
                raise self._error(exc) from exc
            raise
        finally:
            cursor.close()

    def _rollback(self):
        if self.connection.closed:
            return
        try:
            if self.connection.info.transaction_status != self._psycopg.pq.TransactionStatus.IDLE:
                self.connection.execute("ROLLBACK")
        except self._psycopg.Error:
            pass  # the connection is gone; the server has rolled back already

    def rollback_to_clean(self, cursor):
        """Discard everything done in the current transaction (check mode, no-op syncs)."""
        cursor.execute("ROLLBACK")
        cursor.execute("BEGIN")

    def query(self, sql, params=()):
        """Run a read query and return the rows as dicts."""
        try:
            with self.connection.cursor() as raw:
                cursor = PostgreSQLCursor(raw)
                cursor.execute(sql, params)
                names = [column.name for column in raw.description]
                return [dict(zip(names, row)) for row in raw.fetchall()]
        except self._psycopg.Error as exc:
            raise self._error(exc) from exc

    def temp_table(self, name, columns, keyed=False):
        """DDL for a staging table that lives only as long as this connection (session)."""
        return "CREATE TEMP TABLE %s (%s)" % (name, columns)

    def analyze(self, cursor, table):
        """Planner statistics for a freshly filled staging table (autovacuum never sees it in time,
        so without them PostgreSQL guesses its size and may join in the wrong order)."""
        cursor.execute("ANALYZE %s" % table)

    def scratch_table(self, cursor, name, columns, keyed=False):
        """Create a working table for the current transaction's reads; return the name to use.

        An UNLOGGED table with a name of its own, created and dropped inside the caller's
        transaction (so no other session ever sees it, and a rollback removes it): unlike a TEMP
        table, parallel workers can read it, so queries joining it still run in parallel.
        """
        unique = "%s_%s" % (name, uuid.uuid4().hex[:16])
        cursor.execute("CREATE UNLOGGED TABLE %s (%s)" % (unique, columns))
        return unique

    def drop_scratch(self, cursor, name):
        cursor.execute("DROP TABLE IF EXISTS %s" % name)

    def copy_rows(self, cursor, table, columns, rows):
        """Bulk-insert ``rows`` (tuples in ``columns`` order) with COPY; return the count."""
        count = 0
        with cursor.raw.copy("COPY %s (%s) FROM STDIN" % (_identifier(table), _column_list(columns))) as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        return count

    def lock_for_ingest(self, cursor):
        """Serialise state-message ingesters of every controller until this transaction ends."""
        cursor.execute("SELECT pg_advisory_xact_lock(?)", (_PG_INGEST_LOCK,)).fetchone()

    def lock_for_sync(self, cursor):
        """Serialise catalog merges of every controller until this transaction ends: a second sync
        waits, then merges against what the first committed (READ COMMITTED: each statement after
        the lock sees it)."""
        cursor.execute("SELECT pg_advisory_xact_lock(?)", (_PG_SYNC_LOCK,)).fetchone()

    def close(self):
        self.connection.close()

    # -- schema -------------------------------------------------------------------------------
    def schema_version(self, cursor=None):
        if cursor is None:
            with self.connection.cursor() as raw:
                return self.schema_version(PostgreSQLCursor(raw))
        # A scan of the catalog under this statement's snapshot, not to_regclass(): after waiting for the
        # migration lock, its cached "no such table" could hide the table another controller just made.
        if not cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = current_schema() "
                              "AND tablename = 'schema_info')").fetchone()[0]:
            return 0
        row = cursor.execute("SELECT version FROM schema_info").fetchone()
        return row[0] if row else 0

    def _refuse_newer(self, current):
        if current > SCHEMA_VERSION:
            raise StoreError("store '%s' has schema version %d, newer than this collection's %d: "
                             "upgrade patchwave.windows" % (self.redacted, current, SCHEMA_VERSION))

    def _migrate(self):
        try:
            current = self.schema_version()
        except self._psycopg.Error as exc:
            raise StoreError("store '%s' is not a patchwave store: %s" % (self.redacted, self._clean(exc)))
        self._refuse_newer(current)
        if current == SCHEMA_VERSION:
            return
        with self.transaction() as cursor:
            # Controllers sharing the database may open it at once: one migrates, the others wait.
            cursor.execute("SELECT pg_advisory_xact_lock(?)", (_PG_MIGRATION_LOCK,)).fetchone()
            current = self.schema_version(cursor)
            self._refuse_newer(current)
            # Data steps read what is stored: an ingest of a controller still running older code
            # finishes first (and each statement after the lock sees what it committed).
            self.lock_for_ingest(cursor)
            _apply_migrations(self, cursor, current, "")


def open_store(store=None, env=None, create=True):
    """Open the store that ``store`` (or the environment) addresses, migrating it if needed.

    A ``postgresql://`` (or ``postgres://``) address selects the PostgreSQL backend; ``create`` does
    not apply there (the database must exist; its tables are created on first use).
    """
    address = resolve_store_address(store, env)
    if is_postgresql(address):
        return PostgreSQLStore(address)
    return SQLiteStore(address, create=create)
