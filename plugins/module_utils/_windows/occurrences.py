# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""When a window opens and closes: a definition's occurrences as UTC instants, soonest first.

The days come from the recurrence by arithmetic (or from dateutil for an ``rrule``); each day's start
is wall-clock time in the window's zone, made an instant with PEP 495's ``fold=0``: a start in a
spring-forward gap moves forward by the gap, an ambiguous start takes the first occurrence. The
duration is elapsed time, so a window across a DST change keeps its length in minutes. A window in
UTC has no DST and does not drift (Configuration Manager takes the bias from the effective date).
"""

from __future__ import annotations

import calendar
import datetime
from typing import NamedTuple

from ansible_collections.patchwave.windows.plugins.module_utils._windows.definitions import (
    ANCHOR,
    LAST_DAY,
    LOCAL_ZONE,
    UTC_ZONE,
    zone_for,
)

UTC = datetime.timezone.utc
ONE_DAY = datetime.timedelta(days=1)
_ORDINAL_EPOCH = datetime.date(1, 1, 1).toordinal()


class Occurrence(NamedTuple):
    """One opening of one window, as UTC instants (a tuple: occurrences sort by when they open)."""

    start: datetime.datetime
    end: datetime.datetime
    name: str


def window_zone(window, host_timezone=None):
    """The tzinfo the window's wall-clock times are in: ``local`` is ``host_timezone``, else UTC."""
    name = window.timezone
    if name == LOCAL_ZONE:
        name = host_timezone or UTC_ZONE
    return zone_for(name)


def occurrences(window, start, end, host_timezone=None):
    """Every occurrence of ``window`` open at some time in [start, end), soonest first (aware UTC instants)."""
    zone = window_zone(window, host_timezone)
    duration = datetime.timedelta(minutes=window.duration_minutes)
    # A window open at ``start`` opened less than a day before it; local dates differ from UTC ones by
    # at most a day either way.
    first = (start - ONE_DAY).astimezone(zone).date() - ONE_DAY
    last = end.astimezone(zone).date() + ONE_DAY
    if window.effective and first < window.effective:
        first = window.effective
    if window.until and last > window.until:
        last = window.until
    if first > last:
        return
    wall = window.start
    name = window.name
    utc = zone is UTC
    for day in opening_days(window, first, last):
        if utc:
            opens = datetime.datetime(day.year, day.month, day.day, wall.hour, wall.minute, tzinfo=UTC)
        else:
            opens = datetime.datetime(day.year, day.month, day.day, wall.hour, wall.minute,
                                      tzinfo=zone).astimezone(UTC)
        closes = opens + duration
        if closes <= start:
            continue
        if opens >= end:
            return
        yield Occurrence(opens, closes, name)


def opening_days(window, first, last):
    """The local dates in [first, last] on which ``window`` opens, ascending (offsets applied)."""
    if window.date is not None:
        if first <= window.date <= last:
            yield window.date
        return
    if window.rrule is not None:
        yield from _rrule_days(window, first, last)
        return
    recurrence = window.recurrence
    offset = datetime.timedelta(days=recurrence.offset_days)
    # Days are derived before the offset: look for them in the offset-shifted range.
    derive_first = first - offset
    derive_last = last - offset
    if recurrence.frequency == "daily":
        days = _daily(recurrence, window.effective, derive_first, derive_last)
    elif recurrence.frequency == "weekly":
        days = _weekly(recurrence, window.effective, derive_first, derive_last)
    else:
        days = _monthly(recurrence, window.effective, derive_first, derive_last)
    for day in days:
        day = day + offset
        if first <= day <= last:
            yield day


def _daily(recurrence, anchor, first, last):
    step = recurrence.interval
    day = first
    if step > 1:
        behind = (first - anchor).days % step
        if behind:
            day = first + datetime.timedelta(days=step - behind)
    delta = datetime.timedelta(days=step)
    while day <= last:
        yield day
        day += delta


def _weekly(recurrence, anchor, first, last):
    step = recurrence.interval
    monday = first - datetime.timedelta(days=first.weekday())
    if step > 1:
        anchor_monday = anchor - datetime.timedelta(days=anchor.weekday())
        behind = ((monday - anchor_monday).days // 7) % step
        if behind:
            monday += datetime.timedelta(weeks=step - behind)
    delta = datetime.timedelta(weeks=step)
    offsets = [datetime.timedelta(days=d) for d in recurrence.days]
    while monday <= last:
        for offset in offsets:
            day = monday + offset
            if first <= day <= last:
                yield day
        monday += delta


def _monthly(recurrence, anchor, first, last):
    step = recurrence.interval
    index = first.year * 12 + first.month - 1
    if step > 1:
        behind = (index - (anchor.year * 12 + anchor.month - 1)) % step
        if behind:
            index += step - behind
    last_index = last.year * 12 + last.month - 1
    while index <= last_index:
        year, month = divmod(index, 12)
        day = month_day(recurrence, year, month + 1)
        if first <= day <= last:
            yield day
        index += step


def month_day(recurrence, year, month):
    """The day a monthly recurrence derives in a month: day_of_month clamped to the month, or week + weekday."""
    length = calendar.monthrange(year, month)[1]
    if recurrence.day_of_month is not None:
        number = length if recurrence.day_of_month == LAST_DAY else min(recurrence.day_of_month, length)
        return datetime.date(year, month, number)
    if recurrence.week == -1:
        end = datetime.date(year, month, length)
        return end - datetime.timedelta(days=(end.weekday() - recurrence.day) % 7)
    start = datetime.date(year, month, 1)
    return start + datetime.timedelta(days=(recurrence.day - start.weekday()) % 7 + 7 * (recurrence.week - 1))


def _rrule_days(window, first, last):
    from dateutil.rrule import rrulestr

    # With effective, it is DTSTART (the anchor of INTERVAL and COUNT). Without, the rule's days do not
    # depend on DTSTART (definitions.py checks that), so it starts where the range does.
    anchor = window.effective or max(ANCHOR, first - datetime.timedelta(days=7))
    rule = rrulestr(window.rrule, dtstart=datetime.datetime.combine(anchor, datetime.time()), cache=False)
    for moment in rule.xafter(datetime.datetime.combine(first, datetime.time()), inc=True):
        day = moment.date()
        if day > last:
            return
        yield day
