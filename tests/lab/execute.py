"""Run one shell command on a simulated host: decode it, dispatch module runs to the host backend.

Only Ansible's PowerShell module execution is emulated. Everything else -- raw commands, plain
PowerShell scripts (``winrm.Session.run_ps``), the connection's file transfer scripts
(``winrm_put_file.ps1``/``winrm_fetch_file.ps1``), PowerShell scripts run by ``ansible.builtin.script``
-- ends with exit code 1 and a message saying what is not emulated.

Emulated besides modules, so that Ansible gets far enough to report what is missing: the shell
plugin's temporary-directory helpers (``powershell_mkdtemp.ps1``, ``powershell_expand_user.ps1``, and
the ``Remove-Item '...ansible-tmp-...'`` clean-up), answered with plausible paths and nothing done.

Async tasks (``async:``/``poll:``) are emulated here, so backends see plain module runs: the module
runs in a background thread and ``ansible.windows.async_status`` reports on it.

A module run costs what the PowerShell wrapper costs on Windows (process start, exec wrapper,
Ansible.Basic compile): ``LabHost.module_cost`` seconds before the backend is called. Results are
printed as Ansible.Basic's ExitJson/FailJson print them (:func:`module_output`).
"""

import json
import re
import threading
import traceback

from . import psexec
from .backend import ModuleContext

EXIT_CTRL_C = -1073741510  # 0xC000013A STATUS_CONTROL_C_EXIT


class ExecResult:
    __slots__ = ("stdout", "stderr", "rc")

    def __init__(self, stdout=b"", stderr=b"", rc=0):
        self.stdout, self.stderr, self.rc = stdout, stderr, rc


# Windows PowerShell 5.1's ConvertTo-Json (JavaScriptSerializer) writes these as \uXXXX; other
# non-ASCII text it writes as it is, and the console (code page 65001) sends it as UTF-8.
_PS_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "'": "\\u0027"}
_JSON_TYPES = (dict, list, str, int, float, bool, type(None))


