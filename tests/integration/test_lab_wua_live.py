"""The lab's ``patchwave.windows.scan`` emulation over the real WinRM endpoint: the exec manifest
ansible-core 2.19 builds for the module, sent by plain pywinrm (start / poll / cancel rounds,
dropped connections, a host going down mid-scan), the command line with ``--store``, and the
``ansible`` command itself with the real ``plugins/modules/scan.ps1`` and its module utils."""

import json
import os
import subprocess
import sys
import time

import pytest
import requests
from ansible.executor.powershell import module_manifest
from ansible.plugins.shell.powershell import ShellModule
from ansible_runs import BIN, ansible_json_env
from winrm.protocol import Protocol

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from ansible_collections.patchwave.windows.plugins.module_utils._scan.contract import validate_result  # noqa: E402

from tests.catalog_gen.store import generated_store  # noqa: E402
from tests.lab import psexec  # noqa: E402
from tests.lab.profiles import FleetProfile  # noqa: E402
from tests.lab.wua import CatalogCache  # noqa: E402

SCAN_PS1 = os.path.join(REPO, "plugins", "modules", "scan.ps1")
SCAN_ACTION = os.path.join(REPO, "plugins", "action", "scan.py")
MODULE_FQN = "ansible_collections.patchwave.windows.plugins.modules.scan"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return generated_store(str(tmp_path_factory.mktemp("wua-live")), updates=400, seed=9)[0]


def bootstrap_parts():
    parts = ShellModule()._encode_script(module_manifest._get_powershell_script("bootstrap_wrapper.ps1"),
                                         as_list=True, strict_mode=False, preserve_rc=False)
    return parts[0], parts[1:]


def scan_stdin(args):
    """The stdin ansible-core builds for the module (its PowerShell source does not matter to the lab)."""
    return module_manifest._create_powershell_wrapper(
        name=MODULE_FQN, module_data=b"#!powershell\n#AnsibleRequires -CSharpUtil Ansible.Basic\n",
        module_path="scan.ps1", module_args=args, environment={}, async_timeout=0, become_plugin=None,
        substyle="powershell", task_vars={}, profile="legacy")


def run_scan(fleet, host, scan_id=None, wait_seconds=None, operation_timeout=5, **args):
    """One module run over WinRM (``scan_id`` and ``wait_seconds`` go into ``_operation_options``);
    returns (rc, result). Every result is checked against the contract."""
    if scan_id is not None:
        args["_operation_options"] = {"scan_id": scan_id}
        if wait_seconds is not None:
            args["_operation_options"]["wait_seconds"] = wait_seconds
    protocol = Protocol(**dict(fleet.protocol_kwargs(host), read_timeout_sec=operation_timeout + 5,
                               operation_timeout_sec=operation_timeout))
    shell_id = protocol.open_shell(codepage=65001)
    try:
        command, arguments = bootstrap_parts()
        command_id = protocol.run_command(shell_id, command, arguments, console_mode_stdin=False)
        protocol.send_command_input(shell_id, command_id, scan_stdin(args), end=True)
        stdout, stderr, rc = protocol.get_command_output(shell_id, command_id)
        protocol.cleanup_command(shell_id, command_id)
    finally:
        try:
            protocol.close_shell(shell_id)
        except Exception:  # the connection may be the thing under test
            pass
    result = json.loads(stdout)
    operation = result.get("operation")
    assert operation in ("start", "poll", "cancel"), result
    assert validate_result(operation, result) == [], result
    assert rc == (1 if result.get("failed") else 0), (rc, result, stderr)
    return rc, result


