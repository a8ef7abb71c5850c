"""The role prepare_updates through its playbook: lists frozen, templates and deployments written on one
list version and one package, the summary printed, and a second run that changes nothing."""

import datetime
import json
import os
import re
import subprocess

from ansible_collections.patchwave.windows.plugins.module_utils._prepare.deployments import read_deployment
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_runs import BIN, REPO, ansible_env

from tests.compliance_data import Fleet, add_catalog
from tests.deployment_data import add_point


def month(store_path, package=""):
    return {
        "prepare_updates_store": store_path,
        "prepare_updates_templates": [{"name": "patch_tuesday", "deadline_offset": "+2d", "reboot": "never"}],
        "prepare_updates_lists": [
            {"name": "security", "classifications": ["Security Updates"], "severities": ["Critical", "Important"],
             "released_days_ago_min": 0, "required_min_hosts": 1},
            {"name": "everything", "classifications": ["Security Updates"]},
        ],
        "prepare_updates_deployments": [
            {"name": "pilot", "targets": ["pilot"], "template": "patch_tuesday"},
            {"name": "broad", "targets": ["broad", "pilot"], "template": "patch_tuesday", "available": "+7d"},
        ],
        "prepare_updates_start": "2026-12-08T18:00:00Z",
        "prepare_updates_package": package,
        "prepare_updates_distribution_points": ["dp-hq"],
    }


def run(tmp_path, extra_vars, check=False):
    inventory = tmp_path / "hosts.ini"
    names = ["win%04d" % n for n in range(12)]
    inventory.write_text("[pilot]\n%s\n[broad]\n%s\n" % ("\n".join(names[:3]), "\n".join(names[3:])))
    variables = tmp_path / "month.json"
    variables.write_text(json.dumps(extra_vars))
    done = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", str(inventory),
                           os.path.join(REPO, "playbooks", "prepare_updates.yml"), "-e", "@%s" % variables]
                          + (["--check"] if check else []),
                          env=ansible_env(tmp_path), capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    return done.stdout


def test_prepare_updates_role(tmp_path):
    store_path = str(tmp_path / "store.db")
    store = open_store(store_path)
    try:
        catalog = add_catalog(store, 30)
        Fleet(catalog, seed=2, now=datetime.datetime.now(datetime.timezone.utc)).generate(store, str(tmp_path / "spool"), 12)
        add_point(store, "dp-hq")
    finally:
        store.close()
    planned = run(tmp_path, month(store_path), check=True)
    assert "deployment pilot: not written in check mode" in planned and "update list security version 1 (new)" in planned
    store = open_store(store_path)
    try:
        assert [store.query("SELECT count(*) AS n FROM %s" % table)[0]["n"]
                for table in ("deployments", "deployment_templates", "update_lists")] == [0, 0, 0]
    finally:
        store.close()
    first = run(tmp_path, month(store_path))
    recap = re.search(r"localhost\s*: ok=(\d+)\s+changed=(\d+)", first)
    assert recap and int(recap.group(2)) >= 3, first[-3000:]
    listed = re.search(r"update list security version 1 \(new\): (\d+) updates, (\d+) added, 0 removed", first)
    assert listed and int(listed.group(1)) == int(listed.group(2)) > 0, first[-3000:]
    assert "deployment pilot: security version 1 to pilot, available 2026-12-08T18:00:00Z, deadline " \
           "2026-12-10T18:00:00Z: " in first
    assert re.search(r"deployment broad: security version 1 to broad, pilot, available 2026-12-15T18:00:00Z, "
                     r"deadline 2026-12-17T18:00:00Z: ([1-9]\d*) of 12 target hosts require its updates", first), first[-3000:]
    store = open_store(store_path)
    try:
        pilot, broad = read_deployment(store, "pilot"), read_deployment(store, "broad")
        assert (pilot["update_list"], pilot["list_version"]) == (broad["update_list"], broad["list_version"]) == \
            ("security", 1)
        assert pilot["settings"]["reboot"] == "never" and broad["distribution_points"] == ["dp-hq"]
    finally:
        store.close()
    second = run(tmp_path, month(store_path))
    assert re.search(r"localhost\s*: ok=\d+\s+changed=0\s", second), second[-3000:]
    assert "update list security version 1 (unchanged)" in second
    rechecked = run(tmp_path, month(store_path), check=True)
    assert "hosts requiring its updates are not read in check mode" in rechecked
    assert re.search(r"localhost\s*: ok=\d+\s+changed=0\s", rechecked), rechecked[-3000:]
