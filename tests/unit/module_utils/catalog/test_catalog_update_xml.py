# -*- coding: utf-8 -*-
"""parse_update_xml against the real WSUS export documents and synthetic edge cases."""

import os

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import CatalogError
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.readers.update_xml import parse_update_xml
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.safe_xml import parse_bytes

NS = "http://schemas.microsoft.com/msus/2002/12/"
LAR = "{%sLogicalApplicabilityRules}" % NS
BAR = "{%sBaseApplicabilityRules}" % NS
MSI = "{%sMsiApplicabilityRules}" % NS
CBSAR = "{%sCbsApplicabilityRules}" % NS


def _read(samples_dir, name):
    if name.startswith("wsusss_spec/"):
        path = os.path.join(samples_dir, name)
    else:
        path = os.path.join(samples_dir, "wsus_export", "updates", name)
    with open(path, "rb") as handle:
        return path, handle.read()


def _parse_sample(samples_dir, name, languages=None):
    path, data = _read(samples_dir, name)
    return parse_update_xml(data, path, languages)


def _rule(text):
    return parse_bytes(text.encode("utf-8"), "rule")


# -- real documents -----------------------------------------------------------------------------

def test_security_updates_classification_all_languages(samples_dir):
    update = _parse_sample(samples_dir, "classification_security_updates_multilang.xml")
    assert update.update_id == "0fa1201d-4330-4fa8-8ae9-b877473b6441"  # upper case in the source
    assert update.revision_number == 100
    assert update.kind == "category"
    assert update.category_type == "UpdateClassification"
    assert update.default_language == "en"
    assert update.release_date == "2004-05-15T05:50:00Z"
    assert len(update.titles) == 24
    assert update.titles["en"] == "Security Updates"
    assert update.titles["de"] == "Sicherheitsupdates"
    assert update.titles["fr"] == "Mise à jour de la sécurité"
    assert update.titles["sv"] == "Säkerhetsuppdateringar"
    assert update.titles["zh-cn"] == "安全更新程序"
    assert update.titles["ar"] == "تحديثات الأمان"
    assert update.descriptions["en"].startswith("A broadly released fix for a product-specific")
    assert update.categories == () and update.prerequisites == () and update.files == ()
    assert _rule(update.rules["is_installed"]).tag == LAR + "True"


def test_language_filter_keeps_requested_and_default(samples_dir):
    update = _parse_sample(samples_dir, "classification_security_updates_multilang.xml", languages=["de", "JA"])
    assert sorted(update.titles) == ["de", "en", "ja"]
    assert sorted(update.descriptions) == ["de", "en", "ja"]
    update = _parse_sample(samples_dir, "classification_security_updates_multilang.xml", languages=["xx"])
    assert update.titles == {"en": "Security Updates"}


def test_upgrades_classification(samples_dir):
    update = _parse_sample(samples_dir, "classification_upgrades.xml")
    assert update.update_id == "3689bdc8-b205-4af4-8d4a-a63924c5e9d5"
    assert update.revision_number == 200
    assert update.titles == {"en": "Upgrades"}
    assert update.category_type == "UpdateClassification"
    assert update.release_date == "2015-10-20T16:53:24Z"
    assert list(update.rules) == ["is_installed"]


def test_windows_server_2019_product(samples_dir):
    update = _parse_sample(samples_dir, "product_windows_server_2019.xml")
    assert update.update_id == "f702a48c-919b-45d6-9aef-ca4248d50397"
    assert update.revision_number == 201
    assert update.kind == "category" and update.category_type == "Product"
    assert update.titles == {"en": "Windows Server 2019"}
    assert update.explicitly_deployable is False
    # The product family "Windows" is an AtLeastOne IsCategory="true" prerequisite.
    assert update.prerequisites == (("6964aab4-c5b5-43bd-a17d-ffb4346a8e1d",),)
    assert update.categories == ("6964aab4-c5b5-43bd-a17d-ffb4346a8e1d",)
    rule = _rule(update.rules["is_installed"])
    assert rule.tag == LAR + "And"
    versions = list(rule.iter(BAR + "WindowsVersion"))
    assert sorted(v.get("ProductType") for v in versions) == ["2", "3"]
    assert all(v.get("MajorVersion") == "10" and v.get("Comparison") == "EqualTo" for v in versions)
    processors = list(rule.iter(BAR + "Processor"))
    assert [p.get("Architecture") for p in processors] == ["9"]


