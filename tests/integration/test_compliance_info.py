"""compliance_info through ansible-playbook: what users see, checked against the bulk evaluation."""

import datetime
import json
import os
import subprocess

from ansible_collections.patchwave.windows.plugins.module_utils._compliance import rules as c
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.reads import evaluate_store
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.update_sets import (
    all_updates,
    parse_update_sets,
)
from ansible_collections.patchwave.windows.plugins.module_utils._scan.spool import write_message
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_runs import BIN, ansible_env, save

from tests.compliance_data import fleet_in_store, scan_body
from tests.demo import run_demo

SETS = [{"name": "critical", "severities": ["Critical"]}, {"name": "two_kbs", "kbs": ["5000004", "KB5000005"]}]


def build(tmp_path, hosts=40):
    """The store at ``tmp_path/store.db`` with 40 (``hosts``) generated hosts scanned before now."""
    return fleet_in_store(str(tmp_path / "store.db"), str(tmp_path / "spool"), updates=60, hosts=hosts, seeds=(3, 4),
                          now=datetime.datetime.now(datetime.timezone.utc))


def test_compliance_info_reports_hosts_sets_and_updates(runner, tmp_path):
    store_path = str(tmp_path / "store.db")
    with build(tmp_path) as (store, fleet, names, _counts):
        catalog = fleet.catalog
        # one more scan waits in the spool: the module ingests it before reading
        newest = list(catalog)[-1]
        write_message(str(tmp_path / "spool"), "late01", "scan",
                      scan_body({newest: (False, False, False)}, datetime.datetime.now(datetime.timezone.utc)
                                .strftime("%Y-%m-%dT%H:%M:%SZ"), catalog), catalog_version=3)
        tasks = ("    - name: evaluate\n      patchwave.windows.compliance_info:\n        store: %s\n"
                 "        hosts: %s\n        update_sets: %s\n      register: info\n"
                 % (store_path, json.dumps(names + ["late01", "nobody"]), json.dumps(SETS))) + save("info", "info")
        runner.play(tasks, extra_vars={"results_dir": str(runner.results)})
        info = runner.result("info")
        assert info["changed"] is False and info["ingested"]["ingested"] == 1
        expected = evaluate_store(store, [all_updates()] + parse_update_sets(SETS), hosts=names + ["late01", "nobody"])
        assert set(info["hosts"]) == set(names) | {"late01", "nobody"}
        for name, report in info["hosts"].items():
            for set_name, result in expected.sets.items():
                assert report["sets"][set_name]["counts"] == result.host_counts[name]
                assert report["sets"][set_name]["compliance"] == result.host_compliance[name]
                assert len(report["sets"][set_name]["required"]) == len(result.host_required.get(name, []))
            assert report["status"] == expected.hosts[name].status
        assert info["hosts"]["nobody"]["status"] == c.NEVER_SCANNED and info["hosts"]["nobody"]["last_scan"] is None
        late = info["hosts"]["late01"]
        assert late["sets"]["all"]["required"][0]["kb"] == catalog[newest]["kb"]
        assert late["last_scan"]["catalog_version"] == 3 and late["last_scan"]["source"] == "patchwave.windows.scan"
        summary = info["update_sets"]["critical"]
        assert summary["update_count"] == len(expected.sets["critical"].update_ids)
        assert sum(summary["hosts"].values()) == len(names) + 2
        ranked = [u["hosts"]["required"] for u in summary["updates"]]
        assert ranked == sorted(ranked, reverse=True)
        assert info["update_sets"]["two_kbs"]["update_count"] == 2


