# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Download payload files into the content library, each verified with the strongest digest the catalog gives.

``download_files(records, library, options, progress)`` takes plain records (``_content/payload.py``),
checks them all first (a name or URL that could escape is refused before anything is fetched),
fetches each distinct file once, a few at a time, and returns plain data::

    {"downloaded": {"files": n, "bytes": n}, "reused": {"files": n, "bytes": n},
     "resumed": {"files": n, "bytes": n},       # files continued from a .part; bytes not fetched again
     "transferred_bytes": n,                     # what came over the network in this run
     "quarantined": [note, ...],                 # library.quarantine notes
     "failed": [{"update_id", "kb", "title", "file_name", "urls", "expected", "message"}, ...],
     "files": [{"file_name", "update_ids", "size", "sha1", "sha256", "path", "status"}, ...]}

``status`` is ``downloaded``, ``reused``, ``quarantined`` or ``failed``. The caller fails when
``quarantined`` or ``failed`` is not empty; their ``message`` names the update, the file, the URL
and the cause (expected and actual digests, HTTP status, TLS error).

Streaming: each response is read in fixed chunks into one reusable buffer, hashed and written as it
arrives, so memory does not grow with the file. The hash is the strongest digest the catalog gives
(SHA-256, else SHA-1: ``PayloadFile.strongest_digest``); a file that fails it is hashed once more
from disk with every digest the catalog gives, so the quarantine note shows them all. A ``.part`` left by a
cut transfer (this run's or an earlier one's) is continued with ``Range: bytes=<size>-``: its
prefix is hashed again from disk first; a ``200`` answer instead of ``206`` starts over from zero.

HTTP goes through ``ansible.module_utils.urls``: its ``make_context`` (``validate_certs``,
``ca_path``, client certificates) and its redirect handler, in an opener of our own rather than
``open_url``, because ``Request.open`` installs its opener process-wide (threads would race) and
has no proxy URL option. Proxies: the environment's (``http_proxy``, ``https_proxy``,
``no_proxy``) unless ``proxy`` names one; ``use_proxy: false`` uses none.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ansible.module_utils.urls import HTTPRedirectHandler, make_context
from ansible_collections.patchwave.windows.plugins.module_utils._content.library import library_key
from ansible_collections.patchwave.windows.plugins.module_utils._content.payload import (
    ContentError,
    check_mirror_url,
    check_url,
    mirrored,
    payload_file,
)

# 4xx answers that will not change on a retry of the same URL (408 and 429 do).
_PERMANENT_STATUS = frozenset(range(400, 500)) - {408, 429}


@dataclass
class DownloadOptions:
    """How to download: each field is a module option of ``deployment_package``."""

    concurrency: int = 4
    retries: int = 3             # further attempts per URL after a transient failure
    backoff: float = 1.0         # seconds before the first retry, doubled for each next one
    timeout: float = 30.0        # seconds without progress on a connection before it counts as failed
    validate_certs: bool = True
    ca_path: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    proxy: str | None = None     # http://proxy:3128; None: the environment's
    use_proxy: bool = True
    mirror_url: str | None = None
    chunk_size: int = 1 << 20
    progress_bytes: int = 64 << 20   # progress is reported at least this often, and after each file
    http_agent: str = "patchwave.windows content download"


class _Transient(Exception):
    """Worth another attempt at the same URL (connection cut, timeout, 5xx)."""


class _Permanent(Exception):
    """Not worth another attempt at this URL (404, TLS failure); the next URL may still work."""


class _LocalFailure(Exception):
    """The library's own disk failed (no space, permissions): no URL will help."""