def test_detectoid_with_superseded_updates(samples_dir):
    update = _parse_sample(samples_dir, "detectoid_superseded_msi_dpm2016.xml")
    assert update.update_id == "a4d7e969-b099-4ad7-ab53-5f56d51adf4c"
    assert update.kind == "detectoid" and update.category_type is None
    assert update.supersedes == ("5d07c74d-4269-4553-818d-38998781a420",)
    assert update.prerequisites == (("bc48031f-9353-4db2-a305-541e324374e2",),)
    assert update.categories == ()
    rule = _rule(update.rules["is_installed"])
    product = next(rule.iter(MSI + "MsiProductInstalled"))  # bound to prefix mar: in the source
    assert product.get("ProductCode") == "{773DE70F-1E56-4769-8522-369D3A54C190}"
    assert product.get("VersionMax") == "5.0.247.0"
    assert next(rule.iter(BAR + "Processor")).get("Architecture") == "9"


def test_cbs_detectoid(samples_dir):
    update = _parse_sample(samples_dir, "detectoid_cbs_ws2012_standard.xml")
    assert update.update_id == "ec90a464-3717-4222-a5b4-b9bffc661d66"
    assert update.titles == {"en": "Windows Server 2012 Standard IsInstalled"}
    rule = _rule(update.rules["is_installed"])
    assert rule.tag == CBSAR + "CbsPackageInstalledByIdentity"
    assert rule.get("PackageIdentity") == "WSS-Product~31bf3856ad364e35~amd64~~6.2.9805.0"


def test_fileversion_detectoid_or_clause(samples_dir):
    update = _parse_sample(samples_dir, "detectoid_fileversion_ie_lt_11.xml")
    assert update.prerequisites == (("bfe5b177-a086-47a0-b102-097e4fa1f807", "fdfe8200-9d98-44ba-a12a-772282bf60ef"),)
    assert update.categories == ()  # AtLeastOne without IsCategory
    rule = _rule(update.rules["is_installed"])
    assert [child.tag for child in rule] == [BAR + "FileVersion", BAR + "FileExists"]


def test_deep_rule_tree_detectoid(samples_dir):
    update = _parse_sample(samples_dir, "detectoid_windowsversion_regsztoversion.xml")
    assert update.update_id == "fe72ad53-da2e-4911-a409-9851ada731c2"
    assert update.revision_number == 103
    assert len(update.prerequisites) == 1 and len(update.prerequisites[0]) == 5
    rule = _rule(update.rules["is_installed"])
    assert len(list(rule.iter(BAR + "RegSzToVersion"))) == 6
    assert len(list(rule.iter(BAR + "WindowsVersion"))) == 3
    assert {e.get("Csidl") for e in rule.iter(BAR + "FileVersion")} == {"37"}


def test_wsusss_spec_multiline_document(samples_dir):
    update = _parse_sample(samples_dir, "wsusss_spec/getupdatedata_xmlupdateblob_detectoid.xml")
    assert update.update_id == "17e993cd-cf5a-4276-9944-6af62ff7139c"
    assert update.revision_number == 100
    assert update.titles == {"en": "SQL 2005 English ia64"} and update.descriptions == {}
    assert update.prerequisites == (("60916385-7546-4e9b-836e-79d65e517bab",),)
    assert _rule(update.rules["is_installed"]).get("ProductCode") == "{3c4a397d-22b2-4ab0-849f-f5e12672caca}"


def test_prefixes_do_not_matter(samples_dir):
    path, data = _read(samples_dir, "product_windows_server_2019.xml")
    renamed = data.replace(b"xmlns:upd=", b"xmlns:zz=").replace(b"<upd:", b"<zz:").replace(b"</upd:", b"</zz:")
    renamed = renamed.replace(b"xmlns:cat=", b"xmlns:kitty=").replace(b"cat:CategoryInformation", b"kitty:CategoryInformation")
    assert b"upd:" not in renamed
    first, second = parse_update_xml(renamed, path), parse_update_xml(data, path)
    # Rule text keeps the namespace declarations in scope, so compare the rules as trees.
    assert _tree(first.rules.pop("is_installed")) == _tree(second.rules.pop("is_installed"))
    assert first == second
    assert first.category_type == "Product"


def _tree(text):
    def walk(element):
        return (element.tag, sorted(element.attrib.items()), [walk(child) for child in element])
    return walk(_rule(text))


