# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Which state groups a host belongs to, for one update set (pure: no inventory, no store).

The inventory plugin builds its groups from these rules, overall and per named set, and the tests
take the groups they expect from the same rules.
"""

from __future__ import annotations

from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import SEVERITIES
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.rules import (
    COMPLIANT,
    NEVER_SCANNED,
    NON_COMPLIANT,
    PENDING_REBOOT,
    STALE,
    UNKNOWN,
)

# The seven state groups, by the key the inventory's group_names option uses.
PENDING_REBOOT_GROUP = "pending_reboot"
STALE_GROUP = "stale_scan"
NEVER_SCANNED_GROUP = "never_scanned"
LAST_ATTEMPT_FAILED_GROUP = "last_attempt_failed"
STATE_GROUPS = (COMPLIANT, NON_COMPLIANT, UNKNOWN, PENDING_REBOOT_GROUP, STALE_GROUP, NEVER_SCANNED_GROUP,
                LAST_ATTEMPT_FAILED_GROUP)
# Severity group suffixes: the catalog's severities in lower case.
SEVERITY_GROUPS = tuple(severity.lower() for severity in SEVERITIES)


def pending_reboot(status, required):
    """True when the host waits for a restart: its usable scan says so, or a Required update does.

    ``status`` is a HostStatus; ``required`` the host's (update id, detail) pairs for the set.
    """
    if status.usable and status.scan.reboot_pending:
        return True
    return any(detail == PENDING_REBOOT for _uid, detail in required)


def state_group_keys(compliance, status, required):
    """The state-group keys (of STATE_GROUPS) a host with this set compliance and status is in."""
    keys = [compliance]
    if pending_reboot(status, required):
        keys.append(PENDING_REBOOT_GROUP)
    if status.status == STALE:
        keys.append(STALE_GROUP)
    elif status.status == NEVER_SCANNED:
        keys.append(NEVER_SCANNED_GROUP)
    if status.last_attempt is not None and status.last_attempt["failed"]:
        # Whatever the cause: the host could not be reached, or it could not complete the search.
        keys.append(LAST_ATTEMPT_FAILED_GROUP)
    return keys
