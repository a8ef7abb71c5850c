"""reboot_and_wait (plugin_utils/_host_reboot.py): back on a new boot time, or did not return."""

import pytest
from ansible.errors import AnsibleConnectionFailure

from ansible_collections.patchwave.windows.plugins.plugin_utils._host_reboot import RebootError, reboot_and_wait


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class FakeRounds:
    """A host that goes away after the reboot answer and answers status with ``boots`` in turn."""

    def __init__(self, answers, reboot_answer=None):
        self.answers = list(answers)
        self.reboot_answer = reboot_answer or {"changed": True, "operation": "reboot", "last_boot": "B0",
                                               "delay_seconds": 5}
        self.resets = 0
        self.calls = []

    def reset_connection(self):
        self.resets += 1

    def call(self, operation, options=None):
        self.calls.append(operation)
        if operation == "reboot":
            if isinstance(self.reboot_answer, Exception):
                raise self.reboot_answer
            return self.reboot_answer
        answer = self.answers.pop(0) if self.answers else AnsibleConnectionFailure("refused")
        if isinstance(answer, Exception):
            raise answer
        return {"operation": "status", "last_boot": answer}


def test_back_on_a_new_boot_time():
    clock = FakeClock()
    rounds = FakeRounds([AnsibleConnectionFailure("refused"), "B0", "B1"])
    outcome = reboot_and_wait(rounds, 600, clock=clock, sleep=clock.sleep)
    assert outcome["rebooted"] and outcome["last_boot"] == "B1" and outcome["last_boot_before"] == "B0"
    assert rounds.resets == 3  # a fresh connection before each status


def test_did_not_return_within_the_timeout():
    clock = FakeClock()
    rounds = FakeRounds([])
    outcome = reboot_and_wait(rounds, 60, clock=clock, sleep=clock.sleep)
    assert not outcome["rebooted"] and "refused" in outcome["error"]
    assert clock.now <= 61


def test_a_refused_reboot_raises():
    rounds = FakeRounds([], reboot_answer={"failed": True, "msg": "Access is denied."})
    with pytest.raises(RebootError, match="Access is denied"):
        reboot_and_wait(rounds, 60, clock=FakeClock(), sleep=lambda s: None)


def test_a_failed_request_is_sent_once_more_on_a_fresh_connection():
    clock = FakeClock()
    rounds = FakeRounds(["B1"])
    answers = [AnsibleConnectionFailure("Bad HTTP response returned from server. Code 400"), rounds.reboot_answer]

    def call(operation, options=None, real=rounds.call):
        if operation == "reboot":
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        return real(operation, options)

    rounds.call = call
    outcome = reboot_and_wait(rounds, 600, clock=clock, sleep=clock.sleep)
    assert outcome["rebooted"] and rounds.resets == 2  # one before the second request, one before status
