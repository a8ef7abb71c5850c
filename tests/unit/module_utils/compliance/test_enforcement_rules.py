"""``rules.apply_enforcement``: every row of the enforcement table (docs/compliance.md, "Enforcement
state messages"), and ``rules.newer_than_scan``, the one order of scans and enforcement states."""

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._compliance import rules as c
from ansible_collections.patchwave.windows.plugins.module_utils._scan.messages import UPDATE_ENFORCEMENT_STATES

MISSING = (c.REQUIRED, c.MISSING)
INSTALLED = (c.INSTALLED, c.IS_INSTALLED)
PENDING = (c.REQUIRED, c.PENDING_REBOOT)
FAILED = (c.REQUIRED, c.INSTALL_FAILED)
WINDOW = (c.REQUIRED, c.NOT_ATTEMPTED_WINDOW)
NOT_APPLICABLE = (c.NOT_REQUIRED, c.NOT_APPLICABLE)
NEWER_CATALOG = (c.UNKNOWN, c.NEWER_CATALOG)


@pytest.mark.parametrize("before, state, reason, after", [
    # in progress: the scan's answer stands
    (MISSING, "downloading", None, MISSING),
    (MISSING, "downloaded", None, MISSING),
    (MISSING, "installing", None, MISSING),
    # results
    (MISSING, "installed", None, INSTALLED),
    (PENDING, "installed", None, INSTALLED),          # restarted since the scan
    (NEWER_CATALOG, "installed", None, INSTALLED),
    (MISSING, "pending_restart", None, PENDING),
    (INSTALLED, "pending_restart", None, PENDING),
    (MISSING, "failed", None, FAILED),
    (MISSING, "download_failed", None, FAILED),
    (PENDING, "failed", None, FAILED),
    (MISSING, "waiting_for_window", None, WINDOW),
    (MISSING, "not_attempted", "window", WINDOW),
    (MISSING, "not_attempted", "longer_than_every_window", WINDOW),
    (MISSING, "not_attempted", "update_loop", MISSING),  # another reason: the scan's answer stands
    (MISSING, "not_attempted", None, MISSING),
    ((c.REQUIRED, c.HIDDEN), "installed", None, INSTALLED),
    (NOT_APPLICABLE, "installed", None, INSTALLED),
    (NOT_APPLICABLE, "downloading", None, NOT_APPLICABLE),
    # no state newer than the scan
    (MISSING, None, None, MISSING),
    (INSTALLED, None, None, INSTALLED),
])
def test_enforcement_states_decide_the_pair(before, state, reason, after):
    enforcement = None if state is None else c.EnforcementFacts(state, reason)
    assert c.apply_enforcement(before[0], before[1], enforcement) == after


@pytest.mark.parametrize("host_detail", [c.NEVER_SCANNED, c.SCAN_FAILED, c.CORRUPT_MESSAGE, c.STALE])
@pytest.mark.parametrize("state", UPDATE_ENFORCEMENT_STATES)
def test_a_host_without_a_usable_scan_stays_unknown(host_detail, state):
    assert c.apply_enforcement(c.UNKNOWN, host_detail, c.EnforcementFacts(state, "window")) == (c.UNKNOWN, host_detail)


@pytest.mark.parametrize("state", UPDATE_ENFORCEMENT_STATES)
def test_every_update_state_gives_a_state_and_detail_of_the_model(state):
    for before in (MISSING, INSTALLED, PENDING, NOT_APPLICABLE, NEWER_CATALOG):
        after = c.apply_enforcement(before[0], before[1], c.EnforcementFacts(state, "window"))
        assert after[1] in c.DETAILS[after[0]]


SCAN = c.ScanFacts(scan_pk=10, finished="2026-11-23T09:00:00Z", succeeded=True, received="2026-11-23T10:00:00Z")


@pytest.mark.parametrize("received, seq, newer", [
    ("2026-11-23T10:00:01Z", 3, True),    # a later second, whatever the sequence
    ("2026-11-23T09:59:59Z", 99, False),  # an earlier second, whatever the sequence
    ("2026-11-23T10:00:00Z", 11, True),   # the same second: ingested after the scan
    ("2026-11-23T10:00:00Z", 9, False),   # the same second: ingested before the scan
])
def test_newer_than_the_scan_on_the_controllers_clock_then_the_sequence(received, seq, newer):
    assert c.newer_than_scan(received, seq, SCAN) is newer
