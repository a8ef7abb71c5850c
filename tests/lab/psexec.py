"""Decode what Ansible's ``winrm`` connection asks a Windows host to run.

ansible-core 2.19 runs every PowerShell module the same way (``executor/powershell/module_manifest.py``,
``_create_powershell_wrapper`` / ``_get_bootstrap_input``; ``plugins/connection/winrm.py``,
``exec_command``):

* command line: ``PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted
  -EncodedCommand <base64 of UTF-16LE bootstrap_wrapper.ps1>``;
* stdin: ``<bootstrap JSON>\\n\\0\\0\\0\\0\\n<exec manifest JSON>`` (and, for the connection's own
  helper scripts that take input, another ``\\n\\0\\0\\0\\0\\n`` and the input).

The bootstrap JSON is ``{"name": "exec_wrapper", "script": <exec_wrapper.ps1>, "params":
{"MinOSVersion", "MinPSVersion", "TempPath"}}``. The exec manifest is ``{"scripts": {<name>:
{"path", "script": <base64>}}, "actions": [{"name", "params", "secure_params"}, ...],
"signed_hashlist": [...]}``; its actions run in order, each wrapping the next: optional
``become_wrapper.ps1``, ``async_wrapper.ps1`` + ``async_watchdog.ps1``, ``coverage_wrapper.ps1``, and
last ``module_wrapper.ps1`` whose params are ``Script`` (``<remote module fqn>.ps1``, e.g.
``ansible_collections.ansible.windows.plugins.modules.win_ping.ps1``), ``Environment``,
``Variables`` (``[{"Name": "complex_args", "Value": <module args>, "Scope": "Global"}]``),
``CSharpModules``, ``PowerShellModules`` and ``ForModule``. Helper scripts of the connection and shell
plugins (``powershell_mkdtemp.ps1``, ``winrm_put_file.ps1``, ...) come as a single action.

This is internal to ansible-core: the format is pinned to 2.19.x and tests/unit/lab/test_lab_winrm.py
checks it against ansible-core's own builder.
"""

import base64
import binascii
import json
import re
from dataclasses import dataclass, field

SEPARATOR = b"\n\0\0\0\0\n"
MODULE_WRAPPER = "module_wrapper.ps1"
BECOME_WRAPPER = "become_wrapper.ps1"
ASYNC_WRAPPER = "async_wrapper.ps1"
ASYNC_WATCHDOG = "async_watchdog.ps1"
COVERAGE_WRAPPER = "coverage_wrapper.ps1"
_WRAPPERS = (BECOME_WRAPPER, ASYNC_WRAPPER, ASYNC_WATCHDOG, COVERAGE_WRAPPER)

_POWERSHELL = re.compile(r'^"?(?:.*[\\/])?(powershell|pwsh)(?:\.exe)?"?$', re.I)


class DecodeError(ValueError):
    """The input is not what ansible-core 2.19 sends."""


@dataclass
class CommandLine:
    """A command line received by the shell; ``script`` is set for ``PowerShell -EncodedCommand``."""

    raw: str
    executable: str = ""
    script: str = None

    @property
    def is_powershell(self):
        return bool(_POWERSHELL.match(self.executable))

    @property
    def is_bootstrap(self):
        """True when the script is ansible-core's bootstrap_wrapper.ps1 (reads the manifest on stdin)."""
        return self.script is not None and is_bootstrap_wrapper(self.script)


def parse_command_line(line):
    """Split a command line; decode ``-EncodedCommand`` (base64 UTF-16LE) when PowerShell runs one."""
    tokens = line.split()
    result = CommandLine(raw=line, executable=tokens[0] if tokens else "")
    if not result.is_powershell:
        return result
    for index, token in enumerate(tokens[1:-1], start=1):
        if _is_encoded_flag(token):
            try:
                result.script = base64.b64decode(tokens[index + 1], validate=True).decode("utf-16-le")
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise DecodeError("-EncodedCommand is not base64 UTF-16LE: %s" % exc)
            break
    return result


def _is_encoded_flag(token):
    """``-EncodedCommand`` or an abbreviation PowerShell accepts (``-e``, ``-ec``, ``-enc``, ...)."""
    if len(token) < 2 or token[0] not in "-/":
        return False
    name = token[1:].lower()
    return name == "ec" or "encodedcommand".startswith(name)


def is_bootstrap_wrapper(script):
    """Recognise bootstrap_wrapper.ps1 (as ``_encode_script`` leaves it: lines stripped)."""
    return ("$codeJson" in script and "`0`0`0`0" in script and "ConvertFrom-Json" in script
            and "$code.script" in script)


