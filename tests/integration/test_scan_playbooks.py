"""The scan action plugin through ansible-playbook against lab hosts: every authentication mode,
online and offline, forced and unforced, every injected fault; the other hosts are unaffected."""

import json
import os
import subprocess
import sys
import threading
import time

import pytest
import yaml
from ansible_runs import BIN, ansible_json_env

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from ansible_collections.patchwave.windows.plugins.module_utils._scan.ingest import ingest  # noqa: E402
from ansible_collections.patchwave.windows.plugins.module_utils._scan.spool import pending_files  # noqa: E402
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store  # noqa: E402

from tests.catalog_gen.store import generated_store  # noqa: E402
from tests.lab.hosts import wua_host  # noqa: E402
from tests.lab.profiles import FleetProfile  # noqa: E402
from tests.lab.wua import CatalogCache  # noqa: E402


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    path, cab, _manifest = generated_store(str(tmp_path_factory.mktemp("scan-playbooks")), updates=400, seed=5)
    return {"store": path, "cab": cab}


def fresh_store(catalog, tmp_path):
    path = str(tmp_path / "store.db")
    with open(catalog["store"], "rb") as source, open(path, "wb") as target:
        target.write(source.read())
    return path


def play(tmp_path, inventory, store, spool, extra="", forks=10, check=False):
    """Run one scan task on every host; return {host: result}."""
    playbook = tmp_path / "scan.yml"
    playbook.write_text(
        "- hosts: windows\n  gather_facts: false\n  tasks:\n"
        "    - name: scan\n      patchwave.windows.scan:\n"
        "        server_selection: \"{{ lab_server_selection | default('default') }}\"\n"
        "        offline_scan_file: \"{{ lab_offline_scan_file | default(omit) }}\"\n"
        "        poll_interval: 0.2\n        timeout: 120\n"
        "        store: %s\n        spool: %s\n%s" % (store, spool, extra))
    command = [os.path.join(BIN, "ansible-playbook"), "-i", str(inventory), "-f", str(forks), str(playbook)]
    if check:
        command.append("--check")
    done = subprocess.run(command, env=ansible_json_env(tmp_path), capture_output=True, text=True, timeout=600, check=False)
    try:
        output = json.loads(done.stdout)
        results = output["plays"][0]["tasks"][0]["hosts"]
        assert len(results) == len(output["stats"]), (len(results), sorted(output["stats"]), done.stderr[-3000:])
        return results
    except (ValueError, KeyError, IndexError):
        raise AssertionError("ansible-playbook rc %d\n%s\n%s" % (done.returncode, done.stdout[-4000:],
                                                                 done.stderr[-4000:]))


def drop_first_poll(host):
    """Close the connection on the answer to the host's first poll: a drop mid-operation."""
    backend = host.backend
    real = backend.run_module
    seen = []

    def run_module(fqcn, args, context):
        result = real(fqcn, args, context)
        if args.get("_operation") == "poll" and not seen:
            seen.append(1)
            host.faults.drop_receive = 1
        return result

    backend.run_module = run_module


def write_inventory(fleet, path, host_vars):
    inventory = fleet.inventory()
    hosts = inventory["all"]["children"]["windows"]["hosts"]
    for name, variables in host_vars.items():
        hosts[name].update(variables)
    path.write_text(yaml.safe_dump(inventory))
    return path


def scans(store):
    opened = open_store(store)
    try:
        return opened.query("SELECT host_name, succeeded, mode, forced, hresult, error FROM scans ORDER BY scan_pk")
    finally:
        opened.close()


