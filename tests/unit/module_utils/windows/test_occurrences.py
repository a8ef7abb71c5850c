"""Occurrences (plugins/module_utils/_windows/occurrences.py): the days each recurrence gives, clamping,
offsets across months, interval anchoring, effective/until, rrule, and wall-clock time across DST."""

import datetime

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._windows.definitions import parse_window
from ansible_collections.patchwave.windows.plugins.module_utils._windows.occurrences import occurrences

UTC = datetime.timezone.utc
D = datetime.date


def instant(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def opening_days(definition, first, last):
    """The UTC days a window at 00:00 UTC opens on, from ``first`` to ``last`` inclusive."""
    raw = dict({"name": "w", "start": "00:00", "duration_minutes": 60}, **definition)
    start = datetime.datetime.combine(first, datetime.time(), UTC)
    end = datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time(), UTC)
    return [o.start.date() for o in occurrences(parse_window(raw), start, end)]


def monthly(**recurrence):
    return {"recurrence": dict({"frequency": "monthly"}, **recurrence)}


@pytest.mark.parametrize("definition, first, last, days", [
    # daily, every day and every third day counted from effective
    ({"recurrence": {"frequency": "daily"}}, D(2026, 1, 30), D(2026, 2, 2),
     [D(2026, 1, 30), D(2026, 1, 31), D(2026, 2, 1), D(2026, 2, 2)]),
    ({"recurrence": {"frequency": "daily", "interval": 3}, "effective": "2026-01-01"}, D(2026, 1, 9), D(2026, 1, 16),
     [D(2026, 1, 10), D(2026, 1, 13), D(2026, 1, 16)]),
    # weekly: every second week counted from the week holding effective (Wed 7 Jan: Monday 5 Jan, before it)
    ({"recurrence": {"frequency": "weekly", "interval": 2, "days": ["monday", "friday"]}, "effective": "2026-01-07"},
     D(2026, 1, 1), D(2026, 2, 8), [D(2026, 1, 9), D(2026, 1, 19), D(2026, 1, 23), D(2026, 2, 2), D(2026, 2, 6)]),
    ({"recurrence": {"frequency": "weekly", "days": ["saturday"]}}, D(2026, 12, 1), D(2026, 12, 14),
     [D(2026, 12, 5), D(2026, 12, 12)]),
    # monthly day_of_month clamps to the month's last day; `last` is the last day
    (monthly(day_of_month=31), D(2026, 1, 1), D(2026, 4, 30),
     [D(2026, 1, 31), D(2026, 2, 28), D(2026, 3, 31), D(2026, 4, 30)]),
    (monthly(day_of_month=30), D(2028, 2, 1), D(2028, 2, 29), [D(2028, 2, 29)]),
    (monthly(day_of_month="last"), D(2028, 1, 1), D(2028, 3, 31), [D(2028, 1, 31), D(2028, 2, 29), D(2028, 3, 31)]),
    # week + day: Patch Tuesday, the fourth Monday, the last Friday
    (monthly(week="second", day="tuesday"), D(2026, 11, 1), D(2027, 1, 31),
     [D(2026, 11, 10), D(2026, 12, 8), D(2027, 1, 12)]),
    (monthly(week="fourth", day="monday"), D(2026, 2, 1), D(2026, 2, 28), [D(2026, 2, 23)]),
    (monthly(week="last", day="friday"), D(2026, 1, 1), D(2026, 2, 28), [D(2026, 1, 30), D(2026, 2, 27)]),
    # offsets: "second Tuesday + 5 days"; across into the next month; back into the previous one
    (monthly(week="second", day="tuesday", offset_days=5), D(2026, 12, 1), D(2026, 12, 31), [D(2026, 12, 13)]),
    (monthly(day_of_month="last", offset_days=1), D(2026, 2, 1), D(2026, 4, 1),
     [D(2026, 2, 1), D(2026, 3, 1), D(2026, 4, 1)]),
    (monthly(day_of_month=1, offset_days=-1), D(2026, 1, 1), D(2026, 3, 31),
     [D(2026, 1, 31), D(2026, 2, 28), D(2026, 3, 31)]),
    # an offset crossing months stays with the month it was derived from: every second month from January,
    # so January's occurrence opens in February and none is derived from February
    (dict(monthly(week="second", day="tuesday", interval=2, offset_days=27), effective="2026-01-01"),
     D(2026, 1, 1), D(2026, 4, 30), [D(2026, 2, 9), D(2026, 4, 6)]),
    (dict(monthly(day_of_month=1, interval=3), effective="2026-02-15"), D(2026, 1, 1), D(2026, 12, 31),
     [D(2026, 5, 1), D(2026, 8, 1), D(2026, 11, 1)]),
    # effective and until bound the day the window opens, after the offset
    (dict(monthly(day_of_month="last", offset_days=1), effective="2026-02-01", until="2026-03-31"),
     D(2026, 1, 1), D(2026, 6, 30), [D(2026, 2, 1), D(2026, 3, 1)]),
    ({"recurrence": {"frequency": "daily"}, "effective": "2026-03-30", "until": "2026-04-01"}, D(2026, 3, 1),
     D(2026, 4, 30), [D(2026, 3, 30), D(2026, 3, 31), D(2026, 4, 1)]),
    # one-off
    ({"date": "2026-12-24"}, D(2026, 12, 1), D(2026, 12, 31), [D(2026, 12, 24)]),
    ({"date": "2026-12-24"}, D(2027, 1, 1), D(2027, 1, 31), []),
    # rrule: the days from dateutil, anchored at effective when INTERVAL needs it
    ({"rrule": "FREQ=MONTHLY;BYDAY=2TU"}, D(2026, 11, 1), D(2027, 1, 31),
     [D(2026, 11, 10), D(2026, 12, 8), D(2027, 1, 12)]),
    ({"rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=SA", "effective": "2026-01-03"}, D(2026, 1, 1), D(2026, 2, 10),
     [D(2026, 1, 3), D(2026, 1, 17), D(2026, 1, 31)]),
    ({"rrule": "FREQ=DAILY;COUNT=2", "effective": "2026-01-03"}, D(2026, 1, 1), D(2026, 2, 10),
     [D(2026, 1, 3), D(2026, 1, 4)]),
    ({"rrule": "FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=24"}, D(2026, 1, 1), D(2027, 12, 31),
     [D(2026, 12, 24), D(2027, 12, 24)]),
])
def test_opening_days(definition, first, last, days):
    assert opening_days(definition, first, last) == days


