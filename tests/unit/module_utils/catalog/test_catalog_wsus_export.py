# -*- coding: utf-8 -*-
"""WSUS export reader: the real metadata.txt / package.xml excerpts and synthetic edge cases."""

import os
import shutil

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import CatalogError
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.readers.wsus_export import (
    iter_metadata_records,
    iter_package,
    iter_package_file_urls,
    read_package_header,
    read_wsus_export,
    read_wsus_export_dir,
)

SAMPLE_ORDER = [
    ("3689bdc8-b205-4af4-8d4a-a63924c5e9d5", 200, "category", "UpdateClassification", "Upgrades"),
    ("0fa1201d-4330-4fa8-8ae9-b877473b6441", 100, "category", "UpdateClassification", "Security Updates"),
    ("f702a48c-919b-45d6-9aef-ca4248d50397", 201, "category", "Product", "Windows Server 2019"),
    ("facc0777-e062-4478-a6a9-3beed10cfd91", 200, "detectoid", None, "IE version Less than 11"),
    ("a4d7e969-b099-4ad7-ab53-5f56d51adf4c", 200, "detectoid", None,
     "Detectoid for System Center 2016 - DPM Central Console Server"),
    ("ec90a464-3717-4222-a5b4-b9bffc661d66", 200, "detectoid", None, "Windows Server 2012 Standard IsInstalled"),
    ("fe72ad53-da2e-4911-a409-9851ada731c2", 103, "detectoid", None, "951748 filter - block Zone Alarm users"),
]


@pytest.fixture
def export_dir(samples_dir):
    return os.path.join(samples_dir, "wsus_export")


@pytest.fixture
def metadata_path(export_dir):
    return os.path.join(export_dir, "metadata_excerpt.txt")


@pytest.fixture
def package_path(export_dir):
    return os.path.join(export_dir, "package_excerpt.xml")


# -- real excerpt -------------------------------------------------------------------------------

def test_metadata_records_of_the_real_excerpt(metadata_path):
    records = list(iter_metadata_records(metadata_path))
    assert [(r[2], r[3]) for r in records] == [(uid, rev) for uid, rev, _k, _c, _t in SAMPLE_ORDER]
    assert [r[0] for r in records] == list(range(1, 8))
    assert [r[1] for r in records] == [0, 1590, 9504, 11883, 13398, 15322, 16707]
    security = records[1][4]
    # Length field 0x00001bb9: 7,097 UTF-16 code units, 7,857 bytes of UTF-8.
    assert len(security.encode("utf-16-le")) // 2 == 7097 == 0x1BB9
    assert len(security.encode("utf-8")) == 7857
    with open(metadata_path, "rb") as handle:
        data = handle.read()
    assert data[1590:1590 + 55] == b"0fa1201d-4330-4fa8-8ae9-b877473b6441,00000064,00001bb9,"
    assert sum(len(r[4].encode("utf-8")) + 57 for r in records) == len(data)


def test_metadata_records_match_the_separate_documents(metadata_path, export_dir):
    documents = {}
    folder = os.path.join(export_dir, "updates")
    for name in os.listdir(folder):
        with open(os.path.join(folder, name), "rb") as handle:
            documents[name] = handle.read().decode("utf-8")
    texts = [r[4] for r in iter_metadata_records(metadata_path)]
    assert sorted(texts) == sorted(documents.values())


def test_read_real_export(package_path, metadata_path):
    records = list(read_wsus_export(package_path, metadata_path))
    got = [(r.update_id, r.revision_number, r.kind, r.category_type, r.titles["en"]) for r in records]
    assert got == SAMPLE_ORDER
    security = records[1]
    assert len(security.titles) == 24
    assert security.titles["fr"] == "Mise à jour de la sécurité"
    assert security.titles["ja"] == "セキュリティ問題の修正プログラム"
    assert records[2].categories == ("6964aab4-c5b5-43bd-a17d-ffb4346a8e1d",)
    assert records[4].supersedes == ("5d07c74d-4269-4553-818d-38998781a420",)
    assert "CbsPackageInstalledByIdentity" in records[5].rules["is_installed"]


