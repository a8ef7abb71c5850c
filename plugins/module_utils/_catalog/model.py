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
from dataclasses import dataclass, field

KINDS = ("software", "driver", "category", "detectoid")
CATEGORY_TYPES = ("Company", "ProductFamily", "Product", "UpdateClassification")
SEVERITIES = ("Critical", "Important", "Moderate", "Low", "Unspecified")
REBOOT_BEHAVIORS = ("NeverReboots", "AlwaysRequiresReboot", "CanRequestReboot")
IMPACTS = ("Normal", "Minor", "RequiresExclusiveHandling")
RULE_NAMES = ("is_installed", "is_installable", "is_superseded", "metadata")

_GUID = re.compile(r"^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$")
_LOWER_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")
_KB = re.compile(r"^(?:KB)?(\d{4,8})$", re.IGNORECASE)


class CatalogError(Exception):
    """A catalog source cannot be read; the message names the file and the cause."""


def normalize_guid(value, what="update id"):
    """Return ``value`` as a lowercase GUID, or raise ValueError naming ``what``."""
    if value.__class__ is str and _LOWER_GUID.match(value):
        return value
    match = _GUID.match(str(value).strip()) if value is not None else None
    if not match:
        raise ValueError("%s %r is not a GUID" % (what, value))
    return match.group(1).lower()


def normalize_date(value, what="date"):
    """Return an ISO 8601 date-time in UTC ('YYYY-MM-DDTHH:MM:SSZ'), or raise ValueError.

    Offsets other than UTC are refused rather than silently shifted: catalog dates are UTC.
    """
    if value is None or value == "":
        return None
    text = str(value).strip()
    match = _DATE.match(text)
    if not match:
        raise ValueError("%s %r is not an ISO 8601 date" % (what, value))
    year, month, day, hour, minute, second, zone = match.groups()
    if zone not in (None, "Z", "+00:00", "+0000", "-00:00"):
        raise ValueError("%s %r is not in UTC" % (what, value))
    y, mo, d = int(year), int(month), int(day)
    h, mi, s = int(hour or 0), int(minute or 0), int(second or 0)
    if not (1 <= mo <= 12 and 1 <= d <= _days_in_month(y, mo) and h < 24 and mi < 60 and s < 60):
        raise ValueError("%s %r is not a valid date" % (what, value))
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (y, mo, d, h, mi, s)


def _days_in_month(year, month):
    if month == 2:
        return 29 if (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)) else 28
    return 30 if month in (4, 6, 9, 11) else 31


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
    revision_id: int | None = None
    superseded_by_revision_ids: tuple = ()
    bundled_by_revision_ids: tuple = ()
