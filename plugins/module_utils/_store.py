# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""The store: where the collection keeps catalog versions, updates and (later) host state.

One interface, addressed the same way everywhere (option ``store``, else ``PATCHWAVE_STORE``,
else ``$XDG_DATA_HOME/patchwave/patchwave.db``). SQLite is the embedded backend; the schema uses
only types and statements PostgreSQL shares (TEXT, INTEGER/BIGINT, ``ON CONFLICT``, ``EXCEPT``)
so a second backend can carry it without changing callers. SQL is written with ``?``
placeholders; a backend translates them if its driver needs another style.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3

SCHEMA_VERSION = 2

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
}


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
    if is_postgresql(address) and "@" in address:
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
            if current == 0:
                cursor.execute("CREATE TABLE schema_info (version INTEGER NOT NULL)")
                cursor.execute("INSERT INTO schema_info (version) VALUES (0)")
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[version]:
                    cursor.execute(statement.replace("{without_rowid}", " WITHOUT ROWID"))
                cursor.execute("UPDATE schema_info SET version = ?", (version,))


def open_store(store=None, env=None, create=True):
    """Open the store that ``store`` (or the environment) addresses, migrating it if needed."""
    address = resolve_store_address(store, env)
    if is_postgresql(address):
        raise StoreError("store '%s': the PostgreSQL backend is not available in this version" % redact(address))
    return SQLiteStore(address, create=create)
