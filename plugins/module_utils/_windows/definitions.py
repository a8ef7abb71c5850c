# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Maintenance window definitions: gathered from host variables, checked, made plain dataclasses.

A definition is the dict of docs/maintenance_windows.md. ``parse_windows`` checks every field once and
fails with ``WindowDefinitionError`` naming the window and the field; everything after it
(``occurrences.py``, ``merge.py``, ``fit.py``) trusts the dataclasses.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

VARIABLE_PREFIX = "patchwave_maintenance_windows"

SOFTWARE_UPDATES = "software_updates"
ALL = "all"
APPLIES_TO = (SOFTWARE_UPDATES, ALL)

UTC_ZONE = "UTC"
LOCAL_ZONE = "local"

FREQUENCIES = ("daily", "weekly", "monthly")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
LAST_DAY = "last"

MIN_DURATION = 5
MAX_DURATION = 1439
MIN_OFFSET = -6
MAX_OFFSET = 27

FIELDS = ("name", "timezone", "start", "duration_minutes", "recurrence", "rrule", "date", "effective", "until",
          "applies_to")
RECURRENCE_FIELDS = ("frequency", "interval", "days", "day_of_month", "week", "day", "offset_days")
# RRULE parts that would say a time or an anchor: the window's own fields say them.
REFUSED_RRULE_PARTS = ("DTSTART", "BYHOUR", "BYMINUTE", "BYSECOND")
RRULE_FREQUENCIES = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY")

_START = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$")


class WindowDefinitionError(ValueError):
    """A definition that cannot be used; the message names the window and the field."""


@dataclass(frozen=True)
class Recurrence:
    """How the days of a recurring window repeat (weekdays as 0 = Monday .. 6 = Sunday)."""

    frequency: str
    interval: int = 1
    days: tuple = ()
    day_of_month: object = None  # 1..31, or "last"
    week: int = 0  # 1..4, or -1 for the last
    day: int = -1
    offset_days: int = 0


@dataclass(frozen=True)
class WindowDefinition:
    """One checked window definition."""

    name: str
    timezone: str
    start: datetime.time
    duration_minutes: int
    applies_to: str = ALL
    recurrence: Recurrence = None
    rrule: str = None
    date: datetime.date = None
    effective: datetime.date = None
    until: datetime.date = None


def host_windows(hostvars):
    """The raw definitions of every host variable named ``patchwave_maintenance_windows*``, merged.

    Variables are taken in name order; a definition repeated word for word (the same group's
    windows reached twice) counts once. Anything that is not a list of dicts is an error.
    """
    found = []
    for variable in sorted(k for k in hostvars if isinstance(k, str) and k.startswith(VARIABLE_PREFIX)):
        value = hostvars[variable]
        if value is None:
            continue
        if not isinstance(value, (list, tuple)):
            raise WindowDefinitionError("host variable '%s': a list of maintenance windows is expected, not %s"
                                        % (variable, type(value).__name__))
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise WindowDefinitionError("host variable '%s': item %d is not a window definition (a dict)"
                                            % (variable, index + 1))
            if item not in found:
                found.append(item)
    return found


def parse_windows(raw):
    """Checked ``WindowDefinition``s from a list of dicts; names must be unique."""
    if raw is None:
        return []
    if not isinstance(raw, (list, tuple)):
        raise WindowDefinitionError("maintenance windows: a list of definitions is expected, not %s"
                                    % type(raw).__name__)
    windows = []
    seen = set()
    for index, item in enumerate(raw):
        window = parse_window(item, index)
        if window.name in seen:
            raise WindowDefinitionError("window '%s': name: defined twice with different settings" % window.name)
        seen.add(window.name)
        windows.append(window)
    return windows


