# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Read one full ``<upd:Update>`` document (MS-WSUSSS ``GetUpdateData``, WSUS export metadata).

Elements are matched by namespace URI and local name, never by prefix: Microsoft's own data binds
the same URI to different prefixes (``mar:`` and ``msiar:``), and hand-written XML binds them
freely. Unknown elements and attributes are ignored (the schema has many this collection does not
use); the values that are used are validated, and an invalid one raises ``CatalogError`` naming
the document, the update and the field.
"""

from __future__ import annotations

import base64
import binascii
import re

from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import (
    CATEGORY_TYPES,
    IMPACTS,
    REBOOT_BEHAVIORS,
    SEVERITIES,
    CatalogError,
    CatalogUpdate,
    UpdateFile,
    normalize_date,
    normalize_guid,
    normalize_kb,
    normalize_languages,
)
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.safe_xml import (
    local_name,
    parse_bytes,
    to_text,
)

NS_UPDATE = "http://schemas.microsoft.com/msus/2002/12/Update"
NS_CATEGORY = "http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/Category"

_KINDS = {"software": "software", "driver": "driver", "category": "category", "detectoid": "detectoid"}
_RULES = (("IsInstalled", "is_installed"), ("IsInstallable", "is_installable"),
          ("IsSuperseded", "is_superseded"), ("Metadata", "metadata"))
_DIGEST_BYTES = {"SHA1": 20, "SHA256": 32}
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")


def _q(name, namespace=NS_UPDATE):
    return "{%s}%s" % (namespace, name)


def _children(element, name, namespace=NS_UPDATE):
    """Child elements with this namespace URI and local name (comments and PIs are skipped)."""
    tag = _q(name, namespace)
    return [child for child in element if child.tag == tag]


def _child(element, name, namespace=NS_UPDATE):
    found = _children(element, name, namespace) if element is not None else []
    return found[0] if found else None


def _text(element):
    if element is None or element.text is None:
        return None
    value = element.text.strip()
    return value or None


def _unique(values):
    seen = set()
    result = []
    for value in values:
        if value not in seen:
            seen.add(value)
            result.append(value)
    return tuple(result)


def parse_boolean(value, what):
    """'true'/'false' (XML Schema booleans, also '1'/'0') to bool; None stays None."""
    if value is None:
        return None
    text = value.strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ValueError("%s %r is not a boolean (true or false)" % (what, value))


def parse_integer(value, what, minimum=0):
    """A decimal integer at least ``minimum``; None stays None."""
    if value is None:
        return None
    text = str(value).strip()
    if not re.match(r"^[+-]?\d{1,20}$", text):
        raise ValueError("%s %r is not an integer" % (what, value))
    number = int(text)
    if minimum is not None and number < minimum:
        raise ValueError("%s %r is less than %d" % (what, value, minimum))
    return number


def check_base64_digest(value, algorithm, what):
    """Return a base64 digest unchanged if it decodes to the right length for ``algorithm``."""
    text = (value or "").strip()
    expected = _DIGEST_BYTES[algorithm]
    try:
        if not _BASE64.match(text):
            raise binascii.Error("not base64")
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("%s %r is not base64" % (what, value))
    if len(raw) != expected:
        raise ValueError("%s %r is %d bytes, a %s digest is %d" % (what, value, len(raw), algorithm, expected))
    return text


class _Context:
    """Builds error messages that name the document and, once known, the update."""

    def __init__(self, where):
        self.where = where
        self.update_id = None

    def error(self, cause):
        where = self.where
        if self.update_id and self.update_id not in where.lower():
            where = "%s (update %s)" % (where, self.update_id)
        return CatalogError("%s: %s" % (where, cause))

    def guid(self, value, what):
        try:
            return normalize_guid(value, what)
        except ValueError as exc:
            return self._raise(exc)

    def one_of(self, value, allowed, what):
        """Return ``value`` if it is one of ``allowed`` (None stays None), else raise naming ``what``."""
        if value is not None and value not in allowed:
            raise self.error("%s %r is not one of %s" % (what, value, ", ".join(allowed)))
        return value

    def call(self, function, *args):
        try:
            return function(*args)
        except ValueError as exc:
            return self._raise(exc)

    def _raise(self, exc):
        raise self.error(str(exc))


def _to_bytes(data):
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        # A declaration may name the encoding the text had before it was decoded (often utf-16);
        # the text is re-encoded as UTF-8, so the declaration is dropped.
        return _XML_DECLARATION.sub("", data, count=1).encode("utf-8")
    raise TypeError("update XML must be bytes or str, not %s" % type(data).__name__)


def parse_update_xml(data, where, languages=None):
    """Parse one ``<upd:Update>`` document (bytes or str) into a ``CatalogUpdate``.

    ``where`` names the source in error messages (e.g. "catalog file '/x/metadata.txt': record
    12"); the update id is appended once it is known. ``languages`` filters the localized titles
    and descriptions: the requested languages are kept plus the update's default language (the
    fallback); if none of those exists the first localized entry is kept. ``None`` keeps all.
    """
    root = parse_bytes(_to_bytes(data), where)
    return update_from_element(root, where, languages)


def update_from_element(root, where, languages=None):
    """As ``parse_update_xml`` for an already parsed ``upd:Update`` element."""
    ctx = _Context(where)
    if root.tag != _q("Update"):
        raise ctx.error("the root element is <%s>, not <Update> in namespace %s" % (local_name(root.tag), NS_UPDATE))

    identity = _child(root, "UpdateIdentity")
    if identity is None:
        raise ctx.error("<UpdateIdentity> is missing")
    update_id = ctx.guid(identity.get("UpdateID"), "UpdateIdentity UpdateID")
    ctx.update_id = update_id
    revision = ctx.call(parse_integer, identity.get("RevisionNumber"), "revision number")
    if revision is None:
        raise ctx.error("UpdateIdentity has no RevisionNumber")
    record = CatalogUpdate(update_id=update_id, revision_number=revision)

    _read_properties(ctx, _child(root, "Properties"), record)
    _read_localized(ctx, _child(root, "LocalizedPropertiesCollection"), record, languages)
    _read_relationships(ctx, _child(root, "Relationships"), record)
    _read_rules(ctx, _child(root, "ApplicabilityRules"), record)
    _read_files(ctx, _child(root, "Files"), record)
    _read_handler(ctx, _child(root, "HandlerSpecificData"), record)
    return record


def _read_properties(ctx, properties, record):
    if properties is None:
        raise ctx.error("<Properties> is missing")
    update_type = properties.get("UpdateType")
    if update_type is not None:
        kind = _KINDS.get(update_type.strip().lower())
        if kind is None:
            raise ctx.error("UpdateType %r is not one of Software, Driver, Category, Detectoid" % update_type)
        record.kind = kind
    severity = properties.get("MsrcSeverity")
    if severity is not None and severity.strip():
        if severity.strip() not in SEVERITIES:
            raise ctx.error("MsrcSeverity %r is not one of %s" % (severity, ", ".join(SEVERITIES)))
        record.msrc_severity = severity.strip()
    record.release_date = ctx.call(normalize_date, properties.get("CreationDate"), "release date (CreationDate)")
    record.max_download_size = ctx.call(parse_integer, properties.get("MaxDownloadSize"), "MaxDownloadSize")
    record.explicitly_deployable = ctx.call(parse_boolean, properties.get("ExplicitlyDeployable"),
                                            "ExplicitlyDeployable")
    language = (properties.get("DefaultPropertiesLanguage") or "").strip()
    record.default_language = language or None
    # <upd:Language> children of <Properties>: the languages this update is for (a language-specific
    # payload; WSUS fills them from a package's languages). None means language-neutral.
    record.languages = ctx.call(normalize_languages,
                                [value for value in (_text(e) for e in _children(properties, "Language")) if value],
                                "Properties Language")

    kbs = []
    for element in _children(properties, "KBArticleID"):
        value = _text(element)
        if value is not None:
            kbs.append(ctx.call(normalize_kb, value))
    record.kb_articles = _unique(kbs)
    record.security_bulletins = _unique(v for v in (_text(e) for e in _children(properties, "SecurityBulletinID")) if v)
    record.support_url = _text(_child(properties, "SupportUrl"))

    behavior = _child(properties, "InstallationBehavior")
    if behavior is not None:
        record.reboot_behavior = ctx.one_of(behavior.get("RebootBehavior"), REBOOT_BEHAVIORS,
                                            "InstallationBehavior RebootBehavior")
        record.impact = ctx.one_of(behavior.get("Impact"), IMPACTS, "InstallationBehavior Impact")


def select_languages(entries, languages, default_language):
    """Keep the (language, ...) entries that ``languages`` asks for plus the default language.

    Languages compare case-insensitively. If nothing matches, the first entry is kept so every
    update keeps a title. ``languages=None`` keeps all.
    """
    if languages is None or not entries:
        return list(entries)
    wanted = {str(language).lower() for language in languages}
    if default_language:
        wanted.add(default_language.lower())
    kept = [entry for entry in entries if entry[0].lower() in wanted]
    return kept or [entries[0]]


def _read_localized(ctx, collection, record, languages):
    if collection is None:
        return
    entries = []
    for properties in _children(collection, "LocalizedProperties"):
        language = _text(_child(properties, "Language"))
        if language is None:
            raise ctx.error("a <LocalizedProperties> entry has no <Language>")
        entries.append((language, _text(_child(properties, "Title")), _text(_child(properties, "Description"))))
    for language, title, description in select_languages(entries, languages, record.default_language):
        if title is not None:
            record.titles[language] = title
        if description is not None:
            record.descriptions[language] = description


def _identities(ctx, element, what):
    return [ctx.guid(identity.get("UpdateID"), what) for identity in _children(element, "UpdateIdentity")]


def _read_relationships(ctx, relationships, record):
    if relationships is None:
        return
    clauses = []
    categories = []
    for prerequisites in _children(relationships, "Prerequisites"):
        for element in prerequisites:
            if element.tag == _q("UpdateIdentity"):
                clauses.append((ctx.guid(element.get("UpdateID"), "prerequisite UpdateID"),))
            elif element.tag == _q("AtLeastOne"):
                clause = _unique(_identities(ctx, element, "prerequisite UpdateID"))
                if not clause:
                    raise ctx.error("a prerequisite <AtLeastOne> clause has no <UpdateIdentity>")
                clauses.append(clause)
                if ctx.call(parse_boolean, element.get("IsCategory"), "AtLeastOne IsCategory"):
                    categories.extend(clause)
    record.prerequisites = tuple(clauses)
    record.categories = _unique(categories)

    members = []
    for bundled in _children(relationships, "BundledUpdates"):
        for element in bundled:
            if element.tag == _q("UpdateIdentity"):
                members.append(ctx.guid(element.get("UpdateID"), "bundled UpdateID"))
            elif element.tag == _q("AtLeastOne"):
                members.extend(_identities(ctx, element, "bundled UpdateID"))
    record.bundled_updates = _unique(members)
    record.is_bundle = bool(record.bundled_updates)

    superseded = []
    for element in _children(relationships, "SupersededUpdates"):
        superseded.extend(_identities(ctx, element, "superseded UpdateID"))
    record.supersedes = _unique(superseded)


def _read_rules(ctx, rules, record):
    if rules is None:
        return
    for name, key in _RULES:
        element = _child(rules, name)
        if element is None:
            continue
        expressions = [child for child in element if isinstance(child.tag, str)]
        if expressions:
            record.rules[key] = "".join(to_text(child) for child in expressions)


def _read_files(ctx, files, record):
    if files is None:
        return
    result = []
    for index, element in enumerate(_children(files, "File"), 1):
        name = (element.get("FileName") or "").strip()
        what = "file %d (%s)" % (index, name) if name else "file %d" % index
        if not name:
            raise ctx.error("%s has no FileName" % what)
        algorithm = (element.get("DigestAlgorithm") or "SHA1").strip().upper()
        if algorithm not in _DIGEST_BYTES:
            raise ctx.error("%s: DigestAlgorithm %r is not SHA1 or SHA256" % (what, element.get("DigestAlgorithm")))
        digests = {"SHA1": None, "SHA256": None}
        digest = element.get("Digest")
        if digest is None:
            raise ctx.error("%s has no Digest" % what)
        digests[algorithm] = ctx.call(check_base64_digest, digest, algorithm, "%s Digest" % what)
        for extra in _children(element, "AdditionalDigest"):
            extra_algorithm = (extra.get("Algorithm") or "").strip().upper()
            if extra_algorithm in _DIGEST_BYTES:
                digests[extra_algorithm] = ctx.call(check_base64_digest, _text(extra), extra_algorithm,
                                                    "%s AdditionalDigest %s" % (what, extra_algorithm))
        result.append(UpdateFile(
            name=name,
            sha1=digests["SHA1"],
            sha256=digests["SHA256"],
            size=ctx.call(parse_integer, element.get("Size"), "%s Size" % what),
            modified=ctx.call(normalize_date, element.get("Modified"), "%s Modified" % what),
        ))
    record.files = tuple(result)


def _read_handler(ctx, handler, record):
    if handler is None:
        return
    for information in handler.iter(_q("CategoryInformation", NS_CATEGORY)):
        record.category_type = ctx.one_of(information.get("CategoryType"), CATEGORY_TYPES,
                                          "CategoryInformation CategoryType")
        break
