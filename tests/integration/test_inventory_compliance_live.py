"""The compliance inventory plugin through the real ``ansible-inventory`` and ``ansible-doc``, with
inventory files as users write them: option definitions, doc fragments, the jsonfile cache, an
INI inventory before it, and errors as ansible-inventory shows them.

Staleness is measured against the real time of the run, while the generated scans are relative to
``compliance_data.NOW``; the files here turn the staleness policy off (``stale_after_days: 0``) and
compare with ``evaluate_store`` under the same policy.
"""

import json
import os
import re
import subprocess
import textwrap

import pytest
import yaml
from ansible_collections.patchwave.windows.plugins.module_utils._compliance import rules as c
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.groups import pending_reboot
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.reads import evaluate_store
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.update_sets import (
    all_updates,
    parse_update_sets,
)
from ansible_collections.patchwave.windows.plugins.module_utils._scan.ingest import ingest
from ansible_collections.patchwave.windows.plugins.module_utils._scan.spool import write_message

from tests.compliance_data import fleet_in_store
from ansible_runs import BIN, REPO, ansible_env

SETS = [{"name": "critical", "severities": ["Critical"]}]


@pytest.fixture
def fleet_store(tmp_path):
    """A SQLite store with 40 generated hosts and one whose scan error is a template."""
    address = str(tmp_path / "store" / "patchwave.db")
    spool = str(tmp_path / "store" / "spool")
    with fleet_in_store(address, spool, updates=60, hosts=40, seeds=(3, 4)) as (store, _fleet, _hosts, _counts):
        write_message(spool, "evil", "scan_failure", {"error": "{{ 7*7 }}", "hresult": None,
                                                      "server_selection": "default"}, catalog_version=3)
        ingest(store, spool)
        evaluation = evaluate_store(store, [all_updates()] + parse_update_sets(SETS), stale_after_days=0)
    return address, spool, evaluation


def write_config(tmp_path, address, spool, body="", name="fleet.compliance.yml"):
    path = tmp_path / name
    path.write_text("plugin: patchwave.windows.compliance\nstore: %s\nspool: %s\nstale_after_days: 0\n%s"
                    % (address, spool, body))
    return str(path)


def inventory(tmp_path, *sources, args=("--list",), expect_rc=0, **env):
    command = [os.path.join(BIN, "ansible-inventory")]
    for source in sources:
        command += ["-i", source]
    done = subprocess.run(command + list(args), env=ansible_env(tmp_path, **env), capture_output=True, text=True,
                          timeout=300, check=False)
    if done.returncode != expect_rc:
        raise AssertionError("ansible-inventory exited %d\n%s\n%s" % (done.returncode, done.stdout[-4000:],
                                                                      done.stderr[-4000:]))
    return done


