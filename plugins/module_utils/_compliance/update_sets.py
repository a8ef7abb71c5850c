# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Named sets of updates: what compliance is measured against.

A set is named by update ids, KBs or the ``catalog_info`` filter (``UpdateFilter``); every field
narrows the selection. ``resolve`` turns a set into update ids through ``select_update_ids``, the
same function ``catalog_info`` uses and update lists and deployments use, so "which updates"
means the same thing in a query, a report, an inventory group and a deployment.

A set may instead name a stored update list (``update_list``, optionally ``version``): its members
are then the members of that frozen version, read here with this file's own SQL (compliance does
not import preparation, which builds on it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import SEVERITIES
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.query import (
    UpdateFilter,
    select_update_ids,
    unknown_category_messages,
    validate_filter,
)

KINDS = ["software", "driver", "category", "detectoid"]

# The filter options, shared by catalog_info's argument spec and every ``update_sets`` entry.
FILTER_SPEC = dict(
    update_ids=dict(type="list", elements="str", default=[]),
    kbs=dict(type="list", elements="str", default=[]),
    products=dict(type="list", elements="str", default=[]),
    classifications=dict(type="list", elements="str", default=[]),
    severities=dict(type="list", elements="str", default=[], choices=list(SEVERITIES)),
    title=dict(type="str"),
    released_after=dict(type="str"),
    released_before=dict(type="str"),
    superseded=dict(type="bool"),
    kinds=dict(type="list", elements="str", default=["software"], choices=KINDS),
    include_expired=dict(type="bool", default=False),
    include_bundle_members=dict(type="bool", default=False),
    previews=dict(type="bool"),
    exclude_titles=dict(type="list", elements="str", default=[]),
    exclude_kbs=dict(type="list", elements="str", default=[]),
)

# A set names a stored update list (a frozen version of it) instead of filter keys.
LIST_SPEC = dict(
    update_list=dict(type="str"),
    version=dict(type="int"),
)

UPDATE_SET_SPEC = dict(name=dict(type="str", required=True), **FILTER_SPEC, **LIST_SPEC)

# The set every host is measured against when none is named: every current (not expired) software
# update of the catalog that is not only a member of a bundle, without Microsoft's optional previews
# (``previews`` not set: left out).
ALL_UPDATES = "all"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class UpdateSetError(ValueError):
    """A set definition cannot be used; the message names the set and the cause."""


def filter_from_params(params):
    """An ``UpdateFilter`` from option values (missing keys take FILTER_SPEC's defaults)."""
    values = {key: params.get(key, spec.get("default")) for key, spec in FILTER_SPEC.items()}
    for key in ("severities", "kinds"):
        choices = FILTER_SPEC[key]["choices"]
        for value in values[key] or ():
            if value not in choices:
                raise ValueError("%s: %r is not one of %s" % (key, value, ", ".join(choices)))
    for key in ("superseded", "previews"):
        if values[key] is not None and not isinstance(values[key], bool):
            raise ValueError("%s: %r is not true or false" % (key, values[key]))
    return validate_filter(UpdateFilter(
        update_ids=tuple(values["update_ids"] or ()), kbs=tuple(values["kbs"] or ()),
        products=tuple(values["products"] or ()), classifications=tuple(values["classifications"] or ()),
        severities=tuple(values["severities"] or ()), title=values["title"],
        released_after=values["released_after"], released_before=values["released_before"],
        superseded=values["superseded"], kinds=tuple(values["kinds"] or ()),
        include_expired=bool(values["include_expired"]), include_bundle_members=bool(values["include_bundle_members"]),
        previews=values["previews"], exclude_titles=tuple(values["exclude_titles"] or ()),
        exclude_kbs=tuple(values["exclude_kbs"] or ())))


@dataclass
class UpdateSet:
    """A named selection of updates: a filter, or the members of a stored update list's frozen version
    (``update_list``; ``list_version`` None means the newest)."""

    name: str
    update_filter: UpdateFilter
    update_list: str | None = None
    list_version: int | None = None


def given_filter_keys(entry):
    """The filter keys an ``update_sets`` entry sets to something other than their default (Ansible
    fills in every default, so a key being present says nothing)."""
    given = []
    for key, spec in FILTER_SPEC.items():
        value = entry.get(key)
        if value is None or value == spec.get("default") or (value == [] and spec.get("default") is None):
            continue
        given.append(key)
    return given


