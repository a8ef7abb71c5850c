"""The lab's emulation of the host module ``patchwave.windows.install`` (``plugins/modules/install.ps1``).

Answers follow ``plugins/module_utils/_install/contract.py`` (the tests validate every one). One
:class:`InstallEmulation` per host, owned by the host's :class:`.wua.WuaBackend` and sharing its
:class:`.hosts.WuaHost` (installed, downloaded, reboot_required, reboot sources, faults, file system
view). Operations:

* ``status``: the host's clock (with ``HostModel.clock_offset``), last boot, pending reboot and
  ``WuaHost.free_space_bytes``;
* ``start`` / ``poll`` / ``cancel``: a worker on emulated time. Nothing runs in the background: the
  worker is a small simulation advanced to the lab clock whenever someone looks (a poll, a cancel,
  ``status``, a restart), so a test with a fake clock sees exactly what the clock says. Its steps:

  1. ``searching`` (``WuaHost.search_seconds``): one IsInstalled=0 search for the run, on the
     catalog (the scans' own applicability, :meth:`.wua.CatalogSnapshot.search`): each update asked
     for is found, ``not_attempted`` ``installed_already`` or ``not_found`` (an update that becomes
     applicable only once another of the run is in stays not found: the controller's next pass
     takes it). A search fault (``search_hresult``) fails the run: what was not decided is
     ``failed`` with that HRESULT;
  2. per batch (one ``Install()`` call), in order: an update already late when the batch begins
     (the host's clock past its ``latest_start_host``) waits with the rest of the batch, unfetched
     (``window``);
  3. ``downloading`` each other update (``WuaHost.download_seconds`` each) unless WUA has it
     already: content source ``wua`` marks it downloaded (or fails with the ``download_hresult``
     fault); ``distribution_point`` really fetches ``base_url`` + ``/`` + ``path`` of each file
     given for the update (HTTP(S) with urllib, no proxy; a UNC ``base_url`` through the host's
     :class:`.hosts.FileSystemView`), checks the size and every digest given, then the CopyToCache
     rule: the files given for each ``child_id`` must be exactly the catalog's files of that update,
     and every bundled update with files must get its own;
  4. right before the call, ``_install/plan.startable`` on the host's clock (``window`` for those
     left), then ``installing`` each update of the call (``WuaHost.install_seconds``, or
     ``install_seconds_by_update[id]``): Succeeded, or Failed with the ``install_hresult`` fault;
     a success joins ``installed`` (and ``reboot_required`` with the reboot source ``wua`` when its
     reboot behaviour is AlwaysRequiresReboot or CanRequestReboot, or it is a ``loop_updates`` id).

  Durations are emulated seconds x the backend's ``time_scale`` on the lab clock. A restart of the
  host while the worker runs loses it (``state: lost``), as for scans; ``cancel`` stops it before
  the next download or call (an Install() call under way finishes) and forgets the work. ``start``
  refuses what install.ps1 refuses (:func:`request_problem`, and a second install while one runs),
  then removes stale work of any kind (``stale_removed``), by the scans' rule.
* ``reboot``: answers at once with the boot time before; after ``reboot_delay_seconds`` the host
  goes down (every connection dropped, connections refused), stays down ``WuaHost.reboot_seconds``
  and comes back with a new ``HostModel.boot_time`` (the moment it came up) and its shells forgotten;
  meanwhile what waited for the restart is plainly installed, ``reboot_required`` and the reboot
  sources are cleared, and ``loop_updates`` are uninstalled again. ``never_returns``: the host goes
  down and stays down. Both delays are emulated seconds x ``time_scale`` (at least
  :attr:`InstallEmulation.min_reboot_delay` real seconds before going down, so the answer reaches the
  client first, as ``shutdown.exe /r /t N`` gives it time to).

Every call is counted per operation (:attr:`InstallEmulation.calls`, shown by ``status``).
"""

import collections
import datetime
import hashlib
import os
import re
import socket
import sqlite3
import ssl
import threading
import time
import urllib.error
import urllib.request
import uuid
from urllib.parse import quote

from .wua import (
    DEFAULT_GIVE_UP_SECONDS,
    E_ACCESSDENIED,
    ERROR_FILE_NOT_FOUND,
    LOCAL_SYSTEM,
    SCHED_S_TASK_HAS_NOT_RUN,
    WORK_ROOT,
    LabCatalogError,
    ModuleArgumentError,
    _is_guid,
    _owner_sid,
    _user_sid,
    com_error_text,
    iso,
)

from ansible_collections.patchwave.windows.plugins.module_utils._distribution.layout import digest_hex  # noqa: E402
from ansible_collections.patchwave.windows.plugins.module_utils._install import contract  # noqa: E402
from ansible_collections.patchwave.windows.plugins.module_utils._install.plan import startable  # noqa: E402
from ansible_collections.patchwave.windows.plugins.module_utils._scan.contract import REBOOT_SOURCES  # noqa: E402
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import parse_time  # noqa: E402

FQCN = "patchwave.windows.install"
KIND = "install"

# HRESULTs the emulation produces (unsigned 32-bit).
# BITS reports an HTTP status as BG_E_HTTP_ERROR_<status> = 0x80190000 + status (bits.h / bitsmsg.h,
# "BITS Return Values" in Microsoft's documentation: BG_E_HTTP_ERROR_404 is 0x80190194).
BG_E_HTTP_ERROR_BASE = 0x80190000
# WinINet errors as HRESULTs (HRESULT_FROM_WIN32 of ERROR_INTERNET_*, wininet.h): what BITS and
# .NET report when the server cannot be reached.
ERROR_INTERNET_TIMEOUT = 0x80072EE2          # 12002
ERROR_INTERNET_NAME_NOT_RESOLVED = 0x80072EE7  # 12007
ERROR_INTERNET_CANNOT_CONNECT = 0x80072EFD   # 12029
ERROR_INTERNET_SECURE_FAILURE = 0x80072F8F   # 12175: the server's certificate is not trusted
# HRESULT_FROM_WIN32(ERROR_BAD_NETPATH) (winerror.h): "The network path was not found.", a share
# nobody serves; a share that is there without the file: ERROR_FILE_NOT_FOUND (0x80070002).
ERROR_BAD_NETPATH = 0x80070035
# HRESULT_FROM_WIN32(ERROR_LOGON_FAILURE) (winerror.h 1326): "The user name or password is incorrect."
ERROR_LOGON_FAILURE = 0x8007052E
STATUS_LOGON_FAILURE = 0xC000006D  # the NTSTATUS an SMB server answers a refused session setup with (MS-ERREF)
# WU_E_DM_INCORRECTFILEHASH (wuerror.h; "Windows Update error codes by component", download manager
# errors): "The file digest did not match the expected value". The worker checks size and digests
# itself before handing files to WUA, and reports a mismatch with WUA's own code for one.
WU_E_DM_INCORRECTFILEHASH = 0x80246002
# IUpdate2::CopyToCache (wuapi.h) documents E_ACCESSDENIED (called from a remote computer),
# E_INVALIDARG ("A parameter value is invalid") and WU_E_INVALID_OPERATION (locked down), and says
# it works only when the files given are exactly those WUA would download on that machine: files
# that are not are the invalid parameter, E_INVALIDARG.
E_INVALIDARG = 0x80070057
# WU_E_DM_NOTDOWNLOADED (wuerror.h: "The update has not been downloaded."; IUpdate::CopyFromCache
# documents it as "The files are not downloaded."): an update, or a bundled update of it, the
# controller gave no file of, so WUA has nothing in its cache to install it from.
WU_E_DM_NOTDOWNLOADED = 0x80246007

