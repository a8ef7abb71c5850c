# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""How long scan history is kept, and pruning what is older."""

from __future__ import annotations

import datetime
import os

from ansible_collections.patchwave.windows.plugins.module_utils._store.schema import NEWEST_FIRST
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import format_time, utc_now

DEFAULT_HISTORY_DAYS = 400


def history_days(env=None):
    """The retention of scan history in days: ``PATCHWAVE_HISTORY_DAYS``, else 400; 0 keeps all."""
    env = os.environ if env is None else env
    text = env.get("PATCHWAVE_HISTORY_DAYS", "").strip()
    if not text:
        return DEFAULT_HISTORY_DAYS
    try:
        days = int(text)
    except ValueError:
        days = -1
    if days < 0:
        raise ValueError("PATCHWAVE_HISTORY_DAYS must be a whole number of days, 0 or more, not %r" % text)
    return days


def prune_history(store, days, now=None):
    """Delete scans received more than ``days`` days ago, keeping every host's newest scan and
    newest successful scan (newest as the controllers received them, then by scan_pk, like every
    reader), and failed attempts and enforcement states received before then; one transaction each.
    Returns the number of scans, attempts and enforcement states removed.

    Cheap when nothing is due: the oldest times are read from indexes first.
    """
    if not days:
        return 0
    now = now or utc_now()
    cutoff = format_time(now - datetime.timedelta(days=days))
    removed = 0
    for table in ("scan_attempts", "enforcement_states"):
        oldest = store.query("SELECT min(received) AS f FROM %s" % table)[0]["f"]
        if oldest is not None and oldest < cutoff:
            with store.transaction() as cursor:
                removed += cursor.execute("DELETE FROM %s WHERE received < ?" % table, (cutoff,)).rowcount
    oldest = store.query("SELECT min(received) AS f FROM scans")[0]["f"]
    if oldest is None or oldest >= cutoff:
        return removed
    keep = ("SELECT scan_pk FROM (SELECT scan_pk, ROW_NUMBER() OVER (PARTITION BY host_name%%s ORDER BY %s) "
            "AS newest FROM scans) ranked WHERE newest = 1" % NEWEST_FIRST)
    with store.transaction() as cursor:
        cursor.execute("DROP TABLE IF EXISTS pw_prune")
        cursor.execute(store.temp_table("pw_prune", "scan_pk BIGINT PRIMARY KEY", keyed=True))
        cursor.execute("INSERT INTO pw_prune (scan_pk) SELECT scan_pk FROM scans WHERE received < ? "
                       "EXCEPT %s EXCEPT %s" % (keep % "", keep % ", succeeded"), (cutoff,))
        scans = cursor.execute("SELECT count(*) FROM pw_prune").fetchone()[0]
        if scans:
            cursor.execute("DELETE FROM scan_updates WHERE scan_pk IN (SELECT scan_pk FROM pw_prune)")
            cursor.execute("DELETE FROM scan_bits WHERE scan_pk IN (SELECT scan_pk FROM pw_prune)")
            cursor.execute("DELETE FROM scans WHERE scan_pk IN (SELECT scan_pk FROM pw_prune)")
        cursor.execute("DROP TABLE pw_prune")
    return removed + scans
