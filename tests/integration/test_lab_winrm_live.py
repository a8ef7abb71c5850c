"""The lab's WinRM endpoint against unmodified clients: plain pywinrm, and ansible-playbook with the
``winrm`` connection (ansible-core 2.19 + the ``ansible.windows`` collection), for each auth mode."""

import base64
import json
import os
import subprocess
import sys
import threading
import time

import pytest
import requests
import winrm
import winrm.exceptions
from ansible.executor.powershell import module_manifest
from ansible.plugins.shell.powershell import ShellModule
from ansible_runs import BIN, ansible_json_env
from winrm.protocol import Protocol

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from tests.lab import Fleet, psexec  # noqa: E402

MODES = ["basic", "ntlm", "https"]


def play(tmp_path, inventory, tasks, gather_facts=False, forks=5, expect_rc=None):
    """Run a playbook on group ``windows``; returns ``(rc, {task name: {host: result}}, stats)``."""
    playbook = tmp_path / "play.yml"
    playbook.write_text("- hosts: windows\n  gather_facts: %s\n  tasks:\n%s" % (str(gather_facts).lower(), tasks))
    done = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", str(inventory), "-f", str(forks),
                           str(playbook)], env=ansible_json_env(tmp_path), capture_output=True, text=True, timeout=300,
                          check=False)
    try:
        output = json.loads(done.stdout)
    except ValueError:
        raise AssertionError("ansible-playbook output is not JSON (rc %d)\n%s\n%s"
                             % (done.returncode, done.stdout[-4000:], done.stderr[-4000:]))
    results = {}
    for task in output["plays"][0]["tasks"]:
        results[task["task"]["name"]] = task["hosts"]
    if expect_rc is not None and done.returncode != expect_rc:
        raise AssertionError("ansible-playbook exited %d, expected %d\n%s\n%s"
                             % (done.returncode, expect_rc, json.dumps(results, indent=1)[-4000:], done.stderr[-3000:]))
    return done.returncode, results, output["stats"]


def bootstrap_parts():
    parts = ShellModule()._encode_script(module_manifest._get_powershell_script("bootstrap_wrapper.ps1"),
                                         as_list=True, strict_mode=False, preserve_rc=False)
    return parts[0], parts[1:]


def win_ping_stdin(args):
    """The stdin ansible-core builds for ansible.windows.win_ping (module source irrelevant to the lab)."""
    return module_manifest._create_powershell_wrapper(
        name="ansible_collections.ansible.windows.plugins.modules.win_ping",
        module_data=b"#!powershell\n#AnsibleRequires -CSharpUtil Ansible.Basic\n", module_path="win_ping.ps1",
        module_args=args, environment={}, async_timeout=0, become_plugin=None, substyle="powershell",
        task_vars={}, profile="legacy")


# plain pywinrm -----------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=MODES)
def fleet(request):
    with Fleet(3, auth=request.param) as lab:
        yield lab


def test_pywinrm_protocol_operations(fleet):
    host = fleet.host(1)
    protocol = Protocol(**fleet.protocol_kwargs(host))
    shell_id = protocol.open_shell(codepage=65001)
    command, arguments = bootstrap_parts()
    command_id = protocol.run_command(shell_id, command, arguments, console_mode_stdin=False)
    protocol.send_command_input(shell_id, command_id, win_ping_stdin({"data": "lab"}), end=True)
    stdout, stderr, rc = protocol.get_command_output(shell_id, command_id)
    assert (rc, stderr) == (0, b"")
    assert json.loads(stdout) == {"changed": False, "ping": "lab", "invocation": {"module_args": {"data": "lab"}}}
    protocol.cleanup_command(shell_id, command_id)

    command_id = protocol.run_command(shell_id, "ipconfig", ["/all"])
    stdout, stderr, rc = protocol.get_command_output(shell_id, command_id)
    assert rc == 1 and b"the command 'ipconfig /all' is not emulated by the lab" in stderr
    protocol.cleanup_command(shell_id, command_id)
    protocol.close_shell(shell_id)
    assert host.shells.shell_count == 0

    encrypted = protocol.transport.encryption is not None
    assert encrypted == (fleet.auth_mode == "ntlm")  # HTTP NTLM encrypts; HTTPS and Basic do not
    assert (host.stats["encrypted"] > 0) == encrypted
    assert host.stats["auth_ntlm" if fleet.auth_mode != "basic" else "auth_basic"] >= 1


def test_pywinrm_run_ps_is_not_emulated(fleet):
    kwargs = fleet.protocol_kwargs(2)
    session = winrm.Session(kwargs.pop("endpoint"), auth=(kwargs.pop("username"), kwargs.pop("password")), **kwargs)
    result = session.run_ps("Get-HotFix")
    assert result.status_code == 1
    assert b"the PowerShell script 'Get-HotFix' is not emulated by the lab" in result.std_err


