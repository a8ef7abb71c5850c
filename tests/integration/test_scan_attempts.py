"""A failed connection is not a failed scan (issue 10 §2), against lab hosts through ansible-playbook.

Each host first gets a good scan. Then a wrong password, a host that is down, an offline scan file
that is not there (a local path the host checks, and a share path the search trips over) each leave
the host's compliance as it was, with the attempt shown by compliance_info and the inventory plugin;
a search the host did not complete makes its host Unknown. The next unforced run, inside the TTL,
scans every one of them again."""

import json
import os
import subprocess

from ansible_runs import BIN, ansible_env, save
from test_scan_playbooks import catalog, fresh_store, play, write_inventory  # noqa: F401  pylint: disable=unused-import

from tests.lab.hosts import wua_host
from tests.lab.profiles import FleetProfile
from tests.lab.wua import CatalogCache

SHARE = "\\\\fs01\\patchwave"


def compliance_info(runner, store, spool, hosts):
    tasks = ("    - name: info\n      patchwave.windows.compliance_info:\n        store: %s\n        spool: %s\n"
             "        hosts: %s\n        per_update: false\n      register: info\n"
             % (store, spool, json.dumps(hosts))) + save("info", "info")
    runner.play(tasks, extra_vars={"results_dir": str(runner.results)}, name="info")
    return runner.result("info")["hosts"]


def test_failed_attempts_keep_the_hosts_state(catalog, runner, tmp_path):  # noqa: F811 (fixture)
    store = fresh_store(catalog, tmp_path)
    spool = str(tmp_path / "spool")
    names = ["win%03d" % n for n in range(1, 7)]
    profile = FleetProfile(store, seed=21, search_seconds=(0.1, 0.1), cache=CatalogCache())
    with profile.fleet(6, auth="ntlm") as fleet:
        share = tmp_path / "share"
        share.mkdir()
        (share / "wsusscn2.cab").write_bytes(open(catalog["cab"], "rb").read())
        for host in fleet.hosts:
            wua_host(host.model).fs.mount(SHARE, str(share))
        good = write_inventory(fleet, tmp_path / "good.yml", {})
        first = play(tmp_path, good, store, spool, "        force: true\n")
        assert all(first[n]["changed"] for n in names), {n: first[n].get("msg") for n in names}
        before = compliance_info(runner, store, spool, names)
        assert all(before[n]["status"] == "usable" for n in names)
        assert all(before[n]["last_attempt"]["failed"] is False for n in names)

        fleet.host(2).go_down("refuse")
        fleet.host(5).backend.set_faults(search_hresult=0x8024402C)  # the host's search fails
        faulty = write_inventory(fleet, tmp_path / "faulty.yml", {
            "win001": {"ansible_password": "WrongPass"},
            "win003": {"lab_server_selection": "offline", "lab_offline_scan_file": "C:\\Patchwave\\wsusscn2.cab"},
            "win004": {"lab_server_selection": "offline", "lab_offline_scan_file": SHARE + "\\wsusscn2-typo.cab"}})
        failed = play(tmp_path, faulty, store, spool, "        force: true\n")
        assert failed["win001"].get("unreachable") and failed["win002"].get("unreachable")
        assert failed["win001"]["attempt"]["failure"] == "credentials", failed["win001"]
        assert failed["win002"]["attempt"]["failure"] == "unreachable", failed["win002"]
        assert failed["win003"]["failed"] and failed["win003"]["attempt"]["failure"] == "request"
        assert "does not exist" in failed["win003"]["msg"]
        assert failed["win004"]["failed"] and failed["win004"]["attempt"]["failure"] == "request"
        assert "wsusscn2-typo.cab was not found" in failed["win004"]["msg"]
        assert failed["win005"]["failed"] and failed["win005"]["attempt"]["failure"] == "scan_failed"
        assert failed["win006"]["changed"] and not failed["win006"].get("failed")

        after = compliance_info(runner, store, spool, names)
        for name, failure in (("win001", "credentials"), ("win002", "unreachable"), ("win003", "request"),
                              ("win004", "request")):
            assert after[name]["status"] == "usable", (name, after[name])
            assert after[name]["compliance"] == before[name]["compliance"], name
            assert after[name]["sets"]["all"]["counts"] == before[name]["sets"]["all"]["counts"], name
            assert after[name]["last_attempt"]["failed"] is True
            assert after[name]["last_attempt"]["failure"] == failure, (name, after[name]["last_attempt"])
        assert after["win005"]["status"] == "scan_failed" and after["win005"]["compliance"] == "unknown"
        assert after["win006"]["last_attempt"]["failed"] is False

        # the inventory plugin groups them
        (tmp_path / "fleet.compliance.yml").write_text(
            "plugin: patchwave.windows.compliance\nstore: %s\nspool: %s\n" % (store, spool))
        listed = subprocess.run([os.path.join(BIN, "ansible-inventory"), "-i", str(good), "-i",
                                 str(tmp_path / "fleet.compliance.yml"), "--list"],
                                env=ansible_env(tmp_path), capture_output=True, text=True, timeout=300, check=True)
        inventory = json.loads(listed.stdout)
        assert sorted(inventory["patchwave_last_attempt_failed"]["hosts"]) == names[:5]
        # texts from the store are marked unsafe (never templated)
        assert inventory["_meta"]["hostvars"]["win002"]["patchwave_last_attempt"]["failure"] == {
            "__ansible_unsafe": "unreachable"}

        # every host whose last attempt failed scans again, though its last good scan is fresh
        fleet.host(2).come_up()
        fleet.host(5).backend.set_faults(search_hresult=0)
        again = play(tmp_path, good, store, spool)  # unforced, inside the TTL
        for name in names[:5]:
            assert not again[name].get("skipped") and again[name]["changed"] is True, (name, again[name])
            assert again[name]["scan"]["result"] == "Succeeded", name
        assert again["win006"]["skipped"] is True

        # a request the action plugin refuses before reaching the host is an attempt too
        refused = play(tmp_path, good, store, spool, "        scan_ttl: 1w\n")
        assert all(refused[n]["failed"] and refused[n]["attempt"]["failure"] == "request" for n in names), refused
        after_refusal = compliance_info(runner, store, spool, names)
        for name in names:
            assert after_refusal[name]["status"] == "usable", (name, after_refusal[name])
            assert after_refusal[name]["last_attempt"]["failure"] == "request"
            assert "scan_ttl" in after_refusal[name]["last_attempt"]["reason"]
