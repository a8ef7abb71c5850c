"""Generated catalogs into stores: the setup many tests and benchmarks share."""

from __future__ import annotations

import os

from ansible_collections.patchwave.windows.plugins.module_utils._catalog.source import open_source
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.sync import SyncOptions, sync_records
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store

from . import generate


def sync_file(store, path, languages=("en",), **options):
    """Sync the catalog at ``path`` into an open store (generated catalogs are unsigned); return
    the sync result. ``options`` go to SyncOptions."""
    with open_source(path, verify_signature=False, languages=languages) as (info, records):
        return sync_records(store, records, SyncOptions(source=info["source"], format=info["format"],
                                                        languages=languages, **options))


def generated_store(folder, updates=400, seed=0, fmt="offline_scan", languages=("en",), source_name=None,
                    store_name="store.db"):
    """Generate a catalog in ``folder`` and sync it into a new SQLite store there.

    Returns ``(store path, source path, manifest)``.
    """
    os.makedirs(folder, exist_ok=True)
    source = os.path.join(folder, source_name or ("catalog.json" if fmt == "catalog_file" else "wsusscn2.cab"))
    manifest = generate(fmt, source, updates=updates, seed=seed, languages=languages)
    path = os.path.join(folder, store_name)
    store = open_store(path)
    try:
        sync_file(store, source, languages=languages)
    finally:
        store.close()
    return path, source, manifest
