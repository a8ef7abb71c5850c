# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""The patch wave's rules, pure: ring definitions checked, the failure budget, the wave's default
name, and which outcomes a resumed wave does not install again (docs/wave.md).

Plain data in and out; ``state.py`` keeps the wave in the store and asks these.
"""

from __future__ import annotations

import datetime
import re

from ansible_collections.patchwave.windows.plugins.module_utils._install.results import BUDGET_OUTCOMES
from ansible_collections.patchwave.windows.plugins.module_utils._prepare.templates import parse_offset
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import parse_time

# A host whose outcome in the wave is one of these is not installed again when the wave resumes;
# every other outcome (and a host not run yet) is retried.
DONE_OUTCOMES = ("compliant",)

RUNNING = "running"
HALTED = "halted"
FINISHED = "finished"
STATES = (RUNNING, HALTED, FINISHED)

RING_FIELDS = ("name", "hosts", "serial", "failure_budget", "wait_after", "deployment", "deadline_offset")
RING_DEFAULTS = {"serial": "100%", "failure_budget": 0, "wait_after": 0, "deployment": None, "deadline_offset": None}

_PERCENT = re.compile(r"^\s*(\d+)\s*%\s*$")
_WHOLE = re.compile(r"^\s*(\d+)\s*$")


class WaveError(ValueError):
    """A wave or a ring cannot be used as given; the message names the wave or ring and the field."""


def _whole_number(value):
    """``value`` as a whole number (an int, or text of digits), else None; booleans are not numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _WHOLE.match(value):
        return int(value)
    return None


def _percent(value):
    """The N of ``"N%"``, else None."""
    match = _PERCENT.match(value) if isinstance(value, str) else None
    return int(match.group(1)) if match else None


def check_serial(value, owner):
    """A batch size: a count of 1 or more, or ``"N%"`` with N from 1 to 100 (of the ring's hosts)."""
    percent = _percent(value)
    if percent is not None:
        if not 1 <= percent <= 100:
            raise WaveError("%s: serial: %r is not a percentage from 1%% to 100%%" % (owner, value))
        return "%d%%" % percent
    number = _whole_number(value)
    if number is None or number < 1:
        raise WaveError("%s: serial: %r is neither a count of 1 or more nor a percentage such as 25%%" % (owner, value))
    return number


def check_failure_budget(value, owner):
    """The hosts a ring may lose: a count of 0 or more, or ``"N%"`` with N from 0 to 100 of the ring's hosts."""
    percent = _percent(value)
    if percent is not None:
        if percent > 100:
            raise WaveError("%s: failure_budget: %r is not a percentage from 0%% to 100%%" % (owner, value))
        return "%d%%" % percent
    number = _whole_number(value)
    if number is None or number < 0:
        raise WaveError("%s: failure_budget: %r is neither a count of 0 or more hosts nor a percentage such as 10%%"
                        % (owner, value))
    return number


def _check_text(value, owner, field):
    if not isinstance(value, str) or not value.strip():
        raise WaveError("%s: %s: %r is not a non-empty string" % (owner, field, value))
    return value.strip()


