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

import difflib
from dataclasses import dataclass, field

from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import (
    normalize_date,
    normalize_guid,
    normalize_kb,
)

_CHUNK = 500

# Superseded by any current (not expired) update of the catalog, whether a set selects it or not.
_SUPERSEDED_SQL = ("EXISTS (SELECT 1 FROM update_supersedence s JOIN updates r ON r.update_id = s.update_id "
                   "WHERE s.superseded_id = u.update_id AND r.expired_version IS NULL)")

# Microsoft's optional (non-security) preview releases, by title in any kept language: the monthly
# "Cumulative Update Preview" of Windows and .NET, the older "Preview of Monthly Quality Rollup" /
# "Preview of Quality Rollup", and the German "Kumulatives Update (Vorschau)". A preview carries no MSRC severity; an update
# with one is never taken for a preview, whatever its title.
PREVIEW_TITLE_PATTERNS = (
    "*Cumulative Update Preview*",
    "*Preview of *Quality Rollup*",
    "*Kumulatives Update (Vorschau)*",
)

_KB_PATTERN_CHARS = frozenset("0123456789*?")


@dataclass
class UpdateFilter:
    """Which updates: every field narrows the selection; empty fields do not filter.

    ``previews``: None leaves Microsoft's optional previews out unless the filter names updates by
    ``update_ids`` or ``kbs``; True keeps them, False always leaves them out. ``superseded`` is
    decided within the selection: False drops what another selected update supersedes.
    """

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
    previews: bool | None = None
    exclude_titles: tuple = ()
    exclude_kbs: tuple = ()
    extra: dict = field(default_factory=dict)


def normalize_kb_pattern(value):
    """A KB pattern ('KB50466*', '5046616', 'kb5?46616') as digits and wildcards, or raise ValueError."""
    text = str(value).strip()
    if text[:2].lower() == "kb":
        text = text[2:]
    if not text or not set(text) <= _KB_PATTERN_CHARS:
        raise ValueError("exclude_kbs: %r is not a KB number or pattern (digits, * and ?, optionally after KB)"
                         % (value,))
    return text


def validate_filter(update_filter):
    """Normalise a filter's values; raise ValueError naming the bad value."""
    update_filter.update_ids = tuple(normalize_guid(u) for u in update_filter.update_ids)
    update_filter.kbs = tuple(normalize_kb(k) for k in update_filter.kbs)
    update_filter.exclude_kbs = tuple(normalize_kb_pattern(k) for k in update_filter.exclude_kbs)
    titles = tuple(str(t) for t in update_filter.exclude_titles)
    if any(not t.strip() for t in titles):
        raise ValueError("exclude_titles: an empty pattern would exclude every update")
    update_filter.exclude_titles = titles
    if update_filter.released_after:
        update_filter.released_after = normalize_date(update_filter.released_after, "released_after")
    if update_filter.released_before:
        update_filter.released_before = normalize_date(update_filter.released_before, "released_before")
    return update_filter


_CATEGORY_SQL = ("SELECT update_id FROM updates WHERE kind = 'category' AND (update_id = ? OR lower(title) = ?) "
                 "UNION SELECT t.update_id FROM update_titles t JOIN updates u ON u.update_id = t.update_id "
                 "WHERE u.kind = 'category' AND lower(t.title) = ?")


def _category_ids(store, names):
    """Category ids for GUIDs or titles; unknown names yield nothing (the caller reports them)."""
    ids = set()
    unknown = []
    for name in names:
        text = str(name).strip().lower()
        rows = store.query(_CATEGORY_SQL, (text, text, text))
        if not rows:
            unknown.append(name)
        ids.update(r["update_id"] for r in rows)
    return ids, unknown


# What each category option names, for the suggestions of an unknown name.
_CATEGORY_OPTIONS = (("products", "product", ("Product", "ProductFamily")),
                     ("classifications", "classification", ("UpdateClassification",)))


