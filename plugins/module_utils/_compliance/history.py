# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Compliance over time: every set replayed day by day from the scans the store keeps."""

from __future__ import annotations

import datetime

from ansible_collections.patchwave.windows.plugins.module_utils._catalog.query import current_version
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.reads import (
    ACTIVE_HOSTS,
    ENFORCEMENT_AFTER_SCANS_SQL,
    SCAN_COLUMNS,
    Scratch,
    apply_enforcement_rows,
    count_scans,
    scan_facts,
)
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.rules import (
    COMPLIANCE,
    DEFAULT_STALE_AFTER_DAYS,
    USABLE,
    HostStatus,
    empty_counts,
    evaluate,
    host_status,
    set_compliance,
)
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.update_sets import resolve
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import format_time, parse_time, utc_now


def history(store, update_sets, days=30, now=None, stale_after_days=DEFAULT_STALE_AFTER_DAYS, hosts=None,
            evaluation=None):
    """Per set name: hosts per compliance state at the end of each of the last ``days`` days, from
    kept history.

    Each day uses every host's newest scan received by then (the controller's clock, as everywhere a
    scan is picked), and the staleness policy as of then. The series starts on the day of the first
    scan the store holds (of any host, failed ones included): before it the store knew nothing, and
    a day of "every host Unknown" there would be invented. A store without scans has no trend.
    The sets are resolved against the current catalog and counted in one pass, like ``read_rows``.
    Given the ``evaluation`` of the same sets (``reads.evaluate_store``), its catalog version and
    resolved sets are used instead of reading them again, so trend and figures judge by one catalog.
    Enforcement states apply as in ``reads``: a pair's newest state received after the day's
    deciding scan and by the day's end (``rules.apply_enforcement``).
    """
    now = now or utc_now()
    if evaluation is None:
        has_catalog = current_version(store) is not None
        ids_of = {update_set.name: resolve(store, update_set) for update_set in update_sets}
    else:
        has_catalog = evaluation.has_catalog
        ids_of = {update_set.name: evaluation.sets[update_set.name].update_ids for update_set in update_sets}
    resolved = [(update_set.name, 1 << index, ids_of[update_set.name]) for index, update_set in enumerate(update_sets)]
    masks = {}
    for _name, bit, ids in resolved:
        for uid in ids:
            masks[uid] = masks.get(uid, 0) | bit
    wanted = None if hosts is None else set(hosts)
    scans = {}
    for row in store.query("SELECT %s FROM scans WHERE %s ORDER BY host_name, received, scan_pk"
                           % (SCAN_COLUMNS, ACTIVE_HOSTS)):
        if wanted is None or row["host_name"] in wanted:
            scans.setdefault(row["host_name"], []).append(scan_facts(row))
    names = sorted(set(scans) | set(hosts or ()))
    good = [s for facts in scans.values() for s in facts if s.succeeded]
    with store.read_transaction() as cursor:
        scratch = Scratch(store, cursor)
        try:
            scratch.load_sets(masks)
            first_version = dict(scratch.rows("SELECT update_id, first_version FROM {set}"))
            scratch.load_scans([(s.scan_pk, s.catalog_version, True) for s in good])
            groups = scratch.flag_groups({s.scan_pk: s.catalog_version for s in good})
            enforced = {}  # scan_pk -> its enforcement rows, oldest first
            for row in scratch.rows(ENFORCEMENT_AFTER_SCANS_SQL):
                enforced.setdefault(row[0], []).append(row)
        finally:
            scratch.close()
    pseudo = {s.scan_pk: HostStatus(USABLE, s) for s in good}
    per_scan = {name: count_scans(groups, pseudo, sorted(first_version[u] for u in ids), len(ids), bit)
                for name, bit, ids in resolved}
    # Each scan's time parsed once, not once per day.
    times = {name: [parse_time(s.age_time) for s in facts] for name, facts in scans.items()}
    series = {name: [] for name, _bit, _ids in resolved}
    first = _first_scan_day(store)
    if first is None:
        return series
    today = now.date()
    for offset in range(days - 1, -1, -1):
        day = today - datetime.timedelta(days=offset)
        if day < first:
            continue
        end = min(now, datetime.datetime.combine(day, datetime.time(23, 59, 59), datetime.timezone.utc))
        points = {name: {"date": day.isoformat(), **dict.fromkeys(COMPLIANCE, 0)} for name in series}
        for host in names:
            facts = [s for s, received in zip(scans.get(host, ()), times.get(host, ())) if received <= end]
            latest = facts[-1] if facts else None
            last_good = next((s for s in reversed(facts) if s.succeeded), None)
            status = host_status(latest, last_good, end, stale_after_days)
            rows = _enforced_by(enforced.get(status.scan.scan_pk), end) if status.usable else None
            for name, bit, ids in resolved:
                if status.usable:
                    counts = per_scan[name][status.scan.scan_pk]
                    if rows:
                        adjusted = {host: dict(counts)}
                        apply_enforcement_rows(rows, {host: status}, first_version, bit, adjusted)
                        counts = adjusted[host]
                else:
                    counts = empty_counts()
                    counts[evaluate(status, None, None)[0]] = len(ids)
                points[name][set_compliance(counts, status.usable, has_catalog)] += 1
        for name, point in points.items():
            series[name].append(point)
    return series


def _enforced_by(rows, end):
    """Of one scan's enforcement rows, each pair's newest received by ``end``."""
    if not rows:
        return None
    limit = format_time(end)
    newest = {}
    for row in rows:
        if row[6] <= limit:
            newest[row[1]] = row  # rows come oldest first
    return list(newest.values())


def _first_scan_day(store):
    """The day (UTC) the store received its first scan or failure to scan of a host not retired; None
    without any."""
    rows = store.query("SELECT MIN(received) AS first_received FROM scans WHERE %s" % ACTIVE_HOSTS)
    first = rows[0]["first_received"] if rows else None
    return None if first is None else parse_time(first).date()
