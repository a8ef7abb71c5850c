"""The lab's emulation of ``patchwave.windows.install`` (tests/lab/install.py) in process: every
operation against the contract (plugins/module_utils/_install/contract.py), the window rule, real
downloads from nginx and from a share, digest and CopyToCache checks, install faults, reboots (new
boot time, loop updates, a host that never returns), cancel, stale work and the CLI's faults.
Emulated time: ``time_scale`` 0 or a fake lab clock, so the file runs in a few seconds."""

import json
import os
import shutil
import socket
import sqlite3
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from ansible_collections.patchwave.windows.plugins.module_utils._install.contract import validate_result  # noqa: E402

from tests.catalog_gen import generate  # noqa: E402
from tests.catalog_gen.store import sync_file  # noqa: E402
from tests.lab import Fleet, HostModel, ModuleContext  # noqa: E402
from tests.lab.hosts import PLATFORMS, WuaHost, attach  # noqa: E402
from tests.lab.install import (  # noqa: E402
    BG_E_HTTP_ERROR_BASE,
    E_INVALIDARG,
    ERROR_BAD_NETPATH,
    ERROR_FILE_NOT_FOUND,
    ERROR_INTERNET_CANNOT_CONNECT,
    WU_E_DM_INCORRECTFILEHASH,
    WU_E_DM_NOTDOWNLOADED,
    CatalogFiles,
    copy_to_cache_problem,
)
from tests.lab.wua import CatalogCache, WuaBackend  # noqa: E402
from tests.servers.http import Nginx, ServerUnavailable, free_port  # noqa: E402

from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store  # noqa: E402

INSTALL = "patchwave.windows.install"
GUID = "00000000-0000-4000-8000-000000000001"
T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z


# -- fixtures --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    """A generated catalog synced into a store, with its payloads in the WSUS layout (a distribution
    point's folder)."""
    folder = str(tmp_path_factory.mktemp("install-store"))
    source = os.path.join(folder, "wsusscn2.cab")
    content = os.path.join(folder, "content")
    generate("offline_scan", source, updates=300, seed=3, languages=("en",), payloads_dir=content,
             payload_layout="wsus")
    path = os.path.join(folder, "store.db")
    store = open_store(path)
    try:
        sync_file(store, source, languages=("en",))
    finally:
        store.close()
    return {"store": path, "content": content, "cache": CatalogCache()}


@pytest.fixture(scope="module")
def nginx(catalog):
    try:
        server = Nginx(catalog["content"])
        server.start()
    except ServerUnavailable as exc:
        pytest.fail("cannot start the tests' nginx: %s" % exc, pytrace=False)
    yield server
    server.stop()


class Runtime:
    """What the emulation uses of a LabHost: a clock, go_down/come_up (recorded)."""

    def __init__(self, now=T0):
        self.now = now
        self.events = []

    def clock(self):
        return self.now

    def go_down(self, mode):
        self.events.append(("down", mode, self.now))

    def come_up(self, reset_shells=False):
        self.events.append(("up", reset_shells, self.now))


def make_backend(catalog, platform="ws2022-x64", time_scale=0.0, **state):
    model = HostModel(name="win001", index=1, boot_time=T0 - 86400)
    state.setdefault("search_seconds", 0)
    attach(model, WuaHost(PLATFORMS[platform], **state))
    backend = WuaBackend(model, store=catalog["store"], time_scale=time_scale, cache=catalog["cache"])
    backend.installs.min_reboot_delay = 0
    return model, backend


def run(backend, operation, now=T0, install_id=None, check_mode=False, runtime=None, options=None, **args):
    """One module run; every answer is checked against the contract."""
    args["_operation"] = operation
    if install_id is not None or options:
        args["_operation_options"] = dict(options or {})
        if install_id is not None:
            args["_operation_options"]["install_id"] = install_id
    ctx = ModuleContext(host=backend.host, user="Administrator", now=now, check_mode=check_mode, runtime=runtime)
    result = backend.run_module(INSTALL, args, ctx)
    if not result.get("failed"):
        assert validate_result(operation, result) == [], result
    return result


def needed(backend, count=None, reboot=None):
    """Update ids a search on the host finds needed (optionally of a reboot behaviour: True = needs one)."""
    records = backend.catalog().search(backend.wua).needed
    if reboot is not None:
        records = [r for r in records if (r.reboot_behavior in (1, 2)) == reboot]
    ids = [r.update_id for r in records]
    return ids[:count] if count else ids


def batch(*ids, **fields):
    return {"updates": [dict({"update_id": uid}, **fields) for uid in ids]}


def install(backend, batches, now=T0, later=3600, **args):
    """start, then poll ``later`` seconds on; returns the install (INSTALL_SCHEMA)."""
    install_id = run(backend, "start", now, batches=batches, **args)["install_id"]
    done = run(backend, "poll", now + later, install_id=install_id)
    assert done["state"] == "done", done
    return done["install"]


def outcomes(result):
    return {u["update_id"]: (u["outcome"], u["not_attempted_reason"]) for u in result["updates"]}


def dp_files(catalog, backend, update_id):
    """The ``content.files`` entries of an update as the action plugin gives them (WSUS layout paths)."""
    files = CatalogFiles.load(catalog["store"], backend.catalog().version)
    out = []
    for child in files.members.get(update_id) or [update_id]:
        for item in files.files.get(child, ()):
            extension = item["file_name"].rsplit(".", 1)[1]
            out.append({"update_id": update_id, "child_id": child, "file_name": item["file_name"],
                        "path": "%s/%s.%s" % (item["sha1"][-2:], item["sha1"], extension), "size": item["size"],
                        "sha1": item["sha1"], "sha256": item["sha256"]})
    assert out, update_id
    return out


# -- status, arguments --------------------------------------------------------------------------------

