# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Retiring hosts: which hosts leave evaluation, reports and the inventory, and the one change that does it.

A retired host keeps its history (pruned by the retention policy like any other); the readers skip
it (``reads.ACTIVE_HOSTS``) until it reports again, when ingest clears the mark.
"""

from __future__ import annotations

import datetime

from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import format_time, parse_time


def host_rows(store):
    """Every host the store knows: ``{host: {"last_seen", "retired_at", "reason"}}``.

    ``last_seen`` is the controller's time of the host's newest scan or attempt (the time the store
    first heard of it when it has neither).
    """
    seen = {}
    for table in ("scans", "scan_attempts"):
        for row in store.query("SELECT host_name, max(received) AS received FROM %s GROUP BY host_name" % table):
            if row["received"] and row["received"] > seen.get(row["host_name"], ""):
                seen[row["host_name"]] = row["received"]
    return {row["host_name"]: {"last_seen": seen.get(row["host_name"]) or row["first_seen"],
                               "retired_at": row["retired_at"], "reason": row["retired_reason"]}
            for row in store.query("SELECT host_name, first_seen, retired_at, retired_reason FROM hosts")}


def plan(known, state, names=(), not_seen_days=None, now=None):
    """What a run changes (pure): ``(changes, unknown)``.

    ``changes`` lists ``{"name", "last_seen", "retired_at", "reason"}`` (as they are now) of the hosts
    that change state: for ``retired``, the named hosts and those not seen for ``not_seen_days`` days
    that are not retired yet; for ``active``, the named hosts that are retired. ``unknown`` lists
    the named hosts the store does not know.
    """
    wanted = set(names)
    unknown = sorted(wanted - set(known))
    if state == "retired" and not_seen_days is not None:
        cutoff = now - datetime.timedelta(days=not_seen_days)
        wanted.update(name for name, facts in known.items() if parse_time(facts["last_seen"]) < cutoff)
    changes = []
    for name in sorted(wanted - set(unknown)):
        facts = known[name]
        if (state == "retired") == (facts["retired_at"] is None):
            changes.append(dict(facts, name=name))
    return changes, unknown


def apply(store, state, changes, reason=None, now=None):
    """Retire (or bring back) the hosts of ``changes`` in one transaction; return the time stamped."""
    stamp = format_time(now) if state == "retired" else None
    with store.transaction() as cursor:
        for change in changes:
            cursor.execute("UPDATE hosts SET retired_at = ?, retired_reason = ? WHERE host_name = ?",
                           (stamp, reason if state == "retired" else None, change["name"]))
    return stamp
