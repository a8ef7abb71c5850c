"""The patch wave's state in the store (plugins/module_utils/_wave/state.py) on both backends: start,
resume, record with the failure budget, halt, finish, a finished wave left alone, new waves, check
mode, and migration 10 from a schema-9 store."""

import datetime

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._prepare.deployments import apply_deployment
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_collections.patchwave.windows.plugins.module_utils._store.schema import SCHEMA_VERSION
from ansible_collections.patchwave.windows.plugins.module_utils._wave import state
from ansible_collections.patchwave.windows.plugins.module_utils._wave.rules import WaveError

from tests.compliance_data import WAVE_TABLES, add_catalog, undo_migration_10
from tests.deployment_data import freeze_rows

T0 = datetime.datetime(2026, 12, 9, 8, 0, tzinfo=datetime.timezone.utc)
MINUTE = datetime.timedelta(minutes=1)

RINGS = [{"name": "pilot", "hosts": "pilot", "failure_budget": 0},
         {"name": "broad", "hosts": "broad", "serial": "25%", "failure_budget": "10%", "wait_after": 60}]
HOSTS = {"pilot": ["p1", "p2"], "broad": ["b%02d" % n for n in range(1, 11)]}


def deploy(store, name, version, list_name="security"):
    apply_deployment(store, name, "present", {"update_list": list_name, "version": version, "targets": ["pilot"],
                                              "start": "2026-12-08T18:00:00Z"}, now=T0)


@pytest.fixture
def store(store_address):
    opened = open_store(store_address)
    ids = list(add_catalog(opened, 6))
    freeze_rows(opened, "security", 1, ids[:3], created_at="2026-11-10T09:00:00Z")
    freeze_rows(opened, "security", 2, ids[:5], created_at="2026-12-09T07:00:00Z")
    deploy(opened, "dec", 2)
    deploy(opened, "dec-broad", 2)
    deploy(opened, "nov", 1)
    try:
        yield opened
    finally:
        opened.close()


def start(store, name="2026-12", **given):
    params = {"deployment": "dec", "rings": RINGS, "hosts_by_ring": HOSTS, "now": T0}
    params.update(given)
    return state.start_wave(store, name, **params)


def outcomes(**by_host):
    return {host: {"outcome": outcome, "reason": None if outcome == "compliant" else "because",
                   "msg": "%s: %s" % (host, outcome)} for host, outcome in by_host.items()}


def kinds(wave):
    return [e["kind"] for e in wave["events"]]


def test_start_creates_the_wave_with_its_list_version_and_rings(store):
    wave = start(store)
    assert wave["changed"] is True and wave["event"] == "started" and wave["warnings"] == []
    assert (wave["name"], wave["deployment"], wave["update_list"], wave["list_version"]) == ("2026-12", "dec", "security", 2)
    assert (wave["state"], wave["ring_index"], wave["next_ring"], wave["halt_reason"]) == ("running", 0, "pilot", None)
    assert (wave["started_at"], wave["updated_at"], wave["finished_at"]) == ("2026-12-09T08:00:00Z",) * 2 + (None,)
    assert [(r["name"], r["state"], r["serial"], r["failure_budget"], r["wait_after"]) for r in wave["rings"]] == [
        ("pilot", "running", "100%", 0, 0), ("broad", "pending", "25%", "10%", 60)]
    assert wave["rings"][0]["hosts"] == "pilot"
    assert wave["rings"][0]["host_results"] == [
        {"host": h, "outcome": None, "reason": None, "msg": None, "attempts": 0, "updated_at": "2026-12-09T08:00:00Z"}
        for h in ("p1", "p2")]
    assert wave["rings"][1]["counts"]["not_run"] == 10 and wave["rings"][1]["counts"]["failed"] == 0
    assert wave["pending"] == HOSTS and wave["hosts_added"] == HOSTS
    assert kinds(wave) == ["started", "ring_started"]
    assert wave["events"][0]["detail"] == {"deployment": "dec", "update_list": "security", "list_version": 2,
                                           "rings": ["pilot", "broad"]}
    assert state.read_wave(store, "2026-12") == {k: v for k, v in wave.items() if k not in (
        "changed", "pending", "event", "hosts_added", "warnings")}