def test_status_reports_the_host_clock_boot_reboot_and_free_space(catalog):
    model, backend = make_backend(catalog, free_space_bytes=7 * 1024 ** 3)
    model.clock_offset = 90
    status = run(backend, "status")
    assert status["host_time"] == "2027-01-15T08:01:30Z" and status["last_boot"] == "2027-01-14T08:01:30Z"
    assert status["reboot_pending"] is False and status["reboot_sources"] == []
    assert status["free_space_bytes"] == 7 * 1024 ** 3 and status["changed"] is False
    backend.wua.set_reboot_pending("pending_file_rename")
    backend.wua.set_reboot_pending("wua")
    backend.set_faults(free_space_bytes=1234)
    status = run(backend, "status")
    assert status["reboot_pending"] is True and status["reboot_sources"] == ["wua", "pending_file_rename"]
    assert status["free_space_bytes"] == 1234
    assert status["invocation"]["module_args"]["_operation_options"] is None


@pytest.mark.parametrize("args, message", [
    ({}, "missing required arguments: _operation"),
    ({"_operation": "scan"}, "value of _operation must be one of: status, start, poll, cancel, reboot. Got no match "
                             "for: scan"),
    ({"_operation": "status", "force": True}, "Unsupported parameters for (patchwave.windows.install) module: force."),
    ({"_operation": "poll", "_operation_options": {"scan_id": "x"}},
     "Unsupported parameters for (patchwave.windows.install) module: scan_id found in _operation_options."),
    ({"_operation": "start", "batches": [{"updates": [{"max_run_time_minutes": 5}]}]},
     "missing required arguments: update_id found in batches -> updates"),
    ({"_operation": "start", "batches": [{}]},
     "The install request is refused: batches has no updates: give the Install() calls to make."),
    ({"_operation": "start"}, "The install request is refused: batches has no updates"),
    ({"_operation": "start", "batches": [{"updates": [{"update_id": "KB5000001"}]}]},
     "The install request is refused: batches[0]: update_id 'KB5000001' is not a GUID."),
    ({"_operation": "start", "batches": [{"updates": [{"update_id": GUID, "latest_start_host": "tonight"}]}]},
     "The install request is refused: batches[0]: latest_start_host 'tonight' of %s is not an ISO 8601 time." % GUID),
    ({"_operation": "start", "batches": [{"updates": [{"update_id": GUID}]}],
      "content": {"source": "distribution_point", "base_url": "http://dp/Content", "files": [
          {"update_id": GUID, "child_id": GUID, "file_name": "a.cab", "path": "../x.cab", "size": 1, "sha1": "x"}]}},
     "The install request is refused: content file 'a.cab': path '../x.cab' must be relative, /-separated, "
     "without '..'."),
    ({"_operation": "start", "batches": [{"updates": [{"update_id": GUID}]}],
      "content": {"source": "distribution_point", "base_url": "http://dp/Content", "files": [
          {"update_id": GUID, "child_id": GUID, "file_name": "a.cab", "path": "AB/x.cab", "size": 1}]}},
     "The install request is refused: content file 'a.cab': it has no SHA-1 or SHA-256 to check it with."),
    ({"_operation": "start", "content": {"source": "bits"}},
     "value of source must be one of: wua, distribution_point. Got no match for: bits found in content"),
    ({"_operation": "start", "batches": [{"updates": [{"update_id": GUID}]}], "content": {"source": "distribution_point"}},
     "The install request is refused: content.base_url '' is neither an http(s):// URL nor a UNC path"),
    ({"_operation": "start", "batches": [{"updates": [{"update_id": GUID}]}],
      "content": {"source": "distribution_point", "base_url": "\\\\fs01\\wsus"}},
     "The install request is refused: content.files is empty"),
    ({"_operation": "start", "content": {"source": "distribution_point", "base_url": "http://dp/Content",
                                         "files": [{"update_id": "u", "child_id": "u", "file_name": "a.cab",
                                                    "path": "AB/x.cab"}]}},
     "missing required arguments: size found in content -> files"),
    ({"_operation": "start", "server_selection": "offline"},
     "value of server_selection must be one of: default, managed_server, windows_update"),
    ({"_operation": "start", "accept_eula": "maybe"}, "The value 'maybe' is not a valid boolean"),
    ({"_operation": "poll"}, "_operation_options.install_id is required for poll."),
    ({"_operation": "cancel", "_operation_options": {"install_id": "not-a-guid"}},
     "The install id 'not-a-guid' is not a GUID."),
])
def test_arguments_are_checked_like_ansible_basic(catalog, args, message):
    model, backend = make_backend(catalog)
    ctx = ModuleContext(host=model, user="Administrator", now=T0)
    result = backend.run_module(INSTALL, dict(args, _ansible_check_mode=False), ctx)
    assert result["failed"] is True and result["msg"].startswith(message), result["msg"]


INSTALL_PS1 = os.path.join(REPO, "plugins", "modules", "install.ps1")


