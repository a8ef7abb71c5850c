# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Plain records that every catalog reader produces and the store consumes.

Readers (offline scan, WSUS export, catalog file) turn their source into a stream of
``CatalogUpdate`` records; the store never sees source formats. Categories (companies, product
families, products, classifications) and detectoids are updates too, as in WSUS.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field

from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import format_time, parse_time

KINDS = ("software", "driver", "category", "detectoid")
CATEGORY_TYPES = ("Company", "ProductFamily", "Product", "UpdateClassification")
SEVERITIES = ("Critical", "Important", "Moderate", "Low", "Unspecified")
REBOOT_BEHAVIORS = ("NeverReboots", "AlwaysRequiresReboot", "CanRequestReboot")
IMPACTS = ("Normal", "Minor", "RequiresExclusiveHandling")
RULE_NAMES = ("is_installed", "is_installable", "is_superseded", "metadata")

_GUID = re.compile(r"^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$")
_LOWER_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
_KB = re.compile(r"^(?:KB)?(\d{4,8})$", re.IGNORECASE)


class CatalogError(Exception):
    """A catalog source cannot be read; the message names the file and the cause."""


def program_path(name, install_hint, where=None):
    """Return the path of the program ``name`` on PATH, or raise CatalogError saying how to install it.

    ``install_hint`` follows the Debian/Ubuntu package name (which is ``name``) in the message;
    ``where``, when given, starts it.
    """
    path = shutil.which(name)
    if not path:
        raise CatalogError("%s%s was not found on PATH; install the Debian/Ubuntu package '%s' %s"
                           % ("%s: " % where if where else "", name, name, install_hint))
    return path


def normalize_guid(value, what="update id"):
    """Return ``value`` as a lowercase GUID, or raise ValueError naming ``what``."""
    if value.__class__ is str and _LOWER_GUID.match(value):
        return value
    match = _GUID.match(str(value).strip()) if value is not None else None
    if not match:
        raise ValueError("%s %r is not a GUID" % (what, value))
    return match.group(1).lower()


def normalize_date(value, what="date"):
    """Return a catalog date in the store's form, UTC to the second ('2004-02-29T02:17:34Z'), or None.

    Sources write ISO 8601 with ``Z``, with an offset (WSUS exports write .NET local times such as
    ``2004-02-28T18:17:34.1032476-08:00``) or with no zone, which means UTC; a date alone is
    midnight UTC. Offsets are converted to UTC and fractions of a second dropped (cut, not
    rounded), so every date in the store has one form that sorts in time order. Raises ValueError
    naming ``what`` and the value when it is not such a date or names no real moment.
    """
    if value is None or value == "":
        return None
    text = str(value)
    try:
        moment = parse_time(text, "date")
    except ValueError as exc:
        raise ValueError("%s %s" % (what, exc)) from None
    if len(text) == 20 and text[10] == "T" and text[19] == "Z":
        return text  # already the store's form (offline scan packages): formatting costs more than parsing
    return format_time(moment)


# Microsoft's name for "every language": a file or update so marked is language-neutral (the
# catalog site's ``languages = 'all'``; MS-WSUSSS 2.2.5.2's NeutralLanguage).
NEUTRAL_LANGUAGES = ("all", "neutrallanguage")
_LANGUAGE_CODE = re.compile(r"^[a-z]{1,8}(?:-[a-z0-9]{1,8})*$")


def normalize_languages(values, what="language"):
    """Return the language codes an update is for, lower case, sorted, without duplicates.

    Empty means language-neutral: a neutral marker (``all``) among them makes the update neutral.
    Raises ValueError naming ``what`` for a value that is not a language code (``en``, ``pt-br``).
    """
    codes = set()
    for value in values:
        code = str(value).strip().lower() if value is not None else ""
        if code in NEUTRAL_LANGUAGES:
            return ()
        if not _LANGUAGE_CODE.match(code):
            raise ValueError("%s %r is not a language code such as en or pt-br" % (what, value))
        codes.add(code)
    return tuple(sorted(codes))


def normalize_kb(value):
    """Return the digits of a KB article id ('KB5031361' or '5031361'), or raise ValueError."""
    match = _KB.match(str(value).strip())
    if not match:
        raise ValueError("KB article %r is not a KB number" % (value,))
    return match.group(1)


@dataclass
class FileLocation:
    """A download URL for a file, by file id (base64 SHA-1), as offline-scan packages list them."""

    file_id: str
    url: str


@dataclass
class UpdateFile:
    """One payload file. Digests are base64 of the raw hash, as Microsoft's metadata carries them."""

    name: str
    sha1: str | None = None
    sha256: str | None = None
    size: int | None = None
    modified: str | None = None
    urls: tuple = ()


@dataclass
class CatalogUpdate:
    """One update revision as a catalog source describes it.

    Relationships point at update ids (lowercase GUIDs) and may point at updates that the source
    does not contain: such links are kept as dangling, not refused. Offline-scan sources state
    supersedence and bundling backwards, by package-local RevisionIds; the store resolves those
    (``superseded_by_revision_ids``, ``bundled_by_revision_ids``) against ``revision_id``.
    """

    update_id: str
    revision_number: int
    kind: str = "software"
    category_type: str | None = None
    titles: dict = field(default_factory=dict)
    descriptions: dict = field(default_factory=dict)
    default_language: str | None = None
    kb_articles: tuple = ()
    security_bulletins: tuple = ()
    msrc_severity: str | None = None
    release_date: str | None = None
    reboot_behavior: str | None = None
    impact: str | None = None
    max_download_size: int | None = None
    is_bundle: bool = False
    explicitly_deployable: bool | None = None
    support_url: str | None = None
    categories: tuple = ()
    prerequisites: tuple = ()
    bundled_updates: tuple = ()
    supersedes: tuple = ()
    files: tuple = ()
    rules: dict = field(default_factory=dict)
    languages: tuple = ()  # the languages this update is for (normalize_languages); () = language-neutral
    revision_id: int | None = None
    superseded_by_revision_ids: tuple = ()
    bundled_by_revision_ids: tuple = ()
