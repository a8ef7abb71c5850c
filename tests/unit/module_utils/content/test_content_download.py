"""Downloads into the content library against real servers on loopback: nginx (Range, TLS with a
self-signed certificate), tinyproxy, and a small Python server for cut connections."""

import hashlib
import json
import os
import threading

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._content.download import (
    DownloadOptions,
    download_files,
)
from ansible_collections.patchwave.windows.plugins.module_utils._content.library import ContentLibrary

from tests.servers.http import CuttingServer

pytestmark = pytest.mark.integration

UPDATE = "6b3c5e6a-0f5e-4a8e-9d55-2c1d7f1a9e01"
FAST = {"backoff": 0.01, "timeout": 10}


def make_file(folder, name, size, seed=0):
    """A file of ``size`` pseudo-random bytes in ``folder``; its digests (hex)."""
    block = hashlib.sha256(b"%d" % seed).digest() * 2048  # 64 KiB
    data = (block * (size // len(block) + 1))[:size]
    data = hashlib.sha1(name.encode()).digest() + data[20:] if size >= 20 else data
    path = os.path.join(str(folder), name)
    with open(path, "wb") as handle:
        handle.write(data)
    return {"sha1": hashlib.sha1(data).hexdigest(), "sha256": hashlib.sha256(data).hexdigest(), "size": size}


def record(name, digests, urls, update_id=UPDATE, kb="5046616", **changes):
    entry = {"update_id": update_id, "kb": kb, "title": "2026-11 Cumulative Update", "file_name": name,
             "urls": urls}
    entry.update(digests)
    entry.update(changes)
    return entry


def library_files(library):
    """Every file below the library root, relative, ignoring lock files."""
    found = set()
    for folder, _dirs, files in os.walk(library.root):
        found.update(os.path.relpath(os.path.join(folder, f), library.root) for f in files if not f.endswith(".lock"))
    return found


@pytest.fixture
def library(tmp_path):
    return ContentLibrary(str(tmp_path / "library"))


def test_download_verifies_then_a_second_run_reuses(nginx, served, library):
    folder, base = served
    records = [record("big.cab", make_file(folder, "big.cab", 3 << 20, 1), [nginx.url(base + "/big.cab")]),
               record("small.msu", make_file(folder, "small.msu", 1000, 2), [nginx.url(base + "/small.msu")],
                      sha256=None),
               record("empty.txt", make_file(folder, "empty.txt", 0, 3), [nginx.url(base + "/empty.txt")])]
    seen = []
    first = download_files(records, library, DownloadOptions(**FAST), progress=seen.append)
    assert first["downloaded"] == {"files": 3, "bytes": (3 << 20) + 1000}
    assert first["reused"] == {"files": 0, "bytes": 0}
    assert first["quarantined"] == [] and first["failed"] == []
    for entry, source in zip(first["files"], records):
        assert entry["status"] == "downloaded"
        with open(entry["path"], "rb") as handle:
            data = handle.read()
        assert hashlib.sha1(data).hexdigest() == source["sha1"]
    by_name = {e["file_name"]: e["path"] for e in first["files"]}
    assert by_name["big.cab"] == os.path.join(library.root, "sha256", records[0]["sha256"][:2], records[0]["sha256"])
    assert by_name["small.msu"] == os.path.join(library.root, "sha1", records[1]["sha1"][:2], records[1]["sha1"])
    assert not os.listdir(os.path.join(library.root, ".partial"))
    assert seen[-1]["files_done"] == seen[-1]["files_total"] == 3
    assert seen[-1]["bytes_done"] == seen[-1]["bytes_total"] == (3 << 20) + 1000

    requests = len(nginx.access_log())
    second = download_files(records, library, DownloadOptions(**FAST))
    assert second["downloaded"] == {"files": 0, "bytes": 0}
    assert second["reused"] == {"files": 3, "bytes": (3 << 20) + 1000}
    assert second["transferred_bytes"] == 0
    assert len(nginx.access_log()) == requests  # not even asked


def test_the_sha256_decides_when_the_catalog_gives_one(nginx, served, library):
    # A download is verified with the strongest digest the catalog gives: with a SHA-256, the SHA-1 is
    # not computed again (a file whose SHA-256 matches is the catalog's file); the SHA-1 decides only
    # when it is the one digest given.
    folder, base = served
    digests = make_file(folder, "strong.cab", 150000, 5)
    url = nginx.url(base + "/strong.cab")
    kept = download_files([record("strong.cab", dict(digests, sha1="cd" * 20), [url])], library, DownloadOptions(**FAST))
    assert kept["quarantined"] == [] and kept["downloaded"]["files"] == 1, kept
    only_sha1 = make_file(folder, "weak.cab", 150000, 6)
    refused = download_files([record("weak.cab", {"sha1": "cd" * 20}, [nginx.url(base + "/weak.cab")])], library,
                             DownloadOptions(**FAST))
    [note] = refused["quarantined"]
    assert "digest mismatch (SHA1)" in note["message"] and note["actual"] == {"sha1": only_sha1["sha1"]}, note


def test_a_digest_mismatch_is_quarantined_and_named(nginx, served, library):
    folder, base = served
    digests = make_file(folder, "wrong.cab", 200000, 4)
    url = nginx.url(base + "/wrong.cab")
    expected_sha256 = "ab" * 32
    result = download_files([record("wrong.cab", dict(digests, sha256=expected_sha256), [url])], library,
                            DownloadOptions(**FAST))
    assert result["downloaded"]["files"] == 0 and result["failed"] == []
    [note] = result["quarantined"]
    message = note["message"]
    for part in (UPDATE, "KB5046616", "'wrong.cab'", url, "SHA256 " + expected_sha256,
                 "SHA256 " + digests["sha256"], "SHA1 " + digests["sha1"], "digest mismatch (SHA256)"):
        assert part in message
    assert note["expected"] == {"sha1": digests["sha1"], "sha256": expected_sha256}
    assert note["actual"] == {"sha1": digests["sha1"], "sha256": digests["sha256"]}
    # Nothing under a final name; the file and its note are in quarantine/.
    assert {f.split(os.sep)[0] for f in library_files(library)} == {"quarantine"}
    with open(note["path"] + ".json", encoding="utf-8") as handle:
        assert json.load(handle)["url"] == url
    assert os.path.getsize(note["path"]) == 200000
    assert library.quarantined()[0]["file_name"] == "wrong.cab"
    assert result["files"][0]["status"] == "quarantined" and result["files"][0]["path"] is None


def test_a_partial_download_is_resumed_with_a_range_request(nginx, served, library):
    folder, base = served
    digests = make_file(folder, "resume.cab", 1 << 20, 5)
    entry = record("resume.cab", digests, [nginx.url(base + "/resume.cab")])
    # What an earlier run left when its connection was cut: the first 300,000 bytes.
    from ansible_collections.patchwave.windows.plugins.module_utils._content.payload import payload_file
    partial = library.partial_path(payload_file(entry))
    os.makedirs(os.path.dirname(partial))
    with open(os.path.join(str(folder), "resume.cab"), "rb") as source, open(partial, "wb") as target:
        target.write(source.read(300000))
    result = download_files([entry], library, DownloadOptions(**FAST))
    assert result["downloaded"] == {"files": 1, "bytes": 1 << 20}
    assert result["resumed"] == {"files": 1, "bytes": 300000}
    assert result["transferred_bytes"] == (1 << 20) - 300000
    [logged] = [e for e in nginx.access_log() if e["path"] == base + "/resume.cab"]
    assert (logged["status"], logged["range"], logged["bytes"]) == (206, "bytes=300000-", (1 << 20) - 300000)
    assert not os.path.exists(partial)


def test_a_cut_connection_is_resumed_by_the_retry(served, library):
    folder, _base = served
    digests = make_file(folder, "cut.cab", 500000, 6)
    with CuttingServer(str(folder), cut_after=123456, cuts=1) as server:
        result = download_files([record("cut.cab", digests, [server.url("cut.cab")])], library,
                                DownloadOptions(**FAST))
        assert result["downloaded"]["files"] == 1, result["failed"]
        assert server.requests == [("/cut.cab", None, 200), ("/cut.cab", "bytes=123456-", 206)]
    assert result["transferred_bytes"] == 500000
    assert result["resumed"] == {"files": 1, "bytes": 123456}


def test_a_cut_without_retries_fails_then_the_next_run_resumes(served, library):
    folder, _base = served
    digests = make_file(folder, "later.cab", 400000, 7)
    with CuttingServer(str(folder), cut_after=100000, cuts=1) as server:
        entry = record("later.cab", digests, [server.url("later.cab")])
        first = download_files([entry], library, DownloadOptions(retries=0, **FAST))
        [failure] = first["failed"]
        assert "connection closed after 100000 of 400000 bytes" in failure["message"]
        assert "'later.cab'" in failure["message"] and server.url("later.cab") in failure["message"]
        assert library_files(library) == {os.path.join(".partial", "sha256-%s.part" % digests["sha256"])}
        second = download_files([entry], library, DownloadOptions(retries=0, **FAST))
        assert second["downloaded"]["files"] == 1 and second["resumed"]["bytes"] == 100000
        assert server.requests[-1] == ("/later.cab", "bytes=100000-", 206)


def test_a_server_ignoring_the_range_restarts_from_zero(served, library):
    folder, _base = served
    digests = make_file(folder, "norange.cab", 300000, 8)
    with CuttingServer(str(folder), cut_after=50000, cuts=1, honor_range=False) as server:
        result = download_files([record("norange.cab", digests, [server.url("norange.cab")])], library,
                                DownloadOptions(**FAST))
        assert [r[1:] for r in server.requests] == [(None, 200), ("bytes=50000-", 200)]
    assert result["downloaded"]["files"] == 1 and result["resumed"]["files"] == 0
    assert result["transferred_bytes"] == 350000


def test_http_404_fails_naming_the_file_and_url_without_retrying(nginx, served, library):
    _folder, base = served
    url = nginx.url(base + "/missing.cab")
    result = download_files([record("missing.cab", {"sha1": "1" * 40, "sha256": None}, [url])], library,
                            DownloadOptions(retries=3, **FAST))
    [failure] = result["failed"]
    assert failure["message"] == ("update %s (KB5046616), file 'missing.cab': download failed: %s: HTTP 404 Not Found"
                                  % (UPDATE, url))
    assert failure["expected"] == {"sha1": "1" * 40}
    assert len([e for e in nginx.access_log() if e["path"] == base + "/missing.cab"]) == 1
    assert library.quarantined() == []


def test_the_next_url_is_tried_after_a_failure(nginx, served, library):
    folder, base = served
    digests = make_file(folder, "second.cab", 5000, 9)
    result = download_files([record("second.cab", digests, [nginx.url(base + "/gone.cab"),
                                                            nginx.url(base + "/second.cab")])],
                            library, DownloadOptions(**FAST))
    assert result["downloaded"]["files"] == 1 and result["failed"] == []


def test_tls_is_verified_unless_validate_certs_is_false(nginx, served, library):
    folder, base = served
    entry = record("tls.cab", make_file(folder, "tls.cab", 70000, 10), [nginx.tls_url(base + "/tls.cab")])
    refused = download_files([entry], library, DownloadOptions(**FAST))
    [failure] = refused["failed"]
    assert "TLS error" in failure["message"] and "certificate verify failed" in failure["message"]
    assert nginx.tls_url(base + "/tls.cab") in failure["message"]
    accepted = download_files([entry], library, DownloadOptions(validate_certs=False, **FAST))
    assert accepted["downloaded"]["files"] == 1


def test_tls_with_the_servers_ca(nginx, served, library):
    folder, base = served
    entry = record("ca.cab", make_file(folder, "ca.cab", 7000, 11), [nginx.tls_url(base + "/ca.cab")])
    result = download_files([entry], library, DownloadOptions(ca_path=nginx.cert_path, **FAST))
    assert result["downloaded"]["files"] == 1, result["failed"]


def test_downloads_go_through_the_proxy_option(nginx, tinyproxy, served, library):
    folder, base = served
    plain = record("proxied.cab", make_file(folder, "proxied.cab", 90000, 12), [nginx.url(base + "/proxied.cab")])
    tunnelled = record("tunnel.cab", make_file(folder, "tunnel.cab", 9000, 13), [nginx.tls_url(base + "/tunnel.cab")])
    result = download_files([plain, tunnelled], library,
                            DownloadOptions(proxy=tinyproxy.url, validate_certs=False, **FAST))
    assert result["downloaded"]["files"] == 2, result["failed"]
    log = tinyproxy.log_text()
    assert "GET %s HTTP/1.1" % nginx.url(base + "/proxied.cab") in log
    assert "CONNECT 127.0.0.1:%d" % nginx.tls_port in log


def test_the_environment_proxy_is_used_unless_use_proxy_is_false(nginx, tinyproxy, served, library, monkeypatch):
    folder, base = served
    monkeypatch.setenv("http_proxy", tinyproxy.url)
    first = record("env.cab", make_file(folder, "env.cab", 3000, 14), [nginx.url(base + "/env.cab")])
    assert download_files([first], library, DownloadOptions(**FAST))["downloaded"]["files"] == 1
    assert "GET %s HTTP/1.1" % nginx.url(base + "/env.cab") in tinyproxy.log_text()
    second = record("direct.cab", make_file(folder, "direct.cab", 3000, 15), [nginx.url(base + "/direct.cab")])
    assert download_files([second], library, DownloadOptions(use_proxy=False, **FAST))["downloaded"]["files"] == 1
    assert nginx.url(base + "/direct.cab") not in tinyproxy.log_text()


def test_mirror_url_takes_the_place_of_the_catalogs_host(nginx, served, library):
    folder, base = served
    os.makedirs(os.path.join(str(folder), "c", "msdownload", "update"))
    digests = make_file(os.path.join(str(folder), "c", "msdownload", "update"), "m.cab", 12345, 16)
    # The catalog names Microsoft's host; under the network guard reaching it would fail the test.
    catalog_url = "http://download.windowsupdate.com/c/msdownload/update/m.cab"
    result = download_files([record("m.cab", digests, [catalog_url])], library,
                            DownloadOptions(mirror_url=nginx.url(base), **FAST))
    assert result["downloaded"]["files"] == 1, result["failed"]
    assert [e["status"] for e in nginx.access_log() if e["path"] == base + "/c/msdownload/update/m.cab"] == [200]


def test_several_downloads_at_once(served, library):
    folder, _base = served
    records = [record("f%02d.cab" % i, make_file(folder, "f%02d.cab" % i, 20000 + i, 100 + i), [],
                      update_id="6b3c5e6a-0f5e-4a8e-9d55-2c1d7f1a9e%02d" % i) for i in range(12)]
    with CuttingServer(str(folder), cuts=0, delay=0.2) as server:
        for entry in records:
            entry["urls"] = [server.url(entry["file_name"])]
        threads = set()

        def progress(state):
            threads.add(threading.current_thread().name)
        started = download_files(records, library, DownloadOptions(concurrency=4, **FAST), progress)
        assert started["downloaded"]["files"] == 12
        assert server.max_active == 4 and len(threads) == 4
        assert download_files(records, library, DownloadOptions(concurrency=4, **FAST))["reused"]["files"] == 12


def test_one_file_shared_by_two_updates_is_stored_once(nginx, served, library):
    folder, base = served
    digests = make_file(folder, "shared.cab", 4000, 17)
    url = nginx.url(base + "/shared.cab")
    result = download_files([record("shared.cab", digests, [url]),
                             record("shared.cab", digests, [url], update_id="7b3c5e6a-0f5e-4a8e-9d55-2c1d7f1a9e01")],
                            library, DownloadOptions(**FAST))
    assert result["downloaded"] == {"files": 1, "bytes": 4000}
    assert result["files"][0]["update_ids"] == sorted([UPDATE, "7b3c5e6a-0f5e-4a8e-9d55-2c1d7f1a9e01"])
    assert len([e for e in nginx.access_log() if e["path"] == base + "/shared.cab"]) == 1


def test_a_stale_partial_that_does_not_match_is_fetched_whole_once_more(nginx, served, library):
    from ansible_collections.patchwave.windows.plugins.module_utils._content.payload import payload_file
    folder, base = served
    digests = make_file(folder, "stale.cab", 200000, 18)
    entry = record("stale.cab", digests, [nginx.url(base + "/stale.cab")])
    partial = library.partial_path(payload_file(entry))
    os.makedirs(os.path.dirname(partial))
    with open(partial, "wb") as handle:
        handle.write(b"\0" * 5000)  # left by an earlier run against another server
    result = download_files([entry], library, DownloadOptions(**FAST))
    assert result["downloaded"]["files"] == 1 and result["quarantined"] == []
    assert [(e["status"], e["range"]) for e in nginx.access_log() if e["path"] == base + "/stale.cab"] == [
        (206, "bytes=5000-"), (200, "-")]


def test_a_server_that_does_not_answer_in_time(served, library):
    folder, _base = served
    digests = make_file(folder, "slow.cab", 1000, 19)
    with CuttingServer(str(folder), cuts=0, delay=1.5) as server:
        result = download_files([record("slow.cab", digests, [server.url("slow.cab")])], library,
                                DownloadOptions(timeout=0.3, retries=1, backoff=0.01))
    [failure] = result["failed"]
    assert "no answer within 0.3 s (attempt 1 of 2)" in failure["message"]
    assert "no answer within 0.3 s (attempt 2 of 2)" in failure["message"]


def test_two_runs_on_one_library_fetch_a_file_once(served, library):
    """Two controllers (here two threads, each its own run) sharing a library: the file lock lets
    one download while the other waits and then finds the file."""
    folder, _base = served
    digests = make_file(folder, "both.cab", 100000, 20)
    with CuttingServer(str(folder), cuts=0, delay=0.5) as server:
        entry = record("both.cab", digests, [server.url("both.cab")])
        results = [None, None]

        def run(index):
            results[index] = download_files([entry], library, DownloadOptions(**FAST))
        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(server.requests) == 1
    assert sorted(r["files"][0]["status"] for r in results) == ["downloaded", "reused"]
