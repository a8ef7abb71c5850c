"""What the patch wave's lab tests share (tests/integration/test_patch_wave.py, test_wave_faults.py).

A store copied from the content world, lab hosts put into ring groups, the list, template and
deployment a wave installs, ``patchwave.windows.patch_wave`` run (to its end, or as a process a test
can kill), the wave read back from the store, and counts of what the lab hosts installed.
"""

import collections
import json
import os
import shutil
import subprocess

import yaml
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_collections.patchwave.windows.plugins.module_utils._wave.state import read_wave
from ansible_runs import BIN, ansible_env, save

PILOT_AND_BROAD = [{"name": "pilot", "hosts": "pilot", "serial": 1, "failure_budget": 0},
                   {"name": "broad", "hosts": "broad", "serial": "50%", "failure_budget": "25%"}]


def copy_store(world, tmp_path):
    """A store of the test's own, copied from the content world's (its catalog); its path."""
    store = str(tmp_path / "store.db")
    shutil.copyfile(world["store"], store)
    return store


def prepare(runner, store, deployments, name="prepare"):
    """In one play: for each ``{"deployment", "list", "updates"}`` (optional ``max_run_time_minutes``
    {update id: minutes}), freeze the list (a new version when its updates differ) and write the
    deployment of its newest version to the groups pilot and broad with the template ``quiet``
    (restart when needed, no randomized deadline). Returns each deployment's list version."""
    tasks = ("    - name: template\n      patchwave.windows.deployment_template: %s\n"
             % json.dumps({"store": store, "name": "quiet", "reboot": "if_required", "deadline_randomization_minutes": 0}))
    for number, item in enumerate(deployments):
        listed = {"store": store, "name": item["list"], "updates": item["updates"], "freeze": True}
        if item.get("max_run_time_minutes"):
            listed["max_run_time_minutes"] = item["max_run_time_minutes"]
        tasks += ("    - name: list %d\n      patchwave.windows.update_list: %s\n"
                  "    - name: deployment %d\n      patchwave.windows.deployment: %s\n      register: deployment_%d\n"
                  % (number, json.dumps(listed), number, json.dumps(
                      {"store": store, "name": item["deployment"], "update_list": item["list"],
                       "targets": ["pilot", "broad"], "template": "quiet"}), number))
        tasks += save("%s_%d" % (name, number), "deployment_%d" % number)
    runner.play(tasks, extra_vars={"results_dir": str(runner.results)}, name=name)
    return [runner.result("%s_%d" % (name, n))["deployment"]["list_version"] for n in range(len(deployments))]


def ring_inventory(fleet, tmp_path, rings, host_vars=None):
    """The fleet's inventory with the groups ``rings`` ({group: [host numbers]}) under ``windows`` and
    ``host_vars`` ({host name: {variable: value}}) added; the path of the file written."""
    inventory = fleet.inventory()
    windows = inventory["all"]["children"]["windows"]
    windows["children"] = {group: {"hosts": {"win%03d" % n: {} for n in numbers}} for group, numbers in rings.items()}
    for host, variables in (host_vars or {}).items():
        windows["hosts"][host].update(variables)
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(inventory))
    return path


def wave_command(tmp_path, inventory, store, spool, name, **more):
    """The ansible-playbook command line of the wave's install step (report off) and its environment;
    ``more`` adds or replaces extra variables."""
    variables = {"patchwave_wave_start_at": "install", "patchwave_wave_report": False, "patchwave_rings": PILOT_AND_BROAD,
                 "patchwave_wave": "2026-12", "patchwave_wave_deployment": "wave-dec", "patchwave_store": store,
                 "install_updates_spool": spool, "install_updates_poll_interval": 0.2,
                 "install_updates_reboot_timeout": 60}
    variables.update(more)
    variables = {key: value for key, value in variables.items() if value is not None}
    extra = tmp_path / ("%s-vars.json" % name)
    extra.write_text(json.dumps(variables))
    command = [os.path.join(BIN, "ansible-playbook"), "-i", str(inventory), "patchwave.windows.patch_wave",
               "-e", "@%s" % extra]
    return command, ansible_env(tmp_path)


def wave_playbook(tmp_path, inventory, store, spool, name, **more):
    """Run the wave's install step to its end (see ``wave_command``); the CompletedProcess. Its output is
    also kept in ``<name>.out`` beside the store."""
    command, env = wave_command(tmp_path, inventory, store, spool, name, **more)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
    (tmp_path / ("%s.out" % name)).write_text(done.stdout + done.stderr)
    return done


def wave_process(tmp_path, inventory, store, spool, name, **more):
    """Start the wave's install step (see ``wave_command``) in a session of its own, its output going to
    ``<name>.out`` beside the store; ``(Popen, output path)``."""
    command, env = wave_command(tmp_path, inventory, store, spool, name, **more)
    output = tmp_path / ("%s.out" % name)
    with open(output, "w", encoding="utf-8") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,  # pylint: disable=consider-using-with
                                   start_new_session=True)
    return process, output


def wave_state(store, name):
    """The wave as wave_info returns it, read straight from the store (None when there is none)."""
    opened = open_store(store)
    try:
        return read_wave(opened, name)
    finally:
        opened.close()


def wave_events(store, name):
    """The kinds of the wave's events, in order."""
    return [event["kind"] for event in wave_state(store, name)["events"]]


def freeze_time(store, update_list, version, at):
    """Say that ``update_list`` ``version`` was frozen at ``at`` (ISO 8601 UTC): a wave takes its default
    name from that month, and a test cannot wait for January."""
    opened = open_store(store)
    try:
        with opened.transaction() as cursor:
            cursor.execute("UPDATE update_list_versions SET created_at = ? WHERE list_name = ? AND version = ?",
                           (at, update_list, version))
    finally:
        opened.close()


def outcomes(info):
    """{host: outcome} over every ring of a wave (wave_info's shape)."""
    return {h["host"]: h["outcome"] for ring in info["rings"] for h in ring["host_results"]}


def starts(fleet):
    """{host: install workers started on it}."""
    return {h.model.name: h.backend.installs.status()["calls"].get("start", 0) for h in fleet.hosts}


def count_installs(fleet):
    """A Counter of ``(host, update id)`` that grows each time a lab host's install worker installs an update
    (Install() succeeded for it), from now on."""
    counts = collections.Counter()
    for host in fleet.hosts:
        emulation = host.backend.installs
        real = emulation._install_done  # pylint: disable=protected-access

        def install_done(work, update_id, at, real=real, name=host.model.name):
            real(work, update_id, at)
            if work.results[update_id]["outcome"] == "installed":
                counts[(name, update_id)] += 1

        emulation._install_done = install_done  # pylint: disable=protected-access
    return counts
