# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""The controller's plan of an install, pure: whether a host takes a deployment, in what order its
updates install, which may start in the maintenance window and which wait, and the check-mode plan.

Everything here is plain data in and out (docs/install_planning.md); reading the store is
``plan_store.py``, and running the plan on a host is the install module's.
"""

from __future__ import annotations

import datetime
import heapq
import itertools
from dataclasses import dataclass

from ansible_collections.patchwave.windows.plugins.module_utils._compliance.rules import (
    HIDDEN,
    PENDING_REBOOT,
)
from ansible_collections.patchwave.windows.plugins.module_utils._prepare.deployments import (
    host_deadline,
    targeted,
)
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import format_time, parse_time
from ansible_collections.patchwave.windows.plugins.module_utils._windows.definitions import (
    SOFTWARE_UPDATES,
    WindowDefinition,
    parse_windows,
)
from ansible_collections.patchwave.windows.plugins.module_utils._windows.fit import fit as fit_window
from ansible_collections.patchwave.windows.plugins.module_utils._windows.merge import (
    MAX_HORIZON_DAYS,
    WindowState,
    current_and_next,
    merged_windows,
)

# Skip reasons (the install's ``skipped`` outcome)
NOT_TARGETED = "not_targeted"
NOT_AVAILABLE_YET = "not_available_yet"
OPTIONAL = "optional"

# Per update
INSTALL = "install"
NOT_ATTEMPTED = "not_attempted"
WINDOW = "window"
FILTERED_HIDDEN = "hidden"

# What the plan expects of the host (a subset of the install's outcomes, plus ``unknown``: no usable scan)
COMPLIANT = "compliant"
INSTALLED_PENDING_RESTART = "installed_pending_restart"
WAITING_FOR_WINDOW = "waiting_for_window"
SKIPPED = "skipped"
UNKNOWN = "unknown"

EXCLUSIVE = "RequiresExclusiveHandling"        # InstallationImpact 2
REBOOTING = ("AlwaysRequiresReboot", "CanRequestReboot")
SERVICING_STACK = "servicing stack"            # Microsoft's titles: "2026-12 Servicing Stack Update for ..."


# -- step 1: does the host take the deployment --------------------------------------------------

@dataclass(frozen=True)
class Eligibility:
    """``reason``: None when the host takes the deployment, else why it is skipped; ``deadline``: the
    host's own deadline (ISO 8601 UTC; None for an available deployment)."""

    reason: str | None
    deadline: str | None

    @property
    def eligible(self):
        return self.reason is None

    def deadline_passed(self, now):
        return self.deadline is not None and now >= parse_time(self.deadline)


def eligibility(deployment, host, group_names, now, optional=False):
    """Whether ``host`` (in ``group_names``) takes ``deployment`` at ``now``: targeted, available, and
    required (an available deployment only with ``optional``). Checked in that order."""
    deadline = host_deadline(deployment, host)
    if targeted(deployment, group_names) is not True:
        return Eligibility(NOT_TARGETED, deadline)
    if now < parse_time(deployment["available"]):
        return Eligibility(NOT_AVAILABLE_YET, deadline)
    if deployment.get("type") == "available" and not optional:
        return Eligibility(OPTIONAL, deadline)
    return Eligibility(None, deadline)


# -- step 3: the order and the Install() calls --------------------------------------------------

def is_servicing_stack(update):
    """A servicing stack update, by classification or title as the catalog has them (Microsoft
    classifies them as Security Updates or Updates and says what they are in the title)."""
    return any(SERVICING_STACK in (update.get(key) or "").lower() for key in ("classification", "title"))


def is_exclusive(update):
    return update.get("impact") == EXCLUSIVE


def _kb_key(kb):
    text = str(kb or "")
    return (0, int(text), "") if text.isdigit() else (1, 0, text) if text else (2, 0, "")


def _prerequisites_in(update, ids):
    """The ids of the work that ``update`` lists as a prerequisite (any clause)."""
    found = set()
    for clause in update.get("prerequisites") or ():
        found.update(uid for uid in clause if uid in ids and uid != update["update_id"])
    return found