def test_filters_details_and_errors(runner, tmp_path):
    store_path = str(tmp_path / "store.db")
    with build(tmp_path, hosts=20):
        pass  # the store is left on disk for the play
    first = ("    - name: non-compliant only, with pairs\n      patchwave.windows.compliance_info:\n"
             "        store: %s\n        compliance: [non_compliant]\n        details: true\n        top: 3\n"
             "      register: info\n" % store_path)
    second = ("    - name: a typo in a set\n      patchwave.windows.compliance_info:\n        store: %s\n"
              "        update_sets: [{name: p, products: ['Windows 95']}]\n      register: bad\n"
              "      ignore_errors: true\n" % store_path)
    not_a_store = tmp_path / "notes.db"
    not_a_store.write_text("shopping list\n" * 200)
    third = ("    - name: a store that is not one\n      patchwave.windows.compliance_info:\n        store: %s\n"
             "      register: broken\n      ignore_errors: true\n" % not_a_store)
    tasks = first + save("info", "info") + second + save("bad", "bad") + third + save("broken", "broken")
    runner.play(tasks, extra_vars={"results_dir": str(runner.results)})
    info = runner.result("info")
    assert info["hosts"] and all(h["compliance"] == "non_compliant" for h in info["hosts"].values())
    assert len(info["update_sets"]["all"]["updates"]) == 3
    host = next(iter(info["hosts"].values()))
    states = {p["state"] for p in host["pairs"]["all"]}
    assert c.REQUIRED in states and all(p["detail"] in c.DETAILS[p["state"]] for p in host["pairs"]["all"])
    bad = runner.result("bad")
    # the set and the unknown name are named (the closest names the catalog knows may follow)
    assert bad["failed"] and "update set 'p': unknown product" in bad["msg"] and "'Windows 95'" in bad["msg"]
    broken = runner.result("broken")
    assert broken["failed"] and "store '%s' cannot be opened: file is not a database" % not_a_store in broken["msg"]
    assert not_a_store.read_text().startswith("shopping list")  # left as it was


