# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Queries over the catalog in the store: filters in, plain dicts out.

One filter shape serves ``catalog_info`` now and update lists and compliance later
(``UpdateFilter``), so "which updates" means the same thing everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import (
    normalize_date,
    normalize_guid,
    normalize_kb,
)

_CHUNK = 500

# An update is superseded when a current (not expired) update of the catalog supersedes it.
_SUPERSEDED_SQL = ("EXISTS (SELECT 1 FROM update_supersedence s JOIN updates r ON r.update_id = s.update_id "
                   "WHERE s.superseded_id = u.update_id AND r.expired_version IS NULL)")


@dataclass
class UpdateFilter:
    """Which updates: every field narrows the selection; empty fields do not filter."""

    update_ids: tuple = ()
    kbs: tuple = ()
    products: tuple = ()
    classifications: tuple = ()
    severities: tuple = ()
    title: str | None = None
    released_after: str | None = None
    released_before: str | None = None
    superseded: bool | None = None
    kinds: tuple = ("software",)
    include_expired: bool = False
    include_bundle_members: bool = False
    extra: dict = field(default_factory=dict)


def validate_filter(update_filter):
    """Normalise a filter's values; raise ValueError naming the bad value."""
    update_filter.update_ids = tuple(normalize_guid(u) for u in update_filter.update_ids)
    update_filter.kbs = tuple(normalize_kb(k) for k in update_filter.kbs)
    if update_filter.released_after:
        update_filter.released_after = normalize_date(update_filter.released_after, "released_after")
    if update_filter.released_before:
        update_filter.released_before = normalize_date(update_filter.released_before, "released_before")
    return update_filter


def _category_ids(store, names):
    """Category ids for GUIDs or titles; unknown names yield nothing (the caller reports them)."""
    ids = set()
    unknown = []
    for name in names:
        text = str(name).strip().lower()
        rows = store.query(
            "SELECT update_id FROM updates WHERE kind = 'category' AND (update_id = ? OR lower(title) = ?) "
            "UNION SELECT t.update_id FROM update_titles t JOIN updates u ON u.update_id = t.update_id "
            "WHERE u.kind = 'category' AND lower(t.title) = ?", (text, text, text))
        if not rows:
            unknown.append(name)
        ids.update(r["update_id"] for r in rows)
    return ids, unknown


def _like_pattern(title):
    """A shell-style pattern ('*Server 2022*') as SQL LIKE; without wildcards, a substring match."""
    escaped = title.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if "*" not in title and "?" not in title:
        return "%" + escaped + "%"
    return escaped.replace("*", "%").replace("?", "_")


def select_update_ids(store, update_filter, limit=None):
    """Return ``(update_ids, unknown_names)`` matching the filter, newest release first."""
    clauses = []
    params = []
    unknown = []
    if update_filter.kinds:
        clauses.append("u.kind IN (%s)" % ",".join("?" * len(update_filter.kinds)))
        params.extend(update_filter.kinds)
    if not update_filter.include_expired:
        clauses.append("u.expired_version IS NULL")
    if not update_filter.include_bundle_members and not update_filter.update_ids:
        clauses.append("NOT EXISTS (SELECT 1 FROM update_bundles b WHERE b.member_id = u.update_id)")
    if update_filter.update_ids:
        clauses.append("u.update_id IN (%s)" % ",".join("?" * len(update_filter.update_ids)))
        params.extend(update_filter.update_ids)
    if update_filter.kbs:
        clauses.append("u.update_id IN (SELECT update_id FROM update_kbs WHERE kb IN (%s))"
                       % ",".join("?" * len(update_filter.kbs)))
        params.extend(update_filter.kbs)
    for names in (update_filter.products, update_filter.classifications):
        if not names:
            continue
        ids, missing = _category_ids(store, names)
        unknown.extend(missing)
        clauses.append("u.update_id IN (SELECT update_id FROM update_categories WHERE category_id IN (%s))"
                       % (",".join("?" * len(ids)) or "NULL"))
        params.extend(sorted(ids))
    if update_filter.severities:
        clauses.append("lower(coalesce(u.msrc_severity, 'unspecified')) IN (%s)"
                       % ",".join("?" * len(update_filter.severities)))
        params.extend(s.lower() for s in update_filter.severities)
    if update_filter.title:
        clauses.append("(lower(u.title) LIKE ? ESCAPE '\\' OR u.update_id IN (SELECT update_id FROM update_titles "
                       "WHERE lower(title) LIKE ? ESCAPE '\\'))")
        pattern = _like_pattern(update_filter.title.lower())
        params.extend([pattern, pattern])
    if update_filter.released_after:
        clauses.append("u.release_date >= ?")
        params.append(update_filter.released_after)
    if update_filter.released_before:
        clauses.append("u.release_date <= ?")
        params.append(update_filter.released_before)
    if update_filter.superseded is not None:
        clauses.append(_SUPERSEDED_SQL if update_filter.superseded else "NOT " + _SUPERSEDED_SQL)
    sql = "SELECT u.update_id FROM updates u"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    # NULLs placed explicitly: SQLite and PostgreSQL disagree on where they sort by default.
    sql += " ORDER BY u.release_date DESC NULLS LAST, u.title NULLS FIRST, u.update_id"
    if limit:
        sql += " LIMIT %d" % int(limit)
    return [r["update_id"] for r in store.query(sql, params)], unknown