def parse_window(raw, index=0):
    """One checked definition; ``index`` names a window that has no name yet."""
    if not isinstance(raw, dict):
        raise WindowDefinitionError("window %d: a definition (a dict) is expected, not %s"
                                    % (index + 1, type(raw).__name__))
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise WindowDefinitionError("window %d: name: required, a non-empty string" % (index + 1))

    def fail(field, text):
        raise WindowDefinitionError("window '%s': %s: %s" % (name, field, text))

    unknown = sorted(str(k) for k in raw if k not in FIELDS)
    if unknown:
        fail(unknown[0], "unknown field (known: %s)" % ", ".join(FIELDS))

    timezone = raw.get("timezone")
    timezone = UTC_ZONE if timezone is None else timezone
    if not isinstance(timezone, str):
        fail("timezone", "an IANA zone name or 'local' is expected")
    if timezone != LOCAL_ZONE:
        zone_error = check_zone(timezone)
        if zone_error:
            fail("timezone", zone_error)

    start = _start(raw.get("start"), fail)
    duration = raw.get("duration_minutes")
    if isinstance(duration, bool) or not isinstance(duration, int):
        fail("duration_minutes", "required, a whole number of minutes from %d to %d" % (MIN_DURATION, MAX_DURATION))
    if not MIN_DURATION <= duration <= MAX_DURATION:
        fail("duration_minutes", "%d is out of range: %d to %d minutes (under 24 hours)"
             % (duration, MIN_DURATION, MAX_DURATION))

    applies_to = raw.get("applies_to")
    applies_to = ALL if applies_to is None else applies_to
    if applies_to not in APPLIES_TO:
        fail("applies_to", "'%s' is not one of %s" % (applies_to, ", ".join(APPLIES_TO)))

    effective = _date(raw.get("effective"), "effective", fail)
    until = _date(raw.get("until"), "until", fail)
    if effective and until and until < effective:
        fail("until", "%s is before effective %s" % (until, effective))
    one_off = _date(raw.get("date"), "date", fail)

    recurrence = raw.get("recurrence")
    rrule = raw.get("rrule")
    if recurrence is not None and rrule is not None:
        fail("rrule", "give either recurrence or rrule, not both")
    if one_off is not None and (recurrence is not None or rrule is not None):
        fail("date", "a one-off window has no recurrence or rrule")
    if recurrence is None and rrule is None and one_off is None:
        fail("date", "required for a one-off window (a window without recurrence or rrule)")

    parsed_recurrence = None
    if recurrence is not None:
        parsed_recurrence = _recurrence(recurrence, fail)
        if parsed_recurrence.interval > 1 and effective is None:
            fail("effective", "required with an interval over 1 (it anchors the interval)")
    if rrule is not None:
        rrule = _rrule(rrule, effective, fail)

    return WindowDefinition(name=name, timezone=timezone, start=start, duration_minutes=duration,
                            applies_to=applies_to, recurrence=parsed_recurrence, rrule=rrule, date=one_off,
                            effective=effective, until=until)


def check_zone(name):
    """None when ``name`` is a zone zoneinfo knows, else why not."""
    try:
        zone_for(name)
    except (KeyError, ValueError, OSError) as exc:
        return "unknown time zone '%s' (%s)" % (name, type(exc).__name__)
    return None


_ZONES = {}


def zone_for(name):
    """The tzinfo of an IANA zone name (``UTC`` is datetime's own); cached."""
    zone = _ZONES.get(name)
    if zone is None:
        if name == UTC_ZONE:
            zone = datetime.timezone.utc
        else:
            import zoneinfo  # stdlib; the system tz database, or the tzdata package

            if not name or name.startswith(("/", ".")) or ".." in name:
                raise ValueError("not a zone name")
            zone = zoneinfo.ZoneInfo(name)
        _ZONES[name] = zone
    return zone


def _start(value, fail):
    if isinstance(value, int) and not isinstance(value, bool):
        fail("start", "%d is not a time: quote it (YAML 1.1 reads an unquoted 22:00 as the number 1320)" % value)
    if isinstance(value, datetime.time):
        return value.replace(second=0, microsecond=0, tzinfo=None)
    if not isinstance(value, str):
        fail("start", "required, a wall-clock time \"HH:MM\"")
    match = _START.match(value.strip())
    if not match:
        fail("start", "'%s' is not a wall-clock time \"HH:MM\" (00:00 to 23:59)" % value)
    return datetime.time(int(match.group(1)), int(match.group(2)))


def _date(value, field, fail):
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        fail(field, "a date \"YYYY-MM-DD\" is expected, not a date and time")
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value.strip())
        except ValueError:
            pass
    fail(field, "'%s' is not a date \"YYYY-MM-DD\"" % (value,))


def _weekday(value, field, fail):
    if isinstance(value, str) and value.strip().lower() in WEEKDAYS:
        return WEEKDAYS.index(value.strip().lower())
    fail(field, "unknown weekday '%s' (one of %s)" % (value, ", ".join(WEEKDAYS)))


