# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Merge a stream of catalog records into the store as one new catalog version.

The records are first written to staging tables inside the sync's transaction, so memory stays
flat however large the catalog is; relationships that arrive as package-local RevisionIds,
filters, change detection and expiry are then set operations in SQL. Nothing reaches the real
tables unless the whole source was read: any error rolls the transaction back and the store is
exactly as it was. A sync that changes nothing creates no catalog version.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass

from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import CatalogError, FileLocation
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.query import CURRENT_VERSION_SQL
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.staging import STAGING, RowBatch, RowBuilder
from ansible_collections.patchwave.windows.plugins.module_utils._store.schema import CATALOG_INDEXES
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import format_time

_BATCH = 2000


@dataclass
class SyncOptions:
    source: str
    format: str
    source_path: str | None = None
    source_sha256: str | None = None
    package_created: str | None = None
    languages: tuple = ("en",)
    products: tuple = ()
    classifications: tuple = ()
    expire_superseded_days: int | None = None
    check_mode: bool = False
    now: datetime.datetime | None = None


class _Stager(RowBuilder):
    """Builds staging rows and writes them in batches."""

    def __init__(self, cursor, languages):
        super().__init__(languages)
        self.cursor = cursor
        self.records = 0

    def add(self, record):
        super().add(record)
        self.records += 1
        if self.count >= _BATCH:
            self.flush()

    def add_location(self, location):
        super().add_location(location)
        if len(self.rows["s_urls"]) >= _BATCH * 4:
            self.flush()

    def add_batch(self, batch):
        for name, rows in batch.rows.items():
            self.rows[name].extend(rows)
        self.records += batch.count
        self.count += batch.count
        if self.count >= _BATCH or len(self.rows["s_urls"]) >= _BATCH * 4:
            self.flush()

    def flush(self):
        for name, rows in self.rows.items():
            if not rows:
                continue
            width = len(rows[0])
            marks = ",".join("?" * width)
            if name == "s_updates":
                # Several revisions of one update: keep the highest (Microsoft's own advice).
                columns = [c.split()[0] for c in STAGING["s_updates"].split(", ")]
                assignments = ", ".join("%s = excluded.%s" % (c, c) for c in columns[1:])
                sql = ("INSERT INTO s_updates VALUES (%s) ON CONFLICT (update_id) DO UPDATE SET %s "
                       "WHERE excluded.revision_number > s_updates.revision_number" % (marks, assignments))
            else:
                sql = "INSERT INTO %s VALUES (%s)" % (name, marks)
            self.cursor.executemany(sql, rows)
            rows.clear()
        self.count = 0


def _resolve_category_names(cursor, names, what):
    """Turn product or classification names (GUIDs or titles) into category ids."""
    if not names:
        return None
    resolved = set()
    for name in names:
        text = str(name).strip()
        rows = cursor.execute(
            "SELECT d.update_id FROM s_data d JOIN s_updates s ON s.update_id = d.update_id "
            "WHERE s.kind = 'category' AND (d.update_id = ? OR lower(d.title) = ?) "
            "UNION SELECT update_id FROM updates WHERE kind = 'category' AND (update_id = ? OR lower(title) = ?) "
            "UNION SELECT update_id FROM s_titles WHERE lower(title) = ? AND update_id IN "
            "(SELECT update_id FROM s_updates WHERE kind = 'category')",
            (text.lower(), text.lower(), text.lower(), text.lower(), text.lower())).fetchall()
        if not rows:
            raise CatalogError("%s %r is not in the catalog (give its GUID or its title)" % (what, text))
        resolved.update(r[0] for r in rows)
    return resolved


def _count_by_kind(cursor, status_sql):
    rows = cursor.execute(
        "SELECT u.kind, count(*) FROM (%s) x JOIN s_updates u ON u.update_id = x.update_id GROUP BY u.kind"
        % status_sql).fetchall()
    return dict(rows)


