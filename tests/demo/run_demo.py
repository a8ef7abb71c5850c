"""`make demo`: the monthly patch wave as far as the project has come.

Today that is step 1: build a realistic, signed offline scan package with the test-data generator,
sync it into a fresh store through the real playbook, sync it again (nothing changes), and show
what the catalog holds through catalog_info.
"""

import json
import os
import shutil
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

from tests.catalog_gen import generate  # noqa: E402
from tests.catalog_gen.signing import make_test_ca  # noqa: E402

DEMO = os.path.join(REPO, "demo")
BIN = os.path.dirname(sys.executable)
UPDATES = int(os.environ.get("PATCHWAVE_DEMO_UPDATES", "6000"))


def ansible(*args):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".build", "collections"),
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_NOCOLOR="1",
               ANSIBLE_DISPLAY_SKIPPED_HOSTS="0")
    done = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local"] + list(args),
                          env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stdout.write(done.stdout + done.stderr)
        raise SystemExit("demo: ansible-playbook failed (exit %d)" % done.returncode)
    return done.stdout


def debug_messages(output):
    """The single-line `msg` values that the debug tasks printed."""
    return [json.loads(line.strip()[len('"msg":'):]) for line in output.splitlines()
            if line.strip().startswith('"msg": "')]


def print_summary(answers):
    everything = answers["everything"]["updates"]
    categories = answers["categories"]["updates"]
    current = answers["current"]["updates"]
    products = [c for c in categories if c["category_type"] == "Product"]
    superseded = sum(1 for u in everything if u["superseded_by"])
    print()
    print("catalog version %s holds %d deployable software updates (%d superseded), %d products, %d classifications"
          % (answers["current"]["catalog_version"], len(everything), superseded, len(products),
             sum(1 for c in categories if c["category_type"] == "UpdateClassification")))
    print()
    print("%-46s %8s %8s  %s" % ("product", "updates", "current", "newest current security update"))
    for product in sorted(products, key=lambda p: p["title"]):
        mine = [u for u in everything if any(p["id"] == product["update_id"] for p in u["products"])]
        if not mine:
            continue
        fresh = [u for u in current if any(p["id"] == product["update_id"] for p in u["products"])]
        newest = max(fresh, key=lambda u: u["release_date"] or "", default=None)
        print("%-46s %8d %8d  %s" % (product["title"][:46], len(mine), len(fresh),
                                     "%s (KB%s, %s)" % (newest["release_date"][:10], newest["kb"], newest["msrc_severity"])
                                     if newest else "-"))
    print()


def main():
    shutil.rmtree(DEMO, ignore_errors=True)
    os.makedirs(DEMO)
    store = os.path.join(DEMO, "patchwave.db")
    cab = os.path.join(DEMO, "wsusscn2.cab")
    print("== patchwave.windows demo: step 1, catalog sync")
    ca = make_test_ca(os.path.join(DEMO, "test-ca"))
    manifest = generate("offline_scan", cab, updates=UPDATES, sign_ca_dir=ca["dir"],
                        manifest_path=os.path.join(DEMO, "manifest.json"))
    print("generated %s: %d updates, %d MB, signed by the demo's test CA"
          % (os.path.relpath(cab, REPO), manifest["total_updates"], os.path.getsize(cab) // (1 << 20)))

    variables = "sync_catalog_src=%s sync_catalog_store=%s sync_catalog_trusted_ca_file=%s" % (cab, store, ca["ca_file"])
    for attempt in ("first sync", "second sync (nothing new: no catalog version, changed=0)"):
        output = ansible("patchwave.windows.sync_catalog", "-e", variables)
        print("%s: %s" % (attempt, " ".join(debug_messages(output))))

    answers = os.path.join(DEMO, "catalog_summary.json")
    ansible(os.path.join(REPO, "tests", "demo", "catalog_summary.yml"), "-e", "store=%s out=%s" % (store, answers))
    with open(answers, encoding="utf-8") as handle:
        print_summary(json.load(handle))
    print("store: %s" % os.path.relpath(store, REPO))
    print("query it: ANSIBLE_COLLECTIONS_PATH=.build/collections .venv/bin/ansible localhost -m "
          "patchwave.windows.catalog_info -a 'store=%s kbs=%s'" % (os.path.relpath(store, REPO),
                                                                   manifest["kb_range"][1]))


if __name__ == "__main__":
    main()
