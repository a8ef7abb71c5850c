# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""The fit rule: an update starts only if its maximum run time fits before the merged window closes.

Configuration Manager's rule, evaluated against the merged window (``merge.py``) rather than each
piece: the latest instant an update may start is the window's end minus its maximum run time; one
already started finishes even past the end; one longer than every window never starts.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass


@dataclass(frozen=True)
class FitDecision:
    """Whether an update may start at ``at``, with the figures that say why."""

    fits: bool
    at: datetime.datetime
    latest_start: datetime.datetime
    window_end: datetime.datetime
    max_run_time_minutes: int

    def reason(self):
        """The figures, as the waiting state message shows them (UTC, HH:MM)."""
        return "would start %s, needs %d min, window ends %s" % (
            _clock(self.at), self.max_run_time_minutes, _clock(self.window_end))


def latest_start(window_end, max_run_time_minutes):
    """The latest instant an update of this maximum run time may start in a window ending at ``window_end``."""
    if max_run_time_minutes < 0:
        raise ValueError("max_run_time_minutes must be 0 or more")
    return window_end - datetime.timedelta(minutes=max_run_time_minutes)


def fit(at, window_end, max_run_time_minutes):
    """The ``FitDecision`` for starting at ``at`` in a merged window ending at ``window_end``."""
    latest = latest_start(window_end, max_run_time_minutes)
    return FitDecision(fits=at <= latest, at=at, latest_start=latest, window_end=window_end,
                       max_run_time_minutes=max_run_time_minutes)


def never_fits(max_run_time_minutes, merged):
    """True when the run time is longer than every merged window given (the update would never start)."""
    needed = datetime.timedelta(minutes=max_run_time_minutes)
    return all(window.end - window.start < needed for window in merged)


def _clock(instant):
    return instant.astimezone(datetime.timezone.utc).strftime("%H:%M")
