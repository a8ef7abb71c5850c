# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Named sets of updates: what compliance is measured against.

A set is named by update ids, KBs or the ``catalog_info`` filter (``UpdateFilter``); every field
narrows the selection. ``resolve`` turns a set into update ids through ``select_update_ids``, the
same function ``catalog_info`` uses and update lists and deployments will use, so "which updates"
means the same thing in a query, a report, an inventory group and (later) a deployment.
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

UPDATE_SET_SPEC = dict(name=dict(type="str", required=True), **FILTER_SPEC)

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
    """A named selection of updates."""

    name: str
    update_filter: UpdateFilter


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
    the catalog knows, as ``catalog_info`` warns them.
    """
    ids, unknown = select_update_ids(store, update_set.update_filter)
    if unknown:
        raise UpdateSetError("update set '%s': %s" % (
            update_set.name, "; ".join(unknown_category_messages(store, update_set.update_filter))))
    return ids
