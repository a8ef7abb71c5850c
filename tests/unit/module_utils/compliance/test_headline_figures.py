"""Headline figures that mean what they say (issue 10, section 4).

The headline per set is hosts compliant / hosts, an Unknown host counting as a host; the share of
(host, update) pairs stays, named as pairs; per host the figure is its Required updates (a count);
the trend starts at the first scan the store holds; compliance_info, the report and the demo's
printout give the same figures for the same store and hosts.
"""

import csv
import datetime
import io
import re

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.history import history
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.reads import evaluate_store
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.report_csv import CSV_COLUMNS, render_csv
from ansible_collections.patchwave.windows.plugins.module_utils._compliance import report_data as figures
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.report_data import report_data
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.report_html import render_html
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.update_sets import (
    all_updates,
    parse_update_sets,
)
from ansible_collections.patchwave.windows.plugins.module_utils._scan.ingest import ingest
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_collections.patchwave.windows.plugins.modules import compliance_info

from tests.compliance_data import NOW, Fleet, add_catalog
from tests.demo import run_demo

HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)
UPDATES = 200
# good: everything installed; behind: 20 of 200 updates missing; nobody: never scanned.
HOSTS = ["good", "behind", "patched", "nobody"]
SETS = [{"name": "first_ten", "kbs": [str(5000000 + n) for n in range(10)]}]


@pytest.fixture
def fleet(store_address, tmp_path):
    """Three scanned hosts (the first scan three days before NOW) and one the store never saw."""
    store = open_store(store_address)
    catalog = add_catalog(store, UPDATES, versions=1, seed=21)
    ids = list(catalog)
    spool = str(tmp_path / "spool")
    fleet = Fleet(catalog, seed=22)
    everything = {uid: (True, False, False) for uid in ids}
    fleet.add_scan(spool, "good", NOW - 3 * DAY, 1, results=everything)
    fleet.add_scan(spool, "patched", NOW - 2 * DAY, 1, results=everything)
    behind = dict(everything)
    behind.update({uid: (False, False, False) for uid in ids[:20]})  # the first 20 updates missing
    fleet.add_scan(spool, "behind", NOW - HOUR, 1, results=behind)
    ingest(store, spool)
    yield store
    store.close()


def evaluate(store):
    sets = [all_updates()] + parse_update_sets(SETS)
    evaluation = evaluate_store(store, sets, hosts=HOSTS, now=NOW)
    return sets, evaluation


def test_the_headline_is_hosts_compliant_over_hosts(fleet):
    sets, evaluation = evaluate(fleet)
    data = report_data(evaluation, history(fleet, sets, days=30, now=NOW, hosts=HOSTS))
    everything = data["sets"]["all"]
    assert everything["summary"] == {"compliant": 2, "non_compliant": 1, "unknown": 1}
    # two of four hosts: the never-scanned host counts as a host, not as compliant
    assert everything["percent_hosts_compliant"] == 50.0
    # the pairs stay, named as pairs: 3 scanned hosts x 200 updates + 200 Unknown pairs, 20 Required
    assert everything["percent_pairs_compliant"] == round(100.0 * (4 * UPDATES - 20 - UPDATES) / (4 * UPDATES), 1)
    assert "percent_compliant" not in everything
    assert data["sets"]["first_ten"]["percent_hosts_compliant"] == 50.0
    assert data["overall"]["percent_hosts_compliant"] == 50.0
    # overall, the pairs are summed over the sets: all (580 of 800) and first_ten (20 of 40)
    assert data["overall"]["percent_pairs_compliant"] == round(100.0 * 600 / 840, 1)


@pytest.mark.parametrize("summary, expected", [
    ({"compliant": 1, "non_compliant": 1, "unknown": 1}, 33.3),
    ({"compliant": 0, "non_compliant": 0, "unknown": 5}, 0.0),
    ({"compliant": 7, "non_compliant": 0, "unknown": 0}, 100.0),
    ({"compliant": 0, "non_compliant": 0, "unknown": 0}, None),
])
def test_percent_hosts_compliant(summary, expected):
    assert figures.percent_hosts_compliant(summary) == expected


