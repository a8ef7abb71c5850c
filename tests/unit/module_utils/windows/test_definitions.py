"""Window definitions (plugins/module_utils/_windows/definitions.py): host variables merged, every field
checked, every bad definition failing with the window and the field named."""

import datetime

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._windows import definitions as d

BASE = {"name": "w", "start": "22:00", "duration_minutes": 60, "recurrence": {"frequency": "daily"}}


def window(**changes):
    raw = dict(BASE)
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    return raw


def test_a_full_definition():
    parsed = d.parse_window({
        "name": "sat-night", "timezone": "Europe/Berlin", "start": "22:00", "duration_minutes": 240,
        "recurrence": {"frequency": "weekly", "interval": 2, "days": ["Saturday", "sunday"], "offset_days": 1},
        "effective": "2026-01-01", "until": datetime.date(2027, 12, 31), "applies_to": "software_updates"})
    assert parsed == d.WindowDefinition(
        name="sat-night", timezone="Europe/Berlin", start=datetime.time(22), duration_minutes=240,
        applies_to="software_updates", recurrence=d.Recurrence("weekly", 2, days=(5, 6), offset_days=1),
        effective=datetime.date(2026, 1, 1), until=datetime.date(2027, 12, 31))


@pytest.mark.parametrize("raw, expected", [
    (window(), {"timezone": "UTC", "applies_to": "all", "recurrence": d.Recurrence("daily")}),
    (window(timezone="local"), {"timezone": "local"}),
    (window(recurrence={"frequency": "monthly", "day_of_month": "last"}),
     {"recurrence": d.Recurrence("monthly", day_of_month="last")}),
    (window(recurrence={"frequency": "monthly", "week": "last", "day": "friday", "offset_days": -6}),
     {"recurrence": d.Recurrence("monthly", week=-1, day=4, offset_days=-6)}),
    (window(recurrence={"frequency": "weekly", "days": "monday"}), {"recurrence": d.Recurrence("weekly", days=(0,))}),
    (window(recurrence=None, date="2026-12-24"), {"date": datetime.date(2026, 12, 24), "recurrence": None}),
    (window(recurrence=None, rrule="RRULE:FREQ=MONTHLY;BYDAY=2TU"), {"rrule": "FREQ=MONTHLY;BYDAY=2TU"}),
    (window(start="7:05"), {"start": datetime.time(7, 5)}),
])
def test_defaults_and_normal_forms(raw, expected):
    parsed = d.parse_window(raw)
    for field, value in expected.items():
        assert getattr(parsed, field) == value


