# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""State messages: the format a host's result travels in from a fork to the store, and its checks."""

from __future__ import annotations

import json

from ansible_collections.patchwave.windows.plugins.module_utils._scan.contract import SCAN_SCHEMA, validate
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import format_time, parse_time

# Version 2 carries a scan's per-update results as compact records (what the store keeps); version 1
# carried the host's whole answer. Both are read. In both, ``created`` is the controller's clock when
# it received the host's result and wrote the message (``write_message``): the time that orders a
# host's scans in the store (``scans.received``); the host's own times stay in the body.
MESSAGE_VERSION = 2


READABLE_VERSIONS = (1, 2)


RECORD_FIELDS = ("update_id", "revision_number", "installed", "hidden", "downloaded", "reboot_required")


# ``scan``: the host's answer; ``scan_failure``: the host did not complete the search (the host is
# Unknown, scan failed); ``scan_attempt``: the attempt failed before the host could search
# (unreachable, credentials refused, a request the host refused): the host keeps its state;
# ``enforcement``: a step of installation on the host (``_install/enforcement.py`` writes them).
KINDS = ("scan", "scan_failure", "scan_attempt", "enforcement")

# Why an attempt said nothing of the host's updates (``scan_attempt`` bodies).
ATTEMPT_FAILURES = ("unreachable", "credentials", "connection", "request")


def compact_records(updates):
    """UPDATE_SCHEMA entries as compact records (RECORD_FIELDS), update ids lower case, the first
    entry of a repeated update id kept."""
    records = {}
    for u in updates:
        uid = u["update_id"].lower()
        if uid not in records:
            records[uid] = [uid, u["revision_number"], u["is_installed"], u["is_hidden"], u["is_downloaded"],
                            u.get("reboot_required")]
    return list(records.values())


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


FAILURE_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "hresult": {"type": ["integer", "null"]},
                   "server_selection": {"type": ["string", "null"]}},
}


ATTEMPT_SCHEMA = {
    "type": "object",
    "required": ["failure", "reason"],
    "properties": {"failure": {"type": "string", "enum": list(ATTEMPT_FAILURES)}, "reason": {"type": "string"},
                   "server_selection": {"type": ["string", "null"]}},
}


# Enforcement states, as ConfigMgr's topics 402 (SUM_CI_ENFORCEMENT, per update) and 301
# (SUM_ASSIGNMENT_ENFORCEMENT, per deployment) carry them. The format lives here, with every other
# state message, so ingest reads it without knowing installation; ``_install/enforcement.py`` writes it.
UPDATE_ENFORCEMENT_STATES = ("downloading", "downloaded", "download_failed", "installing", "installed",
                             "pending_restart", "failed", "waiting_for_window", "not_attempted")
DEPLOYMENT_ENFORCEMENT_STATES = ("in_progress", "compliant", "non_compliant", "failed")

# ``not_attempted`` reasons (``detail.reason``) that mean the maintenance window was too short: the
# update did not fit what is left of the window, or its maximum run time is longer than every window.
WINDOW_REASONS = ("window", "longer_than_every_window")

ENFORCEMENT_SCHEMA = {
    "type": "object",
    "required": ["deployment", "update_id", "state", "hresult", "detail"],
    "properties": {
        "deployment": {"type": ["string", "null"]},   # null: ad hoc, no deployment
        "update_id": {"type": ["string", "null"]},    # null: the state of the deployment on the host
        "state": {"type": "string", "enum": sorted(set(UPDATE_ENFORCEMENT_STATES + DEPLOYMENT_ENFORCEMENT_STATES))},
        "hresult": {"type": ["integer", "null"]},
        "detail": {"type": "object"},                 # the figures: why, when, how long
    },
    "additionalProperties": False,
}


def enforcement_problem(body):
    """Why an enforcement body that follows ENFORCEMENT_SCHEMA is still unusable, or None: an update's
    state needs an update id; a deployment's state needs a deployment and no update id."""
    if body["update_id"] is None:
        if body["state"] not in DEPLOYMENT_ENFORCEMENT_STATES:
            return "body.state: %r is a state of an update, and body.update_id is null" % body["state"]
        if body["deployment"] is None:
            return "body.deployment: a deployment's state (%r) needs the deployment" % body["state"]
    elif body["state"] not in UPDATE_ENFORCEMENT_STATES:
        return "body.state: %r is a state of a deployment, and body.update_id is set" % body["state"]
    return None


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
    records, so the rest of ingest sees version 2 only. ``received`` is added: ``created`` in the
    store's time form (a message whose ``created`` is not a time is unusable).
    """
    try:
        message = json.loads(text)
    except ValueError as exc:
        return None, "not valid JSON (%s)" % exc
    problems = validate(message, _MESSAGE_SCHEMA, "message")
    if not problems:
        try:
            message["received"] = format_time(parse_time(message["created"]))
        except ValueError as exc:
            problems = ["message.created: %s" % exc]
    if not problems:
        body = message["body"]
        if message["kind"] == "scan_failure":
            problems = validate(body, FAILURE_SCHEMA, "message.body")
        elif message["kind"] == "scan_attempt":
            problems = validate(body, ATTEMPT_SCHEMA, "message.body")
        elif message["kind"] == "enforcement":
            problems = validate(body, ENFORCEMENT_SCHEMA, "message.body")
            if not problems:
                problem = enforcement_problem(body)
                problems = ["message." + problem] if problem else []
        elif message["message_version"] == 1:
            problems = validate(body, SCAN_SCHEMA, "message.body")
            if not problems:
                body["records"] = compact_records(body.pop("updates"))
        else:
            problems = validate(body, _SCAN_BODY_SCHEMA, "message.body")
            if not problems:
                problem = _record_problem(body["records"])
                problems = [problem] if problem else []
    if problems:
        return None, "; ".join(problems[:3])
    return message, None
