# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""The JSON contract of the host module ``patchwave.windows.host_workers`` (``plugins/modules/host_workers.ps1``).

The lab (``tests/lab/wua.py``) builds its answers to the same schema, and the tests hold the
PowerShell's result keys to it. A worker is one piece of work a host module started in its own
process on the host (``PatchwaveTask.psm1``: a folder ``%SystemRoot%\\Temp\\patchwave-<kind>-<id>``
and, while it starts, a scheduled task of the same name). The schemas use the subset of JSON Schema
that ``_scan/contract.validate`` checks.
"""

from __future__ import annotations

KINDS = ("scan", "install")
# Get-PatchwaveWork: running (its worker runs or is being started), finished (its result waits for
# the controller), abandoned (past its give-up time, or its worker ended without a result: stale).
STATES = ("running", "finished", "abandoned")
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DURATION_PATTERN = r"^\s*(\d+)\s*([smhd])\s*$"

_STRING = {"type": "string"}

WORKER_SCHEMA = {
    "type": "object",
    "required": ["kind", "work_id", "owner", "started", "give_up_at", "state", "alive", "task_name", "folder"],
    "additionalProperties": False,
    "properties": {
        "kind": _STRING,
        "work_id": _STRING,
        "owner": {"type": ["string", "null"]},  # the SID of the user who started it; null without work.json
        "started": _STRING,
        "give_up_at": _STRING,
        "state": {"type": "string", "enum": list(STATES)},
        "alive": {"type": "boolean"},  # its task or worker process still runs (an abandoned worker may)
        "task_name": _STRING,
        "folder": _STRING,
    },
}

RESULT_SCHEMA = {
    "type": "object",
    "required": ["changed", "workers", "removed"],
    "properties": {
        "changed": {"type": "boolean"},
        "workers": {"type": "array", "items": WORKER_SCHEMA},
        # work names (patchwave-<kind>-<id>) removed, or that would be in check mode
        "removed": {"type": "array", "items": _STRING},
    },
}


def older_than_error(text):
    """The message both sides fail with when ``older_than`` is not a duration."""
    return ("older_than '%s' is not a duration: give a number and a unit, s, m, h or d, for example 90m or 2h."
            % text)
