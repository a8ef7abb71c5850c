"""The report's "deployments and waves" part (``_compliance/report_deployments.py``) from a store holding a
deployment, enforcement states and a wave halted by its pilot ring, on both backends: each host's state
and its reason, failures with the HRESULT's code and name, the wave's rings, halt and times; the HTML
section (escaped, halts highlighted, well-formed SVG), the deployments CSV and the JSON."""

import csv
import datetime
import io
import json
import re

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._compliance import report_csv, report_data, report_html
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.reads import evaluate_store
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.report_deployments import (
    deployments_part,
    host_state,
    rollout_summaries,
    waves_part,
)
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.update_sets import all_updates
from ansible_collections.patchwave.windows.plugins.module_utils._report.rollout import read_rollout
from ansible_collections.patchwave.windows.plugins.module_utils._install.enforcement import (
    waiting_for_window_detail,
    write_enforcement,
)
from ansible_collections.patchwave.windows.plugins.module_utils._prepare.deployments import apply_deployment
from ansible_collections.patchwave.windows.plugins.module_utils._scan.ingest import ingest
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import format_time
from ansible_collections.patchwave.windows.plugins.module_utils._wave import state
from lxml import etree

from tests.compliance_data import add_catalog
from tests.deployment_data import freeze_rows

T0 = datetime.datetime(2026, 12, 9, 8, 0, tzinfo=datetime.timezone.utc)
MINUTE = datetime.timedelta(minutes=1)
EVIL_MSG = "<b>evil</b> & \"msg\""
FORMULA_HOST = "=HYPERLINK(\"x\")"
RINGS = [{"name": "pilot", "hosts": "pilot", "failure_budget": 1},
         {"name": "broad", "hosts": "broad", "serial": "50%", "failure_budget": "10%"}]
GROUPS = {"pilot": ["p1", "p2", "p3", "p4"], "broad": ["b1", "b2", "w1", "r1", "ghost"], "lab": ["x9"]}
REPORT_HOSTS = ["p1", "p2", "p3", "p4", "b1", "b2", "w1", "r1", "ghost", "x9", FORMULA_HOST]


def at(minutes):
    return format_time(T0 + minutes * MINUTE)


@pytest.fixture
def rollout(store_address, tmp_path):
    store = open_store(store_address)
    spool = str(tmp_path / "spool")
    try:
        ids = list(add_catalog(store, 6))[:3]
        kb = store.query("SELECT kb FROM updates WHERE update_id = ?", (ids[1],))[0]["kb"]
        freeze_rows(store, "security", 1, ids, created_at="2026-12-08T07:00:00Z")
        apply_deployment(store, "dec", "present", {"update_list": "security", "version": 1, "targets": ["pilot", "broad"],
                                                   "start": "2026-12-08T18:00:00Z"}, now=T0)

        def enforce(host, minutes, states, outcome):
            for uid, (update_state, hresult, detail) in zip(ids, states):
                write_enforcement(spool, host, "dec", uid, update_state, hresult=hresult, detail=detail, created=at(minutes))
            write_enforcement(spool, host, "dec", None, {"compliant": "compliant", "failed": "failed"}.get(
                outcome, "non_compliant"), detail={"outcome": outcome}, created=at(minutes))

        done = ("installed", None, None)
        enforce("p1", 2, [done] * 3, "compliant")
        enforce("p2", 2, [done, ("failed", -2145124330, {"message": "0x80240016 WU_E_INSTALL_NOT_ALLOWED"}), done],
                "failed")
        enforce("p4", -600, [done] * 3, "compliant")  # installed an earlier month; this time its pre-install hook failed
        window = waiting_for_window_detail(at(700), 60, at(30), at(700))
        enforce("w1", 3, [done, ("waiting_for_window", None, window),
                          ("not_attempted", None, {"reason": "longer_than_every_window", "needs_minutes": 600})],
                "waiting_for_window")
        enforce("r1", 3, [("pending_restart", None, None)] * 3, "installed_pending_restart")
        assert ingest(store, spool)["quarantined"] == 0

        state.start_wave(store, "2026-12", deployment="dec", rings=RINGS,
                         hosts_by_ring={"pilot": GROUPS["pilot"], "broad": ["b1", "b2"]}, now=T0)
        state.record_results(store, "2026-12", "pilot", {
            "p1": {"outcome": "compliant", "reason": None, "msg": None},
            "p3": {"outcome": "failed", "reason": "pre_install_hook", "msg": "the pre-install hook failed: disk full"}},
            now=T0 + 4 * MINUTE)
        state.record_results(store, "2026-12", "pilot", {
            "p2": {"outcome": "failed", "reason": None, "msg": EVIL_MSG},
            "p4": {"outcome": "failed", "reason": "pre_install_hook", "msg": "the pre-install hook failed: disk full"}},
            now=T0 + 5 * MINUTE)
        yield read_rollout(store), kb
    finally:
        store.close()


