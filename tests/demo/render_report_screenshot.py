"""Regenerate docs/images/compliance_report.png: the compliance report of a realistic synthetic fleet,
rendered by headless chromium (Debian's package).

    .venv/bin/python tests/demo/render_report_screenshot.py [output.png]

The fleet: 180 Windows Server hosts scanned every few days over five weeks, patched a little more
each week, a few hosts stale, failing or never scanned. Everything is evaluated as of
``tests.compliance_data.NOW`` so the picture only changes when the report does.
"""

import datetime
import os
import random
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
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.report_html import render_html  # noqa: E402
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.update_sets import (  # noqa: E402
    all_updates,
    parse_update_sets,
)
from ansible_collections.patchwave.windows.plugins.module_utils._scan.ingest import ingest  # noqa: E402
from ansible_collections.patchwave.windows.plugins.module_utils._scan.spool import write_message  # noqa: E402
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store  # noqa: E402

from tests.compliance_data import NOW, Fleet, add_catalog  # noqa: E402

OUTPUT = os.path.join(REPO, "docs", "images", "compliance_report.png")
HOSTS = 180
HEIGHT = int(os.environ.get("PATCHWAVE_SCREENSHOT_HEIGHT", "2400"))  # the docs show the top; taller to look at the rest
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
    counts = ingest(store, spool)
    if counts["quarantined"]:
        sys.exit("%d state messages were quarantined: the fleet's messages no longer match the contract"
                 % counts["quarantined"])
    sets = [all_updates()] + parse_update_sets([{"name": "critical", "severities": ["Critical"]},
                                                {"name": "cumulative", "title": "Cumulative Update"}])
    hosts = sorted(applicable)
    evaluation = evaluate_store(store, sets, hosts=hosts, now=NOW)
    histories = history(store, sets, days=30, now=NOW, hosts=hosts)
    store.close()
    return render_html(report_data(evaluation, histories, title="Contoso servers: update compliance", top=8))


def main():
    output = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else OUTPUT)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        sys.exit("chromium is not installed (apt-get install -y chromium)")
    folder = tempfile.mkdtemp(prefix="patchwave-report-")
    try:
        page = os.path.join(folder, "compliance.html")
        with open(page, "w", encoding="utf-8") as handle:
            handle.write(build(folder))
        os.makedirs(os.path.dirname(output), exist_ok=True)
        subprocess.run([chromium, *FLAGS, "--user-data-dir=%s" % os.path.join(folder, "profile"),
                        "--screenshot=%s" % output, "--window-size=1280,%d" % HEIGHT, "file://%s" % page],
                       capture_output=True, timeout=120, check=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(output)


if __name__ == "__main__":
    main()