def test_the_default_name_is_the_list_versions_month(store):
    assert start(store, name=None)["name"] == "2026-12"
    assert start(store, name=None, deployment="nov")["name"] == "2026-11"
    assert [w["name"] for w in state.list_waves(store)] == ["2026-12", "2026-11"]  # same start: by name, descending


@pytest.mark.parametrize("given, message", [
    ({"deployment": None}, "wave '2026-12': deployment is required to start it"),
    ({"deployment": "jan"}, "wave '2026-12': deployment 'jan' does not exist (the store has 'dec', 'dec-broad', 'nov')"),
    ({"rings": None}, "wave '2026-12': rings is required to start it"),
    ({"rings": [{"name": "pilot"}]}, "wave '2026-12': ring 'pilot': hosts is required"),
    ({"rings": [dict(RINGS[0], deployment="nov")]}, "wave '2026-12': ring 'pilot': deployment: deployment 'nov' deploys "
                                                    "update list 'security' version 1, but the wave installs 'security' "
                                                    "version 2 in every ring"),
    ({"rings": [dict(RINGS[0], deployment="gone")]}, "wave '2026-12': ring 'pilot': deployment: deployment 'gone' does "
                                                     "not exist"),
    ({"hosts_by_ring": {"canary": ["x"]}}, "wave '2026-12': hosts_by_ring: 'canary' not among the wave's rings "
                                           "(pilot, broad)"),
    ({"hosts_by_ring": {"pilot": "p1"}}, "wave '2026-12': hosts_by_ring: ring 'pilot': 'p1' is not a list of host names"),
])
def test_a_bad_start_names_the_cause_and_writes_nothing(store, given, message):
    with pytest.raises(WaveError) as caught:
        start(store, **given)
    assert message in str(caught.value)
    assert state.list_waves(store) == []


def test_a_ring_may_name_its_own_deployment_of_the_same_list_version(store):
    wave = start(store, rings=[RINGS[0], dict(RINGS[1], deployment="dec-broad")])
    assert [r["deployment"] for r in wave["rings"]] == [None, "dec-broad"]


def test_a_host_in_two_rings_belongs_to_the_first_and_keeps_its_row(store):
    wave = start(store, hosts_by_ring={"broad": ["b01", "p1"], "pilot": ["p1"]})
    assert [h["host"] for h in wave["rings"][0]["host_results"]] == ["p1"]
    assert [h["host"] for h in wave["rings"][1]["host_results"]] == ["b01"]
    again = start(store, hosts_by_ring={"broad": ["b01", "b02"], "pilot": ["b01"]})
    assert again["hosts_added"] == {"broad": ["b02"]} and again["changed"] is True and again["event"] is None
    assert [h["host"] for h in again["rings"][1]["host_results"]] == ["b01", "b02"]


def test_a_second_start_of_a_running_wave_changes_nothing(store):
    start(store)
    again = start(store, now=T0 + MINUTE)
    assert again["changed"] is False and again["event"] is None and again["warnings"] == []
    assert again["updated_at"] == "2026-12-09T08:00:00Z" and kinds(again) == ["started", "ring_started"]


def test_resume_keeps_the_stored_deployment_and_rings_and_warns(store):
    start(store)
    again = start(store, deployment="nov", rings=[{"name": "all", "hosts": "windows"}], now=T0 + MINUTE)
    assert again["changed"] is False and again["list_version"] == 2 and again["deployment"] == "dec"
    assert [r["name"] for r in again["rings"]] == ["pilot", "broad"]
    assert len(again["warnings"]) == 2
    assert "deployment 'nov' is not the wave's ('dec'); the wave keeps its deployment and update list 'security' " \
           "version 2" in again["warnings"][0]
    assert "the rings given differ from those it started with; it keeps its own (pilot, broad)" in again["warnings"][1]