def test_each_host_state_with_its_reason(rollout):
    data, kb = rollout
    (deployment,) = deployments_part(data, hosts=REPORT_HOSTS, only=True, groups=GROUPS)
    hosts = deployment["hosts"]
    assert sorted(hosts) == sorted(REPORT_HOSTS)
    got = {host: (entry["state"], entry["reason"]) for host, entry in hosts.items()}
    assert got == {
        "p1": ("installed", None), "p2": ("failed", None),
        "p3": ("not_attempted", "pre_install_hook"), "p4": ("not_attempted", "pre_install_hook"),
        "b1": ("not_attempted", "never_reported"), "b2": ("not_attempted", "never_reported"),
        "w1": ("waiting_for_window", None), "r1": ("pending_restart", None),
        "ghost": ("not_attempted", "never_reported"), "x9": ("not_attempted", "not_targeted"),
        FORMULA_HOST: ("not_attempted", "not_targeted")}
    assert deployment["counts"] == {"installed": 1, "pending_restart": 1, "waiting_for_window": 1, "in_progress": 0,
                                    "failed": 1, "not_attempted": 5}
    assert deployment["not_targeted"] == 2  # listed with their reason, left out of the counts
    assert deployment["host_count"] == 11 and deployment["update_count"] == 3
    assert (deployment["update_list"], deployment["list_version"]) == ("security", 1)
    assert deployment["targets"] == ["pilot", "broad"]
    (failure,) = hosts["p2"]["failures"]
    assert failure["hresult"] == {"code": "0x80240016", "name": "WU_E_INSTALL_NOT_ALLOWED"}
    assert failure["kb"] == "KB%s" % kb and failure["state"] == "failed"
    assert hosts["p2"]["wave"]["outcome"] == "failed" and hosts["p2"]["wave"]["ring"] == "pilot"
    waiting = {w["reason"]: w for w in hosts["w1"]["waiting"]}
    assert set(waiting) == {"window", "longer_than_every_window"}
    assert waiting["window"]["would_start"] == at(700) and waiting["window"]["window_ends"] == at(30)
    assert waiting["longer_than_every_window"]["needs_minutes"] == 600
    assert hosts["p4"]["source"] == "wave" and hosts["p4"]["deployment_state"] == "compliant"
    assert hosts["r1"]["updates"] == dict.fromkeys(hosts["r1"]["updates"], "pending_restart")
    assert deployment["update_states"] == {"failed": 1, "installed": 9, "not_attempted": 1, "pending_restart": 3,
                                           "waiting_for_window": 1}


def test_unknown_hosts_are_never_installed_and_groups_unknown_means_never_reported(rollout):
    data, _kb = rollout
    (deployment,) = deployments_part(data, hosts=["stranger"], only=False, groups=None)
    assert deployment["hosts"]["stranger"]["state"] == "not_attempted"
    assert deployment["hosts"]["stranger"]["reason"] == "never_reported"
    assert deployment["hosts"]["stranger"]["targeted"] is None
    # not only: every host that reported or is in the wave is shown too
    assert {"p1", "p2", "p3", "p4", "w1", "r1", "b1", "b2", "stranger"} == set(deployment["hosts"])
    assert deployment["counts"]["installed"] == 1


def test_the_halted_wave_with_its_rings_and_times(rollout):
    data, _kb = rollout
    (wave,) = waves_part(data["waves"])
    assert (wave["name"], wave["state"], wave["deployment"], wave["list_version"]) == ("2026-12", "halted", "dec", 1)
    assert wave["halt_reason"].startswith("ring pilot: 3 host(s) failed, the budget allows 1")
    assert [h["ring"] for h in wave["halts"]] == ["pilot"] and wave["halts"][0]["at"] == at(5)
    assert wave["started_at"] == at(0) and wave["finished_at"] is None and wave["seconds"] == 300
    pilot, broad = wave["rings"]
    assert (pilot["state"], pilot["started_at"], pilot["finished_at"]) == ("halted", at(0), None)
    assert pilot["counts"]["compliant"] == 1 and pilot["counts"]["failed"] == 3 and pilot["host_count"] == 4
    assert (broad["state"], broad["counts"]["not_run"], broad["started_at"]) == ("pending", 2, None)
    assert wave["counts"]["not_run"] == 2 and wave["host_count"] == 6
    deployments, waves = rollout_summaries({"deployments": deployments_part(data, REPORT_HOSTS, True, GROUPS),
                                            "waves": [wave]})
    assert deployments["dec"]["hosts"]["failed"] == 1
    assert [(r["name"], r["state"]) for r in waves[0]["rings"]] == [("pilot", "halted"), ("broad", "pending")]


