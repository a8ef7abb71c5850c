"""patchwave.windows.install against lab hosts through ansible-playbook (issue 12).

One fleet, one month: scan, freeze the list from rules, a template and a deployment whose content
comes from a distribution point (a folder staged by content_stage and published by nginx on
loopback), then the install on every host, each with its own trouble: an update that fails, a host
that does not come back from its restart, an update loop, a host outside its maintenance window, a
host that is down. Then compliance follows the state messages, a second run installs nothing, check
mode plans from the store, and a deployment that targets nobody skips everybody.
"""

import datetime
import json
import os
import subprocess
import threading
import time

import pytest
import yaml
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.source import MICROSOFT_SOURCES
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.reads import evaluate_store
from ansible_collections.patchwave.windows.plugins.module_utils._content.package import package_records
from ansible_collections.patchwave.windows.plugins.module_utils._distribution.layout import content_parts, extension_of
from ansible_collections.patchwave.windows.plugins.module_utils._prepare.deployment_compliance import (
    SET_NAME,
    deployment_set,
)
from ansible_collections.patchwave.windows.plugins.module_utils._prepare.deployments import read_deployment
from ansible_collections.patchwave.windows.plugins.module_utils._scan.ingest import ingest
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_runs import BIN, ansible_json_env
from content_fixtures import nginx, world  # noqa: F401  pylint: disable=unused-import

from tests.catalog_gen import generate
from tests.catalog_gen.store import sync_file
from tests.lab.hosts import wua_host
from tests.lab.profiles import FleetProfile
from tests.lab.wua import CatalogCache
from tests.servers import samba
from tests.servers.http import Nginx

HOSTS = 9


def run_task(tmp_path, inventory, task_yaml, name, forks=10, check=False, expect_hosts=HOSTS):
    """One task on every Windows host; {host: result}."""
    playbook = tmp_path / ("%s.yml" % name)
    playbook.write_text("- hosts: windows\n  gather_facts: false\n  tasks:\n" + task_yaml)
    command = [os.path.join(BIN, "ansible-playbook"), "-i", str(inventory), "-f", str(forks), str(playbook)]
    if check:
        command.append("--check")
    done = subprocess.run(command, env=ansible_json_env(tmp_path), capture_output=True, text=True, timeout=900,
                          check=False)
    try:
        output = json.loads(done.stdout)
        results = output["plays"][0]["tasks"][0]["hosts"]
    except (ValueError, KeyError, IndexError):
        raise AssertionError("ansible-playbook rc %d\n%s\n%s" % (done.returncode, done.stdout[-4000:],
                                                                 done.stderr[-4000:]))
    assert len(results) == expect_hosts, (sorted(results), done.stderr[-3000:])
    return results


def install_task(store, spool, extra=""):
    return ("    - name: install\n      patchwave.windows.install:\n        store: %s\n        spool: %s\n"
            "        poll_interval: 0.2\n        reboot_timeout: 20\n"
            "        predownload: \"{{ lab_predownload | default(false) }}\"\n%s" % (store, spool, extra))


def required_on(store_path, deployment_name, hosts, spool=None):
    """Each host's Required updates of the deployment (with their detail), the spool's state messages
    ingested first as every reader does."""
    store = open_store(store_path)
    try:
        ingest(store, spool or os.path.join(os.path.dirname(store_path), "spool"))
        deployment = read_deployment(store, deployment_name)
        evaluation = evaluate_store(store, [deployment_set(store, deployment)], hosts=hosts, per_update=False,
                                    required=True)
        return {h: dict(evaluation.sets[SET_NAME].host_required.get(h, ())) for h in hosts}
    finally:
        store.close()


