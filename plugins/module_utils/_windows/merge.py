# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""A host's windows as one timeline: which windows count, merged where they overlap or touch.

Types as Configuration Manager's: work on software updates counts only ``software_updates`` windows
when the host has any, else its ``all`` windows; other work counts every window. Occurrences of the
windows that count merge into one window when they overlap or touch, and the fit rule (``fit.py``)
is evaluated against the merged window, not the pieces. A host without windows is always inside.
"""

from __future__ import annotations

import datetime
import heapq
from dataclasses import dataclass
from typing import NamedTuple

from ansible_collections.patchwave.windows.plugins.module_utils._windows.definitions import (
    ALL,
    APPLIES_TO,
    SOFTWARE_UPDATES,
)
from ansible_collections.patchwave.windows.plugins.module_utils._windows.occurrences import occurrences

MAX_HORIZON_DAYS = 400


class MergedWindow(NamedTuple):
    """One stretch of time inside windows (UTC instants); ``names``: every window it came from, in order."""

    start: datetime.datetime
    end: datetime.datetime
    names: tuple

    @property
    def name(self):
        """The first window it came from."""
        return self.names[0]


@dataclass(frozen=True)
class WindowState:
    """Where an instant stands: inside a window or not, the current merged window, the next ones.

    ``unrestricted`` is true when no window applies (a host without windows): always inside, and
    ``current`` is None then.
    """

    in_window: bool
    current: MergedWindow = None
    next: tuple = ()
    unrestricted: bool = False


def applicable(windows, applies_to=SOFTWARE_UPDATES):
    """The windows that count for work of kind ``applies_to`` (the type-precedence rule)."""
    if applies_to not in APPLIES_TO:
        raise ValueError("applies_to: '%s' is not one of %s" % (applies_to, ", ".join(APPLIES_TO)))
    if applies_to == ALL:
        return list(windows)
    software = [w for w in windows if w.applies_to == SOFTWARE_UPDATES]
    return software or list(windows)


def merged_windows(windows, start, end, applies_to=SOFTWARE_UPDATES, host_timezone=None):
    """The merged windows open at some time in [start, end), soonest first; the span is at most 400 days.

    ``start`` and ``end`` are aware instants; ``windows`` are checked definitions (all of the host's:
    the type rule picks). A lazy iterator: take what you need.
    """
    _check_instant(start, "start")
    _check_instant(end, "end")
    if end - start > datetime.timedelta(days=MAX_HORIZON_DAYS):
        raise ValueError("the horizon is %s; at most %d days are computed" % (end - start, MAX_HORIZON_DAYS))
    return _merged(windows, start, end, applies_to, host_timezone)


def _merged(windows, start, end, applies_to, host_timezone):
    streams = [occurrences(w, start, end, host_timezone) for w in applicable(windows, applies_to)]
    return merge_occurrences(heapq.merge(*streams) if len(streams) > 1 else (streams[0] if streams else ()))


def merge_occurrences(ordered):
    """Occurrences sorted by opening time, merged where one opens before or when the previous closes."""
    current_start = current_end = None
    names = []
    for opens, closes, name in ordered:
        if current_end is not None and opens <= current_end:
            if closes > current_end:
                current_end = closes
            if name not in names:
                names.append(name)
            continue
        if current_end is not None:
            yield MergedWindow(current_start, current_end, tuple(names))
        current_start, current_end, names = opens, closes, [name]
    if current_end is not None:
        yield MergedWindow(current_start, current_end, tuple(names))


def current_and_next(windows, at, count=3, applies_to=SOFTWARE_UPDATES, host_timezone=None,
                     horizon_days=MAX_HORIZON_DAYS):
    """The ``WindowState`` at instant ``at``: the merged window open then, and the next ``count`` to open.

    Windows are looked for up to ``horizon_days`` (at most 400) ahead. The current window's start is
    its merged start as seen from a day before ``at`` (a chain of touching windows reaching further
    back shows from there).
    """
    _check_instant(at, "at")
    if count < 0:
        raise ValueError("count must be 0 or more")
    if not 0 < horizon_days <= MAX_HORIZON_DAYS:
        raise ValueError("horizon_days must be 1 to %d" % MAX_HORIZON_DAYS)
    if not windows:
        return WindowState(in_window=True, unrestricted=True)
    current = None
    upcoming = []
    end = at + datetime.timedelta(days=horizon_days)
    stream = _merged(windows, at - datetime.timedelta(days=1), end, applies_to, host_timezone)
    for merged in stream:
        if merged.end <= at:
            continue
        if merged.start <= at:
            current = merged
            continue
        if len(upcoming) >= count:
            break
        upcoming.append(merged)
    return WindowState(in_window=current is not None, current=current, next=tuple(upcoming))


def in_window(windows, at, applies_to=SOFTWARE_UPDATES, host_timezone=None):
    """Whether ``at`` is inside a window that counts (always, without windows)."""
    if not windows:
        return True
    return current_and_next(windows, at, count=0, applies_to=applies_to, host_timezone=host_timezone).in_window


def _check_instant(value, field):
    if not isinstance(value, datetime.datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("%s must be an aware datetime (an instant), not %r" % (field, value))