def _category_names(store, types):
    """Titles of the catalog's categories of these types, with their descriptions (any language)."""
    rows = store.query(
        "SELECT u.update_id, u.title AS title, t.title AS other, t.description AS description FROM updates u "
        "LEFT JOIN update_titles t ON t.update_id = u.update_id WHERE u.kind = 'category' AND u.category_type IN (%s) "
        "ORDER BY u.title" % ",".join("?" * len(types)), list(types))
    names = {}
    for r in rows:
        entry = names.setdefault(r["update_id"], {"title": r["title"], "texts": set()})
        for text in (r["title"], r["other"], r["description"]):
            if text:
                entry["texts"].add(text.lower())
    return sorted((e for e in names.values() if e["title"]), key=lambda e: e["title"].lower())


def closest_category_names(store, name, types, count=4):
    """The catalog's category titles closest to ``name``: first those whose title or description
    contains it (the 21H2 product's description names "Windows Server 2022"), then difflib's."""
    wanted = str(name).strip().lower()
    entries = _category_names(store, types)
    found = [e["title"] for e in entries if wanted and any(wanted in text for text in e["texts"])]
    by_lower = {}
    for entry in entries:
        for text in entry["texts"]:
            if len(text) <= 120:  # titles and short names, not long descriptions
                by_lower.setdefault(text, entry["title"])
    for match in difflib.get_close_matches(wanted, list(by_lower), n=count * 2, cutoff=0.6):
        found.append(by_lower[match])
    unique = []
    for title in found:
        if title not in unique:
            unique.append(title)
    return unique[:count]


def unknown_category_messages(store, update_filter):
    """One message per product or classification of the filter that the catalog does not know,
    with the closest names it does know; empty when every name is known."""
    messages = []
    for option, noun, types in _CATEGORY_OPTIONS:
        for name in _category_ids(store, getattr(update_filter, option))[1]:
            close = closest_category_names(store, name, types)
            if close:
                hint = "closest in the catalog: %s" % ", ".join(repr(c) for c in close)
            else:
                hint = "nothing in the catalog is close; catalog_info with kinds: [category] lists the names"
            messages.append("unknown product or classification %r (a %s name; %s)" % (str(name), noun, hint))
    return messages


def _like_pattern(title):
    """A shell-style pattern ('*Server 2022*') as SQL LIKE; without wildcards, a substring match."""
    escaped = title.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if "*" not in title and "?" not in title:
        return "%" + escaped + "%"
    return escaped.replace("*", "%").replace("?", "_")


def _title_matches(alias, patterns):
    """SQL true when the update's title, in any kept language, matches one of the patterns."""
    sql = []
    params = []
    for pattern in patterns:
        like = _like_pattern(pattern.lower())
        sql.append("lower(%s.title) LIKE ? ESCAPE '\\' OR %s.update_id IN (SELECT update_id FROM update_titles "
                   "WHERE lower(title) LIKE ? ESCAPE '\\')" % (alias, alias))
        params.extend([like, like])
    return "(" + " OR ".join(sql) + ")", params


def excludes_previews(update_filter):
    """Whether the filter leaves Microsoft's optional previews out (see ``UpdateFilter``)."""
    if update_filter.previews is None:
        return not update_filter.update_ids and not update_filter.kbs
    return not update_filter.previews