def test_a_deployment_rewritten_mid_wave_is_a_warning_never_a_change(store):
    start(store)
    deploy(store, "dec", 1)
    again = start(store, now=T0 + MINUTE)
    assert again["list_version"] == 2 and again["changed"] is False
    assert again["warnings"] == ["wave '2026-12': deployment 'dec' of the wave now deploys update list 'security' "
                                 "version 1; the wave keeps update list 'security' version 2"]


def test_record_counts_attempts_and_keeps_within_the_budget(store):
    start(store)
    result = state.record_results(store, "2026-12", "pilot", outcomes(p1="compliant"), now=T0 + MINUTE)
    assert result["changed"] is True and result["halted"] is False and result["halt_reason"] is None
    assert (result["failures"], result["allowed"], result["failed_hosts"]) == (0, 0, [])
    assert result["summary"]["compliant"] == 1 and result["summary"]["not_run"] == 1
    state.record_results(store, "2026-12", "pilot", outcomes(p2="installed_pending_restart"), now=T0 + 2 * MINUTE)
    state.record_results(store, "2026-12", "pilot", outcomes(p2="compliant"), now=T0 + 3 * MINUTE)
    wave = state.read_wave(store, "2026-12")
    assert [(h["host"], h["outcome"], h["attempts"]) for h in wave["rings"][0]["host_results"]] == [
        ("p1", "compliant", 1), ("p2", "compliant", 2)]
    assert wave["rings"][0]["host_results"][1]["updated_at"] == "2026-12-09T08:03:00Z"
    assert kinds(wave) == ["started", "ring_started", "recorded", "recorded", "recorded"]
    assert wave["events"][2]["detail"] == {"hosts": {"p1": "compliant"}} and wave["events"][2]["ring"] == "pilot"


def test_a_zero_budget_halts_on_the_first_failure(store):
    start(store)
    result = state.record_results(store, "2026-12", "pilot", outcomes(p1="compliant", p2="update_loop"), now=T0 + MINUTE)
    assert result["halted"] is True and (result["failures"], result["allowed"]) == (1, 0)
    assert result["failed_hosts"] == [{"host": "p2", "outcome": "update_loop", "msg": "p2: update_loop"}]
    assert result["halt_reason"] == "ring pilot: 1 host(s) failed, the budget allows 0: p2 (update_loop: p2: update_loop)"
    wave = result["wave"]
    assert (wave["state"], wave["halt_reason"]) == ("halted", result["halt_reason"])
    assert [r["state"] for r in wave["rings"]] == ["halted", "pending"]
    assert wave["halts"] == [{"at": "2026-12-09T08:01:00Z", "ring": "pilot", "reason": result["halt_reason"]}]
    assert state.read_wave(store, "2026-12") == wave


def finish_pilot(store):
    state.record_results(store, "2026-12", "pilot", outcomes(p1="compliant", p2="compliant"), now=T0 + MINUTE)
    return state.finish_ring(store, "2026-12", "pilot", now=T0 + 2 * MINUTE)


def test_a_budget_of_two_hosts_and_of_ten_percent(store):
    start(store, rings=[dict(RINGS[0], failure_budget=2), RINGS[1]])
    result = state.record_results(store, "2026-12", "pilot", outcomes(p1="failed", p2="unreachable"), now=T0 + MINUTE)
    assert result["halted"] is False and (result["failures"], result["allowed"]) == (2, 2)
    state.finish_ring(store, "2026-12", "pilot", now=T0 + 2 * MINUTE)
    # broad: 10 hosts, 10% allows one
    first = state.record_results(store, "2026-12", "broad", outcomes(b01="failed", b02="compliant", b03="waiting_for_window"),
                                 now=T0 + 3 * MINUTE)
    assert first["halted"] is False and (first["failures"], first["allowed"]) == (1, 1)
    second = state.record_results(store, "2026-12", "broad", outcomes(b04="did_not_return"), now=T0 + 4 * MINUTE)
    assert second["halted"] is True and (second["failures"], second["allowed"]) == (2, 1)
    assert second["halt_reason"] == ("ring broad: 2 host(s) failed, the budget allows 1: b01 (failed: b01: failed), "
                                     "b04 (did_not_return: b04: did_not_return)")
    assert second["summary"]["failed"] == 1 and second["summary"]["not_run"] == 6


