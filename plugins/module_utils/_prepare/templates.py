# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Deployment templates: reusable deployment settings, as Configuration Manager's deployment templates.

A template is a name and its settings (``SETTINGS``), stored whole as JSON in ``deployment_templates``.
The settings are checked here, once, for templates and for a deployment's overrides alike. The two
rules the install step applies per host and per update are pure functions: ``randomized_offset``
(the host's share of the deadline randomization, stable because it comes from the host's name) and
``max_run_time`` (an update's maximum run time: the list's override, else the template's default for
its classification, else 60 minutes).
"""

from __future__ import annotations

import datetime
import hashlib
import re

from ansible_collections.patchwave.windows.plugins.module_utils._store.objects import (
    delete_object,
    read_object,
    write_object,
)

TABLE = "deployment_templates"
OBJECT_TYPE = "deployment_template"
COLUMN = "settings"

REBOOT_POLICIES = ("if_required", "never", "always")
CONTENT_SOURCES = ("distribution_point", "wua")
SCAN_SOURCES = ("wua", "offline")
RANDOMIZATION_MAX = 120         # Configuration Manager randomizes a deadline by up to two hours
RUN_TIME_RANGE = (5, 9999)      # Configuration Manager's range for an update's maximum run time
DEFAULT_MAX_RUN_TIME = 60       # its default for updates without one

# Each setting with its default: what a template (or a deployment without one) has when not told.
DEFAULTS = {
    "available_offset": "+0m",
    "deadline_offset": "+7d",
    "deadline_randomization_minutes": RANDOMIZATION_MAX,
    "reboot": "if_required",
    "reboot_outside_window": False,
    "ignore_windows_after_deadline": False,
    "max_run_time_minutes": {},
    "rescan_after_reboot": True,
    "content_source": "wua",
    "scan_source": "wua",
}
SETTINGS = tuple(sorted(DEFAULTS))
OFFSETS = ("available_offset", "deadline_offset")

# The settings as module options (deployment_template's options; deployment's ``settings`` keys).
SETTINGS_SPEC = dict(
    available_offset=dict(type="str", default=DEFAULTS["available_offset"]),
    deadline_offset=dict(type="str", default=DEFAULTS["deadline_offset"]),
    deadline_randomization_minutes=dict(type="int", default=DEFAULTS["deadline_randomization_minutes"]),
    reboot=dict(type="str", default=DEFAULTS["reboot"], choices=list(REBOOT_POLICIES)),
    reboot_outside_window=dict(type="bool", default=DEFAULTS["reboot_outside_window"]),
    ignore_windows_after_deadline=dict(type="bool", default=DEFAULTS["ignore_windows_after_deadline"]),
    max_run_time_minutes=dict(type="dict", default={}),
    rescan_after_reboot=dict(type="bool", default=DEFAULTS["rescan_after_reboot"]),
    content_source=dict(type="str", default=DEFAULTS["content_source"], choices=list(CONTENT_SOURCES)),
    scan_source=dict(type="str", default=DEFAULTS["scan_source"], choices=list(SCAN_SOURCES)),
)

_OFFSET = re.compile(r"^\+?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")
_UNITS = (("w", 7 * 24 * 60), ("d", 24 * 60), ("h", 60), ("m", 1))


class TemplateError(ValueError):
    """A template or its settings cannot be used; the message names the object and the cause."""


def parse_offset(text):
    """An offset such as ``+2d``, ``+4h``, ``+1d12h``, ``+30m`` (weeks ``w`` too) as a timedelta; ValueError if not."""
    text_form = "" if text is None else str(text).strip().lower()
    if text_form in ("0", "+0"):
        return datetime.timedelta(0)
    match = _OFFSET.match(text_form)
    if not match or not any(match.groups()):
        raise ValueError("%r is not an offset such as +2d, +4h, +1d12h or +30m" % (text,))
    minutes = sum(int(value or 0) * size for value, (_unit, size) in zip(match.groups(), _UNITS))
    return datetime.timedelta(minutes=minutes)


def format_offset(delta):
    """The one text form of an offset: ``+1d12h``, ``+0m`` for none."""
    minutes = int(delta.total_seconds() // 60)
    parts = []
    for unit, size in _UNITS[1:]:  # days, hours, minutes (a week is written as 7d)
        if minutes >= size:
            parts.append("%d%s" % (minutes // size, unit))
            minutes %= size
    return "+" + ("".join(parts) or "0m")


def check_settings(settings, owner, partial=False):
    """``settings`` checked and normalised (offsets in their one form, classifications' run times as ints).

    ``owner`` names the object in messages (``deployment template 'x'``); ``partial`` allows a subset
    (a deployment's overrides). Raises TemplateError naming the owner and the option.
    """
    unknown = sorted(set(settings) - set(DEFAULTS))
    if unknown:
        raise TemplateError("%s: unknown setting(s) %s; known: %s" % (owner, ", ".join(unknown), ", ".join(SETTINGS)))
    values = dict(settings) if partial else dict(DEFAULTS, **settings)
    checked = {}
    for key, value in values.items():
        try:
            checked[key] = _check(key, value)
        except (TypeError, ValueError) as exc:
            raise TemplateError("%s: %s: %s" % (owner, key, exc))
    return checked


def _check(key, value):
    if key in OFFSETS:
        return format_offset(parse_offset(value))
    if key == "deadline_randomization_minutes":
        return _minutes(value, 0, RANDOMIZATION_MAX)
    if key == "max_run_time_minutes":
        if not isinstance(value, dict):
            raise ValueError("expected a mapping of classification to minutes, got %r" % (value,))
        return {str(name): _minutes(minutes, *RUN_TIME_RANGE, what="classification %r" % name)
                for name, minutes in value.items()}
    choices = {"reboot": REBOOT_POLICIES, "content_source": CONTENT_SOURCES, "scan_source": SCAN_SOURCES}.get(key)
    if choices:
        if value not in choices:
            raise ValueError("%r is not one of %s" % (value, ", ".join(choices)))
        return value
    if not isinstance(value, bool):
        raise ValueError("%r is not true or false" % (value,))
    return value


def _minutes(value, low, high, what=None):
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value), 10)
        except ValueError:
            raise ValueError("%s%r is not a whole number of minutes" % (what + ": " if what else "", value))
    if not low <= value <= high:
        raise ValueError("%s%d minutes is out of range (%d to %d)" % (what + ": " if what else "", value, low, high))
    return value


def owner_name(name):
    return "deployment template '%s'" % name


# -- the rules the install step applies -----------------------------------------------------------

def randomized_offset(settings, host):
    """The host's deadline randomization in whole minutes, 0 to the settings' ``deadline_randomization_minutes``.

    Derived from the host's name (case-insensitive, as Windows names are), so it is the same on every
    run and every controller, and spread evenly over the range.
    """
    spread = int(settings.get("deadline_randomization_minutes", DEFAULTS["deadline_randomization_minutes"]))
    if spread <= 0:
        return 0
    digest = hashlib.sha256(str(host).strip().lower().encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % (spread + 1)


def max_run_time(update, settings, override=None):
    """An update's maximum run time in minutes: ``override`` (the list's, per update), else the
    settings' default for the update's classification (``update["classification"]``, compared
    without case), else 60."""
    if override is not None:
        return int(override)
    defaults = {str(k).lower(): v for k, v in (settings.get("max_run_time_minutes") or {}).items()}
    classification = (update.get("classification") or "").lower()
    if classification in defaults:
        return int(defaults[classification])
    return DEFAULT_MAX_RUN_TIME


# -- the store ----------------------------------------------------------------------------------

def read_template(store, name):
    """The template's settings, or None when there is no such template."""
    row = read_object(store, TABLE, name, json_column=COLUMN)
    return None if row is None else row[COLUMN]


def plan_template(store, name, state, settings=None):
    """What writing the template would do: ``(action, before, after)``.

    ``action`` is ``created``, ``updated``, ``deleted`` or None (nothing to do); ``before``/``after``
    are the settings (None for no template).
    """
    before = read_template(store, name)
    if state == "absent":
        return ("deleted" if before is not None else None), before, None
    after = check_settings(settings or {}, owner_name(name))
    if before == after:
        return None, before, after
    return ("created" if before is None else "updated"), before, after


def apply_template(store, name, state, settings=None, check_mode=False):
    """Plan and, unless ``check_mode``, write the template in one transaction; return the plan.

    A template that deployments still name may be deleted: a deployment keeps the settings it was
    written with.
    """
    with store.transaction() as cursor:
        action, before, after = plan_template(store, name, state, settings)
        if action and not check_mode:
            row = read_object(store, TABLE, name, json_column=COLUMN)
            if state == "absent":
                delete_object(cursor, TABLE, OBJECT_TYPE, name, row, json_column=COLUMN)
            else:
                write_object(cursor, TABLE, OBJECT_TYPE, name, after, before=row, json_column=COLUMN)
    return action, before, after
