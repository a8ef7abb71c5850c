# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Compliance over the store, in bulk: the rules of ``_compliance/rules.py`` applied to every host at once.

No query runs per host. The returned updates of the deciding scans are grouped by what the rules
look at (installed, hidden, restart outstanding, whether the update is newer than the scan's
catalog) — counted from each scan's bit planes (``_store/planes.py``), or grouped in SQL over the records
where updates are listed — and ``rules.evaluate`` decides each group once; updates a scan did
not return are counted, not listed, because the rules decide them from the catalog versions alone.
So the rules live in one place and the store does the counting.

Callers move waiting state messages in first (``_scan/ingest.py``); everything here reads: scratch
tables are TEMP tables inside a read transaction (``store.read_transaction``), so a read takes no
write lock and a role with SELECT (and TEMP) on the store can run it.
"""

from __future__ import annotations

import bisect
import datetime
import json
from dataclasses import dataclass, field, replace

from ansible_collections.patchwave.windows.plugins.module_utils._catalog.query import current_version
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.rules import (
    DEFAULT_STALE_AFTER_DAYS,
    MAY_BE_REQUIRED_SQL,
    EnforcementFacts,
    REQUIRED,
    USABLE,
    HostStatus,
    ResultFacts,
    ScanFacts,
    UpdateFacts,
    add_counts,
    apply_enforcement,
    count_compliance,
    empty_counts,
    evaluate,
    host_status,
    newer_than_scan,
    set_compliance,
    set_warnings,
)
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.update_sets import resolve
from ansible_collections.patchwave.windows.plugins.module_utils._scan.previous import last_attempts
from ansible_collections.patchwave.windows.plugins.module_utils._store.planes import bits_of, from_blob, popcount
from ansible_collections.patchwave.windows.plugins.module_utils._store.schema import NEWEST_FIRST
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import format_time, utc_now

_NEWER = 1 << 62  # an update first_version newer than any catalog version


_PLANES_CHUNK = 2000  # scans whose planes are read at a time


_IN_CHUNK = 500  # values in one IN (...) list


SCAN_COLUMNS = ("host_name, scan_pk, finished, received, succeeded, catalog_version, mode, server_selection, "
                "source, forced, reboot_pending, error")


def scan_facts(row):
    return ScanFacts(scan_pk=row["scan_pk"], finished=row["finished"], received=row["received"],
                     succeeded=bool(row["succeeded"]),
                     catalog_version=row["catalog_version"], mode=row["mode"],
                     server_selection=row["server_selection"], source=row["source"], forced=bool(row["forced"]),
                     reboot_pending=bool(row["reboot_pending"]), error=row["error"])


# Hosts retired by host_retire: their history stays (under the retention policy), but readers
# leave them out until they report again (ingest clears the mark).
ACTIVE_HOSTS = "host_name NOT IN (SELECT host_name FROM hosts WHERE retired_at IS NOT NULL)"


def _newest_scans(store, good_only=False):
    """Each active host's newest scan (or newest successful scan), as rows; one query for all hosts.

    Newest by the time the controller received it, never by the host's clock (NEWEST_FIRST)."""
    where = " WHERE %s%s" % (ACTIVE_HOSTS, " AND succeeded = 1" if good_only else "")
    sql = ("SELECT %s FROM (SELECT %s, ROW_NUMBER() OVER (PARTITION BY host_name ORDER BY %s) AS newest "
           "FROM scans%s) ranked WHERE newest = 1" % (SCAN_COLUMNS, SCAN_COLUMNS, NEWEST_FIRST, where))
    return store.query(sql)


def active_hosts(store):
    """The names of the hosts the store knows and that are not retired."""
    return [r["host_name"] for r in store.query("SELECT host_name FROM hosts WHERE retired_at IS NULL")]


def retired_hosts(store):
    """``{host: {"retired_at", "reason"}}`` of every retired host."""
    return {r["host_name"]: {"retired_at": r["retired_at"], "reason": r["retired_reason"]}
            for r in store.query("SELECT host_name, retired_at, retired_reason FROM hosts WHERE retired_at IS NOT NULL")}


