"""Benchmark: the patch wave against the same work as separate plays (issue 13).

500 lab hosts (HTTP basic) in two rings, ``pilot`` (the first 50) and ``broad`` (the other 450), 50
forks, emulated search and install time zero, one deployment of 5 updates every host needs (a
never-patched Windows Server 2022 fleet, template reboot policy ``never``).

The wave: ``patchwave.windows.patch_wave`` with ``patchwave_wave_start_at: scan`` and the report off,
so it runs the scan step (role ``scan_compliance`` on every target), plans the rings and installs
them (role ``install_updates`` per ring, in the ring's serial batches, the batch recorded in the wave
and the failure budget checked after each batch, the ring finished in the wave).

The baseline, "the same work": what an operator would run by hand to scan and install the same hosts
in the same batches, without the wave's bookkeeping: one ``ansible-playbook`` with a scan play
(role ``scan_compliance`` on every target, as the wave's scan step), then one ``ansible-playbook`` per
ring with an install play (role ``install_updates``, ``hosts`` the ring's group, the ring's
``serial``). Their wall times are summed. The same forks, the same role variables on both sides.

Each side gets its own copy of the store (the list, template and deployment written once before)
and its own spool, and a new fleet drawn from the same profile, so both install the same updates
from the same starting patch level. The lab counts every WinRM command and every install start on
both sides; the benchmark fails unless both counts are equal on both sides and every host installed
every update. What is left is the wave's own cost: its plan play, the record task per batch, the
gate and finish plays, the empty ring slots and the skipped report play. Goal: wave / baseline at
most 1.2; reported with the overhead per host, (wave - baseline) / hosts.

    .venv/bin/python benchmarks/bench_wave.py [hosts [forks [rounds]]]

Rounds alternate the order of the two sides (wave first, then baseline first, ...).
"""

import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, ".build", "collections"))
sys.path.insert(0, REPO)
sys.path.insert(0, HERE)
BIN = os.path.dirname(sys.executable)
GOAL = 1.2
PILOT_SHARE = 0.1  # 50 of 500
# start_at scan runs every step from scan on; the tags leave prepare and distribute out (the list, the
# template and the deployment are written before, as for the baseline)
WAVE_TAGS = ("--tags", "scan,install")
# the install outcomes of a host that installed everything (the template never restarts a host, so an update
# that asks for a restart leaves it installed_pending_restart)
SUCCESS = {"compliant", "installed_pending_restart"}


def rings():
    """The two rings: the pilot in one batch, broad in two batches of half the ring each."""
    return [{"name": "pilot", "hosts": "pilot", "serial": "100%", "failure_budget": 0},
            {"name": "broad", "hosts": "broad", "serial": "50%", "failure_budget": "5%"}]


