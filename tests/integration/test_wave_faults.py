"""The patch wave's faults (issue 13) through patchwave.windows.patch_wave, against lab hosts.

* The controller is killed (SIGKILL, every process of the run) while a batch of the broad ring installs,
  and run again: the wave resumes at that batch, the hosts recorded before the kill are not installed
  again, the install a host was still running is waited for (not refused, not stopped), and no update
  is installed twice on any host.
* A host whose maintenance window closes for its update while earlier batches of its ring run is
  recorded ``waiting_for_window`` (after ``patchwave_window_wait``), which the failure budget does not
  count: the ring goes on and the wave finishes.
* Two waves of different months on one fleet: December's list, then January's with one update more.
  The January wave takes its own name and list version and starts afresh; its health gate (a tasks
  file run on the pilot's hosts) fails and halts it before the broad ring; fixed, it finishes. Each
  host installs December's updates once and January's new one once; December's wave is untouched.
"""

import datetime
import math
import os
import signal
import subprocess
import time

from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_collections.patchwave.windows.plugins.module_utils._wave.state import list_waves
from content_fixtures import world  # noqa: F401  pylint: disable=unused-import
from wave_runs import (
    copy_store,
    count_installs,
    freeze_time,
    outcomes,
    prepare,
    ring_inventory,
    starts,
    wave_command,
    wave_playbook,
    wave_process,
    wave_state,
)

from tests.lab.profiles import FleetProfile
from tests.lab.wua import CatalogCache

# the broad ring in batches of two, no failure allowed: a host refused or failed after the kill halts the wave
STRICT_RINGS = [{"name": "pilot", "hosts": "pilot", "serial": 1, "failure_budget": 0},
                {"name": "broad", "hosts": "broad", "serial": 2, "failure_budget": 0}]
ONE_BY_ONE = [{"name": "pilot", "hosts": "pilot", "serial": 1, "failure_budget": 0},
              {"name": "broad", "hosts": "broad", "serial": 1, "failure_budget": 0}]
AT_ONCE = [{"name": "pilot", "hosts": "pilot", "serial": 1, "failure_budget": 0},
           {"name": "broad", "hosts": "broad", "serial": "100%", "failure_budget": 0}]

# A pre-install hook that holds a host until the moment in its variable lab_hold_until (POSIX seconds)
HOLD = """- name: Hold the host until lab_hold_until
  ansible.builtin.wait_for:
    timeout: "{{ [lab_hold_until | float - now().timestamp(), 0] | max | round(0, 'ceil') | int }}"
  delegate_to: localhost
  when: lab_hold_until is defined
"""
# A health gate's tasks file: the host answers and its application (lab_app_healthy) is healthy
APP_CHECK = """- name: The host answers
  ansible.windows.win_ping:

- name: The application is healthy
  ansible.builtin.assert:
    that: lab_app_healthy | default(true) | bool
    fail_msg: "{{ inventory_hostname }}: the application does not answer since the updates"
"""