def test_str_input_with_utf16_declaration(samples_dir):
    path, data = _read(samples_dir, "classification_upgrades.xml")
    text = '<?xml version="1.0" encoding="utf-16"?>' + data.decode("utf-8")
    assert parse_update_xml(text, path) == parse_update_xml(data, path)


# -- synthetic software update ------------------------------------------------------------------

SOFTWARE = """<upd:Update xmlns:upd="http://schemas.microsoft.com/msus/2002/12/Update" \
xmlns:cbs="http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/Cbs" \
xmlns:lar="http://schemas.microsoft.com/msus/2002/12/LogicalApplicabilityRules" \
xmlns:msiar="http://schemas.microsoft.com/msus/2002/12/MsiApplicabilityRules">
  <upd:UpdateIdentity UpdateID="{UID}" RevisionNumber="{REV}"/>
  <upd:Properties UpdateType="Software" DefaultPropertiesLanguage="en" MsrcSeverity="Critical"
      CreationDate="{DATE}" MaxDownloadSize="{SIZE}" ExplicitlyDeployable="true" IsPublic="true">
    <upd:InstallationBehavior RebootBehavior="CanRequestReboot" Impact="Normal"/>
    <upd:KBArticleID>5039212</upd:KBArticleID>
    <upd:SecurityBulletinID>MS24-001</upd:SecurityBulletinID>
    <upd:SupportUrl>https://support.microsoft.com/help/5039212</upd:SupportUrl>
  </upd:Properties>
  <upd:LocalizedPropertiesCollection>
    <upd:LocalizedProperties><upd:Language>en</upd:Language><upd:Title>{TITLE}</upd:Title>
      <upd:Description>Install this update.</upd:Description></upd:LocalizedProperties>
    <upd:LocalizedProperties><upd:Language>de</upd:Language><upd:Title>Kumulatives Update</upd:Title></upd:LocalizedProperties>
  </upd:LocalizedPropertiesCollection>
  <upd:Relationships>
    <upd:Prerequisites>
      <upd:UpdateIdentity UpdateID="{PREREQ}"/>
      <upd:AtLeastOne IsCategory="true"><upd:UpdateIdentity UpdateID="F702A48C-919B-45D6-9AEF-CA4248D50397"/></upd:AtLeastOne>
      <upd:AtLeastOne IsCategory="true"><upd:UpdateIdentity UpdateID="0fa1201d-4330-4fa8-8ae9-b877473b6441"/></upd:AtLeastOne>
    </upd:Prerequisites>
    <upd:BundledUpdates>
      <upd:UpdateIdentity UpdateID="11111111-2222-3333-4444-555555555555" RevisionNumber="201"/>
      <upd:AtLeastOne><upd:UpdateIdentity UpdateID="66666666-7777-8888-9999-aaaaaaaaaaaa" RevisionNumber="1"/></upd:AtLeastOne>
    </upd:BundledUpdates>
    <upd:SupersededUpdates><upd:UpdateIdentity UpdateID="bbbbbbbb-cccc-dddd-eeee-ffffffffffff"/></upd:SupersededUpdates>
  </upd:Relationships>
  <upd:ApplicabilityRules>
    <upd:IsInstalled><lar:False/></upd:IsInstalled>
    <upd:IsInstallable><msiar:MsiProductInstalled ProductCode="{{90160000-0011-0000-1000-0000000FF1CE}}"/></upd:IsInstallable>
  </upd:ApplicabilityRules>
  <upd:Files>
    <upd:File Digest="{DIGEST}" DigestAlgorithm="SHA1" FileName="windows10.0-kb5039212-x64.cab" Size="{FILESIZE}"
        Modified="2024-06-11T10:00:00.000Z" PatchingType="SelfContained">
      <upd:AdditionalDigest Algorithm="SHA256">47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=</upd:AdditionalDigest>
    </upd:File>
  </upd:Files>
  <upd:HandlerSpecificData xsi:type="cbs:Cbs" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
    <cbs:CbsData PackageIdentity="Package_for_RollupFix~31bf3856ad364e35~amd64~~17763.5936.1.9"/>
  </upd:HandlerSpecificData>
</upd:Update>"""

DEFAULTS = dict(UID="2F0D6C4E-8A51-4B7E-9D3C-5E1A7B9C0D21", REV="200", DATE="2024-06-11T17:00:00Z",
                SIZE="123456789", PREREQ="ec90a464-3717-4222-a5b4-b9bffc661d66",
                DIGEST="4/qckQO8UJ3N9+lxyjy+oMGKew0=", FILESIZE="1048576", TITLE="2024-06 Cumulative Update")


