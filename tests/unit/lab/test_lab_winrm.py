"""Fast tests of the lab's WinRM pieces without sockets: SOAP envelopes (through pywinrm's own
request builders and response parsers), NTLM message-encryption framing, and the decoding of the
exec manifest ansible-core 2.19 builds (made here by ansible-core's own builder)."""

import base64
import json
import os
import sys
import threading
import time

import pytest
import requests
import spnego
import winrm.exceptions
from ansible.executor.powershell import module_manifest
from ansible.plugins.loader import become_loader
from ansible.plugins.shell.powershell import ShellModule
from requests_ntlm.requests_ntlm import ShimSessionSecurity
from winrm.encryption import Encryption
from winrm.protocol import Protocol

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from tests.lab import DefaultBackend, HostModel, psexec, wsman  # noqa: E402
from tests.lab import auth as lab_auth  # noqa: E402
from tests.lab.backend import ModuleContext, resolve_subsets, windows_facts  # noqa: E402
from tests.lab.execute import EXIT_CTRL_C, AsyncJobs, execute, finish_result  # noqa: E402
from tests.lab.fleet import DEFAULT_MODULE_COST, Fleet  # noqa: E402
from tests.lab.faults import HostFaults  # noqa: E402
from tests.lab.winrs import ShellService  # noqa: E402

MODULE_FQN = "ansible_collections.patchwave.windows.plugins.modules.lab_probe"
MODULE_SOURCE = b"#!powershell\n#AnsibleRequires -CSharpUtil Ansible.Basic\n$spec = @{ options = @{} }\n"


# ansible-core's own builders ----------------------------------------------------------------------

def build_manifest(args, environment=None, async_timeout=0, become=None):
    """stdin exactly as ansible-core 2.19 builds it for a PowerShell module."""
    return module_manifest._create_powershell_wrapper(
        name=MODULE_FQN, module_data=MODULE_SOURCE, module_path="/collections/lab_probe.ps1",
        module_args=args, environment=environment or {}, async_timeout=async_timeout,
        become_plugin=become, substyle="powershell", task_vars={}, profile="legacy")


def bootstrap_command():
    """``(command, arguments)`` as Ansible's winrm connection passes them to ``Protocol.run_command``."""
    parts = ShellModule()._encode_script(module_manifest._get_powershell_script("bootstrap_wrapper.ps1"),
                                         as_list=True, strict_mode=False, preserve_rc=False)
    return parts[0], parts[1:]


def bootstrap_command_line():
    """The command line as the shell sees it (pywinrm joins command and arguments with spaces)."""
    command, arguments = bootstrap_command()
    return " ".join([command] + arguments)


# in-memory transport: pywinrm's Protocol talking to a ShellService without HTTP -----------------

class FakeRuntime:
    def __init__(self, backend=None):
        self.model = HostModel(name="win001", index=1, boot_time=1_700_000_000.0)
        self.backend = backend or DefaultBackend(self.model)
        self.faults = HostFaults()
        self.async_jobs = AsyncJobs()
        self.endpoint = "http://127.0.0.1:5985/wsman"
        self.recorder = None
        self.clock = lambda: 1_700_086_400.0
        self.shells = ShellService(self)


class NoConnection:
    def drop(self):
        raise AssertionError("unexpected drop")


@pytest.fixture
def protocol():
    runtime = FakeRuntime()
    proto = Protocol("http://127.0.0.1:5985/wsman", transport="basic", username="Administrator", password="x",
                     operation_timeout_sec=2, read_timeout_sec=3)

    def send(message):
        request = wsman.parse_request(message.encode() if isinstance(message, str) else message)
        try:
            return runtime.shells.handle(request, "Administrator", "127.0.0.1", NoConnection())
        except wsman.WsmanFault as fault:
            body = wsman.fault_response(fault, request.message_id, "127.0.0.1").decode()
            raise winrm.exceptions.WinRMTransportError("http", 500, body)

    proto.transport.send_message = send
    proto.runtime = runtime
    return proto


def test_shell_lifecycle_through_pywinrm(protocol):
    shell_id = protocol.open_shell(codepage=65001)
    assert shell_id == shell_id.upper() and len(shell_id) == 36
    command_id = protocol.run_command(shell_id, "ipconfig", ["/all"])
    stdout, stderr, rc = protocol.get_command_output(shell_id, command_id)
    assert rc == 1 and stdout == b""
    assert b"the command 'ipconfig /all' is not emulated by the lab" in stderr
    protocol.cleanup_command(shell_id, command_id)  # pywinrm asserts RelatesTo == MessageID
    protocol.close_shell(shell_id)
    assert protocol.runtime.shells.shell_count == 0