def _statuses(latest_rows, good_rows, names, now, stale_after_days, attempts=None):
    latest = {r["host_name"]: scan_facts(r) for r in latest_rows}
    good = {r["host_name"]: scan_facts(r) for r in good_rows}
    attempts = attempts or {}
    return {name: replace(host_status(latest.get(name), good.get(name), now, stale_after_days),
                          last_attempt=attempts.get(name))
            for name in sorted(names)}


def _host_names(store_hosts, latest_rows, hosts, include_store_hosts):
    names = set(hosts or ())
    if hosts is None or include_store_hosts:
        names.update(store_hosts)
        names.update(r["host_name"] for r in latest_rows)
    return names


def load_host_statuses(store, hosts=None, now=None, stale_after_days=DEFAULT_STALE_AFTER_DAYS):
    """HostStatus of every active host the store knows or, with ``hosts`` given, of those names only
    (never scanned when unknown to the store or retired)."""
    latest = _newest_scans(store)
    store_hosts = active_hosts(store) if hosts is None else ()
    return _statuses(latest, _newest_scans(store, good_only=True), _host_names(store_hosts, latest, hosts, False),
                     now or utc_now(), stale_after_days, _active_attempts(store))


def _active_attempts(store):
    retired = retired_hosts(store)
    return {host: attempt for host, attempt in last_attempts(store).items() if host not in retired}


@dataclass
class SetResult:
    """Compliance of hosts against one named set of updates."""

    name: str
    update_ids: list
    updates: dict = field(default_factory=dict)          # update id -> {kb, title, msrc_severity, ...}
    host_counts: dict = field(default_factory=dict)      # host -> {state: count}
    host_compliance: dict = field(default_factory=dict)  # host -> compliant / non_compliant / unknown
    host_required: dict = field(default_factory=dict)    # host -> [(update_id, detail)] Required updates
    update_counts: dict = field(default_factory=dict)    # update id -> {state: hosts}

    def summary(self, hosts=None):
        """Hosts per compliance state (over ``hosts``, default every host)."""
        return count_compliance(self.host_compliance[h] for h in (self.host_compliance if hosts is None else hosts))

    def state_totals(self, hosts=None):
        """(host, update) pairs per state (over ``hosts``, default every host)."""
        return add_counts(self.host_counts[h] for h in (self.host_counts if hosts is None else hosts))


@dataclass
class Evaluation:
    """Everything ``evaluate_store`` computed: host statuses and one SetResult per named set."""

    now: datetime.datetime
    stale_after_days: int
    catalog_version: int | None
    hosts: dict
    sets: dict

    @property
    def has_catalog(self):
        return self.catalog_version is not None

    def warnings(self):
        """No catalog version in the store, or the sets that select no update (``rules.set_warnings``)."""
        return set_warnings(self.catalog_version, {name: len(result.update_ids) for name, result in self.sets.items()})


