"""The patch wave as AWX runs it (docs/awx.md): one PostgreSQL store, jobs in throwaway containers.

A plan job starts the wave once (patchwave.windows.patch_wave_plan). Then each ring is one job
template sliced into concurrent jobs: here concurrent ``ansible-playbook patchwave.windows.patch_wave
--tags install --limit localhost,<slice>`` processes, each with a spool of its own that nobody reads
after it exits (a container's disk). Afterwards:

* no state message was left behind in a slice's spool: each job moved its own into the store;
* the store holds, for every host, the install's enforcement states (the deployment compliant, each
  update of the list installed) and a scan received after the install started;
* wave_hosts has every host compliant after one install each (the lab counts install starts);
* wave_events is consistent: started, one ``recorded`` per slice batch covering every host of the
  ring once, each ring finished exactly once and only after all its slices recorded, finished last.
"""

import hashlib
import json
import os
import subprocess
import time

import pytest
import yaml
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_runs import BIN, ansible_env
from content_fixtures import world  # noqa: F401  pylint: disable=unused-import

from tests.catalog_gen.store import sync_file
from tests.lab.profiles import FleetProfile
from tests.lab.wua import CatalogCache

WAVE = "2026-12"
DEPLOYMENT = "wave-dec"
RINGS = [{"name": "pilot", "hosts": "pilot", "serial": 1, "failure_budget": 0},
         {"name": "broad", "hosts": "broad", "serial": 2, "failure_budget": "25%"}]
# Each ring's slices, as AWX job slicing would split the ring's job (one concurrent process each).
SLICES = {"pilot": [["win001"], ["win002"]],
          "broad": [["win003", "win004"], ["win005", "win006"]]}


def wave_vars(store, spool):
    return {"patchwave_wave_start_at": "install", "patchwave_wave_report": False, "patchwave_rings": RINGS,
            "patchwave_wave": WAVE, "patchwave_wave_deployment": DEPLOYMENT, "patchwave_store": store,
            "install_updates_spool": spool, "install_updates_poll_interval": 0.2, "install_updates_reboot_timeout": 60}


def job(tmp_path, name, inventory, playbook, store, extra=()):
    """Start one 'job': its own folder standing for the container (spool, data folder, Ansible's temp)."""
    folder = tmp_path / name
    folder.mkdir()
    spool = folder / "spool"
    variables = folder / "vars.json"
    variables.write_text(json.dumps(wave_vars(store, str(spool))))
    command = [os.path.join(BIN, "ansible-playbook"), "-i", str(inventory), playbook, "-e", "@%s" % variables] + list(extra)
    env = ansible_env(folder, XDG_DATA_HOME=str(folder / "data"))
    output = open(folder / "out.txt", "w", encoding="utf-8")  # pylint: disable=consider-using-with
    handle = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT,  # pylint: disable=consider-using-with
                              text=True)
    return {"name": name, "process": handle, "output": output, "spool": spool, "out": folder / "out.txt"}