def sync_records(store, records, options):
    """Merge ``records`` (an iterable of CatalogUpdate / FileLocation) into ``store``.

    Returns a result dict: changed, catalog_version, previous_version and counts. In check mode
    the same work is done and then rolled back.
    """
    now = options.now or datetime.datetime.now(datetime.timezone.utc)
    stamp = format_time(now)
    with store.transaction() as cursor:
        for name, columns in STAGING.items():
            cursor.execute("DROP TABLE IF EXISTS temp.%s" % name)
            cursor.execute(store.temp_table(name, columns, keyed="PRIMARY KEY" in columns))
        stager = _Stager(cursor, options.languages)
        for record in records:
            if isinstance(record, RowBatch):
                stager.add_batch(record)
            elif isinstance(record, FileLocation):
                stager.add_location(record)
            else:
                stager.add(record)
        stager.flush()
        # Only the lookups the merge makes get an index; the child tables are read by full scans.
        cursor.execute("CREATE INDEX temp.s_bundles_member_ix ON s_bundles (member_id)")
        cursor.execute("CREATE INDEX temp.s_updates_revision_ix ON s_updates (revision_id)")
        if options.products or options.classifications:
            cursor.execute("CREATE INDEX temp.s_categories_update_ix ON s_categories (update_id)")
        # Staging is private to this transaction; merging is one controller at a time.
        store.lock_for_sync(cursor)
        result = _merge(store, cursor, options, stamp, now, stager.records)
        if options.check_mode or not result["changed"]:
            store.rollback_to_clean(cursor)
        return result


