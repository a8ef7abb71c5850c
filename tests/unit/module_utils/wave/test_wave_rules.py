"""The patch wave's rules (plugins/module_utils/_wave/rules.py), pure: ring definitions, the failure
budget, the default name."""

import datetime

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._install.results import BUDGET_OUTCOMES, OUTCOMES
from ansible_collections.patchwave.windows.plugins.module_utils._wave import rules
from ansible_collections.patchwave.windows.plugins.module_utils._wave.rules import WaveError


def test_a_ring_takes_the_defaults():
    assert rules.check_rings([{"name": "pilot", "hosts": "pilot"}]) == [{
        "name": "pilot", "hosts": "pilot", "serial": "100%", "failure_budget": 0, "wait_after": 0,
        "deployment": None, "deadline_offset": None}]


@pytest.mark.parametrize("given, field, value", [
    ({"serial": 5}, "serial", 5),
    ({"serial": "5"}, "serial", 5),
    ({"serial": "25%"}, "serial", "25%"),
    ({"serial": " 100 % "}, "serial", "100%"),
    ({"failure_budget": 0}, "failure_budget", 0),
    ({"failure_budget": "2"}, "failure_budget", 2),
    ({"failure_budget": "0%"}, "failure_budget", "0%"),
    ({"failure_budget": "10%"}, "failure_budget", "10%"),
    ({"wait_after": 30}, "wait_after", 30),
    ({"wait_after": 30.0}, "wait_after", 30),
    ({"deployment": " dec-broad "}, "deployment", "dec-broad"),
    ({"deadline_offset": "+2d"}, "deadline_offset", "+2d"),
    ({"hosts": "web:&prod"}, "hosts", "web:&prod"),
])
def test_ring_fields(given, field, value):
    ring = dict({"name": "pilot", "hosts": "pilot"}, **given)
    assert rules.check_rings([ring])[0][field] == value


@pytest.mark.parametrize("rings, message", [
    (None, "wave 'w': rings: a wave needs a list of at least one ring"),
    ([], "wave 'w': rings: a wave needs a list of at least one ring"),
    (["pilot"], "wave 'w': ring 1: a ring is a dict with name and hosts"),
    ([{"hosts": "pilot"}], "wave 'w': ring 1: name is required"),
    ([{"name": "pilot"}], "wave 'w': ring 'pilot': hosts is required"),
    ([{"name": "pilot", "hosts": ""}], "wave 'w': ring 'pilot': hosts: '' is not a non-empty string"),
    ([{"name": "pilot", "hosts": "pilot", "serial": 0}], "ring 'pilot': serial: 0 is neither a count of 1 or more"),
    ([{"name": "pilot", "hosts": "pilot", "serial": "0%"}], "ring 'pilot': serial: '0%' is not a percentage from 1%"),
    ([{"name": "pilot", "hosts": "pilot", "serial": "101%"}], "ring 'pilot': serial: '101%' is not a percentage"),
    ([{"name": "pilot", "hosts": "pilot", "serial": True}], "ring 'pilot': serial: True is neither"),
    ([{"name": "pilot", "hosts": "pilot", "failure_budget": -1}], "ring 'pilot': failure_budget: -1 is neither"),
    ([{"name": "pilot", "hosts": "pilot", "failure_budget": "150%"}], "ring 'pilot': failure_budget: '150%' is not a"),
    ([{"name": "pilot", "hosts": "pilot", "failure_budget": "some"}], "ring 'pilot': failure_budget: 'some' is neither"),
    ([{"name": "pilot", "hosts": "pilot", "wait_after": -5}], "ring 'pilot': wait_after: -5 is not a number of minutes"),
    ([{"name": "pilot", "hosts": "pilot", "wait_after": "soon"}], "ring 'pilot': wait_after: 'soon' is not a number"),
    ([{"name": "pilot", "hosts": "pilot", "deadline_offset": "2 days"}], "ring 'pilot': deadline_offset: '2 days' is "
                                                                         "not an offset"),
    ([{"name": "pilot", "hosts": "pilot", "budget": 1}], "ring 'pilot': unknown field(s) budget"),
    ([{"name": "pilot", "hosts": "a"}, {"name": "pilot", "hosts": "b"}], "wave 'w': ring 'pilot': name: two rings "
                                                                         "have this name"),
])
def test_bad_rings_are_named(rings, message):
    with pytest.raises(WaveError) as caught:
        rules.check_rings(rings, "w")
    assert message in str(caught.value)