class Scratch:
    """Working tables for one read, inside the caller's transaction: the sets' updates (one row per
    update, a bit per set) and the deciding scans. ``sql`` fills in their names (``{set}``,
    ``{scans}``), which the backend chooses."""

    def __init__(self, store, cursor):
        self.store = store
        self.cursor = cursor
        self.names = {}
        self.names["set"] = store.scratch_table(cursor, "pw_set", "update_id TEXT PRIMARY KEY, first_version BIGINT, "
                                                                  "mask BIGINT", keyed=True)
        self.names["scans"] = store.scratch_table(cursor, "pw_scans", "scan_pk BIGINT PRIMARY KEY, "
                                                                      "catalog_version BIGINT, usable INTEGER", keyed=True)

    def load_sets(self, masks):
        """``masks``: update id -> bit mask of the sets that hold it."""
        self.store.copy_rows(self.cursor, self.names["set"], ("update_id", "mask"), masks.items())
        self.cursor.execute(self.sql("UPDATE {set} SET first_version = (SELECT u.first_version FROM updates u "
                                     "WHERE u.update_id = {set}.update_id)"))
        self.store.analyze(self.cursor, self.names["set"])

    def load_scans(self, scans):
        """``scans``: (scan_pk, catalog_version, usable now)."""
        self.store.copy_rows(self.cursor, self.names["scans"], ("scan_pk", "catalog_version", "usable"),
                             ((pk, version, int(usable)) for pk, version, usable in scans))
        self.store.analyze(self.cursor, self.names["scans"])

    def sql(self, text):
        return text.replace("{set}", self.names["set"]).replace("{scans}", self.names["scans"])

    def flag_groups(self, versions):
        """Rows (scan_pk, set mask, flags, count) of the returned updates of the loaded scans, as the
        grouped query over ``_JOIN`` gives them, counted from the scans' bit planes instead
        (``_store/planes.py``). ``versions``: scan_pk -> the scan's catalog version.

        The planes are read a chunk of scans at a time (their size grows with the number of update
        ids the store has numbered). A scan without planes (stored by an older controller while
        this store was migrated) is grouped by the query over its records.
        """
        by_mask = {}  # set mask -> ordinals of the updates in exactly those sets
        by_version = []
        for ordinal, mask, first_version in self.cursor.execute(self.sql(
                "SELECT o.ordinal, st.mask, st.first_version FROM {set} st "
                "JOIN update_ordinals o ON o.update_id = st.update_id")):
            by_mask.setdefault(mask, []).append(ordinal)
            if first_version is not None:
                by_version.append((first_version, ordinal))
        members = sorted((mask, bits_of(ordinals)) for mask, ordinals in by_mask.items())
        by_version.sort()
        firsts = [first for first, _ordinal in by_version]
        newer = {}  # catalog version -> bits of the set updates newer than it (flag 8)
        for version in set(versions.values()):
            if version is None:  # no catalog version: every update counts as newer
                newer[version] = bits_of(o for ordinals in by_mask.values() for o in ordinals)
            else:
                newer[version] = bits_of(o for _first, o in by_version[bisect.bisect_right(firsts, version):])
        groups, missing = [], []
        last = 0
        while True:
            chunk = self.cursor.execute(self.sql(
                "SELECT ps.scan_pk, b.returned, b.installed, b.hidden, b.reboot FROM {scans} ps "
                "LEFT JOIN scan_bits b ON b.scan_pk = ps.scan_pk WHERE ps.scan_pk > ? ORDER BY ps.scan_pk LIMIT ?"),
                (last, _PLANES_CHUNK)).fetchall()
            if not chunk:
                break
            last = chunk[-1][0]
            missing.extend(row[0] for row in chunk if row[1] is None)
            groups.extend(_flag_groups(((row[0], versions[row[0]]) + tuple(map(from_blob, row[1:]))
                                        for row in chunk if row[1] is not None), members, newer))
        for start in range(0, len(missing), _IN_CHUNK):
            part = missing[start:start + _IN_CHUNK]
            groups.extend(self.rows("SELECT su.scan_pk, st.mask, %s, count(*) %s WHERE ps.scan_pk IN (%s) "
                                    "GROUP BY 1, 2, 3" % (_FLAGS_SQL, _JOIN, ", ".join("?" * len(part))), part))
        return groups

    def rows(self, sql, params=()):
        return [list(row) for row in self.cursor.execute(self.sql(sql), params).fetchall()]

    def close(self):
        for name in self.names.values():
            self.store.drop_scratch(self.cursor, name)


_JOIN = ("FROM {scans} ps JOIN scan_updates su ON su.scan_pk = ps.scan_pk "
         "JOIN {set} st ON st.update_id = su.update_id")


# Everything the rules look at in a returned update, as one small integer (see _FLAG_STATES):
# 1 installed, 2 hidden, 4 restart outstanding, 8 newer than the scan's catalog version.
_FLAGS_SQL = ("su.installed + 2 * su.hidden + 4 * coalesce(su.reboot_required, 0) + 8 * (CASE WHEN "
              "ps.catalog_version IS NULL OR st.first_version > ps.catalog_version THEN 1 ELSE 0 END)")


def _flag_groups(scans, members, newer):
    """Rows (scan_pk, set mask, flags, count) from bit planes: ``scans`` yields (scan_pk, catalog
    version, returned, installed, hidden, reboot); ``members`` is [(set mask, ordinal bits)],
    ``newer`` catalog version -> ordinal bits of newer updates. Each scan's returned updates in a
    part of the sets are split plane by plane (empty halves dropped) and the leaves counted."""
    groups = []
    for scan_pk, version, returned, installed, hidden, reboot in scans:
        planes = [(plane, flag) for plane, flag in ((installed, 1), (hidden, 2), (reboot, 4), (newer[version], 8))
                  if plane]
        for mask, bits in members:
            nodes = [(bits & returned, 0)]
            if not nodes[0][0]:
                continue
            for plane, flag in planes:
                split = []
                for part, flags in nodes:
                    inside = part & plane
                    if not inside:
                        split.append((part, flags))
                        continue
                    split.append((inside, flags | flag))
                    if inside != part:
                        split.append((part ^ inside, flags))
                nodes = split
            groups.extend([scan_pk, mask, flags, popcount(part)] for part, flags in nodes)
    return groups


