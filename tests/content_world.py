"""A generated catalog with its payload files served over loopback, for the preparation and
distribution tests and the demo: the store holds the catalog; ``payloads`` holds every file under
its catalog URL's path, so nginx serving that folder answers the catalog's URLs through ``mirror_url``."""

import hashlib
import json
import os

from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import now_text

from tests.catalog_gen import generate
from tests.catalog_gen.store import sync_file


def content_world(folder, updates=400, seed=5):
    """``{"store", "payloads", "cab"}`` in ``folder`` (a new SQLite store with the catalog synced)."""
    os.makedirs(folder, exist_ok=True)
    cab = os.path.join(folder, "wsusscn2.cab")
    payloads = os.path.join(folder, "payloads")
    generate("offline_scan", cab, updates=updates, seed=seed, languages=("en",), payloads_dir=payloads,
             payload_layout="url")
    store_path = os.path.join(folder, "store.db")
    store = open_store(store_path)
    try:
        with open(cab, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
        # as catalog_sync records them: offline_scan_file stages the package, checked against its digest
        sync_file(store, cab, source_path=cab, source_sha256=digest)
    finally:
        store.close()
    return {"store": store_path, "payloads": payloads, "cab": cab}


def updates_with_files(store, limit, title_like="%Cumulative Update%"):
    """Ids of ``limit`` current updates whose files the catalog lists (directly), by title."""
    return [r["update_id"] for r in store.query(
        "SELECT DISTINCT u.update_id FROM updates u JOIN update_files x ON x.update_id = u.update_id "
        "WHERE u.expired_version IS NULL AND u.title LIKE ? ORDER BY u.update_id LIMIT ?", (title_like, limit))]


def freeze_rows(store, name, update_ids, version=1):
    """A frozen version of an update list written straight into the store (for tests that do not
    exercise the update_list module itself)."""
    stamp = now_text()
    with store.transaction() as cursor:
        if version == 1:
            cursor.execute("INSERT INTO update_lists (name, description, definition, created_at, updated_at) "
                           "VALUES (?, NULL, '{}', ?, ?)", (name, stamp, stamp))
        cursor.execute("INSERT INTO update_list_versions (list_name, version, catalog_version, content_hash, definition, "
                       "added, removed, created_at) VALUES (?, ?, 1, ?, '{}', ?, '[]', ?)",
                       (name, version, "h%d" % version, json.dumps(update_ids), stamp))
        cursor.executemany("INSERT INTO update_list_members (list_name, version, update_id, revision_number) "
                           "VALUES (?, ?, ?, 100)", [(name, version, uid) for uid in update_ids])