def download_files(records, library, options=None, progress=None):
    """Fetch every file of ``records`` into ``library`` (a ContentLibrary); return the result dict.

    ``progress(state)``, when given, is called (serialized) after every file and at least every
    ``options.progress_bytes``, with ``{"files_done", "files_total", "bytes_done", "bytes_total",
    "file_name"}`` (bytes counted by catalog size; ``bytes_total`` leaves out files of unknown size).
    Raises ContentError (before any download) for a record or option that is refused.
    """
    options = options or DownloadOptions()
    _check_options(options)
    wanted = distinct_files(records)
    opener = build_opener(options)
    tally = _Tally(wanted, progress, options.progress_bytes)
    workers = max(1, min(int(options.concurrency), len(wanted) or 1))
    # Largest first, so that no big file starts last and runs alone at the end; results keep the input order.
    order = sorted(range(len(wanted)), key=lambda i: -(wanted[i][0].size or 0))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="patchwave-download") as pool:
        futures = {i: pool.submit(_fetch, wanted[i], library, opener, options, tally) for i in order}
        outcomes = [futures[i].result() for i in range(len(wanted))]
    return _result(outcomes, tally)


def distinct_files(records):
    """Checked records grouped by library key: ``[(PayloadFile, [owner records]), ...]`` in first-seen order.

    Two records of one file must agree on its digests and size (ContentError otherwise).
    """
    grouped = {}
    for record in records:
        payload = payload_file(record)
        key = library_key(payload)
        if key not in grouped:
            grouped[key] = (payload, [payload])
            continue
        first, owners = grouped[key]
        for algorithm, value in payload.digests.items():
            if first.digests.get(algorithm, value) != value:
                raise ContentError("%s and %s: the catalog gives the same file two different %s digests"
                                   % (first.describe(), payload.describe(), algorithm.upper()))
        if None not in (first.size, payload.size) and first.size != payload.size:
            raise ContentError("%s and %s: the catalog gives the same file two sizes (%d and %d bytes)"
                               % (first.describe(), payload.describe(), first.size, payload.size))
        owners.append(payload)
        grouped[key] = (_merged(first, payload), owners)
    return list(grouped.values())


def _merged(first, other):
    """The first record, completed with a digest, size or URLs only the other one gives."""
    urls = first.urls + tuple(u for u in other.urls if u not in first.urls)
    return first.__class__(update_id=first.update_id, file_name=first.file_name, sha1=first.sha1 or other.sha1,
                           sha256=first.sha256 or other.sha256, size=first.size if first.size is not None
                           else other.size, urls=urls, kb=first.kb, title=first.title)


def _check_options(options):
    if options.concurrency is None or int(options.concurrency) < 1:
        raise ContentError("concurrency must be at least 1, not %r" % (options.concurrency,))
    if options.retries is None or int(options.retries) < 0:
        raise ContentError("retries must be 0 or more, not %r" % (options.retries,))
    if options.mirror_url:
        problem = check_mirror_url(options.mirror_url)
        if problem:
            raise ContentError("mirror_url %r refused: %s" % (options.mirror_url, problem))
    if options.proxy:
        problem = check_url(options.proxy)
        if problem:
            shown = re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:********@", options.proxy)  # never a proxy password
            raise ContentError("proxy %r refused: %s" % (shown, problem))


def build_opener(options):
    """A urllib opener for ``options``: ansible's TLS context and redirects, the chosen proxy."""
    if options.proxy:
        proxies = urllib.request.ProxyHandler({"http": options.proxy, "https": options.proxy})
    elif not options.use_proxy:
        proxies = urllib.request.ProxyHandler({})
    else:
        proxies = urllib.request.ProxyHandler()  # the environment's
    context = make_context(cafile=options.ca_path, validate_certs=options.validate_certs,
                           client_cert=options.client_cert, client_key=options.client_key)
    return urllib.request.build_opener(proxies, urllib.request.HTTPSHandler(context=context),
                                       HTTPRedirectHandler("safe"))


def source_urls(payload, options):
    """The URLs to try for a file, in order: the catalog's, or their mirror equivalents."""
    urls = []
    for url in payload.urls:
        candidate = mirrored(url, options.mirror_url)
        if candidate not in urls:
            urls.append(candidate)
    return urls