_USABLE = HostStatus(USABLE, ScanFacts(scan_pk=0, finished="", succeeded=True, catalog_version=0))


def _flag_state(flags):
    """(state, detail) the rules give a returned update with these flags on a host with a usable scan."""
    return evaluate(_USABLE, UpdateFacts(_NEWER if flags & 8 else 0),
                    ResultFacts(bool(flags & 1), bool(flags & 2), bool(flags & 4)))


# For a usable scan, the rules decide a returned update from its flags alone (the tests check this
# against evaluate for every flag value and several scans), so each flag value is decided once.
_FLAG_STATES = tuple(_flag_state(flags) for flags in range(16))


def _absent_states(status):
    """(state for absent updates the scan's catalog held, state for absent newer updates)."""
    return evaluate(status, UpdateFacts(0), None)[0], evaluate(status, UpdateFacts(_NEWER), None)[0]


def count_scans(groups, statuses, first_versions, size, bit=None):
    """Per host: counts per state over one set, for hosts whose status is usable.

    ``groups``: rows (scan_pk, set mask, flags, count) of returned updates; ``bit`` the set's bit
    in the mask (None: every row counts).
    """
    by_scan = {s.scan.scan_pk: (name, s) for name, s in statuses.items() if s.usable}
    counts = {name: empty_counts() for name, _status in by_scan.values()}
    present = {name: [0, 0] for name in counts}  # [covered, newer] returned updates
    for scan_pk, mask, flags, number in groups:
        if (bit is not None and not mask & bit) or scan_pk not in by_scan:
            continue  # not in this set, or the scan decides nothing now (stale, or not asked for)
        name = by_scan[scan_pk][0]
        counts[name][_FLAG_STATES[flags][0]] += number
        present[name][1 if flags & 8 else 0] += number
    for name, status in by_scan.values():
        version = status.scan.catalog_version
        newer_total = size if version is None else size - bisect.bisect_right(first_versions, version)
        covered_state, newer_state = _absent_states(status)
        counts[name][covered_state] += (size - newer_total) - present[name][0]
        counts[name][newer_state] += newer_total - present[name][1]
    return counts


def _count_updates(groups, statuses, updates):
    """Per update: hosts per state, for every host in ``statuses``.

    ``groups``: rows (update_id, the scan's catalog version, flags, count) over the scans usable
    when the rows were read. A usable host's updates its scan did not return are decided by the
    rules from that host's own scan (its catalog version), never from another host's: the hosts are
    grouped by catalog version and each (catalog version, first version) is decided once.
    """
    result = {uid: empty_counts() for uid in updates}
    returned = {}  # (update id, catalog version) -> hosts of that version whose scan returned it
    for update_id, version, flags, number in groups:
        if update_id in result:
            result[update_id][_FLAG_STATES[flags][0]] += number
            returned[(update_id, version)] = returned.get((update_id, version), 0) + number
    by_version = {}  # catalog version of a usable scan -> [a status with it, hosts]
    unusable = empty_counts()  # hosts per state of every update (no usable scan)
    for status in statuses.values():
        if status.usable:
            by_version.setdefault(status.scan.catalog_version, [status, 0])[1] += 1
        else:
            unusable[evaluate(status, None, None)[0]] += 1
    decided = {}  # (catalog version, first version) -> state of an update the scan did not return
    for uid, facts in updates.items():
        counts = result[uid]
        first = facts["first_version"]
        for version, (status, hosts) in by_version.items():
            absent = hosts - returned.get((uid, version), 0)
            if absent:
                key = (version, first)
                if key not in decided:
                    decided[key] = evaluate(status, UpdateFacts(first), None)[0]
                counts[decided[key]] += absent
        for state, hosts in unusable.items():
            counts[state] += hosts
    return result