def test_pywinrm_wrong_password(fleet):
    kwargs = fleet.protocol_kwargs(1)
    kwargs["password"] = "wrong"
    with pytest.raises(winrm.exceptions.InvalidCredentialsError):
        Protocol(**kwargs).open_shell()
    assert fleet.host(1).stats["rejected"] >= 1


def test_pywinrm_wsman_fault_for_unknown_shell(fleet):
    protocol = Protocol(**fleet.protocol_kwargs(3))
    with pytest.raises(winrm.exceptions.WSManFaultError) as fault:
        protocol.run_command("00000000-0000-0000-0000-000000000000", "ipconfig")
    assert fault.value.code == 500 and fault.value.wsman_fault_code == 2150858843


def test_ntlm_with_domain_user():
    with Fleet(1, auth="ntlm") as lab:
        kwargs = lab.protocol_kwargs(1)
        kwargs["username"] = "LAB\\Administrator"
        protocol = Protocol(**kwargs)
        protocol.close_shell(protocol.open_shell())
        assert lab.host(1).stats["auth_ntlm"] == 1


def test_https_certificate_validation():
    with Fleet(1, auth="https") as lab:
        for transport in ("ntlm", "basic", "ssl"):
            Protocol(**lab.protocol_kwargs(1, transport=transport)).open_shell()
        Protocol(**lab.protocol_kwargs(1, validate=False)).open_shell()
        kwargs = lab.protocol_kwargs(1)
        kwargs["ca_trust_path"] = None  # the system CAs do not know the lab's CA
        with pytest.raises(requests.exceptions.SSLError):
            Protocol(**kwargs).open_shell()


def test_faults_with_pywinrm():
    with Fleet(2, auth="basic") as lab:
        host = lab.host(1)
        kwargs = dict(lab.protocol_kwargs(host), read_timeout_sec=2, operation_timeout_sec=1)

        host.faults.latency = 0.3
        start = time.monotonic()
        Protocol(**kwargs).open_shell()
        assert time.monotonic() - start >= 0.3
        host.faults.latency = 0

        protocol = Protocol(**kwargs)
        shell_id = protocol.open_shell()
        command_id = protocol.run_command(shell_id, "hostname")
        host.faults.drop_receive = 1
        with pytest.raises(requests.exceptions.ConnectionError):
            protocol.get_command_output_raw(shell_id, command_id)
        assert protocol.get_command_output(shell_id, command_id)[2] == 1  # a new connection works

        host.go_down("blackhole")
        with pytest.raises(requests.exceptions.ReadTimeout):
            Protocol(**kwargs).open_shell()
        host.go_down("refuse")
        with pytest.raises(requests.exceptions.ConnectionError) as refused:
            Protocol(**kwargs).open_shell()
        assert "refused" in str(refused.value)
        host.come_up(reset_shells=True)
        Protocol(**kwargs).open_shell()
        assert host.shells.shell_count == 1  # the old shell is gone, the new one is there
        Protocol(**lab.protocol_kwargs(2)).open_shell()


def test_fleet_stop_leaves_nothing_running():
    before = set(threading.enumerate())
    user_file = os.environ.get("NTLM_USER_FILE")
    lab = Fleet(4, auth="ntlm").start()
    ports = [h.port for h in lab.hosts]
    Protocol(**lab.protocol_kwargs(1)).open_shell()
    lab.stop()
    deadline = time.monotonic() + 5
    while set(threading.enumerate()) - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [t.name for t in set(threading.enumerate()) - before]
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post("http://127.0.0.1:%d/wsman" % ports[0], timeout=2)
    assert os.environ.get("NTLM_USER_FILE") == user_file


# ansible-playbook --------------------------------------------------------------------------------

PLAY_TASKS = """\
    - name: ping
      ansible.windows.win_ping:
    - name: ping data
      ansible.windows.win_ping:
        data: hello
    - name: crash
      ansible.windows.win_ping:
        data: crash
      ignore_errors: true
    - name: not emulated
      ansible.windows.win_file:
        path: C:\\Temp\\lab
        state: directory
      ignore_errors: true
"""


