# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""The check-mode plan of an install read from the store: the deployment, the host's newest usable
scan against exactly the list version's updates, and the catalog facts the order needs.

Reads only (callers move waiting state messages in first, ``_scan/ingest.py``); the rules are
``plan.py``'s.
"""

from __future__ import annotations

from ansible_collections.patchwave.windows.plugins.module_utils._catalog.source import MICROSOFT_SOURCES
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.reads import evaluate_store
from ansible_collections.patchwave.windows.plugins.module_utils._scan.previous import last_good_scan
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.rules import DEFAULT_STALE_AFTER_DAYS
from ansible_collections.patchwave.windows.plugins.module_utils._install.plan import (
    EXCLUSIVE,
    REBOOTING,
    HostScan,
    eligibility,
    plan_install,
)
from ansible_collections.patchwave.windows.plugins.module_utils._prepare.deployment_compliance import (
    SET_NAME,
    deployment_set,
)
from ansible_collections.patchwave.windows.plugins.module_utils._prepare.deployments import (
    deployment_updates,
    read_deployment,
)
from ansible_collections.patchwave.windows.plugins.module_utils._windows.merge import MAX_HORIZON_DAYS

_IN_CHUNK = 500  # values in one IN (...) list


class PlanError(ValueError):
    """The plan cannot be made; the message names the deployment and the cause."""


def _chunks(ids):
    ids = list(ids)
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start:start + _IN_CHUNK]
        yield chunk, ", ".join("?" * len(chunk))


def install_facts(store, update_ids):
    """``{update_id: {impact, reboot_behavior, prerequisites}}`` as the catalog has them.

    A bundle whose own row says nothing of impact or reboot takes its members' (the strictest:
    exclusive over any other impact, a reboot over none). Prerequisites are CNF clauses of ids.
    """
    facts = {uid: {"impact": None, "reboot_behavior": None, "prerequisites": []} for uid in update_ids}
    members = {}
    for chunk, marks in _chunks(facts):
        for row in store.query("SELECT update_id, impact, reboot_behavior FROM updates WHERE update_id IN (%s)"
                               % marks, chunk):
            facts[row["update_id"]].update(impact=row["impact"], reboot_behavior=row["reboot_behavior"])
        clauses = {}
        for row in store.query("SELECT update_id, clause, prerequisite_id FROM update_prerequisites "
                               "WHERE update_id IN (%s) ORDER BY update_id, clause, prerequisite_id" % marks, chunk):
            clauses.setdefault(row["update_id"], {}).setdefault(row["clause"], []).append(row["prerequisite_id"])
        for uid, numbered in clauses.items():
            facts[uid]["prerequisites"] = [numbered[n] for n in sorted(numbered)]
        for row in store.query("SELECT b.bundle_id, u.impact, u.reboot_behavior FROM update_bundles b "
                               "JOIN updates u ON u.update_id = b.member_id WHERE b.bundle_id IN (%s)" % marks, chunk):
            members.setdefault(row["bundle_id"], []).append(row)
    for uid, rows in members.items():
        entry = facts[uid]
        if entry["impact"] is None:
            impacts = [r["impact"] for r in rows if r["impact"]]
            entry["impact"] = EXCLUSIVE if EXCLUSIVE in impacts else (impacts[0] if impacts else None)
        if entry["reboot_behavior"] is None:
            behaviors = [r["reboot_behavior"] for r in rows if r["reboot_behavior"]]
            rebooting = [b for b in REBOOTING if b in behaviors]
            entry["reboot_behavior"] = rebooting[0] if rebooting else (behaviors[0] if behaviors else None)
    return facts


def stored_scan_updates(store, host):
    """The host's newest good scan in the store as the ad hoc check-mode plan reads it: ``(scan, updates)``
    with ``scan`` as ``_scan/previous.last_good_scan`` gives it (None: no scan) and ``updates`` shaped as a
    scan result's (``update_id, title, kb_article_ids, is_installed, is_hidden, max_download_size,
    categories``: products and classifications from the catalog)."""
    scan = last_good_scan(store, host)
    if scan is None:
        return None, []
    rows = store.query("SELECT update_id, installed, hidden FROM scan_updates WHERE scan_pk = ? ORDER BY update_id",
                       (scan["scan_pk"],))
    updates = {r["update_id"]: {"update_id": r["update_id"], "title": None, "kb_article_ids": [],
                                "is_installed": bool(r["installed"]), "is_hidden": bool(r["hidden"]),
                                "max_download_size": 0, "categories": []} for r in rows}
    for chunk, marks in _chunks(updates):
        for row in store.query("SELECT update_id, title, kb, max_download_size FROM updates WHERE update_id IN (%s)"
                               % marks, chunk):
            updates[row["update_id"]].update(title=row["title"], kb_article_ids=[row["kb"]] if row["kb"] else [],
                                             max_download_size=int(row["max_download_size"] or 0))
        for row in store.query("SELECT c.update_id, k.title, k.category_type FROM update_categories c JOIN updates k "
                               "ON k.update_id = c.category_id WHERE k.category_type IN ('Product', "
                               "'UpdateClassification') AND c.update_id IN (%s) ORDER BY k.title" % marks, chunk):
            category = {"id": None, "name": row["title"], "type": row["category_type"]}
            updates[row["update_id"]]["categories"].append(category)
    return scan, list(updates.values())


def catalog_file_updates(store, deployment):
    """The deployment's list version's updates that came from a catalog file (third-party, custom):
    ``[{update_id, kb, title, source}]``. WUA installs them only when the host's update server
    publishes them."""
    ids = [u["update_id"] for u in deployment_updates(store, deployment)]
    found = []
    for chunk, marks in _chunks(ids):
        found.extend(dict(row) for row in store.query(
            "SELECT update_id, kb, title, source FROM updates WHERE update_id IN (%s) AND source NOT IN (%s) "
            "ORDER BY update_id" % (marks, ", ".join("?" * len(MICROSOFT_SOURCES))), list(chunk) + list(MICROSOFT_SOURCES)))
    return found


def plan_from_store(store, deployment_name, host, group_names, windows, now, clock_offset_seconds=0, optional=False,
                    host_timezone=None, stale_after_days=DEFAULT_STALE_AFTER_DAYS, horizon_days=MAX_HORIZON_DAYS):
    """``plan.plan_install`` for ``host`` (in ``group_names``) on the stored deployment
    ``deployment_name``, from the host's newest usable scan in ``store``; raises PlanError when the
    deployment does not exist."""
    deployment = read_deployment(store, deployment_name)
    if deployment is None:
        raise PlanError("deployment '%s' does not exist" % deployment_name)
    if not eligibility(deployment, host, group_names, now, optional).eligible:
        return plan_install(deployment, host, group_names, HostScan(None), [], windows, now, clock_offset_seconds,
                            optional, host_timezone, horizon_days)
    evaluation = evaluate_store(store, [deployment_set(store, deployment)], hosts=[host], now=now,
                                stale_after_days=stale_after_days, per_update=False, required=True)
    required = tuple(evaluation.sets[SET_NAME].host_required.get(host, ()))
    updates = deployment_updates(store, deployment)
    wanted = {uid for uid, _detail in required}
    facts = install_facts(store, [u["update_id"] for u in updates if u["update_id"] in wanted])
    catalog_facts = [dict(u, **facts[u["update_id"]]) for u in updates if u["update_id"] in wanted]
    return plan_install(deployment, host, group_names, HostScan(evaluation.hosts[host], required), catalog_facts,
                        windows, now, clock_offset_seconds, optional, host_timezone, horizon_days)
