# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""State messages: how host results travel from Ansible's forks into the store (design.md §3).

A fork never touches the database. It writes its host's result as one file into the spool,
atomically (a hidden temporary file, then rename). ``ingest`` is the one function that moves
complete spool files into the store: under a lock, in one transaction, idempotently (every
message has an id the store keeps unique), deleting the files only after the commit. A file
that cannot be understood is quarantined and the host gets a failed scan record whose error says
why, so it stays Unknown with the reason kept. Every reader of host state calls ``ingest`` first.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import re
import socket
import uuid
from itertools import repeat

from ansible_collections.patchwave.windows.plugins.module_utils._compliance_store import history_days, prune_history
from ansible_collections.patchwave.windows.plugins.module_utils._scan_bits import Ordinals
from ansible_collections.patchwave.windows.plugins.module_utils._scan_contract import SCAN_SCHEMA, validate

# Version 2 carries a scan's per-update results as compact records (what the store keeps); version 1
# carried the host's whole answer. Both are read.
MESSAGE_VERSION = 2
READABLE_VERSIONS = (1, 2)
RECORD_FIELDS = ("update_id", "revision_number", "installed", "hidden", "downloaded", "reboot_required")
KINDS = ("scan", "scan_failure")
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")
QUARANTINE = "quarantine"


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def message_file_name(host, message_id):
    """``<host>~<id>.json``: the host is readable even when the content is not."""
    return "%s~%s.json" % (_SAFE.sub("_", host)[:100], message_id)


def _records(updates):
    """UPDATE_SCHEMA entries as compact records (RECORD_FIELDS), update ids lower case, the first
    entry of a repeated update id kept."""
    records = {}
    for u in updates:
        uid = u["update_id"].lower()
        if uid not in records:
            records[uid] = [uid, u["revision_number"], u["is_installed"], u["is_hidden"], u["is_downloaded"],
                            u.get("reboot_required")]
    return list(records.values())


def write_message(spool, host, kind, body, catalog_version=None, forced=False):
    """Write one state message into ``spool`` atomically; return its path.

    The body is checked against the contract here, once, where it enters the spool: a ``scan``
    body against SCAN_SCHEMA (ValueError naming the host and the problems otherwise). Its
    per-update results travel as compact records, the fields the store keeps.
    """
    if kind not in KINDS:
        raise ValueError("state message kind %r is not one of %s" % (kind, ", ".join(KINDS)))
    problems = validate(body, SCAN_SCHEMA if kind == "scan" else _FAILURE_SCHEMA, "body")
    if problems:
        raise ValueError("state message for %s: the %s result breaks the contract: %s"
                         % (host, kind, "; ".join(problems[:3])))
    if kind == "scan":
        records = _records(body["updates"])
        body = dict((k, v) for k, v in body.items() if k != "updates")
        body["records"] = records
    os.makedirs(spool, exist_ok=True)
    message_id = str(uuid.uuid4())
    message = {
        "message_version": MESSAGE_VERSION,
        "message_id": message_id,
        "kind": kind,
        "host": host,
        "created": _now(),
        "controller": socket.gethostname(),
        "catalog_version": catalog_version,
        "forced": bool(forced),
        "body": body,
    }
    final = os.path.join(spool, message_file_name(host, message_id))
    temporary = os.path.join(spool, ".%s.tmp" % message_id)
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(message, handle, separators=(",", ":"))
        handle.flush()
        os.fsync(handle.fileno())
    os.rename(temporary, final)
    return final


_MESSAGE_SCHEMA = {
    "type": "object",
    "required": ["message_version", "message_id", "kind", "host", "created", "catalog_version", "forced", "body"],
    "properties": {
        "message_version": {"type": "integer", "enum": list(READABLE_VERSIONS)},
        "message_id": {"type": "string"},
        "kind": {"type": "string", "enum": list(KINDS)},
        "host": {"type": "string"},
        "created": {"type": "string"},
        "controller": {"type": ["string", "null"]},
        "catalog_version": {"type": ["integer", "null"]},
        "forced": {"type": "boolean"},
        "body": {"type": "object"},
    },
}

_FAILURE_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "hresult": {"type": ["integer", "null"]},
                   "server_selection": {"type": ["string", "null"]}},
}


# A version 2 scan body: SCAN_SCHEMA without ``updates``, with ``records`` (checked by _record_problem).
_SCAN_BODY_SCHEMA = dict(SCAN_SCHEMA, required=[k for k in SCAN_SCHEMA["required"] if k != "updates"] + ["records"],
                         properties=dict([(k, v) for k, v in SCAN_SCHEMA["properties"].items() if k != "updates"],
                                         records={"type": "array"}))


