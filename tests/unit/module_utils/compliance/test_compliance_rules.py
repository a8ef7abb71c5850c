"""The compliance rules (``_compliance``) against every row and condition of the state table in
``shared/reference/seed_process.md`` ("The four compliance states of an update on a client")."""

import datetime
import itertools

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._compliance import rules as c

NOW = datetime.datetime(2026, 11, 23, 12, 0, tzinfo=datetime.timezone.utc)


def scan(pk=1, hours_ago=1, succeeded=True, version=5, source="patchwave.windows.scan", **extra):
    finished = (NOW - datetime.timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return c.ScanFacts(scan_pk=pk, finished=finished, succeeded=succeeded, catalog_version=version,
                       mode="online", server_selection="default", source=source, **extra)


USABLE = c.host_status(scan(), scan(), NOW)
OLD_UPDATE = c.UpdateFacts(first_version=3)
NEW_UPDATE = c.UpdateFacts(first_version=9)


# Each case: (table row / condition, host status, update, scan result, expected state, expected detail)
CASES = [
    # Required: "the update applies and is needed"
    ("required: applies and is needed", USABLE, OLD_UPDATE, c.ResultFacts(installed=False), c.REQUIRED, c.MISSING),
    ("required: applies, hidden on the host", USABLE, OLD_UPDATE, c.ResultFacts(False, hidden=True), c.REQUIRED,
     c.HIDDEN),
    # Required: "installed but a reboot is needed to finish"
    ("required: installed, reboot outstanding", USABLE, OLD_UPDATE, c.ResultFacts(True, reboot_required=True),
     c.REQUIRED, c.PENDING_REBOOT),
    # Required: "installed but the state message saying so has not reached the database yet" -- the
    # newest message the store holds still says not installed, so the host's answer decides.
    ("required: installed, message not received", USABLE, OLD_UPDATE, c.ResultFacts(False), c.REQUIRED, c.MISSING),
    # Required even when the host's scan returned an update newer than the scan's catalog version:
    # the host's answer is authoritative for what it returned.
    ("required: returned, newer than the scan's catalog", USABLE, NEW_UPDATE, c.ResultFacts(False), c.REQUIRED,
     c.MISSING),
    # Installed: "the update applies and is already installed"
    ("installed", USABLE, OLD_UPDATE, c.ResultFacts(True), c.INSTALLED, c.IS_INSTALLED),
    ("installed, hidden does not matter", USABLE, OLD_UPDATE, c.ResultFacts(True, hidden=True), c.INSTALLED,
     c.IS_INSTALLED),
    ("installed: newer than the scan's catalog", USABLE, NEW_UPDATE, c.ResultFacts(True), c.INSTALLED, c.IS_INSTALLED),
    # Not Required: "the update does not apply to this client"
    ("not required: not returned, catalog held it", USABLE, OLD_UPDATE, None, c.NOT_REQUIRED, c.NOT_APPLICABLE),
    ("not required: same catalog version", USABLE, c.UpdateFacts(first_version=5), None, c.NOT_REQUIRED,
     c.NOT_APPLICABLE),
    ("not required: superseded", USABLE, c.UpdateFacts(3, superseded=True), None, c.NOT_REQUIRED, c.SUPERSEDED),
    # Unknown: "no state message from this client has been received"
    ("unknown: never scanned", c.host_status(None, None, NOW), OLD_UPDATE, None, c.UNKNOWN, c.NEVER_SCANNED),
    # Unknown: "the scan did not succeed"
    ("unknown: last scan failed", c.host_status(scan(2, succeeded=False), scan(1, hours_ago=5), NOW), OLD_UPDATE,
     c.ResultFacts(True), c.UNKNOWN, c.SCAN_FAILED),
    # Unknown: "the message was corrupt and could not be processed"
    ("unknown: corrupt message", c.host_status(scan(2, succeeded=False, source="quarantine"), None, NOW), OLD_UPDATE,
     None, c.UNKNOWN, c.CORRUPT_MESSAGE),
    # Unknown: the update arrived in a catalog version newer than the host's last good scan
    ("unknown: newer catalog", USABLE, NEW_UPDATE, None, c.UNKNOWN, c.NEWER_CATALOG),
    ("unknown: scan without a catalog version", c.host_status(scan(version=None), None, NOW), OLD_UPDATE, None,
     c.UNKNOWN, c.NEWER_CATALOG),
    # Unknown: the scan is older than the staleness policy (7 days by default)
    ("unknown: stale", c.host_status(scan(hours_ago=24 * 8), None, NOW), OLD_UPDATE, c.ResultFacts(True), c.UNKNOWN,
     c.STALE),
]


@pytest.mark.parametrize("label,status,update,result,state,detail", CASES, ids=[case[0] for case in CASES])
def test_state_table(label, status, update, result, state, detail):
    assert c.evaluate(status, update, result) == (state, detail)
    assert detail in c.DETAILS[state]


def test_every_state_and_detail_is_covered():
    seen = {(case[4], case[5]) for case in CASES}
    reserved = {(c.REQUIRED, c.INSTALL_FAILED), (c.REQUIRED, c.NOT_ATTEMPTED_WINDOW)}
    every = {(state, detail) for state, details in c.DETAILS.items() for detail in details}
    assert every - reserved == seen


@pytest.mark.parametrize("hours,days,expected", [
    (24 * 7 - 1, 7, c.USABLE), (24 * 7 + 1, 7, c.STALE), (24 * 400, 0, c.USABLE), (24 * 400, None, c.USABLE),
    (25, 1, c.STALE),
])
def test_staleness_policy(hours, days, expected):
    assert c.host_status(scan(hours_ago=hours), None, NOW, stale_after_days=days).status == expected


def test_failed_scan_after_good_one_is_unknown_but_keeps_the_good_scan():
    status = c.host_status(scan(2, succeeded=False, error="0x8024402C"), scan(1, hours_ago=30), NOW)
    assert status.status == c.SCAN_FAILED
    assert status.scan.scan_pk == 2 and status.last_good.scan_pk == 1
    assert status.provenance()["scan_time"] == status.scan.finished


@pytest.mark.parametrize("counts,expected", [
    ({}, c.COMPLIANT),  # a set that selects no update, for a host with a usable scan
    ({c.INSTALLED: 3, c.NOT_REQUIRED: 7}, c.COMPLIANT),
    ({c.INSTALLED: 3, c.REQUIRED: 1}, c.NON_COMPLIANT),
    ({c.REQUIRED: 1, c.UNKNOWN: 5}, c.NON_COMPLIANT),
    ({c.INSTALLED: 3, c.UNKNOWN: 1}, c.UNKNOWN),
    ({c.UNKNOWN: 4}, c.UNKNOWN),
])
def test_set_compliance(counts, expected):
    assert c.set_compliance(counts, True) == expected
    assert c.set_compliance(counts, True, has_catalog=True) == expected


# Every status that is not usable, as host_status gives it.
UNUSABLE = [
    ("never scanned", c.host_status(None, None, NOW)),
    ("scan failed", c.host_status(scan(2, succeeded=False, error="0x8024402C"), scan(1), NOW)),
    ("corrupt message", c.host_status(scan(2, succeeded=False, source=c.QUARANTINE_SOURCE), None, NOW)),
    ("stale", c.host_status(scan(hours_ago=24 * 30), scan(hours_ago=24 * 30), NOW)),
]


@pytest.mark.parametrize("case,status", UNUSABLE, ids=[case for case, _status in UNUSABLE])
@pytest.mark.parametrize("counts", [{}, c.empty_counts(), {c.UNKNOWN: 4}, {c.INSTALLED: 2, c.NOT_REQUIRED: 1}],
                         ids=["empty", "zeros", "unknown", "installed"])
def test_a_host_without_a_usable_scan_is_unknown_for_every_set_the_empty_set_included(case, status, counts):
    assert not status.usable, case
    assert c.set_compliance(counts, status.usable) == c.UNKNOWN


@pytest.mark.parametrize("counts", [{}, {c.INSTALLED: 3, c.NOT_REQUIRED: 7}, {c.UNKNOWN: 1}],
                         ids=["empty", "installed", "unknown"])
def test_a_store_without_a_catalog_version_makes_every_host_unknown(counts):
    assert c.set_compliance(counts, USABLE.usable, has_catalog=False) == c.UNKNOWN


@pytest.mark.parametrize("catalog_version,sizes,expected", [
    (3, {"all": 10, "critical": 2}, []),
    (3, {"all": 10, "typo": 0}, ["typo"]),
    (7, {"all": 0, "a": 0, "b": 1}, ["all", "a"]),
    (None, {"all": 0, "typo": 0}, None),  # no catalog: one warning, not one per set
])
def test_warnings_name_each_set_that_selects_no_update_or_the_missing_catalog(catalog_version, sizes, expected):
    warnings = c.set_warnings(catalog_version, sizes)
    if expected is None:
        assert len(warnings) == 1
        assert "no catalog version" in warnings[0] and "every host is Unknown" in warnings[0]
        assert "patchwave.windows.catalog_sync" in warnings[0]
        return
    assert len(warnings) == len(expected)
    for name, text in zip(expected, warnings):
        assert text.startswith("update set '%s' selects no update of catalog version %d" % (name, catalog_version))


def test_may_be_required_covers_every_required_result():
    for installed, hidden, reboot in itertools.product((False, True), repeat=3):
        result = c.ResultFacts(installed, hidden, reboot)
        state, _detail = c.evaluate(USABLE, OLD_UPDATE, result)
        if state == c.REQUIRED:
            assert c.may_be_required(result)
        # The SQL prefilter says the same as the Python one.
        sql = c.MAY_BE_REQUIRED_SQL.replace("su.installed", str(int(installed))).replace(
            "su.reboot_required", str(int(reboot)))
        assert eval(sql.replace("=", "==").replace("OR", "or")) == c.may_be_required(result)  # noqa: S307


def test_percent_compliant():
    assert c.percent_compliant({}) == 100.0
    assert c.percent_compliant({c.INSTALLED: 1, c.NOT_REQUIRED: 2, c.REQUIRED: 1}) == 75.0


def test_a_usable_scan_decides_a_returned_update_from_its_flags_alone():
    """_compliance_store decides each flag value once (_FLAG_STATES); that holds only while the
    rules, for a usable scan, look at nothing else of the scan for an update it returned."""
    from ansible_collections.patchwave.windows.plugins.module_utils._compliance.reads import _FLAG_STATES
    statuses = [c.host_status(scan(version=v, hours_ago=h, **extra), None, NOW)
                for v in (None, 1, 5, 99) for h in (0, 30) for extra in ({}, {"reboot_pending": True}, {"forced": True})]
    assert all(s.usable for s in statuses)
    for flags in range(16):
        result = c.ResultFacts(bool(flags & 1), bool(flags & 2), bool(flags & 4))
        for status in statuses:
            for first in (0, 3, 9, 1 << 40):
                newer = status.scan.catalog_version is None or first > status.scan.catalog_version
                if newer != bool(flags & 8):
                    continue
                assert c.evaluate(status, c.UpdateFacts(first), result) == _FLAG_STATES[flags]


def test_counting_helpers():
    assert c.add_counts([{c.REQUIRED: 1, c.INSTALLED: 2}, {c.REQUIRED: 3, c.UNKNOWN: 1}]) == {
        c.REQUIRED: 4, c.NOT_REQUIRED: 0, c.INSTALLED: 2, c.UNKNOWN: 1}
    assert c.count_compliance([c.COMPLIANT, c.UNKNOWN, c.COMPLIANT]) == {c.COMPLIANT: 2, c.NON_COMPLIANT: 0,
                                                                         c.UNKNOWN: 1}


def test_staleness_is_measured_on_the_controllers_clock():
    """A scan's age is from when the controller received it; the host's own time may be far off."""
    def received(hours_ago):
        return (NOW - datetime.timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    slow_host = scan(hours_ago=24 * 30, received=received(1))   # the host says a month ago
    fast_host = scan(hours_ago=-24 * 30, received=received(24 * 8))  # the host says next month
    assert c.host_status(slow_host, slow_host, NOW, 7).status == c.USABLE
    assert c.host_status(fast_host, fast_host, NOW, 7).status == c.STALE
    # Without a received time (none is ever stored without one), the scan's own time is all there is.
    assert c.host_status(scan(hours_ago=24 * 8), None, NOW, 7).status == c.STALE