@pytest.mark.parametrize("auth", ["basic", "ntlm", "https"])
def test_modes_and_faults(catalog, tmp_path, auth):
    store = fresh_store(catalog, tmp_path)
    spool = str(tmp_path / "spool")
    profile = FleetProfile(store, seed=11, search_seconds=(0.2, 0.2), cache=CatalogCache())
    with profile.fleet(8, auth=auth) as fleet:
        shares = tmp_path / "share"
        shares.mkdir()
        (shares / "wsusscn2.cab").write_bytes(open(catalog["cab"], "rb").read())
        wua_host(fleet.host(7).model).fs.mount("\\\\fs01\\patchwave", str(shares))
        fleet.host(2).backend.set_faults(search_hresult=0x8024402C)
        fleet.host(3).backend.set_faults(scheduled_task_blocked=True)
        drop_first_poll(fleet.host(4))
        fleet.host(8).faults.drop_receive = 1  # the start's answer is lost
        fleet.host(5).backend.set_faults(search_seconds=20)  # emulated seconds: several polls
        fleet.host(6).go_down("refuse")
        inventory = write_inventory(fleet, tmp_path / "hosts.yml", {
            "win004": {"lab_server_selection": "windows_update"},
            "win005": {"lab_server_selection": "managed_server"},
            "win007": {"lab_server_selection": "offline", "lab_offline_scan_file": "\\\\fs01\\patchwave\\wsusscn2.cab"}})

        first = play(tmp_path, inventory, store, spool, "        force: true\n")
        for name in ("win001", "win004", "win005", "win007"):
            result = first[name]
            assert not result.get("failed") and result["changed"], (name, result.get("msg"))
            state = profile.host_state(int(name[3:]))
            assert result["scan"]["update_count"] == len(profile.snapshot.search(state).updates), name
            assert result["scan"]["result"] == "Succeeded"
        assert first["win007"]["scan"]["mode"] == "offline"
        assert first["win001"]["scan"]["mode"] == "online"
        assert first["win004"]["scan"]["server_selection"] == "windows_update"
        assert first["win005"]["scan"]["server_selection"] == "managed_server"
        assert first["win004"]["scan"]["server_selection"] == "windows_update"
        assert first["win005"]["scan"]["server_selection"] == "managed_server"
        assert first["win002"]["failed"] and first["win002"]["scan"]["hresult_name"] == "WU_E_PT_WINHTTP_NAME_NOT_RESOLVED"
        assert first["win003"]["failed"] and "0x80070005" in json.dumps(first["win003"])
        assert first["win006"].get("unreachable"), {k: first["win006"].get(k) for k in ("msg", "failed", "unreachable")}
        assert first["win008"]["failed"] and "lost while starting the scan" in first["win008"]["msg"]

        fleet.host(6).come_up()
        second = play(tmp_path, inventory, store, spool)  # unforced, inside the TTL
        for name in ("win001", "win004", "win005", "win007"):
            assert second[name]["skipped"] is True and second[name]["changed"] is False, (name, second[name])
            assert "catalog version 1" in second[name]["skip_reason"]
        assert second["win006"]["changed"] is True  # never scanned successfully: it scans now
        assert second["win002"]["failed"] is True   # the last scan failed: it scans again (and fails again)

    opened = open_store(store)
    ingest(opened, spool)
    opened.close()
    assert pending_files(spool) == []
    rows = scans(store)
    by_host = {}
    for row in rows:
        by_host.setdefault(row["host_name"], []).append(row)
    assert [r["succeeded"] for r in by_host["win001"]] == [1]
    assert by_host["win002"][0]["hresult"] == 0x8024402C and not by_host["win002"][0]["succeeded"]
    # unreachable is an attempt, never a failed scan: the host's only scan row is its good scan
    assert [r["succeeded"] for r in by_host["win006"]] == [1]
    opened = open_store(store)
    try:
        attempts = opened.query("SELECT host_name, failure, reason FROM scan_attempts ORDER BY host_name")
    finally:
        opened.close()
    assert [(a["host_name"], a["failure"]) for a in attempts] == [("win006", "unreachable"), ("win008", "connection")]
    assert "lost while starting the scan" in attempts[1]["reason"]
    assert by_host["win007"][0]["mode"] == "offline"


def test_check_mode_scans_nothing(catalog, tmp_path):
    store = fresh_store(catalog, tmp_path)
    spool = str(tmp_path / "spool")
    profile = FleetProfile(store, seed=3, cache=CatalogCache())
    with profile.fleet(2, auth="basic") as fleet:
        inventory = write_inventory(fleet, tmp_path / "hosts.yml", {})
        results = play(tmp_path, inventory, store, spool, check=True)
        assert all(r["changed"] and "would run" in r["msg"] for r in results.values()), results
        assert all(host.backend.status()["scans"] == [] for host in fleet.hosts)
    assert pending_files(spool) == []


