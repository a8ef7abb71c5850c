# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""The spool: the folder where forks leave state messages, the lock ingesters take, quarantine."""

from __future__ import annotations

import fcntl
import json
import os
import re
import socket
import uuid

from ansible_collections.patchwave.windows.plugins.module_utils._scan.contract import SCAN_SCHEMA, validate
from ansible_collections.patchwave.windows.plugins.module_utils._scan.messages import (
    ATTEMPT_SCHEMA,
    ENFORCEMENT_SCHEMA,
    FAILURE_SCHEMA,
    KINDS,
    MESSAGE_VERSION,
    compact_records,
    enforcement_problem,
)
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import now_text

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


QUARANTINE = "quarantine"


def message_file_name(host, message_id):
    """``<host>~<id>.json``: the host is readable even when the content is not."""
    return "%s~%s.json" % (_SAFE.sub("_", host)[:100], message_id)


def lock_spool(spool):
    """Take the ingest lock of an existing ``spool``; None when the folder does not exist.

    Only writers (write_message) create the spool: a reader that finds none has nothing to move
    and leaves no folder behind.
    """
    try:
        handle = open(os.path.join(spool, ".ingest.lock"), "a+")
    except FileNotFoundError:
        return None
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


def write_message(spool, host, kind, body, catalog_version=None, forced=False, created=None):
    """Write one state message into ``spool`` atomically; return its path.

    ``created`` is stamped here, from the controller's clock, when left out (as the scan action
    does): the time the controller received the result, which orders a host's scans in the store
    whatever the host's own clock says. Tests and importers may give it (store time text).

    The body is checked against the contract here, once, where it enters the spool: a ``scan``
    body against SCAN_SCHEMA (ValueError naming the host and the problems otherwise). Its
    per-update results travel as compact records, the fields the store keeps.
    """
    if kind not in KINDS:
        raise ValueError("state message kind %r is not one of %s" % (kind, ", ".join(KINDS)))
    schema = {"scan": SCAN_SCHEMA, "scan_failure": FAILURE_SCHEMA, "scan_attempt": ATTEMPT_SCHEMA,
              "enforcement": ENFORCEMENT_SCHEMA}[kind]
    problems = validate(body, schema, "body")
    if not problems and kind == "enforcement":
        problem = enforcement_problem(body)
        problems = [problem] if problem else []
    if problems:
        raise ValueError("state message for %s: the %s result breaks the contract: %s"
                         % (host, kind, "; ".join(problems[:3])))
    if kind == "scan":
        records = compact_records(body["updates"])
        body = dict((k, v) for k, v in body.items() if k != "updates")
        body["records"] = records
    os.makedirs(spool, exist_ok=True)
    message_id = str(uuid.uuid4())
    message = {
        "message_version": MESSAGE_VERSION,
        "message_id": message_id,
        "kind": kind,
        "host": host,
        "created": created or now_text(),
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
