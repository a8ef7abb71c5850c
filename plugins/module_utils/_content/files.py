# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""The payload files of a set of updates, read from the store as plain download records.

Read-only SQL over the catalog tables (``updates``, ``update_bundles``, ``update_files``,
``update_languages``, ``files``, ``file_urls``) through ``store.query``, so it runs the same on
both backends. A bundle's payload lives in its members: asking for a bundle gives its members'
files, each named with the bundle asked for (``update_id``) and the member that carries it
(``from_update``). Language-specific payloads are members of their own that name their languages
(``update_languages``); a member without languages is language-neutral. Digests come out as
lowercase hex (the store keeps them base64, as Microsoft's metadata does).
"""

from __future__ import annotations

from ansible_collections.patchwave.windows.plugins.module_utils._content.payload import ContentError, hex_digest

_CHUNK = 500


def _rows(store, sql, ids):
    rows = []
    ids = list(ids)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        rows.extend(store.query(sql % ",".join("?" * len(chunk)), chunk))
    return rows


def files_for_updates(store, update_ids, languages=None):
    """Download records for every file the given updates need, ordered by update then file name::

        {"update_id", "kb", "title", "from_update", "file_name", "sha1", "sha256", "size", "urls"}

    ``sha1``/``sha256`` are lowercase hex or None, ``urls`` the catalog's URLs (sorted). An update id
    the catalog does not hold gives no records; ``missing_updates`` says which. ``languages`` (codes,
    any case; None: every language) leaves out the files of the updates and bundle members whose
    languages are all outside it; language-neutral ones are always kept.
    """
    ids = list(dict.fromkeys(update_ids))
    holders = {uid: [uid] for uid in ids}
    for row in _rows(store, "SELECT bundle_id, member_id FROM update_bundles WHERE bundle_id IN (%s) "
                            "ORDER BY bundle_id, member_id", ids):
        holders[row["bundle_id"]].append(row["member_id"])
    carriers = sorted({member for members in holders.values() for member in members})
    if languages is not None:
        wanted = {str(language).lower() for language in languages}
        languages_of = {}
        for row in _rows(store, "SELECT update_id, language FROM update_languages WHERE update_id IN (%s)", carriers):
            languages_of.setdefault(row["update_id"], set()).add(row["language"])
        other_language = {uid for uid, codes in languages_of.items() if not codes & wanted}
        if other_language:
            holders = {uid: [m for m in members if m not in other_language] for uid, members in holders.items()}
            carriers = [uid for uid in carriers if uid not in other_language]
    files_by_update = {}
    for row in _rows(store, "SELECT x.update_id, x.file_id, x.file_name, f.sha1, f.sha256, f.size "
                            "FROM update_files x JOIN files f ON f.file_id = x.file_id "
                            "WHERE x.update_id IN (%s)", carriers):
        files_by_update.setdefault(row["update_id"], []).append(row)
    urls = {}
    file_ids = sorted({row["file_id"] for rows in files_by_update.values() for row in rows})
    for row in _rows(store, "SELECT file_id, url FROM file_urls WHERE file_id IN (%s)", file_ids):
        urls.setdefault(row["file_id"], []).append(row["url"])
    described = {row["update_id"]: row for row in _rows(
        store, "SELECT update_id, kb, title FROM updates WHERE update_id IN (%s)", ids)}
    records = []
    for uid in ids:
        if uid not in described:
            continue
        rows = [(member, row) for member in holders[uid] for row in files_by_update.get(member, ())]
        for member, row in sorted(rows, key=lambda pair: (pair[1]["file_name"], pair[0])):
            records.append({
                "update_id": uid, "kb": described[uid]["kb"], "title": described[uid]["title"],
                "from_update": member, "file_name": row["file_name"],
                "sha1": _digest(row, "sha1", uid), "sha256": _digest(row, "sha256", uid),
                "size": row["size"], "urls": sorted(urls.get(row["file_id"], ())),
            })
    return records


def _digest(row, algorithm, update_id):
    try:
        return hex_digest(row[algorithm], algorithm)
    except ValueError as exc:
        raise ContentError("update %s, file %r: the store's %s is unreadable: %s"
                           % (update_id, row["file_name"], algorithm.upper(), exc)) from None


def missing_updates(store, update_ids):
    """The ids among ``update_ids`` that the catalog in the store does not hold."""
    ids = list(dict.fromkeys(update_ids))
    present = {row["update_id"] for row in _rows(store, "SELECT update_id FROM updates WHERE update_id IN (%s)", ids)}
    return [uid for uid in ids if uid not in present]