def check_ring(ring, position, wave=None):
    """One ring definition, checked and completed with the defaults; ``position`` is 1-based (for errors)."""
    owner = "%sring %d" % ("wave '%s': " % wave if wave else "", position)
    if not isinstance(ring, dict):
        raise WaveError("%s: a ring is a dict with name and hosts, not %r" % (owner, ring))
    if ring.get("name") is not None:
        owner = "%sring '%s'" % ("wave '%s': " % wave if wave else "", ring["name"])
    unknown = sorted(str(k) for k in ring if k not in RING_FIELDS)
    if unknown:
        raise WaveError("%s: unknown field(s) %s (a ring has %s)" % (owner, ", ".join(unknown), ", ".join(RING_FIELDS)))
    for field in ("name", "hosts"):
        if ring.get(field) is None:
            raise WaveError("%s: %s is required" % (owner, field))
    checked = dict(RING_DEFAULTS)
    checked["name"] = _check_text(ring["name"], owner, "name")
    checked["hosts"] = _check_text(ring["hosts"], owner, "hosts")
    if ring.get("serial") is not None:
        checked["serial"] = check_serial(ring["serial"], owner)
    if ring.get("failure_budget") is not None:
        checked["failure_budget"] = check_failure_budget(ring["failure_budget"], owner)
    if ring.get("wait_after") is not None:
        minutes = _whole_number(ring["wait_after"])
        if minutes is None or minutes < 0:
            raise WaveError("%s: wait_after: %r is not a number of minutes (0 or more)" % (owner, ring["wait_after"]))
        checked["wait_after"] = minutes
    if ring.get("deployment") is not None:
        checked["deployment"] = _check_text(ring["deployment"], owner, "deployment")
    if ring.get("deadline_offset") is not None:
        try:
            parse_offset(ring["deadline_offset"])
        except ValueError as exc:
            raise WaveError("%s: deadline_offset: %s" % (owner, exc))
        checked["deadline_offset"] = str(ring["deadline_offset"]).strip()
    return checked


def check_rings(rings, wave=None):
    """The ring definitions of a wave, in order, checked (names unique, at least one ring)."""
    owner = "wave '%s'" % wave if wave else "wave"
    if not isinstance(rings, (list, tuple)) or not rings:
        raise WaveError("%s: rings: a wave needs a list of at least one ring, not %r" % (owner, rings))
    checked = [check_ring(ring, position, wave) for position, ring in enumerate(rings, 1)]
    seen = set()
    for ring in checked:
        if ring["name"] in seen:
            raise WaveError("%s: ring '%s': name: two rings have this name" % (owner, ring["name"]))
        seen.add(ring["name"])
    return checked


def budget_allowed(failure_budget, ring_size):
    """How many hosts of a ring of ``ring_size`` hosts may fail: the count, or the percentage rounded down."""
    percent = _percent(failure_budget)
    if percent is not None:
        return percent * ring_size // 100
    number = _whole_number(failure_budget)
    if number is None or number < 0:
        raise WaveError("failure_budget: %r is neither a count of 0 or more hosts nor a percentage" % (failure_budget,))
    return number


def budget_check(ring_results, failure_budget, ring_size):
    """The budget over a ring's results (``{host: {outcome, reason, msg}}``, outcome None when not run):
    ``{failures, allowed, spent, failed_hosts: [{host, outcome, msg}]}``; only BUDGET_OUTCOMES count and
    the budget is spent when failures pass what it allows."""
    failed = sorted((host, result) for host, result in ring_results.items()
                    if (result or {}).get("outcome") in BUDGET_OUTCOMES)
    allowed = budget_allowed(failure_budget, ring_size)
    return {
        "failures": len(failed),
        "allowed": allowed,
        "spent": len(failed) > allowed,
        "failed_hosts": [{"host": host, "outcome": result["outcome"], "msg": result.get("msg")} for host, result in failed],
    }


def halt_reason(ring, check):
    """The halt reason of a spent budget: ``ring pilot: 2 host(s) failed, the budget allows 0: web01 (failed: ...)``."""
    hosts = ", ".join("%s (%s)" % (entry["host"], "%s: %s" % (entry["outcome"], entry["msg"]) if entry.get("msg")
                                   else entry["outcome"]) for entry in check["failed_hosts"])
    return "ring %s: %d host(s) failed, the budget allows %d: %s" % (ring, check["failures"], check["allowed"], hosts)


def default_wave_name(list_version_created_at):
    """A wave's default name: the year and month (``2026-12``) its list version was frozen in (UTC)."""
    moment = list_version_created_at
    if not isinstance(moment, datetime.datetime):
        moment = parse_time(str(moment), what="list version time")
    elif moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc)
    return moment.strftime("%Y-%m")


def serial_size(serial, ring_size):
    """The batch size a ring's ``serial`` means for ``ring_size`` hosts (at least 1)."""
    percent = _percent(serial)
    if percent is not None:
        return max(1, percent * ring_size // 100)
    return max(1, _whole_number(serial) or 1)
