"""The Windows Remote Shell resource of one host: shells, their commands, stdin and output.

A command starts when its stdin is closed (``Send`` with ``End="true"``) or, for a command that
never gets stdin (``winrm.Protocol.run_command`` without input), at its first ``Receive``. It runs
in a thread of its own; ``Receive`` waits for it up to the request's OperationTimeout and then
answers the WSMan timeout fault that pywinrm silently retries, as Windows does for long commands.
"""

import threading

from . import wsman
from .execute import EXIT_CTRL_C, ExecResult, execute


class Command:
    def __init__(self, command_id, command_line):
        self.command_id = command_id
        self.command_line = command_line
        self.stdin = []
        self.stdin_seen = False
        self.stdin_closed = False
        self.started = False
        self.done = threading.Event()
        self.cancelled = threading.Event()
        self.result = None
        self.sent_stdout = 0
        self.sent_stderr = 0
        self.lock = threading.Lock()


class Shell:
    def __init__(self, shell_id, owner, client_ip, spec):
        self.shell_id = shell_id
        self.owner = owner
        self.client_ip = client_ip
        self.input_streams = spec.get("input_streams") or "stdin"
        self.output_streams = spec.get("output_streams") or "stdout stderr"
        self.environment = spec.get("environment") or {}
        self.working_directory = spec.get("working_directory")
        self.commands = {}


class ShellService:
    """Handles the shell actions for one host (``runtime`` is its ``LabHost``)."""

    def __init__(self, runtime):
        self.runtime = runtime
        self._lock = threading.Lock()
        self._shells = {}

    # bookkeeping ------------------------------------------------------------------------------

    @property
    def shell_count(self):
        with self._lock:
            return len(self._shells)

    def reset(self):
        """Forget every shell (a reboot); running commands are cancelled."""
        with self._lock:
            shells, self._shells = self._shells, {}
        for shell in shells.values():
            for command in shell.commands.values():
                command.cancelled.set()

    def _shell(self, request):
        shell_id = request.shell_id
        with self._lock:
            shell = self._shells.get(shell_id)
        if shell is None:
            raise wsman.shell_not_found(shell_id)
        return shell

    def _command(self, shell, command_id):
        with self._lock:
            command = shell.commands.get(command_id)
        if command is None:
            raise wsman.command_not_found(command_id)
        return command

    # actions ----------------------------------------------------------------------------------

    def handle(self, request, user, client_ip, connection):
        """Answer one request; returns the response envelope (bytes) or raises ``WsmanFault``.

        ``connection.drop()`` is called (and ``None`` returned) when a fault says to drop it.
        """
        if request.resource_uri != wsman.RESOURCE_CMD:
            raise wsman.WsmanFault("w:DestinationUnreachable",
                                   "The WS-Management service cannot process the request. The resource URI "
                                   "is not emulated by the lab. ", 2150858770, "resource %s is not emulated"
                                   % request.resource_uri)
        action = request.action
        if action == wsman.ACTION_CREATE:
            return self.create(request, user, client_ip)
        if action == wsman.ACTION_DELETE:
            return self.delete(request)
        if action == wsman.ACTION_COMMAND:
            return self.command(request)
        if action == wsman.ACTION_SEND:
            return self.send(request, user, connection)
        if action == wsman.ACTION_RECEIVE:
            return self.receive(request, user, connection)
        if action == wsman.ACTION_SIGNAL:
            return self.signal(request)
        raise wsman.unsupported_action(action)

    def create(self, request, user, client_ip):
        shell = Shell(wsman.new_id(), user, client_ip, request.shell_spec())
        with self._lock:
            self._shells[shell.shell_id] = shell
        return wsman.create_response(request, shell, self.runtime.endpoint)

    def delete(self, request):
        shell = self._shell(request)
        with self._lock:
            self._shells.pop(shell.shell_id, None)
        for command in shell.commands.values():
            command.cancelled.set()
        return wsman.delete_response(request)

    def command(self, request):
        shell = self._shell(request)
        command = Command(wsman.new_id(), request.command_line())
        with self._lock:
            shell.commands[command.command_id] = command
        return wsman.command_response(request, command.command_id)

    def send(self, request, user, connection):
        shell = self._shell(request)
        started = False
        for command_id, name, data, end in request.send_streams():
            command = self._command(shell, command_id)
            with command.lock:
                if command.stdin_closed:
                    raise wsman.invalid_request("stdin of command %s is already closed" % command_id)
                if name == "stdin":
                    command.stdin.append(data)
                    command.stdin_seen = True
                    if end:
                        command.stdin_closed = True
                        started = self._start(command, user) or started
        if started and self.runtime.faults.take("drop_after_send"):
            connection.drop()
            return None
        return wsman.send_response(request)

    def _start(self, command, user):
        """Start ``command`` (caller holds ``command.lock``); True if it was started now."""
        if command.started:
            return False
        command.started = True
        stdin = b"".join(command.stdin)
        command.stdin = []
        recorder = self.runtime.recorder
        if recorder is not None:
            recorder(command.command_line, stdin)

        def run():
            try:
                result = execute(self.runtime, user, command.command_line, stdin, command.cancelled)
            except Exception as exc:  # a lab bug: report it as the command's stderr
                result = ExecResult(b"", ("lab internal error: %r\r\n" % exc).encode(), 1)
            with command.lock:
                if not command.done.is_set():  # unless ctrl_c ended it first
                    command.result = result
                    command.done.set()

        threading.Thread(target=run, name="lab-cmd-%s" % command.command_id[:8], daemon=True).start()
        return True

    def receive(self, request, user, connection):
        shell = self._shell(request)
        command = self._command(shell, request.receive_command_id())
        if self.runtime.faults.take("drop_receive"):
            connection.drop()
            return None
        with command.lock:
            if not command.started and not command.stdin_seen:
                self._start(command, user)
        # wait a little less than the client's OperationTimeout, like Windows does
        wait = max(0.05, request.operation_timeout - 0.5) if request.operation_timeout else 60.0
        if not command.started or not command.done.wait(wait):
            raise wsman.operation_timeout()
        result = command.result
        limit = wsman.receive_payload_limit(request.max_envelope)
        with command.lock:
            chunks = []
            out = result.stdout[command.sent_stdout:command.sent_stdout + limit]
            command.sent_stdout += len(out)
            budget = limit - len(out)
            err = result.stderr[command.sent_stderr:command.sent_stderr + budget] if budget > 0 else b""
            command.sent_stderr += len(err)
            out_done = command.sent_stdout >= len(result.stdout)
            err_done = command.sent_stderr >= len(result.stderr)
            if out or out_done:
                chunks.append(("stdout", out, out_done))
            if err or err_done:
                chunks.append(("stderr", err, err_done))
            finished = out_done and err_done
        return wsman.receive_response(request, command.command_id, chunks, finished,
                                      result.rc if finished else None)

    def signal(self, request):
        shell = self._shell(request)
        command_id, code = request.signal()
        command = self._command(shell, command_id)
        if code == wsman.SIGNAL_TERMINATE:
            command.cancelled.set()
            with self._lock:
                shell.commands.pop(command_id, None)
        elif code in (wsman.SIGNAL_CTRL_C, wsman.SIGNAL_CTRL_BREAK):
            command.cancelled.set()
            with command.lock:
                if not command.done.is_set():
                    command.started = True
                    command.result = ExecResult(b"", b"", EXIT_CTRL_C)
                    command.done.set()
        else:
            raise wsman.invalid_request("unknown signal code %s" % code)
        return wsman.signal_response(request)
