# -*- coding: utf-8 -*-
"""Dates in every catalog reader: offsets are converted to UTC, fractions of a second dropped, only
malformed dates refused, with an error that names the record and the field.

Microsoft's WSUS export writes ``CreationDate`` the way .NET formats a local time
(``2004-02-28T18:17:34.1032476-08:00``: an offset and seven fractional digits); offline scan
packages and update XML write ``...Z`` with up to three digits, some samples no zone at all.
"""

import datetime
import os
import re
import sqlite3

import pytest
import yaml
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import CatalogError
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.readers import offline_scan
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.readers.catalog_file import read_catalog_file
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.readers.update_xml import parse_update_xml
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.readers.wsus_export import (
    iter_metadata_records,
    read_package_header,
    read_wsus_export,
)
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.source import open_source
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.sync import SyncOptions, sync_records
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import format_time, parse_time

from tests.catalog_gen import generate, utf16_length
from tests.catalog_gen.cab import write_cab

# -- the values -----------------------------------------------------------------------------------

# (text as the source writes it, the UTC text the store keeps)
ACCEPTED = [
    pytest.param("2004-02-28T18:17:34.1032476-08:00", "2004-02-29T02:17:34Z", id="dotnet-offset-7-digits"),
    pytest.param("2025-01-01T01:00:00.1234567+05:30", "2024-12-31T19:30:00Z", id="positive-offset-crosses-year"),
    pytest.param("2024-06-11T20:00:00-0500", "2024-06-12T01:00:00Z", id="offset-without-colon"),
    pytest.param("2024-06-11T17:00:00+00:00", "2024-06-11T17:00:00Z", id="zero-offset"),
    pytest.param("2024-06-11T17:00:00Z", "2024-06-11T17:00:00Z", id="z"),
    pytest.param("2015-10-20T16:53:24.583Z", "2015-10-20T16:53:24Z", id="z-3-digits"),
    pytest.param("2024-06-11T23:59:59.9999999Z", "2024-06-11T23:59:59Z", id="z-7-digits-truncated-not-rounded"),
    pytest.param("2010-11-25T15:26:20.723", "2010-11-25T15:26:20Z", id="no-zone-is-utc"),
    pytest.param("2024-06-11T17:00:00.1234567", "2024-06-11T17:00:00Z", id="no-zone-7-digits"),
    pytest.param("0001-01-01T00:00:00", "0001-01-01T00:00:00Z", id="dotnet-min-value"),
]

# (text, what the error says about it)
MALFORMED = [
    pytest.param("2024-06-31T00:00:00Z", "is not a valid date", id="no-such-day"),
    pytest.param("2024-06-11T17:00:00+24:00", "is not a valid date", id="offset-out-of-range"),
    pytest.param("2024-06-11T17:00:00.-08:00", "is not an ISO 8601 date", id="empty-fraction"),
    pytest.param("2024-06-11 at noon", "is not an ISO 8601 date", id="text"),
    pytest.param("06/11/2024 17:00:00", "is not an ISO 8601 date", id="us-style"),
]

U1 = "11111111-1111-1111-1111-111111111111"
U2 = "22222222-2222-2222-2222-222222222222"
SHA1 = "4/qckQO8UJ3N9+lxyjy+oMGKew0="
UPD = "http://schemas.microsoft.com/msus/2002/12/Update"
DEFAULT = "2024-06-11T17:00:00Z"


# -- one way in per reader and date field ------------------------------------------------------
# Each returns the value the reader made of ``date``; the date sits in the second update where
# there is more than one, so the error must name that update, not the first.

def update_xml(uid, created=DEFAULT, modified=DEFAULT):
    return ('<upd:Update xmlns:upd="%s"><upd:UpdateIdentity UpdateID="%s" RevisionNumber="1" />'
            '<upd:Properties DefaultPropertiesLanguage="en" UpdateType="Software" CreationDate="%s" />'
            '<upd:LocalizedPropertiesCollection><upd:LocalizedProperties><upd:Language>en</upd:Language>'
            '<upd:Title>Update %s</upd:Title></upd:LocalizedProperties></upd:LocalizedPropertiesCollection>'
            '<upd:Files><upd:File Digest="%s" DigestAlgorithm="SHA1" FileName="a.cab" Size="10" Modified="%s" />'
            '</upd:Files></upd:Update>' % (UPD, uid, created, uid[:4], SHA1, modified))


