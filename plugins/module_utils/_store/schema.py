# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""The store's schema: every table and index, as numbered migrations, and how they are applied."""

from __future__ import annotations

from ansible_collections.patchwave.windows.plugins.module_utils._store.planes import backfill as backfill_scan_bits

SCHEMA_VERSION = 10

# A host's scans from newest: in the order the controllers received them (one clock; the host's own
# may be off), then in the order ingest numbered them (received times have one-second resolution).
NEWEST_FIRST = "received DESC, scan_pk DESC"


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
        # Bit planes of each successful scan over stable update numbers (_store/planes.py): per-set
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
    5: [
        # One clock orders a host's scans: the controller's time it received the result (the state
        # message's ``created``), then scan_pk (given by ingest in arrival order) within a second.
        # ``finished`` stays the host's own time, as data. Rows stored before this version keep
        # the one time they had (``finished``: host time for scans, controller time for failures).
        "ALTER TABLE scans ADD COLUMN received TEXT",
        "UPDATE scans SET received = finished",
        "DROP INDEX scans_host_finished",
        "CREATE INDEX scans_host_received ON scans (host_name, received, scan_pk)",
        "DROP INDEX scans_finished",
        "CREATE INDEX scans_received ON scans (received)",
    ],
    6: [
        # Attempts that said nothing of the host's updates (unreachable, credentials refused, the
        # connection lost at start, a request the host module refused): kept apart from scans, so
        # they never change a host's compliance; shown as the host's last attempt.
        """CREATE TABLE scan_attempts (
            message_id TEXT PRIMARY KEY,
            host_name TEXT NOT NULL,
            received TEXT NOT NULL,
            failure TEXT NOT NULL,
            reason TEXT NOT NULL,
            server_selection TEXT,
            forced INTEGER NOT NULL,
            catalog_version INTEGER,
            controller TEXT,
            ingested_at TEXT NOT NULL
        )""",
        "CREATE INDEX scan_attempts_host_received ON scan_attempts (host_name, received)",
        # Before this version an unreachable host was stored as a failed scan ("host unreachable: ...").
        "INSERT INTO scan_attempts (message_id, host_name, received, failure, reason, server_selection, forced, "
        "catalog_version, controller, ingested_at) SELECT message_id, host_name, received, 'unreachable', error, "
        "server_selection, forced, catalog_version, controller, ingested_at FROM scans "
        "WHERE succeeded = 0 AND source = 'patchwave.windows.scan' AND error LIKE 'host unreachable: %'",
        "DELETE FROM scans WHERE succeeded = 0 AND source = 'patchwave.windows.scan' AND error LIKE 'host unreachable: %'",
        # host_retire: a retired host leaves evaluation, reports and the inventory until it reports again.
        "ALTER TABLE hosts ADD COLUMN retired_at TEXT",
        "ALTER TABLE hosts ADD COLUMN retired_reason TEXT",
    ],
    7: [
        # Preparation and distribution (step 4 and the content half of step 5). Settings and rules
        # are JSON text (one object per row, read and written whole); a frozen list version and its
        # members never change once written.
        """CREATE TABLE update_lists (
            name TEXT PRIMARY KEY,
            description TEXT,
            definition TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE update_list_versions (
            list_name TEXT NOT NULL,
            version INTEGER NOT NULL,
            catalog_version INTEGER,
            content_hash TEXT NOT NULL,
            definition TEXT NOT NULL,
            added TEXT NOT NULL,
            removed TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (list_name, version)
        ){without_rowid}""",
        """CREATE TABLE update_list_members (
            list_name TEXT NOT NULL,
            version INTEGER NOT NULL,
            update_id TEXT NOT NULL,
            revision_number INTEGER NOT NULL,
            max_run_time_minutes INTEGER,
            PRIMARY KEY (list_name, version, update_id)
        ){without_rowid}""",
        """CREATE TABLE deployment_templates (
            name TEXT PRIMARY KEY,
            settings TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE deployments (
            name TEXT PRIMARY KEY,
            definition TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE deployment_packages (
            name TEXT PRIMARY KEY,
            list_name TEXT NOT NULL,
            list_version INTEGER NOT NULL,
            content_version INTEGER NOT NULL,
            library TEXT NOT NULL,
            languages TEXT NOT NULL,
            size BIGINT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        # The files of each content version of a package; ``file_key`` is the library's key (sha256
        # hex, else sha1 hex).
        """CREATE TABLE package_files (
            package TEXT NOT NULL,
            content_version INTEGER NOT NULL,
            file_key TEXT NOT NULL,
            sha1 TEXT,
            sha256 TEXT,
            size BIGINT NOT NULL,
            file_name TEXT NOT NULL,
            update_ids TEXT NOT NULL,
            PRIMARY KEY (package, content_version, file_key)
        ){without_rowid}""",
        """CREATE TABLE distribution_points (
            name TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            settings TEXT NOT NULL,
            host_url TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        # What this collection put on each distribution point (prune removes only these).
        """CREATE TABLE staged_files (
            point TEXT NOT NULL,
            path TEXT NOT NULL,
            sha1 TEXT,
            sha256 TEXT,
            size BIGINT NOT NULL,
            staged_at TEXT NOT NULL,
            PRIMARY KEY (point, path)
        ){without_rowid}""",
        """CREATE TABLE staged_packages (
            point TEXT NOT NULL,
            package TEXT NOT NULL,
            content_version INTEGER NOT NULL,
            staged_at TEXT NOT NULL,
            verified_at TEXT NOT NULL,
            PRIMARY KEY (point, package)
        ){without_rowid}""",
        # Every change of a prepared object (list, template, deployment, package, distribution point):
        # what it was and what it became, as JSON; never updated.
        """CREATE TABLE object_history (
            entry INTEGER PRIMARY KEY,
            object_type TEXT NOT NULL,
            name TEXT NOT NULL,
            changed_at TEXT NOT NULL,
            action TEXT NOT NULL,
            before_json TEXT,
            after_json TEXT
        )""",
        "CREATE INDEX object_history_object ON object_history (object_type, name, entry)",
    ],
    8: [
        # The languages an update is for (Microsoft's ``<Languages>`` / ``<upd:Language>``), so a
        # package fetches only the language-specific payloads asked for; an update without rows is
        # language-neutral. Stores synced before this version have none until the update next
        # changes, and an update whose source names languages is seen as changed at the next sync.
        """CREATE TABLE update_languages (
            update_id TEXT NOT NULL,
            language TEXT NOT NULL,
            PRIMARY KEY (update_id, language)
        ){without_rowid}""",
        # The languages a sync was asked for (JSON list): the store's languages, the default of a
        # package's ``languages``. NULL for versions synced before this schema version.
        "ALTER TABLE catalog_versions ADD COLUMN languages TEXT",
    ],
    9: [
        # Enforcement state messages (``enforcement``): what installation said of an update
        # (``update_id`` set) or of a deployment (``update_id`` NULL) on a host; ``deployment`` NULL for
        # ad hoc work; ``detail`` JSON. ``seq`` is a number of the store's sequence of scans
        # (``scan_pk``), given by ingest in the order messages arrive, so a state and a scan received
        # in the same second are still ordered: received, then seq / scan_pk (_compliance/reads.py).
        """CREATE TABLE enforcement_states (
            message_id TEXT PRIMARY KEY,
            host_name TEXT NOT NULL,
            deployment TEXT,
            update_id TEXT,
            state TEXT NOT NULL,
            hresult BIGINT,
            detail TEXT NOT NULL,
            received TEXT NOT NULL,
            seq BIGINT NOT NULL,
            controller TEXT,
            ingested_at TEXT NOT NULL
        )""",
        "CREATE INDEX enforcement_states_update ON enforcement_states (host_name, update_id, received, seq)",
        "CREATE INDEX enforcement_states_deployment ON enforcement_states (deployment, host_name, received, seq)",
        "CREATE INDEX enforcement_states_received ON enforcement_states (received)",
        "CREATE INDEX enforcement_states_seq ON enforcement_states (seq)",
    ],
    10: [
        # The patch wave (_wave/state.py): one row per named wave, the list version it froze at its
        # first start and its rings as given then (JSON), never re-evaluated mid-wave; ``state`` is
        # running, halted or finished; ``ring_index`` the 0-based ring in progress.
        """CREATE TABLE waves (
            name TEXT PRIMARY KEY,
            deployment TEXT NOT NULL,
            update_list TEXT NOT NULL,
            list_version INTEGER NOT NULL,
            rings TEXT NOT NULL,
            state TEXT NOT NULL,
            ring_index INTEGER NOT NULL,
            halt_reason TEXT,
            started_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            finished_at TEXT
        )""",
        # Each host of a wave, in the first ring that named it, with its newest install outcome
        # (NULL until it runs) and how many times it was recorded.
        """CREATE TABLE wave_hosts (
            wave TEXT NOT NULL,
            host_name TEXT NOT NULL,
            ring TEXT NOT NULL,
            outcome TEXT,
            reason TEXT,
            msg TEXT,
            attempts INTEGER NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (wave, host_name)
        ){without_rowid}""",
        # What happened to a wave, in order (started, resumed, ring_started, recorded, halted,
        # ring_finished, finished); ``detail`` JSON. Never updated.
        """CREATE TABLE wave_events (
            wave TEXT NOT NULL,
            seq INTEGER NOT NULL,
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            ring TEXT,
            detail TEXT NOT NULL,
            PRIMARY KEY (wave, seq)
        ){without_rowid}""",
    ],
}


def migration_refused(name, found, reason):
    """The error text for a store at an older schema that this connection may not migrate."""
    return ("store '%s' has schema version %d and this collection needs %d, but this connection may not migrate it "
            "(%s). One run of any patchwave.windows writer (catalog_sync, a scan, compliance_info or "
            "compliance_report with state messages to ingest) as a role allowed to create and alter the "
            "store's tables migrates it; reading it needs no more than SELECT after that."
            % (name, found, SCHEMA_VERSION, reason))


def apply_migrations(store, cursor, current, without_rowid):
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
