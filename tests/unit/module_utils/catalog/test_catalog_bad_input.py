"""Bad input through the whole sync path: a clear error naming the file and the cause, the store
exactly as it was, and no files left behind in the work folder."""

import os
import re
import shutil
import sqlite3

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import CatalogError
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.source import open_source
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.sync import SyncOptions, sync_records
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store

from tests.catalog_gen import generate
from tests.catalog_gen.cab import write_cab
from tests.catalog_gen.signing import make_test_ca, sign_cab

TABLES = ("catalog_versions", "updates", "update_titles", "update_supersedence", "update_files", "files")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A small generated offline scan package, its unpacked members, a signed copy and a WSUS export."""
    root = tmp_path_factory.mktemp("bad-input")
    members = root / "members"
    cab = str(root / "wsusscn2.cab")
    generate("offline_scan", cab, updates=300, keep_dir=str(members), languages=("en",))
    ca = make_test_ca(str(root / "ca"))
    signed = sign_cab(cab, str(root / "signed.cab"), ca["dir"])
    export = str(root / "export.cab")
    generate("wsus_export", export, updates=300, languages=("en",))
    return {"root": root, "cab": cab, "members": members, "ca": ca, "signed": signed, "export": export}


@pytest.fixture
def store(tmp_path, built):
    """A store holding one good sync, to prove a failed sync leaves it exactly as it was."""
    opened = open_store(str(tmp_path / "store.db"))
    with open_source(built["signed"], trusted_ca_file=built["ca"]["ca_file"]) as (info, records):
        sync_records(opened, records, SyncOptions(source=info["source"], format=info["format"]))
    yield opened
    opened.close()


def snapshot(store):
    with sqlite3.connect(store.path) as db:
        return {t: db.execute("SELECT * FROM %s ORDER BY 1, 2" % t).fetchall() for t in TABLES}


def rebuild(built, tmp_path, package_xml=None, drop=(), extra=(), name="bad.cab"):
    """An offline scan package made from the good one's members, with changes."""
    members = built["members"]
    package = tmp_path / "package.cab"
    write_cab(str(package), [("package.xml", package_xml if package_xml is not None
                              else (members / "package.xml").read_bytes())])
    outer = [("package.cab", str(package))]
    for entry in sorted(os.listdir(members)):
        if entry in ("package.xml", "package.cab") or entry in drop:
            continue
        outer.append((entry, str(members / entry)))
    out = str(tmp_path / name)
    write_cab(out, outer + list(extra))
    return out


def sync_fails(store, path, tmp_path, match, **kwargs):
    """Run a sync that must fail; check the message, the store and the work folder."""
    before = snapshot(store)
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    kwargs.setdefault("verify_signature", False)
    fmt = kwargs.pop("fmt", "auto")
    with pytest.raises(CatalogError) as caught:
        with open_source(path, fmt, tmpdir=str(work), **kwargs) as (info, records):
            sync_records(store, records, SyncOptions(source=info["source"], format=info["format"]))
    message = str(caught.value)
    assert path in message, message
    assert re.search(match, message), message
    assert snapshot(store) == before
    assert os.listdir(str(work)) == []
    return message


def test_entity_declarations_are_refused(store, built, tmp_path):
    body = (built["members"] / "package.xml").read_bytes()
    start = body.index(b"<OfflineSyncPackage")
    bomb = (b'<?xml version="1.0"?><!DOCTYPE OfflineSyncPackage [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>')
    path = rebuild(built, tmp_path, package_xml=bomb + body[start:])
    sync_fails(store, path, tmp_path, "package.xml.*document type declarations are refused")


def test_external_dtd_is_refused_and_never_read(store, built, tmp_path):
    body = (built["members"] / "package.xml").read_bytes()
    start = body.index(b"<OfflineSyncPackage")
    xxe = b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "file:///etc/passwd">'
    path = rebuild(built, tmp_path, package_xml=xxe + body[start:])
    message = sync_fails(store, path, tmp_path, "document type declarations are refused")
    assert "root:" not in message