def plain(value):
    """``--list`` JSON without the ``__ansible_unsafe`` markers ansible-inventory puts on untrusted text."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def members(listing):
    """{group: sorted hosts} from ``ansible-inventory --list`` JSON (direct members only)."""
    return {g: sorted(v.get("hosts", [])) for g, v in listing.items() if g != "_meta"}


def test_list_groups_and_variables_match_the_evaluation(tmp_path, fleet_store):
    address, spool, evaluation = fleet_store
    config = write_config(tmp_path, address, spool,
                          "update_sets:\n  - name: critical\n    severities: [Critical]\nkb_groups: true\n"
                          "severity_groups: true\n")
    listing = json.loads(inventory(tmp_path, config).stdout)
    groups = members(listing)
    hostvars = plain(listing["_meta"]["hostvars"])
    assert sorted(hostvars) == sorted(evaluation.hosts)
    overall = evaluation.sets["all"]
    for state in c.COMPLIANCE:
        assert groups.get("patchwave_" + state, []) == sorted(h for h, v in overall.host_compliance.items() if v == state)
        assert groups.get("patchwave_critical_" + state, []) == sorted(
            h for h, v in evaluation.sets["critical"].host_compliance.items() if v == state)
    assert groups["patchwave_non_compliant"] and groups["patchwave_unknown"]
    assert "evil" in groups["patchwave_unknown"]
    assert groups.get("patchwave_never_scanned", []) == []  # every host the store knows has a scan
    kbs = {overall.updates[u]["kb"] for req in overall.host_required.values() for u, _d in req}
    assert sorted(g for g in groups if g.startswith("patchwave_kb_")) == sorted("patchwave_kb_" + kb for kb in kbs)
    severities = {(overall.updates[u]["msrc_severity"] or "Unspecified").lower()
                  for req in overall.host_required.values() for u, _d in req}
    assert len(severities) > 1
    assert sorted(g for g in groups if g.startswith("patchwave_severity_")) == sorted(
        "patchwave_severity_" + s for s in severities)
    for host, status in evaluation.hosts.items():
        got = hostvars[host]
        assert got["patchwave_compliance"] == overall.host_compliance[host]
        assert got["patchwave_counts"] == overall.host_counts[host]
        assert got["patchwave_last_scan"]["status"] == status.status
        assert got["patchwave_set_compliance"] == {"critical": evaluation.sets["critical"].host_compliance[host]}
    graph = inventory(tmp_path, config, args=("--graph",)).stdout
    assert "@patchwave_non_compliant:" in graph and "@patchwave_critical_unknown:" in graph


def test_store_text_is_not_templated_in_composed_variables(tmp_path, fleet_store):
    address, spool, evaluation = fleet_store
    config = write_config(tmp_path, address, spool,
                          "compose:\n  scan_error: patchwave_last_scan.error\n  missing: patchwave_counts.required\n"
                          "keyed_groups:\n  - key: patchwave_last_scan.status\n    prefix: scan\n"
                          "groups:\n  failed_scans: patchwave_last_scan.status == 'scan_failed'\n")
    listing = json.loads(inventory(tmp_path, config).stdout)
    evil = listing["_meta"]["hostvars"]["evil"]
    # marked unsafe in the output too, so a consumer of this JSON does not template it either
    assert evil["scan_error"] == {"__ansible_unsafe": "{{ 7*7 }}"}
    assert evil["patchwave_last_scan"]["error"] == {"__ansible_unsafe": "{{ 7*7 }}"}
    groups = members(listing)
    assert "evil" in groups["failed_scans"] and "evil" in groups["scan_scan_failed"]
    assert groups["scan_usable"] == sorted(h for h, s in evaluation.hosts.items() if s.usable)
    # the same through a play: the variable is printed, never evaluated
    playbook = tmp_path / "show.yml"
    playbook.write_text("- hosts: evil\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug:\n"
                        "        msg: \"[{{ scan_error }}]\"\n")
    done = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", config, str(playbook), "-c", "local"],
                          env=ansible_env(tmp_path), capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[{{ 7*7 }}]" in done.stdout and "[49]" not in done.stdout


def test_beside_an_ini_inventory(tmp_path, fleet_store):
    address, spool, evaluation = fleet_store
    scanned = sorted(h for h, s in evaluation.hosts.items() if s.status == c.USABLE)
    ini = tmp_path / "hosts.ini"
    ini.write_text("[windows]\n%s ansible_host=10.0.0.1\n%s\n\n[linux]\nlinux-box\n" % (scanned[0], scanned[1]))
    only = write_config(tmp_path, address, spool, "add_store_hosts: false\n", name="mine.compliance.yml")
    listing = json.loads(inventory(tmp_path, str(ini), only).stdout)
    groups = members(listing)
    assert sorted(listing["_meta"]["hostvars"]) == sorted([scanned[0], scanned[1], "linux-box"])
    assert groups["patchwave_never_scanned"] == ["linux-box"]
    assert groups["windows"] == sorted(scanned[:2])
    assert plain(listing["_meta"]["hostvars"][scanned[0]]["ansible_host"]) == "10.0.0.1"
    compliance_of = {h: evaluation.sets["all"].host_compliance[h] for h in scanned[:2]}
    for host, state in compliance_of.items():
        assert host in groups["patchwave_" + state]
    every = write_config(tmp_path, address, spool, name="all.compliance.yml")
    listing = json.loads(inventory(tmp_path, str(ini), every).stdout)
    assert set(listing["_meta"]["hostvars"]) == set(evaluation.hosts) | {"linux-box"}
    assert "linux-box" in members(listing)["patchwave_never_scanned"]


def test_jsonfile_cache_answers_without_the_store(tmp_path, fleet_store):
    address, spool, _evaluation = fleet_store
    cache_dir = tmp_path / "cache"
    config = write_config(tmp_path, address, spool,
                          "cache: true\ncache_plugin: ansible.builtin.jsonfile\ncache_connection: %s\n"
                          "cache_timeout: 600\nupdate_sets:\n  - name: picked\n    kbs: [KB5000003, '5000004']\n"
                          % cache_dir)
    first = json.loads(inventory(tmp_path, config).stdout)
    assert os.listdir(str(cache_dir))
    os.unlink(address)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(address + suffix):
            os.unlink(address + suffix)
    second = json.loads(inventory(tmp_path, config).stdout)
    assert second == first and "patchwave_picked_compliant" in second
    # --flush-cache goes to the store, which is gone now: the error names it
    done = inventory(tmp_path, config, args=("--list", "--flush-cache"), expect_rc=1,
                     ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED="1")
    assert address in done.stderr and "does not exist" in done.stderr


def test_a_bad_update_set_is_an_error_naming_the_set_and_the_file(tmp_path, fleet_store):
    address, spool, _evaluation = fleet_store
    config = write_config(tmp_path, address, spool, "update_sets:\n  - name: tuesday\n    severities: [Huge]\n")
    done = inventory(tmp_path, config, expect_rc=1, ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED="1")
    text = " ".join(done.stderr.split())
    assert "update set 'tuesday'" in text and config in text


def test_files_not_named_compliance_yml_are_left_to_other_plugins(tmp_path, fleet_store):
    address, spool, _evaluation = fleet_store
    config = write_config(tmp_path, address, spool, name="fleet.yml")
    done = inventory(tmp_path, config)
    assert json.loads(done.stdout)["_meta"]["hostvars"] == {}


def test_ansible_doc_renders_the_plugin_documentation(tmp_path):
    done = subprocess.run([os.path.join(BIN, "ansible-doc"), "-t", "inventory", "patchwave.windows.compliance"],
                          env=ansible_env(tmp_path), capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    for option in ("store", "spool", "update_sets", "stale_after_days", "group_prefix", "group_names", "kb_groups",
                   "severity_groups", "add_store_hosts", "compose", "keyed_groups", "cache_plugin"):
        assert option in done.stdout, option
    assert "PATCHWAVE_STORE" in done.stdout and "PATCHWAVE_SPOOL" in done.stdout


def test_every_loaded_host_has_patchwave_compliance_loaded(tmp_path, fleet_store):
    address, spool, evaluation = fleet_store
    ini = tmp_path / "hosts.ini"
    ini.write_text("[windows]\nnew-host\n\n[linux]\nlinux-box\n")
    config = write_config(tmp_path, address, spool)
    hostvars = json.loads(inventory(tmp_path, str(ini), config).stdout)["_meta"]["hostvars"]
    assert set(hostvars) == set(evaluation.hosts) | {"new-host", "linux-box"}
    assert all(variables["patchwave_compliance_loaded"] is True for variables in hostvars.values())
    # a config that does not parse loads nothing: the hosts of hosts.ini are there without the variable
    broken = write_config(tmp_path, address, spool, "update_sets:\n  - name: s\n    classifications: [Security Update]\n",
                          name="broken.compliance.yml")
    hostvars = json.loads(inventory(tmp_path, str(ini), broken).stdout)["_meta"]["hostvars"]
    assert set(hostvars) <= {"new-host", "linux-box"}
    assert not any("patchwave_compliance_loaded" in variables for variables in hostvars.values())


def documented_playbooks():
    """(file, YAML) of every playbook README.md and docs/inventory.md show as ``# patch.yml``."""
    found = []
    for name in ("README.md", os.path.join("docs", "inventory.md")):
        with open(os.path.join(REPO, name), encoding="utf-8") as handle:
            text = handle.read()
        for match in re.finditer(r"^( *)```yaml\n(.*?)^\1```", text, re.S | re.M):
            body = textwrap.dedent(match.group(2))
            if body.startswith("# patch.yml"):
                found.append((name, body))
    return found


