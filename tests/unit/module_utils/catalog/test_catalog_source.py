"""Format detection and the WSUS export path through open_source: URLs joined in the store."""

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import CatalogError
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


@pytest.mark.parametrize("content", [b"# an HTML error page saved as the download\n", b"- just: yaml\n", b"{\"a\": 1}",
                                     b"<html><body>404</body></html>", b""])
@pytest.mark.parametrize("name", ["wsusscn2.cab", "EXPORT.CAB"])
def test_a_file_named_cab_that_is_not_a_cabinet_says_so(tmp_path, content, name):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CatalogError) as detected:
        detect_format(str(path))
    assert "not a cabinet" in str(detected.value) and "YAML" not in str(detected.value), str(detected.value)
    assert str(path) in str(detected.value)
    with pytest.raises(CatalogError, match="not a cabinet"):
        with open_source(str(path), verify_signature=False):
            pass


def test_a_catalog_file_with_any_other_name_is_still_read_as_one(tmp_path):
    path = tmp_path / "custom.txt"
    path.write_text("# patchwave catalog\nsource: custom\nupdates: []\n")
    assert detect_format(str(path)) == "catalog_file"