_REBOOTING = (1, 2)  # REBOOT_BEHAVIORS: AlwaysRequiresReboot, CanRequestReboot
_NEVER = float("inf")

# -- arguments, as Ansible.Basic checks install.ps1's $spec ---------------------------------------

_FILE_OPTIONS = {
    "update_id": {"type": "str", "required": True},
    "child_id": {"type": "str", "required": True},
    "file_name": {"type": "str", "required": True},
    "path": {"type": "str", "required": True},
    "size": {"type": "raw", "required": True},  # raw there too: Ansible.Basic's int is Int32, files pass 2 GiB
    "sha1": {"type": "str"},
    "sha256": {"type": "str"},
}
SPEC = {
    "_operation": {"type": "str", "required": True, "choices": contract.OPERATIONS},
    "_operation_options": {"type": "dict", "options": {
        "install_id": {"type": "str"},
        "wait_seconds": {"type": "int", "default": 0},
        "give_up_seconds": {"type": "int", "default": 0},
        "reboot_delay_seconds": {"type": "int", "default": 5},
    }},
    "batches": {"type": "list", "elements": "dict", "options": {
        "updates": {"type": "list", "elements": "dict", "options": {
            "update_id": {"type": "str", "required": True},
            "max_run_time_minutes": {"type": "int", "default": 60},
            "latest_start_host": {"type": "str"},
        }},
    }},
    "content": {"type": "dict", "options": {
        "source": {"type": "str", "default": "wua", "choices": contract.CONTENT_SOURCES},
        "base_url": {"type": "str"},
        "files": {"type": "list", "elements": "dict", "options": _FILE_OPTIONS},
    }},
    "server_selection": {"type": "str", "default": "default", "choices": contract.SERVER_SELECTIONS},
    "accept_eula": {"type": "bool", "default": True},
    "predownload": {"type": "bool", "default": False},
}
_TRUE = ("y", "yes", "on", "1", "true", "t", "1.0")
_FALSE = ("n", "no", "off", "0", "false", "f", "0.0")


def _convert(value, kind, name, context):
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text not in _TRUE + _FALSE:
            raise ModuleArgumentError("The value '%s' is not a valid boolean. Valid booleans include: %s"
                                      % (text, ", ".join(_TRUE + _FALSE)))
        return text in _TRUE
    if kind == "int":
        if isinstance(value, bool):
            value = int(value)
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ModuleArgumentError("argument for %s is of type %s and we were unable to convert to int%s"
                                      % (name, type(value).__name__, context))
    if kind == "str":
        if isinstance(value, (dict, list)):
            raise ModuleArgumentError("argument for %s is of type %s and we were unable to convert to str%s"
                                      % (name, type(value).__name__, context))
        return str(value)
    if kind == "dict":
        if not isinstance(value, dict):
            raise ModuleArgumentError("argument for %s is of type %s and we were unable to convert to dict%s"
                                      % (name, type(value).__name__, context))
        return value
    if kind == "list":
        return list(value) if isinstance(value, (list, tuple)) else [value]
    return value


def _where(path):
    return " found in %s" % " -> ".join(path) if path else ""


def check_options(values, spec, path=(), module=FQCN, required_if=()):
    """``values`` checked and completed as Ansible.Basic does with ``spec`` (unsupported parameters,
    required, types, choices, defaults, suboptions of dicts and lists of dicts, ``required_if``).
    Raises ModuleArgumentError with Ansible.Basic's wording."""
    context = _where(path)
    values = {k: v for k, v in (values or {}).items() if not k.startswith("_ansible_")}
    unsupported = sorted(k for k in values if k not in spec)
    if unsupported:
        raise ModuleArgumentError("Unsupported parameters for (%s) module: %s%s. Supported parameters include: %s"
                                  % (module, ", ".join(unsupported), context, ", ".join(sorted(spec))))
    missing = [name for name, option in spec.items() if option.get("required") and values.get(name) is None]
    if missing:
        raise ModuleArgumentError("missing required arguments: %s%s" % (", ".join(missing), context))
    params = {}
    for name, option in spec.items():
        value = values.get(name)
        if value is None:
            params[name] = option.get("default")
            continue
        value = _convert(value, option.get("type", "str"), name, context)
        if option.get("choices") and value not in option["choices"]:
            raise ModuleArgumentError("value of %s must be one of: %s. Got no match for: %s%s"
                                      % (name, ", ".join(option["choices"]), value, context))
        if "options" in option:
            inner = path + (name,)
            if option["type"] == "dict":
                value = check_options(value, option["options"], inner, module, option.get("required_if", ()))
            else:
                checked = []
                for item in value:
                    item = _convert(item, option.get("elements", "str"), name, context)
                    checked.append(check_options(item, option["options"], inner, module,
                                                 option.get("required_if", ())))
                value = checked
        params[name] = value
    for key, wanted, needed in required_if:
        if params.get(key) == wanted:
            absent = [n for n in needed if params.get(n) is None]
            if absent:
                raise ModuleArgumentError("%s is %s but all of the following are missing: %s%s"
                                          % (key, wanted, ", ".join(absent), context))
    return params


