"""The offline-scan reader: the real package.xml excerpt, fragments, errors."""

import os

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import CatalogError, FileLocation
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.readers.offline_scan import (
    read_index,
    read_offline_scan,
)

BUNDLE = "e34205a2-3739-4b7c-b792-22bc71890ca9"
CHILD = "02e0b67f-5977-4182-a04b-065298a7fd40"


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)


def fragments_for_sample(folder):
    """Core/extended/localized fragments shaped like the MS-WUSP ones, for the two real revisions."""
    write(os.path.join(folder, "c", "29010705"),
          '<UpdateIdentity UpdateID="%s" RevisionNumber="201" /><Properties UpdateType="Software" '
          'ExplicitlyDeployable="true" /><Relationships><Prerequisites><AtLeastOne IsCategory="true">'
          '<UpdateIdentity UpdateID="0fa1201d-4330-4fa8-8ae9-b877473b6441" /></AtLeastOne></Prerequisites>'
          '<BundledUpdates><UpdateIdentity UpdateID="%s" RevisionNumber="201" /></BundledUpdates></Relationships>'
          '<ApplicabilityRules><IsInstalled><b.WindowsVersion Comparison="GreaterThanOrEqualTo" MajorVersion="10" />'
          '</IsInstalled></ApplicabilityRules>' % (BUNDLE, CHILD))
    write(os.path.join(folder, "x", "29010705"),
          '<ExtendedProperties DefaultPropertiesLanguage="en" MsrcSeverity="Critical" IsBeta="false">'
          '<InstallationBehavior RebootBehavior="CanRequestReboot" Impact="Normal" />'
          '<KBArticleID>4497934</KBArticleID></ExtendedProperties>')
    write(os.path.join(folder, "l", "en", "29010705"),
          "<LocalizedProperties><Language>en</Language><Title>2019-05 Cumulative Update (KB4497934)</Title>"
          "</LocalizedProperties>")
    write(os.path.join(folder, "c", "29010704"),
          '<UpdateIdentity UpdateID="%s" RevisionNumber="201" /><Properties UpdateType="Software" />' % CHILD)
    write(os.path.join(folder, "x", "29010704"),
          '<ExtendedProperties DefaultPropertiesLanguage="en" MaxDownloadSize="100" />'
          '<Files><File Digest="MNix321xUZqK4uzbb+o9TzSjhcI=" DigestAlgorithm="SHA1" FileName="a.cab" Size="100" '
          'Modified="2019-05-10T00:00:00Z"><AdditionalDigest Algorithm="SHA256">'
          'n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=</AdditionalDigest></File></Files>')


@pytest.fixture
def sample(tmp_path, samples_dir):
    detail = str(tmp_path / "package2.cab")
    fragments_for_sample(detail)
    index = tmp_path / "index.xml"
    index.write_text('<CABLIST><CAB NAME="package2.cab" RANGESTART="0" FILESDIR="1"/></CABLIST>')
    return os.path.join(samples_dir, "package_xml", "offline_sync_excerpt.xml"), str(index), detail


def test_real_package_xml_excerpt(sample):
    package, index, detail = sample
    records = list(read_offline_scan(package, index, lambda name: detail))
    bundle, child = records
    assert bundle.update_id == BUNDLE and bundle.revision_id == 29010705 and bundle.revision_number == 201
    assert bundle.is_bundle is True
    assert bundle.release_date == "2019-05-14T17:02:06Z"
    assert "a3c2375d-0c8a-42f9-bce0-28333e198407" in bundle.categories  # Windows 10 product
    assert "0fa1201d-4330-4fa8-8ae9-b877473b6441" in bundle.categories  # Security Updates
    assert ("3e0afb10-a9fb-4c16-a60e-5790c3803437",) in bundle.prerequisites
    assert bundle.titles == {"en": "2019-05 Cumulative Update (KB4497934)"}
    assert bundle.kb_articles == ("4497934",) and bundle.msrc_severity == "Critical"
    assert bundle.bundled_updates == (CHILD,)
    assert "b.WindowsVersion" in bundle.rules["is_installed"]
    assert child.update_id == CHILD and child.bundled_by_revision_ids == (29010705,)
    assert child.files[0].sha1 == "MNix321xUZqK4uzbb+o9TzSjhcI=" and child.files[0].size == 100


