"""The compliance report's rendering (``_compliance_report``): everything from the store is escaped,
CSV cells cannot become formulas, the SVG charts are well-formed XML, the page references nothing
outside itself, and unchanged content is recognised without its generation time."""

import csv
import datetime
import html.parser
import io
import json
import os
import re
import stat

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._compliance import (
    report_csv,
    report_data,
    report_files,
    report_html,
)
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.history import history
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.reads import evaluate_store
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.update_sets import (
    all_updates,
    parse_update_sets,
)
from ansible_collections.patchwave.windows.plugins.module_utils._scan.ingest import ingest
from ansible_collections.patchwave.windows.plugins.module_utils._scan.spool import write_message
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from lxml import etree

from tests.compliance_data import NOW, Fleet, add_catalog, iso, scan_body

EVIL_TITLE = "<script>alert(1)</script> & \"quoted\" 'single'"
EVIL_HOST = "<img src=x onerror=alert(2)>"
FORMULA_HOST = "=HYPERLINK(\"http://evil\")"
EVIL_ERROR = "<b>boom</b> -> @SUM(A1)"
EVIL_SET_TITLE = "Report <i>of</i> \"everything\""


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    store = open_store(str(folder / "store.db"))
    catalog = add_catalog(store, 80, versions=3, seed=3)
    fleet = Fleet(catalog, seed=4)
    hosts = fleet.generate(store, str(folder / "spool"), 40)[0]
    ids = list(catalog)
    # Text from the store that must never reach the page as markup or a spreadsheet as a formula.
    with store.transaction() as cursor:
        cursor.execute("UPDATE updates SET title = ? WHERE update_id = ?", (EVIL_TITLE, ids[1]))
        cursor.execute("UPDATE updates SET kb = ? WHERE update_id = ?", ("-1+1", ids[2]))
        cursor.execute("UPDATE scans SET error = ? WHERE succeeded = 0", (EVIL_ERROR,))
    failed = store.query("SELECT count(*) AS n FROM scans WHERE succeeded = 0")[0]["n"]
    assert failed, "the fleet should hold failed scans"
    sets = [all_updates()] + parse_update_sets([{"name": "critical", "severities": ["Critical"]},
                                                {"name": "pinned", "update_ids": ids[1:3]}])
    names = hosts + [EVIL_HOST, FORMULA_HOST]
    evaluation = evaluate_store(store, sets, hosts=names, now=NOW)
    histories = history(store, sets, days=14, now=NOW, hosts=names)
    store.close()
    # Some host requires the update with the evil title, so the page lists it.
    pinned = evaluation.sets["pinned"]
    assert any(uid == ids[1] for rows in pinned.host_required.values() for uid, detail in rows if detail)
    return report_data.report_data(evaluation, histories, title=EVIL_SET_TITLE, top=10)


@pytest.fixture(scope="module")
def page(data):
    return report_html.render_html(data)