def software(**changes):
    values = dict(DEFAULTS, **changes)
    text = SOFTWARE
    for key, value in values.items():
        text = text.replace("{%s}" % key, value)
    return text.replace("{{", "{").replace("}}", "}").encode("utf-8")


def test_synthetic_software_update_every_field():
    update = parse_update_xml(software(), "test")
    assert update.update_id == "2f0d6c4e-8a51-4b7e-9d3c-5e1a7b9c0d21"
    assert update.revision_number == 200
    assert update.kind == "software"
    assert update.msrc_severity == "Critical"
    assert update.release_date == "2024-06-11T17:00:00Z"
    assert update.max_download_size == 123456789
    assert update.explicitly_deployable is True
    assert update.reboot_behavior == "CanRequestReboot" and update.impact == "Normal"
    assert update.kb_articles == ("5039212",)
    assert update.security_bulletins == ("MS24-001",)
    assert update.support_url == "https://support.microsoft.com/help/5039212"
    assert update.titles == {"en": "2024-06 Cumulative Update", "de": "Kumulatives Update"}
    assert update.descriptions == {"en": "Install this update."}
    assert update.prerequisites == (
        ("ec90a464-3717-4222-a5b4-b9bffc661d66",),
        ("f702a48c-919b-45d6-9aef-ca4248d50397",),
        ("0fa1201d-4330-4fa8-8ae9-b877473b6441",),
    )
    assert update.categories == ("f702a48c-919b-45d6-9aef-ca4248d50397", "0fa1201d-4330-4fa8-8ae9-b877473b6441")
    assert update.bundled_updates == ("11111111-2222-3333-4444-555555555555", "66666666-7777-8888-9999-aaaaaaaaaaaa")
    assert update.is_bundle is True
    assert update.supersedes == ("bbbbbbbb-cccc-dddd-eeee-ffffffffffff",)
    assert _rule(update.rules["is_installed"]).tag == LAR + "False"
    assert _rule(update.rules["is_installable"]).tag == MSI + "MsiProductInstalled"
    assert "is_superseded" not in update.rules
    (update_file,) = update.files
    assert update_file.name == "windows10.0-kb5039212-x64.cab"
    assert update_file.sha1 == "4/qckQO8UJ3N9+lxyjy+oMGKew0="
    assert update_file.sha256 == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    assert update_file.size == 1048576
    assert update_file.modified == "2024-06-11T10:00:00Z"
    assert update_file.urls == ()
    assert update.category_type is None


@pytest.mark.parametrize("changes, expected", [
    (dict(DATE="2026-13-45"), "release date (CreationDate) '2026-13-45' is not a valid date"),
    (dict(DATE="yesterday"), "'yesterday' is not an ISO 8601 date"),
    (dict(DATE="2024-06-11T17:00:00+24:00"), "release date (CreationDate) '2024-06-11T17:00:00+24:00' is not a valid date"),
    (dict(SIZE="lots"), "MaxDownloadSize 'lots' is not an integer"),
    (dict(SIZE="-5"), "MaxDownloadSize '-5' is less than 0"),
    (dict(REV="two"), "revision number 'two' is not an integer"),
    (dict(PREREQ="not-a-guid"), "prerequisite UpdateID 'not-a-guid' is not a GUID"),
    (dict(DIGEST="AAAA"), "Digest 'AAAA' is 3 bytes, a SHA1 digest is 20"),
    (dict(DIGEST="not base64!"), "is not base64"),
    (dict(FILESIZE="1MB"), "Size '1MB' is not an integer"),
])
def test_invalid_values_name_update_and_field(changes, expected):
    with pytest.raises(CatalogError) as info:
        parse_update_xml(software(**changes), "catalog file '/x/metadata.txt': record 12")
    message = str(info.value)
    assert message.startswith("catalog file '/x/metadata.txt': record 12")
    assert expected in message
    if "REV" not in changes:
        assert "(update 2f0d6c4e-8a51-4b7e-9d3c-5e1a7b9c0d21)" in message


