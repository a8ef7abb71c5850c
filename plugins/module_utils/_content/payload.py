# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""One payload file to fetch: the plain record in, checked and normalized.

A record is a plain dict, as ``_content/files.py`` reads them from the store::

    {"update_id": "...", "kb": "5046616" or None, "title": "..." or None,
     "file_name": "windows10.0-kb5046616-x64_0a1b....msu",
     "sha1": hex or base64 or None, "sha256": hex or base64 or None,   # at least one
     "size": bytes or None, "urls": ["http://download.windowsupdate.com/..."]}

``payload_file(record)`` turns it into a ``PayloadFile`` with lowercase hex digests, or raises
``ContentError`` naming the update and the file: a file name or URL that could escape the
library, a mirror or a share folder (``..``, absolute paths, UNC, drive letters, a scheme other
than http/https) is refused here, before anything is fetched.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

DIGEST_SIZES = {"sha1": 20, "sha256": 32}
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_DRIVE = re.compile(r"^[A-Za-z]:")
_SCHEMES = ("http", "https")


class ContentError(Exception):
    """Bad input for the content library: the message names the update, the file and the cause."""


@dataclass(frozen=True)
class PayloadFile:
    """A payload file of an update, digests as lowercase hex (at least one of them)."""

    update_id: str
    file_name: str
    sha1: str | None
    sha256: str | None
    size: int | None
    urls: tuple
    kb: str | None = None
    title: str | None = None

    @property
    def digests(self):
        """Every digest the catalog gives, ``{"sha1": hex, "sha256": hex}`` (only those present)."""
        return {name: value for name, value in (("sha1", self.sha1), ("sha256", self.sha256)) if value}

    @property
    def strongest_digest(self):
        """The digest a download is verified with: ``{"sha256": hex}`` when the catalog gives one, else
        ``{"sha1": hex}``. A file whose SHA-256 matches is the catalog's file; its SHA-1 (which can be
        forged, unlike SHA-256) adds nothing to that, so it is not computed again for every byte."""
        if self.sha256:
            return {"sha256": self.sha256}
        return {"sha1": self.sha1}

    def describe(self):
        """How messages name the file: update (KB) and file name."""
        owner = "update %s" % self.update_id
        if self.kb:
            owner += " (KB%s)" % self.kb
        return "%s, file '%s'" % (owner, self.file_name)


def hex_digest(value, algorithm):
    """A digest as lowercase hex from hex (any case) or base64 of the raw bytes (as the catalog
    stores them); None stays None. Raises ValueError for anything else."""
    if value is None or value == "":
        return None
    size = DIGEST_SIZES[algorithm]
    text = str(value).strip()
    if len(text) == 2 * size and _HEX.match(text):
        return text.lower()
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != size:
        raise ValueError("%r is not a %s digest (%d hex digits or base64 of %d bytes)"
                         % (value, algorithm.upper(), 2 * size, size))
    return raw.hex()


def check_file_name(name):
    """None when ``name`` is a plain file name, else why not."""
    if not isinstance(name, str) or not name.strip():
        return "the file name is empty"
    if "\x00" in name:
        return "the file name contains a NUL character"
    if "/" in name or "\\" in name:
        return "the file name contains a path separator (only a plain file name is accepted)"
    if name.strip() in (".", ".."):
        return "the file name is '.' or '..'"
    if _DRIVE.match(name) or ":" in name:
        return "the file name contains a drive letter or ':'"
    return None


def check_url(url):
    """None when ``url`` is an http(s) URL with a host and a path that stays below its root."""
    if not isinstance(url, str) or not url:
        return "the URL is empty"
    if _DRIVE.match(url):
        return "the URL is a drive path"
    if url.startswith(("\\\\", "//")) or "\\" in url:
        return "the URL is a UNC path or contains a backslash"
    parts = urlsplit(url)
    if parts.scheme.lower() not in _SCHEMES:
        return "the URL scheme %r is not http or https" % (parts.scheme or "")
    if not parts.hostname:
        return "the URL has no host"
    if any(c in url for c in "\x00\r\n\t "):
        return "the URL contains a control character or a space"
    segments = unquote(parts.path).replace("\\", "/").split("/")
    if ".." in segments or "." in segments:
        return "the URL path contains '..' or '.' segments"
    return None


def mirrored(url, mirror_url):
    """``url`` with its scheme and host (and port) replaced by ``mirror_url``, whose path is
    prefixed: ``http://m:8080/wu`` + ``http://download.windowsupdate.com/c/x.cab`` gives
    ``http://m:8080/wu/c/x.cab``. The query string of ``url`` is kept."""
    if not mirror_url:
        return url
    base = urlsplit(mirror_url)
    parts = urlsplit(url)
    path = base.path.rstrip("/") + "/" + parts.path.lstrip("/")
    return urlunsplit((base.scheme, base.netloc, path, parts.query, ""))


def check_mirror_url(mirror_url):
    """None when ``mirror_url`` is an http(s) base URL without query or fragment, else why not."""
    problem = check_url(mirror_url)
    if problem:
        return problem
    parts = urlsplit(mirror_url)
    if parts.query or parts.fragment:
        return "a mirror URL is a base URL: no query string or fragment"
    return None


def payload_file(record):
    """A checked ``PayloadFile`` from a plain record; ContentError names the update, file and cause."""
    update_id = record.get("update_id") or "(no update id)"
    name = record.get("file_name")
    where = "update %s, file %r" % (update_id, name)
    problem = check_file_name(name)
    if problem:
        raise ContentError("%s: %s" % (where, problem))
    digests = {}
    for algorithm in DIGEST_SIZES:
        try:
            digests[algorithm] = hex_digest(record.get(algorithm), algorithm)
        except ValueError as exc:
            raise ContentError("%s: %s" % (where, exc)) from None
    if not any(digests.values()):
        raise ContentError("%s: the catalog gives no SHA-1 or SHA-256 digest, so the file cannot be verified" % where)
    urls = tuple(record.get("urls") or ())
    if not urls:
        raise ContentError("%s: the catalog gives no download URL" % where)
    for url in urls:
        problem = check_url(url)
        if problem:
            raise ContentError("%s: URL %r refused: %s" % (where, url, problem))
    size = record.get("size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        raise ContentError("%s: size %r is not a byte count" % (where, size))
    return PayloadFile(update_id=update_id, file_name=name, sha1=digests["sha1"], sha256=digests["sha256"],
                       size=size, urls=urls, kb=record.get("kb"), title=record.get("title"))
