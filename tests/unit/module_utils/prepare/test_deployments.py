"""Deployments (plugins/module_utils/_prepare/deployments.py and deployment_compliance.py): resolving
what a deployment is given against the store, refusals, idempotence and history on both backends, and
what the install step asks of a deployment."""

import datetime

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.reads import evaluate_store
from ansible_collections.patchwave.windows.plugins.module_utils._prepare import deployments as d
from ansible_collections.patchwave.windows.plugins.module_utils._prepare import templates as t
from ansible_collections.patchwave.windows.plugins.module_utils._prepare.deployment_compliance import (
    deployment_compliance,
    deployment_set,
)
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store

from tests.compliance_data import NOW, Fleet, add_catalog
from tests.deployment_data import add_package, add_point, freeze_rows, unfrozen_list

START = datetime.datetime(2026, 12, 8, 18, 0, tzinfo=datetime.timezone.utc)


@pytest.fixture
def store(store_address):
    opened = open_store(store_address)
    catalog = add_catalog(opened, 12)
    ids = list(catalog)
    freeze_rows(opened, "security", 1, ids[:4])
    freeze_rows(opened, "security", 2, ids[:6], overrides={ids[0]: 90})
    unfrozen_list(opened, "drafts")
    t.apply_template(opened, "patch_tuesday", "present", {"deadline_offset": "+2d", "reboot": "never",
                                                          "max_run_time_minutes": {"Security Updates": 30}})
    add_package(opened, "dec-security", "security", 2)
    add_point(opened, "dp-hq")
    opened.catalog = catalog
    try:
        yield opened
    finally:
        opened.close()


def params(**given):
    values = {"update_list": "security", "targets": ["pilot"], "start": "2026-12-08T18:00:00Z"}
    values.update(given)
    return values


def test_resolved_from_the_template_newest_version_and_offsets(store):
    definition, warnings = d.resolve_definition(store, "pilot", params(template="patch_tuesday", available="+4h"))
    assert warnings == []
    assert definition["list_version"] == 2 and definition["catalog_version"] == 3
    assert (definition["start"], definition["available"], definition["deadline"]) == (
        "2026-12-08T18:00:00Z", "2026-12-08T22:00:00Z", "2026-12-10T22:00:00Z")  # deadline from available
    assert definition["settings"]["reboot"] == "never" and "deadline_offset" not in definition["settings"]
    assert definition["template"] == "patch_tuesday" and definition["overrides"] == {}


@pytest.mark.parametrize("given, available, deadline", [
    ({}, "2026-12-08T18:00:00Z", "2026-12-15T18:00:00Z"),                                # defaults: +0m, +7d
    ({"available": "+1d", "deadline": "+4h"}, "2026-12-09T18:00:00Z", "2026-12-09T22:00:00Z"),
    ({"available": "2026-12-10T08:00:00+01:00", "deadline": "2026-12-12"}, "2026-12-10T07:00:00Z",
     "2026-12-12T00:00:00Z"),                                                            # absolute, zone honoured
    ({"type": "available"}, "2026-12-08T18:00:00Z", None),                               # optional: no deadline
])
def test_times(store, given, available, deadline):
    definition, _warnings = d.resolve_definition(store, "x", params(**given))
    assert (definition["available"], definition["deadline"]) == (available, deadline)