def test_recording_after_a_halt_is_refused(store):
    start(store)
    state.record_results(store, "2026-12", "pilot", outcomes(p1="failed"), now=T0 + MINUTE)
    with pytest.raises(WaveError, match="wave '2026-12' is halted: ring pilot: 1 host\\(s\\) failed, the budget allows "
                                        "0: p1 \\(failed: p1: failed\\); run the playbook again to resume it"):
        state.record_results(store, "2026-12", "pilot", outcomes(p2="compliant"), now=T0 + 2 * MINUTE)
    with pytest.raises(WaveError, match="is halted"):
        state.finish_ring(store, "2026-12", "pilot")
    assert state.read_wave(store, "2026-12")["rings"][0]["counts"]["not_run"] == 1


@pytest.mark.parametrize("ring, results, message", [
    ("canary", {}, "wave '2026-12': ring 'canary' is not one of the wave's rings (pilot, broad)"),
    ("broad", outcomes(b01="compliant"), "wave '2026-12': ring 'broad' is not the ring in progress ('pilot')"),
    ("pilot", outcomes(b01="compliant"), "wave '2026-12': host 'b01' belongs to ring 'broad', not 'pilot'"),
    ("pilot", {"p1": {"outcome": "fine"}}, "wave '2026-12': ring 'pilot': results: host 'p1': outcome 'fine' is not one "
                                           "of compliant"),
    ("pilot", {"p1": "compliant"}, "wave '2026-12': ring 'pilot': results: host 'p1': 'compliant' is not a dict"),
])
def test_bad_records_are_refused(store, ring, results, message):
    start(store)
    with pytest.raises(WaveError) as caught:
        state.record_results(store, "2026-12", ring, results)
    assert message in str(caught.value)
    assert kinds(state.read_wave(store, "2026-12")) == ["started", "ring_started"]


def test_an_unknown_wave_is_named(store):
    start(store)
    with pytest.raises(WaveError, match="wave '2027-01' does not exist \\(the store has '2026-12'\\)"):
        state.record_results(store, "2027-01", "pilot", {})


def test_a_host_not_given_at_start_is_added_to_the_ring_it_is_recorded_in(store):
    start(store)
    state.record_results(store, "2026-12", "pilot", outcomes(p3="compliant"), now=T0 + MINUTE)
    assert [(h["host"], h["attempts"]) for h in state.read_wave(store, "2026-12")["rings"][0]["host_results"]] == [
        ("p1", 0), ("p2", 0), ("p3", 1)]


def test_resume_after_a_halt_retries_the_failed_and_skips_the_compliant(store):
    start(store)
    halted = state.record_results(store, "2026-12", "pilot", outcomes(p1="compliant", p2="failed"), now=T0 + MINUTE)
    resumed = start(store, now=T0 + 10 * MINUTE)
    assert resumed["changed"] is True and resumed["event"] == "resumed"
    assert (resumed["state"], resumed["halt_reason"], resumed["next_ring"]) == ("running", None, "pilot")
    assert resumed["pending"] == {"pilot": ["p2"], "broad": HOSTS["broad"]}
    assert resumed["events"][-1]["detail"] == {"halt_reason": halted["halt_reason"], "retried": [
        {"host": "p2", "outcome": "failed", "msg": "p2: failed"}]}
    assert resumed["halts"] == [{"at": "2026-12-09T08:01:00Z", "ring": "pilot", "reason": halted["halt_reason"]}]
    p2 = resumed["rings"][0]["host_results"][1]
    assert (p2["outcome"], p2["attempts"]) == (None, 1)
    # the retried host now passes: the budget is counted afresh
    result = state.record_results(store, "2026-12", "pilot", outcomes(p2="compliant"), now=T0 + 11 * MINUTE)
    assert result["halted"] is False and result["wave"]["rings"][0]["counts"]["compliant"] == 2


