# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""The compliance report as CSV, one row per host and set, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io

from ansible_collections.patchwave.windows.plugins.module_utils._compliance.report_data import kb_label
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.rules import (
    INSTALLED,
    NOT_REQUIRED,
    REQUIRED,
    UNKNOWN,
    empty_counts,
)

# Per host the figure is its Required updates, a count: a percentage of the set's pairs reads 98.5 % for a
# host missing 20 updates of a large set.
# ``set_updates`` is the set's size: 0 marks a set that selects no update (the report warns of it).
# ``last_attempt*`` is the newest attempt, which may have failed without changing the host's state.
CSV_COLUMNS = ("host", "set", "set_updates", "compliance", "required_updates", "not_required", "installed", "unknown",
               "required_kbs", "last_scan", "mode", "catalog_version", "status", "error", "last_attempt",
               "last_attempt_failure", "last_attempt_reason")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """A CSV cell that a spreadsheet cannot run as a formula: text starting with = + - @ (or a tab
    or carriage return) gets a leading apostrophe. Numbers are left alone."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return value
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _kb_order(update):
    """Required updates by KB number (numerically), then those without a KB by update id."""
    kb = str(update.get("kb") or "")
    return (0, int(kb), "") if kb.isdigit() else (1 if kb else 2, kb, update.get("update_id") or "")


def render_csv(data):
    """One row per host and set."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for set_name, result in data["sets"].items():
        for host in sorted(result["host_compliance"]):
            counts = result["host_counts"].get(host, empty_counts())
            facts = data["hosts"].get(host, {})
            scan = facts.get("scan") or facts.get("last_good") or {}
            kbs = " ".join(kb_label(r) for r in sorted(result["host_required"].get(host, []), key=_kb_order))
            attempt = facts.get("last_attempt") or {}
            writer.writerow([csv_cell(v) for v in (
                host, set_name, result["updates"], result["host_compliance"][host],
                counts.get(REQUIRED, 0), counts.get(NOT_REQUIRED, 0), counts.get(INSTALLED, 0), counts.get(UNKNOWN, 0),
                kbs, scan.get("finished"), scan.get("mode"), scan.get("catalog_version"), facts.get("status"),
                (facts.get("scan") or {}).get("error"), attempt.get("time"), attempt.get("failure"),
                attempt.get("reason"))])
    return out.getvalue()


# One row per deployment and host: the host's state in the deployment and what explains it, and its result in
# the newest wave that installs the deployment on it (empty when none does).
DEPLOYMENT_CSV_COLUMNS = ("deployment", "update_list", "list_version", "host", "state", "reason", "targeted",
                          "deployment_state", "last_report", "updates_installed", "updates_pending_restart",
                          "updates_waiting", "updates_failed", "failed_kbs", "hresults", "would_start", "wave", "ring",
                          "wave_outcome", "wave_reason", "wave_attempts")


def render_deployments_csv(data):
    """One row per deployment and host (``<basename>_deployments.csv``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(DEPLOYMENT_CSV_COLUMNS)
    for deployment in data.get("deployments", ()):
        for host, entry in sorted(deployment["hosts"].items()):
            states = list(entry["updates"].values())
            wave = entry["wave"] or {}
            failures = entry["failures"]
            hresult_texts = sorted({"%s %s" % (f["hresult"]["code"], f["hresult"]["name"]) for f in failures
                                    if f["hresult"]})
            starts = sorted(w["would_start"] for w in entry["waiting"] if w.get("would_start"))
            writer.writerow([csv_cell(v) for v in (
                deployment["name"], deployment["update_list"], deployment["list_version"], host, entry["state"],
                entry["reason"], entry["targeted"], entry["deployment_state"], entry["reported"],
                states.count("installed"), states.count("pending_restart"), len(entry["waiting"]), len(failures),
                " ".join(f["kb"] or f["update_id"] for f in failures), "; ".join(hresult_texts),
                starts[0] if starts else None, wave.get("wave"), wave.get("ring"), wave.get("outcome"),
                wave.get("reason"), wave.get("attempts"))])
    return out.getvalue()
