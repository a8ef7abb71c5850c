# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""The compliance rules: pure functions over plain data, no store, no I/O.

Every (host, update) pair gets one of the four states of Configuration Manager (Required, Not
Required, Installed, Unknown) and a detail saying why. The rules, in the order they apply:

1. **Host status** (``host_status``) from the host's scans: no scan at all is *never scanned*; a
   newest scan that failed is *scan failed*, or *corrupt message* when the state message could not
   be read; a newest good scan older than the staleness policy is *stale*. Any of these makes every
   update of the host Unknown with that detail, because no usable state message exists.
2. With a usable scan, an update the scan **returned** is decided by the host's own answer:
   installed and waiting for a restart is Required (*pending reboot*); installed is Installed;
   not installed is Required (*missing*, or *hidden* when a person hid it on the host).
3. An update the scan did **not** return is Not Required (*superseded* when a current update of
   the catalog supersedes it, else *not applicable*), but only when the scan was made against a
   catalog version that already held it; an update that arrived in a newer catalog version is
   Unknown (*newer catalog*): the host has not been asked about it yet.

Compliance of a host against a set of updates (``set_compliance``): **unknown** when the host has
no usable scan (never scanned, scan failed, corrupt message, stale) or the store holds no catalog
version, whatever the set holds, the empty set included: nothing says anything of such a host.
Otherwise **non-compliant** when any update of the set is Required; otherwise **unknown** when any
is Unknown; otherwise **compliant** (every update Installed or Not Required; a set that selects no
update is compliant only for a host with a usable scan, and ``set_warnings`` names such a set).

4. **Enforcement** (``apply_enforcement``): installation's newest state of an update on a host,
   when the controller received it after the host's deciding scan (``newer_than_scan``), overrides
   what that scan said, as ConfigMgr's enforcement state messages do: *installed* is Installed,
   *pending restart* Required (*pending reboot*), *failed* or *download failed* Required (*install
   failed*), *waiting for window* or *not attempted* for a window reason Required (*not attempted
   window*); a state still in progress (downloading, downloaded, installing) or not attempted for
   another reason leaves the scan's answer. The host's next scan supersedes them. A host without a
   usable scan stays Unknown: a state message of installation is no scan.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from ansible_collections.patchwave.windows.plugins.module_utils._scan.messages import WINDOW_REASONS
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import parse_time

REQUIRED = "required"
NOT_REQUIRED = "not_required"
INSTALLED = "installed"
UNKNOWN = "unknown"
STATES = (REQUIRED, NOT_REQUIRED, INSTALLED, UNKNOWN)
STATE_TITLES = {REQUIRED: "Required", NOT_REQUIRED: "Not Required", INSTALLED: "Installed", UNKNOWN: "Unknown"}

# Details, by the state they belong to.
MISSING = "missing"
HIDDEN = "hidden"
PENDING_REBOOT = "pending_reboot"
INSTALL_FAILED = "install_failed"            # installation failed (an enforcement state)
NOT_ATTEMPTED_WINDOW = "not_attempted_window"  # the maintenance window was too short (an enforcement state)
IS_INSTALLED = "installed"
NOT_APPLICABLE = "not_applicable"
SUPERSEDED = "superseded"
NEVER_SCANNED = "never_scanned"
SCAN_FAILED = "scan_failed"
CORRUPT_MESSAGE = "corrupt_message"
STALE = "stale"
NEWER_CATALOG = "newer_catalog"

DETAILS = {
    REQUIRED: (MISSING, HIDDEN, PENDING_REBOOT, INSTALL_FAILED, NOT_ATTEMPTED_WINDOW),
    INSTALLED: (IS_INSTALLED,),
    NOT_REQUIRED: (NOT_APPLICABLE, SUPERSEDED),
    UNKNOWN: (NEVER_SCANNED, SCAN_FAILED, CORRUPT_MESSAGE, STALE, NEWER_CATALOG),
}

# Host status: USABLE, or one of the Unknown details that applies to every update of the host.
USABLE = "usable"
HOST_STATUSES = (USABLE, NEVER_SCANNED, SCAN_FAILED, CORRUPT_MESSAGE, STALE)