def process_tree(pid):
    """``pid`` and its descendants (from /proc), parents first."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, encoding="utf-8") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        children.setdefault(int(fields[1]), []).append(int(entry))
    tree = [pid]
    for parent in tree:
        tree.extend(children.get(parent, []))
    return tree


def kill_controller(process):
    """SIGKILL the ansible-playbook run and every process it started, as a crash of the controller would.
    Killing its process group is not enough: ansible-playbook runs each task in a worker process that
    leads a session of its own, and an orphaned worker would go on driving its host."""
    os.kill(process.pid, signal.SIGSTOP)  # no new worker is forked while the tree is read
    for pid in process_tree(process.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(30)


class LabClock:
    """The lab hosts' clock: true time plus what the test has moved it on by (their workers' emulated time)."""

    def __init__(self):
        self.ahead = 0.0

    def __call__(self):
        return time.time() + self.ahead


def wait_for(condition, process, output, what, timeout=120):
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError("the wave ended (rc %s) before %s\n%s" % (process.returncode, what, output.read_text()[-4000:]))
        if time.monotonic() > deadline:
            kill_controller(process)
            raise AssertionError("no %s within %d s\n%s" % (what, timeout, output.read_text()[-4000:]))
        time.sleep(0.1)


def running_installs(fleet, number):
    """The install workers running on lab host ``number`` (host_workers' view)."""
    return [w for w in fleet.host(number).backend.installs.workers(fleet.clock()) if w["state"] == "running"]


def count_module_runs(host, fqcn):
    """A list that grows by one each time the lab host runs the module ``fqcn``."""
    runs = []
    real = host.backend.run_module

    def run_module(name, args, context):
        if name == fqcn:
            runs.append(name)
        return real(name, args, context)

    host.backend.run_module = run_module
    return runs


def test_controller_killed_mid_ring_and_resumed(world, runner, tmp_path):  # noqa: F811  pylint: disable=redefined-outer-name
    store = copy_store(world, tmp_path)
    spool = str(tmp_path / "spool")
    profile = FleetProfile.never_patched(store, seed=36, time_scale=0.02, cache=CatalogCache())
    ids = profile.needed_ids()[:3]
    prepare(runner, store, [{"deployment": "wave-dec", "list": "dec", "updates": ids}])
    clock = LabClock()
    with profile.fleet(5, auth="ntlm", module_cost=0, clock=clock) as fleet:
        path = ring_inventory(fleet, tmp_path, {"pilot": [1], "broad": [2, 3, 4, 5]})
        installed = count_installs(fleet)
        looks = count_module_runs(fleet.host(4), "patchwave.windows.host_workers")
        fleet.host(4).backend.set_faults(install_seconds=10000)  # 200 s an update on the lab clock

        process, output = wave_process(tmp_path, path, store, spool, "killed", patchwave_rings=STRICT_RINGS)
        try:
            # the broad ring's second batch (win004, win005) is installing: win005 has installed everything
            # (its task is not over), win004 is in its first update
            wait_for(lambda: starts(fleet)["win005"] == 1 and starts(fleet)["win004"] == 1
                     and not running_installs(fleet, 5) and running_installs(fleet, 4),
                     process, output, "second batch installing")
        finally:
            if process.poll() is None:
                kill_controller(process)
        orphan = running_installs(fleet, 4)
        assert orphan and process.returncode == -signal.SIGKILL, output.read_text()[-3000:]

        # the store: the batches recorded before the kill, nothing of the batch that was installing
        info = wave_state(store, "2026-12")
        assert info["state"] == "running" and info["next_ring"] == "broad", info
        assert outcomes(info) == {"win001": "compliant", "win002": "compliant", "win003": "compliant",
                                  "win004": None, "win005": None}, outcomes(info)

        process, output = wave_process(tmp_path, path, store, spool, "resumed", patchwave_rings=STRICT_RINGS,
                                       install_updates_running_delay=1)
        try:
            # the resumed run waits for win004's install; then the lab's time runs on past its update and
            # what it has left goes fast
            wait_for(lambda: len(looks) >= 2, process, output, "second look at win004's running install")
            fleet.host(4).backend.set_faults(install_seconds=3)
            clock.ahead = 250  # past the update in progress, before the host gives up on the work (386 s)
            process.wait(300)
        finally:
            if process.poll() is None:
                kill_controller(process)
        assert process.returncode == 0, output.read_text()[-5000:]
        # the install left running was not stopped: it ended by itself (its result waits on the host for
        # a controller that is gone)
        left = fleet.host(4).backend.installs.workers(clock())
        assert [(w["work_id"], w["state"]) for w in left] == [(orphan[0]["work_id"], "finished")], left
        counts = starts(fleet)
    assert counts == {"win001": 1, "win002": 1, "win003": 1, "win004": 1, "win005": 1}, counts
    # every update installed exactly once on every host, across the kill
    assert dict(installed) == {("win%03d" % n, uid): 1 for n in range(1, 6) for uid in ids}, dict(installed)
    info = wave_state(store, "2026-12")
    assert info["state"] == "finished", info
    assert set(outcomes(info).values()) == {"compliant"}, outcomes(info)
    attempts = {h["host"]: h["attempts"] for ring in info["rings"] for h in ring["host_results"]}
    assert set(attempts.values()) == {1}, attempts  # each host recorded once: before the kill, or after it
    recorded = [e["detail"]["hosts"] for e in info["events"] if e["kind"] == "recorded" and e["ring"] == "broad"]
    assert recorded == [{"win002": "compliant", "win003": "compliant"}, {"win004": "compliant", "win005": "compliant"}]
    assert [e["kind"] for e in info["events"]].count("ring_started") == 2


def test_host_leaves_its_window_mid_ring(world, runner, tmp_path):  # noqa: F811  pylint: disable=redefined-outer-name
    store = copy_store(world, tmp_path)
    spool = str(tmp_path / "spool")
    profile = FleetProfile.never_patched(store, seed=37, time_scale=0.02, cache=CatalogCache())
    update = profile.needed_ids()[0]
    # one update of 5 minutes at most: it may start until 5 minutes before its window ends
    prepare(runner, store, [{"deployment": "wave-dec", "list": "dec", "updates": [update],
                             "max_run_time_minutes": {update: 5}}])
    hold = tmp_path / "hold.yml"
    hold.write_text(HOLD)
    with profile.fleet(4, auth="ntlm", module_cost=0) as fleet:
        installed = count_installs(fleet)
        # win003's window: its update may start until ``closes`` (a whole minute, 5 s ahead at least), the
        # window itself ends 5 minutes later. win002, the batch before it, is held until ``closes`` has passed.
        launched = datetime.datetime.now(datetime.timezone.utc)
        closes = datetime.datetime.fromtimestamp(math.ceil((launched.timestamp() + 5) / 60) * 60, datetime.timezone.utc)
        opened = closes - datetime.timedelta(minutes=25)
        window = [{"name": "closing", "date": opened.strftime("%Y-%m-%d"), "start": opened.strftime("%H:%M"),
                   "duration_minutes": 30}]
        path = ring_inventory(fleet, tmp_path, {"pilot": [1], "broad": [2, 3, 4]}, host_vars={
            "win002": {"lab_hold_until": closes.timestamp() + 1},
            "win003": {"patchwave_maintenance_windows": window}})
        done = wave_playbook(tmp_path, path, store, spool, "window", patchwave_rings=ONE_BY_ONE,
                             patchwave_window_wait=1, install_updates_pre_tasks=str(hold))
        assert done.returncode == 0, done.stdout[-5000:]
        counts = starts(fleet)
    info = wave_state(store, "2026-12")
    assert info["state"] == "finished", info  # the budget of 0 did not count the waiting host
    assert outcomes(info) == {"win001": "compliant", "win002": "compliant", "win003": "waiting_for_window",
                              "win004": "compliant"}, outcomes(info)
    waiting = [h for h in info["rings"][1]["host_results"] if h["host"] == "win003"][0]
    assert "window ends %s" % (closes + datetime.timedelta(minutes=5)).strftime("%H:%M") in waiting["msg"], waiting
    assert counts["win003"] == 0 and dict(installed) == {("win001", update): 1, ("win002", update): 1,
                                                         ("win004", update): 1}, (counts, dict(installed))
    recorded = [e["detail"]["hosts"] for e in info["events"] if e["kind"] == "recorded" and e["ring"] == "broad"]
    # the ring went on past the waiting host, one host a batch
    assert recorded == [{"win002": "compliant"}, {"win003": "waiting_for_window"}, {"win004": "compliant"}], recorded
    assert info["rings"][1]["counts"]["waiting_for_window"] == 1 and "halted" not in [e["kind"] for e in info["events"]]


def test_two_waves_of_two_months(world, runner, tmp_path):  # noqa: F811  pylint: disable=redefined-outer-name
    store = copy_store(world, tmp_path)
    spool = str(tmp_path / "spool")
    profile = FleetProfile.never_patched(store, seed=38, time_scale=0.02, cache=CatalogCache())
    ids = profile.needed_ids()[:3]
    gate = tmp_path / "app_check.yml"
    gate.write_text(APP_CHECK)
    checks = [{"tasks": str(gate)}]
    assert prepare(runner, store, [{"deployment": "wave-dec", "list": "monthly", "updates": ids[:2]}], "dec") == [1]
    freeze_time(store, "monthly", 1, "2026-12-08T18:00:00Z")
    with profile.fleet(4, auth="ntlm", module_cost=0) as fleet:
        installed = count_installs(fleet)
        path = ring_inventory(fleet, tmp_path, {"pilot": [1], "broad": [2, 3, 4]})
        # no wave name given: each wave is named by the month its list version was frozen in
        december = wave_playbook(tmp_path, path, store, spool, "december", patchwave_wave=None,
                                 patchwave_rings=AT_ONCE, patchwave_health_checks=checks)
        assert december.returncode == 0, december.stdout[-5000:]
        before = wave_state(store, "2026-12")
        assert before["state"] == "finished" and set(outcomes(before).values()) == {"compliant"}, before

        assert prepare(runner, store, [{"deployment": "wave-jan", "list": "monthly", "updates": ids}], "jan") == [2]
        freeze_time(store, "monthly", 2, "2027-01-12T18:00:00Z")
        path = ring_inventory(fleet, tmp_path, {"pilot": [1], "broad": [2, 3, 4]},
                              host_vars={"win001": {"lab_app_healthy": False}})
        gated = wave_playbook(tmp_path, path, store, spool, "january-gated", patchwave_wave=None,
                              patchwave_wave_deployment="wave-jan", patchwave_rings=AT_ONCE,
                              patchwave_health_checks=checks)
        assert gated.returncode != 0 and "health gate after ring pilot failed" in gated.stdout, gated.stdout[-5000:]
        january = wave_state(store, "2027-01")
        assert january["state"] == "halted" and january["next_ring"] == "pilot", january
        assert "win001: the application does not answer since the updates" in january["halt_reason"], january
        assert outcomes(january) == {"win001": "compliant", "win002": None, "win003": None, "win004": None}
        december_ids = {(h, uid): 1 for h in ("win001", "win002", "win003", "win004") for uid in ids[:2]}
        assert dict(installed) == {**december_ids, ("win001", ids[2]): 1}, dict(installed)  # the broad ring never started

        path = ring_inventory(fleet, tmp_path, {"pilot": [1], "broad": [2, 3, 4]})
        resumed = wave_playbook(tmp_path, path, store, spool, "january", patchwave_wave=None,
                                patchwave_wave_deployment="wave-jan", patchwave_rings=AT_ONCE,
                                patchwave_health_checks=checks)
        assert resumed.returncode == 0, resumed.stdout[-5000:]
    # every host installed each update once: December's two in December, January's new one in January
    assert dict(installed) == {(h, uid): 1 for h in ("win001", "win002", "win003", "win004") for uid in ids}, dict(installed)
    january = wave_state(store, "2027-01")
    assert january["state"] == "finished" and set(outcomes(january).values()) == {"compliant"}, january
    assert (january["deployment"], january["update_list"], january["list_version"]) == ("wave-jan", "monthly", 2)
    kinds = [e["kind"] for e in january["events"]]
    assert kinds[0] == "started" and kinds.count("started") == 1 and "resumed" in kinds, kinds
    assert wave_state(store, "2026-12") == before  # December's wave: not a row or an event changed
    assert (before["deployment"], before["list_version"]) == ("wave-dec", 1)
    opened = open_store(store)
    try:
        assert [w["name"] for w in list_waves(opened)] == ["2027-01", "2026-12"]
    finally:
        opened.close()


def test_a_host_lost_in_the_scan_step_is_recorded_in_its_ring(world, runner, tmp_path):  # noqa: F811  pylint: disable=redefined-outer-name
    # A wrong password fails the host in the wave's scan play; Ansible then leaves it out of every later play,
    # so no batch of its ring records it. The wave records it as not reached (unreachable, within the budget)
    # and the ring still finishes; it does not stay "not run" and keep the ring open.
    store = copy_store(world, tmp_path)
    spool = str(tmp_path / "spool")
    profile = FleetProfile.never_patched(store, seed=35, time_scale=0.02, cache=CatalogCache())
    prepare(runner, store, [{"deployment": "wave-dec", "list": "dec", "updates": profile.needed_ids()[:2]}])
    with profile.fleet(3, auth="ntlm", module_cost=0) as fleet:
        path = ring_inventory(fleet, tmp_path, {"pilot": [1], "broad": [2, 3]},
                              host_vars={"win003": {"ansible_password": "Wrong-Passw0rd"}})
        command, env = wave_command(tmp_path, path, store, spool, "lost", patchwave_wave_start_at="scan",
                                    scan_compliance_spool=spool, scan_compliance_poll_interval=0.2, scan_compliance_force=True,
                                    patchwave_rings=[{"name": "pilot", "hosts": "pilot", "serial": 1, "failure_budget": 0},
                                                     {"name": "broad", "hosts": "broad", "serial": 2, "failure_budget": 1}])
        done = subprocess.run(command + ["--tags", "scan,install"], env=env, capture_output=True, text=True, timeout=600,
                              check=False)
        (tmp_path / "lost.out").write_text(done.stdout + done.stderr)
        assert "win003" in done.stdout and "credentials were rejected" in done.stdout, done.stdout[-4000:]
        info = wave_state(store, "2026-12")
        assert info["state"] == "finished", (info, done.stdout[-4000:])
        results = {h["host"]: h for ring in info["rings"] for h in ring["host_results"]}
        assert results["win003"]["outcome"] == "unreachable" and "not reached by this run" in results["win003"]["msg"]
        assert results["win001"]["outcome"] == results["win002"]["outcome"] == "compliant", results
        assert starts(fleet)["win003"] == 0