def metadata_record(xml, uid, revision=1):
    """One metadata.txt record: the length counts UTF-16 code units, as .NET's string.Length does."""
    return "%s,%08x,%08x,%s\r\n" % (uid, revision, utf16_length(xml), xml)


def export_package(created="2026-01-01T00:00:00Z", updates=((U1, 1), (U2, 1))):
    entries = "".join('<Update UpdateId="%s" RevisionNumber="%d"><Files /><Categories /><Classifications />'
                      '</Update>' % key for key in updates)
    return ('\ufeff<?xml version="1.0" encoding="utf-8"?><ExportPackage ServerID="a86cecaa-02ab-44a1-a09d-cac309aa7a3e"'
            ' CreationTime="%s" FormatVersion="1.0" ProtocolVersion="1.20"><Languages><Language Id="1033" '
            'ShortName="en" LongName="English" Enabled="1" /></Languages><Files />'
            '<Updates>%s</Updates></ExportPackage>' % (created, entries))


def read_export(tmp_path, created=DEFAULT, modified=DEFAULT):
    metadata = tmp_path / "metadata.txt"
    metadata.write_bytes((metadata_record(update_xml(U1), U1)
                          + metadata_record(update_xml(U2, created, modified), U2)).encode("utf-8"))
    package = tmp_path / "package.xml"
    package.write_bytes(export_package().encode("utf-8"))
    return list(read_wsus_export(str(package), str(metadata)))[1]


def wsus_export_creation_date(tmp_path, date):
    return read_export(tmp_path, created=date).release_date


def wsus_export_file_modified(tmp_path, date):
    return read_export(tmp_path, modified=date).files[0].modified


def wsus_export_creation_time(tmp_path, date):
    package = tmp_path / "package.xml"
    package.write_bytes(export_package(created=date).encode("utf-8"))
    return read_package_header(str(package))["creation_time"]


def update_xml_creation_date(tmp_path, date):
    return parse_update_xml(update_xml(U2, created=date), "update.xml").release_date


def update_xml_file_modified(tmp_path, date):
    return parse_update_xml(update_xml(U2, modified=date), "update.xml").files[0].modified


OFFLINE_NS = "http://schemas.microsoft.com/msus/2004/02/OfflineSync"


def offline_package_xml(package_created=DEFAULT, created=DEFAULT):
    return ('<?xml version="1.0" encoding="utf-8"?>\n<OfflineSyncPackage xmlns="%s" MinimumClientVersion="5.8.0.2678" '
            'ProtocolVersion="1.0" PackageId="f2ab1cd1-7e4b-4b1a-9f57-2d1a7c0d1e11" '
            'SourceId="cc56dcba-9026-4399-8535-7a3c9bed7086" CreationDate="%s" PackageVersion="1.1"><Updates>'
            '<Update CreationDate="%s" DefaultLanguage="en" UpdateId="%s" RevisionNumber="1" RevisionId="100" />'
            '<Update CreationDate="%s" DefaultLanguage="en" UpdateId="%s" RevisionNumber="1" RevisionId="101" />'
            '</Updates></OfflineSyncPackage>' % (OFFLINE_NS, package_created, DEFAULT, U1, created, U2))


def offline_members(folder, package_created=DEFAULT, created=DEFAULT, modified=DEFAULT):
    """package.xml, index.xml and the fragments of one detail cabinet (unpacked) for two updates."""
    detail = folder / "package2"
    for revision, uid, file_modified in ((100, U1, DEFAULT), (101, U2, modified)):
        for kind, text in (
                ("c", '<UpdateIdentity UpdateID="%s" RevisionNumber="1" /><Properties UpdateType="Software" />' % uid),
                ("x", '<ExtendedProperties DefaultPropertiesLanguage="en" /><Files><File Digest="%s" '
                      'DigestAlgorithm="SHA1" FileName="a.cab" Size="10" Modified="%s" /></Files>' % (SHA1, file_modified)),
                ("l/en", "<LocalizedProperties><Language>en</Language><Title>Update %d</Title>"
                         "</LocalizedProperties>" % revision)):
            path = detail / kind / str(revision)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    (folder / "package.xml").write_text(offline_package_xml(package_created, created))
    (folder / "index.xml").write_text('<CABLIST><CAB NAME="package2.cab" RANGESTART="0" /></CABLIST>')
    return str(folder / "package.xml"), str(folder / "index.xml"), str(detail)