class _Collector(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []
        self.attributes = []
        self.text = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.extend((tag, name, value) for name, value in attrs)

    def handle_data(self, data):
        self.text.append(data)


def test_text_from_the_store_is_escaped(page):
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "<img" not in page.lower()
    assert "&lt;b&gt;boom&lt;/b&gt;" in page and "<b>boom" not in page
    assert "Report &lt;i&gt;of&lt;/i&gt; &quot;everything&quot;" in page
    parser = _Collector()
    parser.feed(page)
    assert "script" not in parser.tags and "img" not in parser.tags and "i" not in parser.tags
    text = "".join(parser.text)
    assert EVIL_TITLE.split(" &", maxsplit=1)[0] in text  # the reader sees the text itself
    assert EVIL_HOST in text


def test_the_page_references_nothing_outside_itself(page):
    parser = _Collector()
    parser.feed(page)
    assert not [a for a in parser.attributes if a[1] in ("src", "href", "xlink:href", "srcset", "action", "data")]
    assert not {"script", "link", "img", "iframe", "object", "embed", "image", "use", "form"} & set(parser.tags)
    # The hosts named to test escaping hold such text; as escaped text it is harmless.
    lowered = page.replace(report_html.esc(EVIL_HOST), "").replace(report_html.esc(FORMULA_HOST), "").lower()
    for needle in ("url(", "@import", "@font-face", "http://", "https://", "javascript:", " src=", " href="):
        assert needle not in lowered, needle
    assert not re.search(r"<[^>]+\son\w+=", page), "no event handler attributes"


def test_every_svg_is_well_formed_xml(page):
    svgs = re.findall(r"<svg\b.*?</svg>", page, re.S)
    # overview (2) + per set (2 bars + trend) x 3 + freshness (2)
    assert len(svgs) == 2 + 3 * 3 + 2
    for svg in svgs:
        root = etree.fromstring(svg.encode("utf-8"))
        assert root.tag == "svg"
        assert root.get("width") and root.get("height") and root.get("viewBox")
        assert len(root) > 0
    assert any(b"polygon" in svg.encode() for svg in svgs), "the trend is drawn as areas"


def test_the_whole_page_parses_as_html(page):
    from lxml import html as lxml_html
    document = lxml_html.document_fromstring(page)
    assert document.find(".//title").text == EVIL_SET_TITLE
    assert len(document.findall(".//section")) == 1 + 3 + 2
    hosts_table = document.get_element_by_id("hosts").find(".//table")
    assert len(hosts_table.findall(".//tr")) == 1 + 42


def test_csv_has_a_row_per_host_and_set_and_no_formulas(data):
    text = report_csv.render_csv(data)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(report_csv.CSV_COLUMNS)
    assert len(rows) == 1 + 42 * 3
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@")), row
    by_host = {(row[0], row[1]): dict(zip(rows[0], row)) for row in rows[1:]}
    assert ("'" + FORMULA_HOST, "all") in by_host
    assert (EVIL_HOST, "all") in by_host
    assert by_host[(EVIL_HOST, "all")]["status"] == "never_scanned"
    named = [dict(zip(rows[0], row)) for row in rows[1:]]
    errors = [row["error"] for row in named if row["status"] == "scan_failed"]
    assert errors and set(errors) == {EVIL_ERROR}  # starts with "<": nothing for a spreadsheet to run
    pinned_kbs = " ".join(row["required_kbs"] for row in named if row["set"] == "pinned")
    assert "KB-1+1" in pinned_kbs  # inside a cell, not at its start: left as is
    for (host, set_name), row in by_host.items():
        name = host[1:] if host.startswith("'=") else host
        assert int(row["required_updates"]) == data["sets"][set_name]["host_counts"][name]["required"]
        assert row["compliance"] == data["sets"][set_name]["host_compliance"][name]


@pytest.mark.parametrize("value, expected", [
    ("=1+2", "'=1+2"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
    ("\r=x", "'\r=x"), ("KB5000001", "KB5000001"), ("a=b", "a=b"), ("", ""), (None, ""), (-3, -3), (2.5, 2.5),
    (True, "true"),
])
def test_csv_cell(value, expected):
    assert report_csv.csv_cell(value) == expected


def test_json_is_the_evaluation_as_plain_data(data):
    value = json.loads(report_data.render_json(data))
    assert value["catalog_version"] == 3
    assert set(value["sets"]) == {"all", "critical", "pinned"}
    assert sum(value["overall"]["summary"].values()) == value["host_count"] == 42
    assert sum(value["host_statuses"].values()) == 42
    assert sum(value["scan_ages"].values()) == 42
    for result in value["sets"].values():
        assert sum(result["summary"].values()) == 42
        assert len(result["history"]) == 14
        required = [u["counts"]["required"] for u in result["top_required"]]
        assert required == sorted(required, reverse=True) and all(required)
    assert value["hosts"][EVIL_HOST]["status"] == "never_scanned"


def test_overall_is_the_worst_of_the_sets(data):
    for host, state in data["overall"]["host_compliance"].items():
        states = {s["host_compliance"][host] for s in data["sets"].values()}
        if "non_compliant" in states:
            assert state == "non_compliant"
        elif "unknown" in states:
            assert state == "unknown"
        else:
            assert state == "compliant"


def test_svg_helpers_handle_empty_and_single_points():
    for svg in (report_html.svg_stacked_bar([("required", "Required", 0)]), report_html.svg_trend([]),
                report_html.svg_trend([{"date": "2026-11-23", "compliant": 1, "non_compliant": 0, "unknown": 0}]),
                report_html.svg_columns([]), report_html.svg_columns([("<a>", 3)])):
        etree.fromstring(svg.encode("utf-8"))


def test_the_generation_time_is_left_out_of_the_comparison(data):
    page = report_html.render_html(data)
    later = report_html.render_html(dict(data, generated="2030-01-01T00:00:00Z"))
    assert page != later
    assert report_files.comparable("html", page) == report_files.comparable("html", later)
    other = report_html.render_html(dict(data, catalog_version=99))
    assert report_files.comparable("html", page) != report_files.comparable("html", other)
    text = report_data.render_json(data)
    assert report_files.comparable("json", text) == report_files.comparable("json", report_data.render_json(dict(data, generated="x")))
    assert report_files.comparable("json", text) != report_files.comparable("json", report_data.render_json(dict(data, host_count=1)))
    assert report_files.comparable("csv", "a") != report_files.comparable("csv", "b")
    assert report_files.comparable("html", None) is None


def test_atomic_write_and_plan(tmp_path):
    path = str(tmp_path / "compliance.csv")
    plan = report_files.plan_files({"csv": path}, {"csv": "a,b\n"})
    assert plan["csv"] == (path, None, True)
    report_files.write_atomic(path, "a,b\n")
    assert open(path).read() == "a,b\n"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    os.chmod(path, 0o600)
    assert report_files.plan_files({"csv": path}, {"csv": "a,b\n"})["csv"][2] is False
    report_files.write_atomic(path, "c\n")
    assert open(path).read() == "c\n"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, "a replaced file keeps its permissions"
    assert os.listdir(str(tmp_path)) == ["compliance.csv"], "no temporary file is left behind"


def test_top_required_counts_only_the_hosts_of_the_report(tmp_path):
    store = open_store(str(tmp_path / "store.db"))
    catalog = add_catalog(store, 40, versions=3, seed=5)
    hosts = Fleet(catalog, seed=6).generate(store, str(tmp_path / "spool"), 30)[0]
    subset = hosts[:8]
    evaluation = evaluate_store(store, [all_updates()], hosts=subset, now=NOW)
    store.close()
    data = report_data.report_data(evaluation, {}, top=100)
    result = evaluation.sets["all"]
    for item in data["sets"]["all"]["top_required"]:
        requiring = [h for h, rows in result.host_required.items() if item["update_id"] in {row[0] for row in rows}]
        assert item["counts"]["required"] == len(requiring) <= len(subset)
        others = [item["counts"][k] for k in ("installed", "not_required", "unknown")]
        assert min(others) >= 0 and sum(others) + len(requiring) == len(subset)
    for counts in data["sets"]["all"]["update_counts"].values():
        assert min(counts.values()) >= 0 and sum(counts.values()) == len(subset)


def test_scan_ages_count_from_when_the_controller_received_the_scan(tmp_path):
    store = open_store(str(tmp_path / "store.db"))
    catalog = add_catalog(store, 5)
    spool = str(tmp_path / "spool")
    received = NOW - datetime.timedelta(hours=2)
    # the host's clock is ten days slow: its scan says it finished ten days before it arrived
    body = scan_body({}, iso(received - datetime.timedelta(days=10)), catalog)
    write_message(spool, "slow-clock", "scan", body, catalog_version=3, created=iso(received))
    ingest(store, spool)
    evaluation = evaluate_store(store, [all_updates()], now=NOW)
    store.close()
    data = report_data.report_data(evaluation, {}, title="t", top=5)
    assert data["scan_ages"]["< 1 day"] == 1
    assert data["scan_ages"]["7-30 days"] == 0