@pytest.mark.parametrize("budget, size, allowed", [
    (0, 10, 0),
    (2, 10, 2),
    (2, 0, 2),
    ("10%", 10, 1),
    ("10%", 19, 1),    # rounded down
    ("10%", 20, 2),
    ("10%", 9, 0),
    ("0%", 50, 0),
    ("100%", 7, 7),
    ("50%", 0, 0),
])
def test_budget_allowed(budget, size, allowed):
    assert rules.budget_allowed(budget, size) == allowed


def results(**outcomes):
    return {host: {"outcome": outcome, "reason": None, "msg": "%s says %s" % (host, outcome) if outcome else None}
            for host, outcome in outcomes.items()}


@pytest.mark.parametrize("ring, budget, failures, allowed, spent", [
    (results(web01="compliant", web02="compliant"), 0, 0, 0, False),
    (results(web01="failed", web02="compliant"), 0, 1, 0, True),
    (results(web01="failed", web02="unreachable", web03="compliant"), 2, 2, 2, False),
    (results(web01="failed", web02="unreachable", web03="update_loop"), 2, 3, 2, True),
    (results(web01="installed_pending_restart", web02="waiting_for_window", web03="skipped"), 0, 0, 0, False),
    (results(web01=None, web02="did_not_return"), "50%", 1, 1, False),
    (dict(results(**{"h%02d" % n: "compliant" for n in range(9)}), h09={"outcome": "failed", "msg": "x"}), "10%", 1, 1,
     False),
    (dict(results(**{"h%02d" % n: "compliant" for n in range(8)}), h08={"outcome": "failed"}, h09={"outcome": "failed"}),
     "10%", 2, 1, True),
])
def test_budget_check(ring, budget, failures, allowed, spent):
    check = rules.budget_check(ring, budget, len(ring))
    assert (check["failures"], check["allowed"], check["spent"]) == (failures, allowed, spent)
    assert [h["host"] for h in check["failed_hosts"]] == sorted(h for h, r in ring.items()
                                                                if r["outcome"] in BUDGET_OUTCOMES)


def test_only_the_budget_outcomes_count():
    assert set(BUDGET_OUTCOMES) == {"failed", "update_loop", "did_not_return", "unreachable"}
    for outcome in OUTCOMES:
        check = rules.budget_check({"web01": {"outcome": outcome}}, 0, 1)
        assert check["spent"] == (outcome in BUDGET_OUTCOMES), outcome


def test_failed_hosts_are_sorted_and_the_halt_reason_names_them():
    check = rules.budget_check(results(web09="failed", web01="unreachable", web05="compliant"), 1, 3)
    assert check["failed_hosts"] == [{"host": "web01", "outcome": "unreachable", "msg": "web01 says unreachable"},
                                     {"host": "web09", "outcome": "failed", "msg": "web09 says failed"}]
    assert rules.halt_reason("pilot", check) == ("ring pilot: 2 host(s) failed, the budget allows 1: web01 (unreachable: "
                                                 "web01 says unreachable), web09 (failed: web09 says failed)")
    check = rules.budget_check({"web01": {"outcome": "failed"}}, 0, 1)
    assert rules.halt_reason("pilot", check) == "ring pilot: 1 host(s) failed, the budget allows 0: web01 (failed)"


@pytest.mark.parametrize("created_at, name", [
    ("2026-12-01T00:00:00Z", "2026-12"),
    ("2026-12-31T23:30:00-02:00", "2027-01"),   # UTC decides
    (datetime.datetime(2026, 11, 12, 8, 0, tzinfo=datetime.timezone.utc), "2026-11"),
    (datetime.datetime(2026, 3, 1), "2026-03"),
])
def test_default_wave_name(created_at, name):
    assert rules.default_wave_name(created_at) == name


@pytest.mark.parametrize("serial, size, batch", [
    ("100%", 10, 10), ("25%", 10, 2), ("25%", 2, 1), (3, 10, 3), ("5%", 0, 1),
])
def test_serial_size(serial, size, batch):
    assert rules.serial_size(serial, size) == batch


def test_only_compliant_is_done():
    assert rules.DONE_OUTCOMES == ("compliant",)
