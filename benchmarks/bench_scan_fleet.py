"""Benchmark: scanning a lab fleet (issue 3).

200 lab hosts, 50 forks, emulated search time zero. The scan play's wall time is compared with a
floor measured in the same run: a play that sends every host ``ansible.windows.win_ping`` as many
times as one scan makes module round trips (start, poll, cancel). Goal: no more than 1.3 times the
floor. The round trips per scan are counted by the lab, not assumed.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, ".build", "collections"))
sys.path.insert(0, REPO)
BIN = os.path.dirname(sys.executable)


def _env():
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".build", "collections"),
                ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_HOST_KEY_CHECKING="0",
                ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0")


def _play(path, inventory, forks, extra=()):
    start = time.perf_counter()
    done = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", inventory, "-f", str(forks), path]
                          + list(extra), env=_env(), capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError("%s failed:\n%s" % (path, done.stdout[-3000:]))
    return elapsed


def _store(work):
    from tests.catalog_gen.store import generated_store

    return generated_store(work, updates=3000, store_name="patchwave.db")[0]


def main(hosts=200, forks=50):
    from tests.lab.fleet import Fleet
    from tests.lab.wua import WuaBackend

    work = tempfile.mkdtemp(prefix="patchwave-bench-scan-")
    try:
        store = _store(work)
        spool = os.path.join(work, "spool")
        scan_play = os.path.join(work, "scan.yml")
        with open(scan_play, "w", encoding="utf-8") as handle:
            handle.write("- hosts: windows\n  gather_facts: false\n  tasks:\n"
                         "    - name: scan\n      patchwave.windows.scan:\n        force: true\n"
                         "        store: %s\n        spool: %s\n        poll_interval: 0\n" % (store, spool))
        with Fleet(hosts, auth="basic", backend_factory=WuaBackend.factory(store, time_scale=0)) as fleet:
            inventory = fleet.write_inventory(os.path.join(work, "inventory.yml"))
            commands = []
            for host in fleet.hosts:
                host.recorder = lambda command_line, stdin, seen=commands: seen.append(1)
            scan_seconds = _play(scan_play, inventory, forks)
            for host in fleet.hosts:
                host.recorder = None
            # every module run is one WinRM command; count them rather than assume start/poll/cancel
            round_trips = len(commands) / float(hosts)
            trips = max(1, int(round(round_trips)))
            floor_play = os.path.join(work, "floor.yml")
            with open(floor_play, "w", encoding="utf-8") as handle:
                handle.write("- hosts: windows\n  gather_facts: false\n  tasks:\n")
                for n in range(trips):
                    handle.write("    - name: ping %d\n      ansible.windows.win_ping:\n" % n)
            floor_seconds = _play(floor_play, inventory, forks)
        ratio = scan_seconds / floor_seconds
        return {"benchmark": "scan of a lab fleet", "hosts": hosts, "forks": forks,
                "round_trips_per_scan": round(round_trips, 2), "scan_seconds": round(scan_seconds, 2),
                "floor_seconds": round(floor_seconds, 2), "ratio": round(ratio, 3),
                "goal_ratio_max": 1.3, "met": ratio <= 1.3}
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(main(*(int(a) for a in sys.argv[1:])), indent=2))
