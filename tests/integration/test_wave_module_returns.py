"""The wave and wave_info modules through ansible-playbook: their RETURN documentation against what they
really return (tests/integration/test_module_returns.py's checker), every action, check mode, and the
errors that name the wave, ring or field."""

import sys

import pytest
from ansible_runs import REPO
from test_module_returns import TYPES, ReturnChecker, local_play, run_playbook, task

if REPO not in sys.path:
    sys.path.insert(0, REPO)

from ansible_collections.patchwave.windows.plugins.module_utils._prepare.deployments import apply_deployment  # noqa: E402
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store  # noqa: E402
from tests.compliance_data import add_catalog  # noqa: E402
from tests.deployment_data import freeze_rows  # noqa: E402

pytestmark = pytest.mark.integration

RINGS = [{"name": "pilot", "hosts": "pilot"},
         {"name": "broad", "hosts": "broad", "serial": "50%", "failure_budget": 1, "wait_after": 5,
          "deadline_offset": "+2d", "deployment": "dec-broad"}]
HOSTS = {"pilot": ["p1", "p2"], "broad": ["b1", "b2", "b3"]}


class WaveChecker(ReturnChecker):
    """``raw`` (serial, failure_budget: a count or a percentage) is a str or an int."""

    def _value(self, doc, value, path, label):
        if doc.get("type") == "raw" and value is not None:
            self.seen.add(path)
            if not isinstance(value, (str, int)) or isinstance(value, bool):
                self._problem(label, path, "documented as raw (str or int), returned %r" % (value,))
            return
        super()._value(doc, value, path, label)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("wave-returns")
    store = str(root / "patchwave.db")
    opened = open_store(store)
    try:
        ids = list(add_catalog(opened, 4))
        freeze_rows(opened, "security", 1, ids[:3], created_at="2026-12-09T07:00:00Z")
        for name in ("dec", "dec-broad"):
            apply_deployment(opened, name, "present", {"update_list": "security", "targets": ["pilot"],
                                                       "start": "2026-12-08T18:00:00Z"})
    finally:
        opened.close()
    wave = "patchwave.windows.wave"
    start = {"action": "start", "deployment": "dec", "rings": RINGS, "hosts_by_ring": HOSTS, "store": store}
    named = {"name": "2026-12", "store": store}
    check = "      check_mode: true\n"
    tasks = run_playbook(root, "wave", local_play(
        task("start in check mode", wave, start, extra=check)
        + task("start", wave, start)
        + task("start again", wave, start)
        + task("record in check mode", wave, dict(named, action="record", ring="pilot", results={
            "p1": {"outcome": "failed", "msg": "0x80240022"}}), extra=check)
        + task("record", wave, dict(named, action="record", ring="pilot", results={
            "p1": {"outcome": "compliant", "reason": None, "msg": None, "changed": True},
            "p2": {"outcome": "failed", "reason": "install_failed", "msg": "0x80240022"}}))
        + task("record after the halt", wave, dict(named, action="record", ring="pilot", results={}))
        + task("resume", wave, dict(start, name="2026-12"))
        + task("record the retry", wave, dict(named, action="record", ring="pilot", results={
            "p2": {"outcome": "installed_pending_restart", "msg": "a restart is pending"}}))
        + task("finish pilot", wave, dict(named, action="finish_ring", ring="pilot"))
        + task("halt by a gate", wave, dict(named, action="halt", ring="pilot", reason="health gate answered 503"))
        + task("resume after the gate", wave, dict(named, action="start"))
        + task("record broad", wave, dict(named, action="record", ring="broad", results={
            "b1": {"outcome": "compliant"}, "b2": {"outcome": "waiting_for_window", "reason": "outside_window"}}))
        + task("finish broad", wave, dict(named, action="finish_ring", ring="broad"))
        + task("start the finished wave", wave, start)
        + task("another wave", wave, dict(start, name="2026-12-hotfix"))
        + task("halt another wave", wave, {"action": "halt", "name": "2026-12-hotfix", "reason": "pre-hook failed",
                                           "store": store})
        + task("wave_info of one", "patchwave.windows.wave_info", named)
        + task("wave_info of all", "patchwave.windows.wave_info", {"store": store})
        + task("wave_info of none", "patchwave.windows.wave_info", {"name": "2027-01", "store": store})
        + task("start without a deployment", wave, {"action": "start", "name": "x", "rings": RINGS, "store": store})
        + task("record without a ring", wave, dict(named, action="record", results={}))
        + task("bad ring", wave, dict(start, name="y", rings=[{"name": "a", "hosts": "a", "serial": "0%"}]))))
    return {name: hosts["localhost"] for name, hosts in tasks.items()}


FAILING = ("record after the halt", "wave_info of none", "start without a deployment", "record without a ring",
           "bad ring")


def test_the_runs_do_what_the_docs_say(runs):
    assert runs["start in check mode"]["changed"] is True and runs["start in check mode"]["wave"]["state"] == "running"
    assert runs["start"]["changed"] is True and runs["start"]["event"] == "started"
    assert runs["start"]["name"] == "2026-12" and runs["start"]["pending"] == HOSTS
    assert runs["start again"]["changed"] is False
    assert runs["record in check mode"]["halted"] is True
    assert runs["record"]["halted"] is True and runs["record"]["halt_reason"] == (
        "ring pilot: 1 host(s) failed, the budget allows 0: p2 (failed: 0x80240022)")
    assert "wave '2026-12' is halted: ring pilot" in runs["record after the halt"]["msg"]
    assert runs["resume"]["event"] == "resumed" and runs["resume"]["pending"]["pilot"] == ["p2"]
    assert runs["finish pilot"]["next_ring"] == "broad"
    assert runs["halt by a gate"]["wave"]["state"] == "halted"
    assert runs["finish broad"]["state"] == "finished" and runs["finish broad"]["next_ring"] is None
    assert runs["start the finished wave"]["changed"] is False
    assert any("is finished" in w for w in runs["start the finished wave"]["warnings"])
    assert [w["name"] for w in runs["wave_info of all"]["waves"]] == ["2026-12-hotfix", "2026-12"]
    info = runs["wave_info of one"]["waves"][0]
    assert [len(h) for h in info["halts"]] == [3, 3] and info["rings"][1]["counts"]["not_run"] == 1
    assert runs["wave_info of none"]["msg"] == "wave '2027-01' does not exist (the store has '2026-12-hotfix', '2026-12')"
    assert runs["start without a deployment"]["msg"] == "wave 'x': deployment is required to start it"
    assert runs["record without a ring"]["msg"] == "action is record but all of the following are missing: ring"
    assert "wave 'y': ring 'a': serial: '0%' is not a percentage from 1% to 100%" in runs["bad ring"]["msg"]
    for name, result in runs.items():
        assert bool(result.get("failed")) == (name in FAILING), (name, result.get("msg"))


@pytest.mark.parametrize("module", ["wave", "wave_info"])
def test_documented_returns_match_what_the_module_returns(runs, module):
    assert "raw" not in TYPES
    checker = WaveChecker(module)
    checker.check_samples()
    mine = [(name, result) for name, result in runs.items()
            if not result.get("failed") and (name.startswith("wave_info") == (module == "wave_info"))]
    assert mine
    for label, result in mine:
        checker.check(result, label)
    assert not checker.problems, "\n".join(checker.problems)
    assert not checker.unseen(), "%s: documented but never returned with a value: %s" % (module, checker.unseen())