_BASE_URL = re.compile(r"^(https?://[^/]+|\\\\[^\\]+\\[^\\]+)", re.I)
_PLAIN_NAME = re.compile(r'^[^\\/:*?"<>|]+$')


def request_problem(batches, content):
    """What install.ps1 refuses in a start request before anything starts (its
    Get-PatchwaveInstallRequestProblem), or None."""
    count = 0
    for index, item_batch in enumerate(batches or ()):
        for item in item_batch["updates"] or ():
            count += 1
            if not _is_guid(item["update_id"]):
                return "batches[%d]: update_id '%s' is not a GUID" % (index, item["update_id"])
            latest = item["latest_start_host"]
            if latest is not None:
                try:
                    parse_time(latest)
                except ValueError:
                    return "batches[%d]: latest_start_host '%s' of %s is not an ISO 8601 time" % (
                        index, latest, item["update_id"])
            if item["max_run_time_minutes"] < 0:
                return "batches[%d]: max_run_time_minutes of %s is negative" % (index, item["update_id"])
    if not count:
        return "batches has no updates: give the Install() calls to make"
    if not content or content["source"] != "distribution_point":
        return None
    base = content["base_url"] or ""
    if not _BASE_URL.match(base):
        return "content.base_url '%s' is neither an http(s):// URL nor a UNC path (\\\\server\\share)" % base
    files = content["files"] or []
    if not files:
        return "content.files is empty: a distribution point needs the files of the updates"
    for item in files:
        name = item["file_name"]
        for value in (item["update_id"], item["child_id"]):
            if not _is_guid(value):
                return "content file '%s': '%s' is not a GUID" % (name, value)
        if not _PLAIN_NAME.match(name) or name in (".", ".."):
            return "content file '%s': the name must be one plain file name" % name
        path = item["path"]
        if not path or "\\" in path or ":" in path or any(p in ("", ".", "..") for p in path.split("/")):
            return "content file '%s': path '%s' must be relative, /-separated, without '..'" % (name, path)
        if isinstance(item["size"], bool) or not re.fullmatch(r"[+-]?\d+", str(item["size"]).strip()) or int(item["size"]) < 0:
            return "content file '%s': size '%s' is not a whole number of bytes" % (name, item["size"])
        if not item["sha1"] and not item["sha256"]:
            return "content file '%s': it has no SHA-1 or SHA-256 to check it with" % name
    return None


def parse_module_args(args):
    """install.ps1's parameters as Ansible.Basic gives them; ModuleArgumentError otherwise."""
    params = check_options(args, SPEC)
    if params["_operation_options"] is None:
        params["_operation_options"] = check_options({}, SPEC["_operation_options"]["options"],
                                                     ("_operation_options",))
    return params


# -- the catalog's files (CopyToCache) ------------------------------------------------------------

class CatalogFiles:
    """Each update's files as the store's catalog lists them (``update_files`` + ``files``), and
    bundles' members; loaded once per (store, catalog version)."""

    _cache = {}
    _lock = threading.Lock()

    def __init__(self, files, members, languages=None):
        self.files = files      # update id -> [{"file_name", "size", "sha1", "sha256"}] (hex digests)
        self.members = members  # bundle id -> member ids
        self.languages = languages or {}  # update id -> the languages it is for (none: language-neutral)

    def for_languages(self, update_id, languages):
        """True when the update is language-neutral or for one of ``languages``."""
        own = self.languages.get(update_id)
        return not own or bool(own & {language.lower() for language in languages})

    @classmethod
    def load(cls, store_path, version):
        key = (os.path.abspath(store_path), version)
        with cls._lock:
            found = cls._cache.get(key)
        if found is not None:
            return found
        connection = sqlite3.connect("file:%s?mode=ro" % quote(key[0]), uri=True, timeout=30)
        try:
            files, members = {}, {}
            for uid, name, sha1, sha256, size in connection.execute(
                    "SELECT x.update_id, x.file_name, f.sha1, f.sha256, f.size FROM update_files x "
                    "JOIN files f ON f.file_id = x.file_id ORDER BY x.update_id, x.file_name"):
                files.setdefault(uid, []).append({"file_name": name, "size": size, "sha1": _hex(sha1, "sha1"),
                                                  "sha256": _hex(sha256, "sha256")})
            for bundle, member in connection.execute("SELECT bundle_id, member_id FROM update_bundles"):
                members.setdefault(bundle, []).append(member)
            languages = {}
            for uid, language in connection.execute("SELECT update_id, language FROM update_languages"):
                languages.setdefault(uid, set()).add(language.lower())
        finally:
            connection.close()
        found = cls(files, members, languages)
        with cls._lock:
            cls._cache[key] = found
            while len(cls._cache) > 8:
                cls._cache.pop(next(iter(cls._cache)))
        return found


def _hex(value, algorithm):
    if not value:
        return None
    try:
        return digest_hex(value, algorithm)
    except ValueError:
        return None


def copy_to_cache_problem(catalog_files, given):
    """Why IUpdate2.CopyToCache refuses ``given`` (the files handed over for one child update) when
    the catalog lists ``catalog_files`` for it, or None. A file given matches a catalog file by SHA-1,
    else SHA-256, else (no digest given) by name; the two lists must match one to one."""
    left = list(catalog_files)
    extra = []
    for item in given:
        sha1, sha256 = _hex(item.get("sha1"), "sha1"), _hex(item.get("sha256"), "sha256")
        for index, known in enumerate(left):
            if (sha1 and known["sha1"] == sha1) or (not sha1 and sha256 and known["sha256"] == sha256) or \
                    (not sha1 and not sha256 and known["file_name"].lower() == item["file_name"].lower()):
                del left[index]
                break
        else:
            extra.append(item["file_name"])
    if not extra and not left:
        return None
    parts = []
    if extra:
        parts.append("not files of this update: %s" % ", ".join(extra))
    if left:
        parts.append("missing: %s" % ", ".join(k["file_name"] for k in left))
    return "; ".join(parts)


# -- fetching a file, as the worker does ---------------------------------------------------------

class FetchError(Exception):
    def __init__(self, hresult, text):
        super().__init__(text)
        self.hresult = hresult


def _digests(stream):
    sha1, sha256, size = hashlib.sha1(), hashlib.sha256(), 0
    while True:
        chunk = stream.read(1024 * 1024)
        if not chunk:
            return size, sha1.hexdigest().upper(), sha256.hexdigest().upper()
        size += len(chunk)
        sha1.update(chunk)
        sha256.update(chunk)


