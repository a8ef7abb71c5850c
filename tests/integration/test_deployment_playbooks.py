"""deployment_template, deployment and deployment_info through ansible-playbook: check mode, diff,
idempotence, refusals, and compliance of a list version over the hosts given."""

import json
import os
import subprocess

from ansible_collections.patchwave.windows.plugins.module_utils._compliance.reads import evaluate_store
from ansible_collections.patchwave.windows.plugins.module_utils._prepare.deployment_compliance import deployment_set
from ansible_collections.patchwave.windows.plugins.module_utils._prepare.deployments import read_deployment
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_collections.patchwave.windows.plugins.module_utils._store.objects import object_history
from ansible_runs import BIN, ansible_env, save

from tests.compliance_data import Fleet, add_catalog
from tests.deployment_data import add_package, add_point, freeze_rows, unfrozen_list


def task(name, module, args, register, extra=""):
    return ("    - name: %s\n      patchwave.windows.%s: %s\n      register: %s\n%s"
            % (name, module, json.dumps(args), register, extra)) + save(register, register)


def make_store(tmp_path, hosts=12):
    """A store with a catalog, scanned hosts, a frozen list (versions 1 and 2), an unfrozen one, a package
    and a distribution point; returns (path, host names, update ids)."""
    path = str(tmp_path / "store.db")
    store = open_store(path)
    try:
        catalog = add_catalog(store, 20)
        names, _counts = Fleet(catalog, seed=9).generate(store, str(tmp_path / "spool"), hosts)
        ids = list(catalog)
        freeze_rows(store, "security", 1, ids[:5])
        freeze_rows(store, "security", 2, ids[:8], overrides={ids[0]: 120})
        unfrozen_list(store, "drafts")
        add_package(store, "dec-security", "security", 2)
        add_point(store, "dp-hq")
    finally:
        store.close()
    return path, names, ids


def test_templates_and_deployments_check_mode_diff_idempotence(runner, tmp_path):
    path, names, _ids = make_store(tmp_path)
    template = {"store": path, "name": "patch_tuesday", "deadline_offset": "+2d", "reboot": "never",
                "max_run_time_minutes": {"Security Updates": 30}}
    pilot = {"store": path, "name": "pilot", "update_list": "security", "targets": ["pilot"],
             "template": "patch_tuesday", "start": "2026-12-08T18:00:00Z", "available": "+4h",
             "package": "dec-security", "distribution_points": ["dp-hq"],
             "settings": {"content_source": "distribution_point"}}
    tasks = (task("template in check mode", "deployment_template", template, "t_check", "      check_mode: true\n")
             + task("template", "deployment_template", template, "t_made", "      diff: true\n")
             + task("template again", "deployment_template", template, "t_again")
             + task("deployment in check mode", "deployment", pilot, "d_check", "      check_mode: true\n")
             + task("deployment", "deployment", pilot, "d_made", "      diff: true\n")
             + task("deployment again", "deployment", pilot, "d_again")
             + task("deployment changed", "deployment", dict(pilot, deadline="+1d"), "d_changed", "      diff: true\n")
             + task("deployment_info", "deployment_info", {"store": path, "name": "pilot", "hosts": names + ["nobody"],
                                                           "history": True}, "info")
             + task("deployment_info all, reported hosts", "deployment_info", {"store": path, "updates": False},
                    "info_all"))
    runner.play(tasks, extra_vars={"results_dir": str(runner.results)})
    t_check, t_made, t_again = runner.result("t_check"), runner.result("t_made"), runner.result("t_again")
    assert t_check["changed"] and t_check["action"] == "created" and t_check["settings"]["deadline_offset"] == "+2d"
    assert t_made["changed"] and t_made["diff"]["before"] == {} and t_made["diff"]["after"]["reboot"] == "never"
    assert not t_again["changed"] and t_again["action"] is None
    d_check, d_made, d_again = runner.result("d_check"), runner.result("d_made"), runner.result("d_again")
    assert d_check["changed"] and d_check["deployment"] == d_made["deployment"]
    assert d_made["deployment"]["available"] == "2026-12-08T22:00:00Z"
    assert d_made["deployment"]["deadline"] == "2026-12-10T22:00:00Z"
    assert d_made["deployment"]["list_version"] == 2 and d_made["diff"]["before"] == {}
    assert not d_again["changed"] and d_again["action"] is None
    changed = runner.result("d_changed")
    assert changed["action"] == "updated" and changed["deployment"]["deadline"] == "2026-12-09T22:00:00Z"
    assert changed["diff"]["before"]["deadline"] == "2026-12-10T22:00:00Z"

    info = runner.result("info")
    assert not info["changed"] and [d["name"] for d in info["deployments"]] == ["pilot"]
    shown = info["deployments"][0]
    assert shown["update_count"] == 8 and len(shown["updates"]) == 8
    assert sorted(u["max_run_time_minutes"] for u in shown["updates"]) == [30] * 7 + [120]
    assert [h["action"] for h in shown["history"]] == ["created", "updated"]
    store = open_store(path)
    try:
        deployment = read_deployment(store, "pilot")
        expected = evaluate_store(store, [deployment_set(store, deployment)], hosts=names + ["nobody"])
        assert len(object_history(store, "deployment_template", "patch_tuesday")) == 1
    finally:
        store.close()
    result = expected.sets["deployment"]
    assert shown["compliance"]["evaluated"] == "hosts"
    assert shown["compliance"]["host_compliance"] == result.host_compliance
    assert shown["compliance"]["hosts"] == result.summary() and sum(result.summary().values()) == len(names) + 1
    everything = runner.result("info_all")["deployments"][0]
    assert "updates" not in everything and everything["update_count"] == 8
    assert everything["compliance"]["evaluated"] == "reported" and everything["compliance"]["host_compliance"] == {}