def test_truncated_cab(store, built, tmp_path):
    path = str(tmp_path / "truncated.cab")
    data = open(built["cab"], "rb").read()
    open(path, "wb").write(data[: len(data) // 2])
    sync_fails(store, path, tmp_path, "truncated")


def test_corrupt_cab_data(store, built, tmp_path):
    path = str(tmp_path / "corrupt.cab")
    data = bytearray(open(built["cab"], "rb").read())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(64)
    open(path, "wb").write(bytes(data))
    sync_fails(store, path, tmp_path, "cabextract|corrupt|checksum|failed")


def test_member_escaping_the_extraction_folder(store, built, tmp_path):
    path = rebuild(built, tmp_path, extra=[("../escape.txt", b"x")])
    sync_fails(store, path, tmp_path, "escape")
    assert not (tmp_path / "escape.txt").exists()


def test_wrong_format_is_named(store, built, tmp_path):
    sync_fails(store, built["cab"], tmp_path, "looks like an offline scan package", fmt="wsus_export")
    sync_fails(store, built["export"], tmp_path, "looks like a WSUS export", fmt="offline_scan")
    text = tmp_path / "notes.txt"
    text.write_text("just text\n")
    sync_fails(store, str(text), tmp_path, "format not recognised")


def test_missing_member(store, built, tmp_path):
    path = rebuild(built, tmp_path, drop=("index.xml",))
    sync_fails(store, path, tmp_path, "neither an offline scan package")
    sync_fails(store, path, tmp_path, "'index.xml' is missing", fmt="offline_scan")


def test_missing_detail_cab(store, built, tmp_path):
    detail = sorted(n for n in os.listdir(built["members"]) if n.startswith("package") and n != "package.cab"
                    and n.endswith(".cab"))[0]
    path = rebuild(built, tmp_path, drop=(detail,))
    sync_fails(store, path, tmp_path, "detail cabinet '%s', which is missing" % detail)


def test_unsigned_package_is_refused(store, built, tmp_path):
    sync_fails(store, built["cab"], tmp_path, "not signed", verify_signature=True)


def test_untrusted_signer_is_refused(store, built, tmp_path):
    sync_fails(store, built["signed"], tmp_path, "verify|trust|certificate", verify_signature=True)


def test_tampered_signed_package_is_refused(store, built, tmp_path):
    path = str(tmp_path / "tampered.cab")
    data = bytearray(open(built["signed"], "rb").read())
    data[200] ^= 0xFF
    open(path, "wb").write(bytes(data))
    sync_fails(store, path, tmp_path, "modified after signing|does not verify|not signed|truncated|checksum",
               verify_signature=True, trusted_ca_file=built["ca"]["ca_file"])


@pytest.mark.parametrize("old, new, match", [
    (b'UpdateId="', b'UpdateId="{not-a-guid}', "is not a GUID"),
    (b'CreationDate="2', b'CreationDate="9999-99-99T00:00:00Z" X="', "not a valid date"),
    (b'RevisionId="', b'RevisionId="x', "RevisionId .* is not an integer"),
])
def test_invalid_records(store, built, tmp_path, old, new, match):
    start = (built["members"] / "package.xml").read_bytes().index(b"<Update ")
    text = (built["members"] / "package.xml").read_bytes()
    patched = text[:start] + text[start:].replace(old, new, 1)
    path = rebuild(built, tmp_path, package_xml=patched)
    sync_fails(store, path, tmp_path, match)


def test_good_sync_after_failures_still_works(store, built, tmp_path):
    shutil.copyfile(built["signed"], str(tmp_path / "again.cab"))
    with open_source(str(tmp_path / "again.cab"), trusted_ca_file=built["ca"]["ca_file"]) as (info, records):
        result = sync_records(store, records, SyncOptions(source=info["source"], format=info["format"]))
    assert result["changed"] is False