def test_read_real_export_language_filter(package_path, metadata_path):
    records = list(read_wsus_export(package_path, metadata_path, languages=["de"]))
    assert records[1].titles == {"de": "Sicherheitsupdates", "en": "Security Updates"}
    assert records[0].titles == {"en": "Upgrades"}


def test_package_header(package_path):
    header = read_package_header(package_path)
    assert header["server_id"] == "a86cecaa-02ab-44a1-a09d-cac309aa7a3e"
    assert header["creation_time"] == "2024-06-19T17:11:14Z"
    assert header["format_version"] == "1.0" and header["protocol_version"] == "1.20"
    languages = header["languages"]
    assert len(languages) == 39
    assert languages[0] == {"id": "0", "short_name": "all", "long_name": "all", "enabled": True}
    english = [lang for lang in languages if lang["short_name"] == "en"]
    assert english == [{"id": "1033", "short_name": "en", "long_name": "English", "enabled": False}]
    assert languages[-1]["short_name"] == "ja-nec"


def test_package_updates(package_path):
    items = list(iter_package(package_path))
    assert all(item[0] == "update" for item in items)  # <Files /> is empty in the excerpt
    entries = [item[1] for item in items]
    assert [(e.update_id, e.revision) for e in entries] == [(uid, rev) for uid, rev, _k, _c, _t in SAMPLE_ORDER]
    assert all(e.digests == () and e.categories == () and e.classifications == () for e in entries)
    assert list(iter_package_file_urls(package_path)) == []


def test_read_export_dir(tmp_path, package_path, metadata_path):
    shutil.copy(package_path, str(tmp_path / "package.xml"))
    shutil.copy(metadata_path, str(tmp_path / "METADATA.TXT"))
    records = list(read_wsus_export_dir(str(tmp_path)))
    assert len(records) == 7
    os.remove(str(tmp_path / "package.xml"))
    with pytest.raises(CatalogError, match="has no package.xml"):
        list(read_wsus_export_dir(str(tmp_path)))


# -- synthetic exports --------------------------------------------------------------------------

UPD = "http://schemas.microsoft.com/msus/2002/12/Update"
SHA1_A = "4/qckQO8UJ3N9+lxyjy+oMGKew0="
SHA1_B = "2jmj7l5rSw0yVb/vlWAYkK/YBwk="


def update_xml(uid, rev=1, title="Test update", date="2024-06-11T17:00:00Z", files=(), kind="Software",
               prerequisites=""):
    file_xml = "".join(
        '<upd:File Digest="%s" DigestAlgorithm="SHA1" FileName="%s" Size="10" Modified="2024-06-11T00:00:00Z"/>'
        % (digest, name) for digest, name in files)
    return (
        '<upd:Update xmlns:upd="%s"><upd:UpdateIdentity UpdateID="%s" RevisionNumber="%d" />'
        '<upd:Properties DefaultPropertiesLanguage="en" UpdateType="%s" CreationDate="%s"></upd:Properties>'
        '<upd:LocalizedPropertiesCollection><upd:LocalizedProperties><upd:Language>en</upd:Language>'
        '<upd:Title>%s</upd:Title>\r\n<upd:Description>line one\nline two\r\n</upd:Description>'
        '</upd:LocalizedProperties></upd:LocalizedPropertiesCollection>%s%s</upd:Update>'
        % (UPD, uid, rev, kind, date, title, prerequisites, "<upd:Files>%s</upd:Files>" % file_xml if files else "")
    )


def record(xml, uid=None, rev=None, units=None):
    if uid is None:
        uid = xml.split('UpdateID="', 1)[1].split('"', 1)[0]
    if rev is None:
        rev = int(xml.split('RevisionNumber="', 1)[1].split('"', 1)[0])
    if units is None:
        units = len(xml.encode("utf-16-le")) // 2
    return "%s,%08x,%08x,%s\r\n" % (uid, rev, units, xml)


