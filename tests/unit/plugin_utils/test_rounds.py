"""The start / poll / cancel rounds driver (plugins/plugin_utils/_rounds.py), against a fake host module."""

from __future__ import annotations

import os
import signal
import time

import pytest
from ansible.errors import AnsibleConnectionFailure
from requests.exceptions import ConnectionError as RequestsConnectionError
from ansible_collections.patchwave.windows.plugins.plugin_utils import _rounds


class FakeHost:
    """A host module whose worker ends after ``polls_needed`` polls; records every call."""

    def __init__(self, polls_needed=3, warnings=None, lost=None):
        self.calls = []
        self.polls_needed = polls_needed
        self.warnings = warnings or {}
        self.lost = lost
        self._connection = self  # HostRounds resets the connection through the action
        self.resets = 0

    def reset(self):
        self.resets += 1
        if getattr(self, "refuse_reset", False):
            raise AnsibleConnectionFailure("connection refused while reconnecting")

    def _execute_module(self, module_name, module_args, task_vars):
        operation = module_args["_operation"]
        self.calls.append((operation, dict(module_args["_operation_options"])))
        result = {"changed": False, "operation": operation}
        if operation in self.warnings:
            result["warnings"] = list(self.warnings[operation])
        if operation == "start":
            return dict(result, work_id="w1")
        if operation == "cancel":
            return dict(result, work_id="w1", cleaned=True)
        polls = sum(1 for op, _opts in self.calls if op == "poll")
        if self.lost:
            return dict(result, work_id="w1", state="lost", msg=self.lost, last_task_result=267014)
        if polls >= self.polls_needed:
            return dict(result, work_id="w1", state="done", payload={"value": 42})
        return dict(result, work_id="w1", state="running", progress={"phase": "searching"})


def _rounds_for(host, validate=lambda op, result: []):
    return _rounds.HostRounds(host, "ns.coll.mod", {"opt": 1}, {}, validate, "work_id", "payload", noun="job")


def test_polls_are_long_polls_bounded_by_the_timeout():
    host = FakeHost(polls_needed=3)
    rounds = _rounds_for(host)
    payload, failure = rounds.run(timeout=3600, poll_interval=0)
    assert (payload, failure) == ({"value": 42}, None)
    assert [op for op, _opts in host.calls] == ["start", "poll", "poll", "poll", "cancel"]
    waits = [opts["wait_seconds"] for op, opts in host.calls if op == "poll"]
    assert waits == [_rounds.POLL_WAIT] * 3
    assert host.calls[-1][1] == {"work_id": "w1"}
    # the host may remove the work once the controller has surely given up on it
    assert host.calls[0][1] == {"give_up_seconds": 3600 + _rounds.RECONNECT_TIMEOUT}


@pytest.mark.parametrize("remaining, expected", [(3600, 25), (25, 25), (10.9, 10), (0.5, 0), (-3, 0)])
def test_poll_wait_never_outlasts_the_timeout(remaining, expected):
    assert _rounds.poll_wait(remaining) == expected


def test_warnings_and_deprecations_of_every_round_reach_the_result_once():
    host = FakeHost(polls_needed=2, warnings={
        "start": ["S4U logon failed; the worker runs as SYSTEM"],
        "poll": ["offline scan file is 40 days old"],
    })
    rounds = _rounds_for(host)
    rounds.run(timeout=60, poll_interval=0)
    assert rounds.messages() == {"warnings": ["S4U logon failed; the worker runs as SYSTEM",
                                              "offline scan file is 40 days old"]}


def test_no_messages_means_no_keys():
    rounds = _rounds_for(FakeHost(polls_needed=1))
    rounds.run(timeout=60, poll_interval=0)
    assert rounds.messages() == {}


def test_a_lost_worker_keeps_what_the_host_said_and_is_still_cancelled():
    host = FakeHost(lost="the worker ended before writing its result")
    payload, failure = _rounds_for(host).run(timeout=60, poll_interval=0)
    assert payload is None
    assert failure["msg"] == "the worker ended before writing its result"
    assert failure["last_task_result"] == 267014
    assert host.calls[-1][0] == "cancel"


