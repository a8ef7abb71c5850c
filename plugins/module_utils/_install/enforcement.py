# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Enforcement state messages: what installation says of each update and each deployment on a host.

Every step of an install writes one state message into the spool (``write_enforcement``), with the
same atomic write and ingest as scans; compliance applies an update's state when it is newer than
the host's deciding scan (``_compliance/rules.apply_enforcement``). The message format is
``_scan/messages.ENFORCEMENT_SCHEMA``; the states mirror Configuration Manager's topics 402
(SUM_CI_ENFORCEMENT, per update) and 301 (SUM_ASSIGNMENT_ENFORCEMENT, per deployment).
"""

from __future__ import annotations

import datetime

from ansible_collections.patchwave.windows.plugins.module_utils._scan.messages import (
    DEPLOYMENT_ENFORCEMENT_STATES,
    UPDATE_ENFORCEMENT_STATES,
    WINDOW_REASONS,
)
from ansible_collections.patchwave.windows.plugins.module_utils._scan.spool import write_message
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import format_time

__all__ = ("UPDATE_ENFORCEMENT_STATES", "DEPLOYMENT_ENFORCEMENT_STATES", "WINDOW_REASONS", "CONFIGMGR_STATES",
           "write_enforcement", "waiting_for_window_detail", "not_attempted_detail")

# Each state and the ConfigMgr (topic, state id) it mirrors; None where ConfigMgr has no such state
# (it reports a failed download of an update as a failed deployment download, 301/9).
CONFIGMGR_STATES = {
    "update": {
        "downloading": (402, 12), "downloaded": (402, 13), "download_failed": (402, 14), "installing": (402, 8),
        "installed": (402, 10), "pending_restart": (402, 9), "failed": (402, 11), "waiting_for_window": (402, 4),
        "not_attempted": None,
    },
    "deployment": {
        "in_progress": (301, 1), "compliant": (300, 1), "non_compliant": (300, 2), "failed": (301, 6),
    },
}


def _time(value):
    """An instant as store time text; any other figure (minutes, text, None) as it is."""
    return format_time(value) if isinstance(value, datetime.datetime) else value


def waiting_for_window_detail(would_start, needs_minutes, window_ends, next_window=None):
    """``detail`` of ``waiting_for_window``: "would start 02:10, needs 60 min, window ends 02:45".

    Instants are aware datetimes or store time text; ``next_window`` when one is known."""
    detail = {"would_start": _time(would_start), "needs_minutes": int(needs_minutes), "window_ends": _time(window_ends)}
    if next_window is not None:
        detail["next_window"] = _time(next_window)
    return detail


def not_attempted_detail(reason, **figures):
    """``detail`` of ``not_attempted``: the reason (``WINDOW_REASONS`` make the update Required
    ``not_attempted_window``) and any figures that explain it."""
    detail = {"reason": reason}
    detail.update((key, _time(value)) for key, value in figures.items())
    return detail


def write_enforcement(spool, host, deployment, update_id, state, hresult=None, detail=None, created=None):
    """Write one enforcement state message into ``spool``; return its path.

    ``deployment`` is None for ad hoc work; ``update_id`` None for the state of the deployment on
    the host (``DEPLOYMENT_ENFORCEMENT_STATES``), else the update's state
    (``UPDATE_ENFORCEMENT_STATES``). ``hresult`` as a signed or unsigned 32-bit integer;
    ``created`` (store time text) is stamped from the controller's clock when left out, as for
    scans. A body that breaks the format raises ValueError naming the host and the problem.
    """
    body = {"deployment": deployment, "update_id": update_id.lower() if isinstance(update_id, str) else update_id,
            "state": state, "hresult": hresult, "detail": dict(detail or {})}
    return write_message(spool, host, "enforcement", body, created=created)