def _chunks(values):
    values = list(values)
    for start in range(0, len(values), _CHUNK):
        yield values[start:start + _CHUNK]


def _related(store, sql, ids):
    rows = []
    for chunk in _chunks(ids):
        rows.extend(store.query(sql % ",".join("?" * len(chunk)), chunk))
    return rows


def superseded_ids(store, update_ids):
    """The ids among ``update_ids`` that are superseded (the ``superseded`` filter's meaning)."""
    return {r["update_id"] for r in _related(
        store, "SELECT u.update_id FROM updates u WHERE u.update_id IN (%%s) AND %s" % _SUPERSEDED_SQL, update_ids)}


def describe_updates(store, update_ids, languages=("en",)):
    """Full descriptions of the given updates, in the given order, with relationships both ways."""
    if not update_ids:
        return []
    base = {r["update_id"]: r for r in _related(store, "SELECT * FROM updates WHERE update_id IN (%s)", update_ids)}
    described = {}
    for uid in update_ids:
        row = base.get(uid)
        if row is None:
            continue
        described[uid] = {
            "update_id": uid,
            "revision_number": row["revision_number"],
            "title": row["title"],
            "titles": {},
            "description": None,
            "kind": row["kind"],
            "category_type": row["category_type"],
            "kb": row["kb"],
            "kbs": [],
            "msrc_severity": row["msrc_severity"],
            "release_date": row["release_date"],
            "reboot_behavior": row["reboot_behavior"],
            "impact": row["impact"],
            "max_download_size": row["max_download_size"],
            "is_bundle": bool(row["is_bundle"]),
            "support_url": row["support_url"],
            "security_bulletins": row["security_bulletins"].split(",") if row["security_bulletins"] else [],
            "source": row["source"],
            "first_catalog_version": row["first_version"],
            "changed_catalog_version": row["changed_version"],
            "expired": row["expired_version"] is not None,
            "expired_catalog_version": row["expired_version"],
            "products": [],
            "classifications": [],
            "categories": [],
            "prerequisites": [],
            "bundled_updates": [],
            "bundled_by": [],
            "supersedes": [],
            "superseded_by": [],
            "files": [],
        }
    ids = list(described)
    for r in _related(store, "SELECT update_id, language, title, description FROM update_titles "
                             "WHERE update_id IN (%s)", ids):
        entry = described[r["update_id"]]
        if r["title"] is not None:
            entry["titles"][r["language"]] = r["title"]
        if r["description"] and (entry["description"] is None or r["language"] == languages[0]):
            entry["description"] = r["description"]
    for r in _related(store, "SELECT update_id, kb FROM update_kbs WHERE update_id IN (%s) ORDER BY kb", ids):
        described[r["update_id"]]["kbs"].append(r["kb"])
    for r in _related(store, "SELECT c.update_id, c.category_id, k.title, k.category_type FROM update_categories c "
                             "LEFT JOIN updates k ON k.update_id = c.category_id WHERE c.update_id IN (%s) "
                             "ORDER BY k.title NULLS FIRST", ids):
        entry = described[r["update_id"]]
        category = {"id": r["category_id"], "title": r["title"], "type": r["category_type"]}
        entry["categories"].append(category)
        if r["category_type"] == "Product":
            entry["products"].append({"id": r["category_id"], "title": r["title"]})
        elif r["category_type"] == "UpdateClassification":
            entry["classifications"].append({"id": r["category_id"], "title": r["title"]})
    clauses = {}
    for r in _related(store, "SELECT update_id, clause, prerequisite_id FROM update_prerequisites "
                             "WHERE update_id IN (%s) ORDER BY clause, prerequisite_id", ids):
        clauses.setdefault(r["update_id"], {}).setdefault(r["clause"], []).append(r["prerequisite_id"])
    for uid, numbered in clauses.items():
        described[uid]["prerequisites"] = [numbered[n] for n in sorted(numbered)]
    _links(store, described, ids, "update_bundles", "bundle_id", "member_id", "bundled_updates", "bundled_by")
    _links(store, described, ids, "update_supersedence", "update_id", "superseded_id", "supersedes", "superseded_by")
    _files(store, described, ids)
    return [described[uid] for uid in update_ids if uid in described]


