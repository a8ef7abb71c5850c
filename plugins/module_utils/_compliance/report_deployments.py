# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""The report's "deployments and waves" part: what installation did per deployment and host, and
how each patch wave's rings went (docs/reports.md).

``_report/rollout.read_rollout`` is the one read of the store (deployments, the newest enforcement
state of each host, deployment and update, and the waves through ``_wave/state.list_waves``); it
lives apart because it reads later steps than compliance. ``deployments_part`` and ``waves_part``
here are pure functions of what it read, so the tests feed them tables.

A host's state in a deployment is decided, in this order, by
  1. the wave: a newer wave result that never reached installation (a failed pre-install hook, an
     unreachable host, a host the install skipped) makes the host ``not_attempted`` with that reason;
  2. the deployment's newest enforcement state on the host (its ``detail.outcome`` is the install
     outcome), with the update states for failures (HRESULT) and windows;
  3. a wave result alone (the state messages were not ingested, or pruned);
  4. nothing: ``not_attempted``, because the host is not targeted (when the inventory's groups are
     known) or never reported. A host the store knows nothing of is never installed.
"""

from __future__ import annotations

from ansible_collections.patchwave.windows.plugins.module_utils._scan import hresults
from ansible_collections.patchwave.windows.plugins.module_utils._scan.messages import WINDOW_REASONS
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import parse_time

# a wave host's outcome before its install ran (``_wave/state.NOT_RUN``; the report reads waves as data)
NOT_RUN = "not_run"

# A host's state in a deployment, best first.
INSTALLED = "installed"
PENDING_RESTART = "pending_restart"
WAITING_FOR_WINDOW = "waiting_for_window"
IN_PROGRESS = "in_progress"
FAILED = "failed"
NOT_ATTEMPTED = "not_attempted"
HOST_STATES = (INSTALLED, PENDING_RESTART, WAITING_FOR_WINDOW, IN_PROGRESS, FAILED, NOT_ATTEMPTED)
HOST_STATE_TITLES = {INSTALLED: "Installed", PENDING_RESTART: "Pending restart", WAITING_FOR_WINDOW: "Waiting for window",
                     IN_PROGRESS: "In progress", FAILED: "Failed", NOT_ATTEMPTED: "Not attempted"}

# Why a host was not attempted (besides a skipped install's own reasons: not_targeted, not_available_yet, optional).
NOT_TARGETED = "not_targeted"
NEVER_REPORTED = "never_reported"
PRE_INSTALL_HOOK = "pre_install_hook"
UNREACHABLE = "unreachable"
REASON_TITLES = {NOT_TARGETED: "host not targeted", NEVER_REPORTED: "host never reported",
                 PRE_INSTALL_HOOK: "pre-install hook failed", UNREACHABLE: "host unreachable",
                 "not_available_yet": "deployment not available yet", "optional": "optional deployment",
                 "window": "not in a maintenance window",
                 "longer_than_every_window": "longer than every maintenance window",
                 "not_installable_by_wua": "not installable by Windows Update", "in_progress": "install in progress"}

# The install outcome (``_install/results.OUTCOMES``, a wave's host result and ``detail.outcome`` of a
# deployment's enforcement state) -> the host's state and the reason kept with it.
_OUTCOME_STATES = {"compliant": (INSTALLED, None), "installed_pending_restart": (PENDING_RESTART, None),
                   "waiting_for_window": (WAITING_FOR_WINDOW, None), "failed": (FAILED, None),
                   "update_loop": (FAILED, "update_loop"), "did_not_return": (FAILED, "did_not_return"),
                   "unreachable": (NOT_ATTEMPTED, UNREACHABLE), "skipped": (NOT_ATTEMPTED, None)}
_FAILED_UPDATE_STATES = ("failed", "download_failed")
WAVE_RESULT_FIELDS = ("wave", "ring", "outcome", "reason", "msg", "attempts", "time")
_RUNNING_UPDATE_STATES = ("downloading", "downloaded", "installing")


def hresult_facts(hresult):
    """``{"code": "0x80240016", "name": "WU_E_INSTALL_NOT_ALLOWED"}``, or None without an HRESULT."""
    if hresult is None:
        return None
    described = hresults.describe(hresult)
    return {"code": described["hresult"], "name": described["name"]}


def _later(left, right):
    """True when store time ``left`` is after ``right`` (None is never after anything)."""
    if left is None:
        return False
    return right is None or parse_time(left) > parse_time(right)


def _ring_deployment(wave, ring):
    return ring.get("deployment") or wave["deployment"]


def wave_results(waves):
    """``{(deployment, host): {wave, ring, outcome, reason, msg, attempts, time}}``: each host's result in the
    newest wave that installs the deployment on it (``waves`` newest first)."""
    results = {}
    for wave in waves:
        for ring in wave["rings"]:
            for member in ring["host_results"]:
                key = (_ring_deployment(wave, ring), member["host"])
                if key not in results:
                    results[key] = {"wave": wave["name"], "ring": ring["name"], "outcome": member["outcome"],
                                    "reason": member["reason"], "msg": member["msg"], "attempts": member["attempts"],
                                    "time": member["updated_at"]}
    return results


def _from_wave(result):
    """(state, reason) a wave's host result says, or None for a host the wave has not run yet."""
    outcome = result["outcome"]
    if outcome is None:
        return None
    if outcome == "failed" and result["reason"] == PRE_INSTALL_HOOK:
        return NOT_ATTEMPTED, PRE_INSTALL_HOOK
    state, reason = _OUTCOME_STATES.get(outcome, (FAILED, outcome))
    if outcome == "skipped":
        reason = result["reason"] or "skipped"
    return state, reason