def _merge(store, cursor, options, stamp, now, staged_records):
    previous = cursor.execute(CURRENT_VERSION_SQL).fetchone()[0]
    staged = cursor.execute("SELECT count(*) FROM s_updates").fetchone()[0]
    if staged == 0:
        raise CatalogError("catalog source '%s' holds no updates" % (options.source_path or options.source))

    # Links by package-local RevisionId become links by update id, against the winning revisions.
    winning = ("JOIN s_updates w ON w.update_id = l.update_id AND w.revision_number = l.revision_number "
               "JOIN s_updates u ON u.revision_id = l.rev_id")
    cursor.execute("INSERT INTO s_supersedes SELECT u.update_id, u.revision_number, l.update_id "
                   "FROM s_rev_links l %s WHERE l.link = 'superseded_by'" % winning)
    cursor.execute("INSERT INTO s_bundles SELECT u.update_id, u.revision_number, l.update_id "
                   "FROM s_rev_links l %s WHERE l.link = 'bundled_by'" % winning)
    dangling_revisions = cursor.execute(
        "SELECT count(*) FROM s_rev_links l WHERE NOT EXISTS "
        "(SELECT 1 FROM s_updates u WHERE u.revision_id = l.rev_id)").fetchone()[0]

    # Scope: categories and detectoids always; software and drivers by product and classification.
    products = _resolve_category_names(cursor, options.products, "product")
    classifications = _resolve_category_names(cursor, options.classifications, "classification")
    conditions = []
    params = []
    for chosen in (products, classifications):
        if chosen:
            conditions.append("EXISTS (SELECT 1 FROM s_categories c WHERE c.update_id = s.update_id "
                              "AND c.revision_number = s.revision_number AND c.category_id IN (%s))"
                              % ",".join("?" * len(chosen)))
            params.extend(sorted(chosen))
    # Every record is the only revision of its update: no "winning revision" joins are needed.
    single_revisions = staged == staged_records
    if not conditions:
        cursor.execute("INSERT INTO s_keep SELECT update_id FROM s_updates")
    else:
        cursor.execute(
            "INSERT INTO s_keep SELECT update_id FROM s_updates s WHERE kind IN ('category', 'detectoid') "
            "OR (kind NOT IN ('category', 'detectoid') AND (%s) AND NOT EXISTS "
            "(SELECT 1 FROM s_bundles b JOIN s_updates bu ON bu.update_id = b.bundle_id "
            "AND bu.revision_number = b.revision_number WHERE b.member_id = s.update_id))"
            % " AND ".join(conditions), params)
        for _depth in range(3):  # members of kept bundles (bundles nest at most a couple of levels)
            added_members = cursor.execute(
                "INSERT INTO s_keep SELECT DISTINCT b.member_id FROM s_bundles b "
                "JOIN s_updates bu ON bu.update_id = b.bundle_id AND bu.revision_number = b.revision_number "
                "JOIN s_keep k ON k.update_id = b.bundle_id "
                "WHERE b.member_id IN (SELECT update_id FROM s_updates) "
                "AND b.member_id NOT IN (SELECT update_id FROM s_keep)").rowcount
            if not added_members:
                break

    # The relationship edges this sync would leave, for kept winning revisions.
    if single_revisions and not conditions:
        cursor.execute("INSERT INTO s_new_supersedence SELECT DISTINCT update_id, superseded_id FROM s_supersedes")
        cursor.execute("INSERT INTO s_new_bundles SELECT DISTINCT bundle_id, member_id FROM s_bundles")
    else:
        cursor.execute(
            "INSERT INTO s_new_supersedence SELECT DISTINCT s.update_id, s.superseded_id FROM s_supersedes s "
            "JOIN s_updates w ON w.update_id = s.update_id AND w.revision_number = s.revision_number "
            "JOIN s_keep k ON k.update_id = s.update_id")
        cursor.execute(
            "INSERT INTO s_new_bundles SELECT DISTINCT b.bundle_id, b.member_id FROM s_bundles b "
            "JOIN s_updates w ON w.update_id = b.bundle_id AND w.revision_number = b.revision_number "
            "JOIN s_keep k ON k.update_id = b.bundle_id")

    cursor.execute("CREATE INDEX temp.s_new_supersedence_superseded_ix ON s_new_supersedence (superseded_id)")
    cursor.execute("CREATE INDEX temp.s_new_supersedence_update_ix ON s_new_supersedence (update_id)")
    cursor.execute("CREATE INDEX temp.s_new_bundles_bundle_ix ON s_new_bundles (bundle_id)")

    # Superseded updates expire N days after the release of the update that replaced them.
    expire_sql = "0"
    expire_params = []
    if options.expire_superseded_days is not None:
        cutoff = format_time(now - datetime.timedelta(days=options.expire_superseded_days))
        expire_sql = ("CASE WHEN EXISTS (SELECT 1 FROM s_new_supersedence e JOIN s_updates r "
                      "ON r.update_id = e.update_id WHERE e.superseded_id = s.update_id "
                      "AND r.release_date IS NOT NULL AND r.release_date <= ?) THEN 1 ELSE 0 END")
        expire_params = [cutoff]
    # A first sync into an empty store, one revision per update, no filters: every record is added as
    # it stands, so comparisons with the store and "winning revision" joins are skipped.
    fresh = (single_revisions and not conditions
             and cursor.execute("SELECT 1 FROM updates LIMIT 1").fetchone() is None)
    if fresh:
        cursor.execute("INSERT INTO s_status SELECT s.update_id, 'added', %s FROM s_updates s" % expire_sql,
                       expire_params)
    else:
        cursor.execute(
            "INSERT INTO s_status SELECT s.update_id, CASE "
            "WHEN o.update_id IS NULL THEN 'added' "
            "WHEN o.digest <> s.digest OR o.revision_number <> s.revision_number THEN 'modified' "
            "ELSE 'unchanged' END, %s "
            "FROM s_updates s JOIN s_keep k ON k.update_id = s.update_id "
            "LEFT JOIN updates o ON o.update_id = s.update_id" % expire_sql, expire_params)
        _mark_relationship_changes(cursor)

    newly_expired = ("SELECT update_id FROM s_status WHERE expire = 1 AND update_id IN "
                     "(SELECT update_id FROM updates WHERE expired_version IS NULL)")
    gone = ("SELECT update_id FROM updates WHERE source = ? AND expired_version IS NULL "
            "AND update_id NOT IN (SELECT update_id FROM s_keep)")
    added = _count_by_kind(cursor, "SELECT update_id FROM s_status WHERE status = 'added'")
    modified = _count_by_kind(cursor, "SELECT update_id FROM s_status WHERE status = 'modified'")
    expired_rows = cursor.execute(
        "SELECT kind, count(*) FROM updates WHERE update_id IN (%s UNION %s) GROUP BY kind" % (newly_expired, gone),
        (options.source,)).fetchall()
    expired = dict(expired_rows)
    total = cursor.execute("SELECT count(*) FROM s_keep").fetchone()[0]
    counts = {
        "staged": staged,
        "kept": total,
        "added": sum(added.values()),
        "modified": sum(modified.values()),
        "expired": sum(expired.values()),
        "dangling_revision_links": dangling_revisions,
        "by_kind": {kind: {"added": added.get(kind, 0), "modified": modified.get(kind, 0),
                           "expired": expired.get(kind, 0)}
                    for kind in sorted(set(added) | set(modified) | set(expired))},
    }
    changed = bool(counts["added"] or counts["modified"] or counts["expired"])
    result = {"changed": changed, "previous_version": previous, "catalog_version": previous, "counts": counts}
    if not changed:
        return result

    version = (previous or 0) + 1
    result["catalog_version"] = version
    cursor.execute(
        "INSERT INTO catalog_versions (version, created_at, source, format, source_path, source_sha256, "
        "package_created, updates_added, updates_modified, updates_expired, updates_total, languages) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (version, stamp, options.source, options.format, options.source_path, options.source_sha256,
         options.package_created, counts["added"], counts["modified"], counts["expired"], total,
         json.dumps([str(language).lower() for language in options.languages]) if options.languages else None))
    cursor.execute("UPDATE updates SET expired_version = ? WHERE update_id IN (%s UNION %s)"
                   % (newly_expired, gone), (version, options.source))
    _apply_changes(cursor, options, version, fresh)
    return result


