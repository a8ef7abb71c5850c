"""Language-specific payloads (_content/files.py, _content/package.py) on both backends: a bundle's
members that name languages outside those asked for give no files, language-neutral ones always do;
a package's languages default to the store's (those the current catalog version was synced with)."""

import hashlib
import json

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._content.files import files_for_updates
from ansible_collections.patchwave.windows.plugins.module_utils._content.package import (
    package_languages,
    record_package,
    store_languages,
)
from ansible_collections.patchwave.windows.plugins.module_utils._content.payload import ContentError
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store

from tests.catalog_gen.store import sync_file

SECURITY = "0fa1201d-4330-4fa8-8ae9-b877473b6441"
PRODUCT = "71718f13-7324-4b0f-8f9e-2ca9dc978e53"
BUNDLE = "30000000-0000-4000-8000-000000000001"
NEUTRAL = "30000000-0000-4000-8000-000000000002"
ENGLISH = "30000000-0000-4000-8000-000000000003"
GERMAN = "30000000-0000-4000-8000-000000000004"
BOTH = "30000000-0000-4000-8000-000000000005"
FRENCH_PLAIN = "30000000-0000-4000-8000-000000000006"


def member(uid, name, languages=None):
    entry = {"id": uid, "title": "payload %s" % name, "files": [
        {"name": name, "size": 3, "sha1": hashlib.sha1(name.encode()).hexdigest(),
         "urls": ["http://a.example/%s" % name]}]}
    if languages is not None:
        entry["languages"] = languages
    return entry


def catalog():
    categories = [{"id": PRODUCT, "type": "Product", "title": "Windows Server 2022"},
                  {"id": SECURITY, "type": "UpdateClassification", "title": "Security Updates"}]
    bundle = {"id": BUNDLE, "kb": "5046616", "title": "2026-11 Update (KB5046616)", "products": [PRODUCT],
              "classification": SECURITY, "bundles": [NEUTRAL, ENGLISH, GERMAN, BOTH]}
    plain = member(FRENCH_PLAIN, "lp-fr.cab", ["fr"])
    plain.update(products=[PRODUCT], classification=SECURITY, kb="5046617")
    updates = [bundle, member(NEUTRAL, "neutral.msu"), member(ENGLISH, "en-us.cab", ["en"]),
               member(GERMAN, "de-de.cab", ["de"]), member(BOTH, "en-de.cab", ["en", "de"]), plain]
    return {"format_version": 1, "source": "content-languages", "categories": categories, "updates": updates}


@pytest.fixture
def store(store_address, tmp_path):
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(catalog()))
    opened = open_store(store_address)
    sync_file(opened, str(path), languages=("en", "de"))
    yield opened
    opened.close()


def names(records):
    return sorted(r["file_name"] for r in records)


@pytest.mark.parametrize("languages, expected", [
    (None, ["de-de.cab", "en-de.cab", "en-us.cab", "lp-fr.cab", "neutral.msu"]),
    (["en"], ["en-de.cab", "en-us.cab", "neutral.msu"]),
    (["DE"], ["de-de.cab", "en-de.cab", "neutral.msu"]),
    (["fr"], ["lp-fr.cab", "neutral.msu"]),  # an update asked for directly is filtered the same way
    (["ja"], ["neutral.msu"]),
])
def test_files_of_other_languages_are_left_out(store, languages, expected):
    assert names(files_for_updates(store, [BUNDLE, FRENCH_PLAIN], languages)) == expected


def test_the_store_languages_are_the_default(store):
    assert store_languages(store) == ["en", "de"]
    assert package_languages(store, None) == (("de", "en"), ["de", "en"])
    assert package_languages(store, ["EN"]) == (("en",), ["en"])
    assert package_languages(store, ["all"]) == (None, ["all"])
    with pytest.raises(ContentError, match="at least one language"):
        package_languages(store, [])
    with pytest.raises(ContentError, match="languages: language 'e n' is not a language code"):
        package_languages(store, ["e n"])


def test_a_store_synced_before_languages_were_recorded_means_every_language(store):
    with store.transaction() as cursor:
        cursor.execute("UPDATE catalog_versions SET languages = NULL")
    assert store_languages(store) is None
    assert package_languages(store, None) == (None, ["all"])


def test_the_package_records_its_languages(store):
    row = {"file_key": "sha1:aa", "sha1": "aa", "sha256": None, "size": 3, "file_name": "x.cab", "update_ids": [BUNDLE]}
    assert record_package(store, "p", "month", 1, "/lib", [row], languages=["en"]) == (1, True)
    assert record_package(store, "p", "month", 1, "/lib", [row], languages=["en"]) == (1, False)
    # Other languages with the same files: recorded, same content version.
    assert record_package(store, "p", "month", 1, "/lib", [row], languages=["de", "en"]) == (1, True)
    other = dict(row, file_key="sha1:bb", sha1="bb")
    assert record_package(store, "p", "month", 1, "/lib", [row, other], languages=["de"]) == (2, True)
    stored = store.query("SELECT languages, content_version FROM deployment_packages WHERE name = 'p'")[0]
    assert (json.loads(stored["languages"]), stored["content_version"]) == (["de"], 2)