def test_a_contract_breach_names_the_operation_and_still_cancels():
    host = FakeHost(polls_needed=1)
    rounds = _rounds_for(host, validate=lambda op, result: ["state is missing"] if op == "poll" else [])
    with pytest.raises(_rounds.ContractError, match="poll answer breaks the ns.coll.mod contract: state is missing"):
        rounds.run(timeout=60, poll_interval=0)
    assert host.calls[-1][0] == "cancel"


def test_a_host_that_cannot_be_reached_at_start_is_unreachable():
    class Refused(FakeHost):
        def _execute_module(self, module_name, module_args, task_vars):
            raise AnsibleConnectionFailure("connection refused")

    with pytest.raises(AnsibleConnectionFailure):
        _rounds_for(Refused()).run(timeout=60, poll_interval=0)


class Clock:
    """A fake monotonic clock that sleeping moves forward."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class DownFor(FakeHost):
    """A host whose polls are refused while the clock is inside [down_from, down_until)."""

    def __init__(self, clock, down_from, down_until, **kwargs):
        super().__init__(**kwargs)
        self.clock, self.down_from, self.down_until = clock, down_from, down_until
        self.refused = 0

    def _execute_module(self, module_name, module_args, task_vars):
        if module_args["_operation"] != "start" and self.down_from <= self.clock.now < self.down_until:
            self.refused += 1
            raise AnsibleConnectionFailure("connection refused")
        return super()._execute_module(module_name, module_args, task_vars)


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(_rounds.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(_rounds.time, "sleep", fake.sleep)
    return fake


def test_backoff_doubles_up_to_its_longest():
    delays = _rounds.backoff()
    assert [next(delays) for _step in range(7)] == [1, 2, 4, 8, 15, 15, 15]


def test_a_host_down_for_a_while_is_waited_for_with_backoff(clock):
    host = DownFor(clock, 0.0, 20.0, polls_needed=1)  # refused for the first 20 seconds
    host.refuse_reset = True  # reconnecting fails too while the host is away
    rounds = _rounds_for(host)
    payload, failure = rounds.run(timeout=3600, poll_interval=0, reconnect_timeout=300)
    assert payload == {"value": 42} and failure is None
    assert host.refused == 5 and clock.sleeps == [1, 2, 4, 8, 15]
    assert host.resets == 5  # each retry on a fresh connection
    assert host.calls[-1][0] == "cancel"


def test_a_host_down_longer_than_the_reconnect_timeout_is_unreachable_and_still_cancelled(clock):
    host = DownFor(clock, 0.0, 10 ** 6, polls_needed=1)
    with pytest.raises(AnsibleConnectionFailure):
        _rounds_for(host).run(timeout=3600, poll_interval=0, reconnect_timeout=60)
    assert clock.now == 60  # the last wait is cut to what is left of the window
    assert sum(clock.sleeps) == 60 and max(clock.sleeps) == 15
    assert host.refused >= 2 and host.calls == [("start", {"give_up_seconds": 3660})]  # cancel refused too


def test_reconnecting_never_outlasts_the_timeout(clock):
    host = DownFor(clock, 0.0, 10 ** 6, polls_needed=1)
    with pytest.raises(AnsibleConnectionFailure):
        _rounds_for(host).run(timeout=30, poll_interval=0, reconnect_timeout=300)
    assert clock.now == 30


def test_the_timeout_gives_up_and_cancels(monkeypatch):
    clock = iter(range(0, 10000, 50))
    monkeypatch.setattr(_rounds.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(_rounds.time, "sleep", lambda seconds: None)
    host = FakeHost(polls_needed=10 ** 6)
    payload, failure = _rounds_for(host).run(timeout=120, poll_interval=0)
    assert payload is None and failure["msg"] == "job w1 did not finish within 120 seconds"
    assert host.calls[-1][0] == "cancel"


# ---------------------------------------------------------------- the failed round is named


class FailsAt(FakeHost):
    """A host module whose ``operation`` round fails with ``answer`` (a result, or an exception to raise)."""

    def __init__(self, operation, answer, **kwargs):
        super().__init__(**kwargs)
        self.operation, self.answer = operation, answer

    def _execute_module(self, module_name, module_args, task_vars):
        if module_args["_operation"] == self.operation:
            self.calls.append((self.operation, dict(module_args["_operation_options"])))
            if isinstance(self.answer, Exception):
                raise self.answer
            return dict(self.answer)
        return super()._execute_module(module_name, module_args, task_vars)


@pytest.mark.parametrize("host, expected", [
    # the request refused (an offline scan file that is not there): nothing about the host's updates
    (FailsAt("start", {"failed": True, "msg": "The offline scan file 'x.cab' does not exist on the host."}), "start"),
    # the host refused to start the worker: its answer (worker_start_failed) passes through
    (FailsAt("start", {"failed": True, "msg": "Failed to start the scan worker", "worker_start_failed": True,
                       "hresult": 2147942405}), "start"),
    # the connection dropped after the request was sent: whether a worker started is unknown
    (FailsAt("start", RequestsConnectionError("Connection aborted: reset by peer")), "start_connection"),
    (FailsAt("poll", {"failed": True, "msg": "The result of scan w1 could not be read"}), "poll"),
    (FakeHost(lost="the worker ended before writing its result"), "lost"),
])
def test_a_failure_names_the_round_that_failed(host, expected):
    payload, failure = _rounds_for(host).run(timeout=60, poll_interval=0)
    assert payload is None
    assert failure["round"] == expected and expected in _rounds.ROUNDS
    assert failure["msg"]


def test_a_refused_worker_keeps_what_the_host_said():
    host = FailsAt("start", {"failed": True, "msg": "Failed to start the scan worker", "worker_start_failed": True,
                             "hresult": 2147942405})
    _payload, failure = _rounds_for(host).run(timeout=60, poll_interval=0)
    assert failure == {"failed": True, "msg": "Failed to start the scan worker", "worker_start_failed": True,
                       "hresult": 2147942405, "round": "start"}
    assert [op for op, _opts in host.calls] == ["start"]  # nothing started: nothing to cancel


def test_a_timeout_is_named(monkeypatch):
    clock = iter(range(0, 10000, 50))
    monkeypatch.setattr(_rounds.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(_rounds.time, "sleep", lambda seconds: None)
    _payload, failure = _rounds_for(FakeHost(polls_needed=10 ** 6)).run(timeout=120, poll_interval=0)
    assert failure["round"] == "timeout"


# ---------------------------------------------------------------- Ctrl-C cancels on the host


class SignalledAt(FakeHost):
    """A host module during whose ``operation`` round (the ``nth`` of it) the process gets ``signum``,
    as ansible-playbook forwards Ctrl-C to its WorkerProcess (SIGINT, then SIGTERM while it cleans up)."""

    def __init__(self, operation, signums=(signal.SIGINT, signal.SIGTERM), nth=1, **kwargs):
        super().__init__(**kwargs)
        self.operation, self.signums, self.nth = operation, signums, nth

    def _execute_module(self, module_name, module_args, task_vars):
        result = super()._execute_module(module_name, module_args, task_vars)
        if sum(1 for op, _opts in self.calls if op == self.operation) == self.nth \
                and module_args["_operation"] == self.operation:
            for signum in self.signums:
                os.kill(os.getpid(), signum)  # handled before the next bytecode: as if mid-round
        return result


@pytest.fixture
def watchdog(monkeypatch):
    """The process exits that the interruption's watchdog asked for, instead of exiting."""
    exits = []
    monkeypatch.setattr(_rounds, "_exit_process", exits.append)
    return exits


