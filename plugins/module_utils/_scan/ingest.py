# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""State messages: how host results travel from Ansible's forks into the store.

A fork never touches the database. It writes its host's result as one file into the spool,
atomically (a hidden temporary file, then rename). ``ingest`` is the one function that moves
complete spool files into the store: under a lock, in one transaction, idempotently (every
message has an id the store keeps unique), deleting the files only after the commit. A file
that cannot be understood is quarantined and the host gets a failed scan record whose error says
why, so it stays Unknown with the reason kept. Every reader of host state calls ``ingest`` first.
"""

from __future__ import annotations

import datetime
import json
import os
from itertools import repeat

from ansible_collections.patchwave.windows.plugins.module_utils._scan.messages import parse_message
from ansible_collections.patchwave.windows.plugins.module_utils._scan.spool import QUARANTINE, lock_spool, pending_files
from ansible_collections.patchwave.windows.plugins.module_utils._store.planes import Ordinals
from ansible_collections.patchwave.windows.plugins.module_utils._store.retention import history_days, prune_history
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import format_time, now_text


def ingest(store, spool, env=None):
    """Move every complete message from ``spool`` into ``store``; return counts.

    Safe to run concurrently (a lock file serialises ingesters) and to re-run after a crash (the
    store ignores a message id it already holds). A spool folder that does not exist holds nothing
    and is not created. After new messages land, history older than the
    retention (``PATCHWAVE_HISTORY_DAYS``, default 400 days) is pruned when any is due.
    """
    counts = {"ingested": 0, "duplicates": 0, "quarantined": 0, "pruned": 0}
    retention = history_days(env)  # a bad setting is refused before anything moves
    lock = lock_spool(spool)
    if lock is None:  # no spool folder: nothing can be waiting, and a reader creates none
        return counts
    try:
        names = pending_files(spool)
        if not names:
            return counts
        done = []
        quarantined = []
        stamp = now_text()
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
                    _quarantine(cursor, next_pk, name, host, problem, stamp, _written(path, stamp))
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


def _written(path, stamp):
    """When the controller wrote a spool file (its modification time), for a message whose own
    ``created`` cannot be read; ``stamp`` when the file has gone."""
    try:
        return format_time(datetime.datetime.fromtimestamp(os.stat(path).st_mtime, datetime.timezone.utc))
    except OSError:
        return stamp


def _touch_host(cursor, host, stamp):
    """Record that ``host`` reported; a retired host that reports again is back in evaluation."""
    cursor.execute("INSERT INTO hosts (host_name, first_seen, last_message_at) VALUES (?, ?, ?) "
                   "ON CONFLICT (host_name) DO UPDATE SET last_message_at = excluded.last_message_at, "
                   "retired_at = NULL, retired_reason = NULL",
                   (host, stamp, stamp))


def _next_scan_pk(cursor):
    """The next number of the store's sequence, shared by scans (``scan_pk``) and enforcement
    states (``seq``), so the two are ordered among each other within a second."""
    scans = cursor.execute("SELECT max(scan_pk) FROM scans").fetchone()[0] or 0
    states = cursor.execute("SELECT max(seq) FROM enforcement_states").fetchone()[0] or 0
    return max(scans, states) + 1


def _take(next_pk):
    """The next scan_pk of this ingest (``next_pk``: a one-item list, counted on)."""
    next_pk[0] += 1
    return next_pk[0] - 1


def _quarantine(cursor, next_pk, name, host, reason, stamp, received):
    cursor.execute("INSERT INTO message_quarantine (message_file, host_name, reason, quarantined_at) "
                   "VALUES (?, ?, ?, ?) ON CONFLICT (message_file) DO NOTHING", (name, host, reason, stamp))
    if host:
        _touch_host(cursor, host, stamp)
        cursor.execute(
            "INSERT INTO scans (scan_pk, message_id, host_name, forced, finished, received, succeeded, error, source, "
            "ingested_at) VALUES (?, ?, ?, 0, ?, ?, 0, ?, 'quarantine', ?) ON CONFLICT (message_id) DO NOTHING",
            (_take(next_pk), "quarantine:" + name, host, received, received, "corrupt state message: %s" % reason,
             stamp))


def _store_message(store, cursor, ordinals, next_pk, message, stamp):
    """Insert one message; False when the store already has it (its message id)."""
    host = message["host"]
    body = message["body"]
    scan_pk = next_pk[0]
    if message["kind"] == "enforcement":
        update_id = body["update_id"]
        cursor.execute(
            "INSERT INTO enforcement_states (message_id, host_name, deployment, update_id, state, hresult, detail, "
            "received, seq, controller, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (message_id) DO NOTHING",
            (message["message_id"], host, body["deployment"], update_id.lower() if update_id else None, body["state"],
             body["hresult"], json.dumps(body["detail"], sort_keys=True, separators=(",", ":")),
             message["received"], scan_pk, message.get("controller"), stamp))
        if cursor.rowcount != 1:
            return False
        _take(next_pk)
        _touch_host(cursor, host, stamp)
        return True
    if message["kind"] == "scan_attempt":
        cursor.execute(
            "INSERT INTO scan_attempts (message_id, host_name, received, failure, reason, server_selection, forced, "
            "catalog_version, controller, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (message_id) DO NOTHING",
            (message["message_id"], host, message["received"], body["failure"], body["reason"],
             body.get("server_selection"), int(message["forced"]), message["catalog_version"],
             message.get("controller"), stamp))
        if cursor.rowcount != 1:
            return False
        _touch_host(cursor, host, stamp)
        return True
    if message["kind"] == "scan_failure":
        cursor.execute(
            "INSERT INTO scans (scan_pk, message_id, host_name, server_selection, forced, finished, received, "
            "succeeded, hresult, error, catalog_version, source, controller, ingested_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, 'patchwave.windows.scan', ?, ?) ON CONFLICT (message_id) DO NOTHING",
            (scan_pk, message["message_id"], host, body.get("server_selection"), int(message["forced"]),
             message["received"], message["received"], body.get("hresult"), body["error"], message["catalog_version"],
             message.get("controller"), stamp))
        succeeded = False
    else:
        succeeded = body["result_code"] in (2, 3)
        cursor.execute(
            "INSERT INTO scans (scan_pk, message_id, host_name, scan_id, mode, server_selection, forced, started, "
            "finished, received, succeeded, result_code, hresult, error, catalog_version, wua_version, reboot_pending, "
            "reboot_sources, last_boot, source, controller, ingested_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'patchwave.windows.scan', ?, ?) "
            "ON CONFLICT (message_id) DO NOTHING",
            (scan_pk, message["message_id"], host, body["scan_id"], body["mode"], body["server_selection"],
             int(message["forced"]), body["started"], body["finished"], message["received"], int(succeeded),
             body["result_code"], body["hresult"], body.get("error"), message["catalog_version"], body["wua_version"],
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
    """The records of one successful scan, and its bit planes (``_store/planes.py``)."""
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
