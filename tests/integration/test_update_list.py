"""update_list and update_list_info through ansible-playbook: create and freeze, a second run unchanged,
check mode, diff, a typo'd product, the info module's output, and compliance_info measuring a stored list."""

import datetime
import json

from ansible_runs import save

from tests.compliance_data import fleet_in_store


def build(tmp_path):
    """The store at ``tmp_path/store.db``: 60 updates, 20 generated hosts scanned before now."""
    with fleet_in_store(str(tmp_path / "store.db"), str(tmp_path / "spool"), updates=60, hosts=20, seeds=(3, 4),
                        now=datetime.datetime.now(datetime.timezone.utc)) as (_store, fleet, names, _counts):
        return fleet.catalog, names


def task(name, module, args, register, extra=""):
    return ("    - name: %s\n      %s: %s\n      register: %s\n%s" % (name, module, json.dumps(args), register, extra)
            + save(register, register))


MONTH = {"name": "month", "description": "Critical updates required somewhere", "severities": ["Critical"],
         "required_min_hosts": 1, "freeze": True}


def test_create_freeze_rerun_check_mode_diff_and_info(runner, tmp_path):
    catalog, names = build(tmp_path)
    store = str(tmp_path / "store.db")
    month = dict(MONTH, store=store)
    static = {"name": "hotfixes", "store": store, "updates": ["KB5000010", "KB5000011"],
              "max_run_time_minutes": {"KB5000011": 120}, "freeze": True}
    tasks = (task("create and freeze", "patchwave.windows.update_list", month, "first", "      diff: true\n")
             + task("again", "patchwave.windows.update_list", month, "second")
             + task("again from the stored definition", "patchwave.windows.update_list",
                    {"name": "month", "store": store, "freeze": True}, "stored")
             + task("static, check mode", "patchwave.windows.update_list", static, "planned",
                    "      check_mode: true\n      diff: true\n")
             + task("static", "patchwave.windows.update_list", static, "hotfixes")
             + task("static, another KB in check mode", "patchwave.windows.update_list",
                    dict(static, updates=["KB5000010", "KB5000012"]), "changing", "      check_mode: true\n")
             + task("every list", "patchwave.windows.update_list_info", {"store": store}, "all")
             + task("one version", "patchwave.windows.update_list_info", {"store": store, "name": "month"}, "one")
             + task("compliance of the stored list", "patchwave.windows.compliance_info",
                    {"store": store, "update_sets": [{"name": "security", "update_list": "month"}],
                     "per_update": True}, "compliance"))
    runner.play(tasks, extra_vars={"results_dir": str(runner.results)})
    first, second = runner.result("first"), runner.result("second")
    assert first["changed"] is True and first["frozen"] is True and first["version"] == 1
    assert first["catalog_version"] == 3 and len(first["content_hash"]) == 64
    assert first["updates"] and all(u["severity"] == "Critical" and u["max_run_time_minutes"] == 60
                                    for u in first["updates"])
    assert {a["update_id"] for a in first["added"]} == {u["update_id"] for u in first["updates"]}
    assert first["diff"]["before"] == {} and len(first["diff"]["after"]["updates"]) == len(first["updates"])
    assert second["changed"] is False and second["frozen"] is False and second["version"] == 1
    assert second["added"] == [] and second["removed"] == [] and second["content_hash"] == first["content_hash"]

    stored = runner.result("stored")
    assert stored["changed"] is False and stored["version"] == 1 and stored["content_hash"] == first["content_hash"]

    planned, hotfixes = runner.result("planned"), runner.result("hotfixes")
    assert planned["changed"] is True and planned["frozen"] is True and planned["version"] == 1
    assert planned["diff"]["after"]["updates"] == sorted(planned["diff"]["after"]["updates"])
    assert hotfixes["changed"] is True and hotfixes["version"] == 1  # check mode wrote nothing before it
    run_times = {u["kb"]: u["max_run_time_minutes"] for u in hotfixes["updates"]}
    assert run_times == {"5000010": 60, "5000011": 120}
    changing = runner.result("changing")
    assert changing["changed"] is True and changing["version"] == 2
    assert [a["kb"] for a in changing["added"]] == ["5000012"]
    assert [(r["kb"], r["reason"]) for r in changing["removed"]] == [("5000011", "not_selected")]

    every = runner.result("all")
    assert [entry["name"] for entry in every["lists"]] == ["hotfixes", "month"]
    assert [v["version"] for v in every["lists"][0]["versions"]] == [1] and every["list_version"] is None
    one = runner.result("one")
    shown = one["list_version"]
    assert shown["version"] == 1 and shown["name"] == "month"
    assert {u["update_id"] for u in shown["updates"]} == {u["update_id"] for u in first["updates"]}
    assert all(u["hosts"]["required"] >= 1 for u in shown["updates"])  # required_min_hosts: 1
    assert 0 < sum(shown["hosts"].values()) <= len(names)  # the store's hosts: the never-scanned are not in it
    ranked = [u["hosts"]["required"] for u in shown["updates"]]
    assert ranked == sorted(ranked, reverse=True)

    compliance = runner.result("compliance")["update_sets"]["security"]
    assert compliance["update_count"] == len(first["updates"]) and compliance["hosts"] == shown["hosts"]
    assert {u["update_id"]: u["hosts"] for u in compliance["updates"]} == {u["update_id"]: u["hosts"]
                                                                           for u in shown["updates"]}


def test_errors_name_the_list_and_the_cause(runner, tmp_path):
    build(tmp_path)
    store = str(tmp_path / "store.db")
    tasks = (task("a typo'd product", "patchwave.windows.update_list",
                  {"name": "month", "store": store, "products": ["Windows Server 2091"]}, "typo",
                  "      ignore_errors: true\n")
             + task("too many", "patchwave.windows.update_list",
                    {"name": "wide", "store": store, "title": "Update", "max_updates": 3}, "wide",
                    "      ignore_errors: true\n")
             + task("a run time out of range", "patchwave.windows.update_list",
                    {"name": "l", "store": store, "updates": ["KB5000001"], "max_run_time_minutes": {"KB5000001": 3}},
                    "range", "      ignore_errors: true\n")
             + task("a set naming a list that does not exist", "patchwave.windows.compliance_info",
                    {"store": store, "update_sets": [{"name": "security", "update_list": "nope"}]}, "noset",
                    "      ignore_errors: true\n")
             + task("a set mixing a list and filter keys", "patchwave.windows.compliance_info",
                    {"store": store, "update_sets": [{"name": "security", "update_list": "month",
                                                      "severities": ["Critical"]}]}, "mixed",
                    "      ignore_errors: true\n")
             + task("a store that does not exist", "patchwave.windows.update_list",
                    {"name": "l", "store": str(tmp_path / "missing" / "store.db"), "updates": ["KB5000001"]},
                    "nostore", "      ignore_errors: true\n"))
    runner.play(tasks, extra_vars={"results_dir": str(runner.results)})
    typo = runner.result("typo")
    assert typo["failed"] and "update list 'month'" in typo["msg"] and "'Windows Server 2019'" in typo["msg"]
    wide = runner.result("wide")
    assert wide["failed"] and "update list 'wide'" in wide["msg"] and "more than max_updates (3" in wide["msg"]
    assert "out of range (5 to 9999" in runner.result("range")["msg"]
    assert "update set 'security': update list 'nope' does not exist" in runner.result("noset")["msg"]
    assert "filter keys cannot narrow it (severities)" in runner.result("mixed")["msg"]
    nostore = runner.result("nostore")
    assert nostore["failed"] and "does not exist" in nostore["msg"]
    assert not (tmp_path / "missing").exists()