def test_halt_by_a_gate_then_resume(store):
    start(store)
    finish_pilot(store)
    halted = state.halt_wave(store, "2026-12", "health gate https://app/health answered 503", ring="pilot",
                             now=T0 + 3 * MINUTE)
    assert halted["changed"] is True and halted["halted"] is True
    assert halted["wave"]["state"] == "halted" and halted["wave"]["halts"][-1]["ring"] == "pilot"
    assert halted["wave"]["events"][-1]["detail"] == {
        "reason": "health gate https://app/health answered 503", "cause": "halt"}
    again = state.halt_wave(store, "2026-12", "health gate https://app/health answered 503", now=T0 + 4 * MINUTE)
    assert again["changed"] is False and len(again["wave"]["halts"]) == 1
    with pytest.raises(WaveError, match="ring 'canary' is not one of the wave's rings"):
        state.halt_wave(store, "2026-12", "x", ring="canary")
    with pytest.raises(WaveError, match="halt: reason is required"):
        state.halt_wave(store, "2026-12", " ")
    resumed = start(store, now=T0 + 5 * MINUTE)
    assert (resumed["event"], resumed["state"], resumed["next_ring"]) == ("resumed", "running", "broad")


def test_finish_rings_then_the_wave(store):
    start(store)
    wave = finish_pilot(store)
    assert wave["changed"] is True and (wave["ring_index"], wave["next_ring"], wave["state"]) == (1, "broad", "running")
    assert [r["state"] for r in wave["rings"]] == ["done", "running"]
    assert state.finish_ring(store, "2026-12", "pilot", now=T0 + 3 * MINUTE)["changed"] is False  # finished already
    state.record_results(store, "2026-12", "broad", outcomes(**{h: "compliant" for h in HOSTS["broad"]}),
                         now=T0 + 4 * MINUTE)
    done = state.finish_ring(store, "2026-12", "broad", now=T0 + 5 * MINUTE)
    assert (done["state"], done["ring_index"], done["next_ring"], done["finished_at"]) == (
        "finished", 2, None, "2026-12-09T08:05:00Z")
    assert [r["state"] for r in done["rings"]] == ["done", "done"]
    assert kinds(done) == ["started", "ring_started", "recorded", "ring_finished", "ring_started", "recorded",
                           "ring_finished", "finished"]
    assert done["events"][-1]["detail"]["counts"]["compliant"] == 12
    with pytest.raises(WaveError, match="wave '2026-12' is finished: nothing more is recorded"):
        state.record_results(store, "2026-12", "broad", outcomes(b01="compliant"))
    with pytest.raises(WaveError, match="wave '2026-12' is finished: it cannot halt"):
        state.halt_wave(store, "2026-12", "late")


def test_a_ring_cannot_finish_before_the_ring_in_progress(store):
    start(store)
    with pytest.raises(WaveError, match="ring 'broad' cannot finish before ring 'pilot', the ring in progress"):
        state.finish_ring(store, "2026-12", "broad")


def finished_wave(store):
    start(store, rings=[RINGS[0]], hosts_by_ring={"pilot": HOSTS["pilot"]})
    finish_pilot(store)
    return state.read_wave(store, "2026-12")


def test_a_second_start_of_a_finished_wave_changes_nothing(store):
    before = finished_wave(store)
    again = start(store, rings=[RINGS[0]], hosts_by_ring={"pilot": HOSTS["pilot"]}, now=T0 + 60 * MINUTE)
    assert again["changed"] is False and again["event"] is None and again["next_ring"] is None
    assert again["pending"] == {"pilot": []}
    assert state.read_wave(store, "2026-12") == before
    assert any("is finished; start a new wave with new=true" in w for w in again["warnings"])


