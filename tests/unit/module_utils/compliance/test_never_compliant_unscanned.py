"""A host that was never scanned is never compliant (issue 10, section 1).

A host without a usable scan is Unknown for every set, the empty set included; a set that selects
no update is named in a warning; a store without a catalog version makes every host Unknown, with a
warning. Each through the bulk path (``evaluate_store``), the trend
(``history``) and the report's data and page.
"""

import datetime

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._compliance import rules as c
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.history import history
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.reads import evaluate_store
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.report_data import report_data
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.report_html import render_html
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.update_sets import (
    all_updates,
    parse_update_sets,
)
from ansible_collections.patchwave.windows.plugins.module_utils._scan.ingest import ingest
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store

from tests.compliance_data import NOW, Fleet, add_catalog

HOUR = datetime.timedelta(hours=1)
EMPTY = {"name": "typo", "kbs": ["KB9999999"]}
HOSTS = ["good", "nobody", "failed", "stale"]


@pytest.fixture
def mixed(store_address, tmp_path):
    """A store with a catalog and four kinds of host: usable, never scanned, failed, stale."""
    store = open_store(store_address)
    catalog = add_catalog(store, 30, versions=2, seed=5)
    fleet = Fleet(catalog, seed=6)
    spool = str(tmp_path / "spool")
    ids = list(catalog)
    fleet.add_scan(spool, "good", NOW - HOUR, 2, results={ids[0]: (True, False, False)})
    fleet.add_scan(spool, "failed", NOW - 5 * HOUR, 2, results={ids[0]: (True, False, False)})
    fleet.add_failure(spool, "failed", NOW - HOUR)
    fleet.add_scan(spool, "stale", NOW - 30 * 24 * HOUR, 2, results={ids[0]: (True, False, False)})
    ingest(store, spool)
    yield store
    store.close()


def test_a_set_that_selects_no_update_is_compliant_only_with_a_usable_scan(mixed):
    sets = [all_updates()] + parse_update_sets([EMPTY])
    evaluation = evaluate_store(mixed, sets, hosts=HOSTS, now=NOW)
    statuses = {h: s.status for h, s in evaluation.hosts.items()}
    assert statuses == {"good": c.USABLE, "nobody": c.NEVER_SCANNED, "failed": c.SCAN_FAILED, "stale": c.STALE}
    typo = evaluation.sets["typo"]
    assert typo.update_ids == []
    assert typo.host_compliance == {"good": c.COMPLIANT, "nobody": c.UNKNOWN, "failed": c.UNKNOWN,
                                    "stale": c.UNKNOWN}
    assert typo.summary() == {c.COMPLIANT: 1, c.NON_COMPLIANT: 0, c.UNKNOWN: 3}
    for host in ("nobody", "failed", "stale"):
        assert evaluation.sets["all"].host_compliance[host] == c.UNKNOWN
    warnings = evaluation.warnings()
    assert len(warnings) == 1 and warnings[0].startswith("update set 'typo' selects no update of catalog version 2")

    data = report_data(evaluation, top=5)
    assert data["warnings"] == warnings
    assert data["overall"]["host_compliance"]["nobody"] == c.UNKNOWN
    assert data["overall"]["host_compliance"]["stale"] == c.UNKNOWN
    page = render_html(data)
    assert "Warning: update set &#x27;typo&#x27; selects no update" in page
    assert "This set selects no update" in page

    trend = history(mixed, sets, days=2, now=NOW, hosts=HOSTS)["typo"]
    assert {k: trend[-1][k] for k in c.COMPLIANCE} == typo.summary()


def test_a_store_without_a_catalog_version_makes_every_host_unknown(store_address, tmp_path):
    store = open_store(store_address)
    try:
        fleet = Fleet({}, seed=7)
        spool = str(tmp_path / "spool")
        fleet.add_scan(spool, "scanned", NOW - HOUR, None, results={})
        ingest(store, spool)
        sets = [all_updates()] + parse_update_sets([EMPTY])
        evaluation = evaluate_store(store, sets, hosts=["scanned", "nobody"], now=NOW)
        assert evaluation.catalog_version is None
        assert evaluation.hosts["scanned"].usable  # a usable scan, yet nothing to measure it against
        for result in evaluation.sets.values():
            assert result.host_compliance == {"scanned": c.UNKNOWN, "nobody": c.UNKNOWN}
        warnings = evaluation.warnings()
        assert len(warnings) == 1 and "no catalog version" in warnings[0]
        assert "catalog_sync" in warnings[0]
        data = report_data(evaluation)
        assert data["overall"]["summary"] == {c.COMPLIANT: 0, c.NON_COMPLIANT: 0, c.UNKNOWN: 2}
        assert "Warning: the store holds no catalog version" in render_html(data)
        trend = history(store, sets, days=1, now=NOW, hosts=["scanned", "nobody"])
        for points in trend.values():
            assert {k: points[-1][k] for k in c.COMPLIANCE} == {c.COMPLIANT: 0, c.NON_COMPLIANT: 0, c.UNKNOWN: 2}
    finally:
        store.close()