def test_file_locations_are_yielded(tmp_path, sample):
    package, index, detail = sample
    text = open(package, encoding="utf-8").read().replace(
        "</Updates>", '</Updates><FileLocations><FileLocation Id="MNix321xUZqK4uzbb+o9TzSjhcI=" '
                      'Url="http://download.windowsupdate.com/x/a.cab"/></FileLocations>')
    patched = tmp_path / "package.xml"
    patched.write_text(text)
    locations = [r for r in read_offline_scan(str(patched), index, lambda name: detail) if isinstance(r, FileLocation)]
    assert locations == [FileLocation("MNix321xUZqK4uzbb+o9TzSjhcI=", "http://download.windowsupdate.com/x/a.cab")]


def test_missing_core_fragment_names_member(sample):
    package, index, detail = sample
    os.unlink(os.path.join(detail, "c", "29010704"))
    with pytest.raises(CatalogError, match=r"member 'c/29010704' is missing from package2.cab"):
        list(read_offline_scan(package, index, lambda name: detail))


def test_fragment_describing_another_update_is_refused(sample):
    package, index, detail = sample
    write(os.path.join(detail, "c", "29010704"), '<UpdateIdentity UpdateID="%s" RevisionNumber="1" />' % BUNDLE)
    with pytest.raises(CatalogError, match="core fragment describes update"):
        list(read_offline_scan(package, index, lambda name: detail))


@pytest.mark.parametrize("attribute, bad, message", [
    ('UpdateId="e34205a2-3739-4b7c-b792-22bc71890ca9"', 'UpdateId="not-a-guid"', "is not a GUID"),
    ('CreationDate="2019-05-14T17:02:06Z"', 'CreationDate="2019-13-45T00:00:00Z"', "is not a valid date"),
    ('RevisionId="29010705"', 'RevisionId="x"', "RevisionId 'x' is not an integer"),
])
def test_invalid_values_are_refused_with_the_field(tmp_path, sample, attribute, bad, message):
    package, index, detail = sample
    patched = tmp_path / "package.xml"
    patched.write_text(open(package, encoding="utf-8").read().replace(attribute, bad, 1))
    with pytest.raises(CatalogError, match=message):
        list(read_offline_scan(str(patched), index, lambda name: detail))


def test_hostile_package_xml_is_refused(tmp_path, sample):
    package, index, detail = sample
    patched = tmp_path / "package.xml"
    body = open(package, encoding="utf-8").read().split("\n", 1)[1]
    patched.write_text('<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n' + body)
    with pytest.raises(CatalogError, match="document type declarations are refused"):
        list(read_offline_scan(str(patched), index, lambda name: detail))


def test_wrong_root_is_refused(tmp_path, sample):
    _package, index, detail = sample
    other = tmp_path / "package.xml"
    other.write_text('<ExportPackage><Update UpdateId="x"/></ExportPackage>')
    with pytest.raises(CatalogError, match="holds no updates|not OfflineSyncPackage"):
        list(read_offline_scan(str(other), index, lambda name: detail))


def test_index_entries_must_be_plain_names(tmp_path):
    index = tmp_path / "index.xml"
    index.write_text('<CABLIST><CAB NAME="../evil.cab" RANGESTART="0"/></CABLIST>')
    with pytest.raises(CatalogError, match="not a plain cabinet name"):
        read_index(str(index), "index.xml")
    index.write_text('<CABLIST><CAB NAME="package3.cab" RANGESTART="10"/><CAB NAME="package2.cab" RANGESTART="0"/></CABLIST>')
    assert read_index(str(index), "index.xml") == [(0, "package2.cab"), (10, "package3.cab")]