@pytest.fixture
def month(world, nginx, tmp_path, runner):  # noqa: F811  pylint: disable=redefined-outer-name
    """A lab fleet scanned, the month's list frozen, a package staged on a distribution point that nginx
    publishes, a template and the deployment 'pilot' targeting every host."""
    store = str(tmp_path / "store.db")
    with open(world["store"], "rb") as source, open(store, "wb") as target:
        target.write(source.read())
    spool = str(tmp_path / "spool")
    point_folder = tmp_path / "dp"
    point_folder.mkdir()
    profile = FleetProfile(store, seed=31, mix={"behind": 1.0}, hidden_share=0, reboot_share=0, downloaded_share=0,
                           search_seconds=(0.1, 0.1), time_scale=0.02, cache=CatalogCache())
    with Nginx(str(point_folder)) as point_server, profile.fleet(HOSTS, auth="ntlm") as fleet:
        inventory = tmp_path / "hosts.yml"
        inventory.write_text(yaml.safe_dump(fleet.inventory()))
        scanned = run_task(tmp_path, inventory, "    - name: scan\n      patchwave.windows.scan:\n"
                                                "        force: true\n        poll_interval: 0.2\n"
                                                "        store: %s\n        spool: %s\n" % (store, spool), "scan")
        assert all(r["changed"] for r in scanned.values()), scanned
        listed = runner.module("update_list", {"store": store, "spool": spool, "name": "dec",
                                               "classifications": ["Security Updates", "Critical Updates"],
                                               "required_min_hosts": 1, "freeze": True}, "list")
        assert listed["updates"], listed
        runner.module("deployment_template", {"store": store, "name": "monthly", "reboot": "if_required",
                                              "content_source": "distribution_point",
                                              "deadline_randomization_minutes": 0}, "template")
        library = str(tmp_path / "library")
        package = runner.module("deployment_package", {"store": store, "name": "dec-pkg", "update_list": "dec",
                                                       "library": library, "mirror_url": nginx.url("/")}, "package")
        assert not package.get("failed"), package
        staged = runner.module("content_stage", {"store": store, "package": "dec-pkg", "library": library,
                                                 "distribution_points": [{"name": "dp", "type": "path",
                                                                          "path": str(point_folder),
                                                                          "host_url": point_server.url("/")}]},
                               "stage")
        assert not staged.get("failed"), staged
        runner.module("deployment", {"store": store, "name": "pilot", "update_list": "dec", "targets": ["windows"],
                                     "template": "monthly", "package": "dec-pkg", "distribution_points": ["dp"]},
                      "deployment")
        runner.module("deployment", {"store": store, "name": "broad", "update_list": "dec", "targets": ["broad"],
                                     "template": "monthly"}, "deployment_broad")
        yield {"store": store, "spool": spool, "fleet": fleet, "inventory": inventory, "list": listed,
               "names": [fleet.host_name(i) for i in range(1, HOSTS + 1)], "point": point_folder}