def package_xml(updates, files=(), extra=""):
    """updates: (uid, rev, digests, categories, classifications); files: (digest, url, name)."""
    file_xml = "".join('<File Digest="%s" MUUrl="%s" Name="%s" />' % f for f in files)
    update_entries = []
    for uid, rev, digests, categories, classifications in updates:
        update_entries.append(
            '<Update UpdateId="%s" RevisionNumber="%d"><Files>%s</Files><Categories>%s</Categories>'
            '<Classifications>%s</Classifications></Update>' % (
                uid, rev, "".join('<File Digest="%s" />' % d for d in digests),
                "".join('<Category Value="%s" />' % c for c in categories),
                "".join('<Classification Value="%s" />' % c for c in classifications)))
    return ('\ufeff<?xml version="1.0" encoding="utf-8"?><ExportPackage ServerID="a86cecaa-02ab-44a1-a09d-cac309aa7a3e"'
            ' CreationTime="2026-01-01T00:00:00Z" FormatVersion="1.0" ProtocolVersion="1.20"><Languages>'
            '<Language Id="1033" ShortName="en" LongName="English" Enabled="1" /></Languages>'
            '<Files>%s</Files><Updates>%s</Updates>%s</ExportPackage>' % (file_xml, "".join(update_entries), extra))


U1 = "11111111-1111-1111-1111-111111111111"
U2 = "22222222-2222-2222-2222-222222222222"
U3 = "33333333-3333-3333-3333-333333333333"
PRODUCT = "f702a48c-919b-45d6-9aef-ca4248d50397"
SECURITY = "0fa1201d-4330-4fa8-8ae9-b877473b6441"


def write(tmp_path, metadata, package=None, name="metadata.txt"):
    metadata_file = tmp_path / name
    metadata_file.write_bytes(metadata if isinstance(metadata, bytes) else metadata.encode("utf-8"))
    package_file = tmp_path / "package.xml"
    if package is not None:
        package_file.write_bytes(package.encode("utf-8"))
    return str(package_file), str(metadata_file)


def matching_package(*keys):
    return package_xml([(uid, rev, (), (), ()) for uid, rev in keys])


def test_astral_plane_character_counts_two_units(tmp_path):
    title = "Emoji \U0001F600 and clef \U0001D11E in the title"
    xml = update_xml(U1, title=title)
    units = len(xml.encode("utf-16-le")) // 2
    assert units == len(xml) + 2
    metadata = record(xml) + record(update_xml(U2))
    package, path = write(tmp_path, metadata, matching_package((U1, 1), (U2, 1)))
    records = list(read_wsus_export(package, path))
    assert records[0].titles == {"en": title}
    assert records[0].descriptions == {"en": "line one\nline two"}  # raw newlines inside the XML
    assert records[1].update_id == U2
    offsets = [r[1] for r in iter_metadata_records(path)]
    assert offsets[1] == len(record(xml).encode("utf-8"))


def test_code_point_length_is_wrong_for_astral_characters(tmp_path):
    xml = update_xml(U1, title="\U0001F600")
    _package, path = write(tmp_path, record(xml, units=len(xml)))
    with pytest.raises(CatalogError, match=r"record 1 at byte 0 \(update %s\): the %d UTF-16 code units of XML "
                       r"\(length field 0x%08x\) are followed by" % (U1, len(xml), len(xml))):
        list(iter_metadata_records(path))


def test_length_ending_inside_a_surrogate_pair(tmp_path):
    xml = update_xml(U1, title="A\U0001F600B")
    cut = len(xml[:xml.index("\U0001F600")].encode("utf-16-le")) // 2 + 1
    _package, path = write(tmp_path, record(xml, units=cut))
    with pytest.raises(CatalogError, match="ends inside a character outside the Basic Multilingual Plane"):
        list(iter_metadata_records(path))


