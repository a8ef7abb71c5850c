# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""The compliance report as plain data: an Evaluation (``reads.py``) and its histories shaped for
the renderers (``report_csv``, ``report_html``) and for JSON.

Pure functions of their inputs. Everything that comes from the store (host names, titles, KBs,
errors, set names) stays as it came; the renderers escape it for their format."""

from __future__ import annotations

import json

from ansible_collections.patchwave.windows.plugins.module_utils._compliance.rules import (
    COMPLIANT,
    CORRUPT_MESSAGE,
    NEVER_SCANNED,
    NON_COMPLIANT,
    REQUIRED,
    SCAN_FAILED,
    STALE,
    UNKNOWN,
    USABLE,
    add_counts,
    count_compliance,
    percent_compliant,
    set_compliance,
)
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import format_time, parse_time

FORMATS = ("html", "csv", "json")


COMPLIANCE_TITLES = {COMPLIANT: "Compliant", NON_COMPLIANT: "Non-compliant", UNKNOWN: "Unknown"}


STATUS_TITLES = {USABLE: "Current", STALE: "Stale", SCAN_FAILED: "Scan failed", CORRUPT_MESSAGE: "Corrupt message",
                 NEVER_SCANNED: "Never scanned"}


HOST_STATUSES = (USABLE, STALE, SCAN_FAILED, CORRUPT_MESSAGE, NEVER_SCANNED)


DETAIL_TITLES = {"missing": "missing", "hidden": "hidden", "pending_reboot": "pending reboot",
                 "install_failed": "install failed", "not_attempted_window": "not attempted"}


# Age of each host's newest good scan: (label, upper bound in days).
AGE_BUCKETS = (("< 1 day", 1), ("1-3 days", 3), ("3-7 days", 7), ("7-30 days", 30), ("> 30 days", None))


def _scan_data(scan):
    if scan is None:
        return None
    return {"finished": scan.finished, "succeeded": scan.succeeded, "catalog_version": scan.catalog_version,
            "mode": scan.mode, "server_selection": scan.server_selection, "source": scan.source,
            "forced": scan.forced, "reboot_pending": scan.reboot_pending, "error": scan.error}


def percent_hosts_compliant(summary):
    """The headline figure of a set: hosts compliant as a share of the hosts, one decimal; None
    when there is no host (a share of nothing is no figure, not 100 %).

    ``summary`` is hosts per compliance state (``SetResult.summary``). A host that is Unknown
    counts in the hosts and not as compliant, as in ConfigMgr's compliance reports."""
    hosts = sum(summary.get(state, 0) for state in (COMPLIANT, NON_COMPLIANT, UNKNOWN))
    if not hosts:
        return None
    return round(100.0 * summary.get(COMPLIANT, 0) / hosts, 1)


def kb_label(update):
    return ("KB%s" % update["kb"]) if update.get("kb") else update.get("update_id", "")