def freeze_collection(work):
    """A copy of the collection as it is on disk now, which every run of both sides uses.

    Others may edit the roles and playbooks while the benchmark runs; without a copy the two sides
    could run different versions of them. Returns (collections path, the commit, paths changed since).
    """
    target = os.path.join(work, "collections", "ansible_collections", "patchwave", "windows")
    for part in ("plugins", "roles", "playbooks", "meta"):
        shutil.copytree(os.path.join(REPO, part), os.path.join(target, part),
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(os.path.join(REPO, "galaxy.yml"), target)
    git = ["git", "-C", REPO]
    commit = subprocess.run(git + ["rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False).stdout.strip()
    changed = subprocess.run(git + ["status", "--porcelain", "--", "plugins", "roles", "playbooks", "meta"],
                             capture_output=True, text=True, check=False).stdout.split("\n")
    return os.path.join(work, "collections"), commit, sorted(line[3:] for line in changed if line.strip())


def _env(collections, profile_tasks=False):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections,
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_HOST_KEY_CHECKING="0",
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_RETRY_FILES_ENABLED="0")
    if profile_tasks:
        env.update(ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks", PROFILE_TASKS_TASK_OUTPUT_LIMIT="40",
                   PROFILE_TASKS_SORT_ORDER="descending")
    return env


def _play(collections, playbook, inventory, forks, extra_vars, profile_tasks=False, more=()):
    """Run ansible-playbook; (seconds, stdout). A failed run raises with the end of its output."""
    start = time.perf_counter()
    done = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", inventory, "-f", str(forks), playbook,
                           "-e", "@%s" % extra_vars] + list(more), env=_env(collections, profile_tasks), capture_output=True,
                          text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError("%s failed (exit %d):\n%s\n%s"
                           % (playbook, done.returncode, done.stdout[-4000:], done.stderr[-2000:]))
    return elapsed, done.stdout


def _write(path, text):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def _copy_store(source, target):
    """A consistent copy of the SQLite store (the backup API, not a file copy of a live database)."""
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    return target


def _ring_inventory(fleet, path, pilot):
    """The fleet's inventory with the windows group split into the children pilot and broad."""
    import yaml

    inventory = fleet.inventory()
    windows = inventory["all"]["children"]["windows"]
    names = sorted(windows.pop("hosts"))
    windows["children"] = {"pilot": {"hosts": {n: windows_host(fleet, n) for n in names[:pilot]}},
                           "broad": {"hosts": {n: windows_host(fleet, n) for n in names[pilot:]}}}
    _write(path, yaml.safe_dump(inventory, default_flow_style=False, sort_keys=False))
    return path


def windows_host(fleet, name):
    host = fleet.host(name)
    return {"ansible_host": host.address, "ansible_port": host.port}


def _role_vars(store, spool):
    """The role variables both sides pass, so both scan and install alike."""
    return {"scan_compliance_store": store, "scan_compliance_spool": spool, "scan_compliance_poll_interval": 0,
            "install_updates_deployment": "wave", "install_updates_store": store, "install_updates_spool": spool,
            "install_updates_poll_interval": 0}


def _baseline_playbooks(work):
    scan = _write(os.path.join(work, "baseline-scan.yml"), (
        "- name: Scan every target\n  hosts: windows\n  gather_facts: false\n  tasks:\n"
        "    - name: Scan\n      ansible.builtin.include_role:\n        name: patchwave.windows.scan_compliance\n"))
    installs = []
    for ring in rings():
        installs.append(_write(os.path.join(work, "baseline-install-%s.yml" % ring["name"]), (
            "- name: Install ring %s\n  hosts: %s\n  gather_facts: false\n  serial: %s\n  tasks:\n"
            "    - name: Install\n      ansible.builtin.include_role:\n        name: patchwave.windows.install_updates\n"
            % (ring["name"], ring["hosts"], json.dumps(ring["serial"])))))
    return scan, installs


class _Counter:
    """Counts the WinRM commands every lab host of a fleet receives."""

    def __init__(self, fleet):
        self.fleet = fleet
        self.commands = []

    def __enter__(self):
        for host in self.fleet.hosts:
            host.recorder = lambda command_line, stdin, seen=self.commands: seen.append(1)
        return self

    def __exit__(self, *exc):
        for host in self.fleet.hosts:
            host.recorder = None


def _lab_counts(fleet, ids, commands):
    calls = {}
    missing = []
    for host in fleet.hosts:
        for operation, count in host.backend.installs.status()["calls"].items():
            calls[operation] = calls.get(operation, 0) + count
        if not set(ids) <= set(host.backend.wua.installed):
            missing.append(host.name)
    return {"winrm_commands": commands, "install_starts": calls.get("start", 0), "install_calls": dict(sorted(calls.items())),
            "hosts_missing_updates": missing}


def _side(name, work, collections, master_store, profile_args, hosts, forks, ids, cache, profile_tasks):
    """Run one side on a fresh store, spool and fleet: (seconds per ansible-playbook run, lab counts, output)."""
    from tests.lab.profiles import FleetProfile

    folder = os.path.join(work, name)
    os.makedirs(folder)
    store = _copy_store(master_store, os.path.join(folder, "patchwave.db"))
    spool = os.path.join(folder, "spool")
    variables = _role_vars(store, spool)
    pilot = max(1, int(round(hosts * PILOT_SHARE)))
    profile = FleetProfile(store, cache=cache, **profile_args)
    with profile.fleet(hosts, auth="basic") as fleet:
        inventory = _ring_inventory(fleet, os.path.join(folder, "inventory.yml"), pilot)
        timings = []
        outputs = []
        with _Counter(fleet) as counter:
            if name == "wave":
                variables.update({"patchwave_wave_start_at": "scan", "patchwave_wave_report": False,
                                  "patchwave_rings": rings(), "patchwave_wave": "bench",
                                  "patchwave_wave_deployment": "wave", "patchwave_store": store})
                extra = _write(os.path.join(folder, "vars.json"), json.dumps(variables))
                seconds, out = _play(collections, "patchwave.windows.patch_wave", inventory, forks, extra, profile_tasks, WAVE_TAGS)
                timings.append(("patch_wave", seconds))
                outputs.append(out)
            else:
                extra = _write(os.path.join(folder, "vars.json"), json.dumps(variables))
                scan, installs = _baseline_playbooks(folder)
                for playbook in [scan] + installs:
                    seconds, out = _play(collections, playbook, inventory, forks, extra, profile_tasks)
                    timings.append((os.path.basename(playbook)[:-4], seconds))
                    outputs.append(out)
        counts = _lab_counts(fleet, ids, len(counter.commands))
    if name == "wave":
        counts["wave_state"] = _wave_state(store)
    return timings, counts, outputs


def _wave_state(store):
    connection = sqlite3.connect(store)
    try:
        row = connection.execute("SELECT state FROM waves WHERE name = 'bench'").fetchone()
        outcomes = dict(connection.execute("SELECT outcome, count(*) FROM wave_hosts WHERE wave = 'bench' "
                                           "GROUP BY outcome").fetchall())
    finally:
        connection.close()
    return {"state": row[0] if row else None, "outcomes": outcomes}


def _check(wave, baseline, hosts, ids):
    problems = []
    for name, counts in (("wave", wave), ("baseline", baseline)):
        if counts["hosts_missing_updates"]:
            problems.append("%s: %d host(s) did not install all %d updates (%s ...)"
                            % (name, len(counts["hosts_missing_updates"]), len(ids),
                               ", ".join(counts["hosts_missing_updates"][:5])))
        if counts["install_starts"] != hosts:
            problems.append("%s: %d install starts for %d hosts" % (name, counts["install_starts"], hosts))
    if wave["install_starts"] != baseline["install_starts"]:
        problems.append("install starts differ: wave %d, baseline %d" % (wave["install_starts"], baseline["install_starts"]))
    if wave["winrm_commands"] != baseline["winrm_commands"]:
        problems.append("WinRM commands differ: wave %d, baseline %d" % (wave["winrm_commands"], baseline["winrm_commands"]))
    outcomes = wave["wave_state"]["outcomes"]
    if wave["wave_state"]["state"] != "finished" or sum(outcomes.values()) != hosts or set(outcomes) - SUCCESS:
        problems.append("the wave did not finish with every host installed: %s" % wave["wave_state"])
    if problems:
        raise RuntimeError("the two sides did not do the same work: " + "; ".join(problems))


def wave_only_seconds(output):
    """From a wave run's output with profile_tasks: seconds spent in the tasks the baseline has no match for.

    That is every task outside the scan step and the ring plays (the plan, the health gates, finishing the
    rings), and in the ring plays the record and halt tasks. Each profile_tasks stamp line gives the
    duration of the task before it.
    """
    stamp = re.compile(r"\(([0-9:.]+)\)\s+[0-9:.]+ \*+\s*$")
    shared = re.compile(r"^PLAY \[Patch wave: (scan the targets|install ring \d+)\]")
    own = {}
    play = task = owner = None
    for line in output.splitlines():
        if line.startswith("PLAY [") or line.startswith("PLAY RECAP"):
            play = line.split(" *")[0]
        elif line.startswith("TASK ["):
            task = line.split(" *")[0][6:-1]
        found = stamp.search(line)
        if found is None:
            continue
        if owner is not None:
            hours, minutes, seconds = found.group(1).split(":")
            key = owner[0]
            if shared.match(key):
                key = owner[1] if owner[1].startswith(("Record the batch", "Halt the wave")) else None
            if key is not None:
                key = re.sub(r"\d+", "N", key.replace("PLAY [", "").rstrip("]"))
                own[key] = own.get(key, 0) + int(hours) * 3600 + int(minutes) * 60 + float(seconds)
        owner = (play, task)
    return {key: round(value, 2) for key, value in sorted(own.items(), key=lambda item: -item[1]) if value >= 0.005}


def _keep_logs(number, wave_out, base_out):
    """With --profile: each run's output (profile_tasks' recap at the end) under .build/bench/wave/."""
    folder = os.path.join(REPO, ".build", "bench", "wave")
    os.makedirs(folder, exist_ok=True)
    paths = []
    for name, out in [("wave", wave_out[0])] + [("baseline-%d" % n, o) for n, o in enumerate(base_out)]:
        paths.append(_write(os.path.join(folder, "round-%d-%s.log" % (number, name)), out))
    return paths


def main(hosts=500, forks=50, rounds=1, profile_tasks=False):
    from bench_install import PLATFORM, _five_updates, prepare

    from tests.catalog_gen.store import generated_store
    from tests.lab.profiles import FleetProfile
    from tests.lab.wua import CatalogCache

    work = tempfile.mkdtemp(prefix="patchwave-bench-wave-")
    try:
        collections, commit, changed = freeze_collection(work)
        master = generated_store(os.path.join(work, "master"), updates=3000, store_name="patchwave.db")[0]
        cache = CatalogCache()
        profile_args = dict(seed=13, platforms={PLATFORM: 1}, mix={"never_patched": 1.0}, hidden_share=0,
                            reboot_share=0, downloaded_share=0, search_seconds=(0.0, 0.0), time_scale=0)
        ids = _five_updates(FleetProfile(master, cache=cache, **profile_args))
        prepare(os.path.join(work, "master"), master, ids)
        results = []
        for number in range(rounds):
            order = ["wave", "baseline"] if number % 2 == 0 else ["baseline", "wave"]
            folder = os.path.join(work, "round-%d" % number)
            os.makedirs(folder)
            sides = {}
            for name in order:
                sides[name] = _side(name, folder, collections, master, profile_args, hosts, forks, ids, cache, profile_tasks)
            (wave_times, wave_counts, wave_out), (base_times, base_counts, base_out) = sides["wave"], sides["baseline"]
            _check(wave_counts, base_counts, hosts, ids)
            wave_seconds = sum(s for _n, s in wave_times)
            base_seconds = sum(s for _n, s in base_times)
            results.append({"order": order, "wave_seconds": round(wave_seconds, 2),
                            "baseline_seconds": round(base_seconds, 2),
                            "baseline_plays": {n: round(s, 2) for n, s in base_times},
                            "ratio": round(wave_seconds / base_seconds, 3),
                            "overhead_ms_per_host": round((wave_seconds - base_seconds) * 1000.0 / hosts, 1),
                            "winrm_commands": wave_counts["winrm_commands"],
                            "install_starts": wave_counts["install_starts"],
                            "load_at_end": round(os.getloadavg()[0], 2)})
            if profile_tasks:
                results[-1]["logs"] = _keep_logs(number, wave_out, base_out)
                results[-1]["wave_only_seconds"] = wave_only_seconds(wave_out[0])
                results[-1]["wave_only_seconds_total"] = round(sum(results[-1]["wave_only_seconds"].values()), 2)
            print("round %d: %s" % (number, json.dumps(results[-1])), file=sys.stderr, flush=True)
        ratios = [r["ratio"] for r in results]
        ratio = statistics.median(ratios)
        return {"benchmark": "patch wave against separate plays", "commit": commit,
                "collection_changes_not_committed": changed, "hosts": hosts, "forks": forks,
                "rings": {r["name"]: r["serial"] for r in rings()},
                "pilot_hosts": max(1, int(round(hosts * PILOT_SHARE))), "updates_per_host": len(ids),
                "rounds": results, "ratio_median": ratio, "ratio_min": min(ratios), "ratio_max": max(ratios),
                "overhead_ms_per_host_median": statistics.median(r["overhead_ms_per_host"] for r in results),
                "goal_ratio_max": GOAL, "met": ratio <= GOAL}
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    ARGS = [a for a in sys.argv[1:] if a != "--profile"]
    print(json.dumps(main(*(int(a) for a in ARGS), profile_tasks="--profile" in sys.argv[1:]), indent=2))