def _set_clauses(update_filter, alias, category_ids):
    """The filter without its supersedence rule, as SQL over ``updates`` aliased ``alias``."""
    clauses = []
    params = []
    if update_filter.kinds:
        clauses.append("%s.kind IN (%s)" % (alias, ",".join("?" * len(update_filter.kinds))))
        params.extend(update_filter.kinds)
    if not update_filter.include_expired:
        clauses.append("%s.expired_version IS NULL" % alias)
    if not update_filter.include_bundle_members and not update_filter.update_ids:
        clauses.append("NOT EXISTS (SELECT 1 FROM update_bundles b WHERE b.member_id = %s.update_id)" % alias)
    if update_filter.update_ids:
        clauses.append("%s.update_id IN (%s)" % (alias, ",".join("?" * len(update_filter.update_ids))))
        params.extend(update_filter.update_ids)
    if update_filter.kbs:
        clauses.append("%s.update_id IN (SELECT update_id FROM update_kbs WHERE kb IN (%s))"
                       % (alias, ",".join("?" * len(update_filter.kbs))))
        params.extend(update_filter.kbs)
    for ids in category_ids:
        clauses.append("%s.update_id IN (SELECT update_id FROM update_categories WHERE category_id IN (%s))"
                       % (alias, ",".join("?" * len(ids)) or "NULL"))
        params.extend(sorted(ids))
    if update_filter.severities:
        clauses.append("lower(coalesce(%s.msrc_severity, 'unspecified')) IN (%s)"
                       % (alias, ",".join("?" * len(update_filter.severities))))
        params.extend(s.lower() for s in update_filter.severities)
    if update_filter.title:
        sql, more = _title_matches(alias, [update_filter.title])
        clauses.append(sql)
        params.extend(more)
    if update_filter.released_after:
        clauses.append("%s.release_date >= ?" % alias)
        params.append(update_filter.released_after)
    if update_filter.released_before:
        clauses.append("%s.release_date <= ?" % alias)
        params.append(update_filter.released_before)
    if excludes_previews(update_filter):
        sql, more = _title_matches(alias, PREVIEW_TITLE_PATTERNS)
        clauses.append("NOT (%s.msrc_severity IS NULL AND %s)" % (alias, sql))
        params.extend(more)
    if update_filter.exclude_titles:
        sql, more = _title_matches(alias, update_filter.exclude_titles)
        clauses.append("NOT " + sql)
        params.extend(more)
    if update_filter.exclude_kbs:
        # KB patterns match the whole number: '504*' is every KB that starts with 504.
        clauses.append("NOT EXISTS (SELECT 1 FROM update_kbs x WHERE x.update_id = %s.update_id AND (%s))"
                       % (alias, " OR ".join("x.kb LIKE ?" for _pattern in update_filter.exclude_kbs)))
        params.extend(p.replace("*", "%").replace("?", "_") for p in update_filter.exclude_kbs)
    return clauses, params


def select_update_ids(store, update_filter, limit=None):
    """Return ``(update_ids, unknown_names)`` matching the filter, newest release first.

    ``superseded`` is decided within the selection: the set is the filter without it, then
    ``False`` drops the members another member supersedes (``True`` keeps only those), so an update
    superseded only by one the filter leaves out (this month's optional preview) stays. The limit
    applies after that.
    """
    unknown = []
    category_ids = []
    for names in (update_filter.products, update_filter.classifications):
        if names:
            ids, missing = _category_ids(store, names)
            unknown.extend(missing)
            category_ids.append(ids)
    clauses, params = _set_clauses(update_filter, "u", category_ids)
    sql = "SELECT u.update_id FROM updates u"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    # NULLs placed explicitly: SQLite and PostgreSQL disagree on where they sort by default.
    sql += " ORDER BY u.release_date DESC NULLS LAST, u.title NULLS FIRST, u.update_id"
    if limit and update_filter.superseded is None:
        sql += " LIMIT %d" % int(limit)
    ids = [r["update_id"] for r in store.query(sql, params)]
    if update_filter.superseded is not None:
        members = set(ids)
        replaced = {r["superseded_id"] for r in _related(
            store, "SELECT update_id, superseded_id FROM update_supersedence WHERE update_id IN (%s)", ids)
            if r["superseded_id"] in members and r["superseded_id"] != r["update_id"]}
        ids = [uid for uid in ids if (uid in replaced) == update_filter.superseded]
        if limit:
            ids = ids[:int(limit)]
    return ids, unknown


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
    """The ids among ``update_ids`` that any current update of the catalog supersedes."""
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
