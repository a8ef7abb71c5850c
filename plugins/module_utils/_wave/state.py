# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""The patch wave's state in the store (tables ``waves``, ``wave_hosts``, ``wave_events``; docs/wave.md).

A wave is named; its first start freezes the deployment's list version and the rings as given, and
every later start resumes it with those. Each change is one transaction; check mode makes the same
changes and rolls them back, so it answers exactly what a real run would do.
"""

from __future__ import annotations

import json
import zlib

from ansible_collections.patchwave.windows.plugins.module_utils._install.results import OUTCOMES
from ansible_collections.patchwave.windows.plugins.module_utils._prepare.deployments import (
    list_deployments,
    read_deployment,
)
from ansible_collections.patchwave.windows.plugins.module_utils._store.objects import dumps
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import format_time, utc_now
from ansible_collections.patchwave.windows.plugins.module_utils._wave.rules import (
    BUDGET_OUTCOMES,
    DONE_OUTCOMES,
    FINISHED,
    HALTED,
    RUNNING,
    WaveError,
    budget_check,
    check_rings,
    default_wave_name,
    halt_reason,
)

NOT_RUN = "not_run"
EVENT_KINDS = ("started", "resumed", "ring_started", "recorded", "halted", "ring_finished", "finished")
RING_STATES = ("pending", "running", "done", "halted")

# PostgreSQL: writers of one wave take this advisory lock (plus the name's CRC-32) for their
# transaction, so concurrent controllers never interleave a wave's events or lose an attempt.
# SQLite's BEGIN IMMEDIATE already admits one writer at a time.
_PG_WAVE_LOCK = 0x7761766500000000

_WAVE_COLUMNS = ("name, deployment, update_list, list_version, rings, state, ring_index, halt_reason, started_at, "
                 "updated_at, finished_at")


def _lock(store, cursor, name):
    if store.backend == "postgresql":
        cursor.execute("SELECT pg_advisory_xact_lock(?)", (_PG_WAVE_LOCK + zlib.crc32(name.encode("utf-8")),)).fetchone()


def _moment(now):
    return format_time(now or utc_now())


def _row(store, name):
    rows = store.query("SELECT %s FROM waves WHERE name = ?" % _WAVE_COLUMNS, (name,))
    if not rows:
        return None
    row = rows[0]
    row["rings"] = json.loads(row["rings"])
    return row


def _existing(store, name):
    row = _row(store, name)
    if row is None:
        names = [r["name"] for r in store.query("SELECT name FROM waves ORDER BY started_at DESC, name DESC")]
        raise WaveError("wave '%s' does not exist (the store has %s)" % (
            name, ", ".join("'%s'" % n for n in names) if names else "no wave"))
    return row


def _add_event(cursor, name, kind, ring, detail, moment):
    seq = cursor.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM wave_events WHERE wave = ?", (name,)).fetchone()[0]
    cursor.execute("INSERT INTO wave_events (wave, seq, at, kind, ring, detail) VALUES (?, ?, ?, ?, ?, ?)",
                   (name, seq, moment, kind, ring, dumps(detail)))


def _ring_names(row):
    return [ring["name"] for ring in row["rings"]]


def _current_ring(row):
    """The name of the ring in progress, None when the wave is finished."""
    if row["state"] == FINISHED or row["ring_index"] >= len(row["rings"]):
        return None
    return row["rings"][row["ring_index"]]["name"]


def _ring_state(index, row):
    if index < row["ring_index"] or row["state"] == FINISHED:
        return "done"
    if index > row["ring_index"]:
        return "pending"
    return "halted" if row["state"] == HALTED else "running"


def _counts(members):
    counts = dict.fromkeys(OUTCOMES, 0)
    counts[NOT_RUN] = 0
    for member in members:
        key = member["outcome"] or NOT_RUN
        counts[key] = counts.get(key, 0) + 1
    return counts


def _wave_info(store, name):
    """The wave as wave_info shows it (no transaction of its own), or None."""
    row = _row(store, name)
    if row is None:
        return None
    hosts = store.query("SELECT host_name, ring, outcome, reason, msg, attempts, updated_at FROM wave_hosts "
                        "WHERE wave = ? ORDER BY host_name", (name,))
    events = [dict(r, detail=json.loads(r["detail"])) for r in store.query(
        "SELECT seq, at, kind, ring, detail FROM wave_events WHERE wave = ? ORDER BY seq", (name,))]
    rings = []
    for index, ring in enumerate(row["rings"]):
        members = [h for h in hosts if h["ring"] == ring["name"]]
        rings.append(dict(ring, state=_ring_state(index, row), counts=_counts(members), host_results=[
            {"host": m["host_name"], "outcome": m["outcome"], "reason": m["reason"], "msg": m["msg"],
             "attempts": m["attempts"], "updated_at": m["updated_at"]} for m in members]))
    return {
        "name": row["name"],
        "deployment": row["deployment"],
        "update_list": row["update_list"],
        "list_version": row["list_version"],
        "state": row["state"],
        "ring_index": row["ring_index"],
        "next_ring": _current_ring(row),
        "halt_reason": row["halt_reason"],
        "started_at": row["started_at"],
        "updated_at": row["updated_at"],
        "finished_at": row["finished_at"],
        "rings": rings,
        "halts": [{"at": e["at"], "ring": e["ring"], "reason": e["detail"].get("reason")}
                  for e in events if e["kind"] == "halted"],
        "events": events,
    }


def _pending(info):
    """{ring: [hosts of the ring whose outcome is not done]}: what a resumed wave installs (again)."""
    return {ring["name"]: [h["host"] for h in ring["host_results"] if h["outcome"] not in DONE_OUTCOMES]
            for ring in info["rings"]}


def read_wave(store, name):
    """One wave in the wave_info shape, or None when there is no such wave."""
    with store.read_transaction():
        return _wave_info(store, name)


def list_waves(store):
    """Every wave in the wave_info shape, newest first."""
    with store.read_transaction():
        names = [r["name"] for r in store.query("SELECT name FROM waves ORDER BY started_at DESC, name DESC")]
        return [_wave_info(store, name) for name in names]


def default_name_for(store, deployment):
    """The default wave name for ``deployment``: the year and month its list version was frozen in."""
    definition = _deployment(store, deployment, "wave")
    rows = store.query("SELECT created_at FROM update_list_versions WHERE list_name = ? AND version = ?",
                       (definition["update_list"], definition["list_version"]))
    if not rows:
        raise WaveError("wave: deployment '%s' names update list '%s' version %d, which the store no longer has"
                        % (deployment, definition["update_list"], definition["list_version"]))
    return default_wave_name(rows[0]["created_at"])


def _deployment(store, deployment, owner):
    definition = read_deployment(store, deployment)
    if definition is None:
        names = list_deployments(store)
        raise WaveError("%s: deployment '%s' does not exist (the store has %s)" % (
            owner, deployment, ", ".join("'%s'" % n for n in names) if names else "no deployment"))
    return definition


def _check_ring_deployments(store, name, rings, update_list, list_version):
    """Every ring installs the wave's frozen list version: a ring's own deployment must deploy it."""
    for ring in rings:
        if ring["deployment"] is None:
            continue
        owner = "wave '%s': ring '%s': deployment" % (name, ring["name"])
        definition = _deployment(store, ring["deployment"], owner)
        if (definition["update_list"], definition["list_version"]) != (update_list, list_version):
            raise WaveError("%s: deployment '%s' deploys update list '%s' version %d, but the wave installs '%s' version %d "
                            "in every ring" % (owner, ring["deployment"], definition["update_list"],
                                               definition["list_version"], update_list, list_version))


def _drift_warnings(store, row, deployment, rings):
    """What a resumed (or finished) wave ignores of what it was given, and deployments changed since it started."""
    name = row["name"]
    warnings = []
    kept = "update list '%s' version %d" % (row["update_list"], row["list_version"])
    if deployment and deployment != row["deployment"]:
        warnings.append("wave '%s': deployment '%s' is not the wave's ('%s'); the wave keeps its deployment and %s "
                        "(start a new wave, new=true or another name, to change it)" % (name, deployment, row["deployment"], kept))
    if rings is not None:
        try:
            same = check_rings(rings, name) == row["rings"]
        except WaveError:
            same = False
        if not same:
            warnings.append("wave '%s': the rings given differ from those it started with; it keeps its own (%s)"
                            % (name, ", ".join(_ring_names(row))))
    if row["state"] == FINISHED:
        return warnings
    used_by = [("the wave", row["deployment"])]
    used_by += [("ring '%s'" % r["name"], r["deployment"]) for r in row["rings"] if r["deployment"]]
    for owner, used in used_by:
        definition = read_deployment(store, used)
        if definition is None:
            warnings.append("wave '%s': deployment '%s' of %s no longer exists" % (name, used, owner))
        elif (definition["update_list"], definition["list_version"]) != (row["update_list"], row["list_version"]):
            warnings.append("wave '%s': deployment '%s' of %s now deploys update list '%s' version %d; the wave keeps %s"
                            % (name, used, owner, definition["update_list"], definition["list_version"], kept))
    return warnings


def _record_hosts(store, cursor, row, hosts_by_ring, moment):
    """Add the hosts not yet in the wave, each in the first ring (the wave's order) that names it;
    return ``{ring: [hosts added]}``."""
    if not hosts_by_ring:
        return {}
    name = row["name"]
    names = _ring_names(row)
    if not isinstance(hosts_by_ring, dict):
        raise WaveError("wave '%s': hosts_by_ring: %r is not a mapping of ring name to host names" % (name, hosts_by_ring))
    unknown = sorted(str(r) for r in hosts_by_ring if r not in names)
    if unknown:
        raise WaveError("wave '%s': hosts_by_ring: %s not among the wave's rings (%s)"
                        % (name, ", ".join("'%s'" % r for r in unknown), ", ".join(names)))
    known = {r["host_name"] for r in store.query("SELECT host_name FROM wave_hosts WHERE wave = ?", (name,))}
    added = {}
    for ring in names:
        hosts = hosts_by_ring.get(ring) or []
        if not isinstance(hosts, (list, tuple)) or not all(isinstance(h, str) and h.strip() for h in hosts):
            raise WaveError("wave '%s': hosts_by_ring: ring '%s': %r is not a list of host names" % (name, ring, hosts))
        for host in hosts:
            if host in known:
                continue
            known.add(host)
            cursor.execute("INSERT INTO wave_hosts (wave, host_name, ring, outcome, reason, msg, attempts, updated_at) "
                           "VALUES (?, ?, ?, NULL, NULL, NULL, 0, ?)", (name, host, ring, moment))
            added.setdefault(ring, []).append(host)
    return added


def _create(store, cursor, name, deployment, rings, moment, replaced):
    if not deployment:
        raise WaveError("wave '%s': deployment is required to start it" % name)
    definition = _deployment(store, deployment, "wave '%s'" % name)
    if rings is None:
        raise WaveError("wave '%s': rings is required to start it" % name)
    checked = check_rings(rings, name)
    _check_ring_deployments(store, name, checked, definition["update_list"], definition["list_version"])
    cursor.execute("INSERT INTO waves (%s) VALUES (?, ?, ?, ?, ?, ?, 0, NULL, ?, ?, NULL)" % _WAVE_COLUMNS,
                   (name, deployment, definition["update_list"], definition["list_version"], dumps(checked), RUNNING,
                    moment, moment))
    detail = {"deployment": deployment, "update_list": definition["update_list"],
              "list_version": definition["list_version"], "rings": [r["name"] for r in checked]}
    if replaced:
        detail["replaced"] = replaced
    _add_event(cursor, name, "started", None, detail, moment)
    _add_event(cursor, name, "ring_started", checked[0]["name"], {"ring_index": 0}, moment)


def _delete(cursor, name):
    for table, column in (("wave_events", "wave"), ("wave_hosts", "wave"), ("waves", "name")):
        cursor.execute("DELETE FROM %s WHERE %s = ?" % (table, column), (name,))


def _resume(store, cursor, row, moment):
    """A halted wave runs again: the ring in progress retries the hosts its budget counted (their
    outcomes go back to not run; the halted event keeps them)."""
    ring = _current_ring(row)
    retried = [{"host": r["host_name"], "outcome": r["outcome"], "msg": r["msg"]} for r in store.query(
        "SELECT host_name, outcome, msg FROM wave_hosts WHERE wave = ? AND ring = ? ORDER BY host_name",
        (row["name"], ring)) if r["outcome"] in BUDGET_OUTCOMES]
    if retried:
        cursor.execute("UPDATE wave_hosts SET outcome = NULL, reason = NULL, msg = NULL, updated_at = ? "
                       "WHERE wave = ? AND ring = ? AND outcome IN (%s)" % ", ".join("?" * len(BUDGET_OUTCOMES)),
                       (moment, row["name"], ring) + tuple(BUDGET_OUTCOMES))
    cursor.execute("UPDATE waves SET state = ?, halt_reason = NULL, updated_at = ? WHERE name = ?",
                   (RUNNING, moment, row["name"]))
    _add_event(cursor, row["name"], "resumed", ring, {"halt_reason": row["halt_reason"], "retried": retried}, moment)


def start_wave(store, name, deployment=None, rings=None, hosts_by_ring=None, new=False, now=None, check_mode=False):
    """Start the wave ``name`` (None: the default name of ``deployment``), resume it, or return it finished.

    Returns the wave (``read_wave``'s shape) with ``changed``, ``pending`` ({ring: [hosts not done]}),
    ``event`` (``started``, ``resumed`` or None), ``hosts_added`` ({ring: [hosts]}) and ``warnings``.
    """
    moment = _moment(now)
    with store.transaction() as cursor:
        if name is None:
            if not deployment:
                raise WaveError("wave: a name is required, or a deployment to take the default name from")
            name = default_name_for(store, deployment)
        if not isinstance(name, str) or not name.strip():
            raise WaveError("wave: name must not be empty")
        _lock(store, cursor, name)
        row = _row(store, name)
        warnings = []
        replaced = None
        if row is not None and new:
            if row["state"] != FINISHED:
                raise WaveError("wave '%s' is %s (ring '%s'): finish it, or pick another name for a new wave"
                                % (name, row["state"], _current_ring(row)))
            replaced = {"started_at": row["started_at"], "finished_at": row["finished_at"],
                        "deployment": row["deployment"], "list_version": row["list_version"]}
            _delete(cursor, name)
            row = None
        event = None
        added = {}
        if row is None:
            _create(store, cursor, name, deployment, rings, moment, replaced)
            event = "started"
            added = _record_hosts(store, cursor, _row(store, name), hosts_by_ring, moment)
        elif row["state"] == FINISHED:
            warnings = _drift_warnings(store, row, deployment, rings)
            if deployment and deployment != row["deployment"] or hosts_by_ring:
                warnings.append("wave '%s' is finished; start a new wave with new=true to install again" % name)
        else:
            warnings = _drift_warnings(store, row, deployment, rings)
            if row["state"] == HALTED:
                _resume(store, cursor, row, moment)
                event = "resumed"
            added = _record_hosts(store, cursor, row, hosts_by_ring, moment)
            if added and event is None:
                cursor.execute("UPDATE waves SET updated_at = ? WHERE name = ?", (moment, name))
        info = _wave_info(store, name)
        if check_mode:
            store.rollback_to_clean(cursor)
    return dict(info, changed=event is not None or bool(added), pending=_pending(info), event=event,
                hosts_added=added, warnings=warnings)


def _check_results(name, ring, results):
    owner = "wave '%s': ring '%s': results" % (name, ring)
    if not isinstance(results, dict):
        raise WaveError("%s: %r is not a mapping of host name to install result" % (owner, results))
    checked = {}
    for host, result in results.items():
        if not isinstance(result, dict):
            raise WaveError("%s: host '%s': %r is not a dict with outcome, reason and msg" % (owner, host, result))
        outcome = result.get("outcome")
        if outcome not in OUTCOMES:
            raise WaveError("%s: host '%s': outcome %r is not one of %s" % (owner, host, outcome, ", ".join(OUTCOMES)))
        checked[str(host)] = {"outcome": outcome,
                              "reason": None if result.get("reason") is None else str(result["reason"]),
                              "msg": None if result.get("msg") is None else str(result["msg"])}
    return checked


def _refuse_unless_running(row):
    if row["state"] == HALTED:
        raise WaveError("wave '%s' is halted: %s; run the playbook again to resume it" % (row["name"], row["halt_reason"]))
    if row["state"] == FINISHED:
        raise WaveError("wave '%s' is finished: nothing more is recorded in it (start a new wave with new=true)"
                        % row["name"])


def _ring_index(row, ring):
    names = _ring_names(row)
    if ring not in names:
        raise WaveError("wave '%s': ring '%s' is not one of the wave's rings (%s)" % (row["name"], ring, ", ".join(names)))
    return names.index(ring)


def record_results(store, name, ring, results, now=None, check_mode=False):
    """Record install results (``{host: {outcome, reason, msg}}``) of the ring in progress and check its
    budget over all its hosts; a spent budget halts the wave.

    Returns ``{changed, halted, failures, allowed, failed_hosts, summary, halt_reason, wave}``.
    """
    moment = _moment(now)
    with store.transaction() as cursor:
        _lock(store, cursor, name)
        row = _existing(store, name)
        _refuse_unless_running(row)
        index = _ring_index(row, ring)
        if index != row["ring_index"]:
            raise WaveError("wave '%s': ring '%s' is not the ring in progress ('%s')" % (name, ring, _current_ring(row)))
        checked = _check_results(name, ring, results)
        rings_of = {r["host_name"]: r["ring"] for r in store.query(
            "SELECT host_name, ring FROM wave_hosts WHERE wave = ?", (name,))}
        for host in sorted(checked):
            result = checked[host]
            if host not in rings_of:
                cursor.execute("INSERT INTO wave_hosts (wave, host_name, ring, outcome, reason, msg, attempts, updated_at) "
                               "VALUES (?, ?, ?, ?, ?, ?, 1, ?)",
                               (name, host, ring, result["outcome"], result["reason"], result["msg"], moment))
            elif rings_of[host] != ring:
                raise WaveError("wave '%s': host '%s' belongs to ring '%s', not '%s'" % (name, host, rings_of[host], ring))
            else:
                cursor.execute("UPDATE wave_hosts SET outcome = ?, reason = ?, msg = ?, attempts = attempts + 1, "
                               "updated_at = ? WHERE wave = ? AND host_name = ?",
                               (result["outcome"], result["reason"], result["msg"], moment, name, host))
        if checked:
            _add_event(cursor, name, "recorded", ring, {"hosts": {h: r["outcome"] for h, r in sorted(checked.items())}},
                       moment)
        members = store.query("SELECT host_name, outcome, msg FROM wave_hosts WHERE wave = ? AND ring = ?", (name, ring))
        check = budget_check({m["host_name"]: m for m in members}, row["rings"][index]["failure_budget"], len(members))
        reason = None
        if check["spent"]:
            reason = halt_reason(ring, check)
            cursor.execute("UPDATE waves SET state = ?, halt_reason = ?, updated_at = ? WHERE name = ?",
                           (HALTED, reason, moment, name))
            _add_event(cursor, name, "halted", ring, {"reason": reason, "cause": "failure_budget",
                                                      "failures": check["failures"], "allowed": check["allowed"],
                                                      "failed_hosts": check["failed_hosts"]}, moment)
        elif checked:
            cursor.execute("UPDATE waves SET updated_at = ? WHERE name = ?", (moment, name))
        info = _wave_info(store, name)
        if check_mode:
            store.rollback_to_clean(cursor)
    return {"changed": bool(checked) or check["spent"], "halted": check["spent"], "failures": check["failures"],
            "allowed": check["allowed"], "failed_hosts": check["failed_hosts"], "summary": _counts(members),
            "halt_reason": reason, "wave": info}


def finish_ring(store, name, ring, now=None, check_mode=False):
    """The ring in progress is done: the next ring starts, or the wave finishes after its last ring.
    A ring finished already changes nothing. Returns the wave with ``changed``."""
    moment = _moment(now)
    with store.transaction() as cursor:
        _lock(store, cursor, name)
        row = _existing(store, name)
        index = _ring_index(row, ring)
        changed = False
        if index >= row["ring_index"] and row["state"] != FINISHED:
            _refuse_unless_running(row)
            if index > row["ring_index"]:
                raise WaveError("wave '%s': ring '%s' cannot finish before ring '%s', the ring in progress"
                                % (name, ring, _current_ring(row)))
            members = store.query("SELECT outcome FROM wave_hosts WHERE wave = ? AND ring = ?", (name, ring))
            _add_event(cursor, name, "ring_finished", ring, {"counts": _counts(members)}, moment)
            if index + 1 == len(row["rings"]):
                cursor.execute("UPDATE waves SET ring_index = ?, state = ?, updated_at = ?, finished_at = ? WHERE name = ?",
                               (index + 1, FINISHED, moment, moment, name))
                everyone = store.query("SELECT outcome FROM wave_hosts WHERE wave = ?", (name,))
                _add_event(cursor, name, "finished", None, {"counts": _counts(everyone)}, moment)
            else:
                cursor.execute("UPDATE waves SET ring_index = ?, updated_at = ? WHERE name = ?", (index + 1, moment, name))
                _add_event(cursor, name, "ring_started", row["rings"][index + 1]["name"], {"ring_index": index + 1}, moment)
            changed = True
        info = _wave_info(store, name)
        if check_mode:
            store.rollback_to_clean(cursor)
    return dict(info, changed=changed)


def halt_wave(store, name, reason, ring=None, now=None, check_mode=False):
    """Halt a running wave for ``reason`` (a failed health gate or pre-hook); ``ring``, when given, is
    the ring the halt is recorded against (else the ring in progress). Halting a wave halted for the
    same reason changes nothing. Returns ``{changed, halted, halt_reason, wave}``."""
    moment = _moment(now)
    if not isinstance(reason, str) or not reason.strip():
        raise WaveError("wave '%s': halt: reason is required" % name)
    with store.transaction() as cursor:
        _lock(store, cursor, name)
        row = _existing(store, name)
        if row["state"] == FINISHED:
            raise WaveError("wave '%s' is finished: it cannot halt" % name)
        if ring is not None:
            _ring_index(row, ring)
        changed = not (row["state"] == HALTED and row["halt_reason"] == reason)
        if changed:
            cursor.execute("UPDATE waves SET state = ?, halt_reason = ?, updated_at = ? WHERE name = ?",
                           (HALTED, reason, moment, name))
            _add_event(cursor, name, "halted", ring or _current_ring(row), {"reason": reason, "cause": "halt"}, moment)
        info = _wave_info(store, name)
        if check_mode:
            store.rollback_to_clean(cursor)
    return {"changed": changed, "halted": True, "halt_reason": reason, "wave": info}
