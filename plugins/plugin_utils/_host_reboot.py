# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Restart a host through its host module and wait until it is back (controller only).

The host module answers ``reboot`` (it schedules the restart and says the boot time it had) and
``status`` (its boot time now). The host is back when ``status`` answers with another boot time;
until then every connection error is expected and retried on a fresh connection, with growing
pauses, until ``reboot_timeout`` seconds have passed since the restart was asked for.
"""

from __future__ import annotations

import time

from ansible.module_utils.common.text.converters import to_text
from ansible.utils.display import Display
from ansible_collections.patchwave.windows.plugins.plugin_utils._rounds import TRANSIENT, ContractError, backoff

display = Display()


class RebootError(Exception):
    """The host could not be asked to restart (the reboot round failed)."""


def reboot_and_wait(rounds, reboot_timeout, delay_seconds=5, clock=time.monotonic, sleep=time.sleep):
    """Restart the host of ``rounds`` (a ``HostRounds`` of the install module) and wait for it.

    Returns ``{"rebooted": bool, "last_boot_before", "last_boot", "seconds", "status", "error"}``:
    ``rebooted`` is False when the host did not come back within ``reboot_timeout`` (``error`` says
    what the last attempt saw). Raises RebootError when the restart could not be asked for.
    """
    began = clock()
    answer = None
    for attempt in (1, 2):
        try:
            answer = rounds.call("reboot", {"reboot_delay_seconds": int(delay_seconds)})
            break
        except TRANSIENT as exc:
            # a connection left unusable by an earlier drop: once more on a fresh one (a restart asked
            # for twice is still one restart: the host leaves one already scheduled as it is)
            if attempt == 2:
                raise RebootError("the restart could not be asked for: %s" % to_text(exc))
            display.vv("asking for the restart failed (%s); again on a fresh connection" % to_text(exc))
            rounds.reset_connection()
    if answer.get("failed"):
        raise RebootError("the host refused the restart: %s" % answer.get("msg"))
    before = answer["last_boot"]
    sleep(max(0, int(answer.get("delay_seconds", delay_seconds))))
    delays = backoff()
    last_error = "no answer yet"
    while True:
        left = reboot_timeout - (clock() - began)
        if left <= 0:
            return {"rebooted": False, "last_boot_before": before, "last_boot": None, "seconds": round(clock() - began, 1),
                    "status": None, "error": last_error}
        rounds.reset_connection()
        try:
            status = rounds.call("status")
        except TRANSIENT + (ContractError,) as exc:
            last_error = to_text(exc)
            status = None
        if status is not None and not status.get("failed") and status["last_boot"] != before:
            return {"rebooted": True, "last_boot_before": before, "last_boot": status["last_boot"],
                    "seconds": round(clock() - began, 1), "status": status, "error": None}
        if status is not None:
            last_error = status.get("msg") or "the host still reports the boot time %s" % before
        display.vv("waiting for the host to come back from its restart: %s" % last_error)
        sleep(min(next(delays), max(0.0, reboot_timeout - (clock() - began))))