def _check_json_types(value, path="result"):
    """A backend result holds JSON types only (what PowerShell would serialise); a set or an object is a lab bug."""
    if not isinstance(value, _JSON_TYPES):
        raise TypeError("%s is a %s, which a PowerShell module cannot return as JSON" % (path, type(value).__name__))
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError("%s has a %s key %r" % (path, type(key).__name__, key))
            _check_json_types(item, "%s.%s" % (path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_json_types(item, "%s[%d]" % (path, index))


def module_output(result):
    """The JSON text Ansible.Basic prints for ``result`` (ConvertTo-Json -Compress on Windows PowerShell 5.1):
    compact, non-ASCII as text, ``<>&'`` escaped."""
    _check_json_types(result)
    text = json.dumps(result, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return "".join(_PS_ESCAPES.get(char, char) for char in text)


def _json_out(result):
    return (module_output(result) + "\r\n").encode("utf-8")


def module_args_of(args):
    """``invocation.module_args`` as Ansible.Basic reports it when the module did not: the arguments
    without Ansible's ``_ansible_*`` keys."""
    return {k: v for k, v in (args or {}).items() if not k.startswith("_ansible_")}


def _deprecation(item):
    if isinstance(item, str):
        raise TypeError("a deprecation is {'msg', 'version' or 'date', 'collection_name'}, not %r" % item)
    entry = {"msg": item["msg"]}
    if "date" in item:
        entry["date"] = item["date"]
    else:
        entry["version"] = item.get("version")
    entry["collection_name"] = item.get("collection_name")
    return entry


def not_emulated_result(what, json_stdout=False):
    message = "%s is not emulated by the lab (it emulates Ansible PowerShell module execution only)" % what
    stdout = _json_out({"failed": True, "msg": message}) if json_stdout else b""
    return ExecResult(stdout, (message + "\r\n").encode("utf-8"), 1)


def finish_result(result, args=None):
    """Turn a backend's result dict into stdout/exit code as Ansible.Basic's ExitJson/FailJson do:
    ``changed`` false unless set, ``invocation.module_args`` (the backend's own, else ``args`` without
    ``_ansible_*`` keys), ``warnings`` and ``deprecations`` only when there are any, exit code 1 with
    ``failed``."""
    if not isinstance(result, dict):
        result = {"failed": True, "msg": "lab backend returned %r instead of a dict" % type(result).__name__}
    shaped = {"changed": False}
    shaped.update(result)
    warnings = [str(w) for w in shaped.pop("warnings", None) or []]
    deprecations = [_deprecation(d) for d in shaped.pop("deprecations", None) or []]
    if args is not None and "invocation" not in shaped:
        shaped["invocation"] = {"module_args": module_args_of(args)}
    if warnings:
        shaped["warnings"] = warnings
    if deprecations:
        shaped["deprecations"] = deprecations
    return ExecResult(_json_out(shaped), b"", 1 if shaped.get("failed") else 0)


def unhandled_exception_result(exc):
    result = {"failed": True, "msg": "Unhandled exception while executing module: %s" % exc,
              "exception": "".join(traceback.format_exception(exc))}
    return ExecResult(_json_out(result), b"", 1)


def execute(runtime, user, command_line, stdin, cancelled):
    """Run ``command_line`` with ``stdin`` on host ``runtime`` (a ``LabHost``); returns :class:`ExecResult`."""
    try:
        line = psexec.parse_command_line(command_line)
    except psexec.DecodeError as exc:
        return ExecResult(b"", ("lab: %s\r\n" % exc).encode(), 1)
    if not line.is_powershell or line.script is None:
        return not_emulated_result("the command %r" % _short(command_line))
    if not line.is_bootstrap:
        if is_temp_cleanup(line.script):
            return ExecResult()
        return not_emulated_result("the PowerShell script %r" % _short(line.script))
    try:
        request = psexec.decode_bootstrap_input(stdin)
    except psexec.DecodeError as exc:
        return ExecResult(b"", ("lab: cannot decode Ansible's exec manifest: %s\r\n" % exc).encode(), 1)
    if not request.is_module:
        return run_helper_script(user, request)
    return run_module(runtime, user, request, cancelled)


_REMOVE_ITEM = re.compile(r"^Remove-Item '(?P<path>(?:[^']|'')*)' -Force(?: -Recurse)?;$")


def is_temp_cleanup(script):
    """True for the shell plugin's ``remove()`` of Ansible temporary paths (``ansible-tmp-*``)."""
    lines = [line.strip() for line in script.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith(("Set-StrictMode", "If (-not $?)"))]
    matches = [_REMOVE_ITEM.match(line) for line in lines]
    return bool(matches) and all(m and m.group("path").replace("''", "'").rstrip("\\").rsplit("\\", 1)[-1]
                                 .startswith("ansible-") for m in matches)


def user_profile(user):
    return "C:\\Users\\%s" % (user or "Administrator").split("\\")[-1].split("@")[0]


def expand_environment(text, user):
    """``[Environment]::ExpandEnvironmentVariables`` for the few variables Ansible paths use."""
    profile = user_profile(user)
    values = {"TEMP": profile + "\\AppData\\Local\\Temp", "TMP": profile + "\\AppData\\Local\\Temp",
              "USERPROFILE": profile, "SYSTEMROOT": "C:\\Windows", "WINDIR": "C:\\Windows",
              "PROGRAMDATA": "C:\\ProgramData", "SYSTEMDRIVE": "C:"}
    return re.sub(r"%([^%]+)%", lambda m: values.get(m.group(1).upper(), m.group(0)), text)


def run_helper_script(user, request):
    params = request.payload.get("params") or {}
    name = request.payload_name
    if name == "powershell_mkdtemp.ps1":
        directory = expand_environment(params.get("Directory") or "%TEMP%", user).rstrip("\\")
        path = "%s\\%s" % (directory, params.get("Name"))
        return ExecResult((path + "\r\n").encode("utf-8"))
    if name == "powershell_expand_user.ps1":
        path = params.get("Path") or ""
        if path == "~":
            path = user_profile(user)
        elif path.startswith("~\\"):
            path = user_profile(user) + path[1:]
        return ExecResult((path + "\r\n").encode("utf-8"))
    return not_emulated_result("the Ansible exec script %s" % name, json_stdout=True)


def _short(text, limit=120):
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def run_module(runtime, user, request, cancelled):
    fqcn = request.module_fqcn
    args = request.module_args
    cost = float(getattr(runtime, "module_cost", 0) or 0)
    if cost > 0 and cancelled.wait(cost):  # the wrapper's start; ctrl_c ends it early
        return ExecResult(b"", b"", EXIT_CTRL_C)
    context = ModuleContext(
        host=runtime.model, user=user, now=runtime.clock(),
        check_mode=bool(args.get("_ansible_check_mode")), diff=bool(args.get("_ansible_diff")),
        become=request.become, async_=request.async_, environment=request.environment,
        cancelled=cancelled, runtime=runtime, request=request)
    if fqcn == "ansible.windows.async_status":
        return finish_result(runtime.async_jobs.status(args), args)
    if context.async_:
        return finish_result(runtime.async_jobs.start(context, lambda: _call_backend(runtime, fqcn, args, context)),
                             args)
    return _call_backend(runtime, fqcn, args, context)


def _call_backend(runtime, fqcn, args, context):
    try:
        result = runtime.backend.run_module(fqcn, args, context)
    except Exception as exc:  # the module "threw": what module_wrapper.ps1 reports
        return unhandled_exception_result(exc)
    try:
        return finish_result(result, args)
    except (TypeError, ValueError, KeyError) as exc:  # a result PowerShell could not have printed
        return unhandled_exception_result(exc)


class AsyncJobs:
    """Async jobs of one host, keyed by job id (``ansible_job_id``)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._jobs = {}

    def start(self, context, run):
        info = context.async_
        jid = info["jid"]
        results_file = "%s\\%s" % ((info.get("async_dir") or "C:\\Users\\Administrator\\.ansible_async").rstrip("\\"),
                                   jid)
        job = {"started": True, "finished": False, "ansible_job_id": jid, "results_file": results_file}
        with self._lock:
            self._jobs[jid] = job

        def worker():
            done = run()
            try:
                result = json.loads(done.stdout.decode("utf-8"))
            except ValueError:
                result = {"failed": True, "msg": "module output is not JSON"}
            result.update({"finished": True, "ansible_job_id": jid, "results_file": results_file})
            with self._lock:
                self._jobs[jid] = result

        threading.Thread(target=worker, name="lab-async-%s" % jid, daemon=True).start()
        return dict(job)

    def status(self, args):
        jid = args.get("jid")
        with self._lock:
            job = self._jobs.get(jid)
            if job is not None and args.get("mode") == "cleanup":
                self._jobs.pop(jid, None)
                return {"ansible_job_id": jid, "erased": job["results_file"], "started": 1, "finished": 1}
        if job is None:
            return {"failed": True, "ansible_job_id": jid, "started": 1, "finished": 1,
                    "msg": "could not find job at 'C:\\Users\\Administrator\\.ansible_async'"}
        job = dict(job)
        job["started"], job["finished"] = 1, 1 if job.get("finished") else 0
        return job
