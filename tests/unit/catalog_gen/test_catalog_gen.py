# -*- coding: utf-8 -*-
"""Tests of the test-data catalog generator (tests/catalog_gen): formats, digests, determinism."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml
from lxml import etree

from tests.catalog_gen import Catalog, generate, payload_bytes, write_payloads
from tests.catalog_gen.cab import write_cab
from tests.catalog_gen.catalog import REV_BASE

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
OFFLINE_NS = "{http://schemas.microsoft.com/msus/2004/02/OfflineSync}"
UPD_NS = "{http://schemas.microsoft.com/msus/2002/12/Update}"
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
SIZE = 300

needs_cabextract = pytest.mark.skipif(not shutil.which("cabextract"), reason="cabextract is not installed")


def cabextract(cab, folder):
    os.makedirs(folder, exist_ok=True)
    proc = subprocess.run(["cabextract", "-q", "-d", str(folder), str(cab)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    return folder


def fragment(path):
    """Parse a namespace-less fragment file (no single root) by wrapping it."""
    with open(path, "rb") as handle:
        return etree.fromstring(b"<root>" + handle.read() + b"</root>")


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    """A small offline scan package, extracted: (manifest, folder with pkg/, detail/<cab>/)."""
    base = tmp_path_factory.mktemp("offline")
    manifest = generate("offline_scan", str(base / "wsusscn2.cab"), updates=SIZE, seed=7, revisions_per_cab=80,
                        payloads_dir=str(base / "payloads"))
    outer = cabextract(base / "wsusscn2.cab", base / "outer")
    cabextract(outer / "package.cab", base / "pkg")
    for name in os.listdir(outer):
        if re.match(r"package\d+\.cab$", name):
            cabextract(outer / name, base / "detail" / name)
    return manifest, base


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    base = tmp_path_factory.mktemp("export")
    manifest = generate("wsus_export", str(base / "export.cab"), updates=SIZE, seed=7)
    cabextract(base / "export.cab", base / "x")
    return manifest, base / "x"


@pytest.fixture(scope="module")
def catalog_file(tmp_path_factory):
    base = tmp_path_factory.mktemp("catalog_file")
    manifest = generate("catalog_file", str(base / "catalog.yml"), updates=SIZE, seed=7)
    with open(base / "catalog.yml", encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    return manifest, data, base


# --------------------------------------------------------------------------------------- plan
@pytest.mark.parametrize("size", [150, 300, 1000, 5000, 50000, 200000])
def test_plan_reaches_the_requested_size(size):
    catalog = Catalog(updates=size, seed=1)
    assert abs(catalog.total - size) <= 1


def test_tiny_catalogs_still_have_every_kind():
    manifest = Catalog(updates=10, seed=1).manifest()
    groups = manifest["counts"]["by_group"]
    for group in ("category", "detectoid", "cu", "cu-payload", "ssu", "dotnet", "definition"):
        assert groups.get(group, 0) > 0, group
    assert manifest["dangling"]["supersedes"] and manifest["dangling"]["prerequisites"]
    assert manifest["non_bmp_title"]


def test_unsupported_language_is_refused():
    with pytest.raises(ValueError):
        Catalog(updates=100, languages=("en", "xx"))


# ------------------------------------------------------------------------------- offline scan
@needs_cabextract
def test_offline_scan_package_xml_and_index(offline):
    manifest, base = offline
    root = etree.parse(str(base / "pkg" / "package.xml")).getroot()
    assert root.tag == OFFLINE_NS + "OfflineSyncPackage"
    assert root.get("PackageId") == manifest["package_id"]
    updates = root.findall(OFFLINE_NS + "Updates/" + OFFLINE_NS + "Update")
    assert len(updates) == manifest["total_updates"]
    locations = root.findall(OFFLINE_NS + "FileLocations/" + OFFLINE_NS + "FileLocation")
    assert len(locations) == manifest["counts"]["files"]
    revision_ids = [int(u.get("RevisionId")) for u in updates]
    assert revision_ids == sorted(set(revision_ids))
    bundles = {int(u.get("RevisionId")) for u in updates if u.get("IsBundle") == "true"}
    assert len(bundles) == manifest["counts"]["bundles"]
    children = [u for u in updates if u.get("DeploymentAction") == "Bundle"]
    assert len(children) == manifest["counts"]["payload_children"]
    for child in children:
        assert int(child.find(OFFLINE_NS + "BundledBy/" + OFFLINE_NS + "Revision").get("Id")) in bundles
        assert child.find(OFFLINE_NS + "PayloadFiles") is not None
    dangling = {int(r) for ids in manifest["dangling"]["superseded_by_revision_ids"].values() for r in ids}
    assert dangling and not dangling & set(revision_ids)
    for update in updates:
        for revision in update.iterfind(OFFLINE_NS + "SupersededBy/" + OFFLINE_NS + "Revision"):
            assert int(revision.get("Id")) in bundles or int(revision.get("Id")) in dangling
    assert any(u.find(OFFLINE_NS + "Prerequisites/" + OFFLINE_NS + "Or") is not None for u in updates)
    with open(base / "pkg" / "package.xml", "rb") as handle:
        assert b"\n" not in handle.read()  # one line, as Microsoft writes it

    index = etree.parse(str(base / "outer" / "index.xml")).getroot()
    assert index.tag == "CABLIST"
    cabs = [(c.get("NAME"), int(c.get("RANGESTART"))) for c in index]
    assert [name for name, _start in cabs] == ["package%d.cab" % n for n in range(2, len(cabs) + 2)]
    assert len(cabs) == len(manifest["output"]["detail_cabs"]) > 1
    assert cabs[0][1] == revision_ids[0] and index[0].get("FILESDIR") == "1"
    starts = [start for _name, start in cabs]
    for revision in revision_ids:
        position = max(i for i, start in enumerate(starts) if start <= revision)
        folder = base / "detail" / cabs[position][0]
        assert (folder / "c" / str(revision)).is_file()
        assert (folder / "x" / str(revision)).is_file()
        assert (folder / "l" / "en" / str(revision)).is_file()


@needs_cabextract
def test_offline_scan_fragments_are_well_formed(offline):
    manifest, base = offline
    kinds = set()
    german = 0
    for cab in os.listdir(base / "detail"):
        folder = base / "detail" / cab
        for name in os.listdir(folder / "c"):
            core = fragment(folder / "c" / name)
            assert [child.tag for child in core][:2] == ["UpdateIdentity", "Properties"]
            kinds.add(core[1].get("UpdateType"))
            text = etree.tostring(core).decode()
            assert "xmlns" not in text and "bar:" not in text and "upd:" not in text
            extended = fragment(folder / "x" / name)
            assert extended[0].tag == "ExtendedProperties"
            for handler in extended.iter("HandlerSpecificData"):
                assert handler.get("type") in ("cat:Category", "cbs:Cbs", "cmd:CommandLineInstallation")
            localized = fragment(folder / "l" / "en" / name)
            assert localized[0].tag == "LocalizedProperties" and localized[0].findtext("Language") == "en"
            if (folder / "l" / "de" / name).is_file():
                german += 1
                assert fragment(folder / "l" / "de" / name)[0].findtext("Language") == "de"
    assert kinds == {"Software", "Category", "Detectoid"}
    assert german == manifest["counts"]["multilanguage_updates"]
    rules = "".join(open(os.path.join(base, "detail", cab, "c", n), encoding="utf-8").read()
                    for cab in os.listdir(base / "detail") for n in os.listdir(base / "detail" / cab / "c"))
    for token in ("<b.WindowsVersion ", "<CbsPackageInstalledByIdentity ", "<And>", "<IsInstallable>",
                  '<AtLeastOne IsCategory="true">', "<SupersededUpdates>", "<BundledUpdates>"):
        assert token in rules, token


@needs_cabextract
def test_file_digests_match_payload_bytes(offline):
    manifest, base = offline
    payloads = base / "payloads"
    seen = 0
    for cab in os.listdir(base / "detail"):
        for name in os.listdir(base / "detail" / cab / "x"):
            for entry in fragment(base / "detail" / cab / "x" / name).iter("File"):
                with open(payloads / entry.get("FileName"), "rb") as handle:
                    data = handle.read()
                assert len(data) == int(entry.get("Size"))
                assert base64.b64encode(hashlib.sha1(data).digest()).decode() == entry.get("Digest")
                assert hashlib.sha1(data).hexdigest() in entry.get("FileName")
                assert (base64.b64encode(hashlib.sha256(data).digest()).decode()
                        == entry.findtext("AdditionalDigest"))
                seen += 1
    assert seen == manifest["counts"]["files"] == manifest["payloads"]["files"]
    sample = manifest["sample_bundle"]["children"][0]["files"][0]
    assert sample["url"].startswith("http://download.windowsupdate.com/d/msdownload/update/software/secu/")
    assert sample["url"].endswith("/" + sample["name"])


def test_payload_bytes_api_and_wsus_layout(tmp_path):
    catalog = Catalog(updates=150, seed=3)
    files = [f for u in catalog.iter_updates() for f in u.files]
    assert files and all(256 <= f.size <= 4096 for f in files)
    for file in files[:20]:
        data = payload_bytes(file)
        assert base64.b64encode(hashlib.sha1(data).digest()).decode() == file.sha1
        assert base64.b64encode(hashlib.sha256(data).digest()).decode() == file.sha256
    count, total = write_payloads(catalog, str(tmp_path / "content"), layout="wsus")
    assert count == len(files) and total == sum(f.size for f in files)
    first = files[0]
    path = tmp_path / "content" / first.sha1_hex[-2:].upper() / (first.sha1_hex.upper() + os.path.splitext(first.name)[1])
    assert path.read_bytes() == payload_bytes(first)


@needs_cabextract
def test_same_seed_same_bytes(tmp_path):
    first = generate("offline_scan", str(tmp_path / "a.cab"), updates=200, seed=11, keep_dir=str(tmp_path / "a"))
    generate("offline_scan", str(tmp_path / "b.cab"), updates=200, seed=11, keep_dir=str(tmp_path / "b"))
    generate("offline_scan", str(tmp_path / "c.cab"), updates=200, seed=12, keep_dir=str(tmp_path / "c"))
    package = (tmp_path / "a" / "package.xml").read_bytes()
    assert package == (tmp_path / "b" / "package.xml").read_bytes()
    assert (tmp_path / "a.cab").read_bytes() == (tmp_path / "b.cab").read_bytes()
    assert package != (tmp_path / "c" / "package.xml").read_bytes()
    # the package.xml inside the cab is the one kept
    assert (cabextract(tmp_path / "a" / "package.cab", tmp_path / "ax") / "package.xml").read_bytes() == package
    # categories do not depend on the seed, updates do
    other = Catalog(updates=200, seed=12).manifest()
    assert other["categories"] == first["categories"]
    assert other["sample_bundle"]["update_id"] != first["sample_bundle"]["update_id"]


# ------------------------------------------------------------------------------- WSUS export
def parse_metadata(data):
    """Split metadata.txt independently of the generator: lengths are UTF-16 code units."""
    assert not data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8")
    records = []
    position = 0
    while position < len(text):
        update_id, revision, length = text[position:position + 56].split(",")[:3]
        assert GUID.match(update_id) and len(revision) == 8 and len(length) == 8
        start = position + 55  # 36 + 1 + 8 + 1 + 8 + 1
        units = int(length, 16)
        end = start
        while units > 0:
            units -= 2 if ord(text[end]) > 0xFFFF else 1
            end += 1
        assert units == 0
        assert text[end:end + 2] == "\r\n", "record %d does not end where its length says" % len(records)
        records.append((update_id, int(revision, 16), text[start:end]))
        position = end + 2
    return records


def test_wsus_export_metadata_lengths_are_utf16_units(export):
    manifest, folder = export
    records = parse_metadata((folder / "metadata.txt").read_bytes())
    assert len(records) == manifest["total_updates"]
    non_bmp = umlauts = multiline = 0
    for update_id, revision, xml in records:
        root = etree.fromstring(xml.encode("utf-8"))
        assert root.tag == UPD_NS + "Update"
        identity = root.find(UPD_NS + "UpdateIdentity")
        assert identity.get("UpdateID").lower() == update_id
        assert int(identity.get("RevisionNumber")) == revision
        if len(xml.encode("utf-16-le")) // 2 != len(xml):
            non_bmp += 1
        umlauts += "ü" in xml
        multiline += "\n" in xml
    assert non_bmp >= 1 and umlauts > 10 and multiline > 10
    assert manifest["non_bmp_title"]["update_id"] in {r[0] for r in records}


def test_wsus_export_package_xml(export):
    manifest, folder = export
    raw = (folder / "package.xml").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf<?xml") and b"\n" not in raw
    root = etree.fromstring(raw[3:])
    assert root.tag == "ExportPackage" and root.get("FormatVersion") == "1.0" and root.get("ProtocolVersion") == "1.20"
    updates = root.findall("Updates/Update")
    assert len(updates) == manifest["total_updates"]
    assert len(root.findall("Files/File")) == manifest["counts"]["files"]
    assert all(f.get("MUUrl") and f.get("Name") for f in root.iter("File") if f.getparent().getparent() is root)
    records = parse_metadata((folder / "metadata.txt").read_bytes())
    assert [(u.get("UpdateId"), int(u.get("RevisionNumber"))) for u in updates] == [(r[0], r[1]) for r in records]
    products = {u.get("UpdateId"): [c.get("Value") for c in u.iter("Category")] for u in updates}
    for latest in manifest["latest_cu_by_variant"].values():
        assert latest["product"] in products[latest["update_id"]]
    # payload children are listed before the bundle that contains them
    order = {u.get("UpdateId"): n for n, u in enumerate(updates)}
    sample = manifest["sample_bundle"]
    assert all(order[c["update_id"]] < order[sample["update_id"]] for c in sample["children"])


# ------------------------------------------------------------------------------- catalog_file
_TOP = {"format_version", "source", "categories", "updates"}
_CATEGORY = {"id", "type", "title", "titles", "parent"}
_UPDATE = {"id", "revision", "kind", "title", "titles", "description", "descriptions", "kb", "kbs", "severity",
           "release_date", "products", "classification", "classifications", "categories", "reboot_behavior", "impact",
           "support_url", "prerequisites", "bundles", "supersedes", "files", "rules", "languages"}
_FILE = {"name", "size", "sha1", "sha256", "urls"}


def test_catalog_file_yaml_uses_only_documented_keys(catalog_file):
    manifest, data, base = catalog_file
    assert set(data) == _TOP and data["format_version"] == 1
    assert len(data["categories"]) + len(data["updates"]) == manifest["total_updates"]
    for category in data["categories"]:
        assert set(category) <= _CATEGORY and GUID.match(category["id"])
    for update in data["updates"]:
        assert set(update) <= _UPDATE, set(update) - _UPDATE
        assert update["kind"] in ("software", "detectoid")
        for file in update.get("files", ()):
            assert set(file) <= _FILE and len(file["sha1"]) == 28 and len(file["sha256"]) == 44
        for rule in update.get("rules", {}).values():
            etree.fromstring(rule.encode("utf-8"))
        if "kb" in update:
            assert isinstance(update["kb"], str) and len(update["kb"]) == 7
        assert isinstance(update.get("release_date", ""), str)
    with open(base / "catalog.yml", encoding="utf-8") as handle:
        assert all(getattr(event, "anchor", None) is None for event in yaml.parse(handle))  # no anchors/aliases


def test_catalog_file_json_equals_yaml(tmp_path, catalog_file):
    _manifest, data, _base = catalog_file
    generate("catalog_file", str(tmp_path / "catalog.json"), updates=SIZE, seed=7)
    with open(tmp_path / "catalog.json", encoding="utf-8") as handle:
        assert json.load(handle) == data


def test_manifest_facts_hold_in_the_catalog(catalog_file):
    manifest, data, _base = catalog_file
    updates = {u["id"]: u for u in data["updates"]}
    chain = manifest["supersedence_chain"]["update_ids"]
    assert len(chain) >= 2
    for older, newer in zip(chain, chain[1:]):
        assert older in updates[newer]["supersedes"]
    for update_id, absent in manifest["dangling"]["supersedes"].items():
        assert set(absent) <= set(updates[update_id]["supersedes"]) and not set(absent) & set(updates)
    for update_id, absent in manifest["dangling"]["prerequisites"].items():
        assert any(set(absent) & set(clause) for clause in updates[update_id]["prerequisites"])
        assert not set(absent) & set(updates)
    for product, ids in manifest["latest_cu_by_product"].items():
        for update_id in ids:
            assert product in updates[update_id]["products"]
            assert updates[update_id]["severity"] in ("Critical", "Important")
            assert updates[update_id]["reboot_behavior"] in ("AlwaysRequiresReboot", "CanRequestReboot")
    expected = {"569e8e8f-c6cd-42c8-92a3-efbb20a0f6f5", "f702a48c-919b-45d6-9aef-ca4248d50397",
                "71718f13-7324-4b0f-8f9e-2ca9dc978e53", "72e7624a-5b00-45d2-b92f-e561c0a6a160"}
    assert expected <= set(manifest["latest_cu_by_product"])
    bundles = [u for u in data["updates"] if "bundles" in u]
    assert len(bundles) == manifest["counts"]["bundles"]
    assert all(b["classification"] for b in bundles)
    assert len({b["kb"] for b in bundles}) == len(bundles)  # KB numbers are unique per bundle
    multi = [u for u in data["updates"] if "titles" in u]
    assert multi and all(set(u["titles"]) == {"en", "de"} for u in multi)
    titles = [c for c in data["categories"] if c["id"] == "71718f13-7324-4b0f-8f9e-2ca9dc978e53"]
    assert titles[0]["title"] == "Microsoft Server operating system-21H2"


def test_formats_carry_the_same_updates(export, catalog_file):
    export_manifest, folder = export
    _manifest, data, _base = catalog_file
    records = parse_metadata((folder / "metadata.txt").read_bytes())
    from_export = {(r[0], r[1]) for r in records}
    from_file = {(c["id"], None) for c in data["categories"]} | {(u["id"], u["revision"]) for u in data["updates"]}
    assert {i for i, _r in from_export} == {i for i, _r in from_file}
    revisions = {u["id"]: u["revision"] for u in data["updates"]}
    assert all(revisions[i] == r for i, r in from_export if i in revisions)


# ------------------------------------------------------------------------------- cab writer
@needs_cabextract
def test_cab_writer_round_trips(tmp_path):
    big = hashlib.shake_256(b"x").digest(100000)  # incompressible, spans blocks
    members = [("a.txt", b"abc"), ("c/123", b"hello " * 20000), ("x/9", big), ("l/de/7", "Grüße".encode()),
               ("empty", b"")]
    write_cab(str(tmp_path / "t.cab"), members)
    out = cabextract(tmp_path / "t.cab", tmp_path / "out")
    for name, data in members:
        assert (out / name).read_bytes() == data
    if shutil.which("gcab"):
        subprocess.run(["gcab", "-x", "-C", str(tmp_path / "g"), str(tmp_path / "t.cab")], check=True)
        assert (tmp_path / "g" / "x" / "9").read_bytes() == big


# ------------------------------------------------------------------------------- reader, CLI
@needs_cabextract
def test_collection_offline_reader_reads_the_package(offline):
    reader = pytest.importorskip(
        "ansible_collections.patchwave.windows.plugins.module_utils._catalog.readers.offline_scan")
    manifest, base = offline
    updates = [r for r in reader.read_offline_scan(str(base / "pkg" / "package.xml"),
                                                   str(base / "outer" / "index.xml"),
                                                   lambda name: str(base / "detail" / name), languages=("en", "de"))
               if hasattr(r, "update_id")]
    assert len(updates) == manifest["total_updates"]
    by_id = {u.update_id: u for u in updates}
    sample = by_id[manifest["sample_bundle"]["update_id"]]
    assert sample.is_bundle and sample.kb_articles == (manifest["sample_bundle"]["kb"],)
    child = by_id[manifest["sample_bundle"]["children"][0]["update_id"]]
    assert child.bundled_by_revision_ids == (sample.revision_id,)
    assert child.files[0].sha1 == manifest["sample_bundle"]["children"][0]["files"][0]["sha1"]
    assert by_id[manifest["non_bmp_title"]["update_id"]].titles["de"] == manifest["non_bmp_title"]["title"]
    assert sample.revision_id >= REV_BASE


def test_cli_writes_catalog_and_manifest(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tests.catalog_gen", "--format", "catalog_file", "--updates", "120",
                           "--out", str(tmp_path / "c.yml"), "--manifest", str(tmp_path / "m.json"), "--seed", "5",
                           "--languages", "en"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    manifest = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == 5 and manifest["languages"] == ["en"]
    data = yaml.safe_load((tmp_path / "c.yml").read_text(encoding="utf-8"))
    assert len(data["categories"]) + len(data["updates"]) == manifest["total_updates"]
    assert not any("titles" in u for u in data["updates"])
    bad = subprocess.run([sys.executable, "-m", "tests.catalog_gen", "--format", "catalog_file", "--out",
                          str(tmp_path / "x.yml"), "--languages", "en,xx"], cwd=REPO, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, check=False)
    assert bad.returncode == 2 and b"unsupported language" in bad.stderr
