"""Download records read from the store (_content/files.py) on both backends: a bundle's files come
from its members, digests come out as hex, URLs sorted, unknown ids reported."""

import hashlib
import json

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._content.files import (
    files_for_updates,
    missing_updates,
)
from ansible_collections.patchwave.windows.plugins.module_utils._content.payload import payload_file
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store

from tests.catalog_gen.store import sync_file

SECURITY = "0fa1201d-4330-4fa8-8ae9-b877473b6441"
PRODUCT = "71718f13-7324-4b0f-8f9e-2ca9dc978e53"
BUNDLE = "20000000-0000-4000-8000-000000000001"
MEMBER = "20000000-0000-4000-8000-000000000002"
PLAIN = "20000000-0000-4000-8000-000000000003"
UNKNOWN = "20000000-0000-4000-8000-0000000000ff"


MSU_SHA1, MSU_SHA256 = hashlib.sha1(b"msu").hexdigest(), hashlib.sha256(b"msu").hexdigest()
CAB_SHA1 = hashlib.sha1(b"cab").hexdigest()
PSF_SHA256 = hashlib.sha256(b"psf").hexdigest()


def catalog():
    def update(uid, kb, title, **extra):
        entry = {"id": uid, "kb": kb, "title": title, "release_date": "2026-11-10", "products": [PRODUCT],
                 "classification": SECURITY, "severity": "Critical"}
        entry.update(extra)
        return entry
    categories = [{"id": PRODUCT, "type": "Product", "title": "Windows Server 2022"},
                  {"id": SECURITY, "type": "UpdateClassification", "title": "Security Updates"}]
    updates = [
        update(BUNDLE, "5046616", "2026-11 Cumulative Update (KB5046616)", bundles=[MEMBER]),
        update(MEMBER, "5046616", "2026-11 Cumulative Update (KB5046616) payload", files=[
            {"name": "windows10.0-kb5046616-x64.msu", "size": 3, "sha1": MSU_SHA1.upper(), "sha256": MSU_SHA256,
             "urls": ["http://b.example/c/kb5046616.msu", "http://a.example/c/kb5046616.msu"]},
            {"name": "windows10.0-kb5046616-x64.psf", "size": 3, "sha256": PSF_SHA256,
             "urls": ["http://a.example/c/kb5046616.psf"]}]),
        update(PLAIN, "5046540", "2026-11 .NET update (KB5046540)", files=[
            {"name": "ndp481-kb5046540-x64.cab", "size": 3, "sha1": CAB_SHA1,
             "urls": ["http://a.example/d/kb5046540.cab"]}]),
    ]
    return {"format_version": 1, "source": "content-files", "categories": categories, "updates": updates}


@pytest.fixture
def store(store_address, tmp_path):
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(catalog()))
    opened = open_store(store_address)
    sync_file(opened, str(path))
    yield opened
    opened.close()


def test_records_for_a_bundle_and_a_plain_update(store):
    records = files_for_updates(store, [BUNDLE, PLAIN, UNKNOWN])
    assert [(r["update_id"], r["from_update"], r["file_name"]) for r in records] == [
        (BUNDLE, MEMBER, "windows10.0-kb5046616-x64.msu"),
        (BUNDLE, MEMBER, "windows10.0-kb5046616-x64.psf"),
        (PLAIN, PLAIN, "ndp481-kb5046540-x64.cab"),
    ]
    msu, psf, cab = records
    assert (msu["sha1"], msu["sha256"], msu["size"]) == (MSU_SHA1, MSU_SHA256, 3)
    assert msu["urls"] == ["http://a.example/c/kb5046616.msu", "http://b.example/c/kb5046616.msu"]
    assert (msu["kb"], msu["title"]) == ("5046616", "2026-11 Cumulative Update (KB5046616)")
    assert (psf["sha1"], psf["sha256"]) == (None, PSF_SHA256)
    assert (cab["sha1"], cab["sha256"]) == (CAB_SHA1, None)
    assert all(payload_file(r) for r in records)  # what the downloader accepts
    assert missing_updates(store, [BUNDLE, UNKNOWN]) == [UNKNOWN]


def test_no_updates_no_records(store):
    assert files_for_updates(store, []) == []