def _handlers():
    return [signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)]


@pytest.mark.parametrize("operation, nth, expected", [
    ("poll", 1, ["start", "poll", "cancel"]),      # a held poll stops; the cancel still runs
    ("start", 1, ["start", "cancel"]),             # the start's answer is awaited (its id), then cancelled
    ("cancel", 1, ["start", "poll", "cancel"]),    # the cancel of a finished worker completes first
])
def test_ctrl_c_cancels_on_the_host_then_stops(watchdog, operation, nth, expected):
    before = _handlers()
    host = SignalledAt(operation, nth=nth, polls_needed=1 if operation == "cancel" else 10 ** 6)
    with pytest.raises(_rounds.Interrupted, match="SIGINT"):
        _rounds_for(host).run(timeout=3600, poll_interval=0)
    assert [op for op, _opts in host.calls] == expected
    assert host.calls[-1][1] == {"work_id": "w1"}
    assert _handlers() == before  # the process's own handlers are back
    assert isinstance(_rounds.Interrupted(), KeyboardInterrupt)  # the WorkerProcess exits, as on any Ctrl-C


def test_the_cancel_after_ctrl_c_runs_on_a_fresh_connection(watchdog):
    host = SignalledAt("poll", polls_needed=10 ** 6)
    with pytest.raises(_rounds.Interrupted):
        _rounds_for(host).run(timeout=3600, poll_interval=0)
    assert host.resets == 1  # the interrupted poll's command was left on the old one