def _required(rows, statuses, bit):
    """Per host: [(update_id, detail)] of its Required updates in one set, from rows that may be
    Required: (scan_pk, update_id, set mask, flags)."""
    by_scan = {s.scan.scan_pk: name for name, s in statuses.items() if s.usable}
    required = {}
    for scan_pk, update_id, mask, flags in rows:
        name = by_scan.get(scan_pk)
        if name is None or not mask & bit:
            continue
        state, detail = _FLAG_STATES[flags]
        if state == REQUIRED:
            required.setdefault(name, []).append((update_id, detail))
    return required


# Each deciding scan's newest enforcement state per update of the sets, among those received after
# the scan (the controller's clock, then the store's sequence: ``rules.newer_than_scan``), with the
# flags the scan gave the update (NULL: the scan did not return it). Rows (scan_pk, update_id, set
# mask, state, detail JSON, flags).
_ENFORCEMENT_SQL = (
    "SELECT e.scan_pk, e.update_id, st.mask, e.state, e.detail, CASE WHEN su.update_id IS NULL THEN NULL ELSE %s END "
    "FROM (SELECT ps.scan_pk, e.update_id, e.state, e.detail, ROW_NUMBER() OVER (PARTITION BY e.host_name, "
    "e.update_id ORDER BY e.received DESC, e.seq DESC) AS newest FROM {scans} ps "
    "JOIN scans s ON s.scan_pk = ps.scan_pk JOIN enforcement_states e ON e.host_name = s.host_name "
    "WHERE e.update_id IS NOT NULL AND (e.received > s.received OR (e.received = s.received AND e.seq > s.scan_pk))"
    ") e JOIN {scans} ps ON ps.scan_pk = e.scan_pk JOIN {set} st ON st.update_id = e.update_id "
    "LEFT JOIN scan_updates su ON su.scan_pk = e.scan_pk AND su.update_id = e.update_id "
    "WHERE e.newest = 1 ORDER BY e.scan_pk, e.update_id" % _FLAGS_SQL)


# Every enforcement state received after each loaded scan and before the host's next scan (any, a
# failed one included: later states never apply while the loaded scan decides), oldest first, for
# the trend to pick per day: rows (scan_pk, update_id, set mask, state, detail JSON, flags, received, seq).
ENFORCEMENT_AFTER_SCANS_SQL = (
    "SELECT ps.scan_pk, e.update_id, st.mask, e.state, e.detail, CASE WHEN su.update_id IS NULL THEN NULL ELSE %s END, "
    "e.received, e.seq FROM {scans} ps JOIN (SELECT scan_pk, host_name, received, "
    "LEAD(received) OVER (PARTITION BY host_name ORDER BY received, scan_pk) AS next_received, "
    "LEAD(scan_pk) OVER (PARTITION BY host_name ORDER BY received, scan_pk) AS next_pk FROM scans) s "
    "ON s.scan_pk = ps.scan_pk JOIN enforcement_states e ON e.host_name = s.host_name "
    "JOIN {set} st ON st.update_id = e.update_id "
    "LEFT JOIN scan_updates su ON su.scan_pk = ps.scan_pk AND su.update_id = e.update_id "
    "WHERE (e.received > s.received OR (e.received = s.received AND e.seq > s.scan_pk)) "
    "AND (s.next_received IS NULL OR e.received < s.next_received OR (e.received = s.next_received "
    "AND e.seq < s.next_pk)) ORDER BY ps.scan_pk, e.received, e.seq" % _FLAGS_SQL)


def enforcement_facts(state, detail_text):
    """EnforcementFacts from a stored state and its ``detail`` JSON text."""
    reason = None
    if state == "not_attempted":
        try:
            reason = json.loads(detail_text or "{}").get("reason")
        except (ValueError, AttributeError):
            reason = None
    return EnforcementFacts(state, reason)


