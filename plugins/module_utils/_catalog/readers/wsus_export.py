# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Read an extracted ``wsusutil export`` (``package.xml`` + ``metadata.txt``) as catalog records.

``metadata.txt`` holds one record per update revision::

    <UpdateID>,<RevisionNumber as %08x>,<XML length as %08x>,<upd:Update XML>\\r\\n

The length is a .NET string length: it counts UTF-16 code units, not bytes and not code points
(a character outside the Basic Multilingual Plane counts 2), and the XML may contain raw
newlines, so records are read by length, never split on lines. The file is UTF-8 and is read as
a stream, one record at a time: real exports with software updates are many gigabytes.

``package.xml`` (``<ExportPackage>``, no namespace) is streamed too. Its top-level
``<Files><File Digest MUUrl Name/>`` gives download URLs by SHA-1 digest; its
``<Updates><Update UpdateId RevisionNumber>`` entries list each revision's product
(``Categories``) and classification (``Classifications``) GUIDs, which are added to the record's
``categories``. The two files list the same revisions; a revision that only one of them lists is
an error (the files do not belong to the same export).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import os
import re

from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import (
    CatalogError,
    normalize_date,
    normalize_guid,
)
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.readers.update_xml import parse_update_xml
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.safe_xml import iterparse, local_name

# One record's XML may not be longer than this (UTF-16 code units). The largest real documents
# are a few hundred kilobytes; the field itself allows 4 G, which must not become an allocation.
MAX_RECORD_UNITS = 64 * 1024 * 1024
_CHUNK = 1024 * 1024
_HEADER_MAX = 128
_HEX = re.compile(r"^[0-9a-fA-F]{1,16}$")
_HEADER_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ASTRAL = re.compile("[\U00010000-\U0010FFFF]")


def _utf8_length(text):
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def _describe(path):
    return "catalog file '%s'" % path


class _Stream:
    """A UTF-8 file decoded incrementally, with a window of text around the read position."""

    def __init__(self, handle, where):
        self.handle = handle
        self.where = where
        self.decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self.text = ""
        self.pos = 0
        self.eof = False
        self.bytes_read = 0

    def available(self):
        return len(self.text) - self.pos

    def fill(self, count):
        """Make at least ``count`` characters available past ``pos``, unless the file ends."""
        while self.available() < count and not self.eof:
            chunk = self.handle.read(max(_CHUNK, count))
            try:
                decoded = self.decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                raise CatalogError("%s: not valid UTF-8 near byte %d (%s)"
                                   % (self.where, self.bytes_read + exc.start, exc.reason))
            self.bytes_read += len(chunk)
            if not chunk:
                self.eof = True
            if self.pos:
                self.text = self.text[self.pos:]
                self.pos = 0
            self.text += decoded

    def peek(self, count):
        self.fill(count)
        return self.text[self.pos:self.pos + count]


def _xml_extent(text, start, units):
    """Code points from ``start`` that make ``units`` UTF-16 code units, or None if the count ends
    inside a surrogate pair (the length field cuts a character outside the BMP in two)."""
    astral_before = 0
    for match in _ASTRAL.finditer(text, start, start + units):
        offset = match.start() - start + astral_before  # UTF-16 offset of this character
        if offset >= units:
            break
        if offset + 1 == units:
            return None
        astral_before += 1
    return units - astral_before


