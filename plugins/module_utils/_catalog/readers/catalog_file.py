# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Read a ``catalog_file``: third-party and custom updates in one YAML or JSON document.

The format is specified in ``docs/catalog_file_format.md``. The whole document is validated
before any record is returned, so a feed with one bad entry changes nothing in the store. Every
error names the file, the path of the offending entry (``updates[3].severity``) and, where
known, the update id.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re

try:
    import yaml

    HAS_YAML = True
    YAML_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module as a missing library
    yaml = None
    HAS_YAML = False
    YAML_IMPORT_ERROR = exc

from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import (
    CATEGORY_TYPES,
    IMPACTS,
    REBOOT_BEHAVIORS,
    RULE_NAMES,
    SEVERITIES,
    CatalogError,
    CatalogUpdate,
    UpdateFile,
    normalize_date,
    normalize_guid,
    normalize_kb,
    normalize_languages,
)
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.readers.update_xml import select_languages
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.safe_xml import parse_bytes

FORMAT_VERSIONS = (1,)
MAX_CATALOG_FILE_BYTES = 128 * 1024 * 1024
UPDATE_KINDS = ("software", "driver", "detectoid")

_TOP_KEYS = ("format_version", "source", "default_language", "categories", "updates")
_CATEGORY_KEYS = ("id", "revision", "type", "title", "titles", "description", "descriptions", "parent")
_UPDATE_KEYS = ("id", "revision", "kind", "title", "titles", "description", "descriptions", "kb", "kbs",
                "severity", "release_date", "products", "classification", "classifications", "categories",
                "reboot_behavior", "impact", "support_url", "prerequisites", "bundles", "supersedes", "files",
                "rules", "languages")
_FILE_KEYS = ("name", "size", "sha1", "sha256", "modified", "urls")
_DIGESTS = {"sha1": 20, "sha256": 32}
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
_LANGUAGE = re.compile(r"^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$")


class _Refused(Exception):
    """A YAML construct this format refuses; carries the position."""

    def __init__(self, message, mark=None):
        Exception.__init__(self, message)
        self.mark = mark


if HAS_YAML:
    class _StrictLoader(yaml.SafeLoader):
        """SafeLoader that refuses anchors, aliases and duplicate keys.

        Anchors and aliases are YAML's "billion laughs": refused as soon as the parser meets
        them, before anything is expanded. Timestamps stay strings (dates are validated as text,
        offsets included), and only true/false are booleans, so ``no`` (Norwegian) stays a string.
        """

        def compose_node(self, parent, index):
            event = self.peek_event()
            if isinstance(event, yaml.AliasEvent):
                raise _Refused("YAML aliases (*%s) are refused" % event.anchor, event.start_mark)
            if getattr(event, "anchor", None) is not None:
                raise _Refused("YAML anchors (&%s) are refused" % event.anchor, event.start_mark)
            return yaml.SafeLoader.compose_node(self, parent, index)

        def construct_mapping(self, node, deep=False):
            if isinstance(node, yaml.MappingNode):
                seen = set()
                for key_node, _value_node in node.value:
                    if isinstance(key_node, yaml.ScalarNode):
                        key = (key_node.tag, key_node.value)
                        if key in seen:
                            raise _Refused("duplicate key %r" % key_node.value, key_node.start_mark)
                        seen.add(key)
            return yaml.SafeLoader.construct_mapping(self, node, deep=deep)

    _StrictLoader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers
                if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    _StrictLoader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
else:  # pragma: no cover
    _StrictLoader = None


def _decode(data, where):
    if data.startswith(b"\xef\xbb\xbf"):
        encoding, data = "utf-8", data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    else:
        encoding = "utf-8"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise CatalogError("%s: not valid %s text near byte %d" % (where, encoding.upper(), exc.start))


