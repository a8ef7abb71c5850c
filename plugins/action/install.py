# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of ``patchwave.windows.install``: decide, drive the host module, reboot, verify.

The host module (``plugins/modules/install.ps1``) only does what it is told (its contract is
``_install/contract.py``). Here, per host: the deployment's eligibility, the host's clock offset,
a pending reboot first, a fresh scan (the scan module's own rounds, recorded as a scan), the plan
(``_install/plan_store.plan_from_store``: the deployment's list version ∩ Required, ordered and
fitted into the maintenance window), the install rounds, the reboot by policy and the wait for the
host, the verification scan and loop protection. Every step leaves enforcement state messages in
the spool (``_install/enforcement.py``); the result is the host's one outcome (``_install/results.py``).
Ad hoc (no ``deployment``) it selects as ``ansible.windows.win_updates`` does and installs from WUA.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time

from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.query import current_version
from ansible_collections.patchwave.windows.plugins.module_utils._content.package import current_package, package_records
from ansible_collections.patchwave.windows.plugins.module_utils._content.payload import ContentError
from ansible_collections.patchwave.windows.plugins.module_utils._distribution.errors import LayoutError
from ansible_collections.patchwave.windows.plugins.module_utils._distribution.layout import (
    content_parts,
    extension_of,
    relative_path,
)
from ansible_collections.patchwave.windows.plugins.module_utils._distribution.points import read_point
from ansible_collections.patchwave.windows.plugins.module_utils._distribution.records import OFFLINE_SCAN_NAME
from ansible_collections.patchwave.windows.plugins.module_utils._install import results as outcomes
from ansible_collections.patchwave.windows.plugins.module_utils._install.contract import validate_result
from ansible_collections.patchwave.windows.plugins.module_utils._install.enforcement import (
    not_attempted_detail,
    waiting_for_window_detail,
    write_enforcement,
)
from ansible_collections.patchwave.windows.plugins.module_utils._install.plan import (
    eligibility,
    fit,
    horizon,
    order_work,
    window_state,
    worker_batches,
)
from ansible_collections.patchwave.windows.plugins.module_utils._install.plan_store import (
    PlanError,
    catalog_file_updates,
    plan_from_store,
    stored_scan_updates,
)
from ansible_collections.patchwave.windows.plugins.module_utils._prepare.deployments import list_deployments, read_deployment
from ansible_collections.patchwave.windows.plugins.module_utils._scan.contract import validate_result as validate_scan
from ansible_collections.patchwave.windows.plugins.module_utils._scan.ingest import ingest
from ansible_collections.patchwave.windows.plugins.module_utils._scan.spool import write_message
from ansible_collections.patchwave.windows.plugins.module_utils._store.address import (
    redact,
    resolve_spool,
    resolve_store_address,
)
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_collections.patchwave.windows.plugins.module_utils._store.errors import StoreError
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import format_time, parse_time, utc_now
from ansible_collections.patchwave.windows.plugins.module_utils._windows.definitions import (
    WindowDefinitionError,
    host_windows,
    parse_windows,
)
from ansible_collections.patchwave.windows.plugins.plugin_utils._arguments import validate_task_arguments
from ansible_collections.patchwave.windows.plugins.plugin_utils._host_reboot import RebootError, reboot_and_wait
from ansible_collections.patchwave.windows.plugins.plugin_utils._rounds import RECONNECT_TIMEOUT, TRANSIENT, ContractError, HostRounds

display = Display()

MODULE = "patchwave.windows.install"
SCAN_MODULE = "patchwave.windows.scan"
SCAN_CRITERIA = "IsInstalled=0 or IsInstalled=1"

ARGUMENT_SPEC = dict(
    deployment=dict(type="str"),
    optional=dict(type="bool", default=False),
    category_names=dict(type="list", elements="str"),
    accept_list=dict(type="list", elements="str"),
    reject_list=dict(type="list", elements="str"),
    server_selection=dict(type="str", default="default", choices=["default", "managed_server", "windows_update"]),
    reboot=dict(type="bool", default=False),
    reboot_timeout=dict(type="int", default=1200),
    maintenance_windows=dict(type="list", elements="dict"),
    max_run_time_minutes=dict(type="int", default=60),
    window_wait=dict(type="int", default=0),
    predownload=dict(type="bool", default=False),
    accept_eula=dict(type="bool", default=True),
    timeout=dict(type="int", default=7200),
    scan_timeout=dict(type="int", default=3600),
    poll_interval=dict(type="float", default=5.0),
    reconnect_timeout=dict(type="int", default=RECONNECT_TIMEOUT),
    store=dict(type="str"),
    spool=dict(type="path"),
)
ALWAYS_RETURNED = {"outcome": None, "reason": None, "updates": {}, "filtered_updates": {}, "found_update_count": 0,
                   "installed_update_count": 0, "failed_update_count": 0, "reboot_required": False, "rebooted": False}
INTERNAL_OPTIONS = ("_operation", "_operation_options", "batches", "content")
AD_HOC_ONLY = ("category_names", "accept_list", "reject_list", "reboot")


# The install, and up to two more after restarts for what became applicable (re-evaluation).
MAX_PASSES = 3


def _without(fitted, attempted):
    """The plan without the updates already sent to the host in this run."""
    if not attempted:
        return fitted
    batches = [[uid for uid in batch if uid not in attempted] for batch in fitted["batches"]]
    return dict(fitted, batches=[b for b in batches if b],
                updates=[d for d in fitted["updates"] if d["update_id"] not in attempted])


class _Restarted(Exception):
    """The host restarted while the install worker ran (its boot time changed): the worker is gone."""


class InstallFailure(Exception):
    """A step could not be done; ``outcome`` is the host's outcome (failed, unreachable, did_not_return)."""

    def __init__(self, message, outcome=outcomes.FAILED, **fields):
        super().__init__(message)
        self.outcome = outcome
        self.fields = fields


def _validate_arguments(task_args):
    """``(problem, args)``: the task's arguments checked against ARGUMENT_SPEC, then against each other."""
    problem, args = validate_task_arguments(MODULE, ARGUMENT_SPEC, INTERNAL_OPTIONS, task_args)
    if problem is None:
        problem = _check_arguments(args)
    return problem, (None if problem else args)


def _check_arguments(args):
    if args["deployment"] is not None:
        given = [name for name in AD_HOC_ONLY if args.get(name) not in (None, False)]
        if given:
            return ("%s: %s %s for ad hoc installs only: a deployment takes its template's reboot policy and its "
                    "list version's updates" % (MODULE, ", ".join(given), "is" if len(given) == 1 else "are"))
    if not 5 <= args["max_run_time_minutes"] <= 9999:
        return "max_run_time_minutes must be 5 to 9999 (minutes), not %d" % args["max_run_time_minutes"]
    for name in ("reboot_timeout", "timeout", "scan_timeout"):
        if args[name] <= 0:
            return "%s must be more than 0 (seconds)" % name
    if args["window_wait"] < 0 or args["reconnect_timeout"] < 0 or args["poll_interval"] < 0:
        return "window_wait, reconnect_timeout and poll_interval must be 0 or more"
    try:
        outcomes.check_patterns(args["accept_list"], "accept_list")
        outcomes.check_patterns(args["reject_list"], "reject_list")
    except ValueError as exc:
        return str(exc)
    return None


def _clock_offset(status, before, after):
    """Host clock minus controller clock, from a status answer received between ``before`` and ``after``."""
    middle = before + (after - before) / 2
    return round((parse_time(status["host_time"]) - middle).total_seconds())


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        self._supports_async = False
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        problem, args = _validate_arguments(self._task.args)
        if problem:
            return dict(result, failed=True, msg=problem)
        run = InstallRun(self, args, task_vars)
        try:
            answer = run.run()
        except InstallFailure as exc:
            answer = run.failure(exc)
        # the keys RETURN says are always there, whatever ended the run (check mode, a skip, a failure)
        merged = dict(ALWAYS_RETURNED, deployment=args["deployment"])
        merged.update(answer)
        return dict(result, **merged)


class InstallRun:
    """One host's install: the steps of the run, in order, and what they found."""

    def __init__(self, action, args, task_vars):
        self.action = action
        self.args = args
        self.task_vars = task_vars
        self.host = task_vars.get("inventory_hostname") or action._play_context.remote_addr
        self.check_mode = action._task.check_mode
        self.address = resolve_store_address(args["store"])
        self.spool = resolve_spool(args["spool"], args["store"])
        self.deployment = None
        self.rounds = HostRounds(action, MODULE, {"server_selection": args["server_selection"],
                                                  "accept_eula": args["accept_eula"]},
                                 task_vars, validate_result, "install_id", "install", noun="install")
        self.messages = []
        self.state_messages = 0
        self.entries = {}
        self.filtered = {}
        self.rebooted = False
        self.plan = None
        self.catalog_version = None
        self.last_boot = None
        self.third_party = None
        self.offline_scan_file = None

    # -- the run --------------------------------------------------------------------------------

    def run(self):
        args = self.args
        windows = self._windows()
        now = utc_now()
        if args["deployment"] is not None:
            skipped = self._deployment_gate(now)
            if skipped is not None:
                return skipped
            if self.check_mode:
                return self._check_mode_plan(windows, now)
        elif self.check_mode:
            return self._ad_hoc_check_mode_plan(windows, now)

        status, offset = self._status()
        result = {"clock_offset_seconds": offset, "deployment": args["deployment"], "rebooted": False}
        if args["predownload"]:
            return dict(result, **self._predownload(windows, status, offset))
        if status["reboot_pending"] and self._reboot_allowed(windows, now, before=True):
            self._reboot("a restart was pending before the install (%s)" % ", ".join(status["reboot_sources"]))
        scan = self._scan()
        if args["deployment"] is not None:
            self._in_progress()
        attempted, loops = set(), []
        reboot_needed = did_not_return = False
        for number in range(MAX_PASSES):
            now = utc_now()
            if args["deployment"] is not None:
                fitted, facts = self._deployment_plan(windows, now, offset)
            else:
                fitted, facts = self._ad_hoc_plan(scan, windows, now, offset)
            if number == 0:
                self._not_installable(scan)
                fitted = self._wait_for_window(fitted, windows, facts, offset)
                result.update(windows_ignored=fitted["windows_ignored"], in_window=fitted["in_window"],
                              window=fitted["window"], next_window=fitted["next_window"])
            # an update is tried once per run: one that failed, or looped, is not retried after the restart
            fitted = _without(fitted, attempted)
            if number and not fitted["batches"]:
                break
            install = None
            if fitted["batches"]:
                sent = [uid for batch in fitted["batches"] for uid in batch]
                content = self._content(sent)
                self._check_space(status, content, scan, sent)
                try:
                    install = self._install(worker_batches(fitted), content)
                except _Restarted as exc:
                    # someone (or something) restarted the host under the worker: what installed before
                    # it counts, the rest is planned again from the scan after it
                    self.rebooted = True
                    self.messages.append(str(exc))
                    scan = self._scan()
                    self._installed_before_restart(sent, facts, scan)
                    continue
                attempted.update(sent)
            self._record_entries(facts, {d["update_id"]: d for d in fitted["updates"]}, install)
            reboot_needed = bool(install and install["reboot_required"]) or any(
                e["outcome"] == "pending_restart" for e in self.entries.values())
            if install and not reboot_needed and self._policy() == "if_required":
                # the OS may want a restart that no update result said (the scan's pending-reboot probes)
                probed = self._call("status")
                reboot_needed = probed["reboot_pending"]
                if reboot_needed:
                    self.messages.append("the host reports a pending restart (%s)" % ", ".join(probed["reboot_sources"]))
            if not (self._wants_reboot(reboot_needed) and self._reboot_allowed(windows, utc_now())):
                break
            try:
                self._reboot("the installed updates need a restart")
            except InstallFailure as exc:
                if exc.outcome != outcomes.DID_NOT_RETURN:
                    raise
                did_not_return = True
                self.messages.append(str(exc))
                break
            scan = self._scan()  # the verification scan
            self._settle_after_reboot(scan)
            installed = [uid for uid, e in self.entries.items() if e["installed"] and uid not in loops]
            for uid in outcomes.still_required(installed, scan["updates"]):
                loops.append(uid)
                self.entries[uid].update(outcome="update_loop", installed=False,
                                         failure_msg="reported installed, and still required after the restart: "
                                                     "not retried in this run")
                self._enforce(uid, "failed", detail={"reason": "update_loop"})
            reboot_needed = bool(scan["reboot_pending"])
            if args["deployment"] is not None and not (self.deployment.get("settings") or {}).get("rescan_after_reboot"):
                break
        outcome = outcomes.host_outcome(list(self.entries.values()), reboot_needed, self.rebooted, loops, did_not_return)
        self._deployment_state(outcome)
        entries = list(self.entries.values())
        result.update(outcomes.counts(entries))
        result.update(
            changed=bool(result["installed_update_count"] or self.rebooted),
            outcome=outcome, reason=None, updates=self.entries, filtered_updates=self.filtered,
            reboot_required=bool(reboot_needed),
            rebooted=self.rebooted, update_loops=loops, messages=self.messages,
            state_messages=self.state_messages, plan=self.plan)
        if outcome in (outcomes.FAILED, outcomes.UPDATE_LOOP, outcomes.DID_NOT_RETURN):
            failed = [e for e in entries if e["outcome"] in ("failed", "download_failed", "update_loop")]
            result.update(failed=True, msg=self._failure_text(outcome, failed))
        return result

    def _predownload(self, windows, status, offset):
        """Fetch and verify the content of every update the host needs, whatever the window; install
        nothing, restart nothing (downloads are not bound by windows: the install comes later)."""
        scan = self._scan()
        if self.args["deployment"] is not None:
            self._in_progress()
            fitted, facts = self._deployment_plan(windows, utc_now(), offset)
        else:
            fitted, facts = self._ad_hoc_plan(scan, windows, utc_now(), offset)
        decisions = [d for d in fitted["updates"] if not d.get("never_fits")]
        batches = [[{"update_id": d["update_id"], "max_run_time_minutes": d["max_run_time_minutes"],
                     "latest_start_host": None}] for d in decisions]
        install = None
        if batches:
            sent = [d["update_id"] for d in decisions]
            content = self._content(sent)
            self._check_space(status, content, scan, sent)
            self.rounds.host_args["predownload"] = True
            install = self._install(batches, content, announce=False)
        self._record_entries(facts, {d["update_id"]: d for d in decisions}, install)
        entries = list(self.entries.values())
        failed = [e for e in entries if e["outcome"] == "download_failed"]
        outcome = outcomes.FAILED if failed else (outcomes.WAITING_FOR_WINDOW if entries else outcomes.COMPLIANT)
        self._deployment_state(outcome)
        result = dict(outcomes.counts(entries), changed=any(e["downloaded"] for e in entries), outcome=outcome,
                      reason=None, updates=self.entries, filtered_updates=self.filtered, reboot_required=False,
                      update_loops=[], predownloaded_update_count=sum(1 for e in entries if e["outcome"] == "downloaded"),
                      messages=["predownload: content fetched and verified; the install comes with a later run, in "
                                "a maintenance window"], state_messages=self.state_messages, plan=self.plan,
                      in_window=fitted["in_window"], window=fitted["window"], next_window=fitted["next_window"],
                      windows_ignored=fitted["windows_ignored"])
        if failed:
            result.update(failed=True, msg=self._failure_text(outcome, failed))
        return result

    def failure(self, exc):
        """The result of a run stopped by an InstallFailure (deployment state recorded when it had started)."""
        if self.deployment is not None and exc.outcome != outcomes.UNREACHABLE:
            self._deployment_state(exc.outcome)
        entries = list(self.entries.values())
        result = dict(outcomes.counts(entries), changed=self.rebooted or any(e["installed"] for e in entries),
                      outcome=exc.outcome, msg=str(exc), updates=self.entries, filtered_updates=self.filtered,
                      rebooted=self.rebooted, reboot_required=False, messages=self.messages,
                      state_messages=self.state_messages, deployment=self.args["deployment"], **exc.fields)
        if exc.outcome == outcomes.UNREACHABLE:
            result["unreachable"] = True
        else:
            result["failed"] = True
        return result

    # -- the deployment -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _store(self):
        """The existing store, open for the block and closed after it (an InstallFailure when it cannot be opened)."""
        try:
            store = open_store(self.address, create=False)
        except (StoreError, sqlite3.Error, OSError) as exc:
            raise InstallFailure("the store could not be opened: %s" % to_text(exc))
        try:
            yield store
        finally:
            store.close()

    def _deployment_gate(self, now):
        """Read the deployment; the skipped result when the host does not take it, else None."""
        with self._store() as store:
            ingest(store, self.spool)
            self.deployment = read_deployment(store, self.args["deployment"])
            known = list_deployments(store) if self.deployment is None else []
        if self.deployment is None:
            raise InstallFailure("deployment '%s' does not exist in the store %s (%s)" % (
                self.args["deployment"], redact(self.address),
                "its deployments: %s" % ", ".join(known[:20]) if known else "it has no deployment yet"))
        allowed = eligibility(self.deployment, self.host, self.task_vars.get("group_names") or [], now,
                              self.args["optional"])
        if allowed.eligible:
            return None
        return {"changed": False, "skipped": True, "outcome": outcomes.SKIPPED, "reason": allowed.reason,
                "deployment": self.args["deployment"], "updates": {}, "found_update_count": 0,
                "installed_update_count": 0, "failed_update_count": 0, "rebooted": False, "reboot_required": False,
                "msg": "skipped: %s" % {"not_targeted": "the host is in none of the deployment's targets %s"
                                        % ", ".join(self.deployment["targets"]),
                                        "not_available_yet": "the deployment is available from %s"
                                        % self.deployment["available"],
                                        "optional": "an available (optional) deployment installs only with "
                                                    "optional=true"}[allowed.reason]}

    def _check_mode_plan(self, windows, now):
        try:
            with self._store() as store:
                plan = plan_from_store(store, self.args["deployment"], self.host, self.task_vars.get("group_names") or [],
                                       windows, now, optional=self.args["optional"])
        except PlanError as exc:
            raise InstallFailure(str(exc))
        return {"changed": bool(plan["install"]) or bool(plan["reboot"] and plan["reboot"]["would_reboot"]),
                "outcome": plan["outcome"], "reason": plan["reason"], "plan": plan, "deployment": self.args["deployment"],
                "msg": "check mode: the plan from the store's newest scan (%s); nothing ran on the host"
                       % ((plan["scan"] or {}).get("age") or "no scan")}

    def _ad_hoc_check_mode_plan(self, windows, now):
        """Ad hoc in check mode: what would install, selected as ad hoc from the store's newest good scan."""
        with self._store() as store:
            ingest(store, self.spool)
            scan, updates = stored_scan_updates(store, self.host)
        if scan is None:
            return {"changed": False, "outcome": "unknown", "reason": "never_scanned", "plan": None,
                    "msg": "check mode: the store holds no good scan of %s to plan from; the install scans first"
                           % self.host}
        fitted, facts = self._ad_hoc_plan({"updates": updates}, windows, now, 0)
        install = [d for d in fitted["updates"] if d["outcome"] == "install"]
        waiting = [d for d in fitted["updates"] if d["outcome"] != "install"]
        age = (now - parse_time(scan["received"])).total_seconds()
        plan = {"host": self.host, "scan": {"scan_time": scan["finished"], "received": scan["received"],
                                            "age_seconds": int(age), "catalog_version": scan["catalog_version"]},
                "install": install, "batches": fitted["batches"], "waiting": waiting,
                "filtered": list(self.filtered.values()), "in_window": fitted["in_window"], "window": fitted["window"],
                "next_window": fitted["next_window"]}
        outcome = outcomes.WAITING_FOR_WINDOW if waiting else outcomes.COMPLIANT
        return {"changed": bool(install), "outcome": outcome, "reason": None, "plan": plan,
                "updates": {d["update_id"]: dict(facts.get(d["update_id"], {}), outcome=d["outcome"],
                                                 message=d.get("message")) for d in fitted["updates"]},
                "filtered_updates": self.filtered,
                "msg": "check mode: %d update(s) would install, %d wait for a window, from the store's newest scan "
                       "(received %s); nothing ran on the host" % (len(install), len(waiting), scan["received"])}

    def _deployment_plan(self, windows, now, offset):
        try:
            with self._store() as store:
                ingest(store, self.spool)
                plan = plan_from_store(store, self.args["deployment"], self.host, self.task_vars.get("group_names") or [],
                                       windows, now, offset, self.args["optional"])
                if self.third_party is None:
                    self.third_party = catalog_file_updates(store, self.deployment)
        except PlanError as exc:
            raise InstallFailure(str(exc))
        self.plan = plan
        if plan["outcome"] == "unknown":
            raise InstallFailure("the fresh scan of %s did not make its compliance known (%s)" % (self.host, plan["reason"]))
        for item in plan["filtered"]:
            self.filtered[item["update_id"]] = {"id": item["update_id"], "title": item["title"],
                                                "kb": outcomes.kb_names([item.get("kb")]),
                                                "categories": [], "filtered_reasons": item["filtered_reasons"]}
        facts = {d["update_id"]: {"title": d.get("title"), "kb": d.get("kb"), "categories": []}
                 for d in plan["install"] + plan["waiting"]}
        fitted = {"batches": plan["batches"], "updates": plan["install"] + plan["waiting"],
                  "windows_ignored": plan["windows_ignored"], "in_window": plan["in_window"],
                  "window": plan["window"], "next_window": plan["next_window"]}
        return fitted, facts

    def _not_installable(self, scan):
        """The list's catalog-file updates that WUA on this host does not know (its update server does
        not publish them): reported, left alone (direct installers are a later step)."""
        known = {u["update_id"].lower() for u in scan["updates"]}
        for update in self.third_party or ():
            uid = update["update_id"]
            if uid in known:
                continue
            entry = outcomes.update_entry(uid, update["title"], outcomes.kb_names([update["kb"]]))
            entry.update(outcome="not_installable_by_wua", source=update["source"],
                         message="from the catalog feed '%s', which the host's update server does not publish: "
                                 "WUA cannot install it" % update["source"])
            self.entries[uid] = entry
            self._enforce(uid, "not_attempted", detail=not_attempted_detail("not_installable_by_wua",
                                                                            source=update["source"]))

    def _in_progress(self):
        self._enforce(None, "in_progress")

    def _deployment_state(self, outcome):
        if self.deployment is None:
            return
        state = {outcomes.COMPLIANT: "compliant", outcomes.INSTALLED_PENDING_RESTART: "non_compliant",
                 outcomes.WAITING_FOR_WINDOW: "non_compliant"}.get(outcome, "failed")
        self._enforce(None, state, detail={"outcome": outcome})

    # -- ad hoc ---------------------------------------------------------------------------------

    def _ad_hoc_plan(self, scan, windows, now, offset):
        selected, self.filtered = outcomes.select_ad_hoc(scan["updates"], self.args["category_names"],
                                                         self.args["accept_list"], self.args["reject_list"])
        work = outcomes.ad_hoc_work(selected, self.args["max_run_time_minutes"])
        facts = {u["update_id"].lower(): {"title": u["title"], "kb": (u["kb_article_ids"] or [None])[0],
                                          "categories": [c["name"] for c in u["categories"]]} for u in selected}
        fitted = self._fit(order_work(work), windows, now, offset)
        return fitted, facts

    def _fit(self, batches, windows, now, offset):
        if not windows:
            return fit(batches, None, now, offset)
        return fit(batches, window_state(windows, now), now, offset, horizon_windows=horizon(windows, now))

    def _wait_for_window(self, fitted, windows, facts, offset):
        """With ``window_wait``: outside a window that opens within that many minutes, wait for it and plan again."""
        minutes = self.args["window_wait"]
        upcoming = fitted["next_window"]
        if not minutes or fitted["in_window"] or upcoming is None or not windows:
            return fitted
        opens = parse_time(upcoming["start"])
        wait = (opens - utc_now()).total_seconds()
        if wait > minutes * 60:
            return fitted
        display.display("%s: waiting %d s for the maintenance window that opens %s"
                        % (self.host, int(wait), upcoming["start"]))
        time.sleep(max(0.0, wait) + 1)
        now = utc_now()
        if self.deployment is not None:
            return self._deployment_plan(windows, now, offset)[0]
        work = [{"update_id": uid, "kb": f["kb"], "title": f["title"], "classification": None, "impact": None,
                 "max_run_time_minutes": self.args["max_run_time_minutes"], "prerequisites": []}
                for uid, f in facts.items()]
        return self._fit(order_work(work), windows, now, offset)

    # -- the host -------------------------------------------------------------------------------

    def _windows(self):
        raw = self.args["maintenance_windows"]
        try:
            if raw is None:
                raw = host_windows(self.task_vars)
            return parse_windows(raw) if raw else []
        except WindowDefinitionError as exc:
            raise InstallFailure("maintenance windows of %s: %s" % (self.host, exc))

    def _call(self, operation, options=None):
        try:
            answer = self.rounds.call(operation, options)
        except TRANSIENT as exc:
            raise InstallFailure("host unreachable during the install (%s): %s" % (operation, to_text(exc)),
                                 outcome=outcomes.UNREACHABLE)
        except ContractError as exc:
            raise InstallFailure(str(exc))
        if answer.get("failed"):
            raise InstallFailure("the host refused the %s step: %s" % (operation, answer.get("msg")))
        return answer

    def _status(self):
        before = utc_now()
        status = self._call("status")
        self.last_boot = status["last_boot"]
        return status, _clock_offset(status, before, utc_now())

    def _scan(self):
        """A forced scan through the scan module's rounds, recorded as a scan state message."""
        rounds = HostRounds(self.action, SCAN_MODULE, dict(self._scan_source(), search_criteria=SCAN_CRITERIA,
                                                           include_hidden=True),
                            self.task_vars, validate_scan, "scan_id", "scan", noun="scan")
        try:
            scan, failure = rounds.run(self.args["scan_timeout"], self.args["poll_interval"],
                                       reconnect_timeout=self.args["reconnect_timeout"])
        except TRANSIENT as exc:
            raise InstallFailure("host unreachable during the scan before the install: %s" % to_text(exc),
                                 outcome=outcomes.UNREACHABLE)
        except ContractError as exc:
            raise InstallFailure(str(exc))
        if failure is not None:
            raise InstallFailure("the scan before the install failed: %s" % failure["msg"])
        if scan["result_code"] not in (2, 3):
            raise InstallFailure("the scan before the install failed: %s" % (scan.get("error") or scan["hresult"]))
        if self.catalog_version is None and self.args["deployment"] is not None:
            with self._store() as store:
                self.catalog_version = current_version(store)
        write_message(self.spool, self.host, "scan", scan, catalog_version=self.catalog_version, forced=True)
        self.state_messages += 1
        return scan

    def _scan_source(self):
        """The scan's source: the host's update service, or (a template's ``scan_source: offline``) the
        offline scan file staged on the deployment's distribution point, read from its share."""
        settings = (self.deployment or {}).get("settings") or {}
        if self.deployment is None or settings.get("scan_source") != "offline":
            return {"server_selection": self.args["server_selection"]}
        if self.offline_scan_file:
            return {"server_selection": "offline", "offline_scan_file": self.offline_scan_file}
        name = self.deployment["name"]
        points = self.deployment.get("distribution_points") or []
        if not points:
            raise InstallFailure("deployment '%s' scans offline (scan_source: offline) but names no distribution point "
                                 "to read the offline scan file from" % name)
        with self._store() as store:
            point = read_point(store, points[0])
            staged = store.query("SELECT path FROM staged_files WHERE point = ? AND path = ?", (points[0], OFFLINE_SCAN_NAME))
        if point is None:
            raise InstallFailure("deployment '%s': distribution point '%s' does not exist" % (name, points[0]))
        if not point["host_url"].startswith("\\\\"):
            raise InstallFailure("deployment '%s' scans offline, but distribution point '%s' publishes its content at %s, "
                                 "which the scan cannot read (it reads the offline scan file from a path or a share): "
                                 "give the point a UNC host_url, or use scan_source: wua" % (name, points[0], point["host_url"]))
        if not staged:
            raise InstallFailure("deployment '%s' scans offline, but no offline scan file is staged on distribution point "
                                 "'%s': stage it with content_stage offline_scan_file: true" % (name, points[0]))
        self.offline_scan_file = point["host_url"].rstrip("\\") + "\\" + OFFLINE_SCAN_NAME
        return {"server_selection": "offline", "offline_scan_file": self.offline_scan_file}

    def _content(self, update_ids):
        """The worker's ``content``: WUA's own downloader, or the deployment's distribution point."""
        settings = (self.deployment or {}).get("settings") or {}
        if self.deployment is None or settings.get("content_source") != "distribution_point":
            return {"source": "wua"}
        points = self.deployment.get("distribution_points") or []
        package_name = self.deployment.get("package")
        if not points or not package_name:
            raise InstallFailure("deployment '%s' takes its content from a distribution point but names no %s"
                                 % (self.deployment["name"], "distribution point" if not points else "package"))
        try:
            with self._store() as store:
                point = read_point(store, points[0])
                package, _keys = current_package(store, package_name)
                if point is None or package is None:
                    raise InstallFailure("deployment '%s': %s does not exist" % (
                        self.deployment["name"], "distribution point '%s'" % points[0] if point is None
                        else "deployment package '%s'" % package_name))
                languages = json.loads(package["languages"] or '["all"]')
                records = package_records(store, update_ids, None if "all" in languages else languages)
        except ContentError as exc:
            raise InstallFailure("deployment '%s': %s" % (self.deployment["name"], exc))
        files = []
        for record in records:
            try:
                path = relative_path(content_parts(record["sha1"], record["sha256"], extension_of(record["file_name"])))
            except LayoutError as exc:
                raise InstallFailure("update %s, file %s: %s" % (record["update_id"], record["file_name"], exc))
            files.append({"update_id": record["update_id"], "child_id": record["from_update"],
                          "file_name": record["file_name"], "path": path, "size": int(record["size"] or 0),
                          "sha1": record["sha1"], "sha256": record["sha256"]})
        return {"source": "distribution_point", "base_url": point["host_url"], "files": files}

    def _check_space(self, status, content, scan, update_ids):
        """Fail before anything is fetched when the files cannot fit on the system drive (WUA's own
        downloads: the scan's maximum download sizes)."""
        if content["source"] == "distribution_point":
            needed = sum(f["size"] for f in content["files"])
        else:
            wanted = set(update_ids)
            needed = sum(u["max_download_size"] for u in scan["updates"] if u["update_id"].lower() in wanted)
        if needed and needed > status["free_space_bytes"]:
            raise InstallFailure("%s has %d bytes free on its system drive; the updates' files need %d: nothing was "
                                 "downloaded or installed" % (self.host, status["free_space_bytes"], needed))

    def _install(self, batches, content, announce=True):
        self.rounds.host_args = dict(self.rounds.host_args, batches=[{"updates": b} for b in batches], content=content)
        for batch in batches:
            for item in batch:
                self._enforce(item["update_id"], "installing" if announce else "downloading")
        try:
            install, failure = self.rounds.run(self.args["timeout"], self.args["poll_interval"],
                                               reconnect_timeout=self.args["reconnect_timeout"])
        except TRANSIENT as exc:
            raise InstallFailure("host unreachable during the install: %s" % to_text(exc), outcome=outcomes.UNREACHABLE)
        except ContractError as exc:
            raise InstallFailure(str(exc))
        finally:
            self.rounds.host_args = {k: v for k, v in self.rounds.host_args.items()
                                     if k not in ("batches", "content", "predownload")}
        if failure is not None and failure.get("round") == "lost" and self._restarted():
            raise _Restarted("the host restarted during the install (boot time %s): %s" % (self.last_boot, failure["msg"]))
        if failure is not None:
            for batch in batches:
                for item in batch:
                    self._enforce(item["update_id"], "failed", detail={"reason": "worker", "message": failure["msg"]})
            raise InstallFailure("the install did not complete: %s" % failure["msg"], install_round=failure.get("round"))
        return install

    def _restarted(self):
        """True when the host's boot time is no longer the one it had (it restarted); the new one is kept."""
        try:
            status = self.rounds.call("status")
        except TRANSIENT + (ContractError,):
            return False
        if status.get("failed") or status["last_boot"] == self.last_boot:
            return False
        self.last_boot = status["last_boot"]
        return True

    def _installed_before_restart(self, sent, facts, scan):
        installed = {u["update_id"].lower() for u in scan["updates"] if u["is_installed"]}
        for uid in sent:
            if uid in installed:
                fact = facts.get(uid, {})
                self.entries[uid] = dict(outcomes.update_entry(uid, fact.get("title"),
                                                               outcomes.kb_names([fact.get("kb")]),
                                                               fact.get("categories", ())),
                                         installed=True, downloaded=True, outcome="installed")
                self._enforce(uid, "installed", detail={"before_restart": True})

    def _record_entries(self, facts, decisions, install):
        results = {u["update_id"].lower(): u for u in (install or {}).get("updates", ())}
        for uid, decision in decisions.items():
            fact = facts.get(uid, {})
            kb = fact.get("kb")
            entry = outcomes.update_entry(uid, fact.get("title"), outcomes.kb_names([kb]), fact.get("categories", ()),
                                          decision, results.get(uid))
            self.entries[uid] = entry
            self._enforce_entry(uid, entry, decision, results.get(uid))

    def _enforce_entry(self, uid, entry, decision, result):
        outcome = entry["outcome"]
        if outcome == "waiting_for_window":
            if decision.get("never_fits"):
                self._enforce(uid, "not_attempted", detail=not_attempted_detail(
                    "longer_than_every_window", needs_minutes=decision["needs_minutes"]))
            else:
                self._enforce(uid, "waiting_for_window", detail=waiting_for_window_detail(
                    decision.get("would_start") or format_time(utc_now()), decision.get("needs_minutes") or 0,
                    decision.get("window_ends") or format_time(utc_now()),
                    (decision.get("next_window") or {}).get("start")))
        elif outcome == "downloaded":
            self._enforce(uid, "downloaded")
        elif outcome == "not_attempted":
            self._enforce(uid, "not_attempted", detail=not_attempted_detail(entry.get("reason") or "unknown"))
        elif outcome == "installed":
            self._enforce(uid, "installed")
        elif outcome == "pending_restart":
            self._enforce(uid, "pending_restart")
        elif outcome == "download_failed":
            self._enforce(uid, "download_failed", hresult=result and result["download_hresult"],
                          detail={"message": entry["failure_msg"]})
        elif outcome == "failed":
            self._enforce(uid, "failed", hresult=result and result["hresult"], detail={"message": entry["failure_msg"]})

    def _settle_after_reboot(self, verification):
        """After the restart: updates that waited for it are installed now (the scan says so)."""
        installed = {u["update_id"].lower() for u in verification["updates"] if u["is_installed"]}
        for uid, entry in self.entries.items():
            if entry["outcome"] == "pending_restart" and uid in installed:
                entry["outcome"] = "installed"
                self._enforce(uid, "installed", detail={"after_restart": True})

    # -- reboots --------------------------------------------------------------------------------

    def _policy(self):
        if self.deployment is not None:
            return (self.deployment.get("settings") or {}).get("reboot", "if_required")
        return "if_required" if self.args["reboot"] else "never"

    def _wants_reboot(self, needed):
        policy = self._policy()
        return policy == "always" or (needed and policy == "if_required")

    def _reboot_allowed(self, windows, now, before=False):
        """Reboots happen inside a window unless the policy allows otherwise (or the deadline lifts windows)."""
        if before and self._policy() == "never":
            return False
        settings = (self.deployment or {}).get("settings") or {}
        if not windows or settings.get("reboot_outside_window"):
            return True
        if self.plan is not None and self.plan.get("windows_ignored"):
            return True
        state = window_state(windows, now)
        if state.unrestricted or state.current is not None:
            return True
        self.messages.append("the restart waits for a maintenance window (none is open now)")
        return False

    def _reboot(self, why):
        display.vv("%s: restarting: %s" % (self.host, why))
        try:
            outcome = reboot_and_wait(self.rounds, self.args["reboot_timeout"])
        except RebootError as exc:
            raise InstallFailure("%s: %s" % (why, exc))
        if not outcome["rebooted"]:
            raise InstallFailure("the host did not come back within reboot_timeout (%d s) after its restart: %s"
                                 % (self.args["reboot_timeout"], outcome["error"]), outcome=outcomes.DID_NOT_RETURN)
        self.rebooted = True
        self.last_boot = outcome["last_boot"]
        self.messages.append("restarted (%s); back after %.0f s with boot time %s"
                             % (why, outcome["seconds"], outcome["last_boot"]))

    # -- messages -------------------------------------------------------------------------------

    def _enforce(self, update_id, state, hresult=None, detail=None):
        deployment = self.args["deployment"]
        if update_id is None and deployment is None:
            return
        write_enforcement(self.spool, self.host, deployment, update_id, state, hresult=hresult, detail=detail)
        self.state_messages += 1

    @staticmethod
    def _failure_text(outcome, failed):
        names = ", ".join("%s (%s)" % (e["kb"][0] if e["kb"] else e["id"], e["failure_msg"] or e["outcome"])
                          for e in failed[:5])
        if outcome == outcomes.UPDATE_LOOP:
            return "update loop: %s" % names
        if outcome == outcomes.DID_NOT_RETURN:
            return "the host did not come back after its restart"
        return "%d update(s) failed: %s" % (len(failed), names)