@pytest.mark.parametrize("cut, expected", [
    (lambda data: data[:9504 + 2000], r"record 3 at byte 9504 \(update f702a48c-919b-45d6-9aef-ca4248d50397\) "
                                      r"is truncated: the length field says 2322 UTF-16 code units of XML but the "
                                      r"file ends after 1945"),
    (lambda data: data[:9504 + 40], r"record 3 at byte 9504 is truncated: the file ends inside the record header"),
    (lambda data: data[:-2], r"record 7 at byte 16707 \(update fe72ad53-da2e-4911-a409-9851ada731c2\) is "
                             r"truncated: the CRLF that ends the record is missing"),
    (lambda data: data[:-1], r"record 7 at byte 16707 .* is truncated: the CRLF"),
    (lambda data: data[:-2] + b"\n", r"record 7 .* are followed by '\\n', not CRLF"),
])
def test_truncated_metadata(tmp_path, metadata_path, cut, expected):
    with open(metadata_path, "rb") as handle:
        data = handle.read()
    _package, path = write(tmp_path, cut(data))
    with pytest.raises(CatalogError, match="catalog file '%s': %s" % (path.replace(".", r"\."), expected)):
        list(iter_metadata_records(path))


@pytest.mark.parametrize("delta", [-1, 1, 40])
def test_wrong_length(tmp_path, delta):
    xml = update_xml(U1)
    units = len(xml) + delta
    _package, path = write(tmp_path, record(xml, units=units) + record(update_xml(U2)))
    with pytest.raises(CatalogError, match="record 1 at byte 0 .*: the %d UTF-16 code units of XML "
                                           r"\(length field 0x%08x\) are followed by .*, not CRLF" % (units, units)):
        list(iter_metadata_records(path))


@pytest.mark.parametrize("header, expected", [
    ("%s,0000zzzz,%08x," % (U1, 0), "revision '0000zzzz' is not hexadecimal"),
    ("%s,00000001,-0000010," % U1, "XML length '-0000010' is not hexadecimal"),
    ("%s,00000001,," % U1, "XML length '' is not hexadecimal"),
    ("not-a-guid-at-all-but-36-characters,00000001,00000010,", "UpdateID 'not-a-guid-at-all-but-36-characters' is not a GUID"),
    ("{%s},00000001,00000010," % U1, r"UpdateID '\{1111"),
    ("\r\n%s,00000001,00000010," % U1, r"UpdateID '\\r\\n1111"),
    ("%s;00000001;00000010;" % U1, "the header is not '<UpdateID>,<revision>,<length>,'"),
])
def test_bad_headers(tmp_path, header, expected):
    _package, path = write(tmp_path, header + "<x/>\r\n" + "x" * 200)
    with pytest.raises(CatalogError, match=r"record 1 at byte 0.*: " + expected):
        list(iter_metadata_records(path))


def test_bad_header_in_a_later_record_names_its_offset(tmp_path):
    first = record(update_xml(U1))
    _package, path = write(tmp_path, first + "%s,0000001g,00000004,<x/>\r\n" % U2)
    with pytest.raises(CatalogError, match=r"record 2 at byte %d \(update %s\): revision '0000001g' is not hexadecimal"
                       % (len(first.encode("utf-8")), U2)):
        list(iter_metadata_records(path))


def test_record_length_limit(tmp_path):
    _package, path = write(tmp_path, "%s,00000001,7fffffff,<x/>\r\n" % U1)
    with pytest.raises(CatalogError, match="XML length 2147483647 .* exceeds the limit"):
        list(iter_metadata_records(path))


def test_invalid_utf8(tmp_path):
    _package, path = write(tmp_path, record(update_xml(U1)).encode("utf-8") + b"\xff\xfe garbage")
    with pytest.raises(CatalogError, match="not valid UTF-8 near byte"):
        list(iter_metadata_records(path))


def test_trailing_whitespace_is_tolerated_and_bom_skipped(tmp_path):
    text = "\ufeff" + record(update_xml(U1)) + "\r\n  \n"
    _package, path = write(tmp_path, text)
    records = list(iter_metadata_records(path))
    assert [(r[0], r[1], r[2]) for r in records] == [(1, 3, U1)]