def _from_enforcement(deployment_state, updates):
    """(state, reason) from the deployment's newest state on the host and its updates' newest states."""
    states = [u["state"] for u in updates.values()]
    if deployment_state is not None and deployment_state["state"] != "in_progress":
        outcome = deployment_state["detail"].get("outcome")
        if outcome in _OUTCOME_STATES:
            return _OUTCOME_STATES[outcome]
        if deployment_state["state"] == "compliant":
            return INSTALLED, None
        if deployment_state["state"] == "failed":
            return FAILED, None
    # No final word of the deployment: the updates say it.
    if any(s in _FAILED_UPDATE_STATES for s in states):
        return FAILED, None
    if deployment_state is not None and deployment_state["state"] == "in_progress" \
            or any(s in _RUNNING_UPDATE_STATES for s in states):
        return IN_PROGRESS, "in_progress"
    if PENDING_RESTART in states:
        return PENDING_RESTART, None
    windowed = [u for u in updates.values() if u["state"] == WAITING_FOR_WINDOW
                or (u["state"] == "not_attempted" and u["detail"].get("reason") in WINDOW_REASONS)]
    if windowed:
        return WAITING_FOR_WINDOW, None
    others = [u["detail"].get("reason") for u in updates.values() if u["state"] == "not_attempted"]
    if others and "installed" not in states:
        return NOT_ATTEMPTED, others[0] or "not_attempted"
    if states and all(s == "installed" for s in states):
        return INSTALLED, None
    return NOT_ATTEMPTED, NEVER_REPORTED


def host_state(deployment_state, updates, wave_result, targeted):
    """The host's ``(state, reason, source)`` in a deployment (the order of the module docstring).

    ``deployment_state``: the deployment's newest enforcement row on the host or None; ``updates``:
    {update_id: newest row} of the list version's updates; ``wave_result``: ``wave_results``' entry or
    None; ``targeted``: True, False, or None when the inventory's groups are unknown."""
    newest = max([r["time"] for r in updates.values()] + ([deployment_state["time"]] if deployment_state else []),
                 key=parse_time, default=None)
    from_wave = _from_wave(wave_result) if wave_result else None
    if from_wave and from_wave[0] == NOT_ATTEMPTED and not _later(newest, wave_result["time"]):
        return from_wave + ("wave",)
    if deployment_state is not None or updates:
        return _from_enforcement(deployment_state, updates) + ("enforcement",)
    if from_wave:
        return from_wave + ("wave",)
    if targeted is False:
        return NOT_ATTEMPTED, NOT_TARGETED, None
    return NOT_ATTEMPTED, NEVER_REPORTED, None


def _targeted(deployment, host, groups):
    if groups is None:
        return None
    return any(host in (groups.get(target) or ()) for target in deployment["targets"])


def _kb(facts):
    return ("KB%s" % facts["kb"]) if facts.get("kb") else None