def test_ansible_doc_renders(tmp_path):
    done = subprocess.run([os.path.join(BIN, "ansible-doc"), "patchwave.windows.compliance_info"],
                          env=ansible_env(tmp_path), capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "update_sets" in done.stdout and "stale_after_days" in done.stdout


def test_readers_never_create_a_store(runner, tmp_path):
    """A mistyped folder, and no store option at all (the default store): compliance_info, catalog_info
    and compliance_report fail naming the path and catalog_sync, and create nothing."""
    typo = tmp_path / "typo_dir" / "patchwave.db"
    data_home = tmp_path / "xdg"
    default = data_home / "patchwave" / "patchwave.db"
    tasks = ""
    for name, module, option in (("info", "compliance_info", "top: 0"), ("catalog", "catalog_info", "limit: 0"),
                                 ("report", "compliance_report", "dest: %s" % (tmp_path / "report"))):
        tasks += ("    - name: %s against a mistyped folder\n      patchwave.windows.%s:\n        store: %s\n"
                  "        %s\n      register: %s\n      ignore_errors: true\n" % (name, module, typo, option, name))
        tasks += save(name, name)
        tasks += ("    - name: %s with no store set\n      patchwave.windows.%s:\n        %s\n      environment:\n"
                  "        XDG_DATA_HOME: %s\n      register: default_%s\n      ignore_errors: true\n"
                  % (name, module, option, data_home, name))
        tasks += save("default_" + name, "default_" + name)
    runner.play(tasks, extra_vars={"results_dir": str(runner.results)})
    for name in ("info", "catalog", "report"):
        for result, path in ((runner.result(name), typo), (runner.result("default_" + name), default)):
            assert result["failed"], (name, result)
            assert "store '%s' does not exist" % path in result["msg"], (name, result["msg"])
            assert "patchwave.windows.catalog_sync" in result["msg"]
            assert result["msg"].startswith("store '")  # the store's error as it is, not a crash
    assert sorted(os.listdir(str(tmp_path))) == ["ansible-tmp", "play.yml", "results"]


def test_a_never_scanned_host_is_unknown_for_a_set_that_selects_no_update(runner, tmp_path):
    store_path = str(tmp_path / "store.db")
    with build(tmp_path, hosts=20) as (store, _fleet, names, _counts):
        expected = evaluate_store(store, [all_updates()], hosts=names + ["nobody"])
    tasks = ("    - name: a set that selects nothing\n      patchwave.windows.compliance_info:\n        store: %s\n"
             "        hosts: %s\n        update_sets: [{name: typo, kbs: [KB9999999]}]\n      register: info\n"
             % (store_path, json.dumps(names + ["nobody"]))) + save("info", "info")
    done = runner.play(tasks, extra_vars={"results_dir": str(runner.results)})
    info = runner.result("info")
    assert [w for w in info["warnings"] if "update set 'typo' selects no update of catalog version 3" in w] == \
        info["warnings"] and len(info["warnings"]) == 1
    assert "[WARNING]: update set 'typo' selects no update" in done.stdout + done.stderr
    assert info["update_sets"]["typo"]["update_count"] == 0
    assert info["hosts"]["nobody"]["sets"]["typo"]["compliance"] == c.UNKNOWN
    usable = {h for h, s in expected.hosts.items() if s.usable}
    assert usable and len(usable) < len(names) + 1  # both kinds are there
    for name, report in info["hosts"].items():
        assert report["sets"]["typo"]["compliance"] == (c.COMPLIANT if name in usable else c.UNKNOWN), name
    assert info["update_sets"]["typo"]["hosts"] == {c.COMPLIANT: len(usable), c.NON_COMPLIANT: 0,
                                                    c.UNKNOWN: len(names) + 1 - len(usable)}


def test_a_store_without_a_catalog_makes_every_host_unknown(runner, tmp_path):
    store_path = str(tmp_path / "store.db")
    spool = str(tmp_path / "spool")
    open_store(store_path).close()  # made by a writer, with no catalog synced into it
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    write_message(spool, "scanned01", "scan", scan_body({}, now, {}), catalog_version=None)
    tasks = ("    - name: no catalog\n      patchwave.windows.compliance_info:\n        store: %s\n        spool: %s\n"
             "        hosts: [scanned01, nobody]\n      register: info\n" % (store_path, spool)) + save("info", "info")
    runner.play(tasks, extra_vars={"results_dir": str(runner.results)})
    info = runner.result("info")
    assert info["catalog_version"] is None and info["ingested"]["ingested"] == 1
    assert info["hosts"]["scanned01"]["status"] == c.USABLE
    assert {h: r["compliance"] for h, r in info["hosts"].items()} == {"scanned01": c.UNKNOWN, "nobody": c.UNKNOWN}
    assert len(info["warnings"]) == 1 and "no catalog version" in info["warnings"][0]
    assert "catalog_sync" in info["warnings"][0]


def test_compliance_info_and_the_report_give_the_same_figures(runner, tmp_path):
    """Same store, same hosts (a never-seen one included): compliance_info, compliance_report's result
    and its JSON give the same figures per set, which the demo prints as the same lines."""
    store_path = str(tmp_path / "store.db")
    with build(tmp_path, hosts=30) as (_store, _fleet, names, _counts):
        hosts = names + ["nobody"]
    tasks = ("    - name: evaluate\n      patchwave.windows.compliance_info:\n        store: %s\n"
             "        hosts: %s\n        per_update: false\n        update_sets: %s\n      register: info\n"
             % (store_path, json.dumps(hosts), json.dumps(SETS)) + save("info", "info")
             + "    - name: report\n      patchwave.windows.compliance_report:\n        store: %s\n        dest: %s\n"
             "        hosts: %s\n        update_sets: %s\n      register: report\n"
             % (store_path, str(tmp_path / "report"), json.dumps(hosts), json.dumps(SETS)) + save("report", "report"))
    runner.play(tasks, extra_vars={"results_dir": str(runner.results)})
    info, report = runner.result("info"), runner.result("report")
    with open(str(tmp_path / "report" / "compliance.json"), encoding="utf-8") as handle:
        data = json.load(handle)
    from_info = run_demo.info_figures(info["update_sets"])
    assert from_info == run_demo.report_figures(data)
    assert run_demo.figure_lines(from_info) == run_demo.figure_lines(run_demo.report_figures(data))
    for name, entry in from_info.items():
        assert sum(entry["hosts"].values()) == len(hosts) == report["host_count"]
        assert entry["hosts"]["unknown"] >= 1  # "nobody" counts as a host, never as compliant
        assert entry["percent_hosts_compliant"] == round(100.0 * entry["hosts"]["compliant"] / len(hosts), 1)
        returned = report["sets"][name]
        assert (returned["hosts"], returned["percent_hosts_compliant"], returned["pairs"],
                returned["percent_pairs_compliant"]) == (entry["hosts"], entry["percent_hosts_compliant"],
                                                         entry["pairs"], entry["percent_pairs_compliant"])
    assert report["overall"]["percent_hosts_compliant"] == data["overall"]["percent_hosts_compliant"]