def test_a_month_on_the_lab(month, tmp_path, runner):  # pylint: disable=redefined-outer-name
    store, spool, fleet, names = month["store"], month["spool"], month["fleet"], month["names"]
    before = required_on(store, "pilot", names)
    assert all(before[n] for n in names), before  # every host needs something of the list

    # the plan first, from the store (nothing runs on the hosts)
    planned = run_task(tmp_path, month["inventory"], install_task(store, spool, "        deployment: pilot\n"),
                       "plan", check=True)
    for name in names:
        plan = planned[name]["plan"]
        assert sorted(plan_uid for batch in plan["batches"] for plan_uid in batch) == sorted(before[name]), name
    assert all(h.backend.installs.status()["calls"].get("start", 0) == 0 for h in fleet.hosts)

    # each host's trouble
    fleet.host(2).backend.set_faults(install_hresult={"*": 0x80240022})
    fleet.host(3).backend.set_faults(never_returns=True)
    loop_update = sorted(before["win004"])[0]
    fleet.host(4).backend.set_faults(loop_updates=[loop_update])
    tomorrow = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)).strftime("%Y-%m-%d")
    inventory = yaml.safe_load(month["inventory"].read_text())
    hosts = inventory["all"]["children"]["windows"]["hosts"]
    hosts["win005"]["patchwave_maintenance_windows"] = [{"name": "tomorrow", "date": tomorrow, "start": "01:00",
                                                         "duration_minutes": 600}]
    # win009 fetches its content ahead of the same window and installs nothing
    hosts["win009"].update(patchwave_maintenance_windows=hosts["win005"]["patchwave_maintenance_windows"],
                           lab_predownload=True)
    month["inventory"].write_text(yaml.safe_dump(inventory))
    fleet.host(7).go_down("refuse")

    results = run_task(tmp_path, month["inventory"], install_task(store, spool, "        deployment: pilot\n"),
                       "install")
    outcomes = {n: results[n].get("outcome") for n in names}
    assert outcomes == {"win001": "compliant", "win002": "failed", "win003": "did_not_return",
                        "win004": "update_loop", "win005": "waiting_for_window", "win006": "compliant",
                        "win007": "unreachable", "win008": "compliant", "win009": "waiting_for_window"}, {
                            n: results[n].get("msg") for n in names}
    good = results["win001"]
    assert good["installed_update_count"] == len(before["win001"]) == good["found_update_count"]
    assert good["rebooted"] and not good["reboot_required"] and good["changed"]
    assert all(u["outcome"] == "installed" for u in good["updates"].values()), good["updates"]
    assert results["win002"]["failed_update_count"] == len(before["win002"])
    assert all(u["failure_hresult_code"] == 0x80240022 - (1 << 32) and "0x80240022" in u["failure_msg"]
               for u in results["win002"]["updates"].values())
    assert "did not come back" in results["win003"]["msg"]
    assert results["win004"]["update_loops"] == [loop_update]
    waiting = results["win005"]["updates"]
    assert waiting and all(u["outcome"] == "waiting_for_window" and u["needs_minutes"] for u in waiting.values())
    assert results["win005"]["installed_update_count"] == 0 and not results["win005"]["changed"]
    assert results["win007"].get("unreachable")
    early = results["win009"]
    assert early["predownloaded_update_count"] == len(before["win009"]) and early["installed_update_count"] == 0
    assert all(u["outcome"] == "downloaded" and u["downloaded"] for u in early["updates"].values()), early["updates"]
    assert set(before["win009"]) <= fleet.host(9).backend.wua.downloaded
    assert not set(before["win009"]) & fleet.host(9).backend.wua.installed
    # a host that installed, restarted once, and the lab counted its round trips
    calls = fleet.host(1).backend.installs.status()["calls"]
    assert calls["reboot"] == 1 and calls["start"] >= 1 and calls["cancel"] == calls["start"]

    # compliance follows: what installed is Installed, the failures Required with their detail
    after = required_on(store, "pilot", names)
    assert after["win001"] == {} and after["win006"] == {} and after["win008"] == {}
    assert set(after["win002"].values()) == {"install_failed"}, after["win002"]
    assert after["win004"] == {loop_update: "install_failed"}
    assert set(after["win005"].values()) == {"not_attempted_window"}, after["win005"]
    assert after["win007"] == before["win007"]
    assert set(after["win009"]) == set(before["win009"])  # fetched, still to install

    # a second run on the healthy hosts changes nothing
    for index in (2, 3, 4, 5):
        fleet.host(index).backend.set_faults(install_hresult=None, loop_updates=None, never_returns=False)
    fleet.host(7).come_up()
    again = run_task(tmp_path, month["inventory"], install_task(store, spool, "        deployment: pilot\n")
                     + "      when: inventory_hostname in ['win001', 'win006', 'win008']\n", "again")
    for name in ("win001", "win006", "win008"):
        assert again[name]["outcome"] == "compliant" and not again[name]["changed"], again[name]
        assert again[name]["found_update_count"] == 0 and not again[name]["rebooted"]

    # win005 leaves its window; it has fetched nothing yet (a host with the files in WUA's cache would not
    # fetch them again)
    inventory = yaml.safe_load(month["inventory"].read_text())
    del inventory["all"]["children"]["windows"]["hosts"]["win005"]["patchwave_maintenance_windows"]
    month["inventory"].write_text(yaml.safe_dump(inventory))

    # a distribution point that does not answer: every download fails, nothing installs, and the state
    # messages say why (compliance: Required install_failed)
    runner.module("distribution_point", {"store": store, "name": "dp-down", "type": "path",
                                         "path": str(month["point"]), "host_url": "http://127.0.0.1:9/"}, "dp_down")
    runner.module("deployment", {"store": store, "name": "pilot-down", "update_list": "dec", "targets": ["windows"],
                                 "template": "monthly", "package": "dec-pkg", "distribution_points": ["dp-down"]},
                  "deployment_down")
    down = run_task(tmp_path, month["inventory"], install_task(store, spool, "        deployment: pilot-down\n")
                    + "      when: inventory_hostname == 'win005'\n", "down")["win005"]
    assert down["outcome"] == "failed" and down["installed_update_count"] == 0, json.dumps(down)[:3000]
    assert all(u["outcome"] == "download_failed" and "0x80072EFD" in u["failure_msg"] for u in down["updates"].values())
    assert set(required_on(store, "pilot", ["win005"])["win005"].values()) == {"install_failed"}

    # a damaged file on the distribution point (same size, other bytes): the host's digest check refuses
    # it, the updates that need it fail to download, the others install
    store_handle = open_store(store)
    try:
        records = package_records(store_handle, sorted(after["win005"]), ["en"])
    finally:
        store_handle.close()
    victim = records[0]
    damaged = month["point"].joinpath(*content_parts(victim["sha1"], victim["sha256"], extension_of(victim["file_name"])))
    data = bytearray(damaged.read_bytes())
    data[0] ^= 0xFF
    damaged.write_bytes(bytes(data))
    corrupt = run_task(tmp_path, month["inventory"], install_task(store, spool, "        deployment: pilot\n")
                       + "      when: inventory_hostname == 'win005'\n", "corrupt")["win005"]
    assert corrupt["outcome"] == "failed", corrupt.get("msg")
    hit = corrupt["updates"][victim["update_id"]]
    assert hit["outcome"] == "download_failed" and "0x80246002" in hit["failure_msg"], hit
    assert corrupt["installed_update_count"] == len(after["win005"]) - sum(
        1 for u in corrupt["updates"].values() if u["outcome"] == "download_failed")

    # a branch that reaches only its distribution point's share: the scans read the offline scan file
    # staged there, the content comes from the same share (win009, which fetched its content earlier)
    library = str(tmp_path / "library")
    runner.module("content_stage", {"store": store, "package": "dec-pkg", "library": library, "offline_scan_file": True,
                                    "distribution_points": [{"name": "dp-unc", "type": "path", "path": str(month["point"]),
                                                             "host_url": "\\\\dp01\\content"}]}, "stage_unc")
    runner.module("deployment_template", {"store": store, "name": "branch", "scan_source": "offline",
                                          "content_source": "distribution_point", "deadline_randomization_minutes": 0},
                  "template_branch")
    runner.module("deployment", {"store": store, "name": "pilot-unc", "update_list": "dec", "targets": ["windows"],
                                 "template": "branch", "package": "dec-pkg", "distribution_points": ["dp-unc"]},
                  "deployment_unc")
    wua_host(fleet.host(9).model).fs.mount("\\\\dp01\\content", str(month["point"]))
    inventory = yaml.safe_load(month["inventory"].read_text())
    for key in ("patchwave_maintenance_windows", "lab_predownload"):
        del inventory["all"]["children"]["windows"]["hosts"]["win009"][key]
    month["inventory"].write_text(yaml.safe_dump(inventory))
    branch = run_task(tmp_path, month["inventory"], install_task(store, spool, "        deployment: pilot-unc\n")
                      + "      when: inventory_hostname == 'win009'\n", "branch")["win009"]
    assert branch["outcome"] == "compliant" and branch["installed_update_count"] == len(before["win009"]), branch.get("msg")
    opened = open_store(store)
    try:
        modes = [r["mode"] for r in opened.query("SELECT mode FROM scans WHERE host_name = 'win009' ORDER BY scan_pk")]
    finally:
        opened.close()
    assert modes[-2:] == ["offline", "offline"], modes  # the scan before the install and the verification scan

    # a deployment that targets a group the hosts are not in skips them, without reaching them
    skipped = run_task(tmp_path, month["inventory"], install_task(store, spool, "        deployment: broad\n")
                       + "      when: inventory_hostname != 'win003'\n", "broad")
    assert all(skipped[n]["outcome"] == "skipped" and skipped[n]["reason"] == "not_targeted"
               for n in names if n != "win003"), skipped