def read_offline(tmp_path, **dates):
    package, index, detail = offline_members(tmp_path, **dates)
    return list(offline_scan.read_offline_scan(package, index, lambda name: detail))[1]


def offline_scan_creation_date(tmp_path, date):
    return read_offline(tmp_path, created=date).release_date


def offline_scan_file_modified(tmp_path, date):
    return read_offline(tmp_path, modified=date).files[0].modified


def offline_scan_package_created(tmp_path, date):
    package, _index, _detail = offline_members(tmp_path, package_created=date)
    return offline_scan.read_package_header(package)["creation_date"]


def read_feed(tmp_path, release_date=DEFAULT, modified=DEFAULT):
    document = {"format_version": 1, "updates": [
        {"id": U1, "title": "first", "release_date": DEFAULT},
        {"id": U2, "title": "second", "release_date": release_date,
         "files": [{"name": "a.msi", "sha1": SHA1, "modified": modified}]},
    ]}
    path = tmp_path / "feed.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return read_catalog_file(str(path))[1][1]


def catalog_file_release_date(tmp_path, date):
    return read_feed(tmp_path, release_date=date).release_date


def catalog_file_file_modified(tmp_path, date):
    return read_feed(tmp_path, modified=date).files[0].modified


# (reader and field, how to read it, what a refusal must name besides the value)
FIELDS = [
    pytest.param(offline_scan_creation_date, ["member 'package.xml'", "update %s" % U2, "CreationDate"],
                 id="offline_scan-CreationDate"),
    pytest.param(offline_scan_file_modified, ["update %s" % U2, "file 1 (a.cab) Modified"], id="offline_scan-File-Modified"),
    pytest.param(offline_scan_package_created, ["member 'package.xml'", "OfflineSyncPackage CreationDate"],
                 id="offline_scan-package-CreationDate"),
    pytest.param(wsus_export_creation_date, ["record 2 at byte", "(update %s)" % U2, "release date (CreationDate)"],
                 id="wsus_export-CreationDate"),
    pytest.param(wsus_export_file_modified, ["record 2 at byte", "(update %s)" % U2, "file 1 (a.cab) Modified"],
                 id="wsus_export-File-Modified"),
    pytest.param(wsus_export_creation_time, ["package.xml", "ExportPackage CreationTime"], id="wsus_export-CreationTime"),
    pytest.param(update_xml_creation_date, ["update.xml (update %s)" % U2, "release date (CreationDate)"],
                 id="update_xml-CreationDate"),
    pytest.param(update_xml_file_modified, ["update.xml (update %s)" % U2, "file 1 (a.cab) Modified"],
                 id="update_xml-File-Modified"),
    pytest.param(catalog_file_release_date, ["updates[1].release_date (update %s)" % U2, "release date"],
                 id="catalog_file-release_date"),
    pytest.param(catalog_file_file_modified, ["updates[1].files[0].modified (update %s)" % U2, "modified date"],
                 id="catalog_file-files-modified"),
]


@pytest.mark.parametrize("text, expected", ACCEPTED)
@pytest.mark.parametrize("read, _names", FIELDS)
def test_every_date_field_is_converted_to_utc(tmp_path, read, _names, text, expected):
    assert read(tmp_path, text) == expected


@pytest.mark.parametrize("text, cause", MALFORMED)
@pytest.mark.parametrize("read, names", FIELDS)
def test_malformed_dates_are_refused_naming_record_and_field(tmp_path, read, names, text, cause):
    with pytest.raises(CatalogError) as info:
        read(tmp_path, text)
    message = str(info.value)
    assert "%r %s" % (text, cause) in message, message
    for name in names:
        assert name in message, message