def order_work(updates):
    """The Install() calls, in order: lists of the update dicts given.

    Servicing stack updates and the updates another update of the work lists as a prerequisite go
    first, each prerequisite before what needs it; then by maximum run time, shortest first; ties by
    KB, then update id. An update whose impact is RequiresExclusiveHandling, and a servicing stack
    update, is an Install() call of its own; an update whose prerequisite is in the current call
    starts the next one. ``updates``: ``{update_id, kb, title, classification, impact,
    max_run_time_minutes, prerequisites}`` (prerequisites as CNF clauses of ids).
    """
    by_id = {u["update_id"]: u for u in updates}
    needs = {uid: _prerequisites_in(u, by_id) for uid, u in by_id.items()}
    needed = set(itertools.chain.from_iterable(needs.values()))

    def key(uid):
        update = by_id[uid]
        first = 0 if uid in needed or is_servicing_stack(update) else 1
        return (first, update.get("max_run_time_minutes") or 0, _kb_key(update.get("kb")), uid)

    waiting = {uid: set(n) for uid, n in needs.items()}
    users = {}
    for uid, prerequisites in needs.items():
        for prerequisite in prerequisites:
            users.setdefault(prerequisite, []).append(uid)
    ready = [key(uid) for uid, n in waiting.items() if not n]
    heapq.heapify(ready)
    ordered = []
    placed = set()
    while len(ordered) < len(by_id):
        if not ready:
            # A prerequisite cycle (the catalog should hold none): the first of the rest by the key goes next.
            ready.append(min(key(uid) for uid in by_id if uid not in placed))
        uid = heapq.heappop(ready)[-1]
        if uid in placed:
            continue
        ordered.append(uid)
        placed.add(uid)
        for user in users.get(uid, ()):
            waiting[user].discard(uid)
            if not waiting[user] and user not in placed:
                heapq.heappush(ready, key(user))

    batches = []
    current = []
    for uid in ordered:
        update = by_id[uid]
        alone = is_exclusive(update) or is_servicing_stack(update)
        if current and (alone or needs[uid] & {u["update_id"] for u in current}):
            batches.append(current)
            current = []
        current.append(update)
        if alone:
            batches.append(current)
            current = []
    if current:
        batches.append(current)
    return batches


# -- step 3: the fit rule ----------------------------------------------------------------------

def window_state(windows, now, host_timezone=None):
    """The ``WindowState`` of a host's checked window definitions at ``now`` (for software updates)."""
    return current_and_next(windows, now, count=1, applies_to=SOFTWARE_UPDATES, host_timezone=host_timezone)


def horizon(windows, now, host_timezone=None, days=MAX_HORIZON_DAYS):
    """Every merged window open from ``now`` to ``days`` ahead, lazily (what ``fit`` looks through for
    an update longer than every window)."""
    # from a day before, so the current window counts with its whole merged length
    merged = merged_windows(windows, now - datetime.timedelta(days=1), now + datetime.timedelta(days=days - 1),
                            applies_to=SOFTWARE_UPDATES, host_timezone=host_timezone)
    return (window for window in merged if window.end > now)


def _minutes(window):
    return (window.end - window.start).total_seconds() / 60.0