@pytest.mark.skipif(not os.path.exists(INSTALL_PS1), reason="plugins/modules/install.ps1 is not there yet")
def test_spec_mirrors_install_ps1():
    """The lab checks arguments against a copy of install.ps1's $spec (read from its syntax tree)."""
    from tests.lab.install import SPEC
    from tests.psast import Source, assigned_literal

    spec = assigned_literal(Source.load(INSTALL_PS1), "$spec")

    def normal(options):
        out = {}
        for name, option in options.items():
            entry = {k: (tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in option.items()
                     if k not in ("options", "required_if")}
            entry.setdefault("type", "str")
            if "options" in option:
                entry["options"] = normal(option["options"])
            if option.get("required_if"):
                entry["required_if"] = [tuple(tuple(x) if isinstance(x, list) else x for x in r)
                                        for r in option["required_if"]]
            out[name] = entry
        return out

    assert normal(SPEC) == normal(spec["options"])
    assert spec.get("supports_check_mode") is True and not spec.get("required_if")


def test_defaults_are_filled_in_as_ansible_basic_does(catalog):
    model, backend = make_backend(catalog)
    uid = needed(backend, 1)[0]
    start = run(backend, "start", batches=[batch(uid)], content={"source": "wua"},
                options={"give_up_seconds": 600})
    args = start["invocation"]["module_args"]
    expected = {"update_id": uid, "max_run_time_minutes": 60, "latest_start_host": None}
    assert args["batches"] == [{"updates": [expected]}]
    assert args["content"] == {"source": "wua", "base_url": None, "files": None}
    assert args["_operation_options"] == {"install_id": None, "wait_seconds": 0, "give_up_seconds": 600,
                                          "reboot_delay_seconds": 5}
    assert args["server_selection"] == "default" and args["accept_eula"] is True


# -- start / poll / cancel ----------------------------------------------------------------------------

def test_install_rounds_on_emulated_time(catalog):
    model, backend = make_backend(catalog, time_scale=1.0, search_seconds=4, install_seconds=10)
    ids = needed(backend, 3)
    start = run(backend, "start", batches=[batch(*ids[:2]), batch(ids[2])])
    assert start["changed"] is True and start["worker"] == "scheduled_task" and start["stale_removed"] == []
    install_id = start["install_id"]
    first = run(backend, "poll", T0 + 1, install_id=install_id)
    assert first["state"] == "running" and first["progress"]["phase"] == "searching"
    assert first["progress"]["done"] == 0 and first["progress"]["total"] == 3
    middle = run(backend, "poll", T0 + 9, install_id=install_id)  # 4 s search, then 5 s into the first update
    progress = middle["progress"]
    assert progress["phase"] == "installing" and progress["update_id"] == ids[0] and progress["batch"] == 0
    assert progress["install_percent"] == 50 and progress["download_percent"] == 100
    assert progress["updated"] == "2027-01-15T08:00:09Z"
    later = run(backend, "poll", T0 + 25, install_id=install_id)["progress"]
    assert later["batch"] == 1 and later["update_id"] == ids[2] and later["done"] == 2
    done = run(backend, "poll", T0 + 34, install_id=install_id)
    assert done["state"] == "done"
    result = done["install"]
    assert result["result_code"] == 2 and result["content_source"] == "wua" and result["worker"] == "scheduled_task"
    assert result["started"] == "2027-01-15T08:00:00Z" and result["finished"] == "2027-01-15T08:00:34Z"
    assert [u["outcome"] for u in result["updates"]] == ["installed"] * 3
    first, second, third = result["updates"]
    assert (first["started"], first["finished"]) == ("2027-01-15T08:00:04Z", "2027-01-15T08:00:14Z")
    assert (second["started"], second["finished"]) == ("2027-01-15T08:00:04Z", "2027-01-15T08:00:24Z")
    assert (third["batch"], third["started"]) == (1, "2027-01-15T08:00:24Z")
    assert all(u["title"] and u["kb_article_ids"] and u["downloaded"] and u["download_result_code"] == 2
               and u["result_code"] == 2 and u["hresult"] is None for u in result["updates"])
    assert set(ids) <= backend.wua.installed and set(ids) <= backend.wua.downloaded
    # the result is sent again, identically, until cancel
    assert run(backend, "poll", T0 + 100, install_id=install_id)["install"] == result
    cancel = run(backend, "cancel", T0 + 101, install_id=install_id)
    assert cancel["cleaned"] is True and cancel["aborted"] is False
    assert run(backend, "poll", T0 + 102, install_id=install_id)["state"] == "lost"
    assert backend.status(T0)["install"]["calls"] == {"cancel": 1, "poll": 6, "start": 1}


def test_reboot_behaviour_marks_the_host_pending(catalog):
    model, backend = make_backend(catalog)
    quiet, rebooting = needed(backend, 1, reboot=False)[0], needed(backend, 1, reboot=True)[0]
    result = install(backend, [batch(quiet, rebooting)])
    flags = {u["update_id"]: u["reboot_required"] for u in result["updates"]}
    assert flags == {quiet: False, rebooting: True} and result["reboot_required"] is True
    assert backend.wua.reboot_required == {rebooting} and backend.wua.reboot_sources == {"wua"}
    assert model.reboot_pending is True
    status = run(backend, "status")
    assert status["reboot_pending"] is True and status["reboot_sources"] == ["wua"]


def test_updates_the_search_does_not_return(catalog):
    model, backend = make_backend(catalog)
    uid, other = needed(backend, 2)
    backend.wua.installed.add(other)
    unknown = "00000000-0000-4000-8000-000000000001"
    result = install(backend, [batch(uid, other, unknown)])
    assert outcomes(result) == {uid: ("installed", None), other: ("not_attempted", "installed_already"),
                                unknown: ("not_attempted", "not_found")}
    missing = result["updates"][2]
    assert missing["title"] is None and missing["result_code"] is None and missing["started"] is None


def test_one_search_for_the_run_an_update_gated_on_another_is_not_found(catalog):
    """The worker searches once: an update that becomes applicable only once another update of the
    run is in (a CU after its servicing stack update) is not found; the controller installs it in a
    later pass after the verification scan."""
    model, backend = make_backend(catalog, platform="ws2019-x64")  # its CUs need the month's servicing stack
    snapshot = backend.catalog()
    now_needed = {r.update_id for r in snapshot.search(backend.wua).needed}
    found = next(((record, prerequisite) for record, pending in snapshot.static_for(backend.wua)
                  for clause in pending for prerequisite in clause
                  if prerequisite in now_needed and record.update_id not in now_needed), None)
    assert found, "the generated catalog has no update gated on a needed update for this platform"
    record, prerequisite = found
    result = install(backend, [batch(prerequisite), batch(record.update_id)])
    assert outcomes(result) == {prerequisite: ("installed", None), record.update_id: ("not_attempted", "not_found")}
    assert record.update_id in needed(backend)  # what the verification scan then finds


def test_the_window_rule_on_the_host_clock(catalog):
    model, backend = make_backend(catalog, time_scale=1.0, search_seconds=60, install_seconds=600)
    model.clock_offset = 300  # the host's clock is 5 minutes ahead: the rule reads the host's clock
    a, b, c, d = needed(backend, 4)
    # the batch begins at 08:01 true time = 08:06 on the host
    batches = [
        {"updates": [{"update_id": a, "max_run_time_minutes": 30, "latest_start_host": "2027-01-15T08:10:00Z"},
                     {"update_id": b, "max_run_time_minutes": 30, "latest_start_host": "2027-01-15T08:30:00Z"},
                     {"update_id": c, "max_run_time_minutes": 5, "latest_start_host": None}]},
        {"updates": [{"update_id": d, "max_run_time_minutes": 5, "latest_start_host": "2027-01-15T08:10:00Z"}]},
    ]
    result = install(backend, batches, later=7200)
    # a fits (08:06 <= 08:10); b would start at 08:36 > 08:30: b and everything after it in the call waits;
    # the second call begins after a's 10 minutes: 08:16 on the host, after d's latest start
    assert outcomes(result) == {a: ("installed", None), b: ("not_attempted", "window"),
                                c: ("not_attempted", "window"), d: ("not_attempted", "window")}
    assert result["updates"][0]["started"] == "2027-01-15T08:06:00Z"
    assert result["result_code"] == 2 and b not in backend.wua.installed


def test_install_hresult_fault(catalog):
    model, backend = make_backend(catalog)
    a, b, c = needed(backend, 3)
    backend.set_faults(install_hresult={b: "0x80240022"})
    result = install(backend, [batch(a, b, c)])
    assert outcomes(result) == {a: ("installed", None), b: ("failed", None), c: ("installed", None)}
    failed = result["updates"][1]
    assert failed["result_code"] == 4 and failed["hresult"] == 0x80240022 and failed["reboot_required"] is False
    assert result["result_code"] == 3 and b not in backend.wua.installed
    backend.set_faults(install_hresult={"*": 0x80070643})
    d = next(uid for uid in needed(backend) if uid != b)
    result = install(backend, [batch(d)], now=T0 + 10)
    assert result["result_code"] == 4 and result["updates"][0]["hresult"] == 0x80070643
    assert backend.status()["faults"]["install_hresult"] == {"*": 0x80070643, b: 0x80240022}
    backend.set_faults(install_hresult=None)
    assert backend.wua.faults.install_hresult == {}


def test_wua_download_fault_and_a_failed_search(catalog):
    model, backend = make_backend(catalog)
    a, b = needed(backend, 2)
    backend.set_faults(download_hresult={a: 0x80244019})
    result = install(backend, [batch(a, b)])
    assert outcomes(result) == {a: ("download_failed", None), b: ("installed", None)}
    assert result["updates"][0]["download_result_code"] == 4 and result["updates"][0]["download_hresult"] == 0x80244019
    assert result["updates"][0]["downloaded"] is False and a not in backend.wua.downloaded
    backend.set_faults(search_hresult=0x8024402C)
    result = install(backend, [batch(a)], now=T0 + 10)
    assert result["result_code"] == 4 and result["hresult"] == 0x8024402C
    assert outcomes(result) == {a: ("failed", None)}
    assert result["updates"][0]["hresult"] == 0x8024402C
    assert result["updates"][0]["error"] == "the install did not run: Exception from HRESULT: 0x8024402C"


def test_cancel_stops_between_updates_and_forgets_the_work(catalog):
    model, backend = make_backend(catalog, time_scale=1.0, search_seconds=0, install_seconds=10)
    a, b, c = needed(backend, 3)
    install_id = run(backend, "start", batches=[batch(a, b), batch(c)])["install_id"]
    assert run(backend, "poll", T0 + 5, install_id=install_id)["progress"]["update_id"] == a
    cancel = run(backend, "cancel", T0 + 5, install_id=install_id)
    assert cancel["cleaned"] is True and cancel["aborted"] is True and cancel["changed"] is False
    # the Install() call under way finished (a and b), nothing else started
    assert {a, b} <= backend.wua.installed and c not in backend.wua.installed
    assert run(backend, "poll", T0 + 60, install_id=install_id)["state"] == "lost"
    assert run(backend, "cancel", T0 + 61, install_id=install_id)["cleaned"] is True  # nothing left: cleaned
    assert backend.status(T0 + 61)["install"]["installs"] == []


def test_one_install_at_a_time(catalog):
    model, backend = make_backend(catalog, time_scale=1.0, install_seconds=60)
    a, b = needed(backend, 2)
    first = run(backend, "start", batches=[batch(a)])["install_id"]
    refused = run(backend, "start", T0 + 1, batches=[batch(b)])
    assert refused["failed"] is True and refused["msg"] == (
        "Install %s (started 2027-01-15T08:00:00Z) is still running on this host; start again once it has "
        "ended, or cancel it." % first)
    assert run(backend, "poll", T0 + 100, install_id=first)["state"] == "done"
    assert run(backend, "start", T0 + 101, batches=[batch(b)])["changed"] is True  # its result waits: fine


def test_check_mode_starts_nothing(catalog):
    model, backend = make_backend(catalog)
    uid = needed(backend, 1)[0]
    start = run(backend, "start", check_mode=True, batches=[batch(uid)])
    assert start["changed"] is False and "stale_removed" not in start
    assert run(backend, "poll", install_id=start["install_id"])["state"] == "lost"
    install_id = run(backend, "start", batches=[batch(uid)])["install_id"]
    assert run(backend, "cancel", install_id=install_id, check_mode=True)["cleaned"] is False
    reboot = run(backend, "reboot", check_mode=True)
    assert reboot["changed"] is False and backend.installs.rebooting is None


def test_a_restart_while_the_worker_runs_loses_it(catalog):
    model, backend = make_backend(catalog, time_scale=1.0, search_seconds=0, install_seconds=10)
    a, b = needed(backend, 2)
    install_id = run(backend, "start", batches=[batch(a, b)])["install_id"]
    model.boot_time = T0 + 15  # restarted during the second update
    lost = run(backend, "poll", T0 + 60, install_id=install_id)
    assert lost["state"] == "lost" and "restarted" in lost["msg"]
    assert a in backend.wua.installed and b not in backend.wua.installed
    # one that had ended before the restart is still there
    install_id = run(backend, "start", T0 + 100, batches=[batch(b)])["install_id"]
    model.boot_time = T0 + 200
    assert run(backend, "poll", T0 + 300, install_id=install_id)["state"] == "done"


def test_long_poll_waits_on_the_lab_clock(catalog):
    model, backend = make_backend(catalog, time_scale=1.0, search_seconds=0, install_seconds=0.3)
    uid = needed(backend, 1)[0]

    class Clock:
        clock = staticmethod(time.time)

    now = time.time()
    install_id = run(backend, "start", now, batches=[batch(uid)])["install_id"]
    started = time.monotonic()
    done = run(backend, "poll", time.time(), install_id=install_id, runtime=Clock(), options={"wait_seconds": 5})
    assert done["state"] == "done" and time.monotonic() - started < 2


def test_worker_faults_apply_to_installs(catalog):
    model, backend = make_backend(catalog, time_scale=1.0, install_seconds=60)
    uid = needed(backend, 1)[0]
    backend.set_faults(scheduled_task_blocked=True)
    blocked = run(backend, "start", batches=[batch(uid)])
    assert blocked["failed"] is True and blocked["hresult"] == 0x80070005 and blocked["worker_start_failed"] is True
    assert validate_result("start", blocked) == []
    backend.set_faults(scheduled_task_blocked=False)
    install_id = run(backend, "start", batches=[batch(uid)])["install_id"]
    backend.set_faults(worker_bootstrap_error="worker.ps1 cannot run")
    lost = run(backend, "poll", T0 + 1, install_id=install_id)
    assert lost["state"] == "lost" and lost["worker_error"] == "worker.ps1 cannot run"


def test_stale_work_is_removed_at_the_next_start_and_listed_by_host_workers(catalog):
    model, backend = make_backend(catalog, time_scale=1.0, install_seconds=60)
    uid = needed(backend, 1)[0]
    old = run(backend, "start", batches=[batch(uid)], options={"give_up_seconds": 100})["install_id"]
    scan_id = backend.run_module("patchwave.windows.scan", {"_operation": "start"},
                                 ModuleContext(host=model, user="Administrator", now=T0))["scan_id"]
    listed = backend.run_module("patchwave.windows.host_workers", {},
                                ModuleContext(host=model, user="Administrator", now=T0 + 10))["workers"]
    assert sorted(w["kind"] for w in listed) == ["install", "scan"]
    mine = next(w for w in listed if w["kind"] == "install")
    assert mine["work_id"] == old and mine["state"] == "running" and mine["task_name"] == "patchwave-install-" + old
    assert mine["give_up_at"] == "2027-01-15T08:01:40Z"
    start = run(backend, "start", T0 + 200, batches=[batch(uid)])
    assert "patchwave-install-" + old in start["stale_removed"]
    assert run(backend, "poll", T0 + 201, install_id=old)["state"] == "lost"
    # host_workers state=absent removes installs too
    gone = backend.run_module("patchwave.windows.host_workers", {"state": "absent", "kind": "install"},
                              ModuleContext(host=model, user="Administrator", now=T0 + 300))
    assert gone["removed"] == ["patchwave-install-" + start["install_id"]]
    assert backend.status(T0 + 300)["install"]["installs"] == [] and backend.status(T0 + 300)["scans"] == [scan_id]


def test_an_abandoned_install_still_installing_is_listed_alive(catalog):
    # past its give-up time (the controller stopped polling) the work is abandoned, but Windows still
    # installs: host_workers says alive, which the role install_updates waits on before a new start
    model, backend = make_backend(catalog, time_scale=1.0, install_seconds=600)
    uid = needed(backend, 1)[0]
    old = run(backend, "start", batches=[batch(uid)], options={"give_up_seconds": 100})["install_id"]

    def listed(at):
        workers = backend.run_module("patchwave.windows.host_workers", {"kind": "install"},
                                     ModuleContext(host=model, user="Administrator", now=at))["workers"]
        return {(w["work_id"], w["state"], w["alive"]) for w in workers}

    assert listed(T0 + 10) == {(old, "running", True)}
    assert listed(T0 + 200) == {(old, "abandoned", True)}
    assert listed(T0 + 700) == {(old, "abandoned", False)}


# -- distribution points -------------------------------------------------------------------------------

def dp_install(catalog, backend, base_url, update_ids, files=None, now=T0):
    files = files if files is not None else [f for uid in update_ids for f in dp_files(catalog, backend, uid)]
    return install(backend, [batch(*update_ids)], now=now,
                   content={"source": "distribution_point", "base_url": base_url, "files": files})


def test_download_from_nginx_checks_and_hands_over_the_files(catalog, nginx):
    model, backend = make_backend(catalog)
    a, b = needed(backend, 2)
    result = dp_install(catalog, backend, nginx.url(), [a, b])
    assert outcomes(result) == {a: ("installed", None), b: ("installed", None)}
    assert result["content_source"] == "distribution_point"
    assert all(u["downloaded"] and u["content_error"] is None for u in result["updates"])
    served = {(e["path"], e["status"]) for e in nginx.access_log()}
    assert all(("/" + f["path"], 200) in served for f in dp_files(catalog, backend, a))


def test_a_missing_file_an_unreachable_server_and_a_corrupt_file(catalog, nginx, tmp_path):
    model, backend = make_backend(catalog)
    a, b, c = needed(backend, 3)
    files = dp_files(catalog, backend, a)
    missing = [dict(f, path="00/" + f["path"].split("/")[1]) for f in files]
    result = dp_install(catalog, backend, nginx.url(), [a], files=missing)
    update = result["updates"][0]
    assert update["outcome"] == "download_failed" and update["download_hresult"] == BG_E_HTTP_ERROR_BASE + 404
    assert update["download_result_code"] == 4 and files[0]["file_name"] in update["content_error"]
    assert "HTTP 404" in update["content_error"] and result["result_code"] == 4 and a not in backend.wua.installed
    # nobody listens there
    result = dp_install(catalog, backend, "http://127.0.0.1:%d/Content" % free_port(), [a])
    assert result["updates"][0]["download_hresult"] == ERROR_INTERNET_CANNOT_CONNECT
    assert "cannot connect" in result["updates"][0]["content_error"]
    # corrupt: the digest the host was given does not match what it reads
    files = dp_files(catalog, backend, b)
    wrong = [dict(files[0], sha256="00" * 32)] + files[1:]
    update = dp_install(catalog, backend, nginx.url(), [b], files=wrong)["updates"][0]
    assert update["outcome"] == "download_failed" and update["download_hresult"] == WU_E_DM_INCORRECTFILEHASH
    assert "SHA256 digest" in update["content_error"] and files[0]["file_name"] in update["content_error"]
    short = [dict(files[0], size=files[0]["size"] + 1)] + files[1:]
    update = dp_install(catalog, backend, nginx.url(), [b], files=short)["updates"][0]
    assert update["download_hresult"] == WU_E_DM_INCORRECTFILEHASH and "size" in update["content_error"]
    # a file whose bytes changed on the point (the digest given is the catalog's)
    root = tmp_path / "point"
    shutil.copytree(catalog["content"], str(root))
    target = dp_files(catalog, backend, c)[0]
    with open(os.path.join(str(root), *target["path"].split("/")), "r+b") as handle:
        handle.write(b"\0\0\0\0")
    backend.wua.fs.mount("\\\\fs01\\wsus", str(root))
    update = dp_install(catalog, backend, "\\\\fs01\\wsus", [c])["updates"][0]
    assert update["outcome"] == "download_failed" and update["download_hresult"] == WU_E_DM_INCORRECTFILEHASH
    assert "SHA1 digest" in update["content_error"]


def test_download_from_a_share_through_the_host_view(catalog):
    model, backend = make_backend(catalog)
    a, b = needed(backend, 2)
    backend.wua.fs.mount("\\\\fs01\\wsus", catalog["content"])
    result = dp_install(catalog, backend, "\\\\FS01\\wsus\\", [a])
    assert outcomes(result) == {a: ("installed", None)}
    update = dp_install(catalog, backend, "\\\\fs01\\wsus\\nothing", [b])["updates"][0]
    assert update["download_hresult"] == ERROR_FILE_NOT_FOUND and "cannot find the file" in update["content_error"]
    update = dp_install(catalog, backend, "\\\\fs02\\wsus", [b])["updates"][0]
    assert update["download_hresult"] == ERROR_BAD_NETPATH and "network path was not found" in update["content_error"]


def test_copy_to_cache_takes_exactly_the_catalog_files_of_each_child(catalog, nginx):
    model, backend = make_backend(catalog)
    files = CatalogFiles.load(catalog["store"], backend.catalog().version)
    bundles = [uid for uid in needed(backend) if files.members.get(uid)]
    assert len(bundles) >= 2
    a, b = bundles[:2]
    member = files.members[a][0]
    # the member's files handed over as the bundle's own: the bundle has no files, its member none given
    given = [dict(f, child_id=a) for f in dp_files(catalog, backend, a)]
    update = dp_install(catalog, backend, nginx.url(), [a], files=given)["updates"][0]
    assert update["outcome"] == "download_failed" and update["download_hresult"] == E_INVALIDARG
    assert "CopyToCache of %s" % a in update["content_error"] and "not files of this update" in update["content_error"]
    # another update's file added to the member's: the digests check out, CopyToCache refuses
    extra = dict(dp_files(catalog, backend, b)[0], update_id=a, child_id=member)
    update = dp_install(catalog, backend, nginx.url(), [a], files=dp_files(catalog, backend, a) + [extra])["updates"][0]
    assert update["download_hresult"] == E_INVALIDARG
    assert "not files of this update: %s" % extra["file_name"] in update["content_error"]
    # a child id that is not part of the update
    stray = [dict(f, child_id=files.members[b][0]) for f in dp_files(catalog, backend, a)]
    update = dp_install(catalog, backend, nginx.url(), [a], files=stray)["updates"][0]
    assert update["download_hresult"] == E_INVALIDARG and "neither update %s nor one of its bundled" % a in \
        update["content_error"]
    # and the right files go in
    assert outcomes(dp_install(catalog, backend, nginx.url(), [a, b])) == {a: ("installed", None), b: ("installed", None)}


def test_copy_to_cache_rule():
    catalog_files = [{"file_name": "a.cab", "sha1": "AA" * 20, "sha256": None, "size": 1},
                     {"file_name": "b.psf", "sha1": "BB" * 20, "sha256": None, "size": 1}]
    assert copy_to_cache_problem(catalog_files, [{"file_name": "x", "sha1": "aa" * 20},
                                                 {"file_name": "y", "sha1": "bb" * 20}]) is None
    assert copy_to_cache_problem(catalog_files, [{"file_name": "A.CAB"}, {"file_name": "b.psf"}]) is None
    assert copy_to_cache_problem(catalog_files, [{"file_name": "a.cab", "sha1": "AA" * 20}]) == "missing: b.psf"


def test_an_update_without_files_on_the_point_and_an_update_already_downloaded(catalog, nginx):
    model, backend = make_backend(catalog)
    a, b = needed(backend, 2)
    result = dp_install(catalog, backend, nginx.url(), [a, b], files=dp_files(catalog, backend, a))
    assert outcomes(result) == {a: ("installed", None), b: ("download_failed", None)}
    assert "no file of update %s" % b in result["updates"][1]["content_error"]
    assert result["updates"][1]["download_hresult"] == WU_E_DM_NOTDOWNLOADED
    backend.wua.downloaded.add(b)  # WUA has it in its cache already: nothing to fetch
    result = dp_install(catalog, backend, "http://127.0.0.1:%d/" % free_port(), [b], files=dp_files(catalog, backend, a))
    assert outcomes(result) == {b: ("installed", None)}


# -- reboots -------------------------------------------------------------------------------------------

def test_reboot_cycle_new_boot_time_and_a_loop_update(catalog):
    model, backend = make_backend(catalog, time_scale=0.0)
    quiet, rebooting, looping = needed(backend, 1, reboot=False) + needed(backend, 2, reboot=True)
    backend.set_faults(loop_updates=[looping], reboot_seconds=30)
    backend.wua.set_reboot_pending("pending_file_rename")
    result = install(backend, [batch(quiet, rebooting, looping)])
    assert all(u["outcome"] == "installed" for u in result["updates"])
    assert backend.wua.reboot_required == {rebooting, looping}
    runtime = Runtime(T0 + 3600)
    reboot = run(backend, "reboot", T0 + 3600, runtime=runtime, options={"reboot_delay_seconds": 0})
    assert reboot == dict(reboot, changed=True, last_boot="2027-01-14T08:00:00Z", delay_seconds=0)
    assert backend.installs.rebooted.wait(5)
    assert [e[0] for e in runtime.events] == ["down", "up"] and runtime.events[0][1] == "refuse"
    assert runtime.events[1][1] is True  # shells forgotten
    assert model.boot_time == T0 + 3600
    status = run(backend, "status", T0 + 3700)
    assert status["last_boot"] == "2027-01-15T09:00:00Z" and status["reboot_pending"] is False
    assert backend.wua.reboot_required == set() and model.reboot_pending is False
    assert {quiet, rebooting} <= backend.wua.installed and looping not in backend.wua.installed
    assert looping in needed(backend)  # the verification scan finds it required again
    assert backend.status()["install"]["reboots"] == 1


def test_a_host_that_never_returns(catalog):
    model, backend = make_backend(catalog)
    backend.set_faults(never_returns=True)
    runtime = Runtime()
    run(backend, "reboot", runtime=runtime, options={"reboot_delay_seconds": 0})
    deadline = time.monotonic() + 5
    while not runtime.events and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    assert runtime.events == [("down", "refuse", T0)] and backend.installs.rebooting == "down"
    assert model.boot_time == T0 - 86400 and not backend.installs.rebooted.is_set()
    assert backend.status()["faults"]["never_returns"] is True


def test_a_reboot_during_an_install_loses_the_worker(catalog):
    model, backend = make_backend(catalog, time_scale=1.0, search_seconds=0, install_seconds=10, reboot_seconds=0)
    a, b = needed(backend, 2)
    install_id = run(backend, "start", batches=[batch(a, b)])["install_id"]
    runtime = Runtime(T0 + 15)
    backend.installs.schedule_reboot(runtime, 0)
    assert backend.installs.rebooted.wait(5)
    lost = run(backend, "poll", T0 + 60, install_id=install_id)
    assert lost["state"] == "lost" and "restarted at 2027-01-15T08:00:15Z" in lost["msg"]
    assert a in backend.wua.installed and b not in backend.wua.installed


def test_reboot_over_the_wire_drops_connections_and_comes_back(catalog):
    """A real fleet: the port refuses while the host is down and serves again afterwards;
    Fleet.stop cancels a reboot that is still pending."""
    factory = WuaBackend.factory(catalog["store"], time_scale=0.05, cache=catalog["cache"])
    with Fleet(2, auth="basic", backend_factory=factory, module_cost=0) as fleet:
        host = fleet.host(1)
        host.backend.set_faults(reboot_seconds=10)  # 0.5 s down
        before = host.model.boot_time
        installs = host.backend.installs
        installs.min_reboot_delay = 0.1
        assert installs.schedule_reboot(host, 1)
        deadline = time.monotonic() + 5
        while host.state == "up" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert host.state == "refuse"
        with pytest.raises(OSError):
            socket.create_connection((host.address, host.port), timeout=1).close()
        assert installs.rebooted.wait(5) and host.state == "up"
        socket.create_connection((host.address, host.port), timeout=1).close()
        assert host.model.boot_time != before
        other = fleet.host(2)
        other.backend.installs.schedule_reboot(other, 3600)  # pending when the fleet stops
    assert other.backend.installs._timers == set() and other.state == "up"


# -- faults from the CLI ---------------------------------------------------------------------------------

def test_cli_fault_options_become_set_faults_settings():
    from tests.lab.__main__ import _install_faults, main  # noqa: F401

    import argparse

    args = argparse.Namespace(install_hresult=["u1=0x80240022", "*=0"], download_hresult=None,
                              install_seconds=["2", "u2=7.5"], download_seconds=None, reboot_seconds=3.0,
                              free_space_bytes=1024, never_returns="on", loop_update=["u3"])
    assert _install_faults(args) == {
        "install_hresult": {"u1": 0x80240022, "*": 0}, "install_seconds": 2.0,
        "install_seconds_by_update": {"u2": 7.5}, "reboot_seconds": 3.0, "free_space_bytes": 1024,
        "never_returns": True, "loop_updates": ["u3"]}
    cleared = argparse.Namespace(install_hresult=None, download_hresult=None, install_seconds=None,
                                 download_seconds=None, reboot_seconds=None, free_space_bytes=None,
                                 never_returns="off", loop_update=[""])
    assert _install_faults(cleared) == {"never_returns": False, "loop_updates": []}


def test_set_faults_takes_the_install_settings(catalog):
    model, backend = make_backend(catalog)
    faults = backend.set_faults(install_hresult={"u1": "0x80240022"}, install_seconds=2, reboot_seconds=3,
                                never_returns=True, loop_updates=["u3"], free_space_bytes=5,
                                install_seconds_by_update={"u2": 7.5}, download_seconds=1)
    assert faults["install_hresult"] == {"u1": 0x80240022} and faults["loop_updates"] == ["u3"]
    state = backend.status()
    assert (state["install_seconds"], state["reboot_seconds"], state["free_space_bytes"]) == (2.0, 3.0, 5)
    assert state["install_seconds_by_update"] == {"u2": 7.5} and state["download_seconds"] == 1.0
    backend.set_faults(install_seconds={"u2": -1}, loop_updates=None)
    assert backend.wua.install_seconds_by_update == {} and backend.wua.faults.loop_updates == set()


def test_files_of_the_catalog_are_read_from_the_store(catalog):
    model, backend = make_backend(catalog)
    files = CatalogFiles.load(catalog["store"], backend.catalog().version)
    connection = sqlite3.connect(catalog["store"])
    try:
        count = connection.execute("SELECT count(*) FROM update_files").fetchone()[0]
    finally:
        connection.close()
    assert sum(len(v) for v in files.files.values()) == count
    assert all(len(f["sha1"]) == 40 for v in files.files.values() for f in v)


# -- over WinRM ----------------------------------------------------------------------------------------

def winrm_run(fleet, host, args):
    """One module run over the lab's WinRM endpoint with the exec manifest ansible-core builds
    (the lab does not need the module's PowerShell source); returns the result."""
    from ansible.executor.powershell import module_manifest
    from ansible.plugins.shell.powershell import ShellModule
    from winrm.protocol import Protocol

    parts = ShellModule()._encode_script(module_manifest._get_powershell_script("bootstrap_wrapper.ps1"),
                                         as_list=True, strict_mode=False, preserve_rc=False)
    stdin = module_manifest._create_powershell_wrapper(
        name="ansible_collections.patchwave.windows.plugins.modules.install",
        module_data=b"#!powershell\n#AnsibleRequires -CSharpUtil Ansible.Basic\n", module_path="install.ps1",
        module_args=args, environment={}, async_timeout=0, become_plugin=None, substyle="powershell", task_vars={},
        profile="legacy")
    protocol = Protocol(**dict(fleet.protocol_kwargs(host), read_timeout_sec=15, operation_timeout_sec=10))
    shell_id = protocol.open_shell(codepage=65001)
    try:
        command_id = protocol.run_command(shell_id, parts[0], parts[1:], console_mode_stdin=False)
        protocol.send_command_input(shell_id, command_id, stdin, end=True)
        stdout, _stderr, rc = protocol.get_command_output(shell_id, command_id)
        protocol.cleanup_command(shell_id, command_id)
    finally:
        try:
            protocol.close_shell(shell_id)
        except Exception:  # pylint: disable=broad-except  # the host may have gone down meanwhile
            pass
    result = json.loads(stdout)
    assert validate_result(args["_operation"], result) == [], result
    assert rc == (1 if result.get("failed") else 0)
    return result


def test_install_and_reboot_over_winrm(catalog):
    """start / poll / cancel / reboot / status as the action plugin sends them: the reboot's answer gets
    out before the host goes down; then connections are refused until it is back with a new boot time."""
    factory = WuaBackend.factory(catalog["store"], time_scale=0.02, cache=catalog["cache"])
    with Fleet(1, auth="ntlm", backend_factory=factory, module_cost=0) as fleet:
        host = fleet.host(1)
        backend = host.backend
        backend.set_faults(search_seconds=0, install_seconds=1, reboot_seconds=25)  # 0.5 s down
        uid = needed(backend, 1, reboot=True)[0]
        start = winrm_run(fleet, host, {"_operation": "start", "batches": [batch(uid)],
                                        "_operation_options": {"give_up_seconds": 600}})
        done = winrm_run(fleet, host, {"_operation": "poll", "_operation_options": {
            "install_id": start["install_id"], "wait_seconds": 5}})
        assert done["state"] == "done" and done["install"]["updates"][0]["reboot_required"] is True
        assert winrm_run(fleet, host, {"_operation": "cancel", "_operation_options": {
            "install_id": start["install_id"]}})["cleaned"] is True
        before = winrm_run(fleet, host, {"_operation": "status"})
        assert before["reboot_pending"] is True
        reboot = winrm_run(fleet, host, {"_operation": "reboot", "_operation_options": {"reboot_delay_seconds": 5}})
        assert reboot["last_boot"] == before["last_boot"] and reboot["delay_seconds"] == 5
        deadline = time.monotonic() + 5
        while host.state == "up" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert host.state == "refuse"
        assert backend.installs.rebooted.wait(5)
        after = winrm_run(fleet, host, {"_operation": "status"})
        assert after["last_boot"] != before["last_boot"] and after["reboot_pending"] is False
        assert backend.status()["install"]["calls"] == {"cancel": 1, "poll": 1, "reboot": 1, "start": 1,
                                                        "status": 2}
