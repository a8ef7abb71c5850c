"""patchwave.windows.host_workers through ansible-playbook against lab hosts: a scan whose controller
was killed (SIGKILL: nothing could cancel it) stays on the host, is listed as abandoned once its
controller's give-up time has passed, check mode removes nothing, state=absent removes it (the lab's
status agrees), and a second run changes nothing. Every result is held to the RETURN docs."""

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from ansible_runs import BIN, ansible_json_env
from test_module_returns import ReturnChecker, run_playbook

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from tests.catalog_gen.store import generated_store  # noqa: E402
from tests.lab.profiles import FleetProfile  # noqa: E402
from tests.lab.wua import CatalogCache  # noqa: E402

pytestmark = pytest.mark.integration


def _children(pid):
    """Process ids whose parent is ``pid`` (ansible-playbook's WorkerProcess forks), from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry, encoding="utf-8") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def _wait_for(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.2)
    return predicate()


def test_admins_list_and_remove_a_scan_left_by_a_killed_controller(tmp_path):
    store, _cab, _manifest = generated_store(str(tmp_path / "lab"), updates=150, seed=4)
    profile = FleetProfile(store, seed=4, search_seconds=(300.0, 300.0), cache=CatalogCache())
    with profile.fleet(2, auth="basic") as fleet:
        inventory = tmp_path / "hosts.yml"
        inventory.write_text(yaml.safe_dump(fleet.inventory()))
        scans = {host.name: host.backend for host in fleet}

        # A controller that gives up 5 + 1 seconds after the start, killed mid-search with its forks.
        playbook = tmp_path / "scan.yml"
        playbook.write_text(
            "- hosts: windows\n  gather_facts: false\n  tasks:\n"
            "    - name: scan\n      patchwave.windows.scan:\n        force: true\n        timeout: 5\n"
            "        reconnect_timeout: 1\n        store: %s\n        spool: %s\n" % (store, tmp_path / "spool"))
        process = subprocess.Popen([os.path.join(BIN, "ansible-playbook"), "-i", str(inventory), str(playbook)],
                                   env=ansible_json_env(tmp_path), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            assert _wait_for(lambda: all(b.status()["scans"] for b in scans.values()), 60), "the scans never started"
        finally:
            for pid in _children(process.pid) + [process.pid]:
                os.kill(pid, signal.SIGKILL)
            process.wait()
        left = {name: b.status()["scans"] for name, b in scans.items()}
        assert all(len(ids) == 1 for ids in left.values()), left
        time.sleep(6.5)  # past the controller's give-up time

        def play(name, state="present", check=False, **args):
            tasks = "".join(
                "    - name: %s\n      patchwave.windows.host_workers: %s\n      ignore_errors: true\n"
                % (task, yaml.safe_dump(dict(task_args, state=state), default_flow_style=True).strip())
                for task, task_args in [(name, args)])
            return run_playbook(tmp_path, name, "- hosts: windows\n  gather_facts: false\n  tasks:\n" + tasks,
                                inventory=inventory, check=check)[name]

        checker = ReturnChecker("host_workers")
        checker.check_samples()
        runs = []

        listed = play("list")
        runs += [("list", listed)]
        for name, result in listed.items():
            assert result["changed"] is False and result["removed"] == [], result
            [worker] = result["workers"]
            assert (worker["kind"], worker["work_id"], worker["state"]) == ("scan", left[name][0], "abandoned")
            assert worker["task_name"] == "patchwave-scan-%s" % left[name][0]
            assert worker["owner"].startswith("S-1-5-21-") and worker["started"] < worker["give_up_at"]
            assert scans[name].status()["workers"] == result["workers"]  # lab status and the module agree

        assert all(r["workers"] == [] for r in play("list installs", kind="install").values())
        assert all(r["workers"] == [] for r in play("list old ones", older_than="1h").values())

        would = play("remove in check mode", state="absent", check=True)
        runs += [("check mode", would)]
        for name, result in would.items():
            assert result["changed"] is True and result["removed"] == ["patchwave-scan-%s" % left[name][0]]
        assert {name: b.status()["scans"] for name, b in scans.items()} == left  # check mode removed nothing

        removed = play("remove", state="absent", kind="scan")
        runs += [("absent", removed)]
        for name, result in removed.items():
            assert result["changed"] is True and result["removed"] == ["patchwave-scan-%s" % left[name][0]]
        assert all(b.status()["scans"] == [] and b.status()["workers"] == [] for b in scans.values())

        again = play("remove again", state="absent")
        runs += [("absent again", again)]
        assert all((r["changed"], r["workers"], r["removed"]) == (False, [], []) for r in again.values()), again

        refused = play("refused", older_than="two hours")
        assert all(r["failed"] and "is not a duration" in r["msg"] for r in refused.values()), refused

        for label, results in runs:
            for host, result in results.items():
                checker.check(result, "%s/%s" % (label, host))
        assert not checker.problems, "\n".join(checker.problems)
        assert not checker.unseen(), checker.unseen()
