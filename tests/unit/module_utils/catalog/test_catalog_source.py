"""Format detection and the WSUS export path through open_source: URLs joined in the store."""

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.source import detect_format, open_source
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.sync import SyncOptions, sync_records
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store

from tests.catalog_gen import generate


@pytest.mark.parametrize("fmt, name", [("offline_scan", "wsusscn2.cab"), ("wsus_export", "export.cab"),
                                       ("catalog_file", "custom.yml")])
def test_every_format_is_detected_and_synced_with_file_urls(tmp_path, fmt, name):
    path = str(tmp_path / name)
    manifest = generate(fmt, path, updates=300, seed=4, languages=("en",))
    assert detect_format(path) == fmt
    store = open_store(str(tmp_path / "store.db"))
    with open_source(path, verify_signature=False) as (info, records):
        result = sync_records(store, records, SyncOptions(source=info["source"], format=info["format"]))
    assert result["counts"]["kept"] == manifest["total_updates"]
    files = store.query("SELECT count(*) AS n FROM files")[0]["n"]
    without_url = store.query("SELECT count(*) AS n FROM files f WHERE NOT EXISTS "
                              "(SELECT 1 FROM file_urls u WHERE u.file_id = f.file_id)")[0]["n"]
    assert files == manifest["counts"]["files"] and without_url == 0
    store.close()