def test_fifty_forks_lose_no_state_message(catalog, tmp_path):
    store = fresh_store(catalog, tmp_path)
    spool = str(tmp_path / "spool")
    profile = FleetProfile(store, seed=21, search_seconds=(0.1, 0.1), cache=CatalogCache())
    with profile.fleet(50, auth="basic") as fleet:
        inventory = write_inventory(fleet, tmp_path / "hosts.yml", {})
        results = play(tmp_path, inventory, store, spool, "        force: true\n", forks=50)
    assert len(results) == 50, sorted(results)
    assert not any(r.get("failed") for r in results.values())
    opened = open_store(store)
    counts = ingest(opened, spool)
    opened.close()
    # forced scans leave every message in the spool; one ingest moves them all, none twice
    assert counts == {"ingested": 50, "duplicates": 0, "quarantined": 0, "pruned": 0}
    rows = scans(store)
    assert len(rows) == 50 and len({r["host_name"] for r in rows}) == 50


def test_store_unavailable_loses_nothing(catalog, tmp_path):
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a database" * 100)
    spool = str(tmp_path / "spool")
    profile = FleetProfile(fresh_store(catalog, tmp_path), seed=4, cache=CatalogCache())
    with profile.fleet(2, auth="basic") as fleet:
        inventory = write_inventory(fleet, tmp_path / "hosts.yml", {})
        results = play(tmp_path, inventory, str(broken), spool)
    assert all(r["store_unavailable"] and r["changed"] for r in results.values()), results
    assert len(pending_files(spool)) == 2
    good = str(tmp_path / "good.db")
    opened = open_store(good)
    assert ingest(opened, spool)["ingested"] == 2
    opened.close()


def test_a_bad_retention_setting_fails_the_task_before_anything_runs(catalog, tmp_path, monkeypatch):
    store = fresh_store(catalog, tmp_path)
    spool = str(tmp_path / "spool")
    monkeypatch.setenv("PATCHWAVE_HISTORY_DAYS", "a month")
    profile = FleetProfile(store, seed=3, cache=CatalogCache())
    with profile.fleet(1, auth="basic") as fleet:
        inventory = write_inventory(fleet, tmp_path / "hosts.yml", {})
        results = play(tmp_path, inventory, store, spool)
        assert all(r.get("failed") and "PATCHWAVE_HISTORY_DAYS must be a whole number" in r["msg"]
                   for r in results.values()), results
        assert all(host.backend.status()["scans"] == [] for host in fleet.hosts)


def count_polls(host):
    """Record the wait_seconds of every poll the host's module receives."""
    backend = host.backend
    real = backend.run_module
    waits = []

    def run_module(fqcn, args, context):
        if args.get("_operation") == "poll":
            waits.append(args["_operation_options"]["wait_seconds"])
        return real(fqcn, args, context)

    backend.run_module = run_module
    return waits


def test_polls_are_held_on_the_host_and_host_warnings_reach_the_result(catalog, tmp_path):
    store = fresh_store(catalog, tmp_path)
    spool = str(tmp_path / "spool")
    # a 3-second search: at the 0.2-second poll_interval of the play, short polls would take ~15 rounds
    profile = FleetProfile(store, seed=8, search_seconds=(3.0, 3.0), cache=CatalogCache())
    with profile.fleet(2, auth="basic") as fleet:
        fleet.host(2).backend.set_faults(s4u_blocked=True)
        waits = [count_polls(fleet.host(1)), count_polls(fleet.host(2))]
        inventory = write_inventory(fleet, tmp_path / "hosts.yml", {})
        results = play(tmp_path, inventory, store, spool, "        force: true\n")
    assert not any(r.get("failed") for r in results.values()), results
    for polls in waits:
        assert 1 <= len(polls) <= 2, polls
        assert all(0 < wait <= 25 for wait in polls), polls
    warned = [w for w in results["win002"].get("warnings", []) if "could not start as" in w and "SYSTEM" in w]
    assert len(warned) == 1, results["win002"].get("warnings")
    assert not [w for w in results["win001"].get("warnings", []) if "S4U" in w]