def poll_until_done(fleet, host, scan_id, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        rc, result = run_scan(fleet, host, _operation="poll", scan_id=scan_id)
        if result["state"] != "running":
            return result
        assert time.monotonic() < deadline, "scan %s still running after %ss" % (scan_id, timeout)
        time.sleep(0.2)


@pytest.mark.parametrize("auth", ["ntlm", "https"])
def test_scan_rounds_over_winrm(store, auth):
    profile = FleetProfile(store, seed=3, search_seconds=(0.5, 0.5), cache=CatalogCache())
    with profile.fleet(3, auth=auth) as fleet:
        for host in fleet.hosts:
            rc, start = run_scan(fleet, host, _operation="start", server_selection="default")
            assert start["worker"] == "scheduled_task"
            done = poll_until_done(fleet, host, start["scan_id"])
            assert done["state"] == "done" and done["scan"]["result_code"] == 2
            state = profile.host_state(host.index)
            expected = profile.snapshot.search(state)
            assert [u["update_id"] for u in done["scan"]["updates"]] == [r.update_id for r in expected.updates]
            assert done["scan"]["reboot_pending"] == state.reboot_pending
            rc, again = run_scan(fleet, host, _operation="poll", scan_id=start["scan_id"])
            assert again == done
            rc, cancel = run_scan(fleet, host, _operation="cancel", scan_id=start["scan_id"])
            assert cancel["cleaned"] is True
            assert host.backend.status()["scans"] == []


def test_long_poll_is_held_across_receive_timeouts(store):
    """A poll with wait_seconds is held on the host past WinRM's OperationTimeout (the client's Receive is
    answered with the timeout fault and asks again, as pywinrm and Ansible do) and answers when the search
    ends; with nothing left to wait for it answers 'running' once wait_seconds have passed."""
    profile = FleetProfile(store, seed=3, search_seconds=(3.0, 3.0), cache=CatalogCache())
    with profile.fleet(1, auth="basic", module_cost=0.3) as fleet:
        host = fleet.host(1)
        rc, start = run_scan(fleet, host, _operation="start")
        started = time.monotonic()
        rc, done = run_scan(fleet, host, _operation="poll", scan_id=start["scan_id"], wait_seconds=20,
                            operation_timeout=1)
        held = time.monotonic() - started
        assert done["state"] == "done" and 2.0 < held < 10, held
        host.backend.set_faults(search_seconds=600)
        rc, start = run_scan(fleet, host, _operation="start")
        started = time.monotonic()
        rc, running = run_scan(fleet, host, _operation="poll", scan_id=start["scan_id"], wait_seconds=3,
                               operation_timeout=1)
        held = time.monotonic() - started
        assert running["state"] == "running" and 3.3 <= held < 8, held  # wait_seconds + the module's start cost
        assert running["invocation"]["module_args"]["_operation_options"]["wait_seconds"] == 3


def test_scan_survives_dropped_connections_and_a_host_going_down(store):
    profile = FleetProfile(store, seed=3, search_seconds=(1.0, 1.0), cache=CatalogCache())
    with profile.fleet(2, auth="basic") as fleet:
        host = fleet.host(1)
        rc, start = run_scan(fleet, host, _operation="start")
        scan_id = start["scan_id"]

        host.go_down("refuse")  # the WinRM side goes away; the scheduled-task worker does not
        with pytest.raises(requests.exceptions.ConnectionError):
            run_scan(fleet, host, _operation="poll", scan_id=scan_id)
        time.sleep(1.1)
        host.come_up(reset_shells=True)
        done = poll_until_done(fleet, host, scan_id)
        assert done["state"] == "done"

        host.faults.drop_receive = 1  # the poll answer is lost; the next poll gets the same result
        with pytest.raises(requests.exceptions.ConnectionError):
            run_scan(fleet, host, _operation="poll", scan_id=scan_id)
        rc, again = run_scan(fleet, host, _operation="poll", scan_id=scan_id)
        assert again == done

        other = fleet.host(2)
        # start runs on the host, the client never hears of it. The client deletes its shell when the
        # connection fails, which ends a module still starting (as Windows ends the shell's processes):
        # this host's modules start at once, so the start has run by then.
        other.module_cost = 0
        other.faults.drop_after_send = 1
        with pytest.raises(requests.exceptions.ConnectionError):
            run_scan(fleet, other, _operation="start")
        deadline = time.monotonic() + 10  # the server may still be finishing the command it ran
        while len(other.backend.status()["scans"]) != 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(other.backend.status()["scans"]) == 1

        host.backend.set_faults(scheduled_task_blocked=True)
        rc, refused = run_scan(fleet, host, _operation="start")
        assert rc == 1 and refused["hresult"] == 0x80070005 and "Access is denied" in refused["msg"]
        rc, cancel = run_scan(fleet, host, _operation="cancel", scan_id=scan_id)
        assert cancel["cleaned"] is True


def test_cli_with_store(store, tmp_path):
    state_dir = tmp_path / "state"
    inventory = tmp_path / "hosts.yml"
    env = dict(os.environ, PYTHONPATH=REPO)

    def cli(*args):
        done = subprocess.run([sys.executable, "-m", "tests.lab"] + list(args) + ["--state-dir", str(state_dir)],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    cli("start", "--hosts", "2", "--inventory", str(inventory), "--auth", "basic", "--store", store,
        "--seed", "4", "--search-seconds", "0")
    try:
        state = json.loads((state_dir / "lab.json").read_text())
        protocol_kwargs = {"transport": "basic", "username": "Administrator", "password": "Lab-Passw0rd",
                           "ca_trust_path": None}

        class CliFleet:  # what run_scan needs of a fleet
            @staticmethod
            def protocol_kwargs(host):
                return dict(protocol_kwargs, endpoint="http://127.0.0.1:%d/wsman" % host["port"])

        host = state["hosts"][0]
        rc, start = run_scan(CliFleet, host, _operation="start")
        done = poll_until_done(CliFleet, host, start["scan_id"])
        assert done["state"] == "done" and done["scan"]["result_code"] == 2
        status = json.loads(cli("status"))
        wua = status["hosts"][0]["wua"]
        assert wua["last_scan"]["scan_id"] == start["scan_id"] and wua["scans"] == [start["scan_id"]]
        assert wua["platform"] == FleetProfile(store, seed=4, cache=CatalogCache()).host_state(1).platform.key

        reply = json.loads(cli("fault", "win001", "--search-hresult", "0x8024402C"))
        assert reply["wua"]["search_hresult"] == 0x8024402C
        rc, start = run_scan(CliFleet, host, _operation="start")
        failed = poll_until_done(CliFleet, host, start["scan_id"])
        assert (failed["scan"]["result_code"], failed["scan"]["hresult"]) == (4, 0x8024402C)
        cli("fault", "win001", "--search-hresult", "0", "--scheduled-task-blocked", "on")
        rc, refused = run_scan(CliFleet, host, _operation="start")
        assert rc == 1 and refused["hresult"] == 0x80070005
    finally:
        cli("stop")


# A stand-in for "ansible -m patchwave.windows.scan -a _operation=..." (plugins/action/scan.py takes
# that name): the same module run, the manifest built by ansible-core from the real
# plugins/modules/scan.ps1 and its module_utils, without the action plugin's rounds.
RAW_ACTION = """
from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        result.update(self._execute_module(module_name="patchwave.windows.scan", module_args=self._task.args,
                                           task_vars=task_vars))
        return result
"""


def adhoc(tmp_path, inventory, host, module, args, **env):
    """``ansible HOST -m MODULE -a ARGS``; returns the host's result."""
    done = subprocess.run([os.path.join(BIN, "ansible"), host, "-i", str(inventory), "-m", module, "-a", args],
                          env=ansible_json_env(tmp_path, **env), capture_output=True, text=True, timeout=120, check=False)
    try:
        output = json.loads(done.stdout)
    except ValueError:
        raise AssertionError("ansible output is not JSON (rc %d)\n%s\n%s" % (done.returncode, done.stdout[-3000:],
                                                                             done.stderr[-3000:]))
    return output["plays"][0]["tasks"][0]["hosts"][host]


def test_ansible_runs_the_module_against_the_lab(store, tmp_path):
    """start / poll / cancel with ansible itself, on 3 lab hosts: what scan.ps1 receives, the lab answers."""
    # scan.ps1 and the action plugin must both exist: a move that loses either fails here, never skips.
    assert os.path.isfile(SCAN_PS1) and os.path.isfile(SCAN_ACTION), (SCAN_PS1, SCAN_ACTION)
    (tmp_path / "action_plugins").mkdir()
    (tmp_path / "action_plugins" / "lab_raw_scan.py").write_text(RAW_ACTION)
    module, env = "lab_raw_scan", {"ANSIBLE_ACTION_PLUGINS": str(tmp_path / "action_plugins")}
    profile = FleetProfile(store, seed=5, search_seconds=(0.5, 0.5), cache=CatalogCache())
    with profile.fleet(3, auth="ntlm") as fleet:
        requests_seen = []
        for host in fleet.hosts:
            host.recorder = lambda line, stdin, seen=requests_seen: seen.append(stdin)
        inventory = fleet.write_inventory(tmp_path / "hosts.yml")
        for host in fleet.hosts:
            start = adhoc(tmp_path, inventory, host.name, module, "_operation=start server_selection=default", **env)
            assert not start.get("failed"), start
            assert validate_result("start", start) == [], start
            deadline = time.monotonic() + 60
            while True:
                poll = adhoc(tmp_path, inventory, host.name, module,
                             '{"_operation": "poll", "_operation_options": {"scan_id": "%s"}}' % start["scan_id"], **env)
                assert validate_result("poll", poll) == [], poll
                if poll["state"] != "running":
                    break
                assert time.monotonic() < deadline
            assert poll["state"] == "done" and poll["scan"]["result_code"] == 2
            expected = profile.snapshot.search(profile.host_state(host.index))
            assert [u["update_id"] for u in poll["scan"]["updates"]] == [r.update_id for r in expected.updates]
            cancel = adhoc(tmp_path, inventory, host.name, module,
                           '{"_operation": "cancel", "_operation_options": {"scan_id": "%s"}}' % start["scan_id"], **env)
            assert validate_result("cancel", cancel) == [] and cancel["cleaned"] is True
    # The manifest carried the real module and its module_utils.
    request = psexec.decode_bootstrap_input(requests_seen[0])
    assert request.module_fqcn == "patchwave.windows.scan"
    scripts = request.manifest.get("scripts") or {}
    # Both PowerShell utils resolved by ansible-core's own manifest builder: the scan's, and the host
    # worker runner it requires from another subpackage (#AnsibleRequires in scan.ps1 and in the util).
    prefix = "ansible_collections.patchwave.windows.plugins.module_utils."
    utils = (request.payload.get("params") or {}).get("PowerShellModules") or []
    for util in ("_scan.PatchwaveWua.psm1", "_host.PatchwaveTask.psm1"):
        assert prefix + util in scripts, sorted(scripts)
        assert prefix + util in utils, utils
        with open(os.path.join(REPO, "plugins", "module_utils", *util.split(".")[:-1]) + ".psm1", "rb") as handle:
            shipped = handle.read().decode("utf-8-sig")
        assert request.script_source(prefix + util) == shipped
    source = request.script_source(request.module_script)
    assert source and "$spec = @{" in source


def test_scan_action_plugin_against_the_lab(store, tmp_path):
    """The collection's own action plugin drives the emulated host module and records the scans."""
    assert os.path.isfile(SCAN_PS1) and os.path.isfile(SCAN_ACTION), (SCAN_PS1, SCAN_ACTION)
    work_store = str(tmp_path / "store.db")
    with open(store, "rb") as source, open(work_store, "wb") as target:
        target.write(source.read())
    profile = FleetProfile(work_store, seed=6, search_seconds=(0.3, 0.3), cache=CatalogCache())
    with profile.fleet(3, auth="basic") as fleet:
        fleet.host(3).backend.set_faults(search_hresult=0x8024402C)
        fleet.host(2).backend.set_faults(s4u_blocked=True)  # start warns, as Ansible.Basic prints a Warn()
        inventory = fleet.write_inventory(tmp_path / "hosts.yml")
        playbook = tmp_path / "scan.yml"
        playbook.write_text(
            "- hosts: windows\n  gather_facts: false\n  tasks:\n"
            "    - name: scan\n      patchwave.windows.scan:\n        force: true\n        poll_interval: 0.2\n"
            "        store: %s\n      ignore_errors: true\n" % work_store)
        done = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", str(inventory), str(playbook)],
                              env=ansible_json_env(tmp_path), capture_output=True, text=True, timeout=300, check=False)
        try:
            results = json.loads(done.stdout)["plays"][0]["tasks"][0]["hosts"]
        except (ValueError, KeyError, IndexError):
            raise AssertionError("ansible-playbook rc %d\n%s\n%s" % (done.returncode, done.stdout[-4000:],
                                                                     done.stderr[-4000:]))
        # The host module's warning reaches the task result once, through the action plugin's rounds.
        (warning,) = results["win002"]["warnings"]
        assert "(S4U)" in warning and "runs as SYSTEM" in warning
        assert not results["win001"].get("warnings")
        for host in fleet.hosts[:2]:
            result = results[host.name]
            assert not result.get("failed"), result
            expected = profile.snapshot.search(profile.host_state(host.index))
            assert result["scan"]["update_count"] == len(expected.updates)
            assert host.backend.status()["scans"] == []  # the action plugin acknowledged (cancel)
        failed = results["win003"]
        assert failed["failed"] is True and failed["scan"]["hresult"] == "0x8024402C"
        assert failed["scan"]["hresult_name"] == "WU_E_PT_WINHTTP_NAME_NOT_RESOLVED"
