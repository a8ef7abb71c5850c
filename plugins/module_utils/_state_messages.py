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

from ansible_collections.patchwave.windows.plugins.module_utils._compliance_store import history_days, prune_history
from ansible_collections.patchwave.windows.plugins.module_utils._scan_contract import SCAN_SCHEMA, validate

MESSAGE_VERSION = 1
KINDS = ("scan", "scan_failure")
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")
QUARANTINE = "quarantine"


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def message_file_name(host, message_id):
    """``<host>~<id>.json``: the host is readable even when the content is not."""
    return "%s~%s.json" % (_SAFE.sub("_", host)[:100], message_id)


def write_message(spool, host, kind, body, catalog_version=None, forced=False):
    """Write one state message into ``spool`` atomically; return its path."""
    if kind not in KINDS:
        raise ValueError("state message kind %r is not one of %s" % (kind, ", ".join(KINDS)))
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
        "message_version": {"type": "integer", "enum": [MESSAGE_VERSION]},
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


def parse_message(text):
    """Return ``(message, problem)``: the decoded message, or None and why it is unusable."""
    try:
        message = json.loads(text)
    except ValueError as exc:
        return None, "not valid JSON (%s)" % exc
    problems = validate(message, _MESSAGE_SCHEMA, "message")
    if not problems:
        schema = SCAN_SCHEMA if message["kind"] == "scan" else _FAILURE_SCHEMA
        problems = validate(message["body"], schema, "message.body")
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
                    _quarantine(cursor, name, host, problem, stamp)
                    quarantined.append(name)
                    counts["quarantined"] += 1
                    continue
                if _store_message(store, cursor, message, stamp):
                    counts["ingested"] += 1
                else:
                    counts["duplicates"] += 1
                done.append(name)
        for name in done:
            os.unlink(os.path.join(spool, name))
        if quarantined:
            target = os.path.join(spool, QUARANTINE)
            os.makedirs(target, exist_ok=True)
            for name in quarantined:
                os.replace(os.path.join(spool, name), os.path.join(target, name))
        if counts["ingested"] or counts["quarantined"]:
            counts["pruned"] = prune_history(store, history_days(env))
        return counts
    finally:
        lock.close()


def _touch_host(cursor, host, stamp):
    cursor.execute("INSERT INTO hosts (host_name, first_seen, last_message_at) VALUES (?, ?, ?) "
                   "ON CONFLICT (host_name) DO UPDATE SET last_message_at = excluded.last_message_at",
                   (host, stamp, stamp))


def _next_scan_pk(cursor):
    return (cursor.execute("SELECT max(scan_pk) FROM scans").fetchone()[0] or 0) + 1


def _quarantine(cursor, name, host, reason, stamp):
    cursor.execute("INSERT INTO message_quarantine (message_file, host_name, reason, quarantined_at) "
                   "VALUES (?, ?, ?, ?) ON CONFLICT (message_file) DO NOTHING", (name, host, reason, stamp))
    if host:
        _touch_host(cursor, host, stamp)
        cursor.execute(
            "INSERT INTO scans (scan_pk, message_id, host_name, forced, finished, succeeded, error, source, "
            "ingested_at) VALUES (?, ?, ?, 0, ?, 0, ?, 'quarantine', ?) ON CONFLICT (message_id) DO NOTHING",
            (_next_scan_pk(cursor), "quarantine:" + name, host, stamp, "corrupt state message: %s" % reason, stamp))


def _store_message(store, cursor, message, stamp):
    """Insert one message; False when the store already has it."""
    if cursor.execute("SELECT 1 FROM scans WHERE message_id = ?", (message["message_id"],)).fetchone():
        return False
    host = message["host"]
    _touch_host(cursor, host, stamp)
    body = message["body"]
    scan_pk = _next_scan_pk(cursor)
    if message["kind"] == "scan_failure":
        cursor.execute(
            "INSERT INTO scans (scan_pk, message_id, host_name, server_selection, forced, finished, succeeded, "
            "hresult, error, catalog_version, source, controller, ingested_at) "
            "VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, 'patchwave.windows.scan', ?, ?)",
            (scan_pk, message["message_id"], host, body.get("server_selection"), int(message["forced"]),
             message["created"], body.get("hresult"), body["error"], message["catalog_version"],
             message.get("controller"), stamp))
        return True
    succeeded = body["result_code"] in (2, 3)
    cursor.execute(
        "INSERT INTO scans (scan_pk, message_id, host_name, scan_id, mode, server_selection, forced, started, "
        "finished, succeeded, result_code, hresult, error, catalog_version, wua_version, reboot_pending, "
        "reboot_sources, last_boot, source, controller, ingested_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'patchwave.windows.scan', ?, ?)",
        (scan_pk, message["message_id"], host, body["scan_id"], body["mode"], body["server_selection"],
         int(message["forced"]), body["started"], body["finished"], int(succeeded), body["result_code"],
         body["hresult"], body.get("error"), message["catalog_version"], body["wua_version"],
         int(body["reboot_pending"]), ",".join(body["reboot_sources"]), body["last_boot"],
         message.get("controller"), stamp))
    if succeeded:
        # scan_pk is new, so only a repeated update id within this message could conflict: first one wins.
        rows = {}
        for u in body["updates"]:
            rows.setdefault(u["update_id"].lower(), (
                scan_pk, u["update_id"].lower(), u["revision_number"], int(u["is_installed"]), int(u["is_hidden"]),
                int(u["is_downloaded"]), None if "reboot_required" not in u else int(u["reboot_required"])))
        store.copy_rows(cursor, "scan_updates", ("scan_pk", "update_id", "revision_number", "installed", "hidden",
                                                 "downloaded", "reboot_required"), rows.values())
    return True


def last_good_scan(store, host):
    """The newest successful scan of ``host`` (finished, catalog_version, mode), or None."""
    rows = store.query("SELECT finished, catalog_version, mode, scan_pk FROM scans WHERE host_name = ? "
                       "AND succeeded = 1 ORDER BY finished DESC, scan_pk DESC LIMIT 1", (host,))
    return rows[0] if rows else None
