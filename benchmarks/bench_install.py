"""Benchmark: an install wave on a lab fleet (issue 12).

200 lab hosts, 50 forks, emulated search and install time zero, a deployment of 5 updates every host
needs, no reboot (the template's policy is ``never``). The install play's wall time is compared with
a floor measured in the same run: a play that sends every host ``ansible.windows.win_ping`` as many
times as one install makes module round trips (status, the fresh scan's start/poll/cancel, the
install's start/poll/cancel), counted by the lab, not assumed. Goal: no more than 1.3 times the floor.
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
PLATFORM = "ws2022-x64"


def _env():
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".build", "collections"),
                ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_HOST_KEY_CHECKING="0",
                ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0")


def _play(path, inventory, forks):
    start = time.perf_counter()
    done = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", inventory, "-f", str(forks), path],
                          env=_env(), capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError("%s failed:\n%s\n%s" % (path, done.stdout[-3000:], done.stderr[-2000:]))
    return elapsed, done.stdout


def _write(path, text):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def _five_updates(profile):
    """Five updates a never-patched host of the platform needs, those that never reboot first."""
    from tests.lab.hosts import wua_host

    model = profile.host_factory(1, "probe")
    state = wua_host(model)
    needed = profile.snapshot.search(state, set(state.installed), set(state.hidden)).needed
    needed = sorted(needed, key=lambda r: (r.reboot_behavior != 0, r.update_id))  # 0: NeverReboots
    return [r.update_id for r in needed[:5]]


def prepare(work, store, ids):
    """The list frozen, a template that never restarts, the deployment ``wave`` targeting ``windows``."""
    tasks = [("update_list", {"name": "wave", "updates": ids, "freeze": True}),
             ("deployment_template", {"name": "no-restart", "reboot": "never", "content_source": "wua",
                                      "deadline_randomization_minutes": 0}),
             ("deployment", {"name": "wave", "update_list": "wave", "targets": ["windows"], "template": "no-restart"})]
    play = "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n"
    for module, args in tasks:
        play += "    - patchwave.windows.%s: %s\n" % (module, json.dumps(dict(args, store=store)))
    _play(_write(os.path.join(work, "prepare.yml"), play), "localhost,", 1)


def main(hosts=200, forks=50):
    from tests.catalog_gen.store import generated_store
    from tests.lab.profiles import FleetProfile

    work = tempfile.mkdtemp(prefix="patchwave-bench-install-")
    try:
        store = generated_store(work, updates=3000, store_name="patchwave.db")[0]
        spool = os.path.join(work, "spool")
        profile = FleetProfile(store, seed=3, platforms={PLATFORM: 1}, mix={"never_patched": 1.0}, hidden_share=0,
                               reboot_share=0, downloaded_share=0, search_seconds=(0.0, 0.0), time_scale=0)
        ids = _five_updates(profile)
        prepare(work, store, ids)
        install_play = _write(os.path.join(work, "install.yml"), (
            "- hosts: windows\n  gather_facts: false\n  tasks:\n"
            "    - name: install\n      patchwave.windows.install:\n        deployment: wave\n"
            "        store: %s\n        spool: %s\n        poll_interval: 0\n" % (store, spool)))
        with profile.fleet(hosts, auth="basic") as fleet:
            inventory = fleet.write_inventory(os.path.join(work, "inventory.yml"))
            commands = []
            for host in fleet.hosts:
                host.recorder = lambda command_line, stdin, seen=commands: seen.append(1)
            install_seconds, _out = _play(install_play, inventory, forks)
            for host in fleet.hosts:
                host.recorder = None
            installed = [len(h.backend.wua.installed & set(ids)) for h in fleet.hosts]
            if installed != [len(ids)] * hosts:
                raise RuntimeError("not every host installed the %d updates: %s" % (len(ids), installed))
            calls = {}
            for host in fleet.hosts:
                for operation, count in host.backend.installs.status()["calls"].items():
                    calls[operation] = calls.get(operation, 0) + count
            round_trips = len(commands) / float(hosts)
            trips = max(1, int(round(round_trips)))
            floor_play = "- hosts: windows\n  gather_facts: false\n  tasks:\n" + "".join(
                "    - name: ping %d\n      ansible.windows.win_ping:\n" % n for n in range(trips))
            floor_seconds, _out = _play(_write(os.path.join(work, "floor.yml"), floor_play), inventory, forks)
        ratio = install_seconds / floor_seconds
        return {"benchmark": "install wave on a lab fleet", "hosts": hosts, "forks": forks, "updates_per_host": len(ids),
                "round_trips_per_host": round(round_trips, 2),
                "install_module_calls_per_host": {k: round(v / float(hosts), 2) for k, v in sorted(calls.items())},
                "install_seconds": round(install_seconds, 2), "floor_seconds": round(floor_seconds, 2),
                "ratio": round(ratio, 3), "goal_ratio_max": 1.3, "met": ratio <= 1.3,
                "load_at_end": round(os.getloadavg()[0], 2)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(main(*(int(a) for a in sys.argv[1:])), indent=2))