def _clock(moment):
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def fit(batches, window, now, clock_offset_seconds=0, ignore_windows=False, horizon_windows=None):
    """Which updates of ``batches`` (``order_work``) may start, with the latest instant each may.

    ``window``: the host's ``WindowState`` at ``now`` (``window_state``), or None for a host without
    windows (always inside). ``clock_offset_seconds``: the host's clock minus the controller's, so
    ``latest_start_host`` is what the worker compares with its own clock. ``horizon_windows``: the
    merged windows to look through for an update longer than every window (``horizon``; default
    the current and next windows of ``window``).

    Returns ``{"batches": [[update_id, ...], ...], "updates": [decision, ...], "windows_ignored",
    "in_window", "window", "next_window"}``, decisions in order; see docs/install_planning.md.
    """
    unrestricted = window is None or window.unrestricted
    offset = datetime.timedelta(seconds=clock_offset_seconds or 0)
    current = None if unrestricted else window.current
    upcoming = None if unrestricted or not window.next else window.next[0]
    if horizon_windows is None and not unrestricted:
        horizon_windows = tuple(w for w in ((current,) + tuple(window.next)) if w is not None)
    horizon_iter = iter(horizon_windows or ())
    horizon_seen = []

    def longest_for(needed):
        longest = max((_minutes(w) for w in horizon_seen), default=0.0)
        for merged in horizon_iter:
            horizon_seen.append(merged)
            longest = max(longest, _minutes(merged))
            if longest >= needed:
                break
        return longest

    decisions = []
    waiting = set()
    clock = now  # the worst case: each update before takes its whole run time
    out_batches = []
    for batch in batches:
        kept = []
        for update in batch:
            uid = update["update_id"]
            minutes = int(update.get("max_run_time_minutes") or 0)
            decision = {"update_id": uid, "kb": update.get("kb"), "title": update.get("title"),
                        "max_run_time_minutes": minutes, "outcome": INSTALL, "reason": None, "latest_start": None,
                        "latest_start_host": None, "would_start": format_time(now), "needs_minutes": minutes,
                        "window_ends": None, "next_window": None, "never_fits": False, "may_wait": False,
                        "waits_for": [], "message": None}
            blocked = sorted(_prerequisites_in(update, waiting))
            if blocked:
                decision.update(outcome=NOT_ATTEMPTED, reason=WINDOW, waits_for=blocked,
                                message="waits for its prerequisite %s, which waits for a window" % ", ".join(blocked))
            elif ignore_windows or unrestricted:
                decision["would_start"] = format_time(clock)
            elif longest_for(minutes) < minutes:
                longest = max((_minutes(w) for w in horizon_seen), default=0.0)
                decision.update(outcome=NOT_ATTEMPTED, reason=WINDOW, never_fits=True,
                                message="needs %d min, longer than every maintenance window ahead (the longest is "
                                        "%d min): it never starts" % (minutes, int(longest)))
            elif current is None:
                if upcoming is not None:
                    decision["next_window"] = {"start": format_time(upcoming.start), "end": format_time(upcoming.end)}
                    message = "outside maintenance windows; the next opens %s" % _clock(upcoming.start)
                else:
                    message = "outside maintenance windows; none opens in the horizon"
                decision.update(outcome=NOT_ATTEMPTED, reason=WINDOW, message=message)
            else:
                verdict = fit_window(now, current.end, minutes)
                decision.update(latest_start=format_time(verdict.latest_start),
                                latest_start_host=format_time(verdict.latest_start + offset),
                                window_ends=format_time(current.end))
                if not verdict.fits:
                    if upcoming is not None:
                        decision["next_window"] = {"start": format_time(upcoming.start),
                                                   "end": format_time(upcoming.end)}
                    decision.update(outcome=NOT_ATTEMPTED, reason=WINDOW, message=verdict.reason())
                elif clock > verdict.latest_start:
                    worst = fit_window(clock, current.end, minutes)
                    decision.update(may_wait=True, would_start=format_time(clock),
                                    message="%s if the updates before it take their whole run time"
                                            % worst.reason())
                else:
                    decision["would_start"] = format_time(clock)
            if decision["outcome"] == INSTALL:
                kept.append(uid)
                if not decision["may_wait"]:
                    clock = clock + datetime.timedelta(minutes=minutes)
            else:
                waiting.add(uid)
            decisions.append(decision)
        if kept:
            out_batches.append(kept)
    return {"batches": out_batches, "updates": decisions, "windows_ignored": bool(ignore_windows),
            "in_window": True if unrestricted or ignore_windows else current is not None,
            "window": None if current is None else {"start": format_time(current.start),
                                                    "end": format_time(current.end), "names": list(current.names)},
            "next_window": None if upcoming is None else {"start": format_time(upcoming.start),
                                                          "end": format_time(upcoming.end),
                                                          "names": list(upcoming.names)}}