class _Tally:
    """Counters shared by the workers; progress calls are serialized under its lock."""

    def __init__(self, wanted, progress, every):
        self.lock = threading.Lock()
        self.progress = progress
        self.every = every
        self.files_total = len(wanted)
        self.bytes_total = sum(payload.size or 0 for payload, _owners in wanted)
        self.files_done = 0
        self.bytes_done = 0
        self.transferred = 0
        self._since_report = 0

    def moved(self, count):
        with self.lock:
            self.transferred += count
            self.bytes_done += count
            self._since_report += count
            if self.progress and self._since_report >= self.every:
                self._since_report = 0
                self._report(None)

    def finished(self, payload, counted):
        """A file is done; ``counted`` of its bytes were already reported as they moved."""
        with self.lock:
            self.files_done += 1
            self.bytes_done += (payload.size or 0) - counted
            if self.progress:
                self._report(payload.file_name)

    def _report(self, file_name):
        self.progress({"files_done": self.files_done, "files_total": self.files_total,
                       "bytes_done": self.bytes_done, "bytes_total": self.bytes_total, "file_name": file_name})


def _fetch(entry, library, opener, options, tally):
    """Bring one distinct file into the library: reuse, download (resuming) or quarantine."""
    payload, owners = entry
    outcome = {"payload": payload, "owners": owners, "status": None, "path": library.path_of(payload),
               "resumed_bytes": 0, "counted": 0, "note": None, "message": None}
    try:
        if library.has(payload):  # the common case on a second run: no lock needed to see it
            outcome["status"] = "reused"
        else:
            with library.lock(payload):
                if library.has(payload):  # another process finished it while we waited
                    outcome["status"] = "reused"
                else:
                    _download(payload, library, opener, options, tally, outcome)
    except _LocalFailure as exc:
        outcome.update(status="failed", message="%s: %s" % (payload.describe(), exc))
    except OSError as exc:  # the lock or the final rename
        outcome.update(status="failed", message="%s: content library %s: %s" % (payload.describe(), library.root, exc))
    tally.finished(payload, outcome["counted"])
    return outcome


def _download(payload, library, opener, options, tally, outcome):
    partial = library.partial_path(payload)
    errors = []
    started_over = False
    for url in source_urls(payload, options):
        attempts, pause = int(options.retries) + 1, False
        attempt = 0
        while attempt < attempts:
            if pause:
                time.sleep(options.backoff * (2 ** (attempt - 1)))
            attempt += 1
            pause = True
            try:
                actual, resumed = _transfer(url, partial, payload, opener, options, tally, outcome)
            except _Transient as exc:
                errors.append("%s: %s (attempt %d of %d)" % (url, exc, attempt, attempts))
                continue
            except _Permanent as exc:
                errors.append("%s: %s" % (url, exc))
                break
            problem = _mismatch(payload, partial, actual)
            if problem and resumed and not started_over:
                # The kept prefix may be what an earlier run got from another server: judge the file
                # only on a whole fresh copy (once), not on a mix.
                started_over, pause = True, False
                attempt -= 1
                _discard(partial)
                continue
            outcome["resumed_bytes"] = resumed
            _settle(payload, library, partial, url, actual, problem, outcome)
            return
    outcome.update(status="failed", message="%s: download failed: %s" % (payload.describe(), "; ".join(errors)))


def _discard(partial):
    try:
        with open(partial, "r+b") as handle:
            handle.truncate(0)
    except OSError as exc:
        raise _LocalFailure("cannot write %s: %s" % (partial, exc)) from None


def _mismatch(payload, partial, actual):
    """Why the downloaded file is not the catalog's (size, then digests), or None."""
    size = os.path.getsize(partial)
    if payload.size is not None and size != payload.size:
        return "size %d bytes, the catalog says %d" % (size, payload.size)
    wrong = [a for a, expected in payload.strongest_digest.items() if actual[a] != expected]
    if wrong:
        return "digest mismatch (%s)" % ", ".join(a.upper() for a in wrong)
    return None