def _links(store, described, ids, table, forward, backward, forward_key, backward_key):
    """Relationship edges both ways, each end with its title and whether the store has it."""
    for r in _related(store, "SELECT e.%s AS a, e.%s AS b, t.title AS title, t.kb AS kb, "
                             "CASE WHEN t.update_id IS NULL THEN 0 ELSE 1 END AS present "
                             "FROM %s e LEFT JOIN updates t ON t.update_id = e.%s WHERE e.%s IN (%%s) ORDER BY e.%s"
                             % (forward, backward, table, backward, forward, backward), ids):
        described[r["a"]][forward_key].append({"update_id": r["b"], "title": r["title"], "kb": r["kb"],
                                               "in_catalog": bool(r["present"])})
    for r in _related(store, "SELECT e.%s AS a, e.%s AS b, t.title AS title, t.kb AS kb FROM %s e "
                             "LEFT JOIN updates t ON t.update_id = e.%s WHERE e.%s IN (%%s) ORDER BY e.%s"
                             % (backward, forward, table, forward, backward, forward), ids):
        described[r["a"]][backward_key].append({"update_id": r["b"], "title": r["title"], "kb": r["kb"],
                                                "in_catalog": True})


def _files(store, described, ids):
    """Files of an update, and of the updates it bundles (a bundle's payload lives in its members)."""
    owners = {uid: [uid] for uid in ids}
    for r in _related(store, "SELECT bundle_id, member_id FROM update_bundles WHERE bundle_id IN (%s)", ids):
        owners[r["bundle_id"]].append(r["member_id"])
    holders = {}
    for uid, members in owners.items():
        for member in members:
            holders.setdefault(member, []).append(uid)
    rows = _related(store, "SELECT x.update_id, x.file_id, x.file_name, f.sha1, f.sha256, f.size, f.modified "
                           "FROM update_files x JOIN files f ON f.file_id = x.file_id WHERE x.update_id IN (%s) "
                           "ORDER BY x.file_name", list(holders))
    urls = {}
    for r in _related(store, "SELECT file_id, url FROM file_urls WHERE file_id IN (%s) ORDER BY url",
                      list({r["file_id"] for r in rows})):
        urls.setdefault(r["file_id"], []).append(r["url"])
    for r in rows:
        for uid in holders[r["update_id"]]:
            described[uid]["files"].append({
                "name": r["file_name"], "sha1": r["sha1"], "sha256": r["sha256"], "size": r["size"],
                "modified": r["modified"], "urls": urls.get(r["file_id"], []),
                "from_update": r["update_id"],
            })


CURRENT_VERSION_SQL = "SELECT max(version) AS v FROM catalog_versions"


def current_version(store):
    """The newest catalog version in the store (None before the first sync)."""
    return store.query(CURRENT_VERSION_SQL)[0]["v"]


def catalog_versions(store, limit=None):
    sql = "SELECT * FROM catalog_versions ORDER BY version DESC"
    if limit:
        sql += " LIMIT %d" % int(limit)
    return store.query(sql)