def fetch_file(base_url, path, fs, ca_file=None, timeout=30):
    """``(size, sha1 hex, sha256 hex)`` of ``base_url`` + ``path`` as the host reads it: HTTP(S) with
    urllib (no proxy), or a UNC/drive path through the host's file system view. FetchError otherwise."""
    if base_url.lower().startswith(("http://", "https://")):
        url = base_url.rstrip("/") + "/" + path.lstrip("/")
        handlers = [urllib.request.ProxyHandler({})]
        if url.lower().startswith("https://"):
            context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
            handlers.append(urllib.request.HTTPSHandler(context=context))
        opener = urllib.request.build_opener(*handlers)
        try:
            with opener.open(url, timeout=timeout) as response:
                return _digests(response)
        except urllib.error.HTTPError as exc:
            raise FetchError(BG_E_HTTP_ERROR_BASE + exc.code, "%s: HTTP %d %s" % (url, exc.code, exc.reason))
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, ssl.SSLError):
                raise FetchError(ERROR_INTERNET_SECURE_FAILURE, "%s: the server's certificate is not trusted (%s)"
                                 % (url, reason))
            if isinstance(reason, socket.gaierror):
                raise FetchError(ERROR_INTERNET_NAME_NOT_RESOLVED, "%s: the server name cannot be resolved" % url)
            if isinstance(reason, (socket.timeout, TimeoutError)):
                raise FetchError(ERROR_INTERNET_TIMEOUT, "%s: the server did not answer in time" % url)
            raise FetchError(ERROR_INTERNET_CANNOT_CONNECT, "%s: cannot connect to the server (%s)" % (url, reason))
        except (socket.timeout, TimeoutError):
            raise FetchError(ERROR_INTERNET_TIMEOUT, "%s: the server did not answer in time" % url)
        except OSError as exc:
            raise FetchError(ERROR_INTERNET_CANNOT_CONNECT, "%s: the connection failed (%s)" % (url, exc))
    host_path = base_url.rstrip("\\/") + "\\" + path.replace("/", "\\").lstrip("\\")
    smb = fs.smb_location(host_path)
    if smb is not None:
        return _fetch_smb(host_path, smb[0], smb[1], timeout)
    local = fs.resolve(host_path)
    if local is None:
        raise FetchError(ERROR_BAD_NETPATH, "%s: The network path was not found." % host_path)
    try:
        with open(local, "rb") as handle:
            return _digests(handle)
    except OSError:
        raise FetchError(ERROR_FILE_NOT_FOUND, "%s: The system cannot find the file specified." % host_path)


def _fetch_smb(host_path, share, parts, timeout):
    """Read a file from a real SMB share (the tests' Samba) with smbprotocol, as the worker's
    ``File.Copy`` reads a UNC path; the digests as ``fetch_file`` gives them."""
    from smbprotocol.exceptions import SMBException  # pylint: disable=import-outside-toplevel

    unc = "\\\\%s\\%s\\%s" % (share["server"], share["share"], "\\".join(parts))
    # Every lab host lives in this one process, and smbprotocol gives all its connections the same client
    # GUID. With many hosts fetching at once (make demo's 20), a connection was seen closed under a fetch
    # ("SMB socket was closed"), likely Samba taking the connections for one client's; a real host has a
    # GUID of its own, so such a drop is the lab's and the fetch is tried again (at most 4 times).
    for attempt in range(4):
        try:
            return _fetch_smb_once(host_path, unc, share, timeout, SMBException)
        except _SmbDropped as exc:
            if attempt == 3:
                raise FetchError(ERROR_BAD_NETPATH, "%s: The network path was not found (%s)." % (host_path, exc))
            time.sleep(0.2 * (attempt + 1))
    return None  # not reached


class _SmbDropped(Exception):
    """The lab's SMB connection was closed under a fetch (see _fetch_smb)."""


def _fetch_smb_once(host_path, unc, share, timeout, smb_exception):
    import smbclient  # pylint: disable=import-outside-toplevel
    from smbprotocol.exceptions import SMBAuthenticationError, SMBConnectionClosed  # pylint: disable=import-outside-toplevel

    cache = {}  # a connection of this fetch's own: lab hosts share the process
    try:
        # share_access "r": others may read it meanwhile, as File.Copy opens its source (FILE_SHARE_READ);
        # smbprotocol's default is no sharing, and a second host reading the same file would be refused
        with smbclient.open_file(unc, mode="rb", share_access="r", port=share["port"], username=share["username"],
                                 password=share["password"], connection_cache=cache,
                                 connection_timeout=timeout) as handle:
            return _digests(handle)
    except SMBAuthenticationError as exc:
        raise FetchError(ERROR_LOGON_FAILURE, "%s: The user name or password is incorrect (%s)" % (host_path, exc))
    except FileNotFoundError:
        raise FetchError(ERROR_FILE_NOT_FOUND, "%s: The system cannot find the file specified." % host_path)
    except PermissionError:
        raise FetchError(E_ACCESSDENIED, "%s: Access is denied." % host_path)
    except SMBConnectionClosed as exc:
        raise _SmbDropped(str(exc))
    except (smb_exception, OSError, ValueError) as exc:
        if getattr(exc, "ntstatus", None) == STATUS_LOGON_FAILURE:  # smbprotocol's SMBOSError of the session setup
            raise FetchError(ERROR_LOGON_FAILURE, "%s: The user name or password is incorrect." % host_path)
        if "socket was closed" in str(exc):
            raise _SmbDropped(str(exc))
        raise FetchError(ERROR_BAD_NETPATH, "%s: The network path was not found (%s)." % (host_path, exc))
    finally:
        try:
            smbclient.reset_connection_cache(connection_cache=cache)
        except (smb_exception, OSError):
            pass  # a connection already closed


# -- the worker -----------------------------------------------------------------------------------