def test_module_run_through_pywinrm_with_ansible_manifest(protocol):
    stdin = build_manifest({"_ansible_check_mode": False})
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, *bootstrap_command(), console_mode_stdin=False)
    # Ansible streams stdin in chunks, the last one with End="true"
    chunk = 50000
    for offset in range(0, len(stdin), chunk):
        protocol.send_command_input(shell_id, command_id, stdin[offset:offset + chunk],
                                    end=offset + chunk >= len(stdin))
    stdout, stderr, rc = protocol.get_command_output(shell_id, command_id)
    assert rc == 1, stderr
    assert json.loads(stdout) == {"failed": True, "changed": False, "invocation": {"module_args": {}},
                                  "msg": "module patchwave.windows.lab_probe is not emulated by the lab"}


def test_faults_are_pywinrm_wsman_faults(protocol):
    with pytest.raises(winrm.exceptions.WSManFaultError) as shell_missing:
        protocol.run_command("9F1B1C55-0000-4000-8000-000000000000", "ipconfig")
    assert shell_missing.value.wsman_fault_code == wsman.CODE_SHELL_NOT_FOUND
    assert shell_missing.value.fault_subcode == "w:InvalidSelectors"
    assert "the shell was not found on the server" in shell_missing.value.response
    shell_id = protocol.open_shell()
    with pytest.raises(winrm.exceptions.WSManFaultError) as command_missing:
        protocol.get_command_output_raw(shell_id, "9F1B1C55-0000-4000-8000-000000000001")
    assert "command identifier that does not exist" in command_missing.value.response


def test_receive_waits_for_stdin_then_times_out_like_windows(protocol):
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, *bootstrap_command())
    protocol.send_command_input(shell_id, command_id, b"partial", end=False)
    protocol.operation_timeout_sec = 1
    with pytest.raises(winrm.exceptions.WinRMOperationTimeoutError):
        protocol.get_command_output_raw(shell_id, command_id)


def test_large_output_is_split_over_receives(protocol):
    class Big(DefaultBackend):
        def run_module(self, fqcn, args, context):
            return {"blob": "x" * 400000}

    protocol.runtime.backend = Big(protocol.runtime.model)
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, *bootstrap_command())
    protocol.send_command_input(shell_id, command_id, build_manifest({}), end=True)
    responses = []
    done = False
    while not done:
        stdout, dummy, rc, done = protocol.get_command_output_raw(shell_id, command_id)
        responses.append(stdout)
    assert len(responses) >= 3 and rc == 0
    assert json.loads(b"".join(responses))["blob"] == "x" * 400000


def test_ctrl_c_ends_a_running_command(protocol):
    release = threading.Event()

    class Slow(DefaultBackend):
        def run_module(self, fqcn, args, context):
            context.cancelled.wait(5)
            release.set()
            return {}

    protocol.runtime.backend = Slow(protocol.runtime.model)
    shell_id = protocol.open_shell()
    command_id = protocol.run_command(shell_id, *bootstrap_command())
    protocol.send_command_input(shell_id, command_id, build_manifest({}), end=True)
    message_id = "uuid:5B6C7E4A-0000-4000-8000-000000000000"
    envelope = protocol.build_wsman_header(action=wsman.ACTION_SIGNAL, resource_uri=wsman.RESOURCE_CMD,
                                           shell_id=shell_id, message_id=message_id[5:])
    import xmltodict
    envelope.setdefault("env:Body", {})["rsp:Signal"] = {"@CommandId": command_id, "rsp:Code": wsman.SIGNAL_CTRL_C}
    protocol.send_message(xmltodict.unparse({"env:Envelope": envelope}))
    assert release.wait(5)
    rc, done = protocol.get_command_output_raw(shell_id, command_id)[2:]
    assert done and rc == -1073741510


# envelopes ---------------------------------------------------------------------------------------