def _list_set(name, entry):
    """An UpdateSet naming a stored update list, or raise UpdateSetError."""
    list_name = entry.get("update_list")
    version = entry.get("version")
    if not isinstance(list_name, str) or not list_name.strip():
        raise UpdateSetError("update set '%s': update_list must be the name of a stored update list (got %r)"
                             % (name, list_name))
    mixed = given_filter_keys(entry)
    if mixed:
        raise UpdateSetError("update set '%s': update_list '%s' names a stored list, so filter keys cannot narrow it "
                             "(%s); filter in the list's rule instead, or define the set by filter keys alone"
                             % (name, list_name, ", ".join(mixed)))
    if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
        raise UpdateSetError("update set '%s': version must be a list version number, 1 or more (got %r)"
                             % (name, version))
    # The filter's repr names the list, so whatever keys on it (the inventory plugin's cache) tells sets apart.
    return UpdateSet(name, UpdateFilter(extra={"update_list": list_name, "version": version}), list_name, version)


def all_updates():
    return UpdateSet(ALL_UPDATES, UpdateFilter())


def parse_update_sets(entries):
    """``UpdateSet``s from option values (a list of dicts with ``name`` and filter keys).

    Raises UpdateSetError naming the entry for a missing or repeated name, an unknown key or a
    bad value.
    """
    sets = []
    seen = set()
    for index, entry in enumerate(entries or ()):
        if not isinstance(entry, dict):
            raise UpdateSetError("update set #%d: expected a mapping, got %s" % (index + 1, type(entry).__name__))
        name = entry.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise UpdateSetError("update set #%d: 'name' must be a word of letters, digits and _ (got %r)"
                                 % (index + 1, name))
        if name in seen or name == ALL_UPDATES:
            raise UpdateSetError("update set '%s': the name is %s" % (
                name, "reserved for the whole catalog" if name == ALL_UPDATES else "used twice"))
        seen.add(name)
        unknown = sorted(set(entry) - set(UPDATE_SET_SPEC))
        if unknown:
            raise UpdateSetError("update set '%s': unknown key(s) %s; known: %s"
                                 % (name, ", ".join(unknown), ", ".join(sorted(UPDATE_SET_SPEC))))
        if entry.get("update_list") is not None:
            sets.append(_list_set(name, entry))
            continue
        if entry.get("version") is not None:
            raise UpdateSetError("update set '%s': version is the version of a stored update list; give update_list "
                                 "too" % name)
        for key in ("update_ids", "kbs", "products", "classifications", "severities", "kinds", "exclude_titles",
                    "exclude_kbs"):
            if isinstance(entry.get(key), str):
                entry = dict(entry, **{key: [entry[key]]})
        try:
            sets.append(UpdateSet(name, filter_from_params(entry)))
        except (TypeError, ValueError) as exc:
            raise UpdateSetError("update set '%s': %s" % (name, exc))
    return sets


def resolve(store, update_set):
    """The update ids of ``update_set`` in the store's current catalog.

    Raises UpdateSetError when the set names a product or classification the catalog does not know
    (a typo would otherwise narrow the set quietly, and its hosts would count as compliant against
    less than was meant); the message names the set and, for each unknown name, the closest names
    the catalog knows, as ``catalog_info`` warns them. A set naming a stored update list gives the
    members of its version (default the newest); an unknown list or version is an UpdateSetError.
    """
    if update_set.update_list is not None:
        return list_members(store, update_set.name, update_set.update_list, update_set.list_version)
    ids, unknown = select_update_ids(store, update_set.update_filter)
    if unknown:
        raise UpdateSetError("update set '%s': %s" % (
            update_set.name, "; ".join(unknown_category_messages(store, update_set.update_filter))))
    return ids


def list_members(store, set_name, list_name, version=None):
    """The update ids of a stored update list's frozen ``version`` (None: the newest), newest release first.

    Raises UpdateSetError naming the set and the list when the list, or the version, does not exist.
    """
    versions = [r["version"] for r in store.query(
        "SELECT version FROM update_list_versions WHERE list_name = ? ORDER BY version", (list_name,))]
    if not versions:
        listed = store.query("SELECT 1 FROM update_lists WHERE name = ?", (list_name,))
        raise UpdateSetError("update set '%s': update list '%s' %s" % (
            set_name, list_name, "has no frozen version yet (freeze it with patchwave.windows.update_list, "
            "freeze: true)" if listed else "does not exist (patchwave.windows.update_list_info lists the stored lists)"))
    if version is None:
        version = versions[-1]
    elif version not in versions:
        raise UpdateSetError("update set '%s': update list '%s' has no version %d (its versions: %s)"
                             % (set_name, list_name, version, ", ".join(str(v) for v in versions)))
    # NULLs placed explicitly, as select_update_ids orders: SQLite and PostgreSQL disagree by default.
    return [r["update_id"] for r in store.query(
        "SELECT m.update_id FROM update_list_members m LEFT JOIN updates u ON u.update_id = m.update_id "
        "WHERE m.list_name = ? AND m.version = ? "
        "ORDER BY u.release_date DESC NULLS LAST, u.title NULLS FIRST, m.update_id", (list_name, version))]