def iter_metadata_records(path, max_record_units=MAX_RECORD_UNITS):
    """Stream ``metadata.txt``: yield ``(record_number, byte_offset, update_id, revision, xml_text)``.

    ``record_number`` counts from 1, ``byte_offset`` is where the record starts in the file and
    ``update_id`` is the header's GUID, lower case. Malformed, truncated or mis-sized records raise
    ``CatalogError`` naming the file, the record and the cause.
    """
    where = _describe(path)
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise CatalogError("%s cannot be read: %s" % (where, exc.strerror or exc))
    with handle:
        stream = _Stream(handle, where)
        if stream.peek(1) == "\ufeff":  # tolerated although wsusutil writes none
            stream.pos += 1
            byte_offset = 3
        else:
            byte_offset = 0
        number = 0
        while True:
            head = stream.peek(_HEADER_MAX)
            if not head.strip():
                if stream.eof and len(head) == stream.available():
                    return
                # whitespace followed by more data: fall through, the header check reports it
            number += 1
            at = "%s: record %d at byte %d" % (where, number, byte_offset)
            fields = head.split(",", 3)
            if len(fields) < 4:
                if stream.eof and "\n" not in head:
                    raise CatalogError("%s is truncated: the file ends inside the record header %r" % (at, head))
                raise CatalogError("%s: the header is not '<UpdateID>,<revision>,<length>,' (it starts %r)"
                                   % (at, head[:60]))
            uid_text, rev_text, len_text = fields[0], fields[1], fields[2]
            if not _HEADER_GUID.match(uid_text):
                raise CatalogError("%s: UpdateID %r is not a GUID" % (at, uid_text[:60]))
            update_id = normalize_guid(uid_text)
            at = "%s: record %d at byte %d (update %s)" % (where, number, byte_offset, update_id)
            for value, what in ((rev_text, "revision"), (len_text, "XML length")):
                if not _HEX.match(value):
                    raise CatalogError("%s: %s %r is not hexadecimal" % (at, what, value))
            revision = int(rev_text, 16)
            units = int(len_text, 16)
            if units > max_record_units:
                raise CatalogError("%s: XML length %d (0x%s) exceeds the limit of %d UTF-16 code units"
                                   % (at, units, len_text, max_record_units))
            header_length = len(uid_text) + len(rev_text) + len(len_text) + 3
            stream.pos += header_length
            start_byte = byte_offset + header_length

            stream.fill(units + 2)
            extent = _xml_extent(stream.text, stream.pos, units)
            if extent is None:
                raise CatalogError("%s: XML length %d (0x%s) ends inside a character outside the Basic "
                                   "Multilingual Plane (wrong length field)" % (at, units, len_text))
            if extent > stream.available():
                got = stream.text[stream.pos:]
                raise CatalogError("%s is truncated: the length field says %d UTF-16 code units of XML but the "
                                   "file ends after %d" % (at, units, len(got.encode("utf-16-le")) // 2))
            xml_text = stream.text[stream.pos:stream.pos + extent]
            end = stream.text[stream.pos + extent:stream.pos + extent + 2]
            if end != "\r\n":
                if stream.eof and "\r\n".startswith(end):
                    raise CatalogError("%s is truncated: the CRLF that ends the record is missing" % at)
                raise CatalogError("%s: the %d UTF-16 code units of XML (length field 0x%s) are followed by %r, "
                                   "not CRLF (wrong length field or missing CRLF)" % (at, units, len_text, end))
            stream.pos += extent + 2
            record_offset = byte_offset
            byte_offset = start_byte + _utf8_length(xml_text) + 2
            yield number, record_offset, update_id, revision, xml_text


def read_package_header(package_xml_path):
    """The ``<ExportPackage>`` attributes and ``<Languages>`` of a package.xml, read up to the files.

    Returns a dict: server_id, creation_time (in UTC, the store's form: the exporter writes the
    server's local time with its offset), format_version, protocol_version and languages (a list
    of dicts id, short_name, long_name, enabled). A malformed CreationTime is a CatalogError.
    """
    where = _describe(package_xml_path)
    header = {"server_id": None, "creation_time": None, "format_version": None, "protocol_version": None,
              "languages": []}
    events = iterparse(package_xml_path, where, events=("start", "end"))
    try:
        _read_header(events, header)
    finally:
        events.close()
    try:
        header["creation_time"] = normalize_date(header["creation_time"], "ExportPackage CreationTime")
    except ValueError as exc:
        raise CatalogError("%s: %s" % (where, exc))
    return header


def _read_header(events, header):
    for event, element in events:
        name = local_name(element.tag)
        if event == "start":
            if name == "ExportPackage":
                header.update(server_id=element.get("ServerID"), creation_time=element.get("CreationTime"),
                              format_version=element.get("FormatVersion"),
                              protocol_version=element.get("ProtocolVersion"))
            elif name in ("Files", "Updates"):
                break
            continue
        if name == "Language":
            header["languages"].append({
                "id": element.get("Id"), "short_name": element.get("ShortName"),
                "long_name": element.get("LongName"), "enabled": element.get("Enabled") == "1",
            })
            element.clear()


class PackageUpdate:
    """One ``<Updates><Update>`` entry of package.xml."""

    __slots__ = ("update_id", "revision", "digests", "categories", "classifications")

    def __init__(self, update_id, revision, digests, categories, classifications):
        self.update_id = update_id
        self.revision = revision
        self.digests = digests
        self.categories = categories
        self.classifications = classifications


def _release(element):
    """Free a finished element and the siblings already handled before it."""
    element.clear()
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


def iter_package(package_xml_path):
    """Stream package.xml: yield ``("file", digest, url, name)`` for each top-level file, then
    ``("update", PackageUpdate)`` for each update entry. Elements are freed as they are read."""
    where = _describe(package_xml_path)
    depth = 0
    section = None
    root_seen = False
    for event, element in iterparse(package_xml_path, where, events=("start", "end")):
        name = local_name(element.tag)
        if event == "start":
            depth += 1
            if depth == 1:
                if name != "ExportPackage":
                    raise CatalogError("%s: the root element is <%s>, not <ExportPackage> (not a WSUS export "
                                       "package.xml)" % (where, name))
                root_seen = True
            elif depth == 2:
                section = name
            continue
        depth -= 1
        if depth == 2 and section == "Files" and name == "File":
            digest = element.get("Digest")
            if not digest:
                raise CatalogError("%s: a <Files><File> entry has no Digest" % where)
            yield "file", digest, element.get("MUUrl"), element.get("Name")
            _release(element)
        elif depth == 2 and section == "Updates" and name == "Update":
            yield "update", _package_update(element, where)
            _release(element)
        elif depth == 1:
            _release(element)
    if not root_seen:  # pragma: no cover - iterparse raises on an empty document first
        raise CatalogError("%s: empty document" % where)


def _package_update(element, where):
    try:
        update_id = normalize_guid(element.get("UpdateId"), "Update UpdateId")
    except ValueError as exc:
        raise CatalogError("%s: <Updates>: %s" % (where, exc))
    revision_text = (element.get("RevisionNumber") or "").strip()
    if not revision_text.isdigit():
        raise CatalogError("%s: <Update UpdateId=%s>: RevisionNumber %r is not an integer"
                           % (where, update_id, element.get("RevisionNumber")))
    lists = {"Files": [], "Categories": [], "Classifications": []}
    for group in element:
        kind = local_name(group.tag)
        if kind not in lists:
            continue
        for item in group:
            if not isinstance(item.tag, str):
                continue
            if kind == "Files":
                if item.get("Digest"):
                    lists[kind].append(item.get("Digest"))
                continue
            try:
                lists[kind].append(normalize_guid(item.get("Value"), "%s Value" % local_name(item.tag)))
            except ValueError as exc:
                raise CatalogError("%s: <Update UpdateId=%s>: %s" % (where, update_id, exc))
    return PackageUpdate(update_id, int(revision_text), tuple(lists["Files"]), tuple(lists["Categories"]),
                         tuple(lists["Classifications"]))


def iter_package_file_urls(package_xml_path):
    """Yield ``(digest, url)`` for every top-level file of package.xml that has a URL.

    For callers that stream URLs into a store table instead of joining them here: pass
    ``url_for_digest=lambda digest: ()`` to ``read_wsus_export`` and join on the SHA-1 digest.
    """
    for item in iter_package(package_xml_path):
        if item[0] != "file":
            return
        if item[2]:
            yield item[1], item[2]


def _digest_key(digest):
    """The raw digest bytes (20 for SHA-1): a compact dictionary key; the text if it is not base64."""
    try:
        return base64.b64decode(digest, validate=True)
    except (binascii.Error, ValueError):
        return digest


class _UrlMap:
    """digest -> URL(s) held in memory: the one structure here that grows with the catalog.

    Keys are the raw digest bytes, values a URL string (a tuple in the rare case of several).
    """

    def __init__(self):
        self.urls = {}

    def add(self, digest, url):
        key = _digest_key(digest)
        known = self.urls.get(key)
        if known is None:
            self.urls[key] = url
        elif isinstance(known, tuple):
            if url not in known:
                self.urls[key] = known + (url,)
        elif known != url:
            self.urls[key] = (known, url)

    def __call__(self, digest):
        found = self.urls.get(_digest_key(digest))
        if found is None:
            return ()
        return found if isinstance(found, tuple) else (found,)


def _as_urls(value):
    if not value:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _merge(first, second):
    result = list(first)
    for value in second:
        if value not in result:
            result.append(value)
    return tuple(result)


def read_wsus_export(package_xml_path, metadata_path, languages=None, url_for_digest=None):
    """Yield one ``CatalogUpdate`` per record of an extracted WSUS export, in metadata.txt order.

    ``languages`` filters titles and descriptions (see ``parse_update_xml``).

    URLs: ``url_for_digest(sha1_base64)`` returns the download URL(s) of a file (a string, a
    sequence of strings, or None) and is called for each file of each record. By default it is a
    dictionary built from package.xml's top-level ``<Files>``, which precede ``<Updates>``: that
    dictionary (raw 20-byte digest -> URL) is the only memory here that grows with the catalog.
    Pass a callable backed by a store table to avoid it, or ``lambda digest: ()`` to attach none.

    package.xml is streamed in step with metadata.txt: both are written in the same order, so the
    entry for each record is normally the next one and nothing is held. Entries read ahead while
    looking for a record are kept until their record comes, so a differently ordered package.xml
    still works, at the cost of that look-ahead.

    Revisions: every record is yielded, including several revisions of one UpdateID (real exports
    carry e.g. revisions 1 and 100 of a category). metadata.txt is not ordered by UpdateID, so
    keeping only the highest revision would mean holding every id seen; that is left to the
    store, which keeps the highest RevisionNumber per UpdateID (Microsoft's advice).
    """
    metadata_where = _describe(metadata_path)
    package_where = _describe(package_xml_path)
    if url_for_digest is None:
        url_map = _UrlMap()
        url_for_digest = url_map
    else:
        url_map = None
    package = iter_package(package_xml_path)
    pending = {}

    def package_entry(update_id, revision):
        key = (update_id, revision)
        if key in pending:
            return pending.pop(key)
        for item in package:
            if item[0] == "file":
                if url_map is not None and item[2]:
                    url_map.add(item[1], item[2])
                continue
            entry = item[1]
            entry_key = (entry.update_id, entry.revision)
            if entry_key == key:
                return entry
            if entry_key in pending:
                raise CatalogError("%s: update %s revision %d is listed twice" % (package_where, *entry_key))
            pending[entry_key] = entry
        return None

    for number, offset, update_id, revision, xml_text in iter_metadata_records(metadata_path):
        where = "%s: record %d at byte %d (update %s)" % (metadata_where, number, offset, update_id)
        record = parse_update_xml(xml_text, where, languages)
        if (record.update_id, record.revision_number) != (update_id, revision):
            raise CatalogError("%s: the record header says update %s revision %d but the XML's UpdateIdentity "
                               "says update %s revision %d" % (where, update_id, revision, record.update_id,
                                                               record.revision_number))
        entry = package_entry(update_id, revision)
        if entry is None:
            raise CatalogError("%s: revision %d is not listed in %s (the two files are not from the same export)"
                               % (where, revision, package_where))
        if entry.categories or entry.classifications:
            record.categories = _merge(record.categories, entry.categories + entry.classifications)
        if record.files:
            for update_file in record.files:
                if update_file.sha1:
                    update_file.urls = _merge(update_file.urls, _as_urls(url_for_digest(update_file.sha1)))
        yield record

    leftover = list(pending)
    for item in package:
        if item[0] == "update":
            leftover.append((item[1].update_id, item[1].revision))
    if leftover:
        update_id, revision = leftover[0]
        raise CatalogError("%s lists %d update revision(s) that %s does not contain, e.g. update %s revision %d "
                           "(the two files are not from the same export)"
                           % (package_where, len(leftover), metadata_where, update_id, revision))


def _find_member(folder, name):
    try:
        entries = os.listdir(folder)
    except OSError as exc:
        raise CatalogError("WSUS export folder '%s' cannot be read: %s" % (folder, exc.strerror or exc))
    for entry in entries:
        if entry.lower() == name:
            return os.path.join(folder, entry)
    raise CatalogError("WSUS export folder '%s' has no %s (an extracted wsusutil export holds package.xml and "
                       "metadata.txt)" % (folder, name))


def read_wsus_export_dir(folder, languages=None, url_for_digest=None):
    """``read_wsus_export`` for a folder holding the extracted ``package.xml`` and ``metadata.txt``
    (names compared case-insensitively)."""
    return read_wsus_export(_find_member(folder, "package.xml"), _find_member(folder, "metadata.txt"),
                            languages=languages, url_for_digest=url_for_digest)