def test_refusals(runner, tmp_path):
    path, _names, _ids = make_store(tmp_path, hosts=2)
    base = {"store": path, "name": "x", "update_list": "security", "targets": ["pilot"]}
    cases = [
        ("unfrozen", "deployment", dict(base, update_list="drafts")),
        ("template", "deployment", dict(base, template="nope")),
        ("package", "deployment", dict(base, package="nope")),
        ("point", "deployment", dict(base, distribution_points=["dp-mars"])),
        ("deadline", "deployment", dict(base, available="2026-12-10", deadline="2026-12-09")),
        ("range", "deployment_template", {"store": path, "name": "wide", "deadline_randomization_minutes": 240}),
        ("runtime", "deployment_template", {"store": path, "name": "slow", "max_run_time_minutes": {"Updates": 2}}),
        ("missing", "deployment_info", {"store": path, "name": "ghost"}),
        ("no_store", "deployment", dict(base, store=str(tmp_path / "typo" / "store.db"))),
        ("no_store_template", "deployment_template", {"store": str(tmp_path / "typo" / "store.db"), "name": "t"}),
    ]
    tasks = "".join(task(name, module, args, name, "      ignore_errors: true\n") for name, module, args in cases)
    runner.play(tasks, extra_vars={"results_dir": str(runner.results)})
    expected = {
        "unfrozen": "deployment 'x': update list 'drafts' has no frozen version",
        "template": "deployment 'x': deployment template 'nope' does not exist",
        "package": "deployment 'x': deployment package 'nope' does not exist",
        "point": "deployment 'x': distribution point(s) 'dp-mars' do not exist",
        "deadline": "deployment 'x': the deadline 2026-12-09T00:00:00Z is not after the available time",
        "range": "deployment template 'wide': deadline_randomization_minutes: 240 minutes is out of range (0 to 120)",
        "runtime": "deployment template 'slow': max_run_time_minutes: classification 'Updates': 2 minutes is out of range",
        "missing": "deployment 'ghost' does not exist",
        "no_store": "store '%s' does not exist" % (tmp_path / "typo" / "store.db"),
        "no_store_template": "store '%s' does not exist" % (tmp_path / "typo" / "store.db"),
    }
    for name, text in expected.items():
        result = runner.result(name)
        assert result["failed"] and text in result["msg"], (name, result.get("msg"))
        assert "Traceback" not in result.get("exception", ""), name  # our message, not a crash
    assert not os.path.exists(str(tmp_path / "typo"))
    store = open_store(path)
    try:
        assert store.query("SELECT count(*) AS n FROM deployments")[0]["n"] == 0
        assert store.query("SELECT count(*) AS n FROM deployment_templates")[0]["n"] == 0
    finally:
        store.close()


def test_ansible_doc_renders(tmp_path):
    for module, option in (("deployment_template", "deadline_randomization_minutes"), ("deployment", "targets"),
                           ("deployment_info", "hosts")):
        done = subprocess.run([os.path.join(BIN, "ansible-doc"), "patchwave.windows." + module],
                              env=ansible_env(tmp_path), capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        assert option in done.stdout