def worker_batches(fitted):
    """What the worker is given, per Install() call: ``[[{update_id, max_run_time_minutes,
    latest_start_host}]]`` (``latest_start_host`` None: no window binds it)."""
    by_id = {d["update_id"]: d for d in fitted["updates"]}
    return [[{"update_id": uid, "max_run_time_minutes": by_id[uid]["max_run_time_minutes"],
              "latest_start_host": by_id[uid]["latest_start_host"]} for uid in batch] for batch in fitted["batches"]]


def startable(batch, host_now):
    """The worker's rule before one Install() call, for reference (the lab and the tests): the
    updates of ``batch`` (``worker_batches``) that may go into the call at ``host_now`` (the host's
    clock), and those left to wait. An update goes in while the host's clock plus the run times
    before it in the call is not after its latest start; the first that would be stops the call there."""
    clock = host_now
    for index, item in enumerate(batch):
        latest = item.get("latest_start_host")
        if latest is not None and clock > parse_time(latest):
            return list(batch[:index]), list(batch[index:])
        clock = clock + datetime.timedelta(minutes=item["max_run_time_minutes"])
    return list(batch), []


# -- the check-mode plan ------------------------------------------------------------------------

@dataclass(frozen=True)
class HostScan:
    """What the store says of the host against the deployment: its ``HostStatus`` and its Required
    ``(update_id, detail)`` pairs among the list version's updates."""

    status: object
    required: tuple = ()


def _definitions(windows):
    if not windows:
        return []
    if all(isinstance(w, WindowDefinition) for w in windows):
        return list(windows)
    return parse_windows(list(windows))


def _age(seconds):
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return "%d d %d h" % (days, hours)
    if hours:
        return "%d h %d min" % (hours, minutes)
    return "%d min" % minutes


def scan_summary(status, now):
    """The host's status and, with a scan, its times and age (measured from when the controller received it)."""
    scan = status.scan if status.scan is not None else status.last_good
    summary = {"status": status.status, "scan_time": None, "received": None, "age_seconds": None, "age": None,
               "catalog_version": None, "reboot_pending": False}
    if scan is not None:
        age = (now - parse_time(scan.age_time)).total_seconds()
        summary.update(scan_time=scan.finished, received=scan.age_time, age_seconds=int(age), age=_age(age),
                       catalog_version=scan.catalog_version, reboot_pending=bool(scan.reboot_pending))
    return summary