def report_data(evaluation, histories=None, title="Update compliance", top=20, deployments=None, waves=None):
    """The whole evaluation as plain data (what JSON holds and HTML/CSV are rendered from).

    ``histories`` maps set name -> the list ``history.history`` returns; ``deployments`` and ``waves``
    are the parts ``report_deployments`` builds (empty when not given). The generation
    time is ``generated``; nothing else depends on the clock except what the evaluation decided
    with it (staleness, scan ages, the days of the trend).
    """
    histories = histories or {}
    now = evaluation.now
    hosts = {}
    ages = dict.fromkeys([bucket[0] for bucket in AGE_BUCKETS] + ["never"], 0)
    for name, status in evaluation.hosts.items():
        # Only the coarse age bucket is kept: an exact age would change the report on every run.
        age = None
        if status.last_good is not None:
            age = (now - parse_time(status.last_good.age_time)).total_seconds() / 86400.0
        ages[_age_bucket(age)] += 1
        hosts[name] = {"status": status.status, "scan": _scan_data(status.scan),
                       "last_good": _scan_data(status.last_good), "last_attempt": status.last_attempt}
    sets = {}
    for set_name, result in evaluation.sets.items():
        required = {}
        for host, rows in result.host_required.items():
            required[host] = [{"update_id": uid, "kb": result.updates.get(uid, {}).get("kb"), "detail": detail}
                              for uid, detail in rows]
        top_required = _top_required(result, top)
        totals = result.state_totals()
        summary = result.summary()
        sets[set_name] = {
            "updates": len(result.update_ids),
            "summary": summary,
            "percent_hosts_compliant": percent_hosts_compliant(summary),
            "state_totals": totals,
            "percent_pairs_compliant": percent_compliant(totals),
            "host_counts": result.host_counts,
            "host_compliance": result.host_compliance,
            "host_required": required,
            "update_counts": {uid: dict(result.update_counts[uid]) for uid in result.update_ids},
            "update_details": {uid: dict(facts) for uid, facts in result.updates.items()},
            "top_required": top_required,
            "history": histories.get(set_name, []),
        }
    # Overall: a host's pairs summed over the sets, judged by the same set rule.
    overall_counts = {host: add_counts(result.host_counts[host] for result in evaluation.sets.values())
                      for host in evaluation.hosts}
    overall_compliance = {host: set_compliance(counts, evaluation.hosts[host].usable, evaluation.has_catalog)
                          for host, counts in overall_counts.items()}
    overall_summary = count_compliance(overall_compliance.values())
    totals = add_counts(overall_counts.values())
    statuses = dict.fromkeys(HOST_STATUSES, 0)
    for host in hosts.values():
        statuses[host["status"]] = statuses.get(host["status"], 0) + 1
    versions = {}
    for host in hosts.values():
        if host["last_good"] is not None:
            key = str(host["last_good"]["catalog_version"])
            versions[key] = versions.get(key, 0) + 1
    return {
        "title": title,
        "generated": format_time(now),
        "catalog_version": evaluation.catalog_version,
        "warnings": evaluation.warnings(),
        "stale_after_days": evaluation.stale_after_days,
        "host_count": len(hosts),
        "host_statuses": statuses,
        "scan_ages": ages,
        "scan_catalog_versions": dict(sorted(versions.items())),
        "hosts": hosts,
        "sets": sets,
        "overall": {"summary": overall_summary, "percent_hosts_compliant": percent_hosts_compliant(overall_summary),
                    "state_totals": totals, "percent_pairs_compliant": percent_compliant(totals),
                    "host_compliance": overall_compliance},
        "deployments": list(deployments or ()),
        "waves": list(waves or ()),
    }


def _top_required(result, top):
    """The ``top`` updates of a set by hosts requiring them, with hosts per state."""
    ranked = sorted((uid for uid in result.update_ids if result.update_counts[uid][REQUIRED]),
                    key=lambda uid: (-result.update_counts[uid][REQUIRED], result.updates[uid].get("kb") or "", uid))
    top_required = []
    for uid in ranked[:max(top, 0)]:
        facts = result.updates[uid]
        top_required.append({"update_id": uid, "kb": facts.get("kb"), "title": facts.get("title"),
                             "msrc_severity": facts.get("msrc_severity"), "counts": dict(result.update_counts[uid])})
    return top_required


def _age_bucket(age):
    if age is None:
        return "never"
    for label, upper in AGE_BUCKETS:
        if upper is None or age < upper:
            return label
    return AGE_BUCKETS[-1][0]


def summaries(data):
    """Per set: updates, hosts per compliance state and the share compliant (the headline), pairs
    per state and the share of pairs compliant."""
    result = {name: {"updates": s["updates"], "hosts": s["summary"], "percent_hosts_compliant": s["percent_hosts_compliant"],
                     "pairs": s["state_totals"], "percent_pairs_compliant": s["percent_pairs_compliant"]}
              for name, s in data["sets"].items()}
    return result


def render_json(data):
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