@pytest.mark.parametrize("old, new, expected", [
    (b'MsrcSeverity="Critical"', b'MsrcSeverity="Urgent"', "MsrcSeverity 'Urgent' is not one of"),
    (b'UpdateType="Software"', b'UpdateType="Firmware"', "UpdateType 'Firmware' is not one of"),
    (b'ExplicitlyDeployable="true"', b'ExplicitlyDeployable="maybe"', "ExplicitlyDeployable 'maybe' is not a boolean"),
    (b'RebootBehavior="CanRequestReboot"', b'RebootBehavior="Sometimes"', "RebootBehavior 'Sometimes'"),
    (b'Impact="Normal"', b'Impact="Huge"', "Impact 'Huge'"),
    (b'DigestAlgorithm="SHA1"', b'DigestAlgorithm="MD5"', "DigestAlgorithm 'MD5' is not SHA1 or SHA256"),
    (b'<upd:KBArticleID>5039212', b'<upd:KBArticleID>KB-x', "KB article 'KB-x' is not a KB number"),
    (b'UpdateID="bbbbbbbb-cccc-dddd-eeee-ffffffffffff"', b'UpdateID="zz"', "superseded UpdateID 'zz' is not a GUID"),
])
def test_invalid_attributes(old, new, expected):
    data = software()
    assert old in data
    with pytest.raises(CatalogError, match="update 2f0d6c4e") as info:
        parse_update_xml(data.replace(old, new), "doc")
    assert expected in str(info.value)


def test_invalid_category_type(samples_dir):
    path, data = _read(samples_dir, "product_windows_server_2019.xml")
    with pytest.raises(CatalogError, match="CategoryType 'Gadget' is not one of"):
        parse_update_xml(data.replace(b'CategoryType="Product"', b'CategoryType="Gadget"'), path)


def test_structure_errors(samples_dir):
    path, data = _read(samples_dir, "classification_upgrades.xml")
    with pytest.raises(CatalogError, match="UpdateIdentity UpdateID 'nope' is not a GUID"):
        parse_update_xml(data.replace(b"3689BDC8-B205-4AF4-8D4A-A63924C5E9D5", b"nope"), path)
    with pytest.raises(CatalogError, match="not <Update> in namespace"):
        parse_update_xml(data.replace(b"http://schemas.microsoft.com/msus/2002/12/Update\"", b"urn:other\""), path)
    with pytest.raises(CatalogError, match="not well-formed XML"):
        parse_update_xml(data[:-20], path)
    with pytest.raises(CatalogError, match="<UpdateIdentity> is missing"):
        parse_update_xml(b'<u:Update xmlns:u="http://schemas.microsoft.com/msus/2002/12/Update"/>', "doc")


# -- hostile XML --------------------------------------------------------------------------------

# An update whose title is an entity reference: where a parser expanded entities, the title would show it.
_TITLE_FROM_ENTITY = b"""<upd:Update xmlns:upd="http://schemas.microsoft.com/msus/2002/12/Update">
<upd:UpdateIdentity UpdateID="2f0d6c4e-8a51-4b7e-9d3c-5e1a7b9c0d21" RevisionNumber="1"/>
<upd:Properties UpdateType="Software"/>
<upd:LocalizedPropertiesCollection><upd:LocalizedProperties><upd:Language>en</upd:Language>
<upd:Title>&%s;</upd:Title></upd:LocalizedProperties></upd:LocalizedPropertiesCollection>
</upd:Update>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
""" + _TITLE_FROM_ENTITY % b"lol4"

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE upd:Update [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
""" + _TITLE_FROM_ENTITY % b"xxe"

EXTERNAL_DTD = b"""<!DOCTYPE upd:Update SYSTEM "file:///etc/passwd">
<upd:Update xmlns:upd="http://schemas.microsoft.com/msus/2002/12/Update">
<upd:UpdateIdentity UpdateID="2f0d6c4e-8a51-4b7e-9d3c-5e1a7b9c0d21" RevisionNumber="1"/>
<upd:Properties UpdateType="Software"/></upd:Update>"""


@pytest.mark.parametrize("document", [BILLION_LAUGHS, XXE, EXTERNAL_DTD], ids=["billion-laughs", "xxe", "external-dtd"])
@pytest.mark.parametrize("as_text", [False, True])
def test_document_type_declarations_refused(document, as_text):
    data = document.decode("utf-8") if as_text else document
    with pytest.raises(CatalogError) as info:
        parse_update_xml(data, "hostile")
    message = str(info.value)
    assert message.startswith("hostile: document type declarations are refused")
    assert "root:" not in message and "lollol" not in message