def test_documented_playbooks_stop_when_the_compliance_inventory_did_not_load(tmp_path, fleet_store):
    """Issue 10, section 6: with a misspelled classification the play against the compliance groups
    matched no host and the run exited 0. The documented playbooks assert patchwave_compliance_loaded
    first: they fail then, and run as before when the inventory loads."""
    playbooks = documented_playbooks()
    assert sorted(name for name, _body in playbooks) == ["README.md", "docs/inventory.md", "docs/inventory.md"]
    address, spool, evaluation = fleet_store
    critical = evaluation.sets["critical"]
    windows = sorted(h for h, s in evaluation.hosts.items() if critical.host_compliance[h] == c.NON_COMPLIANT
                     and not pending_reboot(s, evaluation.sets["all"].host_required.get(h, ())))[:3]
    assert len(windows) == 3
    ini = tmp_path / "hosts.ini"
    ini.write_text("[windows]\n%s\n" % "\n".join(windows))
    sets = "update_sets:\n  - name: security\n    classifications: [%s]\n  - name: critical\n    severities: [Critical]\n"
    good = write_config(tmp_path, address, spool, sets % "Security Updates", name="good.compliance.yml")
    broken = write_config(tmp_path, address, spool, sets % "Security Update", name="broken.compliance.yml")
    for index, (name, body) in enumerate(playbooks):
        plays = yaml.safe_load(body)
        assert plays[0]["hosts"] == "localhost" and "patchwave_compliance_loaded" in plays[0]["tasks"][0][
            "ansible.builtin.assert"]["that"], name
        assert all(play["hosts"].startswith("patchwave_") for play in plays[1:]), name
        playbook = tmp_path / ("patch%d.yml" % index)
        playbook.write_text(body)

        done = play(tmp_path, playbook, str(ini), good)
        assert done.returncode == 0, (name, done.stdout[-3000:])
        for host in windows:
            assert re.search(r'"msg": "%s misses \d' % host, done.stdout), (name, host)

        done = play(tmp_path, playbook, str(ini), broken)
        assert done.returncode != 0, (name, done.stdout[-3000:])
        assert "has no compliance: the compliance inventory was not loaded" in done.stdout, name
        assert " misses " not in done.stdout, name

        done = play(tmp_path, playbook, str(ini), broken, ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED="true")
        assert done.returncode != 0 and "PLAY [" not in done.stdout, name
        assert "Security Update" in " ".join(done.stderr.split()), name


def play(tmp_path, playbook, *sources, **env):
    command = [os.path.join(BIN, "ansible-playbook")]
    for source in sources:
        command += ["-i", source]
    return subprocess.run(command + [str(playbook)], env=ansible_env(tmp_path, **env), capture_output=True, text=True,
                          timeout=300, check=False)
