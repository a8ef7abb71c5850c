# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""The embedded backend: one SQLite file in WAL mode."""

from __future__ import annotations

import contextlib
import os
import sqlite3

from ansible_collections.patchwave.windows.plugins.module_utils._store.errors import (
    HOW_TO_MAKE,
    StoreError,
    missing_store_message,
)
from ansible_collections.patchwave.windows.plugins.module_utils._store.schema import (
    SCHEMA_VERSION,
    apply_migrations,
    migration_refused,
)
from ansible_collections.patchwave.windows.plugins.module_utils._store.sql import column_list, identifier


class SQLiteStore:
    """The embedded backend: one SQLite file in WAL mode."""

    backend = "sqlite"
    placeholder = "?"

    def __init__(self, path, create=True):
        self.address = path
        self.path = os.path.abspath(os.path.expanduser(path))
        if not os.path.exists(self.path):
            if not create:  # a reader: nothing is created, not even a mistyped folder
                raise StoreError(missing_store_message(self.path))
            directory = os.path.dirname(self.path)
            try:
                os.makedirs(directory, exist_ok=True)
            except OSError as exc:
                raise StoreError("store '%s': cannot create folder '%s': %s" % (self.path, directory, exc.strerror))
        try:
            self.connection = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        except sqlite3.DatabaseError as exc:
            raise StoreError("store '%s' cannot be opened: %s" % (self.path, exc))
        if not create:
            # Before any pragma: switching to WAL would already write to a file that is no store.
            self._refuse_if_no_store()
        try:
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

    @contextlib.contextmanager
    def read_transaction(self):
        """One read: a single snapshot of the store, TEMP scratch tables allowed, and no write lock
        (a deferred transaction that writes only the connection's own temp database never takes the
        store file's RESERVED lock, so writers and other readers' ingests go on meanwhile). Always
        rolled back: a read keeps nothing."""
        cursor = self.connection.cursor()
        cursor.execute("BEGIN DEFERRED")
        try:
            yield cursor
        finally:
            if self.connection.in_transaction:
                cursor.execute("ROLLBACK")

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
        """Create a working table for the current (read) transaction; return the name to use."""
        cursor.execute("DROP TABLE IF EXISTS temp.%s" % name)
        cursor.execute(self.temp_table(name, columns, keyed))
        return name

    def drop_scratch(self, cursor, name):
        cursor.execute("DROP TABLE IF EXISTS temp.%s" % name)

    def copy_rows(self, cursor, table, columns, rows):
        """Bulk-insert ``rows`` (tuples in ``columns`` order, any iterable) with the transaction's cursor;
        return the count."""
        sql = "INSERT INTO %s (%s) VALUES (%s)" % (identifier(table), column_list(columns), ", ".join("?" * len(columns)))
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

    def _refuse_if_no_store(self):
        """A reader opens only a patchwave store: an empty file or another database stays untouched."""
        try:
            current = self.schema_version()
        except sqlite3.DatabaseError as exc:
            self.connection.close()
            raise StoreError("store '%s' cannot be opened: %s" % (self.path, exc))  # as a writer says it
        if current == 0:
            self.connection.close()
            raise StoreError("store '%s' holds no patchwave store (the file exists but has no patchwave schema; "
                             "nothing was written to it): %s" % (self.path, HOW_TO_MAKE % "path"))

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
        try:
            with self.transaction() as cursor:
                current = self.schema_version()  # another process may have migrated meanwhile
                apply_migrations(self, cursor, current, " WITHOUT ROWID")
        except sqlite3.OperationalError as exc:
            if "readonly" not in str(exc) and "read-only" not in str(exc):
                raise
            raise StoreError(migration_refused(self.path, current, exc)) from exc


def not_yet_there(path):
    """The store file at ``path`` and the folders above it that do not exist yet, file first, then the
    folders deepest first; empty when the file exists. What a writer that fails should take away again."""
    path = os.path.abspath(os.path.expanduser(path))
    if os.path.exists(path):
        return []
    missing = [path]
    folder = os.path.dirname(path)
    while folder and not os.path.exists(folder) and folder != os.path.dirname(folder):
        missing.append(folder)
        folder = os.path.dirname(folder)
    return missing


def remove_new_store(missing):
    """Take away a store a failed run made (``missing`` from not_yet_there, taken before the run):
    the file with its -wal, -shm and -journal, then each folder the run created, if it is empty."""
    if not missing:
        return
    path, folders = missing[0], missing[1:]
    for name in (path, path + "-wal", path + "-shm", path + "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
    for folder in folders:
        try:
            os.rmdir(folder)
        except OSError:  # something else put a file there meanwhile: it stays, and so do its parents
            break