@pytest.mark.parametrize("mode", MODES)
def test_ansible_playbook(tmp_path, mode):
    with Fleet(3, auth=mode) as lab:
        captured = []
        for host in lab.hosts:
            host.recorder = lambda line, stdin, name=host.name: captured.append((name, line, stdin))
        inventory = lab.write_inventory(tmp_path / "hosts.yml")
        rc, results, stats = play(tmp_path, inventory, PLAY_TASKS, gather_facts=True, expect_rc=0)

    names = ["win001", "win002", "win003"]
    for name in names:
        assert stats[name]["ok"] == 5 and stats[name]["failures"] == 0 and stats[name]["unreachable"] == 0
        facts = results["Gathering Facts"][name]["ansible_facts"]
        assert facts["ansible_os_family"] == "Windows"
        assert facts["ansible_distribution"] == "Microsoft Windows Server 2022 Datacenter"
        assert facts["ansible_distribution_version"] == "10.0.20348.0"
        assert facts["ansible_hostname"] == name and facts["ansible_system"] == "Win32NT"
        assert facts["ansible_architecture"] == "64-bit" and facts["ansible_powershell_version"] == 5
        assert results["ping"][name]["ping"] == "pong" and results["ping"][name]["changed"] is False
        assert results["ping data"][name]["ping"] == "hello"
        assert results["crash"][name]["failed"] is True
        assert results["crash"][name]["msg"] == "Unhandled exception while executing module: boom"
        assert results["not emulated"][name]["msg"] == "module ansible.windows.win_file is not emulated by the lab"

    # What ansible-core 2.19 really sent: one bootstrap command per task, the manifest on stdin.
    command, arguments = bootstrap_parts()
    assert len(captured) == 3 * 5
    seen = {}
    for name, line, stdin in captured:
        assert line == " ".join([command] + arguments)
        assert line.startswith("PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand ")
        script = base64.b64decode(line.rsplit(" ", 1)[1]).decode("utf-16-le")
        assert psexec.is_bootstrap_wrapper(script)
        bootstrap_json, exec_json = stdin.split(b"\n\0\0\0\0\n")
        assert json.loads(bootstrap_json)["name"] == "exec_wrapper"
        actions = json.loads(exec_json)["actions"]
        assert [a["name"] for a in actions] == ["module_wrapper.ps1"]
        request = psexec.decode_bootstrap_input(stdin)
        seen.setdefault(name, []).append((request.module_fqcn, request.module_args.get("data")))
    for name in names:
        assert seen[name] == [("ansible.windows.setup", None), ("ansible.windows.win_ping", None),
                              ("ansible.windows.win_ping", "hello"), ("ansible.windows.win_ping", "crash"),
                              ("ansible.windows.win_file", None)]


def test_ansible_host_down_is_unreachable(tmp_path):
    tasks = "    - name: ping\n      ansible.windows.win_ping:\n"
    with Fleet(3, auth="basic") as lab:
        inventory = lab.write_inventory(tmp_path / "hosts.yml")
        lab.host("win002").go_down("refuse")
        rc, results, stats = play(tmp_path, inventory, tasks, expect_rc=4)
        assert stats["win002"]["unreachable"] == 1
        assert results["ping"]["win002"]["unreachable"] is True
        assert "Connection refused" in results["ping"]["win002"]["msg"]
        for name in ("win001", "win003"):
            assert stats[name]["ok"] == 1 and results["ping"][name]["ping"] == "pong"
        lab.host("win002").come_up()
        rc, results, stats = play(tmp_path, inventory, tasks, expect_rc=0)
        assert all(stats[name]["ok"] == 1 for name in ("win001", "win002", "win003"))


def test_ansible_wrong_password_is_unreachable(tmp_path):
    tasks = "    - name: ping\n      ansible.windows.win_ping:\n"
    with Fleet(1, auth="ntlm") as lab:
        inventory = lab.write_inventory(tmp_path / "hosts.yml", ansible_password="wrong")
        rc, results, stats = play(tmp_path, inventory, tasks, expect_rc=4)
        assert "the specified credentials were rejected by the server" in results["ping"]["win001"]["msg"]


# command line ------------------------------------------------------------------------------------

def test_cli_start_fault_stop(tmp_path):
    state_dir = tmp_path / "state"
    inventory = tmp_path / "hosts.yml"
    env = dict(os.environ, PYTHONPATH=REPO)

    def cli(*args):
        done = subprocess.run([sys.executable, "-m", "tests.lab"] + list(args) + ["--state-dir", str(state_dir)],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    cli("start", "--hosts", "2", "--inventory", str(inventory), "--auth", "basic")
    try:
        state = json.loads((state_dir / "lab.json").read_text())
        pid = state["pid"]
        assert "ansible_connection: winrm" in inventory.read_text()
        endpoint = "http://127.0.0.1:%d/wsman" % state["hosts"][0]["port"]
        credentials = {"transport": "basic", "username": "Administrator", "password": "Lab-Passw0rd",
                       "ca_trust_path": None}
        protocol = Protocol(endpoint, **credentials)
        protocol.close_shell(protocol.open_shell())
        cli("fault", "win001", "--down", "refuse")
        with pytest.raises(requests.exceptions.ConnectionError):
            Protocol(endpoint, **credentials).open_shell()
        status = json.loads(cli("status"))
        assert [h["state"] for h in status["hosts"]] == ["refuse", "up"]
        assert status["hosts"][0]["stats"]["requests"] == 2
    finally:
        cli("stop")
    assert not (state_dir / "lab.pid").exists()
    try:  # gone, or a zombie waiting for whoever adopted it to reap it
        with open("/proc/%d/stat" % pid, "rb") as handle:
            assert handle.read().rsplit(b")", 1)[-1].split()[0] == b"Z"
    except FileNotFoundError:
        pass
