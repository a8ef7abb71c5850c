# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of ``patchwave.windows.scan``: decide, drive the host module, record the result.

The host module (``plugins/modules/scan.ps1``) only gathers. Here: arguments are validated, the
unforced-scan rule is applied against the store (after ingesting pending state messages), the
host module is driven through start / poll / cancel rounds (polls are retried on connection
errors; cancel always runs), every result is checked against the shared JSON contract, and the
outcome becomes a state message in the spool. The fork never writes to the database.
"""

from __future__ import annotations

import re
import sqlite3

from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.query import current_version
from ansible_collections.patchwave.windows.plugins.module_utils._scan import hresults as _hresults
from ansible_collections.patchwave.windows.plugins.module_utils._scan.contract import (
    REBOOT_BEHAVIORS,
    RESULT_CODES,
    validate_result,
)
from ansible_collections.patchwave.windows.plugins.module_utils._scan.ingest import ingest
from ansible_collections.patchwave.windows.plugins.module_utils._scan.previous import last_attempts, last_good_scan
from ansible_collections.patchwave.windows.plugins.module_utils._scan.spool import write_message
from ansible_collections.patchwave.windows.plugins.module_utils._store.address import (
    redact,
    resolve_spool,
    resolve_store_address,
)
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_collections.patchwave.windows.plugins.module_utils._store.errors import StoreError
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import parse_time, utc_now
from ansible_collections.patchwave.windows.plugins.plugin_utils._arguments import validate_task_arguments
from ansible_collections.patchwave.windows.plugins.plugin_utils._rounds import RECONNECT_TIMEOUT, TRANSIENT, HostRounds

display = Display()

MODULE = "patchwave.windows.scan"
_TTL = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"": 3600, "s": 1, "m": 60, "h": 3600, "d": 86400}

ARGUMENT_SPEC = dict(
    server_selection=dict(type="str", default="default",
                          choices=["default", "managed_server", "windows_update", "offline"]),
    offline_scan_file=dict(type="str"),
    include_hidden=dict(type="bool", default=True),
    search_criteria=dict(type="str", default="IsInstalled=0 or IsInstalled=1"),
    force=dict(type="bool", default=False),
    scan_ttl=dict(type="str", default="24h"),
    poll_interval=dict(type="float", default=5.0),
    timeout=dict(type="int", default=3600),
    reconnect_timeout=dict(type="int", default=RECONNECT_TIMEOUT),
    store=dict(type="str"),
    spool=dict(type="path"),
)
INTERNAL_OPTIONS = ("_operation", "_operation_options")  # host-module options only _rounds.py sets
HOST_OPTIONS = ("server_selection", "offline_scan_file", "include_hidden", "search_criteria")


def parse_ttl(text):
    """'24h', '90m', '2d', '3600s' (or a bare number of hours) as seconds; ValueError otherwise."""
    match = _TTL.match(str(text))
    if not match:
        raise ValueError("scan_ttl %r is not a duration like 24h, 90m, 2d or 3600s" % (text,))
    return int(match.group(1)) * _UNITS[match.group(2)]


def _count(number, noun):
    return "%d %s%s" % (number, noun, "" if number == 1 else "s")


def age_in_words(seconds):
    """'less than a minute ago', '1 minute ago', '2 hours 5 minutes ago', '3 days 1 hour ago'."""
    minutes = int(seconds) // 60
    if minutes < 1:
        return "less than a minute ago"
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    if days:
        parts = [_count(days, "day")] + ([_count(hours, "hour")] if hours else [])
    else:
        parts = ([_count(hours, "hour")] if hours else []) + ([_count(minutes, "minute")] if minutes else [])
    return " ".join(parts) + " ago"


def skip_reason(last, current_version, ttl_seconds, now, attempt=None):
    """Why an unforced scan can be skipped, or None when it must run (pure: tested alone).

    ``attempt`` is the host's last attempt (``_scan/previous.last_attempts``): after a failed one
    the scan always runs, whatever the age of the last good scan.
    """
    if last is None or (attempt is not None and attempt["failed"]):
        return None
    if current_version is not None and last["catalog_version"] != current_version:
        return None
    # Age on the controller's clock (when the result was received); the host's clock may be off.
    received = last.get("received") or last["finished"]
    age = (now - parse_time(received)).total_seconds()
    if age < 0 or age >= ttl_seconds:
        return None
    return ("the last good scan (received %s, %s) is younger than scan_ttl and was made against the "
            "current catalog version %s" % (received, age_in_words(age), current_version))


_CREDENTIAL_MARKERS = ("credentials were rejected", "unauthorized", "authentication failed", "logon failure",
                       "access is denied")
# HTTP status 401 as a number of its own: a port such as 34011 in "port=34011" is no 401.
_STATUS_401 = re.compile(r"(?<![\d.])401(?![\d.])")


def attempt_failure(exc):
    """``credentials`` or ``unreachable``: why the controller could not run the scan on a host."""
    text = to_text(exc).lower()
    if any(marker in text for marker in _CREDENTIAL_MARKERS) or _STATUS_401.search(text):
        return "credentials"
    return "unreachable"


def request_failure(failure):
    """The attempt failure a failed round stands for, or None when the host failed the search.

    Before the worker started, a refused request (bad arguments, an offline scan file that is not
    there) or a connection lost while starting says nothing of the host's updates. The host
    refusing to start the worker, a worker lost or stopped by the timeout, and a failed search do:
    the host did not scan (Unknown, scan failed).
    """
    if failure.get("round") == "start_connection":
        return "connection"
    if failure.get("round") == "start" and not failure.get("worker_start_failed"):
        return "request"
    return None


def offline_file_missing(scan):
    """True for an offline scan that failed because its scan file is not there (nothing was searched)."""
    hresult = scan.get("hresult")
    return scan.get("mode") == "offline" and hresult is not None and _hresults.unsigned(hresult) in _hresults.SCAN_FILE_MISSING


def summarize_scan(scan):
    """The user-facing shape of a host scan result (names instead of codes)."""
    described = _hresults.describe(scan["hresult"])
    return {
        "mode": scan["mode"],
        "server_selection": scan["server_selection"],
        "started": scan["started"],
        "finished": scan["finished"],
        "result_code": scan["result_code"],
        "result": RESULT_CODES[scan["result_code"]],
        "hresult": described["hresult"],
        "hresult_name": described["name"],
        "hresult_meaning": described["meaning"],
        "error": scan.get("error"),
        "wua_version": scan["wua_version"],
        "reboot_pending": scan["reboot_pending"],
        "reboot_sources": scan["reboot_sources"],
        "last_boot": scan["last_boot"],
        "update_count": len(scan["updates"]),
        "updates": [{
            "update_id": u["update_id"].lower(),
            "revision_number": u["revision_number"],
            "kb": u["kb_article_ids"][0] if u["kb_article_ids"] else None,
            "kbs": list(u["kb_article_ids"]),
            "title": u["title"],
            "installed": u["is_installed"],
            "hidden": u["is_hidden"],
            "downloaded": u["is_downloaded"],
            "reboot_behavior": REBOOT_BEHAVIORS[u["reboot_behavior"]],
            "max_download_size": u["max_download_size"],
            "severity": u["msrc_severity"],
            "categories": u["categories"],
            "superseded_ids": [s.lower() for s in u["superseded_update_ids"]],
        } for u in scan["updates"]],
    }


def _add_messages(result, messages):
    """Add the host's warnings and deprecations to those the task already has."""
    for key, items in messages.items():
        result.setdefault(key, []).extend(items)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        self._supports_async = False
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        problem, args = self._validate_arguments(self._task.args)
        if problem:  # the arguments cannot even be read (an unknown option, a wrong type): nothing to record
            return dict(result, failed=True, msg=problem)
        host = task_vars.get("inventory_hostname") or self._play_context.remote_addr
        spool = resolve_spool(args["spool"], args["store"])
        problem = self._check_arguments(args)
        if problem and self._task.check_mode:
            return dict(result, failed=True, msg=problem)
        if problem:
            # An invalid request says nothing of the host's updates: recorded as a failed attempt, the
            # host keeps its state (docs/compliance.md).
            message = write_message(spool, host, "scan_attempt", {"failure": "request", "reason": problem,
                                                                  "server_selection": args["server_selection"]},
                                    forced=args["force"])
            return dict(result, failed=True, changed=False, msg=problem, state_message=message,
                        attempt={"failed": True, "failure": "request", "reason": problem})
        try:
            current_version, last, attempt = self._host_state(args["store"], spool, host, needs_history=not args["force"])
        except ValueError as exc:  # a setting such as PATCHWAVE_HISTORY_DAYS is wrong: nothing was done
            return dict(result, failed=True, msg=to_text(exc))
        except (StoreError, sqlite3.Error, OSError) as exc:
            # Without the store the TTL cannot be checked: scan anyway and keep the result in the
            # spool, where the next reader that reaches the store ingests it. Nothing is lost.
            display.warning("the store is unavailable (%s); scanning %s without the TTL check, the result waits "
                            "in the spool %s" % (to_text(exc), host, spool))
            current_version, last, attempt = None, None, None
            result["store_unavailable"] = True
        if current_version is None and not result.get("store_unavailable"):
            _add_messages(result, {"warnings": [
                "the store %s holds no catalog version: this scan is recorded, but compliance cannot be "
                "evaluated against it until catalog_sync (playbook patchwave.windows.sync_catalog) has "
                "synced a catalog" % redact(resolve_store_address(args["store"]))]})
        reason = None if args["force"] else skip_reason(last, current_version, parse_ttl(args["scan_ttl"]), utc_now(),
                                                        attempt)
        result.update(catalog_version=current_version, skipped=False, skip_reason=None)
        if reason:
            return dict(result, changed=False, skipped=True, skip_reason=reason)
        if self._task.check_mode:
            return dict(result, changed=True, msg="check mode: a %s scan would run" % args["server_selection"])

        host_args = {name: args[name] for name in HOST_OPTIONS if args[name] is not None}
        rounds = HostRounds(self, MODULE, host_args, task_vars, validate_result, "scan_id", "scan", noun="scan")

        def record(kind, body):
            return write_message(spool, host, kind, dict(body, server_selection=args["server_selection"]),
                                 catalog_version=current_version, forced=args["force"])

        def failed_attempt(cause, reason, **fields):
            """An attempt that said nothing of the host's updates: recorded apart, the host keeps its state."""
            return dict(result, failed=True, changed=False, msg=reason,
                        state_message=record("scan_attempt", {"failure": cause, "reason": reason}),
                        attempt={"failed": True, "failure": cause, "reason": reason}, **fields)

        try:
            scan, failure = rounds.run(args["timeout"], args["poll_interval"], reconnect_timeout=args["reconnect_timeout"])
        except TRANSIENT as exc:
            # Unreachable (down, refused, credentials rejected): Ansible's unreachable, not failed.
            _add_messages(result, rounds.messages())
            attempt = failed_attempt(attempt_failure(exc), "host unreachable during the scan: %s" % to_text(exc),
                                     unreachable=True)
            del attempt["failed"]
            return attempt
        _add_messages(result, rounds.messages())
        if failure is not None:
            described = _hresults.describe(failure.get("hresult"))
            codes = dict(hresult=described["hresult"], hresult_name=described["name"], hresult_meaning=described["meaning"])
            cause = request_failure(failure)
            if cause:
                return failed_attempt(cause, failure["msg"], **codes)
            message = record("scan_failure", {"error": failure["msg"], "hresult": failure.get("hresult")})
            return dict(result, failed=True, changed=False, msg=failure["msg"], state_message=message,
                        attempt={"failed": True, "failure": "scan_failed", "reason": failure["msg"]}, **codes)
        succeeded = scan["result_code"] in (2, 3)
        if not succeeded and offline_file_missing(scan):
            # The offline scan file named in the task is not there: nothing was searched.
            return failed_attempt("request", "the offline scan file %s was not found on the host: %s"
                                  % (args["offline_scan_file"], scan.get("error") or "no error text"),
                                  scan=summarize_scan(scan))
        message = write_message(spool, host, "scan", scan, catalog_version=current_version, forced=args["force"])
        summary = summarize_scan(scan)
        # A scan that found the host's updates changed what the store knows; one that failed did not.
        result.update(changed=succeeded, scan=summary, state_message=message,
                      attempt={"failed": not succeeded, "failure": None if succeeded else "scan_failed",
                               "reason": None if succeeded else scan.get("error")})
        if not succeeded:
            result.update(failed=True, msg="the Windows Update search failed: %s %s (%s)" % (
                summary["hresult"], summary["hresult_name"], summary["hresult_meaning"]))
        return result

    @staticmethod
    def _validate_arguments(task_args):
        """``(problem, args)``: the task's arguments checked against ARGUMENT_SPEC."""
        return validate_task_arguments(MODULE, ARGUMENT_SPEC, INTERNAL_OPTIONS, task_args)

    @staticmethod
    def _check_arguments(args):
        try:
            parse_ttl(args["scan_ttl"])
        except ValueError as exc:
            return str(exc)
        if args["server_selection"] == "offline" and not args["offline_scan_file"]:
            return "server_selection=offline needs offline_scan_file (a path or UNC share on the host)"
        if args["offline_scan_file"] and args["server_selection"] != "offline":
            return "offline_scan_file is only used with server_selection=offline"
        if args["reconnect_timeout"] < 0:
            return "reconnect_timeout must be 0 or more (seconds)"
        if args["poll_interval"] < 0 or args["timeout"] <= 0:
            return "poll_interval must be 0 or more and timeout more than 0"
        return None

    @staticmethod
    def _host_state(store_option, spool, host, needs_history=True):
        """The catalog version and, for an unforced scan, the host's last good scan.

        Host state is read only after pending state messages are ingested; a forced scan needs no
        host state, so it only reads the catalog version and leaves the database to others.
        """
        store = open_store(resolve_store_address(store_option))
        try:
            last = attempt = None
            if needs_history:
                ingest(store, spool)
                last = last_good_scan(store, host)
                attempt = last_attempts(store, host).get(host)
            current = current_version(store)
            return current, last, attempt
        finally:
            store.close()
