# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""The JSON contract of the host module ``patchwave.windows.scan`` (``plugins/modules/scan.ps1``).

The action plugin validates every result the host returns against these schemas, and the lab
produces its results from them, so the two sides cannot drift silently. The schemas use a small
subset of JSON Schema (type, required, properties, additionalProperties, items, enum, minimum),
checked by ``validate`` below, so no third-party library is needed on the controller.

The host module runs in rounds, as ``ansible.windows.win_updates`` does:

* ``_operation: start`` starts the WUA search in a process outside the WinRM logon (a scheduled
  task) and returns at once with a ``scan_id``;
* ``_operation: poll`` returns progress and, once the search has ended, the ``scan`` result;
  the worker keeps the result until it is acknowledged, so a lost poll answer is re-sent;
* ``_operation: cancel`` acknowledges (or aborts) and removes everything the scan left behind.
"""

from __future__ import annotations

CONTRACT_VERSION = 1

OPERATIONS = ("start", "poll", "cancel")
SERVER_SELECTIONS = ("default", "managed_server", "windows_update", "offline")
# OperationResultCode (MS-UAMG): what WUA says of a finished search.
RESULT_CODES = {0: "NotStarted", 1: "InProgress", 2: "Succeeded", 3: "SucceededWithErrors", 4: "Failed", 5: "Aborted"}
REBOOT_BEHAVIORS = {0: "NeverReboots", 1: "AlwaysRequiresReboot", 2: "CanRequestReboot"}
REBOOT_SOURCES = ("wua", "component_based_servicing", "windows_update", "pending_file_rename",
                  "pending_computer_rename", "server_manager")

_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": ["string", "null"]}
_BOOL = {"type": "boolean"}
_INT = {"type": "integer"}

UPDATE_SCHEMA = {
    "type": "object",
    "required": ["update_id", "revision_number", "title", "kb_article_ids", "is_installed", "is_hidden",
                 "is_downloaded", "reboot_behavior", "max_download_size", "msrc_severity", "categories",
                 "superseded_update_ids"],
    "additionalProperties": False,
    "properties": {
        "update_id": _STRING,
        "revision_number": {"type": "integer", "minimum": 0},
        "title": _STRING,
        "kb_article_ids": {"type": "array", "items": _STRING},
        "is_installed": _BOOL,
        "is_hidden": _BOOL,
        "is_downloaded": _BOOL,
        "reboot_behavior": {"type": "integer", "enum": sorted(REBOOT_BEHAVIORS)},
        "max_download_size": {"type": "integer", "minimum": 0},
        "msrc_severity": _NULLABLE_STRING,
        "categories": {"type": "array", "items": {
            "type": "object", "required": ["id", "name", "type"], "additionalProperties": False,
            "properties": {"id": _STRING, "name": _STRING, "type": _STRING}}},
        "superseded_update_ids": {"type": "array", "items": _STRING},
        # IUpdate2.RebootRequired: installed, and a restart is outstanding to finish it. Optional so
        # that messages written before it existed stay valid.
        "reboot_required": _BOOL,
    },
}

SCAN_SCHEMA = {
    "type": "object",
    "required": ["scan_id", "mode", "server_selection", "started", "finished", "result_code", "hresult",
                 "wua_version", "reboot_pending", "reboot_sources", "last_boot", "updates", "warnings"],
    "additionalProperties": False,
    "properties": {
        "scan_id": _STRING,
        "mode": {"type": "string", "enum": ["online", "offline"]},
        "server_selection": {"type": "string", "enum": list(SERVER_SELECTIONS)},
        "started": _STRING,
        "finished": _STRING,
        "result_code": {"type": "integer", "enum": sorted(RESULT_CODES)},
        "hresult": {"type": ["integer", "null"]},
        "error": _NULLABLE_STRING,
        "wua_version": _STRING,
        "reboot_pending": _BOOL,
        "reboot_sources": {"type": "array", "items": {"type": "string", "enum": list(REBOOT_SOURCES)}},
        "last_boot": _STRING,
        "worker": {"type": "string", "enum": ["scheduled_task", "in_process"]},
        "updates": {"type": "array", "items": UPDATE_SCHEMA},
        "warnings": {"type": "array", "items": {
            "type": "object", "required": ["context", "hresult"], "additionalProperties": False,
            "properties": {"context": _INT, "hresult": _INT}}},
    },
}

START_SCHEMA = {
    "type": "object",
    "required": ["changed", "operation", "scan_id"],
    "properties": {
        "changed": _BOOL,
        "operation": {"type": "string", "enum": ["start"]},
        "scan_id": _STRING,
        "worker": {"type": "string", "enum": ["scheduled_task", "in_process"]},
        # a start that failed on a COM call (the Task Scheduler's HRESULT, unsigned)
        "hresult": {"type": ["integer", "null"]},
        # work folders (patchwave-<kind>-<id>) of stale scans and installs the start removed
        "stale_removed": {"type": "array", "items": _STRING},
        # a failed start: true when the host refused to start the worker (a failed scan), absent when
        # the request itself was refused (bad arguments, no offline scan file). Internal: not in RETURN.
        "worker_start_failed": _BOOL,
    },
}

POLL_SCHEMA = {
    "type": "object",
    "required": ["changed", "operation", "scan_id", "state"],
    "properties": {
        "changed": _BOOL,
        "operation": {"type": "string", "enum": ["poll"]},
        "scan_id": _STRING,
        "state": {"type": "string", "enum": ["running", "done", "lost"]},
        "progress": {"type": "object"},
        "scan": SCAN_SCHEMA,
        # state lost: why, what the worker's bootstrap wrote before it died (worker_error.txt), and
        # the task's LastTaskResult (unsigned; null once the task is gone).
        "msg": _STRING,
        "worker_error": _NULLABLE_STRING,
        "last_task_result": {"type": ["integer", "null"]},
    },
}

CANCEL_SCHEMA = {
    "type": "object",
    "required": ["changed", "operation", "scan_id", "cleaned"],
    "properties": {
        "changed": _BOOL,
        "operation": {"type": "string", "enum": ["cancel"]},
        "scan_id": _STRING,
        "cleaned": _BOOL,
    },
}

RESULT_SCHEMAS = {"start": START_SCHEMA, "poll": POLL_SCHEMA, "cancel": CANCEL_SCHEMA}

_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def _type_ok(value, expected):
    for name in expected if isinstance(expected, list) else [expected]:
        if name == "integer":
            if isinstance(value, int) and not isinstance(value, bool):
                return True
        elif isinstance(value, _TYPES[name]):
            return True
    return False


def validate(value, schema, path="result"):
    """Return a list of problems (empty when ``value`` follows ``schema``); each names its path."""
    problems = []
    if "type" in schema and not _type_ok(value, schema["type"]):
        return ["%s: expected %s, got %s" % (path, schema["type"], type(value).__name__)]
    if "enum" in schema and value not in schema["enum"]:
        problems.append("%s: %r is not one of %s" % (path, value, schema["enum"]))
    if "minimum" in schema and isinstance(value, int) and value < schema["minimum"]:
        problems.append("%s: %r is below %r" % (path, value, schema["minimum"]))
    if isinstance(value, dict):
        for key in schema.get("required", ()):
            if key not in value:
                problems.append("%s: missing '%s'" % (path, key))
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key in properties:
                problems.extend(validate(item, properties[key], "%s.%s" % (path, key)))
            elif schema.get("additionalProperties") is False:
                problems.append("%s: unexpected '%s'" % (path, key))
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            problems.extend(validate(item, schema["items"], "%s[%d]" % (path, index)))
    return problems


def validate_result(operation, result):
    """Problems with a host module result for ``operation``, ignoring Ansible's own keys."""
    own = {k: v for k, v in result.items() if not k.startswith("_ansible") and k not in ("invocation", "warnings",
                                                                                         "deprecations", "failed",
                                                                                         "msg", "exception")}
    return validate(own, RESULT_SCHEMAS[operation], "%s result" % operation)