def _mark_relationship_changes(cursor):
    """Updates whose supersedence or bundle edges changed, or that come back from expiry, are modified."""
    edge_changes = (
        "SELECT update_id FROM ("
        "SELECT update_id, superseded_id FROM s_new_supersedence EXCEPT "
        "SELECT e.update_id, e.superseded_id FROM update_supersedence e JOIN s_keep k ON k.update_id = e.update_id"
        ") a UNION SELECT update_id FROM ("
        "SELECT e.update_id, e.superseded_id FROM update_supersedence e JOIN s_keep k ON k.update_id = e.update_id "
        "EXCEPT SELECT update_id, superseded_id FROM s_new_supersedence) b "
        "UNION SELECT bundle_id FROM ("
        "SELECT bundle_id, member_id FROM s_new_bundles EXCEPT "
        "SELECT e.bundle_id, e.member_id FROM update_bundles e JOIN s_keep k ON k.update_id = e.bundle_id) c "
        "UNION SELECT bundle_id FROM ("
        "SELECT e.bundle_id, e.member_id FROM update_bundles e JOIN s_keep k ON k.update_id = e.bundle_id "
        "EXCEPT SELECT bundle_id, member_id FROM s_new_bundles) d")
    cursor.execute("UPDATE s_status SET status = 'modified' WHERE status = 'unchanged' AND update_id IN (%s)"
                   % edge_changes)
    # An update that comes back after expiry, or that no longer meets the expiry rule, is modified.
    cursor.execute("UPDATE s_status SET status = 'modified' WHERE status = 'unchanged' AND expire = 0 AND "
                   "update_id IN (SELECT update_id FROM updates WHERE expired_version IS NOT NULL)")


