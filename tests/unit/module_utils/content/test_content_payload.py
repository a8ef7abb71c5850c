"""Download records: digests normalized, names and URLs that could escape refused, mirror mapping,
one download per distinct file. Pure: no server, no store."""

import base64
import hashlib

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._content.download import (
    DownloadOptions,
    distinct_files,
    download_files,
    source_urls,
)
from ansible_collections.patchwave.windows.plugins.module_utils._content.library import ContentLibrary, library_key
from ansible_collections.patchwave.windows.plugins.module_utils._content.payload import (
    ContentError,
    hex_digest,
    mirrored,
    payload_file,
)

DATA = b"patchwave payload"
SHA1 = hashlib.sha1(DATA).hexdigest()
SHA256 = hashlib.sha256(DATA).hexdigest()


def record(**changes):
    base = {"update_id": "11111111-2222-4333-8444-555555555555", "kb": "5046616", "title": "2026-11 CU",
            "file_name": "windows10.0-kb5046616-x64.msu", "sha1": SHA1, "sha256": SHA256, "size": len(DATA),
            "urls": ["http://download.windowsupdate.com/c/msdownload/update/software/secu/2026/11/x.msu"]}
    base.update(changes)
    return base


def test_digests_from_hex_or_base64():
    raw1, raw256 = hashlib.sha1(DATA).digest(), hashlib.sha256(DATA).digest()
    assert hex_digest(base64.b64encode(raw1).decode(), "sha1") == SHA1
    assert hex_digest(base64.b64encode(raw256).decode(), "sha256") == SHA256
    assert hex_digest(SHA1.upper(), "sha1") == SHA1
    assert hex_digest(None, "sha256") is None
    with pytest.raises(ValueError, match="not a SHA256 digest"):
        hex_digest(SHA1, "sha256")
    with pytest.raises(ValueError, match="not a SHA1 digest"):
        hex_digest("not-a-digest", "sha1")


def test_payload_file_keeps_what_the_catalog_gives():
    payload = payload_file(record(sha1=base64.b64encode(hashlib.sha1(DATA).digest()).decode(), sha256=None))
    assert payload.digests == {"sha1": SHA1}
    assert library_key(payload) == ("sha1", SHA1)
    assert library_key(payload_file(record())) == ("sha256", SHA256)
    assert payload.describe() == "update 11111111-2222-4333-8444-555555555555 (KB5046616), file 'windows10.0-kb5046616-x64.msu'"


@pytest.mark.parametrize("name, cause", [
    ("../../etc/passwd", "path separator"),
    ("..", "'.' or '..'"),
    ("/etc/passwd", "path separator"),
    ("\\\\server\\share\\x.cab", "path separator"),
    ("C:\\Windows\\x.cab", "path separator"),
    ("C:x.cab", "drive letter"),
    ("sub/x.cab", "path separator"),
    ("x.cab\x00.txt", "NUL"),
    ("", "empty"),
])
def test_file_names_that_could_escape_are_refused(name, cause):
    with pytest.raises(ContentError) as caught:
        payload_file(record(file_name=name))
    message = str(caught.value)
    assert "update 11111111-2222-4333-8444-555555555555" in message and repr(name) in message and cause in message


@pytest.mark.parametrize("url, cause", [
    ("file:///etc/passwd", "scheme 'file'"),
    ("ftp://example.org/x.cab", "scheme 'ftp'"),
    ("\\\\server\\share\\x.cab", "UNC"),
    ("//server/share/x.cab", "UNC"),
    ("C:\\content\\x.cab", "drive"),
    ("http://download.windowsupdate.com/../../x.cab", "'..'"),
    ("http://download.windowsupdate.com/a/%2e%2e/x.cab", "'..'"),
    ("http:///x.cab", "no host"),
    ("/content/x.cab", "scheme ''"),
])
def test_urls_that_could_escape_are_refused(url, cause):
    with pytest.raises(ContentError) as caught:
        payload_file(record(urls=[url]))
    message = str(caught.value)
    assert "windows10.0-kb5046616-x64.msu" in message and repr(url) in message and cause in message


