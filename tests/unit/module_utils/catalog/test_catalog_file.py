# -*- coding: utf-8 -*-
"""The catalog_file reader (docs/catalog_file_format.md)."""

import json
import os
import re

import pytest
import yaml
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import CatalogError, UpdateFile
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.readers.catalog_file import read_catalog_file

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
LAR = "http://schemas.microsoft.com/msus/2002/12/LogicalApplicabilityRules"
PRODUCT = "6b9e2a8d-3f1c-4c1a-9a77-0d4b3c2e1f10"
UPDATE = "2f0d6c4e-8a51-4b7e-9d3c-5e1a7b9c0d21"


def doc_example():
    """The example of docs/catalog_file_format.md, so the doc and the reader cannot drift apart."""
    with open(os.path.join(REPO, "docs", "catalog_file_format.md"), encoding="utf-8") as handle:
        text = handle.read()
    return re.search(r"```yaml\n(.*?)```", text, re.S).group(1)


def write(tmp_path, text, name="feed.yml"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return str(path)


def minimal(**update):
    entry = {"id": UPDATE, "title": "Contoso Agent"}
    entry.update(update)
    return {"format_version": 1, "updates": [entry]}


def read(tmp_path, document, **kwargs):
    text = document if isinstance(document, (str, bytes)) else yaml.safe_dump(document, sort_keys=False)
    return read_catalog_file(write(tmp_path, text), **kwargs)


def error(tmp_path, document, **kwargs):
    with pytest.raises(CatalogError) as info:
        read(tmp_path, document, **kwargs)
    return str(info.value)


def test_doc_example(tmp_path):
    source, records = read(tmp_path, doc_example())
    assert source == "contoso-apps"
    category, update = records
    assert category.update_id == PRODUCT
    assert category.kind == "category" and category.category_type == "Product"
    assert category.titles == {"en": "Contoso Line-of-Business Apps"}
    assert category.prerequisites == (("0c6af366-17fb-4125-a441-be87992b953a",),)
    assert category.categories == ("0c6af366-17fb-4125-a441-be87992b953a",)
    assert update.update_id == UPDATE and update.revision_number == 1
    assert update.kind == "software"
    assert update.titles == {"en": "Contoso Agent 4.2.1 for x64"}
    assert update.descriptions == {"en": "Fixes the agent crash on logoff."}
    assert update.default_language == "en"
    assert update.kb_articles == ("5031361",)
    assert update.msrc_severity == "Important"
    assert update.release_date == "2026-11-10T00:00:00Z"
    assert update.categories == (PRODUCT, "0fa1201d-4330-4fa8-8ae9-b877473b6441")
    assert update.reboot_behavior == "CanRequestReboot" and update.impact == "Normal"
    assert update.support_url == "https://contoso.example/kb/5031361"
    assert update.prerequisites == ((PRODUCT,),)
    assert update.bundled_updates == () and update.is_bundle is False and update.supersedes == ()
    assert update.files == (UpdateFile(
        name="contoso-agent-4.2.1-x64.msi", sha1="4/qckQO8UJ3N9+lxyjy+oMGKew0=",
        sha256="47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", size=1048576, modified=None,
        urls=("https://contoso.example/dl/contoso-agent-4.2.1-x64.msi",)),)
    assert update.rules == {"is_installed": '<lar:False xmlns:lar="%s"/>' % LAR,
                            "is_installable": '<lar:True xmlns:lar="%s"/>' % LAR}


def test_json_variant_gives_the_same_records(tmp_path):
    document = yaml.safe_load(doc_example())
    yaml_result = read(tmp_path, doc_example())
    compact = read_catalog_file(write(tmp_path, json.dumps(document), "feed.json"))
    tabbed = read_catalog_file(write(tmp_path, json.dumps(document, indent="\t"), "feed.json"))
    assert compact == yaml_result and tabbed == yaml_result


def test_utf16_json_with_bom(tmp_path):
    document = yaml.safe_load(doc_example())
    path = write(tmp_path, "\ufeff".encode("utf-16-le") + json.dumps(document, indent=2).encode("utf-16-le"), "ps.json")
    source, records = read_catalog_file(path)
    assert source == "contoso-apps" and records[1].update_id == UPDATE


def test_source_defaults_to_file_name(tmp_path):
    source, records = read_catalog_file(write(tmp_path, yaml.safe_dump(minimal()), "acme-tools.yaml"))
    assert source == "acme-tools"
    assert records[0].titles == {"en": "Contoso Agent"}


@pytest.mark.parametrize("document, path", [
    (dict(minimal(), sourc="x"), "sourc"),
    (minimal(sevrity="Important"), "updates[0].sevrity"),
    (minimal(files=[{"name": "a.msi", "sha1": "4/qckQO8UJ3N9+lxyjy+oMGKew0=", "sha512": "x"}]), "updates[0].files[0].sha512"),
    (minimal(rules={"is_installed": "<a/>", "applicable": "<b/>"}), "updates[0].rules.applicable"),
    ({"format_version": 1, "categories": [{"id": PRODUCT, "type": "Product", "title": "x", "parnet": PRODUCT}]},
     "categories[0].parnet"),
])
def test_unknown_keys_are_refused_with_their_path(tmp_path, document, path):
    message = error(tmp_path, document)
    assert ": %s" % path in message and "unknown key; the known keys are" in message
    if path.startswith("updates"):
        assert "%s (update %s): unknown key" % (path, UPDATE) in message


def test_hex_digests_become_base64(tmp_path):
    source, (update,) = read(tmp_path, minimal(files=[{
        "name": "a.cab", "sha1": "E3FA9C9103BC509DCDF7E971CA3CBEA0C18A7B0D",
        "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}]))
    assert update.files[0].sha1 == "4/qckQO8UJ3N9+lxyjy+oMGKew0="
    assert update.files[0].sha256 == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="


@pytest.mark.parametrize("field, value, expected", [
    ("sha1", "e3fa9c9103bc509dcdf7e971ca3cbea0c18a7b0", "is not a SHA1 digest: give 40 hex digits or 28 base64"),
    ("sha1", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", "is not a SHA1 digest"),
    ("sha256", "4/qckQO8UJ3N9+lxyjy+oMGKew0=", "is not a SHA256 digest: give 64 hex digits or 44 base64"),
    ("sha1", "not a digest at all", "is not a SHA1 digest"),
])
def test_bad_digest_lengths(tmp_path, field, value, expected):
    message = error(tmp_path, minimal(files=[{"name": "a.cab", field: value}]))
    assert "updates[0].files[0].%s (update %s)" % (field, UPDATE) in message
    assert expected in message


def test_unquoted_all_digit_hex_digest(tmp_path):
    text = "format_version: 1\nupdates:\n- id: %s\n  title: x\n  files:\n  - name: a.cab\n    sha1: %s\n" % (
        UPDATE, "1" * 40)
    assert "was read as a number: quote the digest" in error(tmp_path, text)


def test_file_needs_a_digest_and_a_plain_name(tmp_path):
    assert "needs sha1 or sha256" in error(tmp_path, minimal(files=[{"name": "a.cab"}]))
    message = error(tmp_path, minimal(files=[{"name": "../../etc/a.cab", "sha1": "4/qckQO8UJ3N9+lxyjy+oMGKew0="}]))
    assert "updates[0].files[0].name" in message and "is not a plain file name" in message


BOMB = """format_version: 1
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_yaml_alias_bomb_refused(tmp_path):
    message = error(tmp_path, BOMB)
    assert "YAML anchors (&a) are refused (line 2, column 4)" in message


def test_plain_alias_refused(tmp_path):
    text = ("format_version: 1\nupdates:\n- id: %s\n  title: x\n  products: [%s]\n  categories: *p\n" % (UPDATE, PRODUCT))
    assert "YAML aliases (*p) are refused" in error(tmp_path, text)


def test_duplicate_keys_refused(tmp_path):
    text = "format_version: 1\nupdates:\n- id: %s\n  title: x\n  severity: Low\n  severity: Critical\n" % UPDATE
    assert "duplicate key 'severity' (line 6" in error(tmp_path, text)
    assert "duplicate key 'title'" in error(tmp_path, '{"format_version": 1, "title": 1, "title": 2}')


@pytest.mark.parametrize("update, expected", [
    (dict(severity="Urgent"), "updates[0].severity (update %s): 'Urgent' is not one of Critical, Important" % UPDATE),
    (dict(kind="category"), "'category' is not one of software, driver, detectoid"),
    (dict(reboot_behavior="Always"), "'Always' is not one of NeverReboots"),
    (dict(impact="Big"), "'Big' is not one of Normal, Minor"),
    (dict(release_date="2026-13-45"), "updates[0].release_date (update %s): release date '2026-13-45' is not a valid date"
     % UPDATE),
    (dict(release_date="2026-11-10 at ten"), "updates[0].release_date (update %s): release date '2026-11-10 at ten' is "
     "not an ISO 8601 date" % UPDATE),
    (dict(kb="Q123"), "KB article 'Q123' is not a KB number"),
    (dict(kb="1", kbs=["2"]), "give kb or kbs, not both"),
    (dict(classification="nope"), "updates[0].classification (update %s): classification 'nope' is not a GUID" % UPDATE),
    (dict(products=[PRODUCT, "x"]), "updates[0].products[1]"),
    (dict(products=PRODUCT), "updates[0].products (update %s): must be a list" % UPDATE),
    (dict(prerequisites=[[]]), "updates[0].prerequisites[0]"),
    (dict(supersedes=[UPDATE]), "cannot supersede itself"),
    (dict(revision=-1), "updates[0].revision"),
    (dict(revision="2"), "'2' is not an integer"),
    (dict(title=None), "needs a title"),
    (dict(titles={"en": "a"}), "give title or titles, not both"),
    (dict(rules={"is_installed": "<lar:False"}), "updates[0].rules.is_installed (update %s): not well-formed XML" % UPDATE),
    (dict(rules={"is_installed": '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'}),
     "document type declarations are refused"),
])
def test_invalid_values(tmp_path, update, expected):
    message = error(tmp_path, minimal(**update))
    assert message.startswith("catalog file '")
    assert expected in message
    assert "root:" not in message


def test_invalid_id(tmp_path):
    message = error(tmp_path, {"format_version": 1, "updates": [{"id": "2f0d6c4e", "title": "x"}]})
    assert message.endswith("updates[0].id: update id '2f0d6c4e' is not a GUID")


@pytest.mark.parametrize("document, expected", [
    ({"updates": []}, "format_version: is required"),
    ({"format_version": 2}, "format_version: 2 is not a supported version"),
    ({"format_version": 1.0}, "format_version: 1.0 is not a supported version"),
    ({"format_version": True}, "is not a supported version"),
    ([1, 2], "must be a mapping, not a list"),
    ({"format_version": 1, "categories": [{"id": PRODUCT, "title": "x"}]}, "categories[0].type"),
    ({"format_version": 1, "categories": [{"id": PRODUCT, "title": "x", "type": "Vendor"}]},
     "'Vendor' is not one of Company, ProductFamily, Product, UpdateClassification"),
    ({"format_version": 1, "updates": {"id": UPDATE}}, "updates: must be a list, not a mapping"),
    ({"format_version": 1, "default_language": "English!"}, "is not a language code"),
])
def test_document_errors(tmp_path, document, expected):
    assert expected in error(tmp_path, document)


def test_guids_case_and_braces(tmp_path):
    source, (update,) = read(tmp_path, minimal(id="{%s}" % UPDATE.upper(), bundles=[PRODUCT.upper()],
                                               prerequisites=[PRODUCT, [PRODUCT, UPDATE.upper()]]))
    assert update.update_id == UPDATE
    assert update.bundled_updates == (PRODUCT,) and update.is_bundle is True
    assert update.prerequisites == ((PRODUCT,), (PRODUCT, UPDATE))


def test_duplicate_revisions(tmp_path):
    document = minimal()
    document["updates"].append({"id": UPDATE.upper(), "title": "again"})
    assert "updates[1] (update %s): revision 1 of this id is already defined at updates[0]" % UPDATE in error(
        tmp_path, document)
    document["updates"][1]["revision"] = 2
    source, records = read(tmp_path, document)
    assert [r.revision_number for r in records] == [1, 2]


def test_dates_stay_text_and_midnight_utc(tmp_path):
    text = ("format_version: 1\nupdates:\n- id: %s\n  title: x\n  release_date: 2026-11-10\n"
            "  files:\n  - name: a.cab\n    sha1: 4/qckQO8UJ3N9+lxyjy+oMGKew0=\n    modified: 2026-11-09 08:30:00Z\n"
            % UPDATE)
    source, (update,) = read(tmp_path, text)
    assert update.release_date == "2026-11-10T00:00:00Z"
    assert update.files[0].modified == "2026-11-09T08:30:00Z"


def test_languages_filter_and_norwegian(tmp_path):
    text = ("format_version: 1\ndefault_language: en\nupdates:\n- id: %s\n  titles: {en: Agent, de: Agent DE, "
            "no: Agent NO, fr: Agent FR}\n  descriptions: {de: Beschreibung}\n" % UPDATE)
    source, (update,) = read(tmp_path, text)
    assert update.titles == {"en": "Agent", "de": "Agent DE", "no": "Agent NO", "fr": "Agent FR"}
    source, (update,) = read(tmp_path, text, languages=["de", "no"])
    assert update.titles == {"en": "Agent", "de": "Agent DE", "no": "Agent NO"}
    assert update.descriptions == {"de": "Beschreibung"}
    assert update.default_language == "en"


def test_default_language(tmp_path):
    document = minimal()
    document["default_language"] = "de"
    source, (update,) = read(tmp_path, document)
    assert update.titles == {"de": "Contoso Agent"} and update.default_language == "de"


def test_size_limit(tmp_path):
    path = write(tmp_path, yaml.safe_dump(minimal()) + "#" * 2048)
    with pytest.raises(CatalogError, match=r"feed.yml' is \d+ bytes, more than the 1024 bytes a catalog file may have"):
        read_catalog_file(path, max_bytes=1024)


def test_not_yaml(tmp_path):
    assert "not valid YAML" in error(tmp_path, "format_version: 1\nupdates: [\n")
    assert "not valid YAML" in error(tmp_path, "format_version: 1\n---\nformat_version: 1\n")
    assert "not valid UTF-8" in error(tmp_path, b"format_version: 1\ntitle: \xff\xfe\xfa\n")


def test_missing_file(tmp_path):
    with pytest.raises(CatalogError, match="cannot be read"):
        read_catalog_file(str(tmp_path / "absent.yml"))
