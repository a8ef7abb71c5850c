"""Benchmark: maintenance window computation, the next 100 windows for 10,000 hosts with 3 windows each.

Each host has three windows drawn with a fixed seed from the shapes users write (weekly on some days,
daily, monthly on a day of the month or the last day, monthly on the nth or last weekday such as
Patch Tuesday, an RFC 5545 ``rrule``), at random start times and durations, in UTC or one of six IANA
zones; some are ``software_updates`` windows. Timed, in the same process, sides alternating, best of
N rounds (3):

(a) **patchwave** -- per host, the raw definitions checked (``definitions.parse_windows``) and
    ``merge.current_and_next(windows, at, count=100, applies_to="all")``: occurrences in UTC through
    each window's zone, merged where they overlap or touch, the next 100 merged windows.
(b) **bare dateutil** -- per host, the same three rules as ``dateutil.rrule`` objects (naive wall-clock
    DTSTART, no zone, no duration, no merging) in one ``rruleset``, its next 100 occurrences after the
    same instant, within the same 400 days. Goal: (a) <= 2 x (b). (a) finds fewer windows than (b)
    finds occurrences where windows merge.

Offsets (``offset_days``) and day-of-month clamping, which RRULE cannot say, are left out of the drawn
windows so both sides compute the same days. Check, printed: for a sample of hosts, every merged window
of (a) opens at an occurrence of (b) made an instant in the window's zone.

Usage: bench_windows.py [--quick] [--hosts N] [--count N] [--rounds N]
"""

import argparse
import datetime
import json
import os
import random
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(REPO, ".build", "collections")
sys.path.insert(0, COLLECTIONS)

SEED = 12
GOAL = 2.0
HORIZON_DAYS = 400  # both sides look this far ahead (the module's horizon)
AT = datetime.datetime(2026, 12, 5, 12, 0, tzinfo=datetime.timezone.utc)
EFFECTIVE = datetime.date(2026, 1, 1)
ZONES = ("UTC", "UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "America/Sao_Paulo",
         "Europe/London")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
RRULE_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
WEEKS = (("first", 1), ("second", 2), ("third", 3), ("fourth", 4), ("last", -1))