COMPLIANT = "compliant"
NON_COMPLIANT = "non_compliant"
COMPLIANCE = (COMPLIANT, NON_COMPLIANT, UNKNOWN)

DEFAULT_STALE_AFTER_DAYS = 7
QUARANTINE_SOURCE = "quarantine"


@dataclass(frozen=True)
class ScanFacts:
    """What compliance needs of one scan record (the provenance of every state it decides)."""

    scan_pk: int
    finished: str                        # the host's clock (may be off): shown, never compared
    succeeded: bool
    catalog_version: int | None = None
    mode: str | None = None
    server_selection: str | None = None
    source: str | None = None
    forced: bool = False
    reboot_pending: bool = False
    error: str | None = None
    received: str | None = None          # the controller's clock when it received the result

    @property
    def age_time(self):
        """The time a scan's age is measured from: when the controller received it (``finished``
        only for a scan that has no such time)."""
        return self.received or self.finished

    def provenance(self):
        return {"scan_time": self.finished, "catalog_version": self.catalog_version, "scan_mode": self.mode,
                "server_selection": self.server_selection, "source": self.source, "forced": self.forced}


@dataclass(frozen=True)
class HostStatus:
    """Whether a host has a usable scan, and which scan decides its states."""

    status: str
    scan: ScanFacts | None = None        # the scan that decides (the failed one for scan_failed)
    last_good: ScanFacts | None = None   # newest successful scan, whatever the status
    # The newest attempt, a scan or one that never reached the host's updates (unreachable,
    # credentials refused, a refused request): {time, failed, failure, reason}; None when none.
    # Shown beside the status; it never changes it.
    last_attempt: dict | None = None

    @property
    def usable(self):
        return self.status == USABLE

    def provenance(self):
        return self.scan.provenance() if self.scan else None


@dataclass(frozen=True)
class UpdateFacts:
    """What compliance needs of one update of the catalog."""

    first_version: int
    superseded: bool = False


@dataclass(frozen=True)
class ResultFacts:
    """What a scan said of one update it returned."""

    installed: bool
    hidden: bool = False
    reboot_required: bool = False


def host_status(latest, last_good, now, stale_after_days=DEFAULT_STALE_AFTER_DAYS):
    """The status of a host from its newest scan and its newest good scan (``ScanFacts`` or None).

    ``now`` is an aware datetime; ``stale_after_days`` 0 or None turns the staleness policy off. A
    scan's age is measured on the controller's clock (``ScanFacts.age_time``), like ``now``.
    """
    if latest is None:
        return HostStatus(NEVER_SCANNED, None, last_good)
    if not latest.succeeded:
        status = CORRUPT_MESSAGE if latest.source == QUARANTINE_SOURCE else SCAN_FAILED
        return HostStatus(status, latest, last_good)
    if stale_after_days and now - parse_time(latest.age_time) > datetime.timedelta(days=stale_after_days):
        return HostStatus(STALE, latest, last_good)
    return HostStatus(USABLE, latest, last_good)


def evaluate(status, update, result):
    """``(state, detail)`` of one update on one host.

    ``status`` is the host's HostStatus, ``update`` the update's UpdateFacts, ``result`` the
    ResultFacts of the decisive scan for this update, or None when the scan did not return it.
    """
    if not status.usable:
        return UNKNOWN, status.status
    if result is not None:
        if result.installed:
            return (REQUIRED, PENDING_REBOOT) if result.reboot_required else (INSTALLED, IS_INSTALLED)
        return REQUIRED, HIDDEN if result.hidden else MISSING
    version = status.scan.catalog_version
    if version is None or update.first_version > version:
        return UNKNOWN, NEWER_CATALOG
    return NOT_REQUIRED, SUPERSEDED if update.superseded else NOT_APPLICABLE


@dataclass(frozen=True)
class EnforcementFacts:
    """Installation's newest state of one update on one host (an enforcement state message)."""

    state: str                  # one of _scan/messages.UPDATE_ENFORCEMENT_STATES
    reason: str | None = None   # ``detail.reason`` of ``not_attempted``