def plan_install(deployment, host, group_names, host_scan, catalog_facts, windows, now, clock_offset_seconds=0,
                 optional=False, host_timezone=None, horizon_days=MAX_HORIZON_DAYS):
    """The check-mode plan of ``deployment`` on ``host`` from the store's newest usable scan.

    ``host_scan``: a ``HostScan``. ``catalog_facts``: the list version's updates
    (``{update_id, kb, title, classification, impact, reboot_behavior, prerequisites,
    max_run_time_minutes}``). ``windows``: the host's window definitions (checked, or raw dicts).
    Returns the plan (docs/install_planning.md): ``outcome`` is what the install would end in.
    """
    allowed = eligibility(deployment, host, group_names, now, optional)
    settings = deployment.get("settings") or {}
    plan = {"host": host, "deployment": deployment.get("name"), "outcome": None, "reason": None,
            "deadline": allowed.deadline, "deadline_passed": allowed.deadline_passed(now), "scan": None,
            "install": [], "batches": [], "waiting": [], "filtered": [], "pending_reboot": [],
            "reboot": None, "window": None, "next_window": None, "in_window": None, "windows_ignored": False,
            "messages": []}
    if not allowed.eligible:
        plan.update(outcome=SKIPPED, reason=allowed.reason, messages=["skipped: %s" % allowed.reason])
        return plan
    status = host_scan.status
    plan["scan"] = scan_summary(status, now)
    if not status.usable:
        plan.update(outcome=UNKNOWN, reason=status.status,
                    messages=["no usable scan in the store (%s); the install scans first" % status.status])
        return plan
    facts = {u["update_id"]: u for u in catalog_facts}
    work = []
    for uid, detail in host_scan.required:
        update = dict(facts.get(uid) or {"update_id": uid, "max_run_time_minutes": 60})
        if detail == HIDDEN:
            plan["filtered"].append({"update_id": uid, "kb": update.get("kb"), "title": update.get("title"),
                                     "filtered_reasons": [FILTERED_HIDDEN]})
        elif detail == PENDING_REBOOT:
            plan["pending_reboot"].append({"update_id": uid, "kb": update.get("kb"), "title": update.get("title")})
        else:
            work.append(update)
    definitions = _definitions(windows)
    ignore = bool(settings.get("ignore_windows_after_deadline")) and plan["deadline_passed"]
    state = window_state(definitions, now, host_timezone) if definitions else WindowState(True, unrestricted=True)
    ahead = horizon(definitions, now, host_timezone, horizon_days) if definitions else None
    fitted = fit(order_work(work), state, now, clock_offset_seconds, ignore, ahead)
    by_id = {u["update_id"]: u for u in work}
    for decision in fitted["updates"]:
        (plan["install"] if decision["outcome"] == INSTALL else plan["waiting"]).append(decision)
    for decision in plan["install"]:
        decision["reboot_behavior"] = by_id[decision["update_id"]].get("reboot_behavior")
    plan.update(batches=fitted["batches"], window=fitted["window"], next_window=fitted["next_window"],
                in_window=fitted["in_window"], windows_ignored=fitted["windows_ignored"])

    pending_before = bool(plan["scan"]["reboot_pending"] or plan["pending_reboot"])
    after = [d["update_id"] for d in plan["install"] if d["reboot_behavior"] in REBOOTING]
    policy = settings.get("reboot", "if_required")
    needed = pending_before or bool(after)
    plan["reboot"] = {"pending_before": pending_before, "required_after": after, "needed": needed,
                      "policy": policy, "outside_window_allowed": bool(settings.get("reboot_outside_window")),
                      "would_reboot": policy == "always" or (needed and policy != "never")}
    if plan["waiting"]:
        outcome = WAITING_FOR_WINDOW
    elif needed and policy == "never":
        outcome = INSTALLED_PENDING_RESTART
    else:
        outcome = COMPLIANT
    plan["outcome"] = outcome
    plan["messages"] = _messages(plan)
    return plan


def _messages(plan):
    scan = plan["scan"]
    lines = ["scan of %s (%s old, catalog version %s)" % (scan["scan_time"], scan["age"], scan["catalog_version"])]
    if plan["windows_ignored"]:
        lines.append("the deadline %s has passed: maintenance windows are ignored" % plan["deadline"])
    if plan["reboot"]["pending_before"]:
        lines.append("a reboot is pending: it happens first")
    for number, batch in enumerate(plan["batches"], 1):
        lines.append("Install() call %d: %s" % (number, ", ".join(_label(plan, uid) for uid in batch)))
    for decision in plan["install"]:
        if decision["may_wait"]:
            lines.append("%s may wait: %s" % (_label(plan, decision["update_id"]), decision["message"]))
    for decision in plan["waiting"]:
        lines.append("%s waits for a window: %s" % (_label(plan, decision["update_id"]), decision["message"]))
    for item in plan["filtered"]:
        lines.append("%s is hidden on the host: not installed" % _label(plan, item["update_id"]))
    if plan["reboot"]["needed"]:
        lines.append("a reboot would be needed (policy %s)" % plan["reboot"]["policy"])
    if not plan["install"] and not plan["waiting"] and not plan["pending_reboot"]:
        lines.append("nothing to install")
    return lines


def _label(plan, uid):
    for item in itertools.chain(plan["install"], plan["waiting"], plan["filtered"]):
        if item["update_id"] == uid:
            return "KB%s" % item["kb"] if item.get("kb") else uid
    return uid
