# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""The JSON contract of the host module ``patchwave.windows.install`` (``plugins/modules/install.ps1``).

The action plugin (``plugins/action/install.py``) checks every answer against these schemas and
the lab (``tests/lab/install.py``) builds its answers from them, so the two sides cannot drift.
The schemas use the subset of JSON Schema that ``_scan/contract.validate`` checks.

The controller decides; the host only does what it is told. Operations (``_operation``):

* ``status``: the host's clock, last boot, pending-reboot probes and free space on the system
  drive. The controller measures the host's clock offset from it before it plans, and polls it
  after a reboot until the boot time has changed.
* ``start``: starts the install worker (outside the WinRM logon, ``_host/PatchwaveTask.psm1``)
  with the controller's ``batches`` (one ``Install()`` call each, every update with the latest
  instant, on the host's clock, at which it may start) and ``content`` (where the files come
  from); returns an ``install_id`` at once.
* ``poll``: progress (download and install percent of the update at hand) and, once the worker has
  ended, the ``install`` result; the worker keeps it until ``cancel``.
* ``cancel``: acknowledges the result, or stops the worker between two updates, and removes the
  work folder.
* ``reboot``: restarts the host (``shutdown.exe /r``, after ``reboot_delay_seconds``); answers
  before the restart with the boot time it had.

Module options besides ``_operation`` / ``_operation_options`` (``OPTION_NAMES``): ``batches``,
``content``, ``server_selection``, ``accept_eula``, ``predownload`` (fetch and verify content for every
update of the batches whatever its latest start, hand it to WUA, install nothing: each such update
is ``not_attempted`` with the reason ``predownload``).

``batches``: ``[{"updates": [{"update_id", "max_run_time_minutes", "latest_start_host"}]}]``;
``latest_start_host`` is ISO 8601 UTC with ``Z`` on the host's clock, or null when no window binds
the update. Before each ``Install()`` call the worker keeps the updates of the batch while the
host's clock plus the maximum run times of those before it in the call is not after their latest
start; the first that would start late, and every later update of the batch, is ``not_attempted``
with the reason ``window`` (``_install/plan.startable`` is the same rule in Python).