def test_the_page_leads_with_hosts_compliant_and_names_the_pairs(fleet):
    sets, evaluation = evaluate(fleet)
    page = render_html(report_data(evaluation, history(fleet, sets, days=30, now=NOW, hosts=HOSTS)))
    cards = re.findall(r'<div class="card[^"]*"><b>([^<]*)</b>([^<]*)</div>', page)
    assert cards[0] == ("50.0%", "Hosts compliant"), cards
    labels = [label for _value, label in cards]
    assert "Pairs compliant" not in labels  # a share of pairs is never shown without saying so
    pairs = [value for value, label in cards if "pairs" in label]
    assert pairs == ["%s%%" % report_data(evaluation)["overall"]["percent_pairs_compliant"]]
    # each set's section leads with its hosts figure
    assert page.count("of hosts compliant (2 of 4)") == 2
    # the sets table shows hosts compliant before the pairs
    head = re.search(r"<tr><th>Update set</th>(.*?)</tr>", page).group(1)
    assert head.index("Hosts compliant") < head.index("Pairs compliant")


def test_per_host_the_figure_is_required_updates_not_a_percentage(fleet):
    _sets, evaluation = evaluate(fleet)
    rows = list(csv.DictReader(io.StringIO(render_csv(report_data(evaluation)))))
    assert "percent_compliant" not in CSV_COLUMNS and "required_updates" in CSV_COLUMNS
    behind = next(row for row in rows if row["host"] == "behind" and row["set"] == "all")
    assert behind["compliance"] == "non_compliant"
    assert behind["required_updates"] == "20"
    for row in rows:
        for cell in row.values():
            assert not re.fullmatch(r"\d+\.\d", cell or ""), row  # no percentage per host


def test_the_trend_starts_at_the_first_scan_the_store_holds(fleet):
    sets, _evaluation = evaluate(fleet)
    series = history(fleet, sets, days=30, now=NOW, hosts=HOSTS)["all"]
    first_day = (NOW - 3 * DAY).date()
    assert [point["date"] for point in series] == [(first_day + n * DAY).isoformat() for n in range(4)]
    assert series[0] == {"date": first_day.isoformat(), "compliant": 1, "non_compliant": 0, "unknown": 3}
    assert series[-1] == {"date": NOW.date().isoformat(), "compliant": 2, "non_compliant": 1, "unknown": 1}


def test_a_store_without_scans_has_no_trend(store_address):
    store = open_store(store_address)
    try:
        add_catalog(store, 5, versions=1, seed=1)
        assert history(store, [all_updates()], days=30, now=NOW, hosts=HOSTS) == {"all": []}
    finally:
        store.close()


def test_compliance_info_the_report_and_the_demo_give_the_same_figures(fleet):
    sets, evaluation = evaluate(fleet)
    data = report_data(evaluation)
    info = {name: compliance_info.set_report(result, list(evaluation.hosts), per_update=False, top=0)
            for name, result in evaluation.sets.items()}
    from_info = run_demo.info_figures(info)
    from_report = run_demo.report_figures(data)
    assert from_info == from_report
    assert from_info["all"]["percent_hosts_compliant"] == 50.0
    lines = run_demo.figure_lines(from_info)
    assert lines == run_demo.figure_lines(from_report)
    assert lines[0].startswith("set all")
    assert "50.0% of hosts compliant (2 of 4; non-compliant 1, unknown 1)" in lines[0]
    assert "pairs: %.1f%%" % data["sets"]["all"]["percent_pairs_compliant"] in lines[0]
    # the module's overall summary is the report's too
    assert compliance_info.set_report(evaluation.sets["all"], ["good", "behind"], False, 0)[
        "percent_hosts_compliant"] == 50.0
