"""The controller's plan of an install (plugins/module_utils/_install/plan.py), pure: eligibility, the
order of the work and its Install() calls, the fit rule against the merged window with the host's
clock offset, and the check-mode plan."""

import datetime

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.rules import HostStatus, ScanFacts
from ansible_collections.patchwave.windows.plugins.module_utils._install import plan as p
from ansible_collections.patchwave.windows.plugins.module_utils._prepare.templates import randomized_offset
from ansible_collections.patchwave.windows.plugins.module_utils._windows.definitions import parse_windows
from ansible_collections.patchwave.windows.plugins.module_utils._windows.merge import MergedWindow, WindowState


def at(text):
    """``05T01:30`` (December 2026) or a full ISO time, as an aware UTC datetime."""
    if len(text) == 8:
        text = "2026-12-%s:00Z" % text
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def z(text):
    return at(text).strftime("%Y-%m-%dT%H:%M:%SZ")


def deployment(**given):
    value = {"name": "pilot", "targets": ["pilot", "canary"], "type": "required",
             "available": "2026-12-04T18:00:00Z", "deadline": "2026-12-10T18:00:00Z",
             "settings": {"deadline_randomization_minutes": 0, "reboot": "if_required",
                          "reboot_outside_window": False, "ignore_windows_after_deadline": False}}
    settings = given.pop("settings", {})
    value.update(given)
    value["settings"] = dict(value["settings"], **settings)
    return value


def update(uid, minutes=60, kb=None, title=None, classification="Security Updates", impact="Normal",
           prerequisites=(), reboot_behavior="NeverReboots"):
    return {"update_id": uid, "kb": kb, "title": title or "Update %s" % uid, "classification": classification,
            "impact": impact, "max_run_time_minutes": minutes, "prerequisites": [list(c) for c in prerequisites],
            "reboot_behavior": reboot_behavior}


def one_off(name, start, minutes, day="2026-12-05", applies_to="all"):
    return {"name": name, "start": start, "duration_minutes": minutes, "date": day, "applies_to": applies_to}


# -- eligibility --------------------------------------------------------------------------------

@pytest.mark.parametrize("given, groups, now, optional, reason", [
    ({}, ["windows", "pilot"], "05T01:00", False, None),
    ({}, ["windows"], "05T01:00", False, "not_targeted"),
    ({}, [], "05T01:00", False, "not_targeted"),
    ({}, ["canary"], "04T17:59", False, "not_available_yet"),
    ({}, ["canary"], "04T18:00", False, None),                            # available at the instant itself
    ({"type": "available", "deadline": None}, ["pilot"], "05T01:00", False, "optional"),
    ({"type": "available", "deadline": None}, ["pilot"], "05T01:00", True, None),
    ({"type": "available", "deadline": None}, ["pilot"], "04T12:00", True, "not_available_yet"),
    ({"type": "available", "deadline": None}, ["web"], "04T12:00", True, "not_targeted"),  # targets first
])
def test_eligibility(given, groups, now, optional, reason):
    assert p.eligibility(deployment(**given), "web001", groups, at(now), optional).reason == reason