def test_a_failed_scan_changes_nothing(catalog, tmp_path):
    """Every way a scan fails reports changed: false; the good scan beside them is changed."""
    store = fresh_store(catalog, tmp_path)
    spool = str(tmp_path / "spool")
    profile = FleetProfile(store, seed=6, search_seconds=(0.1, 0.1), cache=CatalogCache())
    with profile.fleet(4, auth="basic") as fleet:
        shares = tmp_path / "share"
        shares.mkdir()
        for index in (1, 2, 3):
            wua_host(fleet.host(index).model).fs.mount("\\\\fs01\\patchwave", str(shares))
        (shares / "wsusscn2.cab").write_bytes(open(catalog["cab"], "rb").read())
        fleet.host(4).backend.set_faults(search_hresult=0x8024402C)
        inventory = write_inventory(fleet, tmp_path / "hosts.yml", {
            "win001": {"lab_server_selection": "offline", "lab_offline_scan_file": "\\\\fs01\\patchwave\\wsusscn2.cab"},
            # a share path that resolves to no file: the host's search fails (0x80070002)
            "win002": {"lab_server_selection": "offline", "lab_offline_scan_file": "\\\\fs01\\patchwave\\typo.cab"},
            # a local path that does not exist: the host refuses to start
            "win003": {"lab_server_selection": "offline", "lab_offline_scan_file": "C:\\Patchwave\\missing.cab"}})
        results = play(tmp_path, inventory, store, spool, "        force: true\n")
    assert results["win001"]["changed"] is True and not results["win001"].get("failed"), results["win001"].get("msg")
    for name in ("win002", "win003", "win004"):
        assert results[name]["failed"] is True, (name, results[name].get("msg"))
        assert results[name]["changed"] is False, (name, results[name].get("msg"))
    assert results["win002"]["scan"]["hresult"] == "0x80070002" and results["win002"]["scan"]["mode"] == "offline"
    assert "does not exist" in results["win003"]["msg"]


def test_setting_an_internal_option_is_refused_naming_the_module(tmp_path):
    playbook = tmp_path / "internal.yml"
    playbook.write_text(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n"
        "    - name: scan\n      patchwave.windows.scan:\n        _operation: start\n        store: %s\n"
        "      ignore_errors: true\n"
        "    - name: scan with a misspelled option\n      patchwave.windows.scan:\n        forcee: true\n"
        "        store: %s\n      ignore_errors: true\n" % (tmp_path / "store.db", tmp_path / "store.db"))
    done = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", str(playbook)],
                          env=ansible_json_env(tmp_path), capture_output=True, text=True, timeout=300, check=False)
    output = json.loads(done.stdout)
    internal = output["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert internal["failed"] is True
    assert internal["msg"].startswith("patchwave.windows.scan: remove _operation from the task: it is internal"), internal
    misspelled = output["plays"][0]["tasks"][1]["hosts"]["localhost"]
    assert misspelled["msg"].startswith("Unsupported parameters for (patchwave.windows.scan) module: forcee."), misspelled
    assert "ansible_collections" not in done.stdout
    assert not os.path.exists(tmp_path / "store.db"), "nothing ran"


def test_a_host_that_drops_mid_scan_is_waited_for(catalog, tmp_path):
    store = fresh_store(catalog, tmp_path)
    spool = str(tmp_path / "spool")
    profile = FleetProfile(store, seed=9, search_seconds=(8.0, 8.0), cache=CatalogCache())
    with profile.fleet(2, auth="basic") as fleet:
        inventory = write_inventory(fleet, tmp_path / "hosts.yml", {})
        flaky = fleet.host(2)

        def outage():
            time.sleep(2.0)          # the scan has started and its first poll is held
            flaky.go_down("refuse")  # WinRM refuses for 5 seconds mid-search
            time.sleep(5.0)
            flaky.come_up(reset_shells=True)

        thread = threading.Thread(target=outage)
        thread.start()
        try:
            results = play(tmp_path, inventory, store, spool, "        force: true\n")
        finally:
            thread.join()
    assert not results["win002"].get("unreachable"), results["win002"].get("msg")
    assert results["win002"]["changed"] and results["win002"]["scan"]["result"] == "Succeeded", results["win002"]
    assert results["win001"]["scan"]["result"] == "Succeeded"


def test_a_store_without_a_catalog_gets_a_warning(catalog, tmp_path):
    empty = str(tmp_path / "empty.db")
    open_store(empty).close()
    spool = str(tmp_path / "spool")
    profile = FleetProfile(fresh_store(catalog, tmp_path), seed=5, cache=CatalogCache())
    with profile.fleet(1, auth="basic") as fleet:
        inventory = write_inventory(fleet, tmp_path / "hosts.yml", {})
        results = play(tmp_path, inventory, empty, spool, "        force: true\n")
    result = results["win001"]
    assert result["changed"] and result["catalog_version"] is None
    warned = [w for w in result.get("warnings", []) if "holds no catalog version" in w and "catalog_sync" in w]
    assert len(warned) == 1, result.get("warnings")