# What each enforcement state of an update makes of the pair; states absent here leave the scan's answer.
_ENFORCED = {
    "installed": (INSTALLED, IS_INSTALLED),
    "pending_restart": (REQUIRED, PENDING_REBOOT),
    "failed": (REQUIRED, INSTALL_FAILED),
    "download_failed": (REQUIRED, INSTALL_FAILED),
    "waiting_for_window": (REQUIRED, NOT_ATTEMPTED_WINDOW),
}

_HOST_DETAILS = tuple(s for s in HOST_STATUSES if s != USABLE)


def newer_than_scan(received, seq, scan):
    """True when an enforcement state received at ``received`` (store time text), numbered ``seq``
    in the store's sequence, came after ``scan`` (ScanFacts): the controller's clock, then the
    sequence within one second, as scans are ordered among each other."""
    return (received, seq) > (scan.age_time, scan.scan_pk)


def apply_enforcement(state, detail, enforcement):
    """``(state, detail)`` of a pair once its enforcement state is applied.

    ``state, detail`` are what ``evaluate`` gave from the deciding scan; ``enforcement`` is the
    pair's newest EnforcementFacts newer than that scan (``newer_than_scan``), or None. A pair of a
    host without a usable scan keeps its Unknown state.
    """
    if enforcement is None or (state == UNKNOWN and detail in _HOST_DETAILS):
        return state, detail
    if enforcement.state == "not_attempted":
        return (REQUIRED, NOT_ATTEMPTED_WINDOW) if enforcement.reason in WINDOW_REASONS else (state, detail)
    return _ENFORCED.get(enforcement.state, (state, detail))


def may_be_required(result):
    """True for every scan result ``evaluate`` can call Required: bulk reads fetch only these rows.

    Kept beside ``evaluate`` so the two change together; tests check it against every case.
    """
    return (not result.installed) or result.reboot_required


# The same condition in SQL over scan_updates (alias ``su``).
MAY_BE_REQUIRED_SQL = "(su.installed = 0 OR su.reboot_required = 1)"


def empty_counts():
    return dict.fromkeys(STATES, 0)


def add_counts(many):
    """Counts per state summed over an iterable of counts per state."""
    totals = empty_counts()
    for counts in many:
        for state, number in counts.items():
            totals[state] += number
    return totals


def count_compliance(compliances):
    """Hosts per compliance state from an iterable of compliance states."""
    counts = dict.fromkeys(COMPLIANCE, 0)
    for state in compliances:
        counts[state] += 1
    return counts


def set_compliance(counts, usable, has_catalog=True):
    """The compliance of a host against a set, from its counts per state (see the module docs).

    ``usable``: the host has a usable scan (``HostStatus.usable``); ``has_catalog``: the store holds
    a catalog version. Without either the host is unknown for every set, the empty set included.
    """
    if not usable or not has_catalog:
        return UNKNOWN
    if counts.get(REQUIRED):
        return NON_COMPLIANT
    if counts.get(UNKNOWN):
        return UNKNOWN
    return COMPLIANT


def percent_compliant(counts):
    """Installed + Not Required as a share of all pairs (100 for no pairs), one decimal."""
    total = sum(counts.get(s, 0) for s in STATES)
    if not total:
        return 100.0
    return round(100.0 * (counts.get(INSTALLED, 0) + counts.get(NOT_REQUIRED, 0)) / total, 1)


def set_warnings(catalog_version, set_sizes):
    """What a reader warns about an evaluation: a store without a catalog version (every host is
    Unknown), else each set that selects no update. ``set_sizes``: set name -> updates in the set,
    in the order to warn."""
    if catalog_version is None:
        return ["the store holds no catalog version, so every host is Unknown against every set: sync a "
                "catalog into it with patchwave.windows.catalog_sync"]
    return ["update set '%s' selects no update of catalog version %s: only hosts with a usable scan are "
            "compliant against it, every other host is Unknown" % (name, catalog_version)
            for name, size in set_sizes.items() if not size]
