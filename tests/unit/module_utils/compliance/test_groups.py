"""The state-group membership rule (plugins/module_utils/_compliance/groups.py), case by case."""

from __future__ import annotations

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._compliance import groups
from ansible_collections.patchwave.windows.plugins.module_utils._compliance import rules as c

GOOD_SCAN = c.ScanFacts(scan_pk=1, finished="2026-12-01T00:00:00Z", succeeded=True, catalog_version=3)
RESTART_SCAN = c.ScanFacts(scan_pk=2, finished="2026-12-01T00:00:00Z", succeeded=True, catalog_version=3,
                           reboot_pending=True)
FAILED_SCAN = c.ScanFacts(scan_pk=3, finished="2026-12-01T00:00:00Z", succeeded=False, error="0x8024402C")
UNREACHABLE = {"time": "2026-12-02T00:00:00Z", "failed": True, "failure": "unreachable", "reason": "refused"}
SUCCEEDED = {"time": "2026-12-01T00:00:00Z", "failed": False, "failure": None, "reason": None}
SEARCH_FAILED = {"time": "2026-12-01T00:00:00Z", "failed": True, "failure": "scan_failed", "reason": "0x8024402C"}
MISSING = [("u1", c.MISSING)]
WAITING = [("u1", c.PENDING_REBOOT)]


@pytest.mark.parametrize("compliance, status, required, expected", [
    (c.COMPLIANT, c.HostStatus(c.USABLE, GOOD_SCAN, GOOD_SCAN), [], ["compliant"]),
    (c.NON_COMPLIANT, c.HostStatus(c.USABLE, GOOD_SCAN, GOOD_SCAN), MISSING, ["non_compliant"]),
    # a Required update waiting for a restart, or the scan's own pending restart
    (c.NON_COMPLIANT, c.HostStatus(c.USABLE, GOOD_SCAN, GOOD_SCAN), WAITING, ["non_compliant", "pending_reboot"]),
    (c.COMPLIANT, c.HostStatus(c.USABLE, RESTART_SCAN, RESTART_SCAN), [], ["compliant", "pending_reboot"]),
    # a restart flag on a scan that no longer decides (stale) does not count
    (c.UNKNOWN, c.HostStatus(c.STALE, RESTART_SCAN, RESTART_SCAN), [], ["unknown", "stale_scan"]),
    (c.UNKNOWN, c.HostStatus(c.NEVER_SCANNED), [], ["unknown", "never_scanned"]),
    (c.UNKNOWN, c.HostStatus(c.SCAN_FAILED, FAILED_SCAN, GOOD_SCAN), [], ["unknown"]),
    # a failed attempt puts the host in last_attempt_failed and changes nothing else
    (c.NON_COMPLIANT, c.HostStatus(c.USABLE, GOOD_SCAN, GOOD_SCAN, UNREACHABLE), MISSING,
     ["non_compliant", "last_attempt_failed"]),
    (c.COMPLIANT, c.HostStatus(c.USABLE, GOOD_SCAN, GOOD_SCAN, SUCCEEDED), [], ["compliant"]),
    (c.UNKNOWN, c.HostStatus(c.SCAN_FAILED, FAILED_SCAN, GOOD_SCAN, SEARCH_FAILED), [], ["unknown", "last_attempt_failed"]),
])
def test_state_group_keys(compliance, status, required, expected):
    assert groups.state_group_keys(compliance, status, required) == expected


def test_every_key_is_a_state_group_and_severities_follow_the_catalog():
    assert set(groups.STATE_GROUPS) == {"compliant", "non_compliant", "unknown", "pending_reboot", "stale_scan",
                                        "never_scanned", "last_attempt_failed"}
    assert groups.SEVERITY_GROUPS == ("critical", "important", "moderate", "low", "unspecified")