def test_invalid_date_inside_a_record(tmp_path):
    metadata = record(update_xml(U1)) + record(update_xml(U2, date="2026-13-45"))
    package, path = write(tmp_path, metadata, matching_package((U1, 1), (U2, 1)))
    offset = len(record(update_xml(U1)).encode("utf-8"))
    with pytest.raises(CatalogError) as info:
        list(read_wsus_export(package, path))
    assert str(info.value) == ("catalog file '%s': record 2 at byte %d (update %s): release date (CreationDate) "
                               "'2026-13-45' is not a valid date" % (path, offset, U2))


def test_invalid_guid_inside_a_record(tmp_path):
    xml = update_xml(U1, prerequisites='<upd:Relationships><upd:Prerequisites><upd:UpdateIdentity UpdateID="bogus"/>'
                                       '</upd:Prerequisites></upd:Relationships>')
    package, path = write(tmp_path, record(xml), matching_package((U1, 1)))
    with pytest.raises(CatalogError, match=r"record 1 at byte 0 \(update %s\): prerequisite UpdateID 'bogus' is not a GUID"
                       % U1):
        list(read_wsus_export(package, path))


@pytest.mark.parametrize("uid, rev", [(U2, 1), (U1, 2)])
def test_header_and_xml_identity_must_match(tmp_path, uid, rev):
    package, path = write(tmp_path, record(update_xml(U1), uid=uid, rev=rev), matching_package((uid, rev)))
    with pytest.raises(CatalogError, match=r"record 1 at byte 0 \(update %s\): the record header says update %s "
                       r"revision %d but the XML's UpdateIdentity says update %s revision 1" % (uid, uid, rev, U1)):
        list(read_wsus_export(package, path))


BILLION_LAUGHS = ('<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
                  '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>')
XXE = '<!DOCTYPE upd:Update [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


@pytest.mark.parametrize("doctype, entity", [(BILLION_LAUGHS, "&lol3;"), (XXE, "&xxe;")], ids=["billion-laughs", "xxe"])
def test_hostile_record_xml_refused(tmp_path, doctype, entity):
    xml = doctype + update_xml(U1, title=entity)
    package, path = write(tmp_path, record(xml), matching_package((U1, 1)))
    with pytest.raises(CatalogError) as info:
        list(read_wsus_export(package, path))
    message = str(info.value)
    assert "record 1 at byte 0 (update %s): document type declarations are refused" % U1 in message
    assert "root:" not in message and "lollol" not in message


def test_hostile_package_xml_refused(tmp_path):
    package = package_xml([(U1, 1, (), (), ())]).replace(
        "<ExportPackage", '<!DOCTYPE ExportPackage [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><ExportPackage', 1)
    package = package.replace('ShortName="en"', 'ShortName="&xxe;"')
    package_file, path = write(tmp_path, record(update_xml(U1)), package)
    for call in (lambda: list(read_wsus_export(package_file, path)), lambda: read_package_header(package_file)):
        with pytest.raises(CatalogError) as info:
            call()
        assert "document type declarations are refused" in str(info.value)
        assert "root:" not in str(info.value)