def test_ad_hoc_window_closing_restart_and_dropped_poll(world, tmp_path):  # noqa: F811  pylint: disable=redefined-outer-name
    """Ad hoc, as win_updates: a window that closes before the work is done (the first update starts, the
    rest wait), a host restarted under the worker (what is left installs after it), and a poll whose
    connection drops (retried on a fresh one; nothing is lost)."""
    store = str(tmp_path / "store.db")
    with open(world["store"], "rb") as source, open(store, "wb") as target:
        target.write(source.read())
    spool = str(tmp_path / "spool")
    profile = FleetProfile(store, seed=32, mix={"behind": 1.0}, hidden_share=0, reboot_share=0, downloaded_share=0,
                           search_seconds=(0.1, 0.1), time_scale=0.02, cache=CatalogCache())
    opened = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)
    window = [{"name": "closing", "date": opened.strftime("%Y-%m-%d"), "start": opened.strftime("%H:%M"),
               "duration_minutes": 120}]
    with profile.fleet(3, auth="ntlm") as fleet:
        inventory = fleet.inventory()
        inventory["all"]["children"]["windows"]["hosts"]["win001"]["patchwave_maintenance_windows"] = window
        path = tmp_path / "hosts.yml"
        path.write_text(yaml.safe_dump(inventory))
        # win002: the first install call is slow, and the host restarts under it 3 s into the play's install
        fleet.host(2).backend.set_faults(install_seconds=500)

        def restart_under_the_worker():
            installs = fleet.host(2).backend.installs
            deadline = time.monotonic() + 60
            while not installs.status()["calls"].get("poll") and time.monotonic() < deadline:
                time.sleep(0.1)
            fleet.host(2).backend.set_faults(install_seconds=3)
            installs.schedule_reboot(fleet.host(2), delay_seconds=0)

        restarter = threading.Thread(target=restart_under_the_worker, daemon=True)
        restarter.start()
        drop_first_install_poll(fleet.host(3))
        results = run_task(tmp_path, path, install_task(store, spool, "        category_names: ['*']\n"
                                                                      "        max_run_time_minutes: 60\n"
                                                                      "        reboot: true\n"), "adhoc",
                           expect_hosts=3)
        restarter.join(5)
        # check mode, ad hoc: the plan from each host's newest scan in the store (the runs' verification
        # scans), nothing on the hosts
        planned = run_task(tmp_path, path, install_task(store, spool, "        category_names: ['*']\n"
                                                                      "        max_run_time_minutes: 60\n"), "adhoc_plan",
                           check=True, expect_hosts=3)
    # what waited still fits the window's remaining 100 minutes one at a time: the plan says each may wait
    # behind the ones before it (the worker decides on its clock)
    closing_plan = planned["win001"]["plan"]
    assert closing_plan["install"] and closing_plan["scan"]["received"], planned["win001"].get("msg")
    assert all(d["latest_start"] for d in closing_plan["install"])
    assert len(closing_plan["install"]) == 1 or any(d["may_wait"] for d in closing_plan["install"]), closing_plan
    assert planned["win003"]["outcome"] == "compliant" and planned["win003"]["plan"]["install"] == []
    assert not planned["win003"]["changed"]
    closing = results["win001"]
    assert closing["outcome"] == "waiting_for_window", closing.get("msg")
    states = [u["outcome"] for u in closing["updates"].values()]
    assert "installed" in states or "pending_restart" in states, closing["updates"]
    waiting = [u for u in closing["updates"].values() if u["outcome"] == "waiting_for_window"]
    assert waiting and all(u.get("reason") in ("window", None) for u in waiting), waiting
    restarted = results["win002"]
    assert restarted["outcome"] == "compliant" and restarted["rebooted"], restarted.get("msg")
    assert any("restarted during the install" in m for m in restarted["messages"]), restarted["messages"]
    assert restarted["installed_update_count"] >= 1
    dropped = results["win003"]
    assert dropped["outcome"] == "compliant" and dropped["installed_update_count"] >= 1, dropped.get("msg")
    assert fleet.host(3).backend.installs.status()["calls"]["poll"] >= 2  # the dropped poll was sent again