@dataclass
class ExecRequest:
    """One decoded bootstrap input."""

    bootstrap: dict
    manifest: dict
    extra_input: bytes = None
    actions: list = field(default_factory=list)

    @property
    def action_names(self):
        return [a.get("name") for a in self.actions]

    @property
    def payload(self):
        """The innermost action (what runs inside the wrappers)."""
        return self.actions[-1]

    @property
    def payload_name(self):
        return self.payload.get("name")

    @property
    def is_module(self):
        params = self.payload.get("params") or {}
        return self.payload_name == MODULE_WRAPPER and bool(params.get("ForModule"))

    @property
    def module_script(self):
        """``<remote module fqn>.ps1`` of a module run, e.g. ``ansible_collections.ns.coll.plugins.modules.x.ps1``."""
        return (self.payload.get("params") or {}).get("Script")

    @property
    def module_fqcn(self):
        script = self.module_script
        return remote_fqn_to_fqcn(script) if script else None

    @property
    def module_args(self):
        for variable in (self.payload.get("params") or {}).get("Variables") or []:
            if variable.get("Name") == "complex_args":
                return variable.get("Value") or {}
        return {}

    @property
    def environment(self):
        return (self.payload.get("params") or {}).get("Environment") or {}

    def _action(self, name):
        for action in self.actions:
            if action.get("name") == name:
                return action
        return None

    @property
    def become(self):
        """``{"user": ..., "params": ..., "has_password": bool}`` when a become wrapper is present."""
        action = self._action(BECOME_WRAPPER)
        if action is None:
            return None
        params = dict(action.get("params") or {})
        return {"user": params.get("BecomeUser"), "params": params,
                "has_password": "BecomePassword" in (action.get("secure_params") or {})}

    @property
    def async_(self):
        """``{"jid", "async_dir", "startup_timeout", "timeout"}`` when async wrappers are present."""
        action = self._action(ASYNC_WRAPPER)
        if action is None:
            return None
        params = action.get("params") or {}
        watchdog = (self._action(ASYNC_WATCHDOG) or {}).get("params") or {}
        return {"jid": params.get("AsyncJid"), "async_dir": params.get("AsyncDir"),
                "startup_timeout": params.get("StartupTimeout"), "timeout": watchdog.get("Timeout")}

    @property
    def coverage(self):
        return self._action(COVERAGE_WRAPPER) is not None

    def script_source(self, name):
        """The decoded text of a script shipped in the manifest (e.g. the module's own .ps1)."""
        info = (self.manifest.get("scripts") or {}).get(name)
        if info is None:
            return None
        return base64.b64decode(info["script"]).decode("utf-8-sig")


def remote_fqn_to_fqcn(script_name):
    """``ansible_collections.ns.coll.plugins.modules[.sub].name.ps1`` -> ``ns.coll[.sub].name``;
    ``ansible.modules.name.ps1`` -> ``ansible.builtin.name``; anything else is returned without ``.ps1``."""
    name = script_name[:-4] if script_name.lower().endswith(".ps1") else script_name
    parts = name.split(".")
    if parts[0] == "ansible_collections" and len(parts) >= 6 and parts[3:5] == ["plugins", "modules"]:
        return ".".join(parts[1:3] + parts[5:])
    if parts[:2] == ["ansible", "modules"] and len(parts) >= 3:
        return "ansible.builtin." + ".".join(parts[2:])
    return name


def decode_bootstrap_input(stdin):
    """Split and parse the bootstrap stdin; raises :class:`DecodeError` on anything unexpected."""
    parts = stdin.split(SEPARATOR, 2)
    if len(parts) < 2:
        raise DecodeError("stdin has no \\n\\0\\0\\0\\0\\n separator after the bootstrap JSON")
    try:
        bootstrap = json.loads(parts[0].decode("utf-8"))
        manifest = json.loads(parts[1].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise DecodeError("bootstrap input is not JSON: %s" % exc)
    if not isinstance(bootstrap, dict) or bootstrap.get("name") != "exec_wrapper" or "script" not in bootstrap:
        raise DecodeError("bootstrap JSON does not name exec_wrapper")
    if not isinstance(manifest, dict):
        raise DecodeError("exec manifest is not a JSON object")
    actions = manifest.get("actions")
    if not isinstance(actions, list) or not actions or not all(isinstance(a, dict) and a.get("name")
                                                               for a in actions):
        raise DecodeError("exec manifest has no actions")
    if not isinstance(manifest.get("scripts"), dict):
        raise DecodeError("exec manifest has no scripts")
    for action in actions[:-1]:
        if action["name"] not in _WRAPPERS:
            raise DecodeError("unexpected wrapper action %r" % action["name"])
    return ExecRequest(bootstrap=bootstrap, manifest=manifest,
                       extra_input=parts[2] if len(parts) > 2 else None, actions=actions)