# -- a real WSUS export, synced ----------------------------------------------------------------------

def sync(cab, tmp_path):
    """Sync ``cab`` into a fresh SQLite store as catalog_sync does; return the store's file."""
    store = open_store(str(tmp_path / "store" / "patchwave.db"))
    try:
        work = tmp_path / "work"
        work.mkdir()
        with open_source(cab, languages=("en",), verify_signature=False, tmpdir=str(work)) as (info, records):
            result = sync_records(store, records, SyncOptions(source=info["source"], format=info["format"],
                                                              package_created=info["package_created"]))
        return store.path, info, result
    finally:
        store.close()


def test_a_real_wsus_export_with_local_times_syncs(tmp_path, samples_dir):
    """Microsoft's records, their CreationDate rewritten as .NET writes a local time, in a cabinet."""
    local = {  # record number -> (the local time written, the same moment in UTC)
        1: ("2004-02-28T18:17:34.1032476-08:00", "2004-02-29T02:17:34Z"),
        2: ("2004-05-15T11:20:00.9740000+05:30", "2004-05-15T05:50:00Z"),
    }
    folder = os.path.join(samples_dir, "wsus_export")
    records = []
    expected = {}
    for number, _offset, uid, revision, xml in iter_metadata_records(os.path.join(folder, "metadata_excerpt.txt")):
        start = xml.index('CreationDate="') + len('CreationDate="')
        written, utc = local.get(number, (None, None))
        if written:
            xml = xml[:start] + written + xml[xml.index('"', start):]
        else:
            utc = xml[start:start + 19] + "Z"  # the others keep Microsoft's ...Z, milliseconds dropped
        expected[uid] = utc
        records.append(metadata_record(xml, uid, revision))
    with open(os.path.join(folder, "package_excerpt.xml"), encoding="utf-8-sig") as handle:
        package = handle.read()
    assert 'CreationTime="2024-06-19T17:11:14Z"' in package
    package = package.replace('CreationTime="2024-06-19T17:11:14Z"', 'CreationTime="2024-06-19T10:11:14.5000000-07:00"')
    cab = str(tmp_path / "export.cab")
    write_cab(cab, [("package.xml", ("\ufeff" + package).encode("utf-8")),
                    ("metadata.txt", "".join(records).encode("utf-8"))])

    path, info, result = sync(cab, tmp_path)
    assert info["format"] == "wsus_export"
    assert info["package_created"] == "2024-06-19T17:11:14Z"
    assert result["counts"]["added"] == 7
    with sqlite3.connect(path) as db:
        stored = dict(db.execute("SELECT update_id, release_date FROM updates"))
        created = db.execute("SELECT package_created FROM catalog_versions").fetchall()
    assert stored == expected
    assert stored["3689bdc8-b205-4af4-8d4a-a63924c5e9d5"] == "2004-02-29T02:17:34Z"
    assert created == [("2024-06-19T17:11:14Z",)]


def test_a_malformed_date_in_a_wsus_export_names_the_record(tmp_path, samples_dir):
    folder = os.path.join(samples_dir, "wsus_export")
    records = []
    for number, _offset, uid, revision, xml in iter_metadata_records(os.path.join(folder, "metadata_excerpt.txt")):
        if number == 3:
            xml = xml.replace('CreationDate="2018-09-28T23:28:25.774Z"', 'CreationDate="2018-09-31T23:28:25.774Z"')
        records.append(metadata_record(xml, uid, revision))
    with open(os.path.join(folder, "package_excerpt.xml"), "rb") as handle:
        package = handle.read()
    cab = str(tmp_path / "export.cab")
    write_cab(cab, [("package.xml", package), ("metadata.txt", "".join(records).encode("utf-8"))])
    with pytest.raises(CatalogError) as info:
        sync(cab, tmp_path)
    message = str(info.value)
    assert "record 3 at byte" in message and "(update f702a48c-919b-45d6-9aef-ca4248d50397)" in message, message
    assert "release date (CreationDate) '2018-09-31T23:28:25.774Z' is not a valid date" in message, message


