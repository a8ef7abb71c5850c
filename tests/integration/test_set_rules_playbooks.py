"""The set rules through ansible-playbook and ansible-inventory: catalog_info's superseded, previews
and exclusion options and its warning for an unknown product, compliance_info's update sets with the
same rules and the same message (an error there), and the compliance inventory plugin's groups."""

import json
import os
import subprocess

from ansible_collections.patchwave.windows.plugins.module_utils._catalog.query import describe_updates
from ansible_collections.patchwave.windows.plugins.module_utils._scan.ingest import ingest
from ansible_collections.patchwave.windows.plugins.module_utils._scan.spool import write_message
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_runs import BIN, ansible_env, save

from tests import set_catalog
from tests.catalog_gen.store import sync_file
from tests.compliance_data import scan_body


def sync_task():
    return ("    - name: sync\n      patchwave.windows.catalog_sync:\n        src: \"{{ src }}\"\n"
            "        store: \"{{ store }}\"\n        languages: [en, de]\n      register: synced\n")


def query(name, options):
    return ("    - name: %s\n      patchwave.windows.catalog_info:\n        store: \"{{ store }}\"\n%s"
            "      register: %s\n" % (name, "".join("        %s\n" % line for line in options), name)) + save(name, name)


def keys(result):
    return {set_catalog.ID_TO_KEY[u["update_id"]] for u in result["updates"]}


def test_catalog_info_set_rules_and_unknown_names(runner, tmp_path):
    src = set_catalog.write(str(tmp_path / "catalog.json"))
    tasks = sync_task() + "".join([
        query("security", ["classifications: [Security Updates]", "superseded: false"]),
        query("with_previews", ["superseded: false", "previews: true"]),
        query("preview_by_kb", ["kbs: [KB5046617]"]),
        query("excluded", ["exclude_titles: ['*.net framework*']", "exclude_kbs: ['KB50466?5', '5047000']"]),
        query("typo", ["products: [Windows Server 2022]"]),
    ])
    runner.play(tasks, {"src": src, "store": str(tmp_path / "patchwave.db"), "results_dir": str(runner.results)})
    security = runner.result("security")
    assert keys(security) == {"cu11", "net11", "ws19", "severe"} and "warnings" not in security
    cu11 = [u for u in security["updates"] if u["kb"] == "5046616"][0]
    assert [s["kb"] for s in cu11["superseded_by"]] == ["5046617"]  # still shown: the preview supersedes it
    assert keys(runner.result("with_previews")) == set(set_catalog.UPDATES_BY_KEY) - {"cu10", "pv10", "cu11"}
    assert keys(runner.result("preview_by_kb")) == {"pv11"}
    assert keys(runner.result("excluded")) == {"cu10", "cu11", "insider", "severe"}
    typo = runner.result("typo")
    assert typo["count"] == 0 and typo["unknown_categories"] == ["Windows Server 2022"]
    assert len(typo["warnings"]) == 1
    assert typo["warnings"][0].startswith("unknown product or classification 'Windows Server 2022' (a product name; "
                                          "closest in the catalog: 'Microsoft Server operating system-21H2'")


def test_compliance_info_sets_follow_the_same_rules(runner, tmp_path):
    src = set_catalog.write(str(tmp_path / "catalog.json"))
    sets = [{"name": "security", "classifications": ["Security Updates"], "superseded": False},
            {"name": "no_net", "classifications": "Security Updates", "exclude_titles": "*.NET*",
             "exclude_kbs": ["KB5046699"], "superseded": False},
            {"name": "optional", "classifications": ["Updates"], "previews": True}]
    tasks = sync_task() + (
        "    - name: info\n      patchwave.windows.compliance_info:\n        store: \"{{ store }}\"\n"
        "        update_sets: \"{{ sets }}\"\n      register: info\n" + save("info", "info") +
        "    - name: typo\n      patchwave.windows.compliance_info:\n        store: \"{{ store }}\"\n"
        "        update_sets: [{name: ws2022, products: [Windows Server 2022]}]\n"
        "      register: typo\n      ignore_errors: true\n" + save("typo", "typo"))
    runner.play(tasks, {"src": src, "store": str(tmp_path / "patchwave.db"), "sets": sets,
                        "results_dir": str(runner.results)})
    counts = {name: entry["update_count"] for name, entry in runner.result("info")["update_sets"].items()}
    # all: everything but the four previews; security keeps November's CU (superseded only by its preview)
    assert counts == {"all": 7, "security": 4, "no_net": 2, "optional": 5}
    typo = runner.result("typo")
    assert typo["failed"] is True
    assert typo["msg"].startswith("update set 'ws2022': unknown product or classification 'Windows Server 2022' "
                                  "(a product name; closest in the catalog: 'Microsoft Server operating system-21H2'")


def test_inventory_plugin_groups_by_the_same_rules(tmp_path):
    """ws01 installed November's CU but not its optional preview; ws02 installed neither. The set
    ``all`` has no previews, the security set keeps the CU its preview supersedes, exclusions hold."""
    store_path = str(tmp_path / "patchwave.db")
    spool = str(tmp_path / "spool")
    source = set_catalog.write(str(tmp_path / "catalog.json"))
    store = open_store(store_path)
    try:
        sync_file(store, source)
        by_id = {u["update_id"]: u for u in describe_updates(store, [e[0] for e in set_catalog.UPDATES_BY_KEY.values()])}
        ids = {key: entry[0] for key, entry in set_catalog.UPDATES_BY_KEY.items()}
        scans = {"ws01": {ids["cu11"]: (True, False, False), ids["pv11"]: (False, False, False)},
                 "ws02": {ids["cu11"]: (False, False, False), ids["pv11"]: (False, False, False)}}
        for host, results in scans.items():
            write_message(spool, host, "scan", scan_body(results, "2026-11-28T06:00:00Z", by_id), catalog_version=1)
        ingest(store, spool)
    finally:
        store.close()
    config = tmp_path / "sets.compliance.yml"
    config.write_text(
        "plugin: patchwave.windows.compliance\nstore: %s\nspool: %s\nstale_after_days: 0\nupdate_sets:\n"
        "  - {name: security, classifications: [Security Updates], superseded: false}\n"
        "  - {name: optional, classifications: [Updates], previews: true}\n"
        "  - {name: no_cu, classifications: [Security Updates], exclude_kbs: ['KB504661?'], exclude_titles: ['*.net*']}\n"
        % (store_path, spool))
    done = subprocess.run([os.path.join(BIN, "ansible-inventory"), "-i", str(config), "--list"],
                          env=ansible_env(tmp_path), capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    listing = json.loads(done.stdout)
    groups = {g: sorted(v.get("hosts", [])) for g, v in listing.items() if g != "_meta"}
    assert groups.get("patchwave_compliant") == ["ws01"] and groups.get("patchwave_non_compliant") == ["ws02"]
    assert groups.get("patchwave_security_compliant") == ["ws01"]
    assert groups.get("patchwave_security_non_compliant") == ["ws02"]
    assert groups.get("patchwave_optional_non_compliant") == ["ws01", "ws02"]
    assert groups.get("patchwave_no_cu_compliant") == ["ws01", "ws02"]
