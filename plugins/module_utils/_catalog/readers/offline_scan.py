# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Read Microsoft's offline scan package (``wsusscn2.cab``) from its extracted members.

Layout (catalog_formats.md §1.2): ``package.xml`` (the index of every update, streamed: it is over
100 MB in real life), ``index.xml`` (which detail cab holds which RevisionIds) and the detail cabs
with per-revision fragments ``c/<RevisionId>`` (core), ``x/<RevisionId>`` (extended) and
``l/<lang>/<RevisionId>`` (localized). Supersedence and bundling arrive backwards, as RevisionIds
of the superseding or bundling update; the store resolves them to update identities.
"""

from __future__ import annotations

import bisect

from ansible_collections.patchwave.windows.plugins.module_utils._catalog import safe_xml as xml
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import (
    CatalogError,
    CatalogUpdate,
    FileLocation,
    UpdateFile,
    normalize_date,
    normalize_guid,
    normalize_kb,
    normalize_languages,
)

OFFLINE_SYNC_NS = "http://schemas.microsoft.com/msus/2004/02/OfflineSync"
_UPDATE = "{%s}Update" % OFFLINE_SYNC_NS
_FILE_LOCATION = "{%s}FileLocation" % OFFLINE_SYNC_NS
_CATEGORIES = "{%s}Categories" % OFFLINE_SYNC_NS
_PREREQUISITES = "{%s}Prerequisites" % OFFLINE_SYNC_NS
_OR = "{%s}Or" % OFFLINE_SYNC_NS
_BUNDLED_BY = "{%s}BundledBy" % OFFLINE_SYNC_NS
_SUPERSEDED_BY = "{%s}SupersededBy" % OFFLINE_SYNC_NS
_LANGUAGES = "{%s}Languages" % OFFLINE_SYNC_NS
_LANGUAGE = "{%s}Language" % OFFLINE_SYNC_NS
_KINDS = {"Software": "software", "Driver": "driver", "Category": "category", "Detectoid": "detectoid"}
_RULES = {"IsInstalled": "is_installed", "IsInstallable": "is_installable", "IsSuperseded": "is_superseded",
          "Metadata": "metadata"}


def read_package_header(package_xml, where="offline scan package: member 'package.xml'"):
    """The ``<OfflineSyncPackage>`` attributes of a package.xml, read from its start tag alone.

    Returns a dict: package_id, source_id, protocol_version and creation_date (in UTC, the store's
    form; None when the package states none). Raises CatalogError naming the attribute when the
    date is malformed, or when the root is not ``OfflineSyncPackage``.
    """
    events = xml.iterparse(package_xml, where, events=("start",))
    try:
        _event, root = next(events, (None, None))
    finally:
        events.close()
    if root is None or root.tag != "{%s}OfflineSyncPackage" % OFFLINE_SYNC_NS:
        raise CatalogError("%s: root element is %s, not OfflineSyncPackage (is this an offline scan package?)"
                           % (where, xml.local_name(root.tag) if root is not None else "missing"))
    try:
        created = normalize_date(root.get("CreationDate"), "OfflineSyncPackage CreationDate")
    except ValueError as exc:
        raise CatalogError("%s: %s" % (where, exc))
    return {"package_id": root.get("PackageId"), "source_id": root.get("SourceId"),
            "protocol_version": root.get("ProtocolVersion"), "creation_date": created}


def read_index(index_path, where):
    """Return ``[(range_start, cab_name), ...]`` sorted by range start, from ``index.xml``."""
    with open(index_path, "rb") as handle:
        root = xml.parse_bytes(handle.read(), where)
    ranges = []
    for element in root.iter():
        if xml.local_name(element.tag).upper() != "CAB":
            continue
        attributes = {k.upper(): v for k, v in element.attrib.items()}
        name = attributes.get("NAME", "")
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            raise CatalogError("%s: CAB entry %r is not a plain cabinet name" % (where, name))
        try:
            start = int(attributes.get("RANGESTART", ""))
        except ValueError:
            raise CatalogError("%s: CAB entry %r has no integer RANGESTART" % (where, name))
        ranges.append((start, name))
    if not ranges:
        raise CatalogError("%s: lists no detail cabinets" % where)
    ranges.sort()
    return ranges


class _Fragments:
    """Finds the c/ x/ l/ members of a RevisionId in the extracted detail cabs."""

    def __init__(self, ranges, folder_for_cab, where):
        self.starts = [start for start, _name in ranges]
        self.names = [name for _start, name in ranges]
        self.folders = [folder_for_cab(name) for name in self.names]
        self.where = where

    def locate(self, revision_id):
        position = bisect.bisect_right(self.starts, revision_id) - 1
        if position < 0:
            raise CatalogError("%s: RevisionId %d lies before the first detail cabinet's range"
                               % (self.where, revision_id))
        return position

    def read(self, position, kind, revision_id, required=True):
        path = "%s/%s/%d" % (self.folders[position], kind, revision_id)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            if required:
                raise CatalogError("%s: member '%s/%d' is missing from %s"
                                   % (self.where, kind, revision_id, self.names[position]))
            return None
        return xml.parse_fragment(data, lambda: "%s: %s member '%s/%d'" % (self.where, self.names[position], kind,
                                                                           revision_id))


def _int(value, what, where):
    try:
        return int(value)
    except (TypeError, ValueError):
        raise CatalogError("%s: %s %r is not an integer" % (where, what, value))


def _guid(value, what, where):
    try:
        return normalize_guid(value, what)
    except ValueError as exc:
        raise CatalogError("%s: %s" % (where, exc))


def _apply_core(record, core, where):
    for element in core:
        name = element.tag  # fragments are namespace-free (catalog_formats.md §1.2)
        if name == "UpdateIdentity":
            found = _guid(element.get("UpdateID"), "UpdateID", where)
            if found != record.update_id:
                raise CatalogError("%s: core fragment describes update %s, package.xml says %s"
                                   % (where, found, record.update_id))
        elif name == "Properties":
            update_type = element.get("UpdateType", "Software")
            if update_type not in _KINDS:
                raise CatalogError("%s: UpdateType %r is not one of %s" % (where, update_type, ", ".join(_KINDS)))
            record.kind = _KINDS[update_type]
            deployable = element.get("ExplicitlyDeployable")
            if deployable is not None:
                record.explicitly_deployable = deployable.lower() == "true"
        elif name == "Relationships":
            _apply_relationships(record, element, where)
        elif name == "ApplicabilityRules":
            for rule in element:
                key = _RULES.get(rule.tag)
                if key and len(rule):
                    record.rules[key] = "".join(xml.to_text(child) for child in rule)


def _apply_relationships(record, relationships, where):
    categories = list(record.categories)
    bundled = []
    supersedes = []
    for group in relationships:
        name = group.tag
        if name == "BundledUpdates":
            bundled.extend(_guid(i.get("UpdateID"), "bundled UpdateID", where) for i in group.iter("UpdateIdentity"))
        elif name == "SupersededUpdates":
            supersedes.extend(_guid(i.get("UpdateID"), "superseded UpdateID", where)
                              for i in group.iter("UpdateIdentity"))
        elif name == "Prerequisites":
            for clause in group:
                if clause.get("IsCategory", "").lower() == "true":
                    categories.extend(_guid(i.get("UpdateID"), "category UpdateID", where)
                                      for i in clause.iter("UpdateIdentity"))
    record.categories = tuple(dict.fromkeys(categories))
    if bundled:
        record.bundled_updates = tuple(dict.fromkeys(bundled))
        record.is_bundle = True
    if supersedes:
        record.supersedes = tuple(dict.fromkeys(supersedes))


def _apply_extended(record, extended, where):
    files = []
    for element in extended:
        name = element.tag
        if name == "ExtendedProperties":
            record.msrc_severity = element.get("MsrcSeverity") or record.msrc_severity
            record.default_language = element.get("DefaultPropertiesLanguage") or record.default_language
            if element.get("MaxDownloadSize"):
                record.max_download_size = _int(element.get("MaxDownloadSize"), "MaxDownloadSize", where)
            kbs = []
            bulletins = []
            for child in element:
                child_name = child.tag
                if child_name == "InstallationBehavior":
                    record.reboot_behavior = child.get("RebootBehavior") or record.reboot_behavior
                    record.impact = child.get("Impact") or record.impact
                elif child_name == "KBArticleID" and child.text:
                    try:
                        kbs.append(normalize_kb(child.text))
                    except ValueError as exc:
                        raise CatalogError("%s: %s" % (where, exc))
                elif child_name == "SecurityBulletinID" and child.text:
                    bulletins.append(child.text.strip())
                elif child_name == "SupportUrl" and child.text:
                    record.support_url = child.text.strip()
            record.kb_articles = tuple(dict.fromkeys(kbs))
            record.security_bulletins = tuple(bulletins)
        elif name == "Files":
            number = 0
            for entry in element:
                if entry.tag != "File":
                    continue
                number += 1
                file_name = entry.get("FileName") or ""
                sha256 = None
                for digest in entry:
                    if digest.tag == "AdditionalDigest" and digest.get("Algorithm") == "SHA256":
                        sha256 = (digest.text or "").strip() or None
                try:
                    modified = normalize_date(entry.get("Modified"), "file %d (%s) Modified" % (number, file_name))
                except ValueError as exc:
                    raise CatalogError("%s: %s" % (where, exc))
                size = entry.get("Size")
                files.append(UpdateFile(
                    name=file_name,
                    sha1=entry.get("Digest") if entry.get("DigestAlgorithm", "SHA1") == "SHA1" else None,
                    sha256=sha256,
                    size=_int(size, "file size", where) if size else None,
                    modified=modified,
                ))
        elif name == "HandlerSpecificData":
            for child in element:
                if child.tag == "CategoryInformation":
                    record.category_type = child.get("CategoryType")
    record.files = tuple(files)


def _apply_localized(record, localized):
    for element in localized:
        if element.tag != "LocalizedProperties":
            continue
        language = None
        title = description = None
        for child in element:
            child_name = child.tag
            if child_name == "Language":
                language = (child.text or "").strip()
            elif child_name == "Title":
                title = child.text
            elif child_name == "Description":
                description = child.text
        if language:
            if title is not None:
                record.titles[language] = title
            if description is not None:
                record.descriptions[language] = description


def _package_entry(element, where):
    """The update as package.xml describes it, before its fragments are read."""
    update_id = _guid(element.get("UpdateId"), "UpdateId", where)
    where = "%s: update %s" % (where, update_id)
    revision_id = _int(element.get("RevisionId"), "RevisionId", where)
    try:
        release_date = normalize_date(element.get("CreationDate"), "CreationDate")
    except ValueError as exc:
        raise CatalogError("%s: %s" % (where, exc))
    record = CatalogUpdate(
        update_id=update_id,
        revision_number=_int(element.get("RevisionNumber"), "RevisionNumber", where),
        revision_id=revision_id,
        release_date=release_date,
        default_language=element.get("DefaultLanguage"),
        is_bundle=element.get("IsBundle", "").lower() == "true",
    )
    categories = []
    prerequisites = []
    bundled_by = []
    superseded_by = []
    for group in element:
        name = group.tag
        if name == _CATEGORIES:
            categories.extend(_guid(c.get("Id"), "category Id", where) for c in group)
        elif name == _PREREQUISITES:
            for clause in group:
                if clause.tag == _OR:
                    prerequisites.append(tuple(_guid(i.get("Id"), "prerequisite Id", where) for i in clause))
                else:
                    prerequisites.append((_guid(clause.get("Id"), "prerequisite Id", where),))
        elif name == _BUNDLED_BY:
            bundled_by.extend(_int(r.get("Id"), "BundledBy RevisionId", where) for r in group)
        elif name == _SUPERSEDED_BY:
            superseded_by.extend(_int(r.get("Id"), "SupersededBy RevisionId", where) for r in group)
        elif name == _LANGUAGES:
            # <Languages><Language Name="en"/></Languages>: the languages this update is for
            # (a language-specific payload child); no element means language-neutral.
            try:
                record.languages = normalize_languages(
                    (entry.get("Name") for entry in group if entry.tag == _LANGUAGE), "Languages/Language Name")
            except ValueError as exc:
                raise CatalogError("%s: %s" % (where, exc))
    record.categories = tuple(categories)
    record.prerequisites = tuple(prerequisites)
    record.bundled_by_revision_ids = tuple(bundled_by)
    record.superseded_by_revision_ids = tuple(superseded_by)
    return record, where


def _release(element):
    """Free a handled element and the siblings before it, so memory stays flat while streaming."""
    element.clear()
    parent = element.getparent()
    while element.getprevious() is not None:
        del parent[0]


def read_offline_scan(package_xml, index_xml, folder_for_cab, languages=("en",), where="offline scan package",
                      share=(0, 1)):
    """Yield a CatalogUpdate per ``<Update>`` and a FileLocation per ``<FileLocation>``.

    ``folder_for_cab(name)`` returns the folder a detail cabinet was extracted into. ``share``
    ``(k, n)`` reads only every n-th update starting at the k-th (and the file locations only when
    k is 0), so n processes can share the work; ``(0, 1)`` reads everything.
    """
    part, parts = share
    ordinal = -1
    fragments = _Fragments(read_index(index_xml, "%s: member 'index.xml'" % where), folder_for_cab, where)
    package_where = "%s: member 'package.xml'" % where
    wanted_languages = tuple(languages) if languages else None
    root_checked = False
    for _event, element in xml.iterparse(package_xml, package_where, tag=(_UPDATE, _FILE_LOCATION)):
        if not root_checked:
            root = element.getroottree().getroot()
            if root.tag != "{%s}OfflineSyncPackage" % OFFLINE_SYNC_NS:
                raise CatalogError("%s: root element is %s, not OfflineSyncPackage (is this an offline scan "
                                   "package?)" % (package_where, xml.local_name(root.tag)))
            root_checked = True
        if element.tag == _UPDATE:
            ordinal += 1
            if ordinal % parts != part:
                _release(element)
                continue
            record, record_where = _package_entry(element, package_where)
            position = fragments.locate(record.revision_id)
            _apply_core(record, fragments.read(position, "c", record.revision_id), record_where)
            _apply_extended(record, fragments.read(position, "x", record.revision_id), record_where)
            for language in wanted_languages or ():
                localized = fragments.read(position, "l/%s" % language, record.revision_id, required=False)
                if localized is not None:
                    _apply_localized(record, localized)
            yield record
        elif part == 0:
            file_id, url = element.get("Id"), element.get("Url")
            if file_id and url:
                yield FileLocation(file_id, url)
        _release(element)
    if not root_checked:
        raise CatalogError("%s: holds no updates" % package_where)