@pytest.mark.parametrize("spread, host", [(0, "web001"), (120, "web001"), (120, "SQL01"), (30, "sql01")])
def test_the_deadline_is_the_hosts_own(spread, host):
    chosen = deployment(settings={"deadline_randomization_minutes": spread})
    got = p.eligibility(chosen, host, ["pilot"], at("05T01:00"))
    minutes = randomized_offset(chosen["settings"], host)
    assert got.deadline == z("10T18:00") if not minutes else got.deadline == (
        at("10T18:00") + datetime.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert not got.deadline_passed(at("10T17:59")) and got.deadline_passed(at("10T20:01"))
    assert p.eligibility(deployment(type="available", deadline=None), host, ["pilot"], at("05T01:00")).deadline is None


# -- order and Install() calls -------------------------------------------------------------------

SSU = update("ssu", 30, kb="5001", title="2026-12 Servicing Stack Update for Windows Server 2019 (KB5001)",
             impact="RequiresExclusiveHandling")
CU = update("cu", 90, kb="5002", prerequisites=[("ssu",)], reboot_behavior="CanRequestReboot")
DOTNET = update("net", 45, kb="5003")
DEFENDER = update("def", 10, kb="2267602", classification="Definition Updates")
EXCLUSIVE = update("big", 20, kb="5004", impact="RequiresExclusiveHandling")


def ids(batches):
    return [[u["update_id"] for u in batch] for batch in batches]


@pytest.mark.parametrize("work, expected", [
    ([], []),
    ([DOTNET], [["net"]]),
    # shortest first, in one Install() call
    ([DOTNET, DEFENDER], [["def", "net"]]),
    # the servicing stack update first and alone (exclusive), then its CU among the rest by run time
    ([CU, DOTNET, DEFENDER, SSU], [["ssu"], ["def", "net", "cu"]]),
    # an exclusive update is a call of its own, where its run time puts it
    ([DOTNET, EXCLUSIVE, DEFENDER], [["def"], ["big"], ["net"]]),
    # a servicing stack update by classification alone, even when not exclusive
    ([DOTNET, update("ssu2", 50, classification="Servicing Stack Updates")], [["ssu2"], ["net"]]),
    # a prerequisite goes first even when longer; its user starts the next call
    ([update("a", 5, prerequisites=[("b",)]), update("b", 80)], [["b"], ["a"]]),
    # a prerequisite named in an AtLeastOne clause, beside a category id (not in the work), still counts;
    # the prerequisites' group comes before the rest, whatever their run times
    ([update("a", 5, prerequisites=[("cat-1",), ("x", "b")]), update("b", 80), update("c", 10)],
     [["b"], ["a", "c"]]),
    # a chain: c needs b needs a
    ([update("c", 1, prerequisites=[("b",)]), update("b", 2, prerequisites=[("a",)]), update("a", 3)],
     [["a"], ["b"], ["c"]]),
    # ties by KB (as numbers), then update id; no KB last
    ([update("z", 30, kb="900"), update("y", 30, kb="1000"), update("x", 30), update("w", 30),
      update("v", 30, kb="900")], [["v", "z", "y", "w", "x"]]),
    # a cycle (the catalog should hold none) still orders every update once
    ([update("a", 5, prerequisites=[("b",)]), update("b", 9, prerequisites=[("a",)])], [["a"], ["b"]]),
])
def test_order_work(work, expected):
    assert ids(p.order_work(work)) == expected


# -- the fit rule ---------------------------------------------------------------------------------

MERGED = MergedWindow(at("05T01:00"), at("05T04:01"), ("x", "y", "z"))   # three 61-minute windows, merged
LATER = MergedWindow(at("06T01:00"), at("06T02:00"), ("x",))


def inside(current=MERGED, following=(LATER,)):
    return WindowState(in_window=True, current=current, next=following)


@pytest.mark.parametrize("work, now, offset, outcomes", [
    # the example: a 120-minute update fits the merged window (ConfigMgr: never installs)
    ([update("cu", 120)], "05T01:00", 0, {"cu": ("install", z("05T02:01"), z("05T02:01"))}),
    ([update("cu", 120)], "05T02:01", 0, {"cu": ("install", z("05T02:01"), z("05T02:01"))}),   # at the instant
    ([update("cu", 120)], "05T02:02", 0, {"cu": ("not_attempted", z("05T02:01"), z("05T02:01"))}),
    # the host's clock is 90 s ahead of the controller's: the worker compares in its own clock
    ([update("cu", 120)], "05T01:00", 90, {"cu": ("install", z("05T02:01"), "2026-12-05T02:02:30Z")}),
    ([update("cu", 120)], "05T01:00", -3600, {"cu": ("install", z("05T02:01"), z("05T01:01"))}),
    ([update("a", 30), update("b", 170)], "05T03:20", 0,
     {"a": ("install", z("05T03:31"), z("05T03:31")), "b": ("not_attempted", z("05T01:11"), z("05T01:11"))}),
])
def test_latest_start_per_update(work, now, offset, outcomes):
    fitted = p.fit(p.order_work(work), inside(), at(now), offset)
    got = {d["update_id"]: (d["outcome"], d["latest_start"], d["latest_start_host"]) for d in fitted["updates"]}
    assert got == outcomes
    assert fitted["batches"] == [[uid for uid, o in outcomes.items() if o[0] == "install"]] if any(
        o[0] == "install" for o in outcomes.values()) else fitted["batches"] == []


def test_an_update_that_does_not_fit_says_the_figures():
    window = inside(MergedWindow(at("05T01:45"), at("05T02:45"), ("w",)), ())
    (decision,) = p.fit([[update("cu", 60, kb="5002")]], window, at("05T02:10"), 0)["updates"]
    assert decision["outcome"] == "not_attempted" and decision["reason"] == "window"
    assert (decision["would_start"], decision["needs_minutes"], decision["window_ends"]) == (
        z("05T02:10"), 60, z("05T02:45"))
    assert decision["message"] == "would start 02:10, needs 60 min, window ends 02:45"
    assert decision["never_fits"] is False and decision["next_window"] is None


def test_the_next_window_is_named_for_one_that_waits():
    (decision,) = p.fit([[update("cu", 60)]], inside(), at("05T03:30"), 0)["updates"]
    assert decision["next_window"] == {"start": z("06T01:00"), "end": z("06T02:00")}


def test_worst_case_start_after_the_updates_before():
    # 01:00 to 04:01: 60 + 90 take until 03:30; the 45-minute one would start 03:30 and overrun in the
    # worst case, so it may wait; the worker decides when it gets there
    fitted = p.fit(p.order_work([update("a", 60), update("b", 90), update("c", 45)]), inside(), at("05T01:00"), 0)
    by_id = {d["update_id"]: d for d in fitted["updates"]}
    assert [d["update_id"] for d in fitted["updates"]] == ["c", "a", "b"]
    assert (by_id["c"]["would_start"], by_id["a"]["would_start"], by_id["b"]["would_start"]) == (
        z("05T01:00"), z("05T01:45"), z("05T02:45"))
    assert by_id["b"]["may_wait"] and by_id["b"]["outcome"] == "install"
    assert by_id["b"]["message"] == ("would start 02:45, needs 90 min, window ends 04:01 if the updates before it "
                                     "take their whole run time")
    assert not by_id["a"]["may_wait"] and fitted["batches"] == [["c", "a", "b"]]


@pytest.mark.parametrize("minutes, horizon, never", [
    (181, [MERGED, LATER], False),
    (182, [MERGED, LATER], True),
    (182, [MERGED, LATER, MergedWindow(at("12T22:00"), at("13T02:00"), ("long",))], False),
    (30, [], True),                                      # no window at all in the horizon
])
def test_longer_than_every_window_never_starts(minutes, horizon, never):
    (decision,) = p.fit([[update("u", minutes)]], inside(), at("05T01:00"), 0, horizon_windows=horizon)["updates"]
    assert decision["never_fits"] is never
    assert (decision["outcome"] == "not_attempted") is (never or minutes > 181)  # a longer window later: it waits
    if never:
        assert decision["message"].startswith("needs %d min, longer than every maintenance window ahead" % minutes)


def test_the_horizon_is_read_only_as_far_as_needed():
    def windows():
        yield MERGED
        raise AssertionError("read past the first window long enough")
    fitted = p.fit([[update("u", 100)]], inside(), at("05T01:00"), 0, horizon_windows=windows())
    assert fitted["updates"][0]["outcome"] == "install"


@pytest.mark.parametrize("window", [None, WindowState(True, unrestricted=True)])
def test_no_windows_is_always_inside(window):
    fitted = p.fit([[update("u", 9999)]], window, at("05T12:00"), 0)
    assert fitted["batches"] == [["u"]] and fitted["in_window"] is True
    assert fitted["updates"][0]["latest_start"] is None and not fitted["updates"][0]["never_fits"]


def test_outside_every_window_waits_for_the_next():
    outside = WindowState(in_window=False, current=None, next=(LATER,))
    fitted = p.fit([[update("u", 30)]], outside, at("05T12:00"), 0)
    (decision,) = fitted["updates"]
    assert fitted["batches"] == [] and fitted["in_window"] is False
    assert decision["outcome"] == "not_attempted" and decision["reason"] == "window"
    assert decision["message"] == "outside maintenance windows; the next opens 2026-12-06 01:00 UTC"
    assert fitted["next_window"] == {"start": z("06T01:00"), "end": z("06T02:00"), "names": ["x"]}


def test_ignored_windows_after_the_deadline():
    outside = WindowState(in_window=False, current=None, next=(LATER,))
    fitted = p.fit([[update("u", 600)]], outside, at("05T12:00"), 0, ignore_windows=True)
    assert fitted["batches"] == [["u"]] and fitted["windows_ignored"] and fitted["in_window"]


def test_a_user_of_a_prerequisite_that_waits_waits_too():
    window = inside(MergedWindow(at("05T01:00"), at("05T02:00"), ("w",)), ())
    batches = p.order_work([update("ssu", 90, title="Servicing Stack Update"),
                            update("cu", 10, prerequisites=[("ssu",)]), update("x", 20)])
    longer = [MergedWindow(at("07T00:00"), at("07T03:00"), ("l",))]
    fitted = p.fit(batches, window, at("05T01:00"), 0, horizon_windows=longer)
    by_id = {d["update_id"]: d for d in fitted["updates"]}
    assert by_id["ssu"]["outcome"] == "not_attempted" and not by_id["ssu"]["never_fits"]
    assert by_id["cu"]["outcome"] == "not_attempted" and by_id["cu"]["waits_for"] == ["ssu"]
    assert fitted["batches"] == [["x"]]


# -- the check-mode plan ----------------------------------------------------------------------------

NOW = at("05T01:30")


def status(kind="usable", received="2026-12-04T22:00:00Z", reboot_pending=False):
    scan = ScanFacts(scan_pk=1, finished=received, received=received, succeeded=True, catalog_version=3,
                     reboot_pending=reboot_pending)
    return HostStatus(kind, None if kind == "never_scanned" else scan, scan)


FACTS = [SSU, CU, DOTNET, DEFENDER, update("hid", 5, kb="5009"), update("pend", 5, kb="5010")]
REQUIRED = (("cu", "missing"), ("ssu", "missing"), ("net", "missing"), ("hid", "hidden"), ("pend", "pending_reboot"))
WINDOWS = [one_off("x", "01:00", 61), one_off("y", "02:00", 61), one_off("z", "03:00", 61),
           one_off("next", "01:00", 60, day="2026-12-06")]


def test_the_plan_of_a_host():
    plan = p.plan_install(deployment(), "web001", ["pilot"], p.HostScan(status(), REQUIRED), FACTS, WINDOWS, NOW)
    assert plan["outcome"] == "compliant" and plan["reason"] is None
    assert plan["scan"]["age"] == "3 h 30 min" and plan["scan"]["age_seconds"] == 3.5 * 3600
    assert plan["batches"] == [["ssu"], ["net", "cu"]]
    assert [d["update_id"] for d in plan["install"]] == ["ssu", "net", "cu"]
    assert plan["window"] == {"start": z("05T01:00"), "end": z("05T04:01"), "names": ["x", "y", "z"]}
    assert plan["filtered"] == [{"update_id": "hid", "kb": "5009", "title": "Update hid",
                                 "filtered_reasons": ["hidden"]}]
    assert plan["pending_reboot"] == [{"update_id": "pend", "kb": "5010", "title": "Update pend"}]
    assert plan["reboot"] == {"pending_before": True, "required_after": ["cu"], "needed": True,
                              "policy": "if_required", "outside_window_allowed": False, "would_reboot": True}
    assert plan["messages"][0] == "scan of 2026-12-04T22:00:00Z (3 h 30 min old, catalog version 3)"
    assert "Install() call 2: KB5003, KB5002" in plan["messages"]


@pytest.mark.parametrize("now, settings, outcome, waiting", [
    ("05T01:30", {}, "compliant", []),
    ("05T01:30", {"reboot": "never"}, "installed_pending_restart", []),
    # at 03:00 the 90-minute CU no longer fits before 04:01; the SSU (30) and .NET (45) still do
    ("05T03:00", {}, "waiting_for_window", ["cu"]),
    ("05T12:00", {}, "waiting_for_window", ["ssu", "net", "cu"]),          # outside every window
    # past the deadline (10T18:00) windows count unless the deployment ignores them then
    ("2026-12-11T12:00:00Z", {}, "waiting_for_window", ["ssu", "net", "cu"]),
    ("2026-12-11T12:00:00Z", {"ignore_windows_after_deadline": True}, "compliant", []),
])
def test_what_the_install_would_end_in(now, settings, outcome, waiting):
    windows = WINDOWS + [one_off("later", "01:00", 120, day="2026-12-20")]
    plan = p.plan_install(deployment(settings=settings), "web001", ["pilot"], p.HostScan(status(), REQUIRED), FACTS,
                          windows, at(now))
    assert plan["outcome"] == outcome
    assert [d["update_id"] for d in plan["waiting"]] == waiting


@pytest.mark.parametrize("given, groups, host_status, outcome, reason", [
    ({}, ["web"], status(), "skipped", "not_targeted"),
    ({"available": "2026-12-06T00:00:00Z"}, ["pilot"], status(), "skipped", "not_available_yet"),
    ({"type": "available", "deadline": None}, ["pilot"], status(), "skipped", "optional"),
    ({}, ["pilot"], status("stale"), "unknown", "stale"),
    ({}, ["pilot"], status("never_scanned"), "unknown", "never_scanned"),
])
def test_skipped_and_unknown(given, groups, host_status, outcome, reason):
    plan = p.plan_install(deployment(**given), "web001", groups, p.HostScan(host_status, REQUIRED), FACTS, [], NOW)
    assert (plan["outcome"], plan["reason"]) == (outcome, reason)
    assert plan["install"] == [] and plan["batches"] == []


def test_nothing_required_and_no_windows():
    plan = p.plan_install(deployment(), "web001", ["pilot"], p.HostScan(status(), ()), FACTS, [], NOW)
    assert plan["outcome"] == "compliant" and plan["in_window"] is True and plan["messages"][-1] == "nothing to install"
    assert plan["reboot"]["needed"] is False


def test_a_pending_reboot_alone_is_reported():
    plan = p.plan_install(deployment(settings={"reboot": "never"}), "web001", ["pilot"],
                          p.HostScan(status(reboot_pending=True), ()), FACTS, [], NOW)
    assert plan["reboot"]["pending_before"] and plan["outcome"] == "installed_pending_restart"
    assert "a reboot is pending: it happens first" in plan["messages"]


def test_windows_as_checked_definitions_or_raw():
    raw = p.plan_install(deployment(), "w", ["pilot"], p.HostScan(status(), REQUIRED), FACTS, WINDOWS, NOW)
    checked = p.plan_install(deployment(), "w", ["pilot"], p.HostScan(status(), REQUIRED), FACTS,
                             parse_windows(WINDOWS), NOW)
    assert raw == checked


def test_the_worked_example_in_the_docs():
    (decision,) = p.fit([[update("cu", 120)]], inside(), at("05T02:02"), 0)["updates"]
    assert decision["message"] == "would start 02:02, needs 120 min, window ends 04:01"


@pytest.mark.parametrize("host_now, goes, waits", [
    ("05T01:00", ["a", "b", "c"], []),
    ("05T01:00:30", ["a", "b", "c"], []),
    # 01:50 + 60 + 30 = 03:20, after the 45-minute one's latest start 03:17: the call stops before it
    ("05T01:50", ["a", "b"], ["c"]),
    ("05T02:40", ["a"], ["b", "c"]),
    ("05T03:05", [], ["a", "b", "c"]),
])
def test_the_workers_rule_before_a_call(host_now, goes, waits):
    # the host's clock is 60 s ahead; its latest starts are in its own clock
    fitted = p.fit([[update("a", 60), update("b", 30), update("c", 45)]], inside(), at("05T01:00"), 60)
    batch = p.worker_batches(fitted)[0]
    assert [i["latest_start_host"] for i in batch] == [z("05T03:02"), z("05T03:32"), z("05T03:17")]
    started, left = p.startable(batch, at(host_now if len(host_now) == 8 else "2026-12-%sZ" % host_now))
    assert ([i["update_id"] for i in started], [i["update_id"] for i in left]) == (goes, waits)


def test_the_worker_without_windows_starts_everything():
    fitted = p.fit([[update("a", 600)], [update("b", 900)]], None, at("05T01:00"), 0)
    batches = p.worker_batches(fitted)
    assert batches == [[{"update_id": "a", "max_run_time_minutes": 600, "latest_start_host": None}],
                       [{"update_id": "b", "max_run_time_minutes": 900, "latest_start_host": None}]]
    assert p.startable(batches[1], at("09T23:59")) == (batches[1], [])


@pytest.mark.parametrize("extra, never", [
    ([], True),
    ([one_off("closed", "12:00", 600, day="2026-12-04")], True),       # closed before now: does not count
    ([one_off("later", "12:00", 600, day="2027-06-01")], False),       # in the horizon
    ([one_off("too_far", "12:00", 600, day="2028-01-20")], True),      # beyond 400 days
])
def test_the_horizon_from_definitions(extra, never):
    plan = p.plan_install(deployment(), "web001", ["pilot"], p.HostScan(status(), (("long", "missing"),)),
                          [update("long", 300)], WINDOWS + extra, NOW)
    (decision,) = plan["waiting"]
    assert decision["never_fits"] is never and plan["outcome"] == "waiting_for_window"