``content``: ``{"source": "wua"}`` (WUA's own downloader, from the host's configured server) or
``{"source": "distribution_point", "base_url": "http://dp/Content" | "\\\\server\\share\\folder",
"files": [{"update_id", "child_id", "file_name", "path", "size", "sha1", "sha256"}]}``: the worker
fetches ``base_url`` + ``path`` (the WSUS layout, ``/``-separated) for the files of the updates it
installs, checks size and every digest given, and hands each bundled child (``child_id``, the
update id whose files they are: the bundle's member, or the update itself) its own files with
``IUpdate2.CopyToCache``.
"""

from __future__ import annotations

from ansible_collections.patchwave.windows.plugins.module_utils._scan.contract import REBOOT_SOURCES, validate

CONTRACT_VERSION = 1

OPERATIONS = ("status", "start", "poll", "cancel", "reboot")
OPTION_NAMES = ("batches", "content", "server_selection", "accept_eula", "predownload")
SERVER_SELECTIONS = ("default", "managed_server", "windows_update")
CONTENT_SOURCES = ("wua", "distribution_point")
# OperationResultCode (MS-UAMG 2.2.4), for the whole install and for each update's download and install.
RESULT_CODES = {0: "NotStarted", 1: "InProgress", 2: "Succeeded", 3: "SucceededWithErrors", 4: "Failed", 5: "Aborted"}
# What happened to one update the controller asked for.
UPDATE_OUTCOMES = ("installed", "failed", "download_failed", "not_attempted")
# Why an update was not attempted:
#   window: it would have started after its latest start (the host's clock);
#   not_found: the worker's search (IsInstalled=0) did not return it (installed meanwhile, superseded, expired);
#   installed_already: the search returned it as installed;
#   prerequisite_failed: an earlier update of its batch failed and it was left;
#   cancelled: the controller cancelled the worker before its call.
#   predownload: the run only fetched the content (``predownload``), whatever the window.
NOT_ATTEMPTED_REASONS = ("window", "not_found", "installed_already", "prerequisite_failed", "cancelled", "predownload")
PHASES = ("starting", "searching", "downloading", "installing", "finishing")

_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": ["string", "null"]}
_NULLABLE_INT = {"type": ["integer", "null"]}
_BOOL = {"type": "boolean"}

UPDATE_RESULT_SCHEMA = {
    "type": "object",
    "required": ["update_id", "title", "kb_article_ids", "batch", "outcome", "not_attempted_reason", "downloaded",
                 "download_result_code", "download_hresult", "result_code", "hresult", "error", "reboot_required",
                 "started", "finished", "content_error"],
    "additionalProperties": False,
    "properties": {
        "update_id": _STRING,
        "title": _NULLABLE_STRING,                 # null when the search did not return the update
        "kb_article_ids": {"type": "array", "items": _STRING},
        "batch": {"type": "integer", "minimum": 0},  # index of the batch (Install() call) it belonged to
        "outcome": {"type": "string", "enum": list(UPDATE_OUTCOMES)},
        "not_attempted_reason": {"type": ["string", "null"], "enum": list(NOT_ATTEMPTED_REASONS) + [None]},
        "downloaded": _BOOL,                       # IUpdate.IsDownloaded after the download step
        "download_result_code": {"type": ["integer", "null"], "enum": sorted(RESULT_CODES) + [None]},
        "download_hresult": _NULLABLE_INT,         # unsigned 32-bit
        "result_code": {"type": ["integer", "null"], "enum": sorted(RESULT_CODES) + [None]},
        "hresult": _NULLABLE_INT,                  # IUpdateInstallationResult.HResult, unsigned
        "error": _NULLABLE_STRING,                 # text of a failure the HRESULT alone does not say
        "reboot_required": _BOOL,                  # IUpdateInstallationResult.RebootRequired
        "started": _NULLABLE_STRING,               # host clock, ISO 8601 Z: when its Install() call began
        "finished": _NULLABLE_STRING,
        # distribution point content: why the host could not use the files (unreachable, size or
        # digest mismatch naming the file, CopyToCache's HRESULT)
        "content_error": _NULLABLE_STRING,
    },
}

INSTALL_SCHEMA = {
    "type": "object",
    "required": ["install_id", "started", "finished", "result_code", "hresult", "error", "reboot_required",
                 "updates", "content_source"],
    "additionalProperties": False,
    "properties": {
        "install_id": _STRING,
        "started": _STRING,
        "finished": _STRING,
        "result_code": {"type": "integer", "enum": sorted(RESULT_CODES)},
        "hresult": _NULLABLE_INT,                  # a failure of the whole run (the search, the session)
        "error": _NULLABLE_STRING,
        "reboot_required": _BOOL,                  # ISystemInformation.RebootRequired at the end
        "content_source": {"type": "string", "enum": list(CONTENT_SOURCES)},
        "worker": {"type": "string", "enum": ["scheduled_task", "in_process"]},
        "updates": {"type": "array", "items": UPDATE_RESULT_SCHEMA},
    },
}

PROGRESS_SCHEMA = {
    "type": "object",
    "required": ["phase", "updated"],
    "properties": {
        "phase": {"type": "string", "enum": list(PHASES)},
        "updated": _STRING,                        # host clock: when the worker last wrote progress
        "batch": _NULLABLE_INT,
        "update_id": _NULLABLE_STRING,
        "download_percent": _NULLABLE_INT,
        "install_percent": _NULLABLE_INT,
        "done": {"type": "integer", "minimum": 0},   # updates finished (any outcome)
        "total": {"type": "integer", "minimum": 0},
    },
}

STATUS_SCHEMA = {
    "type": "object",
    "required": ["changed", "operation", "host_time", "last_boot", "reboot_pending", "reboot_sources",
                 "free_space_bytes"],
    "properties": {
        "changed": _BOOL,
        "operation": {"type": "string", "enum": ["status"]},
        "host_time": _STRING,                      # the host's clock, ISO 8601 UTC with Z
        "last_boot": _STRING,
        "reboot_pending": _BOOL,
        "reboot_sources": {"type": "array", "items": {"type": "string", "enum": list(REBOOT_SOURCES)}},
        "free_space_bytes": {"type": "integer", "minimum": 0},  # on the system drive
    },
}

START_SCHEMA = {
    "type": "object",
    "required": ["changed", "operation", "install_id"],
    "properties": {
        "changed": _BOOL,
        "operation": {"type": "string", "enum": ["start"]},
        "install_id": _STRING,
        "worker": {"type": "string", "enum": ["scheduled_task", "in_process"]},
        "hresult": _NULLABLE_INT,
        "stale_removed": {"type": "array", "items": _STRING},
        "worker_start_failed": _BOOL,
    },
}

POLL_SCHEMA = {
    "type": "object",
    "required": ["changed", "operation", "install_id", "state"],
    "properties": {
        "changed": _BOOL,
        "operation": {"type": "string", "enum": ["poll"]},
        "install_id": _STRING,
        "state": {"type": "string", "enum": ["running", "done", "lost"]},
        "progress": PROGRESS_SCHEMA,
        "install": INSTALL_SCHEMA,
        "msg": _STRING,
        "worker_error": _NULLABLE_STRING,
        "last_task_result": _NULLABLE_INT,
    },
}

CANCEL_SCHEMA = {
    "type": "object",
    "required": ["changed", "operation", "install_id", "cleaned"],
    "properties": {
        "changed": _BOOL,
        "operation": {"type": "string", "enum": ["cancel"]},
        "install_id": _STRING,
        "cleaned": _BOOL,
        "aborted": _BOOL,
    },
}

REBOOT_SCHEMA = {
    "type": "object",
    "required": ["changed", "operation", "last_boot", "delay_seconds"],
    "properties": {
        "changed": _BOOL,
        "operation": {"type": "string", "enum": ["reboot"]},
        "last_boot": _STRING,                      # the boot time before the restart
        "delay_seconds": {"type": "integer", "minimum": 0},
    },
}

RESULT_SCHEMAS = {"status": STATUS_SCHEMA, "start": START_SCHEMA, "poll": POLL_SCHEMA, "cancel": CANCEL_SCHEMA,
                  "reboot": REBOOT_SCHEMA}
_ANSIBLE_KEYS = ("invocation", "warnings", "deprecations", "failed", "msg", "exception")


def validate_result(operation, result):
    """Problems with an install host module result for ``operation``, ignoring Ansible's own keys."""
    own = {k: v for k, v in result.items() if not k.startswith("_ansible") and k not in _ANSIBLE_KEYS}
    return validate(own, RESULT_SCHEMAS[operation], "%s result" % operation)
