# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""What an install run means, pure: the ad hoc selection, the update entries of the result, loop
detection after the reboot, and the host's one outcome (docs/install.md).

Plain data in and out. The action plugin (``plugins/action/install.py``) feeds it the host's
answers (``_install/contract.py``) and the plan (``plan.py``); the tests feed it tables.
"""

from __future__ import annotations

import re

from ansible_collections.patchwave.windows.plugins.module_utils._scan import hresults as _hresults

# The host's outcome: exactly one per run.
COMPLIANT = "compliant"
INSTALLED_PENDING_RESTART = "installed_pending_restart"
WAITING_FOR_WINDOW = "waiting_for_window"
SKIPPED = "skipped"
FAILED = "failed"
UPDATE_LOOP = "update_loop"
DID_NOT_RETURN = "did_not_return"
UNREACHABLE = "unreachable"
OUTCOMES = (COMPLIANT, INSTALLED_PENDING_RESTART, WAITING_FOR_WINDOW, SKIPPED, FAILED, UPDATE_LOOP, DID_NOT_RETURN,
            UNREACHABLE)
# The outcomes a patch wave counts against its failure budget.
BUDGET_OUTCOMES = (FAILED, UPDATE_LOOP, DID_NOT_RETURN, UNREACHABLE)

# ansible.windows.win_updates' default category_names.
DEFAULT_CATEGORIES = ("CriticalUpdates", "SecurityUpdates", "UpdateRollups")
CLASSIFICATION = "UpdateClassification"


def _squash(name):
    """A category name compared as win_updates compares it: case and spaces ignored."""
    return re.sub(r"\s+", "", str(name or "")).lower()


def signed(hresult):
    """An HRESULT as a signed 32-bit integer, as win_updates returns ``failure_hresult_code``."""
    value = _hresults.unsigned(hresult)
    return value - 0x100000000 if value & 0x80000000 else value


def kb_names(kbs):
    """KB numbers as win_updates names them (``KB5034441``); empty ones left out, a ``KB`` already there kept."""
    return [str(kb) if str(kb).upper().startswith("KB") else "KB%s" % kb for kb in kbs if kb]


def kbs_of(update):
    return kb_names(update.get("kb_article_ids", ()))


def _matches(patterns, update):
    """True when a pattern (a regular expression, searched) matches the title, a KB (``KB5034441``)
    or the update id."""
    texts = [update.get("title") or "", update["update_id"]] + kbs_of(update)
    return any(re.search(pattern, text, re.IGNORECASE) for pattern in patterns for text in texts)


def check_patterns(patterns, option):
    """ValueError naming the option and the pattern when one is not a regular expression."""
    for pattern in patterns or ():
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError("%s: %r is not a regular expression: %s" % (option, pattern, exc))


def select_ad_hoc(scan_updates, category_names=None, accept_list=None, reject_list=None):
    """``(selected, filtered)`` of a scan's updates that are not installed, as win_updates selects.

    ``category_names`` (default ``DEFAULT_CATEGORIES``; ``*`` is every category) match any category
    of the update by name, spaces and case ignored; ``accept_list`` keeps only matches,
    ``reject_list`` drops them; hidden updates are never installed. ``filtered`` is keyed by update
    id: ``{id, title, kb, categories, filtered_reasons}`` (all the reasons that apply).
    """
    wanted = {_squash(c) for c in (DEFAULT_CATEGORIES if category_names is None else category_names)}
    selected, filtered = [], {}
    for update in scan_updates:
        if update["is_installed"]:
            continue
        reasons = []
        names = {_squash(c["name"]) for c in update["categories"]}
        if "*" not in wanted and not names & wanted:
            reasons.append("category_names")
        if accept_list and not _matches(accept_list, update):
            reasons.append("accept_list")
        if reject_list and _matches(reject_list, update):
            reasons.append("reject_list")
        if update["is_hidden"]:
            reasons.append("hidden")
        if reasons:
            filtered[update["update_id"].lower()] = {
                "id": update["update_id"].lower(), "title": update["title"], "kb": kbs_of(update),
                "categories": [c["name"] for c in update["categories"]], "filtered_reasons": reasons}
        else:
            selected.append(update)
    return selected, filtered


def ad_hoc_work(selected, max_run_time_minutes):
    """The scan's selected updates as ``plan.order_work`` takes them (no catalog: no prerequisites,
    the classification from the categories, one maximum run time)."""
    work = []
    for update in selected:
        classes = [c["name"] for c in update["categories"] if c.get("type") == CLASSIFICATION]
        kbs = update.get("kb_article_ids") or []
        work.append({"update_id": update["update_id"].lower(), "kb": kbs[0] if kbs else None, "title": update["title"],
                     "classification": classes[0] if classes else None, "impact": None,
                     "max_run_time_minutes": int(max_run_time_minutes), "prerequisites": []})
    return work


def update_entry(update_id, title=None, kbs=(), categories=(), decision=None, result=None):
    """One ``updates`` entry of the module result, in win_updates' names, plus ``outcome``.

    ``decision``: the plan's decision (``plan.fit``); ``result``: the host's UPDATE_RESULT_SCHEMA
    entry, or None when the update was not sent (it waits for a window)."""
    entry = {"id": update_id, "title": title, "kb": list(kbs), "categories": list(categories), "downloaded": False,
             "installed": False, "failure_hresult_code": None, "failure_msg": None, "outcome": None,
             "reboot_required": False}
    if result is None:
        if decision is not None and decision.get("outcome") == "not_attempted":
            entry.update(outcome="waiting_for_window", message=decision.get("message"),
                         would_start=decision.get("would_start"), needs_minutes=decision.get("needs_minutes"),
                         window_ends=decision.get("window_ends"), next_window=decision.get("next_window"),
                         never_fits=decision.get("never_fits", False))
        return entry
    entry["title"] = result["title"] or title
    if result["kb_article_ids"]:
        entry["kb"] = kb_names(result["kb_article_ids"])
    entry.update(downloaded=result["downloaded"], installed=result["outcome"] == "installed",
                 reboot_required=result["reboot_required"])
    outcome = result["outcome"]
    if outcome == "not_attempted" and result["not_attempted_reason"] == "predownload":
        entry["outcome"] = "downloaded"
        return entry
    if outcome == "not_attempted":
        reason = result["not_attempted_reason"]
        entry["outcome"] = "waiting_for_window" if reason == "window" else "not_attempted"
        entry["reason"] = reason
        if reason == "window" and decision is not None:
            entry.update(would_start=decision.get("would_start"), needs_minutes=decision.get("needs_minutes"),
                         window_ends=decision.get("window_ends"))
        return entry
    if outcome == "installed":
        entry["outcome"] = "pending_restart" if result["reboot_required"] else "installed"
        return entry
    hresult = result["hresult"] if outcome == "failed" else result["download_hresult"]
    described = _hresults.describe(hresult)
    entry["outcome"] = outcome
    entry["failure_hresult_code"] = None if hresult is None else signed(hresult)
    text = result.get("content_error") or result.get("error")
    entry["failure_msg"] = "%s %s (%s)%s" % (described["hresult"], described["name"], described["meaning"],
                                             ": %s" % text if text else "") if hresult is not None else text
    return entry


def still_required(installed_ids, verification_updates):
    """The updates that reported success in this run and that the scan after the reboot still finds
    not installed: an update loop (they are not retried in the same run)."""
    missing = {u["update_id"].lower() for u in verification_updates if not u["is_installed"]}
    return sorted(uid for uid in installed_ids if uid.lower() in missing)


def host_outcome(entries, reboot_needed, rebooted, loops=(), did_not_return=False):
    """The one outcome of a host whose install ran (skipped and unreachable are decided before).

    In order: did_not_return, update_loop, failed (an update failed to install or download), a
    restart still outstanding (installed_pending_restart), updates waiting for a window
    (waiting_for_window), else compliant."""
    if did_not_return:
        return DID_NOT_RETURN
    if loops:
        return UPDATE_LOOP
    if any(e["outcome"] in ("failed", "download_failed") for e in entries):
        return FAILED
    if reboot_needed and not rebooted:
        return INSTALLED_PENDING_RESTART
    if any(e["outcome"] == "waiting_for_window" for e in entries):
        return WAITING_FOR_WINDOW
    return COMPLIANT


def counts(entries):
    """win_updates' counters over the entries."""
    return {"found_update_count": len(entries),
            "installed_update_count": sum(1 for e in entries if e["installed"]),
            "failed_update_count": sum(1 for e in entries if e["outcome"] in ("failed", "download_failed"))}