def _apply_changes(cursor, options, version, fresh):
    columns = ("revision_number, kind, category_type, title, kb, msrc_severity, release_date, reboot_behavior, "
               "impact, max_download_size, is_bundle, explicitly_deployable, support_url, default_language, "
               "security_bulletins, rules, digest")
    selected = ", ".join("d." + c.strip() for c in columns.split(","))
    if fresh:
        # Every staged record is a new update in its only revision: copy without joins, and build the
        # secondary indexes once at the end instead of row by row.
        for name in CATALOG_INDEXES:
            cursor.execute("DROP INDEX IF EXISTS %s" % name)
        winning = ""
        if options.expire_superseded_days is None:
            source = "FROM s_data d WHERE 1 = 1"
            expired = "NULL"
        else:
            source = "FROM s_data d JOIN s_status t ON t.update_id = d.update_id WHERE 1 = 1"
            expired = "CASE WHEN t.expire = 1 THEN ? ELSE NULL END"
    else:
        changed = "SELECT update_id FROM s_status WHERE status = 'modified'"  # added ones have no rows yet
        for table, key in (("update_titles", "update_id"), ("update_kbs", "update_id"),
                           ("update_categories", "update_id"), ("update_prerequisites", "update_id"),
                           ("update_bundles", "bundle_id"), ("update_supersedence", "update_id"),
                           ("update_files", "update_id"), ("update_languages", "update_id")):
            cursor.execute("DELETE FROM %s WHERE %s IN (%s)" % (table, key, changed))
        # The winning revision of every added or modified update: the rows to copy from staging.
        cursor.execute("INSERT INTO s_apply SELECT s.update_id, s.revision_number FROM s_updates s "
                       "JOIN s_status t ON t.update_id = s.update_id WHERE t.status IN ('added', 'modified')")
        winning = "JOIN s_apply w ON w.update_id = x.update_id AND w.revision_number = x.revision_number"
        source = ("FROM s_data d JOIN s_apply w ON w.update_id = d.update_id AND w.revision_number = d.revision_number "
                  "JOIN s_status t ON t.update_id = d.update_id WHERE 1 = 1")
        expired = "CASE WHEN t.expire = 1 THEN ? ELSE NULL END"
    assignments = ", ".join("%s = excluded.%s" % (c.strip(), c.strip()) for c in columns.split(","))
    params = [options.source, version, version] + ([version] if "?" in expired else [])
    cursor.execute(
        "INSERT INTO updates (update_id, source, %s, first_version, changed_version, expired_version) "
        "SELECT d.update_id, ?, %s, ?, ?, %s %s ORDER BY d.update_id "
        "ON CONFLICT (update_id) DO UPDATE SET source = excluded.source, %s, changed_version = excluded.changed_version, "
        "expired_version = CASE WHEN excluded.expired_version IS NULL THEN NULL "
        "ELSE coalesce(updates.expired_version, excluded.expired_version) END"
        % (columns, selected, expired, source, assignments), params)
    # Rows go in primary-key order: appending to a B-tree is far cheaper than inserting at random.
    cursor.execute("INSERT INTO update_titles SELECT x.update_id, x.language, x.title, x.description "
                   "FROM s_titles x %s WHERE 1 = 1 ORDER BY 1, 2 ON CONFLICT DO NOTHING" % winning)
    cursor.execute("INSERT INTO update_kbs SELECT x.update_id, x.kb FROM s_kbs x %s "
                   "WHERE 1 = 1 ORDER BY 1, 2 ON CONFLICT DO NOTHING" % winning)
    cursor.execute("INSERT INTO update_categories SELECT x.update_id, x.category_id FROM s_categories x %s "
                   "WHERE 1 = 1 ORDER BY 1, 2 ON CONFLICT DO NOTHING" % winning)
    cursor.execute("INSERT INTO update_prerequisites SELECT x.update_id, x.clause, x.prerequisite_id "
                   "FROM s_prereqs x %s WHERE 1 = 1 ORDER BY 1, 2, 3 ON CONFLICT DO NOTHING" % winning)
    for table, staged, key, other in (("update_supersedence", "s_new_supersedence", "update_id", "superseded_id"),
                                      ("update_bundles", "s_new_bundles", "bundle_id", "member_id")):
        join = "" if fresh else ("JOIN s_status t ON t.update_id = e.%s AND t.status IN ('added', 'modified')" % key)
        cursor.execute("INSERT INTO %s SELECT e.%s, e.%s FROM %s e %s WHERE 1 = 1 ORDER BY 1, 2 "
                       "ON CONFLICT DO NOTHING" % (table, key, other, staged, join))
    cursor.execute("INSERT INTO update_languages SELECT x.update_id, x.language FROM s_languages x %s "
                   "WHERE 1 = 1 ORDER BY 1, 2 ON CONFLICT DO NOTHING" % winning)
    cursor.execute("INSERT INTO update_files SELECT x.update_id, x.file_id, x.file_name FROM s_files x %s "
                   "WHERE 1 = 1 ORDER BY 1, 2 ON CONFLICT DO NOTHING" % winning)
    cursor.execute(
        "INSERT INTO files (file_id, sha1, sha256, size, modified) "
        "SELECT x.file_id, max(x.sha1), max(x.sha256), max(x.size), max(x.modified) FROM s_files x %s "
        "GROUP BY x.file_id ON CONFLICT (file_id) DO UPDATE SET "
        "sha1 = coalesce(excluded.sha1, files.sha1), sha256 = coalesce(excluded.sha256, files.sha256), "
        "size = coalesce(excluded.size, files.size), modified = coalesce(excluded.modified, files.modified)" % winning)
    if winning:
        cursor.execute("INSERT INTO file_urls SELECT u.file_id, u.url FROM s_urls u "
                       "WHERE u.file_id IN (SELECT file_id FROM s_files x %s) ON CONFLICT DO NOTHING" % winning)
    else:
        cursor.execute("INSERT INTO file_urls SELECT u.file_id, u.url FROM s_urls u "
                       "WHERE u.file_id IN (SELECT file_id FROM s_files) ON CONFLICT DO NOTHING")
    if fresh:
        for statement in CATALOG_INDEXES.values():
            cursor.execute(statement)