def stored_dates(cab, tmp_path):
    path, info, _result = sync(cab, tmp_path)
    with sqlite3.connect(path) as db:
        return (info["package_created"], dict(db.execute("SELECT update_id, release_date FROM updates")),
                dict(db.execute("SELECT file_id, modified FROM files")))


def test_a_generated_export_in_local_time_stores_the_dates_of_the_same_catalog_in_utc(tmp_path):
    """A whole generated catalog: written as a WSUS export from a server at UTC-8 (every date local,
    offset, seven digits) and as an offline scan package (every date UTC), it stores the same dates."""
    export, offline = tmp_path / "export", tmp_path / "offline"
    export.mkdir()
    offline.mkdir()
    generate("wsus_export", str(export / "export.cab"), updates=150, languages=("en",), utc_offset_minutes=-480,
             keep_dir=str(export / "members"))
    generate("offline_scan", str(offline / "wsusscn2.cab"), updates=150, languages=("en",))
    metadata = (export / "members" / "metadata.txt").read_text(encoding="utf-8")
    assert re.search(r'CreationDate="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}-08:00"', metadata)
    assert re.search(r'Modified="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}-08:00"', metadata)
    assert "Z\"" not in metadata  # no date in UTC form left

    from_export = stored_dates(str(export / "export.cab"), export)
    from_offline = stored_dates(str(offline / "wsusscn2.cab"), offline)
    assert from_export[0] == from_offline[0] and from_export[0].endswith("Z")
    assert len(from_export[1]) > 100 and len(from_export[2]) > 10
    assert from_export[1] == from_offline[1]
    assert from_export[2] == from_offline[2]


# -- the one parser underneath: the store's timestamps module -------------------------------------

UTC = datetime.timezone.utc


@pytest.mark.parametrize("text, moment", [
    ("2026-12-03T10:28:05Z", datetime.datetime(2026, 12, 3, 10, 28, 5, tzinfo=UTC)),  # the store's own form
    (" 2026-12-03T10:28:05z ", datetime.datetime(2026, 12, 3, 10, 28, 5, tzinfo=UTC)),
    ("2026-12-03T10:28:05", datetime.datetime(2026, 12, 3, 10, 28, 5, tzinfo=UTC)),
    ("2026-12-03T11:28:05+01:00", datetime.datetime(2026, 12, 3, 10, 28, 5, tzinfo=UTC)),
    ("2026-12-03 10:28", datetime.datetime(2026, 12, 3, 10, 28, tzinfo=UTC)),
    ("2026-12-03", datetime.datetime(2026, 12, 3, tzinfo=UTC)),
    ("2004-02-28T18:17:34.1032476-08:00", datetime.datetime(2004, 2, 29, 2, 17, 34, 103247, tzinfo=UTC)),
    ("2026-12-03T10:28:05,5Z", datetime.datetime(2026, 12, 3, 10, 28, 5, 500000, tzinfo=UTC)),
])
def test_parse_time_returns_aware_utc(text, moment):
    parsed = parse_time(text)
    assert parsed == moment and parsed.utcoffset() == datetime.timedelta(0)
    assert format_time(parsed) == format_time(moment)


@pytest.mark.parametrize("text, message", [
    ("yesterday", "'yesterday' is not an ISO 8601 time"),
    (None, "None is not an ISO 8601 time"),
    ("2026-02-29T00:00:00Z", "'2026-02-29T00:00:00Z' is not a valid time"),
    ("2026-12-03T10:28:05+05:75", "'2026-12-03T10:28:05+05:75' is not a valid time"),
    ("0001-01-01T00:00:00+01:00", "'0001-01-01T00:00:00+01:00' is not a valid time"),  # before year 1 in UTC
])
def test_parse_time_refuses_naming_the_text(text, message):
    with pytest.raises(ValueError) as info:
        parse_time(text)
    assert str(info.value) == message


def test_format_time_pads_early_years():
    assert format_time(datetime.datetime(1, 1, 1)) == "0001-01-01T00:00:00Z"
    assert format_time(datetime.datetime(2026, 12, 3, 10, 28, 5, 999999, tzinfo=UTC)) == "2026-12-03T10:28:05Z"