class _Install:
    """One install worker: its arguments and how far the simulation has come (lab clock)."""

    def __init__(self, install_id, params, worker, started_at, boot_time, owner):
        self.install_id = install_id
        self.batches = [list(b["updates"]) for b in (params["batches"] or [])]
        self.content = params["content"] or {"source": "wua", "base_url": None, "files": None}
        self.predownload = bool(params.get("predownload"))
        self.worker = worker
        self.started_at = started_at
        self.boot_time = boot_time
        self.owner = owner
        self.give_up = started_at + (params["_operation_options"]["give_up_seconds"] or DEFAULT_GIVE_UP_SECONDS)
        self.lock = threading.RLock()
        self.results = {}          # update id -> UPDATE_RESULT_SCHEMA dict (first batch that names it)
        self.order = []            # update ids in the order asked
        for index, batch in enumerate(self.batches):
            for item in batch:
                if item["update_id"] not in self.results:
                    self.order.append(item["update_id"])
                    self.results[item["update_id"]] = _update_result(item["update_id"], index)
        self.phase = "starting"
        self.at = started_at       # the simulation's clock: everything before it has happened
        self.next_at = None        # when the current step ends
        self.step = None           # ("search",) | ("download", uid) | ("install", uid)
        self.step_started = started_at
        self.queue = collections.deque()
        self.batch_index = -1
        self.call_started = None
        self.found = set()         # ids the worker's search returned as needed
        self.run_error = None      # (hresult, text) of a failure of the whole run
        self.result = None
        self.lost = None
        self.worker_error = None
        self.last_task_result = None
        self.done_count = 0

    @property
    def alive(self):
        return self.result is None and not self.lost


def _update_result(update_id, batch):
    return {"update_id": update_id, "title": None, "kb_article_ids": [], "batch": batch, "outcome": "not_attempted",
            "not_attempted_reason": None, "downloaded": False, "download_result_code": None,
            "download_hresult": None, "result_code": None, "hresult": None, "error": None,
            "reboot_required": False, "started": None, "finished": None, "content_error": None}


