# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Catalog records as staging rows: plain tuples built without a database, so reader processes can build them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import CatalogUpdate

STAGING = {
    # Narrow and keyed: what the merge joins on. The wide columns go to s_data, append-only.
    "s_updates": "update_id TEXT PRIMARY KEY, revision_number INTEGER, revision_id INTEGER, kind TEXT, "
                 "release_date TEXT, digest TEXT",
    "s_data": "update_id TEXT, revision_number INTEGER, kind TEXT, category_type TEXT, title TEXT, kb TEXT, "
              "msrc_severity TEXT, release_date TEXT, reboot_behavior TEXT, impact TEXT, max_download_size BIGINT, "
              "is_bundle INTEGER, explicitly_deployable INTEGER, support_url TEXT, default_language TEXT, "
              "security_bulletins TEXT, rules TEXT, digest TEXT",
    "s_titles": "update_id TEXT, revision_number INTEGER, language TEXT, title TEXT, description TEXT",
    "s_kbs": "update_id TEXT, revision_number INTEGER, kb TEXT",
    "s_categories": "update_id TEXT, revision_number INTEGER, category_id TEXT",
    "s_prereqs": "update_id TEXT, revision_number INTEGER, clause INTEGER, prerequisite_id TEXT",
    "s_bundles": "bundle_id TEXT, revision_number INTEGER, member_id TEXT",
    "s_supersedes": "update_id TEXT, revision_number INTEGER, superseded_id TEXT",
    "s_rev_links": "update_id TEXT, revision_number INTEGER, link TEXT, rev_id INTEGER",
    "s_files": "update_id TEXT, revision_number INTEGER, file_id TEXT, file_name TEXT, sha1 TEXT, "
               "sha256 TEXT, size BIGINT, modified TEXT",
    "s_urls": "file_id TEXT, url TEXT",
    "s_languages": "update_id TEXT, revision_number INTEGER, language TEXT",
    "s_keep": "update_id TEXT PRIMARY KEY",
    "s_status": "update_id TEXT PRIMARY KEY, status TEXT, expire INTEGER",
    "s_apply": "update_id TEXT, revision_number INTEGER, PRIMARY KEY (update_id, revision_number)",
    "s_new_supersedence": "update_id TEXT, superseded_id TEXT",
    "s_new_bundles": "bundle_id TEXT, member_id TEXT",
}


def file_id_for(update_file):
    """Files are identified by SHA-1 (as Microsoft's metadata does), else by SHA-256."""
    if update_file.sha1:
        return update_file.sha1
    if update_file.sha256:
        return "sha256:" + update_file.sha256
    return None


_NOT_CONTENT = ("revision_id", "superseded_by_revision_ids", "bundled_by_revision_ids")


def record_digest(record):
    """A digest of everything a record says, except package-local RevisionIds.

    The repr of plain data is deterministic for a given reader and input, and far cheaper than
    JSON; a reader that changed its field order would at worst mark updates modified once.
    """
    content = record.__dict__.copy()
    for name in _NOT_CONTENT:
        del content[name]
    if not record.languages:
        # Language-neutral records keep the digest they had before languages were read, so
        # upgrading does not mark every update modified.
        del content["languages"]
    content["files"] = [f.__dict__ for f in record.files]
    return hashlib.blake2b(repr(sorted(content.items())).encode("utf-8"), digest_size=20).hexdigest()


def _preferred(mapping, languages, default_language):
    for language in tuple(languages) + ((default_language,) if default_language else ()):
        if language in mapping:
            return mapping[language]
    for language in sorted(mapping):
        return mapping[language]
    return None


@dataclass
class RowBatch:
    """Staging rows already built from ``count`` records (by a reader process, see _catalog_parallel)."""

    rows: dict
    count: int


class RowBuilder:
    """Turns records into staging rows (plain tuples): no database needed, so it can run anywhere."""

    def __init__(self, languages):
        self.languages = tuple(languages)
        self.rows = {name: [] for name in STAGING}
        self.count = 0

    def take(self):
        """The rows built so far, as a batch; the builder starts empty again."""
        batch = RowBatch({name: rows for name, rows in self.rows.items() if rows}, self.count)
        self.rows = {name: [] for name in STAGING}
        self.count = 0
        return batch

    def add(self, record):
        if not isinstance(record, CatalogUpdate):
            raise TypeError("not a catalog record: %r" % (record,))
        rows = self.rows
        uid, rev = record.update_id, record.revision_number
        titles, descriptions = record.titles, record.descriptions
        digest = record_digest(record)
        rows["s_updates"].append((uid, rev, record.revision_id, record.kind, record.release_date, digest))
        rows["s_data"].append((
            uid, rev, record.kind, record.category_type,
            _preferred(titles, self.languages, record.default_language),
            record.kb_articles[0] if record.kb_articles else None,
            record.msrc_severity, record.release_date, record.reboot_behavior, record.impact,
            record.max_download_size, 1 if record.is_bundle else 0,
            None if record.explicitly_deployable is None else int(bool(record.explicitly_deployable)),
            record.support_url, record.default_language,
            ",".join(record.security_bulletins) or None,
            json.dumps(record.rules, sort_keys=True) if record.rules else None,
            digest,
        ))
        languages = titles.keys() | descriptions.keys() if descriptions else titles.keys()
        rows["s_titles"].extend((uid, rev, language, titles.get(language), descriptions.get(language))
                                for language in languages)
        if record.kb_articles:
            rows["s_kbs"].extend((uid, rev, kb) for kb in record.kb_articles)
        rows["s_categories"].extend((uid, rev, category_id) for category_id in record.categories)
        if record.prerequisites:
            rows["s_prereqs"].extend((uid, rev, number, prerequisite_id)
                                     for number, clause in enumerate(record.prerequisites)
                                     for prerequisite_id in clause)
        if record.bundled_updates:
            rows["s_bundles"].extend((uid, rev, member_id) for member_id in record.bundled_updates)
        if record.supersedes:
            rows["s_supersedes"].extend((uid, rev, superseded_id) for superseded_id in record.supersedes)
        if record.superseded_by_revision_ids:
            rows["s_rev_links"].extend((uid, rev, "superseded_by", rev_id)
                                       for rev_id in record.superseded_by_revision_ids)
        if record.bundled_by_revision_ids:
            rows["s_rev_links"].extend((uid, rev, "bundled_by", rev_id) for rev_id in record.bundled_by_revision_ids)
        if record.languages:
            rows["s_languages"].extend((uid, rev, language) for language in record.languages)
        for update_file in record.files:
            file_id = file_id_for(update_file)
            if file_id is None:
                continue
            rows["s_files"].append((uid, rev, file_id, update_file.name, update_file.sha1, update_file.sha256,
                                    update_file.size, update_file.modified))
            if update_file.urls:
                rows["s_urls"].extend((file_id, url) for url in update_file.urls)
        self.count += 1

    def add_location(self, location):
        self.rows["s_urls"].append((location.file_id, location.url))