@pytest.mark.parametrize("raw, message", [
    ({"start": "22:00"}, "window 1: name: required"),
    (window(timezone="Mars/Olympus"), "window 'w': timezone: unknown time zone 'Mars/Olympus'"),
    (window(timezone="../etc/passwd"), "window 'w': timezone: unknown time zone"),
    (window(start=None), "window 'w': start: required"),
    (window(start=1320), "window 'w': start: 1320 is not a time: quote it"),
    (window(start="24:00"), "window 'w': start: '24:00' is not a wall-clock time"),
    (window(duration_minutes=None), "window 'w': duration_minutes: required"),
    (window(duration_minutes=4), "window 'w': duration_minutes: 4 is out of range: 5 to 1439"),
    (window(duration_minutes=1440), "window 'w': duration_minutes: 1440 is out of range"),
    (window(duration_minutes="60"), "window 'w': duration_minutes: required, a whole number"),
    (window(applies_to="task_sequences"), "window 'w': applies_to: 'task_sequences' is not one of"),
    (window(colour="blue"), "window 'w': colour: unknown field"),
    (window(recurrence=None), "window 'w': date: required for a one-off window"),
    (window(date="2026-12-24"), "window 'w': date: a one-off window has no recurrence"),
    (window(date="24.12.2026", recurrence=None), "window 'w': date: '24.12.2026' is not a date"),
    (window(effective="2027-01-01", until="2026-01-01"), "window 'w': until: 2026-01-01 is before effective"),
    (window(rrule="FREQ=DAILY"), "window 'w': rrule: give either recurrence or rrule, not both"),
    (window(recurrence={"frequency": "hourly"}), "window 'w': recurrence.frequency: 'hourly' is not one of"),
    (window(recurrence={"frequency": "daily", "interval": 0}), "window 'w': recurrence.interval: a whole number"),
    (window(recurrence={"frequency": "daily", "interval": 2}), "window 'w': effective: required with an interval"),
    (window(recurrence={"frequency": "daily", "offset_days": 28}), "window 'w': recurrence.offset_days: '28' is out"),
    (window(recurrence={"frequency": "daily", "offset_days": -7}), "window 'w': recurrence.offset_days: '-7' is out"),
    (window(recurrence={"frequency": "daily", "days": ["monday"]}), "window 'w': recurrence.days: not used with"),
    (window(recurrence={"frequency": "weekly"}), "window 'w': recurrence.days: required for weekly"),
    (window(recurrence={"frequency": "weekly", "days": ["saturday", "caturday"]}),
     "window 'w': recurrence.days: unknown weekday 'caturday'"),
    (window(recurrence={"frequency": "monthly"}), "window 'w': recurrence.day_of_month: monthly needs"),
    (window(recurrence={"frequency": "monthly", "day_of_month": 32}), "window 'w': recurrence.day_of_month: '32'"),
    (window(recurrence={"frequency": "monthly", "day_of_month": 1, "week": "first", "day": "monday"}),
     "window 'w': recurrence.day_of_month: give either"),
    (window(recurrence={"frequency": "monthly", "week": "second"}), "window 'w': recurrence.day: required with week"),
    (window(recurrence={"frequency": "monthly", "day": "tuesday"}), "window 'w': recurrence.week: required with day"),
    (window(recurrence={"frequency": "monthly", "week": "fifth", "day": "tuesday"}),
     "window 'w': recurrence.week: 'fifth' is not one of"),
    (window(recurrence={"frequency": "monthly", "week": "first", "day": "funday"}),
     "window 'w': recurrence.day: unknown weekday 'funday'"),
    (window(recurrence={"frequency": "weekly", "days": ["monday"], "every": 2}), "window 'w': recurrence.every: unknown"),
    (window(recurrence=None, rrule="FREQ=SOMETIMES"), "window 'w': rrule: FREQ must be one of"),
    (window(recurrence=None, rrule="FREQ=HOURLY"), "window 'w': rrule: FREQ must be one of"),
    (window(recurrence=None, rrule="FREQ=MONTHLY;BYDAY=2XX"), "window 'w': rrule: 'FREQ=MONTHLY;BYDAY=2XX' does not parse"),
    (window(recurrence=None, rrule="FREQ=DAILY;BYHOUR=3"), "window 'w': rrule: BYHOUR is refused"),
    (window(recurrence=None, rrule="FREQ=DAILY;BYMINUTE=3"), "window 'w': rrule: BYMINUTE is refused"),
    (window(recurrence=None, rrule="FREQ=DAILY;BYSECOND=3"), "window 'w': rrule: BYSECOND is refused"),
    (window(recurrence=None, rrule="DTSTART:20260101T000000\nRRULE:FREQ=DAILY"), "window 'w': rrule: one RRULE line"),
    (window(recurrence=None, rrule="FREQ=DAILY;DTSTART=20260101"), "window 'w': rrule: DTSTART is refused"),
    (window(recurrence=None, rrule="FREQ=DAILY;INTERVAL=2"), "window 'w': effective: required with an rrule"),
    (window(recurrence=None, rrule="FREQ=WEEKLY"), "window 'w': effective: required with an rrule"),
])
def test_bad_definitions_name_the_window_and_the_field(raw, message):
    with pytest.raises(d.WindowDefinitionError) as caught:
        d.parse_window(raw)
    assert message in str(caught.value)


def test_names_are_unique_per_host():
    with pytest.raises(d.WindowDefinitionError, match="window 'w': name: defined twice"):
        d.parse_windows([window(), window(start="23:00")])


def test_host_variables_merge_every_prefixed_list():
    site = [window(name="site")]
    hostvars = {"patchwave_maintenance_windows_sql": [window(name="sql")], "patchwave_maintenance_windows": site,
                "patchwave_maintenance_windows_site": site, "patchwave_maintenance_windows_none": None,
                "other": [window(name="not-a-window")]}
    assert [w["name"] for w in d.host_windows(hostvars)] == ["site", "sql"]
    assert d.host_windows({}) == []


@pytest.mark.parametrize("value, message", [
    ("sat-night", "host variable 'patchwave_maintenance_windows_x': a list of maintenance windows is expected"),
    (["sat-night"], "host variable 'patchwave_maintenance_windows_x': item 1 is not a window definition"),
])
def test_host_variables_that_are_not_lists_of_windows(value, message):
    with pytest.raises(d.WindowDefinitionError, match=message):
        d.host_windows({"patchwave_maintenance_windows_x": value})