def test_parse_request_reads_header_fields():
    proto = Protocol("http://h:5985/wsman", transport="basic", username="u", password="p",
                     operation_timeout_sec=20, read_timeout_sec=30)
    header = proto.build_wsman_header(action=wsman.ACTION_RECEIVE, resource_uri=wsman.RESOURCE_CMD,
                                      shell_id="ABC", message_id="11111111-2222-3333-4444-555555555555")
    import xmltodict
    header.setdefault("env:Body", {})["rsp:Receive"] = {"rsp:DesiredStream": {"@CommandId": "CMD",
                                                                              "#text": "stdout stderr"}}
    request = wsman.parse_request(xmltodict.unparse({"env:Envelope": header}).encode())
    assert request.action == wsman.ACTION_RECEIVE
    assert request.resource_uri == wsman.RESOURCE_CMD
    assert request.shell_id == "ABC"
    assert request.message_id == "uuid:11111111-2222-3333-4444-555555555555"
    assert request.operation_timeout == 20.0
    assert request.max_envelope == 153600
    assert request.receive_command_id() == "CMD"


@pytest.mark.parametrize("text,seconds", [("PT20S", 20), ("PT60.000S", 60), ("PT1M30S", 90), ("bogus", 60)])
def test_parse_duration(text, seconds):
    assert wsman.parse_duration(text) == seconds


def test_malformed_envelope_is_a_fault():
    with pytest.raises(wsman.WsmanFault):
        wsman.parse_request(b"<not-xml")
    with pytest.raises(wsman.WsmanFault):
        wsman.parse_request(b"<a/>")


# manifest decoding against ansible-core's builder ------------------------------------------------

def test_command_line_is_recognised_as_bootstrap_wrapper():
    line = psexec.parse_command_line(bootstrap_command_line())
    assert line.executable == "PowerShell" and line.is_powershell
    assert line.is_bootstrap
    assert bootstrap_command_line().startswith(
        "PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand ")