@pytest.mark.parametrize("zone, day, start, opens, note", [
    ("Europe/Berlin", "2026-03-28", "22:00", "2026-03-28T21:00:00Z", "CET before the change"),
    ("Europe/Berlin", "2026-03-29", "22:00", "2026-03-29T20:00:00Z", "CEST after it"),
    ("Europe/Berlin", "2026-03-29", "02:30", "2026-03-29T01:30:00Z", "in the gap: forward by the gap, 03:30 CEST"),
    ("Europe/Berlin", "2026-03-29", "02:00", "2026-03-29T01:00:00Z", "the gap's first minute: 03:00 CEST"),
    ("Europe/Berlin", "2026-03-29", "01:59", "2026-03-29T00:59:00Z", "just before the gap"),
    ("Europe/Berlin", "2026-10-25", "02:30", "2026-10-25T00:30:00Z", "ambiguous: the first 02:30 (CEST)"),
    ("America/New_York", "2026-03-08", "02:15", "2026-03-08T07:15:00Z", "in the gap: 03:15 EDT"),
    ("America/New_York", "2026-11-01", "01:30", "2026-11-01T05:30:00Z", "ambiguous: the first 01:30 (EDT)"),
    ("UTC", "2026-03-28", "22:00", "2026-03-28T22:00:00Z", "UTC before Europe's change"),
    ("UTC", "2026-03-29", "22:00", "2026-03-29T22:00:00Z", "UTC after it: no drift"),
    ("UTC", "2026-10-25", "22:00", "2026-10-25T22:00:00Z", "UTC after the fall-back: no drift"),
])
def test_wall_clock_across_dst(zone, day, start, opens, note):
    window = parse_window({"name": "w", "timezone": zone, "start": start, "duration_minutes": 60, "date": day})
    found = list(occurrences(window, instant(day + "T00:00:00Z") - datetime.timedelta(days=2),
                             instant(day + "T00:00:00Z") + datetime.timedelta(days=2)))
    assert [o.start for o in found] == [instant(opens)], note
    assert found[0].end - found[0].start == datetime.timedelta(minutes=60)


def test_duration_is_elapsed_time_across_a_change():
    # 01:00 CEST on the fall-back night, four hours long: closes at 04:00 CET, not 05:00
    window = parse_window({"name": "w", "timezone": "Europe/Berlin", "start": "01:00", "duration_minutes": 240,
                           "date": "2026-10-25"})
    (found,) = occurrences(window, instant("2026-10-24T00:00:00Z"), instant("2026-10-26T00:00:00Z"))
    assert (found.start, found.end) == (instant("2026-10-24T23:00:00Z"), instant("2026-10-25T03:00:00Z"))


def test_a_utc_window_does_not_drift_over_a_year():
    window = parse_window({"name": "w", "start": "22:00", "duration_minutes": 60,
                           "recurrence": {"frequency": "weekly", "days": ["saturday"]}})
    found = list(occurrences(window, instant("2026-01-01T00:00:00Z"), instant("2027-01-01T00:00:00Z")))
    assert len(found) == 52
    assert {o.start.time() for o in found} == {datetime.time(22)}


def test_local_zone_is_the_host_timezone_else_utc():
    window = parse_window({"name": "w", "timezone": "local", "start": "22:00", "duration_minutes": 60,
                           "date": "2026-07-01"})
    span = (instant("2026-06-30T00:00:00Z"), instant("2026-07-03T00:00:00Z"))
    assert next(occurrences(window, *span, host_timezone="Europe/Berlin")).start == instant("2026-07-01T20:00:00Z")
    assert next(occurrences(window, *span)).start == instant("2026-07-01T22:00:00Z")


def test_a_window_open_at_the_start_of_the_range_is_included():
    window = parse_window({"name": "w", "start": "22:00", "duration_minutes": 240, "date": "2026-12-05"})
    assert len(list(occurrences(window, instant("2026-12-06T01:00:00Z"), instant("2026-12-07T00:00:00Z")))) == 1
    assert list(occurrences(window, instant("2026-12-06T02:00:00Z"), instant("2026-12-07T00:00:00Z"))) == []