def test_urls_and_package_categories_are_attached(tmp_path):
    metadata = (record(update_xml(U1, files=[(SHA1_A, "a.cab"), (SHA1_B, "b.cab")]))
                + record(update_xml(U2, files=[(SHA1_B, "b.cab")])))
    package = package_xml(
        [(U1, 1, (SHA1_A, SHA1_B), (PRODUCT,), (SECURITY,)), (U2, 1, (SHA1_B,), (), ())],
        files=[(SHA1_A, "http://download.windowsupdate.com/a_e3fa9c9103bc509dcdf7e971ca3cbea0c18a7b0d.cab", "a.cab"),
               (SHA1_B, "http://download.windowsupdate.com/b.cab", "b.cab")])
    package_file, path = write(tmp_path, metadata, package)
    first, second = read_wsus_export(package_file, path)
    assert first.categories == (PRODUCT, SECURITY)
    assert [f.urls for f in first.files] == [
        ("http://download.windowsupdate.com/a_e3fa9c9103bc509dcdf7e971ca3cbea0c18a7b0d.cab",),
        ("http://download.windowsupdate.com/b.cab",)]
    assert second.files[0].urls == ("http://download.windowsupdate.com/b.cab",)
    assert list(iter_package_file_urls(package_file)) == [
        (SHA1_A, "http://download.windowsupdate.com/a_e3fa9c9103bc509dcdf7e971ca3cbea0c18a7b0d.cab"),
        (SHA1_B, "http://download.windowsupdate.com/b.cab")]

    asked = []

    def lookup(digest):
        asked.append(digest)
        return "https://mirror.example/%s" % len(asked)

    first, second = read_wsus_export(package_file, path, url_for_digest=lookup)
    assert asked == [SHA1_A, SHA1_B, SHA1_B]
    assert first.files[0].urls == ("https://mirror.example/1",)
    first, second = read_wsus_export(package_file, path, url_for_digest=lambda digest: ())
    assert all(f.urls == () for f in first.files + second.files)


def test_package_in_another_order(tmp_path):
    metadata = record(update_xml(U1)) + record(update_xml(U2)) + record(update_xml(U3))
    package = package_xml([(U3, 1, (), (SECURITY,), ()), (U2, 1, (), (), ()), (U1, 1, (), (PRODUCT,), ())])
    package_file, path = write(tmp_path, metadata, package)
    records = list(read_wsus_export(package_file, path))
    assert [(r.update_id, r.categories) for r in records] == [(U1, (PRODUCT,)), (U2, ()), (U3, (SECURITY,))]


def test_every_revision_is_yielded(tmp_path):
    # Real exports carry e.g. revisions 1 and 100 of a category: the store keeps the highest.
    metadata = (record(update_xml(U1, rev=100, kind="Category", title="new"))
                + record(update_xml(U1, rev=1, kind="Category", title="old")))
    package_file, path = write(tmp_path, metadata, matching_package((U1, 100), (U1, 1)))
    records = list(read_wsus_export(package_file, path))
    assert [(r.revision_number, r.titles["en"]) for r in records] == [(100, "new"), (1, "old")]


def test_files_from_different_exports(tmp_path):
    metadata = record(update_xml(U1)) + record(update_xml(U2))
    package_file, path = write(tmp_path, metadata, matching_package((U1, 1), (U2, 1), (U3, 7)))
    with pytest.raises(CatalogError, match="package.xml' lists 1 update revision.* does not contain, e.g. update %s "
                                           "revision 7" % U3):
        list(read_wsus_export(package_file, path))
    package_file, path = write(tmp_path, metadata, matching_package((U1, 1)))
    with pytest.raises(CatalogError, match=r"record 2 at byte \d+ \(update %s\): revision 1 is not listed in" % U2):
        list(read_wsus_export(package_file, path))


def test_streams_both_files(tmp_path):
    """The first record comes out before the rest of either file is read."""
    metadata = record(update_xml(U1)) + record(update_xml(U2)) + "garbage that is not a record\r\n"
    package = package_xml([(U1, 1, (), (), ()), (U2, 1, (), (), ())], extra="<Broken>")
    package_file, path = write(tmp_path, metadata, package)
    records = read_wsus_export(package_file, path)
    assert next(records).update_id == U1
    assert next(records).update_id == U2
    with pytest.raises(CatalogError):
        next(records)


def test_empty_metadata(tmp_path):
    package_file, path = write(tmp_path, "", matching_package())
    assert list(read_wsus_export(package_file, path)) == []


def test_not_an_export_package(tmp_path):
    package_file, path = write(tmp_path, record(update_xml(U1)), "<OfflineSyncPackage/>")
    with pytest.raises(CatalogError, match="not <ExportPackage>"):
        list(read_wsus_export(package_file, path))


def test_missing_metadata_file(tmp_path):
    with pytest.raises(CatalogError, match="cannot be read"):
        list(iter_metadata_records(str(tmp_path / "absent.txt")))