@pytest.mark.parametrize("given, message", [
    ({"update_list": "drafts"}, "deployment 'x': update list 'drafts' has no frozen version (freeze it with "
                                "patchwave.windows.update_list"),
    ({"update_list": "nothing"}, "deployment 'x': update list 'nothing' does not exist"),
    ({"version": 7}, "deployment 'x': update list 'security' has no version 7 (its versions: 1, 2)"),
    ({"template": "typo"}, "deployment 'x': deployment template 'typo' does not exist"),
    ({"package": "nope"}, "deployment 'x': deployment package 'nope' does not exist"),
    ({"package": "dec-security", "version": 1}, "deployment package 'dec-security' holds update list 'security' "
                                                "version 2, not version 1"),
    ({"distribution_points": ["dp-hq", "dp-mars"]}, "deployment 'x': distribution point(s) 'dp-mars' do not exist"),
    ({"deadline": "+0m"}, "deployment 'x': the deadline 2026-12-08T18:00:00Z is not after the available time"),
    ({"available": "2026-12-20", "deadline": "2026-12-19"}, "is not after the available time 2026-12-20T00:00:00Z"),
    ({"available": "tomorrow"}, "deployment 'x': available: 'tomorrow' is neither an ISO 8601 time nor an offset"),
    ({"start": "soon"}, "deployment 'x': start: 'soon' is not an ISO 8601 time"),
    ({"type": "available", "deadline": "+1d"}, "deployment 'x': deadline: an available (optional) deployment"),
    ({"type": "sometimes"}, "deployment 'x': type: 'sometimes' is not one of required, available"),
    ({"targets": []}, "deployment 'x': targets must name at least one inventory group"),
    ({"targets": ["web servers"]}, "deployment 'x': targets: 'web servers' is not an inventory group name"),
    ({"update_list": None}, "deployment 'x': update_list is required"),
    ({"settings": {"deadline_randomization_minutes": 200}},
     "deployment 'x' settings: deadline_randomization_minutes: 200 minutes is out of range (0 to 120)"),
    ({"settings": {"deadline_offset": "+1d"}}, "deployment 'x': settings: deadline_offset is given by the options"),
])
def test_refusals_name_the_deployment_and_the_cause(store, given, message):
    with pytest.raises(d.DeploymentError) as caught:
        d.resolve_definition(store, "x", params(**given))
    assert message in str(caught.value)


def test_overrides_package_points_and_warnings(store):
    definition, warnings = d.resolve_definition(store, "x", params(
        template="patch_tuesday", settings={"reboot": "always", "content_source": "distribution_point"},
        package="dec-security", distribution_points=["dp-hq", "dp-hq"], targets=["pilot", "pilot", "web"]))
    assert definition["settings"]["reboot"] == "always" and definition["overrides"]["reboot"] == "always"
    assert definition["package"] == "dec-security" and definition["distribution_points"] == ["dp-hq"]
    assert definition["targets"] == ["pilot", "web"] and warnings == []
    _definition, warnings = d.resolve_definition(store, "x", params(settings={"content_source": "distribution_point",
                                                                              "scan_source": "offline"}))
    assert len(warnings) == 2 and "names no package and no distribution_points yet" in warnings[0]
    assert "offline scan file" in warnings[1]


def test_written_idempotent_updated_deleted_with_history(store):
    now = datetime.datetime(2026, 12, 5, 10, 0, 0, tzinfo=datetime.timezone.utc)
    given = {"update_list": "security", "targets": ["pilot"], "template": "patch_tuesday"}  # no start: now
    action, before, after, _w = d.apply_deployment(store, "pilot", "present", given, check_mode=True, now=now)
    assert (action, before) == ("created", None) and d.read_deployment(store, "pilot") is None
    assert d.apply_deployment(store, "pilot", "present", given, now=now)[0] == "created"
    later = now + datetime.timedelta(hours=5)
    # a second identical run, later: the stored start is kept, so nothing changes
    assert d.apply_deployment(store, "pilot", "present", given, now=later)[0] is None
    stored = d.read_deployment(store, "pilot")
    assert stored["start"] == "2026-12-05T10:00:00Z" and stored["deadline"] == "2026-12-07T10:00:00Z"
    assert stored["name"] == "pilot" and stored["created_at"] == stored["updated_at"]
    # a new frozen version: the same options now deploy it
    freeze_rows(store, "security", 3, list(store.catalog)[:8])
    action, before, after, _w = d.apply_deployment(store, "pilot", "present", given, now=later)
    assert action == "updated" and (before["list_version"], after["list_version"]) == (2, 3)
    # pinned to a version, it stays
    assert d.apply_deployment(store, "pilot", "present", dict(given, version=3), now=later)[0] is None
    with pytest.raises(d.DeploymentError):
        d.apply_deployment(store, "pilot", "present", dict(given, template="typo"), now=later)
    assert d.read_deployment(store, "pilot")["list_version"] == 3  # the refused write changed nothing
    assert d.apply_deployment(store, "pilot", "absent", check_mode=True)[0] == "deleted"
    assert d.read_deployment(store, "pilot") is not None
    assert d.apply_deployment(store, "pilot", "absent")[0] == "deleted"
    assert d.apply_deployment(store, "pilot", "absent")[0] is None
    history = d.history_entries(store, "pilot")
    assert [h["action"] for h in history] == ["created", "updated", "deleted"]
    assert history[1]["before"]["definition"]["list_version"] == 2