@pytest.fixture
def rendered(rollout, store_address):
    data, _kb = rollout
    store = open_store(store_address)
    try:
        evaluation = evaluate_store(store, [all_updates()], hosts=REPORT_HOSTS, now=T0)
    finally:
        store.close()
    return report_data.report_data(evaluation, deployments=deployments_part(data, REPORT_HOSTS, True, GROUPS),
                                   waves=waves_part(data["waves"]))


def test_html_section_escapes_highlights_the_halt_and_draws_bars(rendered):
    page = report_html.render_html(rendered)
    section = re.search(r'<section id="rollout">.*?</section>', page, re.S).group(0)
    assert "<b>evil</b>" not in page and "&lt;b&gt;evil&lt;/b&gt;" in section
    assert '<p class="halt"><b>Halted</b> in ring pilot at %s' % at(5) in section
    assert section.count('<tr class="halted">') == 1
    assert "WU_E_INSTALL_NOT_ALLOWED" in section and "0x80240016" in section
    assert "pre-install hook failed" in section and "Not attempted, never reported (3): <span class=\"kbs\">b1, b2, ghost<" in section
    assert "Not targeted, not counted (2): " in section and "x9" in section
    assert "longer than every window" in section
    for svg in re.findall(r"<svg.*?</svg>", section, re.S):
        etree.fromstring(svg)  # well-formed
    # one bar per ring and one per deployment
    assert len(re.findall(r'<svg class="bar"', section)) == 3
    assert "Installed (1): " in section


def test_no_section_without_deployments_and_waves():
    assert report_html.render_rollout({"deployments": [], "waves": []}) == ""


def test_deployments_csv_rows_and_formula_cells(rendered):
    rows = list(csv.DictReader(io.StringIO(report_csv.render_deployments_csv(rendered))))
    assert tuple(rows[0]) == report_csv.DEPLOYMENT_CSV_COLUMNS
    by_host = {row["host"]: row for row in rows}
    assert len(rows) == len(REPORT_HOSTS) and "'" + FORMULA_HOST in by_host
    p2 = by_host["p2"]
    assert (p2["state"], p2["updates_failed"], p2["updates_installed"]) == ("failed", "1", "2")
    assert p2["hresults"] == "0x80240016 WU_E_INSTALL_NOT_ALLOWED"
    assert (p2["wave"], p2["ring"], p2["wave_outcome"], p2["wave_attempts"]) == ("2026-12", "pilot", "failed", "1")
    assert (by_host["p3"]["state"], by_host["p3"]["reason"], by_host["p3"]["wave_reason"]) == (
        "not_attempted", "pre_install_hook", "pre_install_hook")
    assert by_host["x9"]["targeted"] == "false" and by_host["ghost"]["targeted"] == "true"
    assert by_host["w1"]["would_start"] == at(700) and by_host["w1"]["updates_waiting"] == "2"


def test_json_holds_both_parts(rendered):
    data = json.loads(report_data.render_json(rendered))
    assert data["waves"][0]["rings"][0]["state"] == "halted"
    assert data["deployments"][0]["hosts"]["p2"]["failures"][0]["hresult"]["name"] == "WU_E_INSTALL_NOT_ALLOWED"


def entry(state, minutes, detail=None):
    return {"state": state, "time": at(minutes), "detail": detail or {}, "hresult": None}


@pytest.mark.parametrize("own, updates, wave, targeted, expected", [
    # a newer wave result that never reached installation wins over an older report
    (entry("compliant", 0, {"outcome": "compliant"}), {}, {"outcome": "unreachable", "reason": None, "time": at(5)},
     True, ("not_attempted", "unreachable", "wave")),
    # an install reported after the wave's result wins
    (entry("compliant", 9, {"outcome": "compliant"}), {}, {"outcome": "failed", "reason": "pre_install_hook",
                                                           "time": at(5)}, True, ("installed", None, "enforcement")),
    (None, {}, {"outcome": "skipped", "reason": "not_available_yet", "time": at(5)}, True,
     ("not_attempted", "not_available_yet", "wave")),
    (None, {}, {"outcome": "did_not_return", "reason": None, "time": at(5)}, True, ("failed", "did_not_return", "wave")),
    (None, {}, {"outcome": None, "reason": None, "time": at(5)}, True, ("not_attempted", "never_reported", None)),
    (entry("in_progress", 1), {"u": entry("installing", 1)}, None, True, ("in_progress", "in_progress", "enforcement")),
    (None, {"u": entry("download_failed", 1)}, None, None, ("failed", None, "enforcement")),
    (None, {"u": entry("installed", 1), "v": entry("installed", 1)}, None, None, ("installed", None, "enforcement")),
    (None, {}, None, False, ("not_attempted", "not_targeted", None)),
    (None, {}, None, None, ("not_attempted", "never_reported", None)),
])
def test_host_state_order(own, updates, wave, targeted, expected):
    assert host_state(own, updates, wave, targeted) == expected