def _record_problem(records):
    """Why the records of a version 2 scan body are unusable, or None. One pass, no recursion: a
    scan carries hundreds of records and ingest reads thousands of scans."""
    for index, record in enumerate(records):
        if not isinstance(record, list) or len(record) != 6:
            return "message.body.records[%d]: expected [%s]" % (index, ", ".join(RECORD_FIELDS))
        uid, revision, installed, hidden, downloaded, reboot = record
        if (not isinstance(uid, str) or not isinstance(revision, int) or isinstance(revision, bool) or revision < 0
                or not isinstance(installed, bool) or not isinstance(hidden, bool) or not isinstance(downloaded, bool)
                or not (reboot is None or isinstance(reboot, bool))):
            return "message.body.records[%d]: wrong types in %r" % (index, record)
    return None


def parse_message(text):
    """Return ``(message, problem)``: the decoded message, or None and why it is unusable.

    A version 1 scan body (the host's whole answer) is checked against SCAN_SCHEMA and turned into
    records, so the rest of ingest sees version 2 only.
    """
    try:
        message = json.loads(text)
    except ValueError as exc:
        return None, "not valid JSON (%s)" % exc
    problems = validate(message, _MESSAGE_SCHEMA, "message")
    if not problems:
        body = message["body"]
        if message["kind"] == "scan_failure":
            problems = validate(body, _FAILURE_SCHEMA, "message.body")
        elif message["message_version"] == 1:
            problems = validate(body, SCAN_SCHEMA, "message.body")
            if not problems:
                body["records"] = _records(body.pop("updates"))
        else:
            problems = validate(body, _SCAN_BODY_SCHEMA, "message.body")
            if not problems:
                problem = _record_problem(body["records"])
                problems = [problem] if problem else []
    if problems:
        return None, "; ".join(problems[:3])
    return message, None


def _lock(spool):
    os.makedirs(spool, exist_ok=True)
    handle = open(os.path.join(spool, ".ingest.lock"), "a+")
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
    return handle


def pending_files(spool):
    """Complete message files waiting in the spool, oldest first."""
    try:
        names = os.listdir(spool)
    except FileNotFoundError:
        return []
    return sorted((n for n in names if n.endswith(".json") and not n.startswith(".")),
                  key=lambda n: os.stat(os.path.join(spool, n)).st_mtime_ns if os.path.exists(os.path.join(spool, n))
                  else 0)


def ingest(store, spool, env=None):
    """Move every complete message from ``spool`` into ``store``; return counts.

    Safe to run concurrently (a lock file serialises ingesters) and to re-run after a crash (the
    store ignores a message id it already holds). After new messages land, history older than the
    retention (``PATCHWAVE_HISTORY_DAYS``, default 400 days) is pruned when any is due.
    """
    counts = {"ingested": 0, "duplicates": 0, "quarantined": 0, "pruned": 0}
    retention = history_days(env)  # a bad setting is refused before anything moves
    lock = _lock(spool)
    try:
        names = pending_files(spool)
        if not names:
            return counts
        done = []
        quarantined = []
        stamp = _now()
        with store.transaction() as cursor:
            # Controllers sharing a PostgreSQL store each have their own spool (and lock file).
            store.lock_for_ingest(cursor)
            ordinals = Ordinals(store, cursor)
            next_pk = [_next_scan_pk(cursor)]  # the lock is held: nobody else numbers scans meanwhile
            for name in names:
                path = os.path.join(spool, name)
                try:
                    with open(path, encoding="utf-8") as handle:
                        text = handle.read()
                except (OSError, UnicodeDecodeError) as exc:
                    message, problem = None, "cannot be read (%s)" % exc
                else:
                    message, problem = parse_message(text)
                if message is None:
                    host = name.split("~", 1)[0] if "~" in name else None
                    _quarantine(cursor, next_pk, name, host, problem, stamp)
                    quarantined.append(name)
                    counts["quarantined"] += 1
                    continue
                if _store_message(store, cursor, ordinals, next_pk, message, stamp):
                    counts["ingested"] += 1
                else:
                    counts["duplicates"] += 1
                done.append(name)
            ordinals.flush()
        for name in done:
            os.unlink(os.path.join(spool, name))
        if quarantined:
            target = os.path.join(spool, QUARANTINE)
            os.makedirs(target, exist_ok=True)
            for name in quarantined:
                os.replace(os.path.join(spool, name), os.path.join(target, name))
        if counts["ingested"] or counts["quarantined"]:
            counts["pruned"] = prune_history(store, retention)
        return counts
    finally:
        lock.close()


def _touch_host(cursor, host, stamp):
    cursor.execute("INSERT INTO hosts (host_name, first_seen, last_message_at) VALUES (?, ?, ?) "
                   "ON CONFLICT (host_name) DO UPDATE SET last_message_at = excluded.last_message_at",
                   (host, stamp, stamp))


