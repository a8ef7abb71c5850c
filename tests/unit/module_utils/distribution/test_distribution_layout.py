"""The WSUS content layout and the names it refuses (pure)."""

import base64
import binascii

import pytest

from ansible_collections.patchwave.windows.plugins.module_utils._distribution import layout
from ansible_collections.patchwave.windows.plugins.module_utils._distribution.errors import LayoutError

SHA1 = "e3fa9c9103bc509dcdf7e971ca3cbea0c18a7b0d"
SHA1_B64 = "4/qckQO8UJ3N9+lxyjy+oMGKew0="  # the same digest as the catalog's XML gives it
SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def test_base64_and_hex_give_the_same_upper_case_digest():
    assert layout.digest_hex(SHA1_B64, "sha1") == SHA1.upper()
    assert layout.digest_hex(SHA1, "sha1") == SHA1.upper()
    assert layout.digest_hex(SHA1.upper(), "sha1") == SHA1.upper()
    b64_256 = base64.b64encode(binascii.unhexlify(SHA256)).decode()
    assert layout.digest_hex(b64_256, "sha256") == SHA256.upper()


@pytest.mark.parametrize("value,algorithm", [
    ("", "sha1"), ("abc", "sha1"), (SHA256, "sha1"), (SHA1, "sha256"), ("zz" * 20, "sha1"),
    (base64.b64encode(b"x" * 19).decode(), "sha1"), (None, "sha1")])
def test_a_digest_of_the_wrong_length_or_alphabet_is_refused(value, algorithm):
    with pytest.raises(LayoutError, match="digest"):
        layout.digest_hex(value, algorithm)


def test_sha1_files_go_to_the_folder_of_the_digest_last_byte_as_wsus_lays_them_out():
    parts = layout.content_parts(sha1=SHA1_B64, sha256=SHA256, extension="cab")
    assert parts == ("0D", SHA1.upper() + ".cab")
    assert layout.relative_path(parts) == "0D/E3FA9C9103BC509DCDF7E971CA3CBEA0C18A7B0D.cab"


def test_a_file_with_only_a_sha256_goes_below_sha256():
    assert layout.content_parts(sha256=SHA256, extension=".msu") == ("sha256", "08", SHA256.upper() + ".msu")


def test_a_file_without_a_digest_is_refused():
    with pytest.raises(LayoutError, match="SHA-1 or a SHA-256"):
        layout.content_parts(extension="cab")


@pytest.mark.parametrize("extension", ["", "..", "../x", "a/b", "a\\b", "c:", "cab.exe", "x" * 33, None, "ca b",
                                       "\\\\server\\share"])
def test_extensions_that_could_escape_are_refused(extension):
    with pytest.raises(LayoutError, match="extension"):
        layout.content_parts(sha1=SHA1, extension=extension)


@pytest.mark.parametrize("name", ["..", ".", "../evil.cab", "a/../../evil.cab", "/etc/passwd", "\\\\server\\share\\x.cab",
                                  "C:\\Windows\\x.cab", "c:x.cab", "sub/x.cab", "x.cab\x00.txt", ""])
def test_file_names_that_could_escape_are_refused(name):
    with pytest.raises(LayoutError, match="refused|extension"):
        layout.extension_of(name)


def test_the_extension_of_a_catalog_file_name():
    assert layout.extension_of("windows10.0-kb5034441-x64_e3fa9c9103bc509dcdf7e971ca3cbea0c18a7b0d.cab") == "cab"
    assert layout.extension_of("ndp48-kb4486153.EXE") == "EXE"


@pytest.mark.parametrize("path", [
    "../0D/%s.cab" % SHA1.upper(), "0D/../../x.cab", "/0D/%s.cab" % SHA1.upper(), "0D\\%s.cab" % SHA1.upper(),
    "0d/%s.cab" % SHA1, "0E/%s.cab" % SHA1.upper(), "0D/%s" % SHA1.upper(), "wsus.log", "sha256/08/%s.cab" % SHA1.upper(),
    "0D/%s.cab/../../x" % SHA1.upper()])
def test_prune_trusts_only_content_layout_paths(path):
    with pytest.raises(LayoutError):
        layout.parse_relative_path(path)


def test_content_layout_paths_parse_back_to_their_parts():
    for parts in (layout.content_parts(sha1=SHA1, extension="cab"), layout.content_parts(sha256=SHA256, extension="esd")):
        assert layout.parse_relative_path(layout.relative_path(parts)) == parts


@pytest.mark.parametrize("folder,parts", [("", ()), (None, ()), ("WsusContent", ("WsusContent",)),
                                          ("a\\b", ("a", "b")), ("a/b/", ("a", "b")), ("\\content", ("content",))])
def test_folders_below_a_share(folder, parts):
    assert layout.folder_parts(folder) == parts


@pytest.mark.parametrize("folder", ["..", "a/../..", "\\\\server\\share", "//server/share", "C:\\content", "c:"])
def test_folders_that_escape_the_share_are_refused(folder):
    with pytest.raises(LayoutError, match="refused"):
        layout.folder_parts(folder)