@pytest.mark.parametrize("line", [
    "powershell -encodedcommand %s", "PowerShell.exe -NoProfile -enc %s", "pwsh -e %s",
    r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe -EncodedCommand %s"])
def test_encoded_command_spellings(line):
    encoded = base64.b64encode("Get-Date".encode("utf-16-le")).decode()
    parsed = psexec.parse_command_line(line % encoded)
    assert parsed.script == "Get-Date" and not parsed.is_bootstrap


def test_non_powershell_command_has_no_script():
    parsed = psexec.parse_command_line("ipconfig /all")
    assert not parsed.is_powershell and parsed.script is None


def test_module_manifest_decodes_name_args_environment():
    args = {"category_names": ["SecurityUpdates"], "nested": {"a": [1, 2]}, "_ansible_check_mode": True}
    request = psexec.decode_bootstrap_input(build_manifest(args, environment={"LAB": "1"}))
    assert request.bootstrap["name"] == "exec_wrapper"
    assert set(request.bootstrap["params"]) == {"MinOSVersion", "MinPSVersion", "TempPath"}
    assert request.action_names == ["module_wrapper.ps1"]
    assert request.is_module
    assert request.module_script == MODULE_FQN + ".ps1"
    assert request.module_fqcn == "patchwave.windows.lab_probe"
    assert request.module_args == args
    assert request.environment == {"LAB": "1"}
    assert request.become is None and request.async_ is None and not request.coverage
    assert request.script_source(request.module_script).encode() == MODULE_SOURCE
    assert "Ansible.Basic.cs" in request.manifest["scripts"]
    assert request.extra_input is None


def test_module_manifest_with_become_and_async():
    become = become_loader.get("runas")
    become.set_options(direct={"become_user": "SYSTEM", "become_pass": "secret"})
    request = psexec.decode_bootstrap_input(build_manifest(
        {"x": 1}, environment={"ANSIBLE_ASYNC_DIR": "C:\\async"}, async_timeout=45, become=become))
    assert request.action_names == ["become_wrapper.ps1", "async_wrapper.ps1", "async_watchdog.ps1",
                                    "module_wrapper.ps1"]
    assert request.module_fqcn == "patchwave.windows.lab_probe" and request.module_args == {"x": 1}
    assert request.become == {"user": "SYSTEM", "params": {"BecomeUser": "SYSTEM"}, "has_password": True}
    assert request.async_["async_dir"] == "C:\\async" and request.async_["timeout"] == 45
    assert request.async_["jid"].startswith("j")


def test_connection_helper_scripts_are_not_modules():
    stdin = module_manifest._bootstrap_powershell_script("winrm_put_file.ps1", {"Path": "C:\\x"}, has_input=True)[1]
    request = psexec.decode_bootstrap_input(stdin + b"ZGF0YQ==\r\n")
    assert not request.is_module and request.payload_name == "winrm_put_file.ps1"
    assert request.extra_input == b"ZGF0YQ==\r\n"


@pytest.mark.parametrize("stdin", [b"", b"{}", b"{}\n\0\0\0\0\n{}", b'{"name": "exec_wrapper", "script": ""}\n\0\0\0\0\n{}',
                                   b"\xff\n\0\0\0\0\n{}"])
def test_bad_bootstrap_input(stdin):
    with pytest.raises(psexec.DecodeError):
        psexec.decode_bootstrap_input(stdin)


@pytest.mark.parametrize("script,fqcn", [
    ("ansible_collections.ansible.windows.plugins.modules.win_ping.ps1", "ansible.windows.win_ping"),
    ("ansible_collections.ns.coll.plugins.modules.sub.thing.ps1", "ns.coll.sub.thing"),
    ("ansible.modules.ping.ps1", "ansible.builtin.ping"),
    ("ansible.legacy.my_module.ps1", "ansible.legacy.my_module"),
])
def test_remote_fqn_to_fqcn(script, fqcn):
    assert psexec.remote_fqn_to_fqcn(script) == fqcn


# execution and backend ---------------------------------------------------------------------------

def run(runtime, args, fqcn_script=None):
    stdin = build_manifest(args)
    if fqcn_script:
        stdin = stdin.replace(MODULE_FQN.encode(), fqcn_script.encode())
    return execute(runtime, "Administrator", bootstrap_command_line(), stdin, threading.Event())


def test_win_ping_and_crash():
    runtime = FakeRuntime()
    ping = "ansible_collections.ansible.windows.plugins.modules.win_ping"
    result = run(runtime, {"data": "hello"}, ping)
    assert result.rc == 0 and json.loads(result.stdout) == {"changed": False, "ping": "hello",
                                                            "invocation": {"module_args": {"data": "hello"}}}
    assert json.loads(run(runtime, {}, ping).stdout)["ping"] == "pong"
    crash = run(runtime, {"data": "crash"}, ping)
    assert crash.rc == 1
    assert json.loads(crash.stdout)["msg"] == "Unhandled exception while executing module: boom"


def test_setup_facts_from_model():
    runtime = FakeRuntime()
    result = run(runtime, {"_ansible_check_mode": False}, "ansible_collections.ansible.windows.plugins.modules.setup")
    facts = json.loads(result.stdout)["ansible_facts"]
    assert facts["ansible_os_family"] == "Windows"
    assert facts["ansible_distribution"] == "Microsoft Windows Server 2022 Datacenter"
    assert facts["ansible_distribution_version"] == "10.0.20348.0"
    assert facts["ansible_distribution_major_version"] == "10"
    assert facts["ansible_hostname"] == "win001" and facts["ansible_netbios_name"] == "WIN001"
    assert facts["ansible_architecture"] == "64-bit" and facts["ansible_system"] == "Win32NT"
    assert facts["ansible_powershell_version"] == 5
    assert facts["ansible_uptime_seconds"] == 86400
    assert facts["ansible_lastboot"] == "2023-11-14 22:13:20Z"
    assert facts["ansible_interfaces"][0]["ipv4"]["address"] == "10.20.0.2"
    assert facts["ansible_windows_domain"] == "WORKGROUP" and facts["ansible_windows_domain_member"] is False
    assert facts["gather_subset"] == ["all"] and facts["module_setup"] is True


def test_gather_subset_algebra():
    assert resolve_subsets(["all"])[0] == resolve_subsets(["min"])[0]  # setup only adds to "all"
    minimal = resolve_subsets(["!all"])[0]
    assert minimal == {"date_time", "distribution", "dns", "env", "local", "platform", "powershell_version", "user"}
    assert "interfaces" in resolve_subsets(["!all", "network"])[0]
    assert resolve_subsets(["bogus"])[1] == ["invalid value bogus specified in gather_subset"]
    model = HostModel(name="w", index=1)
    facts = windows_facts(model, ModuleContext(host=model, user="LAB\\Administrator", now=time.time()), ["!all"])[0]
    assert "ansible_interfaces" not in facts and facts["ansible_user_id"] == "Administrator"


def test_not_emulated_paths():
    runtime = FakeRuntime()
    raw = execute(runtime, "u", "ipconfig", b"", threading.Event())
    assert raw.rc == 1 and b"is not emulated by the lab" in raw.stderr
    stdin = module_manifest._bootstrap_powershell_script("winrm_fetch_file.ps1", {"Path": "C:\\x", "Offset": 0})[1]
    helper = execute(runtime, "u", bootstrap_command_line(), stdin, threading.Event())
    assert helper.rc == 1
    assert json.loads(helper.stdout)["msg"].startswith("the Ansible exec script winrm_fetch_file.ps1 is not emulated")
    other = run(runtime, {}, "ansible_collections.ansible.windows.plugins.modules.win_file")
    assert json.loads(other.stdout)["msg"] == "module ansible.windows.win_file is not emulated by the lab"


# authentication ----------------------------------------------------------------------------------

def test_check_basic():
    users = {"administrator": "pw"}
    token = base64.b64encode(b"Administrator:pw").decode()
    assert lab_auth.check_basic(token, users) == "Administrator"
    assert lab_auth.check_basic(base64.b64encode(b".\\Administrator:pw").decode(), users) == ".\\Administrator"
    for bad in (base64.b64encode(b"Administrator:nope").decode(), "%%%", base64.b64encode(b"nocolon").decode()):
        with pytest.raises(lab_auth.AuthError):
            lab_auth.check_basic(bad, users)


def test_ntlm_handshake_and_message_encryption_framing():
    owner = object()
    lab_auth.CredentialStore.register(id(owner), [("LAB", "Administrator", "pw"), ("", "Administrator", "pw")])
    try:
        client = spnego.client("LAB\\Administrator", "pw", protocol="ntlm", options=spnego.NegotiateOptions.use_ntlm)
        server = lab_auth.NtlmAcceptor()
        challenge = server.step(client.step())
        assert not server.complete
        assert server.step(client.step(challenge)) in (None, b"")
        assert server.complete and server.user == "LAB\\Administrator"

        # pywinrm's own framing code on the client side, the lab's on the server side
        class ClientAuth:
            session_security = ShimSessionSecurity(client)

            def __call__(self, prepared):
                return prepared

        session = requests.Session()
        session.auth = ClientAuth()
        encryption = Encryption(session, "ntlm")
        request = encryption.prepare_encrypted_request(session, "http://127.0.0.1:5985/wsman", b"<hello/>")
        assert request.headers["Content-Type"] == lab_auth.ENCRYPTED_CONTENT_TYPE
        assert server.unwrap(request.body) == b"<hello/>"
        content_type, body = server.wrap(b"<answer/>" * 100)

        class Response:
            headers = {"Content-Type": content_type}
            content = body

            class request:
                url = "http://127.0.0.1:5985/wsman"

        assert encryption.parse_encrypted_response(Response) == b"<answer/>" * 100

        wrong = spnego.client("LAB\\Administrator", "bad", protocol="ntlm", options=spnego.NegotiateOptions.use_ntlm)
        other = lab_auth.NtlmAcceptor()
        with pytest.raises(lab_auth.AuthError):
            other.step(wrong.step(other.step(wrong.step())))
    finally:
        lab_auth.CredentialStore.unregister(id(owner))
    assert "NTLM_USER_FILE" not in os.environ or os.path.exists(os.environ["NTLM_USER_FILE"])


def test_faults_counters():
    faults = HostFaults(drop_receive=2)
    assert faults.take("drop_receive") and faults.take("drop_receive") and not faults.take("drop_receive")
    faults.update(drop_receive=-1)
    assert all(faults.take("drop_receive") for dummy in range(5))
    with pytest.raises(KeyError):
        faults.update(bogus=1)


def test_temporary_directory_helpers():
    """The shell plugin's own commands, built by ansible-core, get plausible answers."""
    runtime = FakeRuntime()
    shell = ShellModule()
    shell.set_options()
    mkdtemp = shell._mkdtemp2("ansible-tmp-123", tmpdir="%TEMP%")
    done = execute(runtime, "LAB\\Administrator", mkdtemp.command, mkdtemp.input_data, threading.Event())
    assert (done.rc, done.stdout) == (0, b"C:\\Users\\Administrator\\AppData\\Local\\Temp\\ansible-tmp-123\r\n")
    expand = shell._expand_user2("~\\.ansible_async")
    done = execute(runtime, "Administrator", expand.command, expand.input_data, threading.Event())
    assert done.stdout == b"C:\\Users\\Administrator\\.ansible_async\r\n"
    remove = shell.remove("C:\\Users\\Administrator\\AppData\\Local\\Temp\\ansible-tmp-123\\", recurse=True)
    assert execute(runtime, "Administrator", remove, b"", threading.Event()).rc == 0
    other = shell.remove("C:\\Windows\\System32", recurse=True)
    assert execute(runtime, "Administrator", other, b"", threading.Event()).rc == 1


# results as Ansible.Basic prints them, and what a module run costs ------------------------------

def test_results_are_printed_as_ansible_basic_prints_them():
    """ExitJson: invocation, warnings and deprecations when there are any; ConvertTo-Json -Compress on
    Windows PowerShell 5.1: non-ASCII as text, <>&' escaped."""
    deprecation = {"msg": "old option", "version": "2.0.0", "collection_name": "patchwave.windows"}
    out = finish_result({"ping": "café <b> & 'x' ✓", "warnings": ["first", "second"], "deprecations": [deprecation]},
                        {"data": "x", "_ansible_check_mode": False, "_ansible_verbosity": 0})
    text = out.stdout.decode("utf-8")
    assert out.rc == 0 and text.endswith("}\r\n") and ": " not in text and ", " not in text.replace("& ", "")
    assert "café" in text and "✓" in text and "\\u00e9" not in text and "\\u2713" not in text
    assert "\\u003cb\\u003e \\u0026 \\u0027x\\u0027" in text
    assert json.loads(text) == {"changed": False, "ping": "café <b> & 'x' ✓", "invocation": {"module_args": {"data": "x"}},
                                "warnings": ["first", "second"], "deprecations": [deprecation]}
    by_date = finish_result({"deprecations": [{"msg": "m", "date": "2027-06-01"}]}, {})
    assert json.loads(by_date.stdout)["deprecations"] == [{"msg": "m", "date": "2027-06-01", "collection_name": None}]
    failed = finish_result({"failed": True, "msg": "no", "warnings": [], "invocation": {"module_args": {"a": 1}}}, {"a": 2})
    assert failed.rc == 1
    assert json.loads(failed.stdout) == {"changed": False, "failed": True, "msg": "no", "invocation": {"module_args": {"a": 1}}}
    with pytest.raises(TypeError, match="result.data is a set"):
        finish_result({"data": {1, 2}}, {})


class _Odd(DefaultBackend):
    def run_module(self, fqcn, args, context):
        return {"when": datetime_now(), "warnings": ["w"]}


def datetime_now():
    import datetime
    return datetime.datetime(2027, 1, 1)


def test_a_result_powershell_could_not_print_is_an_error_not_str():
    runtime = FakeRuntime(_Odd(HostModel(name="win001", index=1)))
    result = run(runtime, {}, "ansible_collections.ansible.windows.plugins.modules.win_ping")
    printed = json.loads(result.stdout)
    assert result.rc == 1 and "result.when is a datetime" in printed["msg"]


def test_a_module_run_costs_the_wrappers_start():
    runtime = FakeRuntime()
    ping = "ansible_collections.ansible.windows.plugins.modules.win_ping"
    runtime.module_cost = 0.4
    started = time.monotonic()
    assert run(runtime, {}, ping).rc == 0
    assert 0.4 <= time.monotonic() - started < 2
    runtime.module_cost = 0
    started = time.monotonic()
    assert run(runtime, {}, ping).rc == 0 and time.monotonic() - started < 0.3
    runtime.module_cost = 30  # ctrl_c during the start ends the run at once
    cancelled = threading.Event()
    threading.Timer(0.2, cancelled.set).start()
    started = time.monotonic()
    done = execute(runtime, "Administrator", bootstrap_command_line(), build_manifest({}), cancelled)
    assert done.rc == EXIT_CTRL_C and time.monotonic() - started < 5


def test_fleet_module_cost_default_and_override():
    assert 0.1 <= DEFAULT_MODULE_COST <= 1.0
    with Fleet(2, auth="basic") as fleet:
        assert [h.module_cost for h in fleet.hosts] == [DEFAULT_MODULE_COST] * 2
    with Fleet(1, auth="basic", module_cost=0) as fleet:
        assert fleet.host(1).module_cost == 0


def test_facts_follow_a_host_clock_that_is_wrong():
    runtime = FakeRuntime()
    runtime.model.clock_offset = -5400.0
    facts = json.loads(run(runtime, {"gather_subset": ["date_time", "uptime"]},
                           "ansible_collections.ansible.windows.plugins.modules.setup").stdout)["ansible_facts"]
    assert facts["ansible_date_time"]["epoch_int"] == int(runtime.clock() - 5400)
    assert facts["ansible_uptime_seconds"] == int(runtime.clock() - runtime.model.boot_time)