def _link_collection():
    link = os.path.join(COLLECTIONS, "ansible_collections", "patchwave", "windows")
    if not os.path.islink(link) and not os.path.isdir(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(REPO, link)


def draw_window(rng, name):
    """One raw definition; weights roughly as fleets use them."""
    start = "%02d:%02d" % (rng.randrange(24), rng.choice((0, 15, 30, 45)))
    window = {"name": name, "timezone": rng.choice(ZONES), "start": start,
              "duration_minutes": rng.choice((60, 120, 180, 240, 360)),
              "applies_to": rng.choice(("all", "software_updates"))}
    shape = rng.random()
    if shape < 0.35:
        days = sorted(rng.sample(range(7), rng.randint(1, 3)))
        window["recurrence"] = {"frequency": "weekly", "days": [WEEKDAYS[d] for d in days]}
        if rng.random() < 0.3:
            window["recurrence"]["interval"] = 2
            window["effective"] = EFFECTIVE.isoformat()
    elif shape < 0.5:
        window["recurrence"] = {"frequency": "daily"}
    elif shape < 0.65:
        window["recurrence"] = {"frequency": "monthly", "day_of_month": rng.choice((1, 15, 28, "last"))}
    elif shape < 0.9:
        week = rng.choice(WEEKS)[0]
        window["recurrence"] = {"frequency": "monthly", "week": week, "day": rng.choice(WEEKDAYS)}
    else:
        window["rrule"] = "FREQ=MONTHLY;BYDAY=%d%s" % (rng.randint(1, 4), rng.choice(RRULE_DAYS))
    return window


def draw_hosts(hosts, seed=SEED):
    rng = random.Random(seed)
    return [[draw_window(rng, "w%d" % n) for n in range(3)] for _host in range(hosts)]


def as_rrule(window):
    """The same days (and wall-clock start) as a dateutil rrule with a naive DTSTART."""
    from dateutil import rrule  # pylint: disable=import-outside-toplevel

    hour, minute = (int(p) for p in window["start"].split(":"))
    dtstart = datetime.datetime.combine(datetime.date.fromisoformat(window.get("effective", "2026-01-01")),
                                        datetime.time(hour, minute))
    if "rrule" in window:
        return rrule.rrulestr(window["rrule"], dtstart=dtstart)
    recurrence = window["recurrence"]
    interval = recurrence.get("interval", 1)
    if recurrence["frequency"] == "daily":
        return rrule.rrule(rrule.DAILY, interval=interval, dtstart=dtstart)
    if recurrence["frequency"] == "weekly":
        days = [rrule.weekdays[WEEKDAYS.index(d)] for d in recurrence["days"]]
        return rrule.rrule(rrule.WEEKLY, interval=interval, byweekday=days, dtstart=dtstart, wkst=rrule.MO)
    if "day_of_month" in recurrence:
        day = recurrence["day_of_month"]
        return rrule.rrule(rrule.MONTHLY, interval=interval, bymonthday=-1 if day == "last" else day, dtstart=dtstart)
    nth = dict(WEEKS)[recurrence["week"]]
    weekday = rrule.weekdays[WEEKDAYS.index(recurrence["day"])](nth)
    return rrule.rrule(rrule.MONTHLY, interval=interval, byweekday=weekday, dtstart=dtstart)


def run_patchwave(hosts, count):
    from ansible_collections.patchwave.windows.plugins.module_utils._windows.definitions import parse_windows
    from ansible_collections.patchwave.windows.plugins.module_utils._windows.merge import current_and_next

    found = 0
    results = []
    for raw in hosts:
        state = current_and_next(parse_windows(raw), AT, count=count, applies_to="all")
        found += len(state.next)
        results.append(state)
    return found, results


def run_dateutil(hosts, count):
    from dateutil import rrule  # pylint: disable=import-outside-toplevel

    after = AT.replace(tzinfo=None)
    horizon = after + datetime.timedelta(days=HORIZON_DAYS)
    found = 0
    results = []
    for raw in hosts:
        rules = rrule.rruleset()
        for window in raw:
            rules.rrule(as_rrule(window))
        taken = []
        for moment in rules.xafter(after):
            if moment > horizon:
                break
            taken.append(moment)
            if len(taken) == count:
                break
        found += len(taken)
        results.append(taken)
    return found, results


def check(hosts, ours, theirs, sample=200):
    """Every merged window of ours opens at one of the bare occurrences made an instant in its zone."""
    import zoneinfo  # pylint: disable=import-outside-toplevel

    wrong = 0
    for raw, state, _bare in list(zip(hosts, ours, theirs))[:sample]:
        opens = set()
        for window in raw:
            zone = datetime.timezone.utc if window["timezone"] == "UTC" else zoneinfo.ZoneInfo(window["timezone"])
            rule = as_rrule(window)
            for moment in rule.xafter(AT.replace(tzinfo=None) - datetime.timedelta(days=2)):
                instant = moment.replace(tzinfo=zone).astimezone(datetime.timezone.utc)
                opens.add(instant)
                if state.next and instant > state.next[-1].start:
                    break
        wrong += sum(1 for merged in state.next if merged.start not in opens)
    return wrong


def main(hosts=10000, count=100, rounds=3):
    _link_collection()
    data = draw_hosts(hosts)
    sides = {"patchwave": run_patchwave, "bare_dateutil": run_dateutil}
    best = {name: None for name in sides}
    outputs = {}
    for round_number in range(rounds):
        order = list(sides) if round_number % 2 == 0 else list(reversed(sides))
        for name in order:
            began = time.perf_counter()
            found, outputs[name] = sides[name](data, count)
            seconds = time.perf_counter() - began
            best[name] = seconds if best[name] is None else min(best[name], seconds)
            outputs[name + "_found"] = found
    ratio = best["patchwave"] / best["bare_dateutil"]
    wrong = check(data, outputs["patchwave"], outputs["bare_dateutil"])
    return {"benchmark": "maintenance window computation", "hosts": hosts, "windows_per_host": 3,
            "next_windows": count, "rounds": rounds, "at": AT.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "patchwave_seconds": round(best["patchwave"], 3), "bare_dateutil_seconds": round(best["bare_dateutil"], 3),
            "patchwave_windows_found": outputs["patchwave_found"],
            "bare_dateutil_occurrences_found": outputs["bare_dateutil_found"],
            "ratio": round(ratio, 2), "goals": {"ratio_max": GOAL}, "check_mismatches": wrong,
            "met": {"ratio": ratio <= GOAL, "check": wrong == 0}}


def _arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 500 hosts, 1 round")
    parser.add_argument("--hosts", type=int)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--rounds", type=int)
    args = parser.parse_args(argv)
    return dict(hosts=args.hosts or (500 if args.quick else 10000), count=args.count,
                rounds=args.rounds or (1 if args.quick else 3))


if __name__ == "__main__":
    print(json.dumps(main(**_arguments(sys.argv[1:])), indent=2))