def _settle(payload, library, partial, url, actual, problem, outcome):
    """Verified: into the library. Not: quarantined, with a message naming every digest."""
    if problem is None:
        outcome.update(status="downloaded", path=library.insert(payload, partial))
        return
    size = os.path.getsize(partial)
    missing = [a for a in payload.digests if a not in actual]
    if missing:
        hashers = {a: hashlib.new(a) for a in missing}
        _rehash(partial, hashers, 1 << 20)
        actual = dict(actual, **{a: h.hexdigest() for a, h in hashers.items()})
    shown = {a: actual[a] for a in payload.digests}
    note = library.quarantine(payload, partial, url, shown, problem)
    expected_text = ", ".join("%s %s" % (a.upper(), v) for a, v in payload.digests.items())
    actual_text = ", ".join("%s %s" % (a.upper(), v) for a, v in shown.items())
    outcome.update(status="quarantined", note=note, message=(
        "%s from %s: %s: expected %s, got %s (%d bytes); quarantined as %s"
        % (payload.describe(), url, problem, expected_text, actual_text, size, note["path"])))


def _hashers(payload):
    """The running hash of the digest the file is verified with (``PayloadFile.strongest_digest``)."""
    return {algorithm: hashlib.new(algorithm) for algorithm in payload.strongest_digest}


def _rehash(path, hashers, chunk_size):
    """Hash what a ``.part`` already holds; return its size."""
    size = 0
    with open(path, "rb") as handle:
        while True:
            block = handle.read(chunk_size)
            if not block:
                return size
            size += len(block)
            for hasher in hashers.values():
                hasher.update(block)


def _transfer(url, partial, payload, opener, options, tally, outcome):
    """One attempt at ``url`` into ``partial`` (continued when it exists); ``({algo: hex}, resumed bytes)``."""
    try:
        os.makedirs(os.path.dirname(partial), exist_ok=True)
        handle = open(partial, "a+b")  # pylint: disable=consider-using-with
    except OSError as exc:
        raise _LocalFailure("cannot write %s: %s" % (partial, exc)) from None
    with handle:
        hashers = _hashers(payload)
        offset = os.fstat(handle.fileno()).st_size
        if payload.size is not None and offset > payload.size:
            handle.truncate(0)
            offset = 0
        if offset:
            _rehash(partial, hashers, options.chunk_size)
        if payload.size is not None and offset == payload.size:
            return {a: h.hexdigest() for a, h in hashers.items()}, offset  # complete from an earlier run
        response = _open(url, opener, options, offset)
        with response:
            status = response.status
            if offset and status == 206 and _range_start(response) != offset:
                handle.truncate(0)
                raise _Transient("the server answered the range request from byte %s, not %d"
                                 % (_range_start(response), offset))
            if offset and status != 206:
                # The server ignored the range: start over with the whole file it is sending.
                handle.truncate(0)
                hashers = _hashers(payload)
                offset = 0
            handle.seek(0, os.SEEK_END)
            expected = response.length  # bytes still to come (None when the server gives no length)
            received = _stream(response, handle, hashers, options, tally, outcome)
        if expected is not None and received < expected:
            raise _Transient("the connection closed after %d of %d bytes" % (received, expected))
        try:
            handle.flush()
            os.fsync(handle.fileno())
        except OSError as exc:
            raise _LocalFailure("cannot write %s: %s" % (partial, exc)) from None
    return {a: h.hexdigest() for a, h in hashers.items()}, offset