def apply_enforcement_rows(rows, statuses, first_versions, bit, counts, required=None, update_counts=None):
    """Adjust one set's counts, Required lists and per-update counts (when given) by the pairs' newest
    enforcement states (rows of ``_ENFORCEMENT_SQL``: scan_pk, update_id, mask, state, detail, flags,
    ...): each pair leaves the state the scan gave it for the one ``rules.apply_enforcement`` gives,
    for hosts whose status is usable. ``first_versions``: update id -> first catalog version."""
    by_scan = {s.scan.scan_pk: name for name, s in statuses.items() if s.usable}
    for scan_pk, update_id, mask, state, detail_text, flags in (row[:6] for row in rows):
        name = by_scan.get(scan_pk)
        if name is None or not mask & bit or update_id not in first_versions:
            continue
        status = statuses[name]
        if flags is None:
            before = evaluate(status, UpdateFacts(first_versions[update_id]), None)
        else:
            before = _FLAG_STATES[flags]
        after = apply_enforcement(before[0], before[1], enforcement_facts(state, detail_text))
        if after == before:
            continue
        counts[name][before[0]] -= 1
        counts[name][after[0]] += 1
        if update_counts is not None:
            update_counts[update_id][before[0]] -= 1
            update_counts[update_id][after[0]] += 1
        if required is not None:
            listed = [pair for pair in required.get(name, []) if pair[0] != update_id]
            if after[0] == REQUIRED:
                listed.append((update_id, after[1]))
                listed.sort()
            if listed:
                required[name] = listed
            else:
                required.pop(name, None)


def read_rows(store, update_sets, now=None, stale_after_days=DEFAULT_STALE_AFTER_DAYS, per_update=False,
              required=True, hosts=None):
    """The raw rows compliance is computed from, as plain JSON-serialisable data; a few bulk queries.

    Every set is read in the same passes: the sets' updates are loaded once, each with a bit per set.
    The returned updates of every host's newest successful scan are counted by host and flags from
    the scans' bit planes (one small row per scan), not listed, except the records that may be
    Required (``required``, one pass over the records). ``per_update`` also groups the records by
    update over the scans usable at ``now`` (one pass). ``hosts`` limits the
    scans read to those hosts' (the per-update groups then count only them). ``evaluate_rows``
    computes an Evaluation from the result, later if need be (the inventory plugin caches these
    rows, not what it builds from them).
    """
    now = now or utc_now()
    latest = _newest_scans(store)
    rows = {"catalog_version": current_version(store), "read_at": format_time(now),
            "store_hosts": active_hosts(store), "attempts": _active_attempts(store),
            "latest": latest, "good": _newest_scans(store, good_only=True), "sets": {},
            "hosts": None if hosts is None else sorted(set(hosts))}
    wanted = None if hosts is None else set(hosts)
    masks = {}
    for index, update_set in enumerate(update_sets):
        ids = resolve(store, update_set)
        rows["sets"][update_set.name] = {"bit": 1 << index, "update_ids": ids}
        for uid in ids:
            masks[uid] = masks.get(uid, 0) | (1 << index)
    deciding = []
    for row in latest:
        if row["succeeded"] and (wanted is None or row["host_name"] in wanted):
            usable = host_status(scan_facts(row), None, now, stale_after_days).usable
            deciding.append((row["scan_pk"], row["catalog_version"], usable))
    with store.read_transaction() as cursor:
        scratch = Scratch(store, cursor)
        try:
            scratch.load_scans(deciding)
            scratch.load_sets(masks)
            rows["updates"] = scratch.rows("SELECT st.update_id, st.first_version, u.kb, u.title, u.msrc_severity "
                                           "FROM {set} st JOIN updates u ON u.update_id = st.update_id")
            rows["host_groups"] = scratch.flag_groups({pk: version for pk, version, _usable in deciding})
            if required:
                rows["required"] = scratch.rows("SELECT su.scan_pk, su.update_id, st.mask, %s %s WHERE %s "
                                                "ORDER BY su.scan_pk, su.update_id"
                                                % (_FLAGS_SQL, _JOIN, MAY_BE_REQUIRED_SQL))
            rows["enforcement"] = scratch.rows(_ENFORCEMENT_SQL)
            if per_update:
                rows["update_groups"] = scratch.rows("SELECT su.update_id, ps.catalog_version, %s, count(*) %s "
                                                     "WHERE ps.usable = 1 GROUP BY 1, 2, 3" % (_FLAGS_SQL, _JOIN))
        finally:
            scratch.close()
    return rows


