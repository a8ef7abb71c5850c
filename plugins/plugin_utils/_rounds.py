# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Drive a host module's worker through start / poll / cancel rounds (controller only).

A host module that starts long work (a WUA search today, an installation later) answers three
operations: ``start`` launches a worker outside the WinRM logon and returns its id (it is told
``give_up_seconds``, after which the host may remove work nobody will fetch), ``poll`` waits
on the host up to ``wait_seconds`` for the worker and says ``running``, ``done`` (with its payload)
or ``lost``, and ``cancel`` acknowledges the result (or stops the worker) and removes what it left.
The rounds keep each module run short, so a dropped connection costs one poll, never the work.

Polls are long polls: the host holds each one until the worker ends or ``wait_seconds`` pass,
so a one-hour search costs about 150 module runs instead of 720 at a 5-second cadence. Every
round's ``warnings`` and ``deprecations`` are kept (once each) for the task's result.
"""

from __future__ import annotations

import os
import signal
import threading
import time

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.utils.display import Display

display = Display()

try:  # pywinrm's transport raises requests' errors when a connection drops mid-command
    from requests.exceptions import ConnectionError as _RequestsConnectionError
    from requests.exceptions import Timeout as _RequestsTimeout
    from winrm.exceptions import WinRMOperationTimeoutError, WinRMTransportError

    TRANSIENT = (AnsibleConnectionFailure, _RequestsConnectionError, _RequestsTimeout, WinRMTransportError,
                 WinRMOperationTimeoutError)
except ImportError:  # pragma: no cover - other connections (psrp, ssh) raise AnsibleConnectionFailure
    TRANSIENT = (AnsibleConnectionFailure,)

# Seconds the host holds one poll at most. Below Ansible's winrm read timeout (30 s) less its
# operation timeout, so a held poll never looks like a dead connection.
POLL_WAIT = 25
# How long polls keep trying to reach a host that dropped mid-work (a restart of WinRM, a network
# blip), with backoff, before the controller gives up; never past the work's timeout.
RECONNECT_TIMEOUT = 300
BACKOFF_FIRST = 1.0
BACKOFF_LONGEST = 15.0


# After Ctrl-C (or SIGTERM), the most seconds the worker process spends cancelling on the host
# before it exits anyway: a host that does not answer cannot hold the play.
CANCEL_TIMEOUT = 30
# How the worker process ends when the cancel outlasts CANCEL_TIMEOUT (a variable for the tests).
_exit_process = os._exit

# What ``run``'s failure says in ``round``: the round that failed.
ROUNDS = ("start", "start_connection", "poll", "lost", "timeout")


class ContractError(AnsibleError):
    """The host module answered outside its JSON contract."""


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM reached the process while it drove a host module's rounds."""