def _json_pairs(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise _Refused("duplicate key %r" % key)
        result[key] = value
    return result


def _json_constant(name):
    raise _Refused("%s is not a JSON number" % name)


def load_document(text, where):
    """Parse YAML (or JSON) text with anchors, aliases and duplicate keys refused."""
    if not HAS_YAML:
        raise CatalogError("%s: reading a catalog file requires the Python library PyYAML" % where)
    if text.lstrip().startswith("{"):
        # JSON documents go to the JSON parser: PyYAML refuses the tab indentation JSON allows.
        # A flow-style YAML mapping that is not JSON falls through to the YAML loader.
        try:
            return json.loads(text, object_pairs_hook=_json_pairs, parse_constant=_json_constant)
        except _Refused as exc:
            raise CatalogError("%s: %s" % (where, exc))
        except ValueError:
            pass
    loader = _StrictLoader(text)
    try:
        return loader.get_single_data()
    except _Refused as exc:
        at = ""
        if exc.mark is not None:
            at = " (line %d, column %d)" % (exc.mark.line + 1, exc.mark.column + 1)
        raise CatalogError("%s: %s%s" % (where, exc, at))
    except yaml.YAMLError as exc:
        raise CatalogError("%s: not valid YAML: %s" % (where, " ".join(str(exc).split())))
    finally:
        loader.dispose()


def read_catalog_file(path, languages=None, max_bytes=MAX_CATALOG_FILE_BYTES):
    """Read and validate a catalog file; return ``(source_name, [CatalogUpdate, ...])``.

    Categories come first, then updates, in file order. ``languages`` filters titles and
    descriptions (the requested languages plus the default language are kept; ``None`` keeps
    all). ``source_name`` is the file's ``source`` or else the file name without its extension.
    """
    where = "catalog file '%s'" % path
    try:
        size = os.path.getsize(path)
        if size > max_bytes:
            raise CatalogError("%s is %d bytes, more than the %s a catalog file may have (split the feed into "
                               "several files)" % (where, size, _size(max_bytes)))
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise CatalogError("%s cannot be read: %s" % (where, exc.strerror or exc))
    if len(data) > max_bytes:
        raise CatalogError("%s is more than the %s a catalog file may have" % (where, _size(max_bytes)))
    document = load_document(_decode(data, where), where)
    default_source = os.path.splitext(os.path.basename(path))[0]
    return _Reader(where, languages).read(document, default_source)


class _Reader:
    def __init__(self, where, languages):
        self.where = where
        self.languages = languages
        self.default_language = "en"
        self.seen = {}

    # -- errors and primitive values ---------------------------------------------------------
    def error(self, path, cause, update_id=None):
        at = path
        if update_id:
            at = "%s (update %s)" % (path, update_id)
        return CatalogError("%s: %s: %s" % (self.where, at, cause) if at else "%s: %s" % (self.where, cause))

    def mapping(self, value, path, keys, update_id=None):
        """Check that ``value`` is a mapping whose keys are all in ``keys`` (None: any keys)."""
        if not isinstance(value, dict):
            raise self.error(path, "must be a mapping, not %s" % _kind(value), update_id)
        for key in value if keys is not None else ():
            if not isinstance(key, str):
                raise self.error(path, "key %r is not a string (quote it)" % (key,), update_id)
            if key not in keys:
                raise self.error(_join(path, key), "unknown key; the known keys are %s" % ", ".join(keys), update_id)
        return value

    def sequence(self, value, path, update_id=None):
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(path, "must be a list, not %s" % _kind(value), update_id)
        return value

    def string(self, value, path, update_id=None, required=False):
        if value is None:
            if required:
                raise self.error(path, "is required", update_id)
            return None
        if not isinstance(value, str):
            raise self.error(path, "must be a string, not %s %r (quote it)" % (_kind(value), value), update_id)
        text = value.strip()
        if not text:
            if required:
                raise self.error(path, "must not be empty", update_id)
            return None
        return text

    def integer(self, value, path, update_id=None, default=None, minimum=0):
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(path, "%r is not an integer" % (value,), update_id)
        if value < minimum:
            raise self.error(path, "%r is less than %d" % (value, minimum), update_id)
        return value

    def guid(self, value, path, update_id=None, what="id"):
        text = self.string(value, path, update_id, required=True)
        try:
            return normalize_guid(text, what)
        except ValueError as exc:
            raise self.error(path, str(exc), update_id)

    def guids(self, value, path, update_id):
        return [self.guid(item, "%s[%d]" % (path, index), update_id, "GUID")
                for index, item in enumerate(self.sequence(value, path, update_id))]

    def choice(self, value, path, choices, update_id):
        text = self.string(value, path, update_id)
        if text is not None and text not in choices:
            raise self.error(path, "%r is not one of %s" % (text, ", ".join(choices)), update_id)
        return text

    def date(self, value, path, update_id, what):
        text = self.string(value, path, update_id)
        try:
            return normalize_date(text, what)
        except ValueError as exc:
            raise self.error(path, str(exc), update_id)

    def one_or_many(self, item, single, plural, path, update_id):
        """``single: x`` or ``plural: [x, ...]``, never both; returns a list of raw values."""
        if item.get(single) is not None and item.get(plural) is not None:
            raise self.error(path, "give %s or %s, not both" % (single, plural), update_id)
        if item.get(single) is not None:
            return [(item[single], _join(path, single))]
        values = self.sequence(item.get(plural), _join(path, plural), update_id)
        return [(value, "%s[%d]" % (_join(path, plural), index)) for index, value in enumerate(values)]

    # -- document ------------------------------------------------------------------------------
    def read(self, document, default_source):
        top = self.mapping(document, "", _TOP_KEYS)
        version = top.get("format_version")
        if version is None:
            raise self.error("format_version", "is required (format_version: 1)")
        if isinstance(version, bool) or not isinstance(version, int) or version not in FORMAT_VERSIONS:
            raise self.error("format_version", "%r is not a supported version (%s)"
                             % (version, ", ".join(str(v) for v in FORMAT_VERSIONS)))
        source = self.string(top.get("source"), "source") or default_source
        if len(source) > 200:
            raise self.error("source", "is longer than 200 characters")
        language = self.string(top.get("default_language"), "default_language")
        if language is not None:
            if not _LANGUAGE.match(language):
                raise self.error("default_language", "%r is not a language code such as en or pt-br" % language)
            self.default_language = language
        records = []
        for index, item in enumerate(self.sequence(top.get("categories"), "categories")):
            records.append(self.category(item, "categories[%d]" % index))
        for index, item in enumerate(self.sequence(top.get("updates"), "updates")):
            records.append(self.update(item, "updates[%d]" % index))
        return source, records

    def identity(self, item, path, what):
        update_id = self.guid(item.get("id"), _join(path, "id"), what="%s id" % what)
        revision = self.integer(item.get("revision"), _join(path, "revision"), update_id, default=1)
        key = (update_id, revision)
        if key in self.seen:
            raise self.error(path, "revision %d of this id is already defined at %s" % (revision, self.seen[key]),
                             update_id)
        self.seen[key] = path
        return update_id, revision

    def texts(self, item, path, update_id, required):
        titles = self.localized(item, "title", "titles", path, update_id)
        descriptions = self.localized(item, "description", "descriptions", path, update_id)
        if required and not titles:
            raise self.error(path, "needs a title (title: ... or titles: {en: ...})", update_id)
        default = self.default_language
        if titles and default not in titles:
            default = next(iter(titles))
        entries = [(language, titles.get(language), descriptions.get(language))
                   for language in list(titles) + [lang for lang in descriptions if lang not in titles]]
        kept = select_languages(entries, self.languages, default)
        return ({lang: title for lang, title, _d in kept if title is not None},
                {lang: text for lang, _t, text in kept if text is not None}, default)

    def localized(self, item, single, plural, path, update_id):
        if item.get(single) is not None and item.get(plural) is not None:
            raise self.error(path, "give %s or %s, not both" % (single, plural), update_id)
        if item.get(single) is not None:
            return {self.default_language: self.string(item[single], _join(path, single), update_id, required=True)}
        if item.get(plural) is None:
            return {}
        plural_path = _join(path, plural)
        mapping = item[plural]
        if not isinstance(mapping, dict):
            raise self.error(plural_path, "must be a mapping of language to text, not %s" % _kind(mapping), update_id)
        result = {}
        for language, text in mapping.items():
            if not isinstance(language, str) or not _LANGUAGE.match(language):
                raise self.error(plural_path, "%r is not a language code such as en or pt-br" % (language,), update_id)
            result[language] = self.string(text, _join(plural_path, language), update_id, required=True)
        return result

    def category(self, item, path):
        self.mapping(item, path, None)
        update_id, revision = self.identity(item, path, "category")
        self.mapping(item, path, _CATEGORY_KEYS, update_id)
        category_type = self.choice(item.get("type"), _join(path, "type"), CATEGORY_TYPES, update_id)
        if category_type is None:
            raise self.error(_join(path, "type"), "is required (%s)" % ", ".join(CATEGORY_TYPES), update_id)
        titles, descriptions, default = self.texts(item, path, update_id, required=True)
        record = CatalogUpdate(update_id=update_id, revision_number=revision, kind="category",
                               category_type=category_type, titles=titles, descriptions=descriptions,
                               default_language=default)
        if item.get("parent") is not None:
            parent = self.guid(item["parent"], _join(path, "parent"), update_id, "parent")
            # As in Microsoft's metadata: the parent is an "AtLeastOne IsCategory" prerequisite.
            record.prerequisites = ((parent,),)
            record.categories = (parent,)
        return record

    def update(self, item, path):
        self.mapping(item, path, None)
        update_id, revision = self.identity(item, path, "update")
        self.mapping(item, path, _UPDATE_KEYS, update_id)
        kind = self.choice(item.get("kind"), _join(path, "kind"), UPDATE_KINDS, update_id) or "software"
        titles, descriptions, default = self.texts(item, path, update_id, required=True)
        record = CatalogUpdate(update_id=update_id, revision_number=revision, kind=kind, titles=titles,
                               descriptions=descriptions, default_language=default)

        kbs = []
        for value, kb_path in self.one_or_many(item, "kb", "kbs", path, update_id):
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                raise self.error(kb_path, "%r is not a KB number" % (value,), update_id)
            try:
                kb = normalize_kb(value)
            except ValueError as exc:
                raise self.error(kb_path, str(exc), update_id)
            if kb not in kbs:
                kbs.append(kb)
        record.kb_articles = tuple(kbs)
        record.msrc_severity = self.choice(item.get("severity"), _join(path, "severity"), SEVERITIES, update_id)
        record.release_date = self.date(item.get("release_date"), _join(path, "release_date"), update_id,
                                        "release date")
        record.reboot_behavior = self.choice(item.get("reboot_behavior"), _join(path, "reboot_behavior"),
                                             REBOOT_BEHAVIORS, update_id)
        record.impact = self.choice(item.get("impact"), _join(path, "impact"), IMPACTS, update_id)
        record.support_url = self.string(item.get("support_url"), _join(path, "support_url"), update_id)

        categories = self.guids(item.get("products"), _join(path, "products"), update_id)
        for value, class_path in self.one_or_many(item, "classification", "classifications", path, update_id):
            categories.append(self.guid(value, class_path, update_id, "classification"))
        categories += self.guids(item.get("categories"), _join(path, "categories"), update_id)
        record.categories = _unique(categories)

        clauses = []
        prerequisites_path = _join(path, "prerequisites")
        for index, clause in enumerate(self.sequence(item.get("prerequisites"), prerequisites_path, update_id)):
            clause_path = "%s[%d]" % (prerequisites_path, index)
            if isinstance(clause, str):
                clauses.append((self.guid(clause, clause_path, update_id, "prerequisite"),))
                continue
            members = _unique(self.guids(clause, clause_path, update_id))
            if not members:
                raise self.error(clause_path, "an empty clause can never be satisfied", update_id)
            clauses.append(members)
        record.prerequisites = tuple(clauses)
        record.bundled_updates = _unique(self.guids(item.get("bundles"), _join(path, "bundles"), update_id))
        record.is_bundle = bool(record.bundled_updates)
        if update_id in record.bundled_updates:
            raise self.error(_join(path, "bundles"), "an update cannot bundle itself", update_id)
        record.supersedes = _unique(self.guids(item.get("supersedes"), _join(path, "supersedes"), update_id))
        if update_id in record.supersedes:
            raise self.error(_join(path, "supersedes"), "an update cannot supersede itself", update_id)

        files_path = _join(path, "files")
        record.files = tuple(self.file(entry, "%s[%d]" % (files_path, index), update_id)
                             for index, entry in enumerate(self.sequence(item.get("files"), files_path, update_id)))
        record.rules = self.rules(item.get("rules"), _join(path, "rules"), update_id)
        record.languages = self.update_languages(item.get("languages"), _join(path, "languages"), update_id)
        return record

    def update_languages(self, value, path, update_id):
        """The languages an update is for: a list of codes; none (or ``all``) is language-neutral."""
        codes = []
        for index, code in enumerate(self.sequence(value, path, update_id)):
            codes.append(self.string(code, "%s[%d]" % (path, index), update_id, required=True))
        try:
            return normalize_languages(codes, "language")
        except ValueError as exc:
            raise self.error(path, str(exc), update_id)

    def file(self, entry, path, update_id):
        self.mapping(entry, path, _FILE_KEYS, update_id)
        name = self.string(entry.get("name"), _join(path, "name"), update_id, required=True)
        if "/" in name or "\\" in name or name in (".", "..") or "\x00" in name:
            raise self.error(_join(path, "name"), "%r is not a plain file name" % name, update_id)
        digests = {}
        for algorithm in _DIGESTS:
            value = entry.get(algorithm)
            if value is not None:
                digests[algorithm] = self.digest(value, _join(path, algorithm), algorithm, update_id)
        if not digests:
            raise self.error(path, "needs sha1 or sha256 (files are identified by their digest)", update_id)
        urls_path = _join(path, "urls")
        urls = []
        for index, url in enumerate(self.sequence(entry.get("urls"), urls_path, update_id)):
            text = self.string(url, "%s[%d]" % (urls_path, index), update_id, required=True)
            if text not in urls:
                urls.append(text)
        return UpdateFile(
            name=name, sha1=digests.get("sha1"), sha256=digests.get("sha256"),
            size=self.integer(entry.get("size"), _join(path, "size"), update_id),
            modified=self.date(entry.get("modified"), _join(path, "modified"), update_id, "modified date"),
            urls=tuple(urls),
        )

    def digest(self, value, path, algorithm, update_id):
        """Hex (any case) or base64 in; base64 of the raw digest out."""
        size = _DIGESTS[algorithm]
        if isinstance(value, int) and not isinstance(value, bool):
            raise self.error(path, "%r was read as a number: quote the digest" % (value,), update_id)
        text = self.string(value, path, update_id, required=True)
        if len(text) == size * 2 and _HEX.match(text):
            return base64.b64encode(bytes.fromhex(text)).decode("ascii")
        raw = None
        if _BASE64.match(text) and len(text) % 4 == 0:
            try:
                raw = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                raw = None
        if raw is None or len(raw) != size:
            raise self.error(path, "%r is not a %s digest: give %d hex digits or %d base64 characters (%d bytes)"
                             % (text, algorithm.upper(), size * 2, (size + 2) // 3 * 4, size), update_id)
        return text

    def rules(self, value, path, update_id):
        if value is None:
            return {}
        self.mapping(value, path, RULE_NAMES, update_id)
        rules = {}
        for name, text in value.items():
            rule_path = _join(path, name)
            text = self.string(text, rule_path, update_id)
            if text is None:
                continue
            where = "%s: %s (update %s)" % (self.where, rule_path, update_id)
            parse_bytes(text.encode("utf-8"), where)
            rules[name] = text
        return rules


def _size(count):
    mebibyte = 1024 * 1024
    return "%d MiB" % (count // mebibyte) if count % mebibyte == 0 else "%d bytes" % count


def _join(path, key):
    return "%s.%s" % (path, key) if path else key


def _kind(value):
    if value is None:
        return "null"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number"}.get(type(value), type(value).__name__)


def _unique(values):
    result = []
    for value in values:
        if value not in result:
            result.append(value)
    return tuple(result)