def evaluate_rows(rows, hosts=None, now=None, stale_after_days=DEFAULT_STALE_AFTER_DAYS, include_store_hosts=None):
    """An Evaluation from ``read_rows`` output.

    ``hosts``: the host names to report (unknown to the store: never scanned); None means the hosts
    ``read_rows`` was limited to, else every host the store knows. ``include_store_hosts`` adds the
    store's hosts to ``hosts``. Per-update counts cover the hosts ``read_rows`` read.
    """
    now = now or utc_now()
    if hosts is None:
        hosts = rows.get("hosts")
    names = _host_names(rows["store_hosts"], rows["latest"], hosts, include_store_hosts)
    statuses = _statuses(rows["latest"], rows["good"], names, now, stale_after_days, rows.get("attempts"))
    evaluation = Evaluation(now, stale_after_days, rows["catalog_version"], statuses, {})
    facts = {r[0]: {"update_id": r[0], "first_version": r[1], "kb": r[2], "title": r[3], "msrc_severity": r[4]}
             for r in rows["updates"]}
    for name, entry in rows["sets"].items():
        ids = entry["update_ids"]
        updates = {uid: facts[uid] for uid in ids}
        first_versions = sorted(u["first_version"] for u in updates.values())
        result = SetResult(name, ids, updates)
        counts = count_scans(rows["host_groups"], statuses, first_versions, len(ids), entry["bit"])
        if "update_groups" in rows:
            result.update_counts = _count_updates(rows["update_groups"], statuses, updates)
        if "required" in rows:
            result.host_required = _required(rows["required"], statuses, entry["bit"])
        apply_enforcement_rows(rows.get("enforcement", ()), statuses,
                               {uid: facts["first_version"] for uid, facts in updates.items()}, entry["bit"], counts,
                               result.host_required if "required" in rows else None,
                               result.update_counts if "update_groups" in rows else None)
        for host, status in statuses.items():
            if host not in counts:
                counts[host] = empty_counts()
                counts[host][evaluate(status, None, None)[0]] = len(ids)
            result.host_counts[host] = counts[host]
            result.host_compliance[host] = set_compliance(counts[host], status.usable, evaluation.has_catalog)
        evaluation.sets[name] = result
    return evaluation


def evaluate_store(store, update_sets, hosts=None, now=None, stale_after_days=DEFAULT_STALE_AFTER_DAYS,
                   per_update=True, required=True):
    """Evaluate hosts against named sets (``_update_sets.UpdateSet``); return an Evaluation.

    ``hosts`` limits the hosts (names unknown to the store are never scanned); ``per_update``
    computes hosts per state for every update of each set, ``required`` each host's Required
    updates.
    """
    now = now or utc_now()
    rows = read_rows(store, update_sets, now, stale_after_days, per_update, required, hosts)
    return evaluate_rows(rows, hosts, now, stale_after_days)


def host_pairs(store, status, update_ids, updates, superseded):
    """Every (update, state, detail) of one host against a set, with provenance; for detail views.

    ``updates`` maps update id -> facts with ``first_version`` (a SetResult's ``updates``);
    ``superseded`` is ``_catalog_query.superseded_ids`` of the set, read once for every host.
    """
    results = {}
    enforced = {}
    if status.usable:
        for row in store.query("SELECT update_id, installed, hidden, reboot_required FROM scan_updates "
                               "WHERE scan_pk = ?", (status.scan.scan_pk,)):
            results[row["update_id"]] = ResultFacts(bool(row["installed"]), bool(row["hidden"]),
                                                    bool(row["reboot_required"]))
        for row in store.query("SELECT e.update_id, e.state, e.detail, e.received, e.seq FROM enforcement_states e "
                               "JOIN scans s ON s.host_name = e.host_name WHERE s.scan_pk = ? AND e.update_id "
                               "IS NOT NULL AND e.received >= ? ORDER BY e.received, e.seq",
                               (status.scan.scan_pk, status.scan.age_time)):
            if newer_than_scan(row["received"], row["seq"], status.scan):
                enforced[row["update_id"]] = enforcement_facts(row["state"], row["detail"])  # the newest wins
    provenance = status.provenance()
    pairs = []
    for uid in update_ids:
        facts = updates[uid]
        state, detail = evaluate(status, UpdateFacts(facts["first_version"], uid in superseded), results.get(uid))
        state, detail = apply_enforcement(state, detail, enforced.get(uid))
        pairs.append({"update_id": uid, "kb": facts.get("kb"), "title": facts.get("title"), "state": state,
                      "detail": detail, "provenance": provenance})
    return pairs