class Interruption:
    """SIGINT and SIGTERM as an ``Interrupted`` raised where the rounds can still cancel.

    ansible-playbook (2.19) runs each task in a WorkerProcess fork that leads its own session, so the
    terminal's Ctrl-C never reaches it; the parent forwards SIGINT to each worker, then SIGTERMs
    the ones still alive while it cleans up, and a worker's own handler kills it at once. While
    installed (as a context manager, in the main thread only: elsewhere nothing changes), the
    first signal is recorded and, unless ``deferred``, raised as ``Interrupted``; later ones (the
    SIGTERM after the SIGINT) are ignored. From the first signal on, a watchdog thread ends the
    process after ``cancel_timeout`` seconds, so a cancel that hangs cannot keep it alive.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, cancel_timeout=None):
        self.cancel_timeout = CANCEL_TIMEOUT if cancel_timeout is None else cancel_timeout
        self.received = None
        self.deferred = False
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        if self.received is not None and not isinstance(exc_value, Interrupted):
            # It arrived while deferred: the rounds are done (the cancel sent), the process stops now,
            # whatever else went wrong meanwhile.
            raise Interrupted(signal.Signals(self.received).name) from exc_value
        return False

    def _on_signal(self, signum, frame):
        if self.received is not None:
            return
        self.received = signum
        watchdog = threading.Timer(self.cancel_timeout, _exit_process, (1,))
        watchdog.daemon = True
        watchdog.start()
        if not self.deferred:
            raise Interrupted(signal.Signals(signum).name)

    def raise_received(self):
        """Raise the interruption that arrived while deferred."""
        if self.received is not None:
            raise Interrupted(signal.Signals(self.received).name)


def never_connected(exc):
    """True when the error says no connection was made at all (refused, unresolved, timed out)."""
    if isinstance(exc, AnsibleConnectionFailure):
        return True
    text = to_text(exc)
    return any(marker in text for marker in ("Failed to establish a new connection", "Connection refused",
                                             "Name or service not known", "ConnectTimeout"))


def backoff(first=BACKOFF_FIRST, longest=BACKOFF_LONGEST):
    """Seconds to wait before each further reconnection attempt: 1, 2, 4, 8, 15, 15, ..."""
    delay = first
    while True:
        yield delay
        delay = min(delay * 2, longest)


# Slack on top of a poll's own time before the host may take the controller for gone.
RENEWAL_MARGIN = 60


def renewal_seconds(wait_seconds, poll_interval, reconnect_timeout):
    """How long after a poll the host keeps the work for its controller: this poll's wait, the time to
    the next poll and the reconnect window, with a margin. A controller that vanishes thus leaves work
    that the next start of a host module removes that long after its last poll, not after the whole
    ``timeout`` (the start's give-up time)."""
    return int(wait_seconds) + int(poll_interval + 0.999) + int(reconnect_timeout) + RENEWAL_MARGIN


def poll_wait(remaining, longest=POLL_WAIT):
    """Whole seconds the next poll may hold on the host: what is left of the timeout, at most ``longest``."""
    return max(0, min(int(longest), int(remaining)))


class HostRounds:
    """One worker's rounds for one task on one host.

    ``call(operation, options)`` runs the host module once (``_operation`` and
    ``_operation_options`` added to ``host_args``) and checks the answer with ``validate`` (a function
    of operation and result returning a list of problems). ``run`` drives the whole life of a worker.
    ``messages()`` gives the warnings and deprecations every round returned, each once.
    """

    def __init__(self, action, module_name, host_args, task_vars, validate, id_key, payload_key, noun="work"):
        self._action = action
        self.noun = noun
        self.module_name = module_name
        self.host_args = host_args
        self.task_vars = task_vars
        self.validate = validate
        self.id_key = id_key
        self.payload_key = payload_key
        self.warnings = []
        self.deprecations = []

    def messages(self):
        """``{"warnings": [...], "deprecations": [...]}`` with only the non-empty lists."""
        found = {}
        if self.warnings:
            found["warnings"] = list(self.warnings)
        if self.deprecations:
            found["deprecations"] = list(self.deprecations)
        return found

    def _keep_messages(self, result):
        for key, kept in (("warnings", self.warnings), ("deprecations", self.deprecations)):
            for item in result.pop(key, None) or []:
                if item not in kept:
                    kept.append(item)

    def call(self, operation, options=None):
        """One module run; a failed run is returned as it is, a contract breach raises ContractError."""
        module_args = dict(self.host_args, _operation=operation, _operation_options=options or {})
        result = self._action._execute_module(module_name=self.module_name, module_args=module_args,
                                              task_vars=self.task_vars)
        self._keep_messages(result)
        if result.get("failed"):
            return result
        problems = self.validate(operation, result)
        if problems:
            raise ContractError("the host's %s answer breaks the %s contract: %s"
                                % (operation, self.module_name, "; ".join(problems[:5])))
        return result

    def run(self, timeout, poll_interval, longest_wait=POLL_WAIT, reconnect_timeout=RECONNECT_TIMEOUT):
        """Start, poll until the worker ends, always cancel.

        Returns ``(payload, None)`` or ``(None, failure)`` where ``failure`` is a result with ``msg`` and
        ``round``, the round that failed (ROUNDS): ``start`` (the host refused the request or the worker),
        ``start_connection`` (the connection dropped while starting: whether a worker started is unknown),
        ``poll`` (the module failed on a poll), ``lost`` (the worker ended without a result) or ``timeout``.
        Raises a TRANSIENT error when the host could not be reached to start the worker at all, or
        stayed unreachable for ``reconnect_timeout`` seconds (bounded by ``timeout``) during a poll.
        ``poll_interval`` is the least time between the starts of two polls (it only matters when a
        host answers a poll without holding it).

        Ctrl-C (SIGINT or SIGTERM, see ``Interruption``) raises ``Interrupted`` once the worker is
        cancelled on the host: during the start it waits for the start's answer (so the work id is
        known), during the polls it stops the poll; the cancel then runs on a fresh connection
        within ``CANCEL_TIMEOUT`` seconds.
        """
        with Interruption() as interruption:
            interruption.deferred = True
            try:
                # The host may remove the work once the controller has surely given up on it.
                started = self.call("start", {"give_up_seconds": int(timeout) + int(reconnect_timeout)})
            except TRANSIENT as exc:
                if never_connected(exc):
                    raise  # nothing reached the host: it is unreachable
                # Whether the worker started is unknown; a second start could leave an orphan, so stop here.
                return None, {"msg": "the connection was lost while starting the %s: %s" % (self.noun, to_text(exc)),
                              "round": "start_connection"}
            if started.get("failed"):
                return None, dict(started, round="start")
            return self._rounds(started[self.id_key], timeout, poll_interval, longest_wait, reconnect_timeout,
                                interruption)

    def _rounds(self, work_id, timeout, poll_interval, longest_wait, reconnect_timeout, interruption):
        """The polls of a started worker, then its cancel (also when interrupted)."""
        deadline = time.monotonic() + timeout
        try:
            interruption.deferred = False
            interruption.raise_received()
            while True:
                began = time.monotonic()
                wait = poll_wait(deadline - began, longest_wait)
                # never past the start's give-up time: by then the controller has given up anyway
                renewal = min(renewal_seconds(wait, poll_interval, reconnect_timeout),
                              int(deadline - began + 0.999) + int(reconnect_timeout))
                polled = self._poll(work_id, wait, min(deadline, began + reconnect_timeout), renewal)
                if polled.get("failed"):
                    return None, dict(polled, round="poll")
                if polled["state"] == "done":
                    return polled[self.payload_key], None
                if polled["state"] == "lost":
                    return None, dict(polled, round="lost",
                                      msg=polled.get("msg") or "%s %s was lost on the host" % (self.noun, work_id))
                if time.monotonic() >= deadline:
                    return None, {"msg": "%s %s did not finish within %d seconds" % (self.noun, work_id, timeout),
                                  "round": "timeout"}
                display.v("%s %s still running: %s" % (self.noun, work_id, polled.get("progress")))
                time.sleep(max(0.0, min(poll_interval - (time.monotonic() - began), deadline - time.monotonic())))
        finally:
            interruption.deferred = True  # a signal now must not stop the cancel; the watchdog bounds it
            if interruption.received is not None:
                self._reconnect("cancel", work_id)  # the interrupted poll left its command on the connection
            try:
                self.call("cancel", {self.id_key: work_id})
            except TRANSIENT + (AnsibleError,) as exc:
                display.warning("could not clean up %s %s on the host: %s" % (self.noun, work_id, to_text(exc)))

    def reset_connection(self):
        """A fresh connection for the next call (after a restart, the old one is dead)."""
        self._reconnect("reach", "")

    def _reconnect(self, purpose, work_id):
        """Start afresh on a new connection (session, shell); a failure is left to the next call to report."""
        try:
            self._action._connection.reset()
        # Any connection plugin's own error: the next call (poll or cancel) reports what is wrong.
        except Exception as exc:  # pylint: disable=broad-exception-caught
            display.vv("reconnecting to %s %s %s failed (%s)" % (purpose, self.noun, work_id, to_text(exc)))

    def _poll(self, work_id, wait_seconds, reconnect_until, give_up_seconds=0):
        """One poll. A dropped connection is retried with backoff until ``reconnect_until`` (a
        monotonic time), since the host keeps the result until cancel; then the error is raised.
        ``give_up_seconds`` renews the work's give-up time on the host (``renewal_seconds``)."""
        options = {self.id_key: work_id, "wait_seconds": wait_seconds, "give_up_seconds": int(give_up_seconds)}
        delays = backoff()
        while True:
            try:
                return self.call("poll", options)
            except TRANSIENT as exc:
                left = reconnect_until - time.monotonic()
                if left <= 0:
                    raise
                delay = min(next(delays), left)
                display.vv("poll of %s %s lost its connection (%s); reconnecting in %.0f s"
                           % (self.noun, work_id, to_text(exc), delay))
                time.sleep(delay)
                # A dropped connection leaves an authenticated (NTLM) session behind: start afresh.
                # The host may still be away: then the next poll says so, and is retried in turn.
                self._reconnect("poll", work_id)