def test_new_replaces_a_finished_wave_and_refuses_an_unfinished_one(store):
    finished_wave(store)
    fresh = start(store, new=True, now=T0 + 60 * MINUTE)
    assert fresh["changed"] is True and fresh["event"] == "started" and fresh["state"] == "running"
    assert fresh["started_at"] == "2026-12-09T09:00:00Z" and kinds(fresh) == ["started", "ring_started"]
    assert fresh["events"][0]["detail"]["replaced"] == {"started_at": "2026-12-09T08:00:00Z",
                                                        "finished_at": "2026-12-09T08:02:00Z", "deployment": "dec",
                                                        "list_version": 2}
    assert all(h["attempts"] == 0 for r in fresh["rings"] for h in r["host_results"])
    with pytest.raises(WaveError, match="wave '2026-12' is running \\(ring 'pilot'\\): finish it, or pick another name"):
        start(store, new=True)
    assert start(store, new=True, name="2026-12b")["event"] == "started"


def test_new_on_a_name_not_used_yet_starts_it(store):
    assert start(store, new=True)["event"] == "started"


def test_check_mode_computes_and_writes_nothing(store):
    planned = start(store, check_mode=True)
    assert planned["changed"] is True and planned["state"] == "running" and planned["pending"] == HOSTS
    assert state.list_waves(store) == []
    start(store)
    before = state.read_wave(store, "2026-12")
    result = state.record_results(store, "2026-12", "pilot", outcomes(p1="failed"), now=T0 + MINUTE, check_mode=True)
    assert result["halted"] is True and result["wave"]["state"] == "halted"
    assert state.finish_ring(store, "2026-12", "pilot", check_mode=True)["next_ring"] == "broad"
    assert state.halt_wave(store, "2026-12", "gate", check_mode=True)["wave"]["state"] == "halted"
    assert state.read_wave(store, "2026-12") == before


def test_waves_are_listed_newest_first(store):
    start(store, name="2026-11", deployment="nov", now=T0 - 30 * 24 * 60 * MINUTE)
    start(store, now=T0)
    assert [w["name"] for w in state.list_waves(store)] == ["2026-12", "2026-11"]
    assert state.read_wave(store, "nope") is None


def test_migration_10_adds_the_wave_tables_to_a_schema_9_store(store):
    start(store)
    with store.transaction() as cursor:
        undo_migration_10(cursor)
    assert store.schema_version() == 9
    address = store.address
    store.close()
    reopened = open_store(address)
    try:
        assert reopened.schema_version() == SCHEMA_VERSION == 10
        for table in WAVE_TABLES:
            assert reopened.query("SELECT count(*) AS n FROM %s" % table) == [{"n": 0}]
        assert reopened.query("SELECT name FROM deployments ORDER BY name")[0]["name"] == "dec"  # the rest stays
        assert start(reopened)["event"] == "started"
    finally:
        reopened.close()


def test_concurrent_controllers_recording_batches_lose_nothing(store):
    """Several controllers (one connection each) record batches of the same ring at once."""
    import threading

    hosts = ["b%02d" % n for n in range(1, 41)]
    start(store, rings=[dict(RINGS[1], failure_budget="100%")], hosts_by_ring={"broad": hosts})
    errors = []

    def controller(batch):
        opened = open_store(store.address)
        try:
            for host in batch:
                state.record_results(opened, "2026-12", "broad", outcomes(**{host: "compliant"}))
                state.record_results(opened, "2026-12", "broad", outcomes(**{host: "failed"}))
        except Exception as exc:  # pylint: disable=broad-exception-caught
            errors.append(exc)
        finally:
            opened.close()

    threads = [threading.Thread(target=controller, args=(hosts[n::4],)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    wave = state.read_wave(store, "2026-12")
    assert [h["attempts"] for h in wave["rings"][0]["host_results"]] == [2] * 40
    assert wave["rings"][0]["counts"]["failed"] == 40 and wave["state"] == "running"
    assert [e["seq"] for e in wave["events"]] == list(range(1, 2 + 80 + 1))