def drop_first_install_poll(host):
    """Reset the connection that waits for the answer to the install module's first poll: a drop mid-install."""
    backend = host.backend
    real = backend.run_module
    seen = []

    def run_module(fqcn, args, context):
        result = real(fqcn, args, context)
        if fqcn == "patchwave.windows.install" and args.get("_operation") == "poll" and not seen:
            seen.append(1)
            host.drop_connections()  # the client's Receive waiting for this answer gets a reset instead
        return result

    backend.run_module = run_module


def test_fifty_forks_lose_no_state_message(world, runner, tmp_path):  # noqa: F811  pylint: disable=redefined-outer-name
    """50 hosts install at once (-f 50), each writing its scans and enforcement states into one spool while
    the others ingest it: afterwards the store holds every message each host said it wrote, the spool is
    empty, nothing is quarantined, and every host is compliant for the deployment."""
    store = str(tmp_path / "store.db")
    with open(world["store"], "rb") as source, open(store, "wb") as target:
        target.write(source.read())
    spool = str(tmp_path / "spool")
    # a third-party feed beside Microsoft's: its updates are in the store, WUA on the hosts never saw them
    feed = str(tmp_path / "contoso.json")
    generate("catalog_file", feed, updates=6, seed=4)
    opened = open_store(store)
    try:
        sync_file(opened, feed)
        third_party = opened.query("SELECT update_id FROM updates WHERE kind = 'software' AND source NOT IN (?, ?) "
                                   "ORDER BY update_id LIMIT 1", MICROSOFT_SOURCES)[0]["update_id"]
    finally:
        opened.close()
    profile = FleetProfile.never_patched(store, seed=33, time_scale=0, cache=CatalogCache())
    for index in range(1, 51):  # the hosts' update service publishes Microsoft's updates only
        profile.host_state(index).published_sources = frozenset()
    needed = profile.needed_ids()
    ids = needed[:4]
    assert len(ids) == 4, needed
    runner.module("update_list", {"store": store, "name": "four", "updates": ids + [third_party], "freeze": True},
                  "four")
    runner.module("deployment_template", {"store": store, "name": "quiet", "reboot": "never",
                                          "deadline_randomization_minutes": 0}, "quiet")
    runner.module("deployment", {"store": store, "name": "all-at-once", "update_list": "four",
                                 "targets": ["windows"], "template": "quiet"}, "all_at_once")
    with profile.fleet(50, auth="basic") as fleet:
        inventory = tmp_path / "hosts.yml"
        inventory.write_text(yaml.safe_dump(fleet.inventory()))
        results = run_task(tmp_path, inventory, install_task(store, spool, "        deployment: all-at-once\n"),
                           "fifty", forks=50, expect_hosts=50)
    names = sorted(results)
    assert {results[n]["outcome"] for n in names} <= {"compliant", "installed_pending_restart"}, {
        n: results[n].get("msg") for n in names if results[n]["outcome"] not in ("compliant", "installed_pending_restart")}
    assert all(results[n]["installed_update_count"] == 4 for n in names)
    assert all(results[n]["updates"][third_party]["outcome"] == "not_installable_by_wua" for n in names), \
        results[names[0]]["updates"]
    required = required_on(store, "all-at-once", names, spool)
    assert all(set(required[n].values()) <= {"pending_reboot"} for n in names), required
    assert not [name for name in os.listdir(spool) if name.endswith(".json")], os.listdir(spool)
    opened = open_store(store)
    try:
        scans = {r["host_name"]: r["n"] for r in opened.query(
            "SELECT host_name, count(*) AS n FROM scans GROUP BY host_name")}
        states = {r["host_name"]: r["n"] for r in opened.query(
            "SELECT host_name, count(*) AS n FROM enforcement_states GROUP BY host_name")}
        quarantined = opened.query("SELECT count(*) AS n FROM message_quarantine")[0]["n"]
    finally:
        opened.close()
    for name in names:
        assert scans.get(name, 0) + states.get(name, 0) == results[name]["state_messages"], (
            name, scans.get(name), states.get(name), results[name]["state_messages"])
    assert quarantined == 0