class InstallEmulation:
    """``patchwave.windows.install`` on one host (see the module docstring). ``backend`` is the
    host's :class:`.wua.WuaBackend` (catalog, time scale, WUA state)."""

    # real seconds a reboot waits at least before the host goes down, so the answer gets out first
    min_reboot_delay = 0.5

    def __init__(self, backend):
        self.backend = backend
        self.host = backend.host
        self.wua = backend.wua
        self._installs = {}
        self._lock = threading.Lock()
        self._timers = set()
        self._closed = False
        self.calls = collections.Counter()   # module runs per operation
        self.reboots = 0                     # restarts done (the host came back)
        self.rebooting = None                # "scheduled" | "down" | None
        self.rebooted = threading.Event()    # set each time the host is back (tests wait on it)

    @property
    def time_scale(self):
        return self.backend.time_scale

    def _offset(self):
        return float(self.host.clock_offset or 0)

    def _host_iso(self, at):
        return iso(at + self._offset())

    # the module ---------------------------------------------------------------------------------

    def run(self, args, context):
        try:
            params = parse_module_args(args)
        except ModuleArgumentError as exc:
            return {"failed": True, "changed": False, "msg": str(exc)}
        invocation = dict(params)
        if args.get("_operation_options") is None:
            invocation["_operation_options"] = None
        operation = params["_operation"]
        with self._lock:
            self.calls[operation] += 1
        if self.host.boot_time is None:
            self.host.boot_time = context.now - 3 * 86400
        result = getattr(self, "_" + operation)(params, context)
        return dict(result, invocation={"module_args": invocation})

    def _status(self, params, context):
        state = self.wua
        with state.lock:
            sources = [s for s in REBOOT_SOURCES if s in state.reboot_sources]
            free = int(state.free_space_bytes)
        return {"changed": False, "operation": "status", "host_time": iso(context.host_now),
                "last_boot": self._host_iso(self.host.boot_time), "reboot_pending": bool(sources),
                "reboot_sources": sources, "free_space_bytes": max(0, free)}

    def _start(self, params, context):
        install_id = str(uuid.uuid4())
        worker = "in_process" if context.become else "scheduled_task"
        base = {"changed": False, "operation": "start", "install_id": install_id, "worker": worker}
        content = params["content"]
        problem = request_problem(params["batches"], content)
        if problem:
            return dict(base, failed=True, msg="The install request is refused: %s." % problem)
        if context.check_mode:
            return base
        base["stale_removed"] = self.backend._remove_stale(context.now, context.user, kind=KIND)
        # two installers at once would refuse each other (WU_E_INSTALL_NOT_ALLOWED) halfway through
        for other in self.workers(context.now):
            if other["state"] == "running":
                return dict(base, failed=True, msg=(
                    "Install %s (started %s) is still running on this host; start again once it has ended, or "
                    "cancel it." % (other["work_id"], other["started"])))
        faults = self.wua.faults
        source = content["source"] if content else "wua"
        if worker == "scheduled_task" and faults.scheduled_task_blocked:
            denied = com_error_text(E_ACCESSDENIED)
            return dict(base, failed=True, hresult=E_ACCESSDENIED, worker_start_failed=True, msg=(
                "Failed to start the install worker (scheduled_task, content from %s): Could not start the task "
                "patchwave-install-%s as %s (S4U): %s; as %s (SYSTEM): %s" % (
                    source, install_id, _user_sid(self.host), denied, LOCAL_SYSTEM, denied)))
        if worker == "scheduled_task" and faults.s4u_blocked:
            base["warnings"] = [
                "The install task could not start as %s (S4U): The task is not running (state 3, last result "
                "0x%08X); enable the Microsoft-Windows-TaskScheduler/Operational log for details. The install runs "
                "as SYSTEM, which reaches shares with the computer account only."
                % (_user_sid(self.host), SCHED_S_TASK_HAS_NOT_RUN)]
        base["changed"] = True
        try:
            self.backend.catalog()
        except LabCatalogError as exc:
            return dict(base, changed=False, failed=True, msg="lab: %s" % exc)
        work = _Install(install_id, params, worker, context.now, self.host.boot_time, context.user)
        work.next_at = context.now  # the search starts at once
        with self._lock:
            self._installs[install_id] = work
        return base

    def _work_id(self, params, operation):
        install_id = params["_operation_options"]["install_id"]
        if not install_id:
            return None, "_operation_options.install_id is required for %s." % operation
        if not _is_guid(install_id):
            return None, "The install id '%s' is not a GUID." % install_id
        return install_id, None

    def _poll(self, params, context):
        base = {"changed": False, "operation": "poll"}
        install_id, problem = self._work_id(params, "poll")
        if problem:
            return dict(base, install_id=install_id or "", failed=True, msg=problem)
        base["install_id"] = install_id
        options = params["_operation_options"]
        with self._lock:
            work = self._installs.get(install_id)
        if work is None:
            return dict(base, state="lost", worker_error=None, last_task_result=None, msg=(
                "install %s is lost: the host has no folder for it (never started here, or already cleaned up)"
                % install_id))
        if options["give_up_seconds"]:
            work.give_up = context.now + options["give_up_seconds"]
        now = context.now
        self.settle(work, now)
        clock = getattr(context.runtime, "clock", None)
        if options["wait_seconds"] and clock is not None:
            deadline = time.monotonic() + options["wait_seconds"]
            while work.alive and time.monotonic() < deadline and not context.cancelled.is_set():
                time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
                now = clock()
                self.settle(work, now)
        if work.lost:
            why = "install %s is lost: %s" % (install_id, work.lost)
            if work.last_task_result is not None:
                why += " (task last result 0x%08X)" % work.last_task_result
            return dict(base, state="lost", msg=why, worker_error=work.worker_error,
                        last_task_result=work.last_task_result)
        if work.result is None:
            return dict(base, state="running", progress=self._progress(work, now))
        return dict(base, state="done", install=work.result)

    def _cancel(self, params, context):
        base = {"changed": False, "operation": "cancel"}
        install_id, problem = self._work_id(params, "cancel")
        if problem:
            return dict(base, install_id=install_id or "", failed=True, msg=problem)
        base["install_id"] = install_id
        if context.check_mode:
            return dict(base, cleaned=False)
        with self._lock:
            work = self._installs.pop(install_id, None)
        aborted = False
        if work is not None:
            self.settle(work, context.now)
            with work.lock:
                if work.alive:
                    aborted = True
                    self._abort(work, context.now)
        return dict(base, cleaned=True, aborted=aborted)

    def _reboot(self, params, context):
        delay = max(0, params["_operation_options"]["reboot_delay_seconds"])
        result = {"changed": False, "operation": "reboot", "last_boot": self._host_iso(self.host.boot_time),
                  "delay_seconds": delay}
        if context.check_mode:
            return result
        self.schedule_reboot(context.runtime, delay)
        return dict(result, changed=True)

    # reboots --------------------------------------------------------------------------------------

    def schedule_reboot(self, runtime=None, delay_seconds=5):
        """Restart the host after ``delay_seconds`` emulated seconds (see the module docstring).
        ``runtime``: the LabHost (None in process: only the host's state changes)."""
        with self._lock:
            if self.rebooting or self._closed:
                return False
            self.rebooting = "scheduled"
            self.rebooted.clear()
        wait = delay_seconds * self.time_scale
        if runtime is not None:
            wait = max(wait, self.min_reboot_delay)
        self._later(wait, self._go_down, runtime)
        return True

    def _later(self, seconds, function, *args):
        def run():
            with self._lock:
                self._timers.discard(timer)
                if self._closed:
                    return
            function(*args)
        timer = threading.Timer(max(0.0, seconds), run)
        timer.daemon = True
        with self._lock:
            if self._closed:
                return
            self._timers.add(timer)
        timer.start()

    def _clock(self, runtime):
        clock = getattr(runtime, "clock", None)
        return clock() if clock is not None else time.time()

    def _go_down(self, runtime):
        down_at = self._clock(runtime)
        # what the workers did before the power went: then they are gone
        with self._lock:
            running = list(self._installs.values())
        for work in running:
            self.settle(work, down_at)
            with work.lock:
                if work.alive:
                    work.lost = "the host restarted at %s, before the install ended" % self._host_iso(down_at)
        with self._lock:
            self.rebooting = "down"
            if self._closed:  # the fleet is stopping: leave its sockets alone
                return
        if runtime is not None:
            runtime.go_down("refuse")
        if self.wua.faults.never_returns:
            return
        self._later(float(self.wua.reboot_seconds) * self.time_scale, self._come_up, runtime)

    def _come_up(self, runtime):
        state = self.wua
        with state.lock:
            loops = set(state.faults.loop_updates)
            for update_id in loops & set(state.installed):
                if update_id in state.reboot_required:
                    state.installed.discard(update_id)
                    state.downloaded.discard(update_id)
            state.reboot_required.clear()
            for source in list(state.reboot_sources):
                state.set_reboot_pending(source, False)
            self.host.boot_time = self._clock(runtime)
        with self._lock:
            self.rebooting = None
            self.reboots += 1
            closed = self._closed
        if runtime is not None and not closed:
            runtime.come_up(reset_shells=True)
        self.rebooted.set()

    def close(self):
        """Cancel pending reboot timers (the fleet stops)."""
        with self._lock:
            self._closed = True
            timers, self._timers = list(self._timers), set()
        for timer in timers:
            timer.cancel()

    # the simulation --------------------------------------------------------------------------------

    def settle(self, work, now):
        """Advance ``work`` to the lab time ``now``: as far as its worker got, or lost."""
        with work.lock:
            if not work.alive:
                return
            faults = self.wua.faults
            if faults.worker_bootstrap_error:
                work.worker_error = faults.worker_bootstrap_error
                work.lost = work.worker_error
                work.last_task_result = 1
                return
            if faults.worker_lost:
                work.lost = "the worker ended without a result (killed, or the host restarted)"
                return
            boot = self.host.boot_time
            if boot != work.boot_time:
                self._advance(work, min(now, boot or now))
                if work.alive:
                    work.lost = "the host restarted at %s, before the install ended" % self._host_iso(boot or now)
                return
            self._advance(work, now)

    def _advance(self, work, now):
        while work.alive and work.next_at is not None and work.next_at <= now:
            at = work.next_at
            work.at = at
            step = work.step
            if step is None:
                self._begin_search(work, at)
            elif step[0] == "search":
                self._search_done(work, at)
            elif step[0] == "download":
                self._download_done(work, step[1], at)
                self._next_step(work, at)
            elif step[0] == "install":
                self._install_done(work, step[1], at)
                self._next_step(work, at)
        if work.alive:
            work.at = max(work.at, min(now, work.next_at if work.next_at is not None else now))

    def _set_step(self, work, step, at, seconds, phase):
        work.step = step
        work.phase = phase
        work.step_started = at
        work.next_at = at + max(0.0, float(seconds)) * self.time_scale

    def _begin_search(self, work, at):
        self._set_step(work, ("search",), at, self.wua.search_seconds, "searching")

    def _search(self):
        state = self.wua
        with state.lock:
            installed, hidden = set(state.installed), set(state.hidden)
        return self.backend.catalog().search(state, installed, hidden), installed

    def _search_done(self, work, at):
        """One search (IsInstalled=0) for the whole run, as the worker makes it: each update asked for
        is found (then attempted in its batch), installed already, or not found."""
        hresult = self.wua.faults.search_hresult
        if hresult:
            work.run_error = (hresult, com_error_text(hresult))
            self._finish(work, at)
            return
        try:
            outcome, installed = self._search()
        except LabCatalogError as exc:
            work.run_error = (None, "lab: %s" % exc)
            self._finish(work, at)
            return
        # UpdateIDs are GUIDs: WUA compares them without regard to case
        needed = {r.update_id.lower(): r for r in outcome.needed}
        known = {r.update_id.lower(): r for r in outcome.installed}
        installed = {uid.lower() for uid in installed}
        for uid in work.order:
            result = work.results[uid]
            record = needed.get(uid.lower()) or known.get(uid.lower())
            if record is not None:
                result["title"], result["kb_article_ids"] = record.title, list(record.kbs)
            if uid.lower() in needed:
                work.found.add(uid)
            elif uid.lower() in known or uid.lower() in installed:
                result["not_attempted_reason"] = "installed_already"
                work.done_count += 1
            else:
                result["not_attempted_reason"] = "not_found"
                work.done_count += 1
        self._begin_batch(work, 0, at)

    def _host_datetime(self, at):
        return datetime.datetime.fromtimestamp(at + self._offset(), datetime.timezone.utc)

    def _begin_batch(self, work, index, at):
        """The batch's updates that were found; one already late (the host's clock past its latest
        start) waits with the rest of the batch, unfetched; the others are fetched."""
        while index < len(work.batches):
            work.batch_index = index
            pending = [item for item in work.batches[index] if item["update_id"] in work.found
                       and work.results[item["update_id"]]["batch"] == index]  # named twice: its first batch
            late = False
            fetch = []
            host_now = self._host_datetime(at)
            for item in pending:
                latest = item["latest_start_host"]
                if not work.predownload and not late and latest is not None and host_now > parse_time(latest):
                    late = True
                if late:
                    work.results[item["update_id"]]["not_attempted_reason"] = "window"
                    work.done_count += 1
                else:
                    fetch.append(item)
            if fetch:
                work.queue.extend(("download", item["update_id"]) for item in fetch)
                work.queue.append(("install_call", fetch))
                self._next_step(work, at)
                return
            index += 1
        self._finish(work, at)

    def _next_step(self, work, at):
        while work.queue:
            step = work.queue.popleft()
            if step[0] == "download":
                seconds = self.wua.download_seconds
                self._set_step(work, step, at, seconds, "downloading")
                return
            if step[0] == "install_call":
                # the startable rule, on the host's clock, right before the Install() call
                ready = [item for item in step[1] if work.results[item["update_id"]]["outcome"] == "not_attempted"]
                if work.predownload:  # install.ps1: the content is in WUA's cache; nothing installs
                    for item in ready:
                        work.results[item["update_id"]]["not_attempted_reason"] = "predownload"
                        work.done_count += 1
                    continue
                keep, left = startable(ready, self._host_datetime(at))
                for item in left:
                    work.results[item["update_id"]]["not_attempted_reason"] = "window"
                    work.done_count += 1
                work.call_started = at
                work.queue.extendleft(reversed([("install", item["update_id"]) for item in keep]))
                continue
            if step[0] == "install":
                uid = step[1]
                result = work.results[uid]
                result["started"] = self._host_iso(work.call_started)
                seconds = self.wua.install_seconds_by_update.get(uid, self.wua.install_seconds)
                self._set_step(work, step, at, seconds, "installing")
                return
        work.step = None
        work.next_at = None
        self._begin_batch(work, work.batch_index + 1, at)

    def _download_done(self, work, update_id, at):
        result = work.results[update_id]
        state = self.wua
        source = work.content["source"]
        with state.lock:
            have = update_id in state.downloaded
        if source == "wua":
            hresult = _fault_for(state.faults.download_hresult, update_id)
            if hresult:
                result.update(outcome="download_failed", download_result_code=4, download_hresult=hresult,
                              finished=self._host_iso(at))
                self._failed(work, update_id)
                return
        elif not have:
            problem = self._fetch(work, update_id)
            if problem:
                hresult, text = problem
                result.update(outcome="download_failed", download_result_code=4, download_hresult=hresult,
                              content_error=text, finished=self._host_iso(at))
                self._failed(work, update_id)
                return
        with state.lock:
            state.downloaded.add(update_id)
        result.update(downloaded=True, download_result_code=2)

    def _fetch(self, work, update_id):
        """The worker's download of one update from the distribution point: ``(hresult, text)`` or None."""
        content = work.content
        files = [f for f in content["files"] or () if f["update_id"] == update_id]
        if not files:
            return WU_E_DM_NOTDOWNLOADED, "the content names no file of update %s (0x%08X)" % (
                update_id, WU_E_DM_NOTDOWNLOADED)
        for item in files:
            try:
                size, sha1, sha256 = fetch_file(content["base_url"], item["path"], self.wua.fs, self.wua.ca_file)
            except FetchError as exc:
                return exc.hresult, "%s (%s): %s (0x%08X)" % (item["file_name"], item["path"], exc, exc.hresult)
            if size != item["size"]:
                return WU_E_DM_INCORRECTFILEHASH, "%s (%s): size %d, expected %d" % (
                    item["file_name"], item["path"], size, item["size"])
            for algorithm, actual in (("sha1", sha1), ("sha256", sha256)):
                wanted = item.get(algorithm)
                if wanted and _hex(wanted, algorithm) != actual:
                    return WU_E_DM_INCORRECTFILEHASH, "%s (%s): %s digest %s, expected %s" % (
                        item["file_name"], item["path"], algorithm.upper(), actual, _hex(wanted, algorithm) or wanted)
        try:
            catalog = CatalogFiles.load(self.backend.store, self.backend.catalog().version)
        except (LabCatalogError, sqlite3.Error) as exc:
            return E_INVALIDARG, "lab: cannot read the catalog's files: %s" % exc
        children = collections.OrderedDict()
        for item in files:
            children.setdefault(item["child_id"], []).append(item)
        allowed = {update_id} | set(catalog.members.get(update_id, ()))
        for child_id, given in children.items():
            problem = None
            if child_id not in allowed:
                problem = "%s is neither update %s nor one of its bundled updates" % (child_id, update_id)
            else:
                problem = copy_to_cache_problem(catalog.files.get(child_id, ()), given)
            if problem:
                return E_INVALIDARG, "CopyToCache of %s failed with 0x%08X: the files are not those of the update " \
                                     "(%s)" % (child_id, E_INVALIDARG, problem)
        # every bundled update (or the update itself) with files in the catalog must have had its own,
        # except members for languages the host does not have (WUA does not download those)
        without = [child for child in (catalog.members.get(update_id) or [update_id])
                   if catalog.files.get(child) and child not in children
                   and catalog.for_languages(child, self.wua.languages)]
        if without:
            return WU_E_DM_NOTDOWNLOADED, "no file given for %s of update %s: it is not downloaded (0x%08X)" % (
                ", ".join(without), update_id, WU_E_DM_NOTDOWNLOADED)
        return None

    def _install_done(self, work, update_id, at):
        result = work.results[update_id]
        state = self.wua
        work.done_count += 1
        result["finished"] = self._host_iso(at)
        hresult = _fault_for(state.faults.install_hresult, update_id)
        if hresult:
            result.update(outcome="failed", result_code=4, hresult=hresult)
            self._failed(work, update_id)
            return
        record = None
        try:
            record = self.backend.catalog().records.get(update_id)
        except LabCatalogError:
            pass
        with state.lock:
            reboot = bool(record is not None and record.reboot_behavior in _REBOOTING) or \
                update_id in state.faults.loop_updates
            state.installed.add(update_id)
            state.downloaded.add(update_id)
            if reboot:
                state.reboot_required.add(update_id)
                state.set_reboot_pending("wua")
        result.update(outcome="installed", result_code=2, reboot_required=reboot)

    def _failed(self, work, update_id):
        if work.results[update_id]["outcome"] == "download_failed":
            work.done_count += 1

    def _abort(self, work, now):
        """cancel: an Install() call under way finishes (all its updates), nothing else starts."""
        if work.step and work.step[0] == "install":
            self._install_done(work, work.step[1], now)
            while work.queue and work.queue[0][0] == "install":
                self._install_done(work, work.queue.popleft()[1], now)
        for uid in work.order:
            result = work.results[uid]
            if result["outcome"] == "not_attempted" and result["not_attempted_reason"] is None:
                result["not_attempted_reason"] = "cancelled"
        work.lost = "cancelled"
        work.next_at = None

    def _finish(self, work, at):
        state = self.wua
        work.phase = "finishing"
        work.step = None
        work.next_at = None
        results = [work.results[uid] for uid in work.order]
        installed = sum(1 for r in results if r["outcome"] == "installed")
        failed = sum(1 for r in results if r["outcome"] in ("failed", "download_failed"))
        hresult, error = work.run_error or (None, None)
        if work.run_error:
            code = 4
            for result in results:  # the worker's catch: what was not decided yet did not run
                if result["outcome"] == "not_attempted" and result["not_attempted_reason"] is None:
                    result.update(outcome="failed", hresult=hresult, error="the install did not run: %s" % error)
        elif failed:
            code = 3 if installed else 4
        else:
            code = 2
        with state.lock:
            reboot = bool(state.reboot_required) or "wua" in state.reboot_sources
        work.result = {
            "install_id": work.install_id, "started": self._host_iso(work.started_at), "finished": self._host_iso(at),
            "result_code": code, "hresult": hresult, "error": error, "reboot_required": reboot,
            "updates": results, "content_source": work.content["source"], "worker": work.worker}

    def _progress(self, work, now):
        with work.lock:
            progress = {"phase": work.phase, "updated": self._host_iso(work.step_started), "batch": None,
                        "update_id": None, "download_percent": None, "install_percent": None,
                        "done": work.done_count, "total": len(work.order)}
            if work.batch_index >= 0:
                progress["batch"] = work.batch_index
            if work.step and work.step[0] in ("download", "install"):
                span = (work.next_at or now) - work.step_started
                percent = 100 if span <= 0 else int(min(99, max(0, (now - work.step_started) * 100 / span)))
                progress["update_id"] = work.step[1]
                progress["updated"] = self._host_iso(max(work.step_started, min(now, work.next_at or now)))
                if work.step[0] == "download":
                    progress["download_percent"] = percent
                else:
                    progress["download_percent"] = 100
                    progress["install_percent"] = percent
            return progress

    # stale work, host_workers, status ------------------------------------------------------------

    @staticmethod
    def _worker_state(work, now):
        if now >= work.give_up or (work.lost and work.result is None):
            return "abandoned"
        return "finished" if work.result is not None else "running"

    def remove_stale(self, now, owner, kind):
        """Remove-PatchwaveStaleWork over the installs: abandoned ones, except a live worker of another
        kind or owner. Returns the work names removed."""
        removed = []
        with self._lock:
            works = list(self._installs.items())
        for install_id, work in works:
            self.settle(work, now)
            alive = work.alive
            if self._worker_state(work, now) != "abandoned" or (alive and (kind != KIND or work.owner != owner)):
                continue
            with self._lock:
                self._installs.pop(install_id, None)
            removed.append(work_name(install_id))
        return removed

    def workers(self, now):
        """Get-PatchwaveWork entries (WORKER_SCHEMA) of the installs."""
        found = []
        with self._lock:
            works = sorted(self._installs.items(), key=lambda item: (item[1].started_at, item[0]))
        for install_id, work in works:
            self.settle(work, now)
            name = work_name(install_id)
            found.append({"kind": KIND, "work_id": install_id, "owner": _owner_sid(self.host, work.owner),
                          "started": self._host_iso(work.started_at), "give_up_at": self._host_iso(work.give_up),
                          "state": self._worker_state(work, now), "alive": work.alive, "task_name": name,
                          "folder": "%s\\%s" % (WORK_ROOT, name)})
        return found

    def remove_all(self, install_ids):
        """host_workers ``state: absent``: forget these installs (their workers are stopped)."""
        with self._lock:
            for install_id in install_ids:
                self._installs.pop(install_id, None)

    def status(self):
        with self._lock:
            return {"installs": sorted(self._installs), "calls": dict(sorted(self.calls.items())),
                    "reboots": self.reboots, "rebooting": self.rebooting}


def _fault_for(mapping, update_id):
    if not mapping:
        return None
    return mapping.get(update_id) or mapping.get("*")


def work_name(install_id):
    return "patchwave-install-%s" % install_id