def test_a_record_without_digest_or_url_is_refused():
    with pytest.raises(ContentError, match="no SHA-1 or SHA-256"):
        payload_file(record(sha1=None, sha256=None))
    with pytest.raises(ContentError, match="no download URL"):
        payload_file(record(urls=[]))


def test_an_escaping_record_stops_the_run_before_anything_is_fetched(tmp_path):
    library = ContentLibrary(str(tmp_path / "library"))
    with pytest.raises(ContentError, match="path separator"):
        download_files([record(), record(file_name="..\\..\\boot.ini")], library)
    assert not (tmp_path / "library").exists()


@pytest.mark.parametrize("mirror, url, expected", [
    ("http://127.0.0.1:8080", "http://download.windowsupdate.com/c/msdownload/x.cab",
     "http://127.0.0.1:8080/c/msdownload/x.cab"),
    ("http://127.0.0.1:8080/wu/", "http://download.windowsupdate.com/c/x.cab?a=1",
     "http://127.0.0.1:8080/wu/c/x.cab?a=1"),
    ("https://mirror.example:8443/base", "http://catalog.s.download.windowsupdate.com/d/x.msu",
     "https://mirror.example:8443/base/d/x.msu"),
    (None, "http://download.windowsupdate.com/c/x.cab", "http://download.windowsupdate.com/c/x.cab"),
])
def test_mirror_url_replaces_scheme_and_host_keeping_the_path(mirror, url, expected):
    assert mirrored(url, mirror) == expected


def test_mirror_urls_are_deduplicated_in_order():
    payload = payload_file(record(urls=["http://a.example/c/x.cab", "https://b.example/c/x.cab",
                                        "http://a.example/d/x.cab"]))
    assert source_urls(payload, DownloadOptions(mirror_url="http://127.0.0.1:1/m")) == [
        "http://127.0.0.1:1/m/c/x.cab", "http://127.0.0.1:1/m/d/x.cab"]


@pytest.mark.parametrize("options, cause", [
    (DownloadOptions(mirror_url="file:///srv/mirror"), "mirror_url"),
    (DownloadOptions(mirror_url="http://m.example/base?x=1"), "no query"),
    (DownloadOptions(proxy="socks5://127.0.0.1:1080"), "proxy"),
    (DownloadOptions(concurrency=0), "concurrency"),
    (DownloadOptions(retries=-1), "retries"),
])
def test_bad_options_are_refused(tmp_path, options, cause):
    with pytest.raises(ContentError, match=cause):
        download_files([record()], ContentLibrary(str(tmp_path)), options)


def test_one_file_of_several_updates_is_fetched_once():
    second = record(update_id="99999999-2222-4333-8444-555555555555", sha1=None,
                    urls=["http://other.example/x.msu"])
    wanted = distinct_files([record(), second, record(file_name="other.cab", sha256=None,
                                                      sha1=hashlib.sha1(b"other").hexdigest())])
    assert len(wanted) == 2
    payload, owners = wanted[0]
    assert [o.update_id for o in owners] == [record()["update_id"], second["update_id"]]
    assert payload.urls == (record()["urls"][0], "http://other.example/x.msu")


def test_one_file_with_two_different_digests_is_refused():
    other = record(update_id="99999999-2222-4333-8444-555555555555", sha1="0" * 40)
    with pytest.raises(ContentError, match="two different SHA1 digests"):
        distinct_files([record(), other])


def test_a_refused_proxy_is_named_without_its_password():
    from ansible_collections.patchwave.windows.plugins.module_utils._content.download import DownloadOptions, _check_options
    with pytest.raises(ContentError) as info:
        _check_options(DownloadOptions(proxy="ftp://bob:S3cret-Proxy@proxy.example:21"))
    assert "S3cret-Proxy" not in str(info.value) and "bob:********@proxy.example" in str(info.value)
