"""The lab's ``patchwave.windows.host_workers`` (tests/lab/wua.py) against its contract
(plugins/module_utils/_host/contract.py) and host_workers.ps1's $spec: the scans the lab keeps are
listed with the states Get-PatchwaveWork gives them, removed on request, and ``lab status`` agrees."""

import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from ansible_collections.patchwave.windows.plugins.module_utils._host import contract as workers_contract  # noqa: E402
from ansible_collections.patchwave.windows.plugins.module_utils._scan.contract import validate  # noqa: E402

from tests.catalog_gen.store import generated_store  # noqa: E402
from tests.lab import HostModel, ModuleContext  # noqa: E402
from tests.lab.hosts import PLATFORMS, WuaHost, attach  # noqa: E402
from tests.lab.wua import HOST_WORKERS_SPEC, CatalogCache, WuaBackend  # noqa: E402

SCAN = "patchwave.windows.scan"
HOST_WORKERS = "patchwave.windows.host_workers"
T0 = 1_800_000_000.0
ADMIN_SID = "S-1-5-21-1000000001-2000000000-300000000-500"


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    path, _source, _manifest = generated_store(str(tmp_path_factory.mktemp("workers-store")), updates=100, seed=2)
    return {"store": path, "cache": CatalogCache()}


@pytest.fixture
def backend(catalog):
    model = HostModel(name="win001", index=1, boot_time=T0 - 86400)
    attach(model, WuaHost(PLATFORMS["ws2022-x64"], search_seconds=600))
    return WuaBackend(model, store=catalog["store"], cache=catalog["cache"])


def _context(backend, now, check_mode=False, user="Administrator"):
    ctx = ModuleContext(host=backend.host, user=user, now=now)
    ctx.check_mode = check_mode
    return ctx


def start(backend, now=T0, give_up_seconds=3600, user="Administrator"):
    result = backend.run_module(SCAN, {"_operation": "start", "_operation_options": {"give_up_seconds": give_up_seconds}},
                                _context(backend, now, user=user))
    assert not result.get("failed"), result
    return result["scan_id"]


def workers(backend, now, check_mode=False, **args):
    result = backend.run_module(HOST_WORKERS, args, _context(backend, now, check_mode))
    if not result.get("failed"):
        own = {k: v for k, v in result.items() if k != "invocation"}
        assert validate(own, workers_contract.RESULT_SCHEMA, "host_workers result") == [], result
    return result


def test_a_scan_is_listed_running_then_finished_then_abandoned(backend):
    scan_id = start(backend, give_up_seconds=3600)
    listed = workers(backend, T0 + 1)
    assert listed["changed"] is False and listed["removed"] == []
    name = "patchwave-scan-%s" % scan_id
    assert listed["workers"] == [{
        "kind": "scan", "work_id": scan_id, "owner": ADMIN_SID, "started": "2027-01-15T08:00:00Z",
        "give_up_at": "2027-01-15T09:00:00Z", "state": "running", "alive": True, "task_name": name,
        "folder": "C:\\Windows\\Temp\\%s" % name}]
    finished = workers(backend, T0 + 601)["workers"][0]  # the search ended, nobody fetched it
    assert finished["state"] == "finished" and finished["alive"] is False
    assert workers(backend, T0 + 3600)["workers"][0]["state"] == "abandoned"  # its controller has given up


def test_a_worker_that_died_without_a_result_is_abandoned_at_once(backend):
    start(backend)
    backend.set_faults(worker_lost=True)
    assert [w["state"] for w in workers(backend, T0 + 5)["workers"]] == ["abandoned"]


def test_absent_removes_check_mode_lists_and_a_second_run_changes_nothing(backend):
    old = start(backend, T0, give_up_seconds=86400)  # not stale yet: the next start's sweep keeps it
    recent = start(backend, T0 + 7200)
    now = T0 + 7300
    would = workers(backend, now, check_mode=True, state="absent", older_than="1h")
    assert would["changed"] is True and would["removed"] == ["patchwave-scan-%s" % old]
    assert sorted(backend.status(now)["scans"]) == sorted([old, recent])  # check mode removed nothing
    removed = workers(backend, now, state="absent", older_than="1h")
    assert removed["changed"] is True and removed["removed"] == ["patchwave-scan-%s" % old]
    assert [w["work_id"] for w in removed["workers"]] == [old]  # what was selected, before removal
    assert backend.status(now)["scans"] == [recent]
    again = workers(backend, now, state="absent", older_than="1h")
    assert (again["changed"], again["removed"], again["workers"]) == (False, [], [])
    assert workers(backend, now, state="absent")["removed"] == ["patchwave-scan-%s" % recent]
    assert backend.status(now)["scans"] == []


def test_kind_and_older_than_select(backend):
    start(backend, T0)
    assert workers(backend, T0 + 10, kind="install")["workers"] == []
    assert len(workers(backend, T0 + 10, kind="scan")["workers"]) == 1
    assert workers(backend, T0 + 10, older_than="1m")["workers"] == []
    assert len(workers(backend, T0 + 60, older_than="60s")["workers"]) == 1
    assert len(workers(backend, T0 + 86400, older_than=" 1 d ")["workers"]) == 1


def test_status_lists_the_workers_the_module_lists(backend):
    start(backend, T0)
    start(backend, T0 + 1, user="ops")
    listed = workers(backend, T0 + 2)["workers"]
    assert backend.status(T0 + 2)["workers"] == listed
    assert [w["owner"] for w in listed] == [ADMIN_SID, listed[1]["owner"]] and listed[1]["owner"] != ADMIN_SID


@pytest.mark.parametrize("args, message", [
    ({"older_than": "2 hours"}, "older_than '2 hours' is not a duration: give a number and a unit, s, m, h or d, "
                                "for example 90m or 2h."),
    ({"older_than": "2"}, "older_than '2' is not a duration"),
    ({"state": "gone"}, "value of state must be one of: present, absent. Got no match for: gone"),
    ({"kind": "patch"}, "value of kind must be one of: all, scan, install. Got no match for: patch"),
    ({"force": True}, "Unsupported parameters for (patchwave.windows.host_workers) module: force."),
])
def test_bad_arguments_are_refused(backend, args, message):
    refused = workers(backend, T0, **args)
    assert refused["failed"] is True and refused["msg"].startswith(message), refused["msg"]


def test_spec_mirrors_host_workers_ps1():
    """The lab checks arguments against a copy of host_workers.ps1's $spec; the copy must not drift."""
    from tests.psast import Source, assigned_literal

    spec = assigned_literal(Source.load(os.path.join(REPO, "plugins", "modules", "host_workers.ps1")), "$spec")
    assert {name: (option.get("type", "str"), option.get("default"),
                   tuple(option["choices"]) if option.get("choices") else None)
            for name, option in spec["options"].items()} == HOST_WORKERS_SPEC
    assert spec["options"]["kind"]["choices"] == ["all"] + list(workers_contract.KINDS)
    # the duration the module parses is the contract's
    with open(os.path.join(REPO, "plugins", "modules", "host_workers.ps1"), encoding="utf-8") as handle:
        module = handle.read()
    assert "'%s'" % workers_contract.DURATION_PATTERN in module
    assert "@{ s = 1; m = 60; h = 3600; d = 86400 }" in module and workers_contract.DURATION_UNITS == {
        "s": 1, "m": 60, "h": 3600, "d": 86400}
