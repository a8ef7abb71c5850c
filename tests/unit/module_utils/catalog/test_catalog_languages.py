# -*- coding: utf-8 -*-
"""The languages an update is for: read from each format, stored per update, replaced when it changes.

Microsoft's metadata names them on the (language-specific) update: ``<Languages><Language
Name="en"/></Languages>`` in an offline scan package's package.xml, ``<upd:Language>`` children of
``<upd:Properties>`` in the full update XML of a WSUS export; the catalog file has a ``languages``
key. An update without any is language-neutral.
"""

import datetime
import json
import os

import pytest
import yaml
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import (
    CatalogError,
    CatalogUpdate,
    UpdateFile,
    normalize_languages,
)
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.readers.catalog_file import read_catalog_file
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.readers.offline_scan import read_offline_scan
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.readers.update_xml import parse_update_xml
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.staging import record_digest
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.sync import SyncOptions, sync_records
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store

from tests.catalog_gen.store import generated_store
from tests.unit.module_utils.catalog.test_catalog_offline_scan import CHILD, fragments_for_sample

NOW = datetime.datetime(2026, 11, 23, tzinfo=datetime.timezone.utc)
UPDATE = "2f0d6c4e-8a51-4b7e-9d3c-5e1a7b9c0d21"


@pytest.mark.parametrize("values, expected", [
    ([], ()),
    (["de", "EN", "de"], ("de", "en")),
    (["pt-BR"], ("pt-br",)),
    (["en", "all"], ()),  # "all" is Microsoft's word for language-neutral
    (["NeutralLanguage"], ()),
])
def test_normalize_languages(values, expected):
    assert normalize_languages(values) == expected


@pytest.mark.parametrize("bad", ["", "en us", "../x", None])
def test_normalize_languages_refuses_what_is_no_language_code(bad):
    with pytest.raises(ValueError, match="is not a language code"):
        normalize_languages(["en", bad], "Languages/Language Name")


# -- offline scan package -------------------------------------------------------------------------

def _offline_sample(tmp_path, samples_dir, languages_xml):
    """The real package.xml excerpt with ``languages_xml`` added to the payload child."""
    detail = str(tmp_path / "package2.cab")
    fragments_for_sample(detail)
    index = tmp_path / "index.xml"
    index.write_text('<CABLIST><CAB NAME="package2.cab" RANGESTART="0" FILESDIR="1"/></CABLIST>')
    with open(os.path.join(samples_dir, "package_xml", "offline_sync_excerpt.xml"), encoding="utf-8") as handle:
        text = handle.read()
    marker = '<BundledBy>\n        <Revision Id="29010705"/>\n      </BundledBy>'
    assert marker in text
    package = tmp_path / "package.xml"
    package.write_text(text.replace(marker, marker + languages_xml), encoding="utf-8")
    return list(read_offline_scan(str(package), str(index), lambda name: detail))


def test_offline_scan_reads_the_update_languages(tmp_path, samples_dir):
    bundle, child = _offline_sample(
        tmp_path, samples_dir,
        '<EulaFiles><File Id="x"><Language Name="fr"/></File></EulaFiles>'  # a EULA's language is not the update's
        '<Languages><Language Name="de"/><Language Name="en"/></Languages>')
    assert child.update_id == CHILD and child.languages == ("de", "en")
    assert bundle.languages == ()  # no <Languages>: language-neutral


def test_offline_scan_without_languages_is_neutral(tmp_path, samples_dir):
    _bundle, child = _offline_sample(tmp_path, samples_dir, "")
    assert child.languages == ()


def test_offline_scan_refuses_a_bad_language_naming_the_update(tmp_path, samples_dir):
    with pytest.raises(CatalogError, match=r"update %s: Languages/Language Name 'e n' is not a language code" % CHILD):
        _offline_sample(tmp_path, samples_dir, '<Languages><Language Name="e n"/></Languages>')


# -- full update XML (WSUS export) ----------------------------------------------------------------

def _update_xml(languages):
    return ('<upd:Update xmlns:upd="http://schemas.microsoft.com/msus/2002/12/Update">'
            '<upd:UpdateIdentity UpdateID="%s" RevisionNumber="200" />'
            '<upd:Properties UpdateType="Software" DefaultPropertiesLanguage="en">%s</upd:Properties>'
            '<upd:LocalizedPropertiesCollection><upd:LocalizedProperties><upd:Language>en</upd:Language>'
            '<upd:Title>Language pack payload</upd:Title></upd:LocalizedProperties>'
            '</upd:LocalizedPropertiesCollection></upd:Update>'
            % (UPDATE, "".join("<upd:Language>%s</upd:Language>" % code for code in languages))).encode("utf-8")


def test_update_xml_reads_the_properties_languages():
    update = parse_update_xml(_update_xml(["de", "en"]), "metadata.txt record 3")
    assert update.languages == ("de", "en")
    assert update.titles == {"en": "Language pack payload"}  # a LocalizedProperties language is a title's


def test_update_xml_without_languages_is_neutral(samples_dir):
    assert parse_update_xml(_update_xml([]), "doc").languages == ()
    path = os.path.join(samples_dir, "wsus_export", "updates", "classification_security_updates_multilang.xml")
    with open(path, "rb") as handle:
        assert parse_update_xml(handle.read(), path).languages == ()  # 30+ title languages, no update language


