"""The monthly patch wave's rings (issue 13) through patchwave.windows.patch_wave, against lab hosts.

A pilot ring whose failure budget is spent halts the wave: the broad ring never starts and nothing
installs there. Fixed and run again, the wave resumes: the pilot host already compliant is not
installed again, the broad ring runs, the wave finishes. A third run of the finished wave changes
nothing.
"""

import json
import os
import subprocess

import yaml
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_runs import BIN, ansible_env
from content_fixtures import world  # noqa: F401  pylint: disable=unused-import

from tests.lab.profiles import FleetProfile
from tests.lab.wua import CatalogCache

RINGS = [{"name": "pilot", "hosts": "pilot", "serial": 1, "failure_budget": 0},
         {"name": "broad", "hosts": "broad", "serial": "50%", "failure_budget": "25%"}]


def wave_playbook(tmp_path, inventory, store, spool, name, **more):
    variables = {"patchwave_wave_start_at": "install", "patchwave_wave_report": False, "patchwave_rings": RINGS,
                 "patchwave_wave": "2026-12", "patchwave_wave_deployment": "wave-dec", "patchwave_store": store,
                 "install_updates_spool": spool, "install_updates_poll_interval": 0.2,
                 "install_updates_reboot_timeout": 60}
    variables.update(more)
    extra = tmp_path / ("%s-vars.json" % name)
    extra.write_text(json.dumps(variables))
    done = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", str(inventory), "patchwave.windows.patch_wave",
                           "-e", "@%s" % extra], env=ansible_env(tmp_path), capture_output=True, text=True,
                          timeout=900, check=False)
    return done


def starts(fleet):
    return {h.model.name: h.backend.installs.status()["calls"].get("start", 0) for h in fleet.hosts}


def test_rings_budget_halt_and_resume(world, runner, tmp_path):  # noqa: F811  pylint: disable=redefined-outer-name
    store = str(tmp_path / "store.db")
    with open(world["store"], "rb") as source, open(store, "wb") as target:
        target.write(source.read())
    spool = str(tmp_path / "spool")
    profile = FleetProfile.never_patched(store, seed=35, time_scale=0.02, cache=CatalogCache())
    ids = profile.needed_ids()[:3]
    runner.module("update_list", {"store": store, "name": "dec", "updates": ids, "freeze": True}, "list")
    runner.module("deployment_template", {"store": store, "name": "quiet", "reboot": "if_required",
                                          "deadline_randomization_minutes": 0}, "template")
    runner.module("deployment", {"store": store, "name": "wave-dec", "update_list": "dec",
                                 "targets": ["pilot", "broad"], "template": "quiet"}, "deployment")
    with profile.fleet(6, auth="ntlm") as fleet:
        inventory = fleet.inventory()
        windows = inventory["all"]["children"]["windows"]
        windows["children"] = {"pilot": {"hosts": {"win001": {}, "win002": {}}},
                               "broad": {"hosts": {"win%03d" % n: {} for n in range(3, 7)}}}
        path = tmp_path / "hosts.yml"
        path.write_text(yaml.safe_dump(inventory))
        fleet.host(2).backend.set_faults(install_hresult={"*": 0x80240022})

        halted = wave_playbook(tmp_path, path, store, spool, "first")
        assert halted.returncode != 0, halted.stdout[-3000:]
        assert "the wave halts" in halted.stdout and "win002" in halted.stdout, halted.stdout[-3000:]
        counts = starts(fleet)
        assert counts["win001"] == 1 and counts["win002"] == 1, counts
        assert all(counts["win%03d" % n] == 0 for n in range(3, 7)), counts  # the broad ring never started
        info = runner.module("wave_info", {"store": store, "name": "2026-12"}, "halted_info")["waves"][0]
        assert info["state"] == "halted" and "win002" in info["halt_reason"], info
        assert info["list_version"] == 1

        fleet.host(2).backend.set_faults(install_hresult=None)
        # the pilot ring now completes, but its health gate (a URL nobody answers) fails: the wave halts
        # again before the broad ring
        gated = wave_playbook(tmp_path, path, store, spool, "gated",
                              patchwave_health_checks=[{"url": "http://127.0.0.1:9/health", "timeout": 5}])
        assert gated.returncode != 0 and "health gate after ring pilot failed" in gated.stdout, gated.stdout[-3000:]
        counts = starts(fleet)
        assert counts["win002"] == 2 and all(counts["win%03d" % n] == 0 for n in range(3, 7)), counts
        info = runner.module("wave_info", {"store": store, "name": "2026-12"}, "gated_info")["waves"][0]
        assert info["state"] == "halted" and "health gate" in info["halt_reason"], info

        resumed = wave_playbook(tmp_path, path, store, spool, "second")
        assert resumed.returncode == 0, resumed.stdout[-4000:]
        counts = starts(fleet)
        assert counts["win001"] == 1, counts  # compliant in this wave: not installed again
        assert counts["win002"] == 2 and all(counts["win%03d" % n] == 1 for n in range(3, 7)), counts
        info = runner.module("wave_info", {"store": store, "name": "2026-12"}, "finished_info")["waves"][0]
        assert info["state"] == "finished", info
        outcomes = {h["host"]: h["outcome"] for ring in info["rings"] for h in ring["host_results"]}
        assert set(outcomes.values()) == {"compliant"} and len(outcomes) == 6, outcomes

        again = wave_playbook(tmp_path, path, store, spool, "third")
        assert again.returncode == 0, again.stdout[-3000:]
        assert starts(fleet) == counts  # nothing installs in a finished wave
    opened = open_store(store)
    try:
        events = [r["kind"] for r in opened.query("SELECT kind FROM wave_events WHERE wave = '2026-12' ORDER BY seq")]
    finally:
        opened.close()
    assert events[0] == "started" and "halted" in events and "resumed" in events and events[-1] == "finished", events
