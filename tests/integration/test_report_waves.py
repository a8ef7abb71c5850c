"""The report's "deployments and waves" section after a real patch wave on lab hosts (issue 13).

A small wave (pilot ring win001 and win002, broad ring win003 and win004; win005 is in the inventory but
in no ring nor target) halts in its pilot ring because win002's installs fail. The report_compliance
playbook then writes the report, and its figures must be those of wave_info and deployment_info for the
same store; a second run changes nothing and check mode writes nothing.
"""

import csv
import io
import json
import os
import subprocess

from ansible_runs import BIN, REPO, ansible_env
from content_fixtures import world  # noqa: F401  pylint: disable=unused-import
from wave_runs import copy_store, prepare, ring_inventory, wave_playbook

from tests.lab.profiles import FleetProfile
from tests.lab.wua import CatalogCache

RINGS = [{"name": "pilot", "hosts": "pilot", "serial": 2, "failure_budget": 0},
         {"name": "broad", "hosts": "broad", "failure_budget": 1}]
HOSTS = ["win%03d" % n for n in range(1, 6)]


def run(tmp_path, inventory, playbook, variables, name, check=False):
    extra = tmp_path / ("%s-vars.json" % name)
    extra.write_text(json.dumps(variables))
    command = [os.path.join(BIN, "ansible-playbook"), "-i", str(inventory), playbook, "-e", "@%s" % extra]
    if check:
        command.append("--check")
    return subprocess.run(command, env=ansible_env(tmp_path), capture_output=True, text=True, timeout=900, check=False)


def test_report_shows_the_halted_wave_as_wave_info_and_deployment_info_do(world, runner, tmp_path):  # noqa: F811  pylint: disable=redefined-outer-name
    store = copy_store(world, tmp_path)
    spool = str(tmp_path / "spool")
    profile = FleetProfile.never_patched(store, seed=36, time_scale=0.02, cache=CatalogCache())
    ids = profile.needed_ids()[:2]
    prepare(runner, store, [{"deployment": "wave-dec", "list": "dec", "updates": ids}])
    with profile.fleet(len(HOSTS), auth="ntlm") as fleet:
        path = ring_inventory(fleet, tmp_path, {"pilot": [1, 2], "broad": [3, 4]})
        fleet.host(2).backend.set_faults(install_hresult={"*": 0x80240022})
        halted = wave_playbook(tmp_path, path, store, spool, "wave", patchwave_rings=RINGS)
        assert halted.returncode != 0 and "the wave halts" in halted.stdout, halted.stdout[-3000:]

    dest = tmp_path / "reports"
    variables = {"report_compliance_dest": str(dest), "report_compliance_store": store,
                 "report_compliance_spool": spool, "report_compliance_history_days": 0}
    playbook = os.path.join(REPO, "playbooks", "report_compliance.yml")
    done = run(tmp_path, path, playbook, variables, "report")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "1 deployment(s), 1 wave(s), wave 2026-12 halted" in done.stdout, done.stdout[-3000:]
    data = json.loads((dest / "compliance.json").read_text())

    wave = runner.module("wave_info", {"store": store, "name": "2026-12"}, "wave_info")["waves"][0]
    (shown,) = data["waves"]
    assert (shown["name"], shown["state"], shown["deployment"], shown["list_version"], shown["halt_reason"]) == (
        wave["name"], wave["state"], wave["deployment"], wave["list_version"], wave["halt_reason"])
    assert shown["state"] == "halted" and "win002" in shown["halt_reason"]
    assert shown["halts"] == wave["halts"] and len(shown["halts"]) == 1
    assert [(r["name"], r["state"], r["counts"]) for r in shown["rings"]] == [
        (r["name"], r["state"], r["counts"]) for r in wave["rings"]]
    assert shown["rings"][0]["counts"]["failed"] == 1 and shown["rings"][0]["counts"]["compliant"] == 1
    assert shown["rings"][1]["counts"]["not_run"] == 2 and shown["rings"][1]["state"] == "pending"
    assert shown["started_at"] == wave["started_at"] and shown["rings"][0]["started_at"] == wave["started_at"]

    deployment = runner.module("deployment_info", {"store": store, "name": "wave-dec", "hosts": HOSTS, "spool": spool},
                               "deployment_info")["deployments"][0]
    (section,) = data["deployments"]
    assert (section["name"], section["list_version"], section["update_count"]) == (
        "wave-dec", deployment["list_version"], deployment["update_count"])
    states = {host: (entry["state"], entry["reason"]) for host, entry in section["hosts"].items()}
    assert states == {"win001": ("installed", None), "win002": ("failed", None),
                      "win003": ("not_attempted", "never_reported"), "win004": ("not_attempted", "never_reported"),
                      "win005": ("not_attempted", "not_targeted")}
    compliance = deployment["compliance"]["host_compliance"]
    installed = sorted(h for h, (s, _r) in states.items() if s == "installed")
    assert installed == sorted(h for h, c in compliance.items() if c == "compliant")  # never installed unless compliant
    assert compliance["win002"] == "non_compliant" and deployment["compliance"]["required"]["win002"] == len(ids)
    assert section["counts"] == {"installed": 1, "pending_restart": 0, "waiting_for_window": 0, "in_progress": 0,
                                 "failed": 1, "not_attempted": 2} and section["not_targeted"] == 1
    failures = section["hosts"]["win002"]["failures"]
    assert len(failures) == len(ids) and {f["hresult"]["name"] for f in failures} == {"WU_E_ALL_UPDATES_FAILED"}
    assert {f["hresult"]["code"] for f in failures} == {"0x80240022"}
    assert section["hosts"]["win002"]["wave"]["outcome"] == "failed"

    rows = list(csv.DictReader(io.StringIO((dest / "compliance_deployments.csv").read_text())))
    assert sorted(r["host"] for r in rows) == HOSTS
    win002 = next(r for r in rows if r["host"] == "win002")
    assert win002["hresults"] == "0x80240022 WU_E_ALL_UPDATES_FAILED" and win002["updates_failed"] == str(len(ids))
    page = (dest / "compliance.html").read_text()
    assert '<section id="rollout">' in page and '<p class="halt"><b>Halted</b> in ring pilot' in page
    assert "WU_E_ALL_UPDATES_FAILED" in page

    stamps = {name: os.stat(str(dest / name)).st_mtime_ns for name in os.listdir(str(dest))}
    again = run(tmp_path, path, playbook, variables, "again")
    assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout[-3000:]
    checked = run(tmp_path, path, playbook, dict(variables, report_compliance_title="Another"), "check", check=True)
    assert checked.returncode == 0 and "changed=1" in checked.stdout, checked.stdout[-3000:]
    assert {name: os.stat(str(dest / name)).st_mtime_ns for name in os.listdir(str(dest))} == stamps