def wait(jobs, timeout=600):
    deadline = time.monotonic() + timeout
    for started in jobs:
        try:
            code = started["process"].wait(max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            started["process"].kill()
            started["process"].wait()
            code = "killed after %ds" % timeout
        started["output"].close()
        text = started["out"].read_text()
        assert code == 0, "job %s exited %s\n%s" % (started["name"], code, text[-5000:])


def left_in_spool(spool):
    """State message files a job left behind: lost with its container."""
    if not os.path.isdir(spool):
        return []
    return sorted(n for n in os.listdir(spool) if n.endswith(".json") and not n.startswith("."))


@pytest.fixture
def pg_store(postgres_server, world):  # noqa: F811  pylint: disable=redefined-outer-name
    """A fresh PostgreSQL database holding the world's catalog, dropped afterwards."""
    dsn = postgres_server.new_database("wave")
    store = open_store(dsn)
    try:
        with open(world["cab"], "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
        sync_file(store, world["cab"], source_path=world["cab"], source_sha256=digest)
    finally:
        store.close()
    yield dsn
    postgres_server.drop_database(dsn)


def test_ring_slices_run_concurrently_on_one_postgresql_store(world, pg_store, runner, tmp_path):  # noqa: F811
    # pylint: disable=redefined-outer-name,too-many-locals
    store = pg_store
    # the lab's hosts read the catalog from the world's SQLite copy; the controller's store is PostgreSQL
    profile = FleetProfile.never_patched(world["store"], seed=35, time_scale=0.02, cache=CatalogCache())
    ids = profile.needed_ids()[:3]
    # the prepare step's result, in one ansible-playbook run: a frozen list, a template, the deployment
    runner.play("".join("    - name: %s\n      patchwave.windows.%s: %s\n" % (module, module, json.dumps(args)) for module, args in (
        ("update_list", {"store": store, "name": "dec", "updates": ids, "freeze": True}),
        ("deployment_template", {"store": store, "name": "quiet", "reboot": "if_required",
                                 "deadline_randomization_minutes": 0}),
        ("deployment", {"store": store, "name": DEPLOYMENT, "update_list": "dec", "targets": ["pilot", "broad"],
                        "template": "quiet"}))), name="prepare")
    with profile.fleet(6, auth="ntlm") as fleet:
        inventory = fleet.inventory()
        inventory["all"]["children"]["windows"]["children"] = {
            "pilot": {"hosts": {h: {} for s in SLICES["pilot"] for h in s}},
            "broad": {"hosts": {h: {} for s in SLICES["broad"] for h in s}}}
        path = tmp_path / "hosts.yml"
        path.write_text(yaml.safe_dump(inventory))
        every_host = sorted(h for ring in SLICES.values() for s in ring for h in s)

        started = time.monotonic()
        wait([job(tmp_path, "plan", path, "patchwave.windows.patch_wave_plan", store)])
        jobs = []
        for ring in ("pilot", "broad"):
            ring_jobs = [job(tmp_path, "%s-%d" % (ring, n), path, "patchwave.windows.patch_wave", store,
                             ["--tags", "install", "--limit", ",".join(["localhost"] + hosts)])
                         for n, hosts in enumerate(SLICES[ring], 1)]
            wait(ring_jobs)
            jobs += ring_jobs
        print("plan and %d concurrent ring jobs: %.0f s" % (len(jobs), time.monotonic() - started))

        starts = {h.model.name: h.backend.installs.status()["calls"].get("start", 0) for h in fleet.hosts}
        assert starts == {h: 1 for h in every_host}, starts

    left = {j["name"]: left_in_spool(j["spool"]) for j in jobs}
    assert not any(left.values()), "state messages left in the jobs' spools (lost with their containers): %s" % left

    opened = open_store(store)
    try:
        final = {r["host_name"]: r["state"] for r in opened.query(
            "SELECT e.host_name, e.state FROM enforcement_states e WHERE e.deployment = ? AND e.update_id IS NULL "
            "AND e.seq = (SELECT MAX(f.seq) FROM enforcement_states f WHERE f.deployment = e.deployment "
            "AND f.host_name = e.host_name AND f.update_id IS NULL)", (DEPLOYMENT,))}
        installed = {}
        for row in opened.query("SELECT host_name, update_id FROM enforcement_states WHERE deployment = ? "
                                "AND state = 'installed'", (DEPLOYMENT,)):
            installed.setdefault(row["host_name"], set()).add(row["update_id"])
        begun = {r["host_name"]: r["received"] for r in opened.query(
            "SELECT host_name, MIN(received) AS received FROM enforcement_states WHERE deployment = ? "
            "AND state = 'in_progress' GROUP BY host_name", (DEPLOYMENT,))}
        scanned = {r["host_name"]: r["received"] for r in opened.query(
            "SELECT host_name, MAX(received) AS received FROM scans GROUP BY host_name")}
        wave_hosts = {r["host_name"]: (r["ring"], r["outcome"], r["attempts"]) for r in opened.query(
            "SELECT host_name, ring, outcome, attempts FROM wave_hosts WHERE wave = ?", (WAVE,))}
        events = opened.query("SELECT seq, kind, ring, detail FROM wave_events WHERE wave = ? ORDER BY seq", (WAVE,))
        state = opened.query("SELECT state, ring_index FROM waves WHERE name = ?", (WAVE,))[0]
    finally:
        opened.close()

    assert final == {h: "compliant" for h in every_host}, final
    assert installed == {h: set(ids) for h in every_host}, installed
    for host in every_host:
        assert host in begun and scanned.get(host, "") >= begun[host], (host, begun.get(host), scanned.get(host))

    ring_of = {h: ring for ring, slices in SLICES.items() for s in slices for h in s}
    assert wave_hosts == {h: (ring_of[h], "compliant", 1) for h in every_host}, wave_hosts
    assert dict(state) == {"state": "finished", "ring_index": 2}, dict(state)

    kinds = [e["kind"] for e in events]
    assert [e["seq"] for e in events] == list(range(events[0]["seq"], events[0]["seq"] + len(events))), events
    assert kinds[0] == "started" and kinds[-1] == "finished" and "halted" not in kinds, kinds
    assert kinds.count("ring_finished") == 2 and kinds.count("ring_started") == 2, kinds
    for ring in ("pilot", "broad"):
        recorded = [json.loads(e["detail"]) for e in events if e["kind"] == "recorded" and e["ring"] == ring]
        hosts = sorted(h for detail in recorded for h in detail["hosts"])
        assert hosts == sorted(h for s in SLICES[ring] for h in s), (ring, recorded)
        assert len(recorded) == len(SLICES[ring]), (ring, recorded)
        # the ring starts, all its slices record, then (once) it finishes
        at = {kind: [n for n, e in enumerate(events) if e["kind"] == kind and e["ring"] == ring]
              for kind in ("ring_started", "recorded", "ring_finished")}
        assert at["ring_started"][0] < min(at["recorded"]) and max(at["recorded"]) < at["ring_finished"][0], (ring, kinds)
