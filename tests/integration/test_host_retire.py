"""host_retire through ansible-playbook: check mode lists, a run retires, a second run changes nothing,
compliance_info and the inventory plugin leave retired hosts out, and mistakes are named."""

import datetime
import json
import os
import subprocess

from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_runs import BIN, ansible_env, save

from tests.compliance_data import Fleet, add_catalog

NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
DAY = datetime.timedelta(days=1)


def build(tmp_path):
    """web01 and web02 scanned yesterday, old01 and old02 sixty days ago (stale: Unknown)."""
    store = open_store(str(tmp_path / "store.db"))
    spool = str(tmp_path / "spool")
    try:
        fleet = Fleet(add_catalog(store, 20, versions=1), seed=8)
        for name, age in (("web01", DAY), ("web02", DAY), ("old01", 60 * DAY), ("old02", 60 * DAY)):
            fleet.add_scan(spool, name, NOW - age, 1, results={})
    finally:
        store.close()
    return str(tmp_path / "store.db")


def retire_task(name, store, options):
    return ("    - name: %s\n      patchwave.windows.host_retire:\n        store: %s\n%s      register: %s\n"
            % (name, store, "".join("        %s: %s\n" % (k, json.dumps(v)) for k, v in options.items()), name)
            + save(name, name))


def test_retire_check_run_again_and_readers(runner, tmp_path):
    store = build(tmp_path)
    results = {"results_dir": str(runner.results)}
    runner.play(retire_task("preview", store, {"not_seen_days": 45}), results, check=True, name="check")
    preview = runner.result("preview")
    assert preview["changed"] is True and [h["name"] for h in preview["hosts"]] == ["old01", "old02"]
    assert preview["hosts"][0]["retired_at"] is None and preview["retired"] == ["old01", "old02"]

    tasks = (retire_task("first", store, {"not_seen_days": 45, "hosts": ["web02", "web2"], "reason": "CHG0042"})
             + retire_task("again", store, {"not_seen_days": 45, "hosts": ["web02"]})
             + "    - name: info\n      patchwave.windows.compliance_info:\n        store: %s\n      register: info\n"
             % store + save("info", "info")
             + "    - name: named\n      patchwave.windows.compliance_info:\n        store: %s\n"
               "        hosts: [web01, old01]\n      register: named\n" % store + save("named", "named"))
    done = runner.play(tasks, results, name="run")
    first = runner.result("first")
    assert first["changed"] is True and [h["name"] for h in first["hosts"]] == ["old01", "old02", "web02"]
    assert first["unknown"] == ["web2"] and any("web2 is not known" in w for w in first["warnings"])
    assert first["hosts"][0]["retired_at"] is not None
    again = runner.result("again")
    assert again["changed"] is False and again["hosts"] == []
    info = runner.result("info")
    assert sorted(info["hosts"]) == ["web01"]
    assert info["update_sets"]["all"]["hosts"]["compliant"] == 1
    named = runner.result("named")
    assert named["hosts"]["old01"]["status"] == "never_scanned" and named["hosts"]["old01"]["compliance"] == "unknown"
    assert any("old01 was retired" in w and "CHG0042" in w for w in named["warnings"]), named.get("warnings")
    assert "web2 is not known to the store" in done.stderr  # warnings go to stderr

    # the inventory plugin leaves them out of its groups
    (tmp_path / "fleet.compliance.yml").write_text("plugin: patchwave.windows.compliance\nstore: %s\n"
                                                   "add_store_hosts: true\n" % store)
    listed = subprocess.run([os.path.join(BIN, "ansible-inventory"), "-i", str(tmp_path / "fleet.compliance.yml"),
                             "--list"], env=ansible_env(tmp_path), capture_output=True, text=True, timeout=300, check=True)
    inventory = json.loads(listed.stdout)
    assert set(inventory["_meta"]["hostvars"]) == {"web01"}

    # back by hand
    runner.play(retire_task("back", store, {"hosts": ["old01"], "state": "active"}), results, name="back")
    back = runner.result("back")
    assert back["changed"] is True and back["retired"] == ["old02", "web02"]


def test_retire_mistakes_are_named(runner, tmp_path):
    missing = str(tmp_path / "typo_dir" / "patchwave.db")
    done = runner.play(retire_task("nostore", missing, {"hosts": ["web01"]}), {"results_dir": str(runner.results)},
                       name="nostore", expect_rc=2)
    assert missing in done.stdout and "catalog_sync" in done.stdout
    assert not os.path.exists(os.path.dirname(missing))  # never created
    store = build(tmp_path)
    done = runner.play(retire_task("nothing", store, {}), {"results_dir": str(runner.results)}, name="nothing",
                       expect_rc=2)
    assert "give the hosts to retire in hosts, or not_seen_days" in done.stdout
    done = runner.play(retire_task("active_days", store, {"state": "active", "not_seen_days": 3}),
                       {"results_dir": str(runner.results)}, name="active_days", expect_rc=2)
    assert "not_seen_days only selects hosts to retire" in done.stdout