def test_a_cancel_that_hangs_after_ctrl_c_is_bounded(monkeypatch, watchdog):
    monkeypatch.setattr(_rounds, "CANCEL_TIMEOUT", 0.05)
    host = SignalledAt("poll", polls_needed=10 ** 6)
    real = host._execute_module

    def hanging_cancel(module_name, module_args, task_vars):
        if module_args["_operation"] == "cancel":
            time.sleep(0.5)  # the host does not answer
        return real(module_name, module_args, task_vars)

    host._execute_module = hanging_cancel
    with pytest.raises(_rounds.Interrupted):
        _rounds_for(host).run(timeout=3600, poll_interval=0)
    assert watchdog == [1]  # the process would have exited after CANCEL_TIMEOUT, cancel or not


def test_no_signal_no_watchdog(watchdog):
    before = _handlers()
    _rounds_for(FakeHost(polls_needed=2)).run(timeout=60, poll_interval=0)
    assert watchdog == [] and _handlers() == before


def test_ctrl_c_during_a_start_that_fails_still_stops(watchdog):
    """Interrupted wins over whatever the start ended with: the play is stopping, nothing is recorded."""
    class RefusedAfterSignal(FakeHost):
        def _execute_module(self, module_name, module_args, task_vars):
            os.kill(os.getpid(), signal.SIGINT)
            raise AnsibleConnectionFailure("connection refused")

    host = RefusedAfterSignal()
    with pytest.raises(_rounds.Interrupted) as raised:
        _rounds_for(host).run(timeout=60, poll_interval=0)
    assert isinstance(raised.value.__cause__, AnsibleConnectionFailure)
    failing = FailsAt("start", {"failed": True, "msg": "refused"})
    real = failing._execute_module

    def signalled(module_name, module_args, task_vars):
        os.kill(os.getpid(), signal.SIGTERM)
        return real(module_name, module_args, task_vars)

    failing._execute_module = signalled
    with pytest.raises(_rounds.Interrupted, match="SIGTERM"):
        _rounds_for(failing).run(timeout=60, poll_interval=0)
    assert [op for op, _opts in failing.calls] == ["start"]


def test_a_reset_that_fails_its_own_way_still_lets_the_cancel_run(watchdog):
    host = SignalledAt("poll", polls_needed=10 ** 6)

    def reset():
        raise RuntimeError("the psrp runspace could not be closed")

    host.reset = reset
    with pytest.raises(_rounds.Interrupted):
        _rounds_for(host).run(timeout=3600, poll_interval=0)
    assert [op for op, _opts in host.calls] == ["start", "poll", "cancel"]


def test_every_poll_renews_the_give_up_time_on_the_host():
    host = FakeHost(polls_needed=2)
    rounds = _rounds_for(host)
    rounds.run(timeout=3600, poll_interval=5, reconnect_timeout=120)
    renewals = [opts["give_up_seconds"] for op, opts in host.calls if op == "poll"]
    # this poll's wait, the time to the next one and the reconnect window, with a margin
    assert renewals == [_rounds.POLL_WAIT + 5 + 120 + _rounds.RENEWAL_MARGIN] * 2
    assert _rounds.renewal_seconds(10, 0.2, 0) == 10 + 1 + 0 + _rounds.RENEWAL_MARGIN
    # never past the start's give-up time (timeout + reconnect window)
    short = FakeHost(polls_needed=1)
    _rounds_for(short).run(timeout=5, poll_interval=5, reconnect_timeout=1)
    assert [opts["give_up_seconds"] for op, opts in short.calls if op == "poll"] == [5 + 1]
