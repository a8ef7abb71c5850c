"""Merging (plugins/module_utils/_windows/merge.py): overlapping and touching windows merge, the type
precedence of software-updates windows, a host without windows is inside, and the fit rule against the
merged window (fit.py)."""

import datetime

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._windows.definitions import parse_windows
from ansible_collections.patchwave.windows.plugins.module_utils._windows.fit import fit, latest_start, never_fits
from ansible_collections.patchwave.windows.plugins.module_utils._windows.merge import (
    MergedWindow,
    current_and_next,
    in_window,
    merged_windows,
)


def instant(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def one_off(name, start, minutes, day="2026-12-05", applies_to="all"):
    return {"name": name, "start": start, "duration_minutes": minutes, "date": day, "applies_to": applies_to}


def spans(definitions, applies_to="software_updates"):
    found = merged_windows(parse_windows(definitions), instant("2026-12-01T00:00:00Z"),
                           instant("2026-12-31T00:00:00Z"), applies_to)
    return [(w.start.strftime("%dT%H:%M"), w.end.strftime("%dT%H:%M"), w.names) for w in found]


@pytest.mark.parametrize("definitions, expected", [
    ([one_off("a", "22:00", 120), one_off("b", "23:00", 120)], [("05T22:00", "06T01:00", ("a", "b"))]),
    ([one_off("a", "22:00", 60), one_off("b", "23:00", 60)], [("05T22:00", "06T00:00", ("a", "b"))]),
    ([one_off("a", "22:00", 60), one_off("b", "23:01", 60)],
     [("05T22:00", "05T23:00", ("a",)), ("05T23:01", "06T00:01", ("b",))]),
    ([one_off("b", "23:00", 30), one_off("a", "22:00", 240)], [("05T22:00", "06T02:00", ("a", "b"))]),
    # ConfigMgr's complaint: three overlapping 61-minute windows are one window of 181 minutes here
    ([one_off("x", "01:00", 61), one_off("y", "02:00", 61), one_off("z", "03:00", 61)],
     [("05T01:00", "05T04:01", ("x", "y", "z"))]),
    # a daily window touching a one-off one on one day only
    ([{"name": "d", "start": "20:00", "duration_minutes": 60, "recurrence": {"frequency": "daily"},
       "effective": "2026-12-04", "until": "2026-12-06"}, one_off("o", "21:00", 30)],
     [("04T20:00", "04T21:00", ("d",)), ("05T20:00", "05T21:30", ("d", "o")), ("06T20:00", "06T21:00", ("d",))]),
])
def test_overlapping_and_touching_windows_merge(definitions, expected):
    assert spans(definitions) == expected


@pytest.mark.parametrize("definitions, applies_to, expected_names", [
    # a software-updates window exists: only those count for updates
    ([one_off("all", "01:00", 60), one_off("su", "03:00", 60, applies_to="software_updates")], "software_updates",
     [("su",)]),
    # ... and they do not merge with the all window they touch
    ([one_off("all", "01:00", 120), one_off("su", "03:00", 60, applies_to="software_updates")], "software_updates",
     [("su",)]),
    # work of every kind counts every window
    ([one_off("all", "01:00", 120), one_off("su", "03:00", 60, applies_to="software_updates")], "all",
     [("all", "su")]),
    # only all windows: they count for updates
    ([one_off("a1", "01:00", 60), one_off("a2", "03:00", 60)], "software_updates", [("a1",), ("a2",)]),
])
def test_type_precedence(definitions, applies_to, expected_names):
    assert [names for _s, _e, names in spans(definitions, applies_to)] == expected_names


def test_no_windows_means_always_inside():
    state = current_and_next([], instant("2026-12-05T12:00:00Z"))
    assert state.in_window and state.unrestricted and state.current is None and state.next == ()
    assert in_window([], instant("2026-12-05T12:00:00Z"))


def test_current_and_next():
    windows = parse_windows([
        {"name": "sat-night", "timezone": "Europe/Berlin", "start": "22:00", "duration_minutes": 240,
         "recurrence": {"frequency": "weekly", "days": ["saturday"]}},
        {"name": "extra", "start": "23:00", "duration_minutes": 300, "date": "2026-12-05"}])
    state = current_and_next(windows, instant("2026-12-06T00:00:00Z"), count=2)
    assert state.in_window and not state.unrestricted
    assert state.current == MergedWindow(instant("2026-12-05T21:00:00Z"), instant("2026-12-06T04:00:00Z"),
                                         ("sat-night", "extra"))
    assert state.current.name == "sat-night"
    assert [w.start for w in state.next] == [instant("2026-12-12T21:00:00Z"), instant("2026-12-19T21:00:00Z")]

    outside = current_and_next(windows, instant("2026-12-06T04:00:00Z"), count=1)
    assert not outside.in_window and outside.current is None
    assert outside.next[0].start == instant("2026-12-12T21:00:00Z")
    assert not in_window(windows, instant("2026-12-06T04:00:00Z"))
    assert in_window(windows, instant("2026-12-05T21:00:00Z"))


def test_windows_that_never_open_within_the_horizon():
    windows = parse_windows([one_off("past", "01:00", 60, day="2020-01-01")])
    state = current_and_next(windows, instant("2026-12-06T00:00:00Z"))
    assert not state.in_window and state.next == ()


@pytest.mark.parametrize("call, message", [
    (lambda: list(merged_windows([], instant("2026-01-01T00:00:00Z"), instant("2027-02-06T00:00:00Z"))),
     "at most 400 days"),
    (lambda: list(merged_windows([], datetime.datetime(2026, 1, 1), instant("2026-02-01T00:00:00Z"))),
     "start must be an aware datetime"),
    (lambda: current_and_next([], instant("2026-01-01T00:00:00Z"), count=-1), "count must be 0 or more"),
    (lambda: current_and_next([], instant("2026-01-01T00:00:00Z"), horizon_days=401), "horizon_days must be"),
])
def test_bad_calls(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("at, minutes, fits, latest", [
    ("02:00", 60, True, "03:01"),
    ("03:01", 60, True, "03:01"),
    ("03:02", 60, False, "03:01"),
    ("01:00", 181, True, "01:00"),
    ("01:00", 182, False, "00:59"),
])
def test_fit_against_the_merged_window(at, minutes, fits, latest):
    # the three 61-minute windows, merged: 01:00 to 04:01; a 120-minute update fits, as ConfigMgr's does not
    (merged,) = merged_windows(parse_windows([one_off("x", "01:00", 61), one_off("y", "02:00", 61),
                                              one_off("z", "03:00", 61)]),
                               instant("2026-12-05T00:00:00Z"), instant("2026-12-06T00:00:00Z"))
    decision = fit(instant("2026-12-05T%s:00Z" % at), merged.end, minutes)
    assert decision.fits is fits
    assert decision.latest_start == latest_start(merged.end, minutes) == instant("2026-12-05T%s:00Z" % latest)
    assert fit(merged.start, merged.end, 120).fits
    assert not never_fits(181, [merged]) and never_fits(182, [merged])


def test_fit_reason_says_the_figures():
    decision = fit(instant("2026-12-05T02:10:00Z"), instant("2026-12-05T02:45:00Z"), 60)
    assert not decision.fits
    assert decision.reason() == "would start 02:10, needs 60 min, window ends 02:45"
    with pytest.raises(ValueError):
        latest_start(instant("2026-12-05T02:45:00Z"), -1)