def _next_scan_pk(cursor):
    return (cursor.execute("SELECT max(scan_pk) FROM scans").fetchone()[0] or 0) + 1


def _take(next_pk):
    """The next scan_pk of this ingest (``next_pk``: a one-item list, counted on)."""
    next_pk[0] += 1
    return next_pk[0] - 1


def _quarantine(cursor, next_pk, name, host, reason, stamp):
    cursor.execute("INSERT INTO message_quarantine (message_file, host_name, reason, quarantined_at) "
                   "VALUES (?, ?, ?, ?) ON CONFLICT (message_file) DO NOTHING", (name, host, reason, stamp))
    if host:
        _touch_host(cursor, host, stamp)
        cursor.execute(
            "INSERT INTO scans (scan_pk, message_id, host_name, forced, finished, succeeded, error, source, "
            "ingested_at) VALUES (?, ?, ?, 0, ?, 0, ?, 'quarantine', ?) ON CONFLICT (message_id) DO NOTHING",
            (_take(next_pk), "quarantine:" + name, host, stamp, "corrupt state message: %s" % reason, stamp))


def _store_message(store, cursor, ordinals, next_pk, message, stamp):
    """Insert one message; False when the store already has it (its message id)."""
    host = message["host"]
    body = message["body"]
    scan_pk = next_pk[0]
    if message["kind"] == "scan_failure":
        cursor.execute(
            "INSERT INTO scans (scan_pk, message_id, host_name, server_selection, forced, finished, succeeded, "
            "hresult, error, catalog_version, source, controller, ingested_at) "
            "VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, 'patchwave.windows.scan', ?, ?) ON CONFLICT (message_id) DO NOTHING",
            (scan_pk, message["message_id"], host, body.get("server_selection"), int(message["forced"]),
             message["created"], body.get("hresult"), body["error"], message["catalog_version"],
             message.get("controller"), stamp))
        succeeded = False
    else:
        succeeded = body["result_code"] in (2, 3)
        cursor.execute(
            "INSERT INTO scans (scan_pk, message_id, host_name, scan_id, mode, server_selection, forced, started, "
            "finished, succeeded, result_code, hresult, error, catalog_version, wua_version, reboot_pending, "
            "reboot_sources, last_boot, source, controller, ingested_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'patchwave.windows.scan', ?, ?) "
            "ON CONFLICT (message_id) DO NOTHING",
            (scan_pk, message["message_id"], host, body["scan_id"], body["mode"], body["server_selection"],
             int(message["forced"]), body["started"], body["finished"], int(succeeded), body["result_code"],
             body["hresult"], body.get("error"), message["catalog_version"], body["wua_version"],
             int(body["reboot_pending"]), ",".join(body["reboot_sources"]), body["last_boot"],
             message.get("controller"), stamp))
    if cursor.rowcount != 1:
        return False  # stored before (a re-run after a crash, or another controller's copy)
    _take(next_pk)
    _touch_host(cursor, host, stamp)
    if succeeded:
        _store_records(store, cursor, ordinals, scan_pk, body["records"])
    return True


_AS_INTEGER = {True: 1, False: 0, None: None}.__getitem__


def _store_records(store, cursor, ordinals, scan_pk, records):
    """The records of one successful scan, and its bit planes (``_scan_bits``)."""
    if not records:
        ordinals.add(scan_pk, (0, 0, 0, 0))
        return
    uids, revisions, installed, hidden, downloaded, reboot = zip(*records)
    uids = list(map(str.lower, uids))
    if len(set(uids)) != len(uids):
        # The writer never repeats an update id; a hand-made file might: the first one wins.
        first = {}
        for index, uid in enumerate(uids):
            first.setdefault(uid, index)
        keep = sorted(first.values())
        uids, revisions, installed, hidden, downloaded, reboot = (
            [column[i] for i in keep] for column in (uids, revisions, installed, hidden, downloaded, reboot))
    store.copy_rows(cursor, "scan_updates", ("scan_pk", "update_id", "revision_number", "installed", "hidden",
                                             "downloaded", "reboot_required"),
                    zip(repeat(scan_pk), uids, revisions, map(_AS_INTEGER, installed), map(_AS_INTEGER, hidden),
                        map(_AS_INTEGER, downloaded), map(_AS_INTEGER, reboot)))
    ordinals.add(scan_pk, ordinals.planes(uids, installed, hidden, reboot))


def last_good_scan(store, host):
    """The newest successful scan of ``host`` (finished, catalog_version, mode), or None."""
    rows = store.query("SELECT finished, catalog_version, mode, scan_pk FROM scans WHERE host_name = ? "
                       "AND succeeded = 1 ORDER BY finished DESC, scan_pk DESC LIMIT 1", (host,))
    return rows[0] if rows else None