def _open(url, opener, options, offset):
    request = urllib.request.Request(url, headers={"User-Agent": options.http_agent, "Accept-Encoding": "identity"})
    if offset:
        request.add_header("Range", "bytes=%d-" % offset)
    try:
        return opener.open(request, timeout=options.timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416:  # the .part is not a prefix of what the server has: start over next time
            raise _Transient("HTTP 416 for the range from byte %d: starting over" % offset) from None
        text = "HTTP %d %s" % (exc.code, exc.reason)
        raise (_Permanent if exc.code in _PERMANENT_STATUS else _Transient)(text) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, ssl.SSLCertVerificationError):
            raise _Permanent("TLS error: certificate verify failed: %s (validate_certs, ca_path)"
                             % (reason.verify_message or reason)) from None
        if isinstance(reason, ssl.SSLError):
            raise _Permanent("TLS error: %s" % (reason,)) from None
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise _Transient("no answer within %s s" % options.timeout) from None
        raise _Transient("cannot connect: %s" % (reason,)) from None
    except ssl.SSLError as exc:
        raise _Permanent("TLS error: %s" % exc) from None
    except (socket.timeout, TimeoutError):
        raise _Transient("no answer within %s s" % options.timeout) from None
    except (http.client.HTTPException, ConnectionError) as exc:
        raise _Transient("the connection failed: %s" % (exc.__class__.__name__ if not str(exc) else exc)) from None


def _range_start(response):
    """The first byte of a 206 answer's ``Content-Range: bytes <first>-<last>/<size>`` (None when unreadable)."""
    value = response.headers.get("Content-Range", "")
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def _stream(response, handle, hashers, options, tally, outcome):
    """Read the body into ``handle``, hashing as it comes; return the byte count."""
    # A small file needs no large buffer (many small files: no megabyte zeroed for each).
    buffer = bytearray(min(options.chunk_size, response.length + 1) if response.length is not None
                       else options.chunk_size)
    view = memoryview(buffer)
    updates = [h.update for h in hashers.values()]
    received = 0
    while True:
        try:
            count = response.readinto(buffer)
        except (socket.timeout, TimeoutError):
            raise _Transient("no data for %s s after %d bytes" % (options.timeout, received)) from None
        except (http.client.HTTPException, ConnectionError, ssl.SSLError) as exc:
            raise _Transient("the connection failed after %d bytes: %s"
                             % (received, exc.__class__.__name__ if not str(exc) else exc)) from None
        if not count:
            return received
        chunk = view[:count]
        try:
            handle.write(chunk)
        except OSError as exc:
            raise _LocalFailure("cannot write %s: %s" % (handle.name, exc)) from None
        for update in updates:
            update(chunk)
        received += count
        outcome["counted"] += count
        tally.moved(count)


def _result(outcomes, tally):
    result = {"downloaded": {"files": 0, "bytes": 0}, "reused": {"files": 0, "bytes": 0},
              "resumed": {"files": 0, "bytes": 0}, "transferred_bytes": tally.transferred,
              "quarantined": [], "failed": [], "files": []}
    for outcome in outcomes:
        payload, status = outcome["payload"], outcome["status"]
        size = payload.size if payload.size is not None else _size_or_zero(outcome["path"])
        if status in ("downloaded", "reused"):
            result[status]["files"] += 1
            result[status]["bytes"] += size
        if status == "downloaded" and outcome["resumed_bytes"]:
            result["resumed"]["files"] += 1
            result["resumed"]["bytes"] += outcome["resumed_bytes"]
        if status == "quarantined":
            result["quarantined"].append(dict(outcome["note"], message=outcome["message"]))
        if status == "failed":
            result["failed"].append({"update_id": payload.update_id, "kb": payload.kb, "title": payload.title,
                                     "file_name": payload.file_name, "urls": list(payload.urls),
                                     "expected": payload.digests, "message": outcome["message"]})
        result["files"].append({
            "file_name": payload.file_name, "update_ids": sorted({o.update_id for o in outcome["owners"]}),
            "size": payload.size, "sha1": payload.sha1, "sha256": payload.sha256,
            "path": outcome["path"] if status in ("downloaded", "reused") else None, "status": status,
        })
    return result


def _size_or_zero(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
