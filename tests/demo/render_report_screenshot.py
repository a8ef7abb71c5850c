"""Regenerate docs/images/compliance_report.png (the top of the page) and docs/images/report_waves.png
(the section "Deployments and waves"): the compliance report of a realistic synthetic fleet, rendered by
headless chromium (Debian's package).

    .venv/bin/python tests/demo/render_report_screenshot.py [output.png [waves.png]]

The fleet: 180 Windows Server hosts scanned every few days over five weeks, patched a little more
each week, a few hosts stale, failing or never scanned. Everything is evaluated as of
``tests.compliance_data.NOW`` so the picture only changes when the report does. November's update
list goes out in two deployments through the wave ``2026-11``: the pilot ring finished (one host's
install failed, one waits for its window), the broad ring halted when its failure budget was spent;
October's wave finished.
"""

import datetime
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, ".build", "collections"))
LINK = os.path.join(REPO, ".build", "collections", "ansible_collections", "patchwave", "windows")
if not os.path.islink(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(REPO, LINK)

from ansible_collections.patchwave.windows.plugins.module_utils._compliance.history import history  # noqa: E402
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.reads import evaluate_store  # noqa: E402
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.report_data import report_data  # noqa: E402
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.report_deployments import (  # noqa: E402
    deployments_part,
    waves_part,
)
from ansible_collections.patchwave.windows.plugins.module_utils._report.rollout import read_rollout  # noqa: E402
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.report_html import render_html  # noqa: E402
from ansible_collections.patchwave.windows.plugins.module_utils._install.enforcement import (  # noqa: E402
    waiting_for_window_detail,
    write_enforcement,
)
from ansible_collections.patchwave.windows.plugins.module_utils._prepare.deployments import apply_deployment  # noqa: E402
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.update_sets import (  # noqa: E402
    all_updates,
    parse_update_sets,
)
from ansible_collections.patchwave.windows.plugins.module_utils._scan.ingest import ingest  # noqa: E402
from ansible_collections.patchwave.windows.plugins.module_utils._scan.spool import write_message  # noqa: E402
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store  # noqa: E402
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import format_time  # noqa: E402
from ansible_collections.patchwave.windows.plugins.module_utils._wave import state as wave_state  # noqa: E402

from tests.compliance_data import NOW, Fleet, add_catalog  # noqa: E402
from tests.deployment_data import freeze_rows  # noqa: E402

OUTPUT = os.path.join(REPO, "docs", "images", "compliance_report.png")
WAVES_OUTPUT = os.path.join(REPO, "docs", "images", "report_waves.png")
HOSTS = 180
HEIGHT = int(os.environ.get("PATCHWAVE_SCREENSHOT_HEIGHT", "2400"))  # the docs show the top; taller to look at the rest
WAVES_HEIGHT = int(os.environ.get("PATCHWAVE_WAVES_SCREENSHOT_HEIGHT", "2160"))
UPDATES = 160
TITLES = ("2026-%02d Cumulative Update for Windows Server 2019 for x64-based Systems (KB%s)",
          "2026-%02d Security Update for Microsoft .NET Framework 4.8 on Windows Server 2019 (KB%s)",
          "2026-%02d Servicing Stack Update for Windows Server 2019 for x64-based Systems (KB%s)",
          "2026-%02d Security Update for Microsoft Edge (KB%s)")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic")


def build(folder):
    store = open_store(os.path.join(folder, "patchwave.db"))
    spool = os.path.join(folder, "spool")
    catalog = add_catalog(store, UPDATES, versions=3, seed=11)
    with store.transaction() as cursor:
        for n, (uid, facts) in enumerate(catalog.items()):
            title = TITLES[n % len(TITLES)] % (1 + n * 11 // UPDATES, facts["kb"])
            cursor.execute("UPDATE updates SET title = ? WHERE update_id = ?", (title, uid))
    fleet = Fleet(catalog, seed=12)
    rng = random.Random(13)
    applicable = {}
    for index in range(HOSTS):
        host = "srv-%s-%03d" % (("web", "sql", "app", "dc", "file")[index % 5], index)
        applicable[host] = [uid for uid in catalog if rng.random() < 0.55]
        kind = rng.random()
        if kind < 0.03:
            continue  # in the inventory, never scanned
        diligence = rng.uniform(0.90, 1.0)
        patched = rng.random() < 0.6  # most hosts got this month's wave
        last = 35 if kind < 0.09 else 0
        for days_ago in range(35, last - 1, -rng.choice((3, 4, 5, 7))):
            moment = NOW - datetime.timedelta(days=days_ago, hours=rng.uniform(0, 20))
            version = 3 if days_ago < 10 else 2 if days_ago < 20 else 1
            progress = 1.0 if patched and days_ago < 8 else diligence * (1 - days_ago / 70.0)
            results = {}
            for uid in applicable[host]:
                if catalog[uid]["first_version"] > version:
                    continue
                installed = rng.random() < progress
                results[uid] = (installed, False, installed and days_ago < 2 and rng.random() < 0.01)
            fleet.add_scan(spool, host, moment, version, results=results)
        if 0.09 <= kind < 0.13:
            fleet.add_scan(spool, host, NOW - datetime.timedelta(hours=rng.uniform(1, 30)), 3, succeeded=False)
        elif 0.13 <= kind < 0.16:  # the last attempt never reached the host: it keeps its state
            failure, reason = rng.choice((("unreachable", "ntlm: Connection refused"),
                                          ("credentials", "ntlm: the specified credentials were rejected by the server")))
            write_message(spool, host, "scan_attempt", {"failure": failure, "reason": reason, "server_selection": "default"},
                          catalog_version=3, created=(NOW - datetime.timedelta(hours=rng.uniform(1, 10))).strftime(
                              "%Y-%m-%dT%H:%M:%SZ"))
    groups = rollout(store, spool, catalog, sorted(applicable))
    counts = ingest(store, spool)
    if counts["quarantined"]:
        sys.exit("%d state messages were quarantined: the fleet's messages no longer match the contract"
                 % counts["quarantined"])
    sets = [all_updates()] + parse_update_sets([{"name": "critical", "severities": ["Critical"]},
                                                {"name": "cumulative", "title": "Cumulative Update"}])
    hosts = sorted(applicable)
    evaluation = evaluate_store(store, sets, hosts=hosts, now=NOW)
    histories = history(store, sets, days=30, now=NOW, hosts=hosts)
    wave_results(store, groups)
    rolled = read_rollout(store)
    store.close()
    return render_html(report_data(evaluation, histories, title="Contoso servers: update compliance", top=8,
                                   deployments=deployments_part(rolled, hosts, only=True, groups=groups),
                                   waves=waves_part(rolled["waves"])))


def at(hours):
    return format_time(NOW - datetime.timedelta(hours=hours))


PILOT = ["srv-app-002", "srv-dc-003", "srv-file-004", "srv-web-005", "srv-sql-006", "srv-app-007"]
RINGS = [{"name": "pilot", "hosts": "pilot", "serial": 2, "failure_budget": 1, "wait_after": 120,
          "deployment": "2026-11-security-pilot"},
         {"name": "broad", "hosts": "broad", "serial": "25%", "failure_budget": "5%", "deployment": "2026-11-security-broad"}]
# broad-ring hosts: (host index, install outcome, HRESULT); the rest of the first 40 broad hosts are compliant
BROAD_TROUBLE = {12: ("failed", 0x80240016), 17: ("did_not_return", None), 23: ("failed", 0x8024402C),
                 29: ("unreachable", None)}


def rollout(store, spool, catalog, hosts):
    """November's list, its two deployments and the enforcement states of the wave's hosts; October's
    list and deployment. Returns the inventory's groups."""
    ids = [uid for uid in catalog if catalog[uid]["first_version"] == 3][:4]
    freeze_rows(store, "security", 1, list(catalog)[:3], created_at="2026-10-14T09:00:00Z")
    freeze_rows(store, "security", 2, ids, created_at="2026-11-11T07:00:00Z")
    pilot = PILOT
    broad = [h for h in hosts if h not in pilot][:40]
    groups = {"pilot": pilot, "broad": broad, "windows": hosts}
    start = format_time(NOW - datetime.timedelta(days=30))
    apply_deployment(store, "2026-10-security", "present", {"update_list": "security", "version": 1,
                                                            "targets": ["pilot", "broad"], "start": start},
                     now=NOW - datetime.timedelta(days=30))
    for name, target in (("2026-11-security-pilot", "pilot"), ("2026-11-security-broad", "broad")):
        apply_deployment(store, name, "present", {"update_list": "security", "version": 2, "targets": [target],
                                                  "start": at(30), "deadline": "+3d"}, now=NOW - datetime.timedelta(hours=30))

    def enforce(host, deployment, hours, states, outcome):
        for uid, (update_state, hresult, detail) in zip(ids, states):
            write_enforcement(spool, host, deployment, uid, update_state, hresult=hresult, detail=detail,
                              created=at(hours))
        write_enforcement(spool, host, deployment, None, {"compliant": "compliant"}.get(
            outcome, "non_compliant" if outcome in ("installed_pending_restart", "waiting_for_window") else "failed"),
            detail={"outcome": outcome}, created=at(hours))

    done = [("installed", None, None)] * 4
    for index, host in enumerate(pilot):
        if index == 1:
            enforce(host, "2026-11-security-pilot", 26, done[:2] + [("failed", 0x80240022, None),
                                                                    ("failed", 0x80240022, None)], "failed")
        elif index == 4:
            window = waiting_for_window_detail(at(26), 90, at(25.5), at(-14))
            enforce(host, "2026-11-security-pilot", 26, done[:2] + [("waiting_for_window", None, window)] * 2,
                    "waiting_for_window")
        elif index == 5:
            enforce(host, "2026-11-security-pilot", 26, [("pending_restart", None, None)] * 4, "installed_pending_restart")
        else:
            enforce(host, "2026-11-security-pilot", 26.5, done, "compliant")
    for index, host in enumerate(broad[:32]):
        trouble = BROAD_TROUBLE.get(index)
        if trouble is None:
            enforce(host, "2026-11-security-broad", 3 - index * 0.05, done, "compliant")
        elif trouble[0] == "failed":
            enforce(host, "2026-11-security-broad", 2.5, done[:3] + [("failed", trouble[1], None)], "failed")
        elif trouble[0] == "did_not_return":
            enforce(host, "2026-11-security-broad", 2.4, [("pending_restart", None, None)] * 4, "did_not_return")
    return groups


def wave_results(store, groups):
    """October's wave finished; November's: the pilot ring done, the broad ring halted by its failure budget."""
    october = NOW - datetime.timedelta(days=27)
    wave_state.start_wave(store, "2026-10", deployment="2026-10-security",
                          rings=[{"name": "pilot", "hosts": "pilot"}, {"name": "broad", "hosts": "broad", "serial": "50%"}],
                          hosts_by_ring={"pilot": groups["pilot"], "broad": groups["broad"]}, now=october)
    for ring, minutes in (("pilot", 50), ("broad", 190)):
        wave_state.record_results(store, "2026-10", ring, {h: {"outcome": "compliant"} for h in groups[ring]},
                                  now=october + datetime.timedelta(minutes=minutes))
        wave_state.finish_ring(store, "2026-10", ring, now=october + datetime.timedelta(minutes=minutes + 2))

    start = NOW - datetime.timedelta(hours=27)
    wave_state.start_wave(store, "2026-11", deployment="2026-11-security-pilot", rings=RINGS,
                          hosts_by_ring={"pilot": groups["pilot"], "broad": groups["broad"]}, now=start)
    outcomes = {PILOT[1]: {"outcome": "failed", "msg": "2 update(s) failed: 0x80240022 WU_E_ALL_UPDATES_FAILED"},
                PILOT[4]: {"outcome": "waiting_for_window", "msg": "2 update(s) wait for the window saturday-night"},
                PILOT[5]: {"outcome": "installed_pending_restart", "msg": "the restart waits for a maintenance window"}}
    wave_state.record_results(store, "2026-11", "pilot", {h: outcomes.get(h, {"outcome": "compliant"}) for h in PILOT},
                              now=start + datetime.timedelta(minutes=55))
    wave_state.finish_ring(store, "2026-11", "pilot", now=start + datetime.timedelta(minutes=57))
    batch = {}
    for index, host in enumerate(groups["broad"][:32]):
        trouble = BROAD_TROUBLE.get(index)
        if trouble is None:
            batch[host] = {"outcome": "compliant"}
        elif trouble[0] == "failed":
            batch[host] = {"outcome": "failed", "msg": "1 update(s) failed: 0x%08X" % trouble[1]}
        elif trouble[0] == "did_not_return":
            batch[host] = {"outcome": "did_not_return", "msg": "the host did not come back within reboot_timeout (1800 s)"}
        else:
            batch[host] = {"outcome": "unreachable", "msg": "ntlm: Connection refused"}
    wave_state.record_results(store, "2026-11", "broad", batch, now=NOW - datetime.timedelta(hours=2, minutes=40))


def section_page(page, section_id):
    """The page with only its header and one section (the same CSS): a screenshot of that section."""
    found = re.search(r'<section id="%s">.*?</section>' % section_id, page, re.S)
    if not found:
        sys.exit("the report has no section %r" % section_id)
    return re.sub(r"<main>.*</main>", lambda match: "<main>%s</main>" % found.group(0), page, flags=re.S)


def shoot(chromium, page, output, height, profile):
    os.makedirs(os.path.dirname(output), exist_ok=True)
    subprocess.run([chromium, *FLAGS, "--user-data-dir=%s" % profile, "--screenshot=%s" % output,
                    "--window-size=1280,%d" % height, "file://%s" % page], capture_output=True, timeout=120, check=True)
    print(output)


def main():
    output = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else OUTPUT)
    waves_output = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else WAVES_OUTPUT)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        sys.exit("chromium is not installed (apt-get install -y chromium)")
    folder = tempfile.mkdtemp(prefix="patchwave-report-")
    try:
        html = build(folder)
        page = os.path.join(folder, "compliance.html")
        with open(page, "w", encoding="utf-8") as handle:
            handle.write(html)
        shoot(chromium, page, output, HEIGHT, os.path.join(folder, "profile"))
        waves = os.path.join(folder, "waves.html")
        with open(waves, "w", encoding="utf-8") as handle:
            handle.write(section_page(html, "rollout"))
        shoot(chromium, waves, waves_output, WAVES_HEIGHT, os.path.join(folder, "profile"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