def deployments_part(rollout, hosts=(), only=False, groups=None):
    """The ``deployments`` part of the report: a list, by deployment name.

    Each deployment shows ``hosts`` (the report's hosts) and, unless ``only``, every other host that
    reported on it or is in one of its waves; ``groups`` is the inventory's ``{group: [hosts]}``, or
    None when it is not known (no host is then said to be not targeted)."""
    by_deployment = {}
    for row in rollout["states"]:
        by_deployment.setdefault(row["deployment"], {}).setdefault(row["host"], []).append(row)
    waves = wave_results(rollout["waves"])
    part = []
    for deployment in rollout["deployments"]:
        name = deployment["name"]
        members = {u["update_id"]: u for u in deployment["updates"]}
        reported = by_deployment.get(name, {})
        names = set(hosts)
        if not only:
            names |= set(reported) | {host for (dep, host) in waves if dep == name}
        entries = {}
        counts = dict.fromkeys(HOST_STATES, 0)
        outside = 0
        update_counts = {}
        for host in sorted(names):
            rows = reported.get(host, [])
            own = next((r for r in rows if r["update_id"] is None), None)
            updates = {r["update_id"]: r for r in rows if r["update_id"] in members}
            wave = waves.get((name, host))
            targeted = _targeted(deployment, host, groups)
            state, reason, source = host_state(own, updates, wave, targeted)
            if reason == NOT_TARGETED and state == NOT_ATTEMPTED:
                outside += 1  # listed, not counted: a host the deployment is not meant for says nothing of it
            else:
                counts[state] += 1
            for row in updates.values():
                update_counts[row["state"]] = update_counts.get(row["state"], 0) + 1
            entries[host] = {
                "state": state, "reason": reason, "source": source, "targeted": targeted,
                "deployment_state": own["state"] if own else None,
                "reported": max([r["time"] for r in rows], key=parse_time, default=None),
                "updates": {uid: row["state"] for uid, row in sorted(updates.items())},
                "failures": [dict(update_id=uid, kb=_kb(members[uid]), title=members[uid].get("title"), state=row["state"],
                                  hresult=hresult_facts(row["hresult"]), message=row["detail"].get("message")
                                  or row["detail"].get("reason"))
                             for uid, row in sorted(updates.items()) if row["state"] in _FAILED_UPDATE_STATES],
                "waiting": [dict(update_id=uid, kb=_kb(members[uid]), state=row["state"],
                                 reason=row["detail"].get("reason", "window"),
                                 **{k: row["detail"].get(k) for k in ("would_start", "needs_minutes", "window_ends",
                                                                      "next_window")})
                            for uid, row in sorted(updates.items()) if row["state"] == WAITING_FOR_WINDOW
                            or (row["state"] == "not_attempted" and row["detail"].get("reason") in WINDOW_REASONS)],
                "wave": None if wave is None else {k: wave[k] for k in WAVE_RESULT_FIELDS},
            }
        part.append({
            "name": name, "update_list": deployment["update_list"], "list_version": deployment["list_version"],
            "targets": list(deployment["targets"]), "type": deployment.get("type"),
            "available": deployment.get("available"), "deadline": deployment.get("deadline"),
            "update_count": len(members), "host_count": len(entries), "counts": counts, "not_targeted": outside,
            "update_states": dict(sorted(update_counts.items())), "hosts": entries,
        })
    return part


def _seconds(start, end):
    if not start or not end:
        return None
    return int((parse_time(end) - parse_time(start)).total_seconds())


def waves_part(waves):
    """The ``waves`` part of the report, newest first: each wave with its rings, outcomes, halts and times."""
    part = []
    for wave in waves:
        started, finished = {}, {}
        for event in wave["events"]:
            if event["kind"] == "ring_started":
                started.setdefault(event["ring"], event["at"])
            elif event["kind"] == "ring_finished":
                finished[event["ring"]] = event["at"]
        totals = {}
        rings = []
        for ring in wave["rings"]:
            for key, value in ring["counts"].items():
                totals[key] = totals.get(key, 0) + value
            end = finished.get(ring["name"])
            rings.append({
                "name": ring["name"], "hosts": ring["hosts"], "deployment": _ring_deployment(wave, ring),
                "serial": ring["serial"], "failure_budget": ring["failure_budget"], "wait_after": ring["wait_after"],
                "state": ring["state"], "counts": dict(ring["counts"]), "host_count": len(ring["host_results"]),
                "started_at": started.get(ring["name"]), "finished_at": end,
                "seconds": _seconds(started.get(ring["name"]), end),
                "halts": [h for h in wave["halts"] if h["ring"] == ring["name"]],
                "host_results": [dict(h) for h in ring["host_results"]],
            })
        part.append({
            "name": wave["name"], "state": wave["state"], "deployment": wave["deployment"],
            "update_list": wave["update_list"], "list_version": wave["list_version"], "next_ring": wave["next_ring"],
            "halt_reason": wave["halt_reason"], "halts": [dict(h) for h in wave["halts"]],
            "started_at": wave["started_at"], "updated_at": wave["updated_at"], "finished_at": wave["finished_at"],
            "seconds": _seconds(wave["started_at"], wave["finished_at"] or wave["updated_at"]),
            "counts": totals, "host_count": sum(r["host_count"] for r in rings), "rings": rings,
        })
    return part


def rollout_summaries(data):
    """What the module returns of the part: hosts per state per deployment, and each wave's rings."""
    deployments = {d["name"]: {"list_version": d["list_version"], "hosts": dict(d["counts"])}
                   for d in data.get("deployments", ())}
    waves = [{"name": w["name"], "state": w["state"], "deployment": w["deployment"], "list_version": w["list_version"],
              "halt_reason": w["halt_reason"],
              "rings": [{"name": r["name"], "state": r["state"], "counts": dict(r["counts"])} for r in w["rings"]]}
             for w in data.get("waves", ())]
    return deployments, waves


OUTCOME_ORDER = ("compliant", "installed_pending_restart", "waiting_for_window", "skipped", "failed", "update_loop",
                 "did_not_return", "unreachable", NOT_RUN)
