# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""The PostgreSQL backend: the same interface and SQL as SQLite, through psycopg 3."""

from __future__ import annotations

import contextlib
import functools
import re
from urllib.parse import unquote

from ansible_collections.patchwave.windows.plugins.module_utils._store.address import redact
from ansible_collections.patchwave.windows.plugins.module_utils._store.errors import HOW_TO_MAKE, StoreError
from ansible_collections.patchwave.windows.plugins.module_utils._store.schema import (
    SCHEMA_VERSION,
    apply_migrations,
    migration_refused,
)
from ansible_collections.patchwave.windows.plugins.module_utils._store.sql import column_list, identifier

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

    def __init__(self, address, create=True):
        self.address = address
        self.redacted = redact(address)
        self._create = create  # a reader (False) never makes a database into a store
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

    @contextlib.contextmanager
    def read_transaction(self):
        """One read: a single snapshot (REPEATABLE READ) in which the reader may fill TEMP scratch
        tables and nothing else; always rolled back, which drops them. Needs SELECT on the store's
        tables and TEMP on the database (granted to PUBLIC by default), nothing more."""
        psycopg = self._psycopg
        try:
            cursor = PostgreSQLCursor(self.connection.cursor())
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        except psycopg.Error as exc:
            raise self._error(exc) from exc
        try:
            yield cursor
        except psycopg.Error as exc:
            raise self._error(exc) from exc
        finally:
            self._rollback()
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
        """Create a working table for the current (read) transaction; return the name to use.

        A TEMP table, dropped with the transaction: a reader needs no CREATE right on the store's
        schema (TEMP is granted to PUBLIC by default). PostgreSQL does not run a query that touches
        a TEMP table in parallel; docs/performance.md measures what that costs the reads.
        """
        cursor.execute("CREATE TEMP TABLE %s (%s) ON COMMIT DROP" % (identifier(name), columns))
        return name

    def drop_scratch(self, cursor, name):
        cursor.execute("DROP TABLE IF EXISTS pg_temp.%s" % identifier(name))

    def copy_rows(self, cursor, table, columns, rows):
        """Bulk-insert ``rows`` (tuples in ``columns`` order) with COPY; return the count."""
        count = 0
        with cursor.raw.copy("COPY %s (%s) FROM STDIN" % (identifier(table), column_list(columns))) as copy:
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
        if current == 0 and not self._create:
            raise StoreError("store '%s' does not exist: the database holds no patchwave store; %s"
                             % (self.redacted, HOW_TO_MAKE % "address"))
        try:
            with self.transaction() as cursor:
                # Controllers sharing the database may open it at once: one migrates, the others wait.
                cursor.execute("SELECT pg_advisory_xact_lock(?)", (_PG_MIGRATION_LOCK,)).fetchone()
                current = self.schema_version(cursor)
                self._refuse_newer(current)
                # Data steps read what is stored: an ingest of a controller still running older code
                # finishes first (and each statement after the lock sees what it committed).
                self.lock_for_ingest(cursor)
                apply_migrations(self, cursor, current, "")
        except StoreError as exc:
            # A reader's role (SELECT only) may not migrate: say what it found and what would.
            if isinstance(exc.__cause__, self._psycopg.errors.InsufficientPrivilege):
                raise StoreError(migration_refused(self.redacted, current, self._clean(exc.__cause__))) from exc
            raise