def _recurrence(raw, fail):
    if not isinstance(raw, dict):
        fail("recurrence", "a dict (frequency, interval, days, ...) is expected")
    unknown = sorted(str(k) for k in raw if k not in RECURRENCE_FIELDS)
    if unknown:
        fail("recurrence." + unknown[0], "unknown field (known: %s)" % ", ".join(RECURRENCE_FIELDS))
    frequency = raw.get("frequency")
    if frequency not in FREQUENCIES:
        fail("recurrence.frequency", "'%s' is not one of %s" % (frequency, ", ".join(FREQUENCIES)))
    interval = raw.get("interval", 1)
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        fail("recurrence.interval", "a whole number of 1 or more is expected, not '%s'" % (interval,))
    offset = raw.get("offset_days", 0)
    if isinstance(offset, bool) or not isinstance(offset, int) or not MIN_OFFSET <= offset <= MAX_OFFSET:
        fail("recurrence.offset_days", "'%s' is out of range: %d to %d days" % (offset, MIN_OFFSET, MAX_OFFSET))

    def only_for(fields, allowed):
        for field in fields:
            if raw.get(field) is not None:
                fail("recurrence." + field, "not used with frequency %s (%s)" % (frequency, allowed))

    if frequency == "daily":
        only_for(("days", "day_of_month", "week", "day"), "every N days")
        return Recurrence(frequency, interval, offset_days=offset)

    if frequency == "weekly":
        only_for(("day_of_month", "week", "day"), "days: [weekdays]")
        days = raw.get("days")
        if isinstance(days, str):
            days = [days]
        if not isinstance(days, (list, tuple)) or not days:
            fail("recurrence.days", "required for weekly, one or more weekdays")
        numbers = tuple(sorted({_weekday(d, "recurrence.days", fail) for d in days}))
        return Recurrence(frequency, interval, days=numbers, offset_days=offset)

    only_for(("days",), "day_of_month, or week and day")
    day_of_month = raw.get("day_of_month")
    week = raw.get("week")
    day = raw.get("day")
    if day_of_month is not None:
        if week is not None or day is not None:
            fail("recurrence.day_of_month", "give either day_of_month, or week and day, not both")
        if day_of_month != LAST_DAY and (isinstance(day_of_month, bool) or not isinstance(day_of_month, int)
                                         or not 1 <= day_of_month <= 31):
            fail("recurrence.day_of_month", "'%s' is not 1..31 or 'last'" % (day_of_month,))
        return Recurrence(frequency, interval, day_of_month=day_of_month, offset_days=offset)
    if week is None and day is None:
        fail("recurrence.day_of_month", "monthly needs day_of_month, or week and day")
    if week is None:
        fail("recurrence.week", "required with day (%s)" % ", ".join(WEEKS))
    if week not in WEEKS:
        fail("recurrence.week", "'%s' is not one of %s" % (week, ", ".join(WEEKS)))
    if day is None:
        fail("recurrence.day", "required with week: the weekday")
    return Recurrence(frequency, interval, week=WEEKS[week], day=_weekday(day, "recurrence.day", fail),
                      offset_days=offset)


def _rrule(text, effective, fail):
    """The RRULE text checked and normalized (without ``RRULE:``); dateutil must parse it."""
    if not isinstance(text, str) or not text.strip():
        fail("rrule", "an RFC 5545 RRULE string is expected")
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[len("RRULE:"):]
    if "\n" in body or "\r" in body:
        fail("rrule", "one RRULE line is expected (no DTSTART, EXDATE or RDATE lines)")
    parts = {}
    for part in body.split(";"):
        key, _sep, value = part.partition("=")
        parts[key.strip().upper()] = value.strip().upper()
    for key in REFUSED_RRULE_PARTS:
        if key in parts:
            fail("rrule", "%s is refused: the window's start and effective say it" % key)
    if parts.get("FREQ") not in RRULE_FREQUENCIES:
        fail("rrule", "FREQ must be one of %s (a window opens once a day at most)" % ", ".join(RRULE_FREQUENCIES))
    if effective is None:
        anchored = []
        if parts.get("INTERVAL", "1") not in ("", "1"):
            anchored.append("INTERVAL")
        if "COUNT" in parts:
            anchored.append("COUNT")
        by_day = any(k in parts for k in ("BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO"))
        if parts["FREQ"] in ("WEEKLY", "MONTHLY") and not by_day:
            anchored.append("FREQ=%s without BYDAY or BYMONTHDAY" % parts["FREQ"])
        if parts["FREQ"] == "YEARLY" and not (by_day or "BYMONTH" in parts and "BYMONTHDAY" in parts):
            anchored.append("FREQ=YEARLY without its days")
        if anchored:
            fail("effective", "required with an rrule whose days depend on its start (%s)" % ", ".join(anchored))
    try:
        from dateutil.rrule import rrulestr
    except ImportError:
        fail("rrule", "python-dateutil is needed for rrule windows (pip install python-dateutil)")
    try:
        rrulestr(body, dtstart=datetime.datetime.combine(effective or ANCHOR, datetime.time()))
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        fail("rrule", "'%s' does not parse: %s" % (text, exc))
    return body


# The DTSTART of an rrule without ``effective``: its days then do not depend on it (checked above).
ANCHOR = datetime.date(2000, 1, 3)