def test_smb_distribution_point(world, nginx, runner, tmp_path):  # noqa: F811  pylint: disable=redefined-outer-name
    """A deployment whose content is staged on an SMB distribution point (the tests' Samba, signing
    required) and whose hosts read it through its UNC host_url, for real, with the credentials the
    worker presents; a host whose credentials the share refuses fails to download, naming the cause."""
    reason = samba.available()
    if reason:
        pytest.fail("cannot start the tests' Samba server: %s" % reason)
    store = str(tmp_path / "store.db")
    with open(world["store"], "rb") as source, open(store, "wb") as target:
        target.write(source.read())
    spool = str(tmp_path / "spool")
    profile = FleetProfile.never_patched(store, seed=34, time_scale=0.02, cache=CatalogCache())
    ids = profile.needed_ids()[:3]
    library = str(tmp_path / "library")
    unc = "\\\\dp02\\content"
    with samba.private_server(encrypt="if_required") as smb:
        runner.module("update_list", {"store": store, "name": "smb-three", "updates": ids, "freeze": True}, "list")
        package = runner.module("deployment_package", {"store": store, "name": "smb-pkg", "update_list": "smb-three",
                                                       "library": library, "mirror_url": nginx.url("/")}, "package")
        assert not package.get("failed"), package
        staged = runner.module("content_stage", {
            "store": store, "package": "smb-pkg", "library": library, "username": smb.username,
            "password": smb.password, "distribution_points": [{
                "name": "dp-smb", "type": "smb", "server": smb.host, "port": smb.port, "share": smb.share,
                "folder": "WsusContent", "host_url": unc + "\\WsusContent"}]}, "stage")
        assert not staged.get("failed"), staged
        runner.module("deployment_template", {"store": store, "name": "smb", "content_source": "distribution_point",
                                              "reboot": "never", "deadline_randomization_minutes": 0}, "template")
        runner.module("deployment", {"store": store, "name": "smb-wave", "update_list": "smb-three",
                                     "targets": ["windows"], "template": "smb", "package": "smb-pkg",
                                     "distribution_points": ["dp-smb"]}, "deployment")
        with profile.fleet(2, auth="ntlm") as fleet:
            wua_host(fleet.host(1).model).fs.mount_smb(unc, smb.host, smb.port, smb.share, smb.username, smb.password)
            wua_host(fleet.host(2).model).fs.mount_smb(unc, smb.host, smb.port, smb.share, smb.username, "wrong")
            inventory = tmp_path / "hosts.yml"
            inventory.write_text(yaml.safe_dump(fleet.inventory()))
            results = run_task(tmp_path, inventory, install_task(store, spool, "        deployment: smb-wave\n"),
                               "smb", expect_hosts=2)
    good, refused = results["win001"], results["win002"]
    assert good["outcome"] in ("compliant", "installed_pending_restart"), good.get("msg")
    assert good["installed_update_count"] == len(ids)
    assert refused["outcome"] == "failed" and refused["installed_update_count"] == 0, refused.get("msg")
    assert all(u["outcome"] == "download_failed" and "0x8007052E" in u["failure_msg"]
               and "user name or password" in u["failure_msg"] for u in refused["updates"].values()), refused["updates"]