def test_update_xml_refuses_a_bad_language():
    with pytest.raises(CatalogError, match=r"doc \(update %s\): Properties Language 'e_n'" % UPDATE):
        parse_update_xml(_update_xml(["e_n"]), "doc")


# -- catalog file ---------------------------------------------------------------------------------

def _catalog_file(tmp_path, **update):
    entry = {"id": UPDATE, "title": "Contoso Agent"}
    entry.update(update)
    path = tmp_path / "feed.yml"
    path.write_text(yaml.safe_dump({"format_version": 1, "updates": [entry]}, sort_keys=False))
    return read_catalog_file(str(path))


def test_catalog_file_languages_key(tmp_path):
    _source, records = _catalog_file(tmp_path, languages=["DE", "en"])
    assert records[0].languages == ("de", "en")
    _source, records = _catalog_file(tmp_path)
    assert records[0].languages == ()


@pytest.mark.parametrize("value, message", [
    ("de", r"updates\[0\]\.languages.*must be a list"),
    ([5], r"updates\[0\]\.languages\[0\].*must be a string"),
    (["d e"], r"updates\[0\]\.languages.*'d e' is not a language code"),
])
def test_catalog_file_bad_languages_name_the_path(tmp_path, value, message):
    with pytest.raises(CatalogError, match=message):
        _catalog_file(tmp_path, languages=value)


# -- the store ------------------------------------------------------------------------------------

def guid(n):
    return "00000000-0000-4000-8000-%012d" % n


def _bundle(languages_by_child, revision=100):
    """A bundle with one neutral payload child and one child per entry of ``languages_by_child``."""
    children = [CatalogUpdate(update_id=guid(10), revision_number=revision, titles={"en": "payload"},
                              files=(UpdateFile(name="neutral.msu", sha1="c2hhMS0xMA==", size=10),))]
    for n, languages in enumerate(languages_by_child, start=11):
        children.append(CatalogUpdate(update_id=guid(n), revision_number=revision, titles={"en": "payload %d" % n},
                                      languages=tuple(languages),
                                      files=(UpdateFile(name="lp-%d.cab" % n, sha1="c2hhMS0%d==" % n, size=n),)))
    bundle = CatalogUpdate(update_id=guid(1), revision_number=revision, titles={"en": "2026-11 Update (KB5000001)"},
                           kb_articles=("5000001",), is_bundle=True,
                           bundled_updates=tuple(child.update_id for child in children))
    return [bundle] + children


def _languages(store):
    rows = store.query("SELECT update_id, language FROM update_languages ORDER BY update_id, language")
    out = {}
    for row in rows:
        out.setdefault(row["update_id"], []).append(row["language"])
    return out


def test_sync_stores_the_languages_and_replaces_them(store_address):
    store = open_store(store_address)
    try:
        first = sync_records(store, _bundle([["en"], ["de"]]),
                             SyncOptions(source="test", format="catalog_file", languages=("en", "DE"), now=NOW))
        assert first["catalog_version"] == 1
        assert _languages(store) == {guid(11): ["en"], guid(12): ["de"]}
        version = store.query("SELECT languages FROM catalog_versions WHERE version = 1")[0]
        assert json.loads(version["languages"]) == ["en", "de"]
        # The same catalog again: nothing changes.
        again = sync_records(store, _bundle([["en"], ["de"]]),
                             SyncOptions(source="test", format="catalog_file", languages=("en",), now=NOW))
        assert again["changed"] is False
        # A member's languages change (and one becomes neutral): it is modified, its rows replaced.
        changed = sync_records(store, _bundle([["en", "fr"], []]),
                               SyncOptions(source="test", format="catalog_file", languages=("en",), now=NOW))
        assert changed["counts"]["modified"] == 2 and changed["catalog_version"] == 2
        assert _languages(store) == {guid(11): ["en", "fr"]}
        version = store.query("SELECT languages FROM catalog_versions WHERE version = 2")[0]
        assert json.loads(version["languages"]) == ["en"]
    finally:
        store.close()


def test_neutral_records_keep_their_digest():
    """Reading languages must not mark every language-neutral update modified at the next sync."""
    record = CatalogUpdate(update_id=UPDATE, revision_number=1, titles={"en": "x"})
    neutral_digest = record_digest(record)
    record.languages = ("de",)
    assert record_digest(record) != neutral_digest
    record.languages = ()
    assert record_digest(record) == neutral_digest


# -- generated catalogs (tests/catalog_gen): every format carries the same languages ---------------

@pytest.mark.parametrize("fmt", ["offline_scan", "wsus_export", "catalog_file"])
def test_generated_catalogs_carry_the_payload_languages(tmp_path, fmt):
    path, _source, manifest = generated_store(str(tmp_path), updates=400, fmt=fmt)
    store = open_store(path)
    try:
        stored = _languages(store)
    finally:
        store.close()
    sample = manifest["language_bundle"]
    assert [child["languages"] for child in sample["children"]] == [[], ["en"], ["de"]]
    for child in sample["children"]:
        assert stored.get(child["update_id"], []) == child["languages"]
    assert sum(len(codes) for codes in stored.values()) == manifest["counts"]["language_specific_updates"]