def test_the_template_is_copied_not_referenced(store):
    d.apply_deployment(store, "pilot", "present", params(template="patch_tuesday"))
    t.apply_template(store, "patch_tuesday", "present", {"reboot": "always"})
    assert d.read_deployment(store, "pilot")["settings"]["reboot"] == "never"
    t.apply_template(store, "patch_tuesday", "absent")
    assert d.read_deployment(store, "pilot")["template"] == "patch_tuesday"


def test_what_the_install_step_asks(store):
    d.apply_deployment(store, "pilot", "present", params(template="patch_tuesday", targets=["pilot", "canary"]))
    deployment = d.read_deployment(store, "pilot")
    assert d.targeted(deployment, ["windows", "canary"]) is True
    assert d.targeted(deployment, ["windows"]) == d.NOT_TARGETED == "not_targeted"
    assert d.targeted(deployment, []) == "not_targeted"
    deadline = datetime.datetime(2026, 12, 10, 18, 0, tzinfo=datetime.timezone.utc)
    for host in ("web001", "sql01", "WEB001"):
        own = d.host_deadline(deployment, host)
        minutes = t.randomized_offset(deployment["settings"], host)
        assert own == (deadline + datetime.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert d.host_deadline(deployment, "web001") == d.host_deadline(deployment, "WEB001")
    ids = list(store.catalog)
    updates = d.deployment_updates(store, deployment)
    assert [u["update_id"] for u in updates] == sorted(ids[:6])
    by_id = {u["update_id"]: u for u in updates}
    assert by_id[ids[0]]["max_run_time_minutes"] == 90          # the list's override
    assert by_id[ids[1]]["max_run_time_minutes"] == 30          # the template's, for Security Updates
    assert by_id[ids[1]]["classification"] == "Security Updates" and by_id[ids[1]]["kb"] == store.catalog[ids[1]]["kb"]
    d.apply_deployment(store, "plain", "present", params(type="available"))
    plain = d.read_deployment(store, "plain")
    assert d.host_deadline(plain, "web001") is None
    assert {u["max_run_time_minutes"] for u in d.deployment_updates(store, plain) if u["update_id"] != ids[0]} == {60}


def test_compliance_of_the_list_version(store, tmp_path):
    fleet = Fleet(store.catalog, seed=4, now=NOW)
    hosts, _counts = fleet.generate(store, str(tmp_path / "spool"), 25)
    d.apply_deployment(store, "pilot", "present", params())
    deployment = d.read_deployment(store, "pilot")
    got = deployment_compliance(store, deployment, hosts + ["nobody"], now=NOW)
    expected = evaluate_store(store, [deployment_set(store, deployment)], hosts=hosts + ["nobody"], now=NOW)
    result = expected.sets["deployment"]
    assert sorted(result.update_ids) == sorted(list(store.catalog)[:6])
    assert got["host_compliance"] == result.host_compliance and got["hosts"] == result.summary()
    assert got["required"] == {h: c["required"] for h, c in result.host_counts.items()}
    assert got["host_compliance"]["nobody"] == "unknown" and sum(got["hosts"].values()) == 26
    assert got["hosts"]["non_compliant"] > 0  # the fleet really misses some of them
    empty = deployment_compliance(store, deployment, [], now=NOW)
    assert empty == {"hosts": {"compliant": 0, "non_compliant": 0, "unknown": 0}, "percent_hosts_compliant": None,
                     "host_compliance": {}, "required": {}}


def test_a_version_without_members_selects_nothing(store):
    freeze_rows(store, "empty", 1, [])
    d.apply_deployment(store, "none", "present", params(update_list="empty"))
    deployment = d.read_deployment(store, "none")
    assert d.deployment_updates(store, deployment) == []
    assert evaluate_store(store, [deployment_set(store, deployment)], hosts=["a"]).sets["deployment"].update_ids == []
