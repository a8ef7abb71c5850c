# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""What the store knows of a host's earlier scans and attempts, for the scan action's rules and the readers."""

from __future__ import annotations

from ansible_collections.patchwave.windows.plugins.module_utils._store.schema import NEWEST_FIRST


def last_good_scan(store, host):
    """The newest successful scan of ``host`` (finished, received, catalog_version, mode, scan_pk), or None.

    Newest by the time the controller received it, then by scan_pk (the order every reader uses).
    ``received`` is the controller's clock, ``finished`` the host's: measure the scan's age from
    ``received``.
    """
    rows = store.query("SELECT finished, received, catalog_version, mode, scan_pk FROM scans WHERE host_name = ? "
                       "AND succeeded = 1 ORDER BY %s LIMIT 1" % NEWEST_FIRST, (host,))
    return rows[0] if rows else None


def last_attempts(store, host=None):
    """Each host's last attempt (or ``host``'s alone): ``{host: {"time", "failed", "failure", "reason"}}``.

    An attempt is a scan (``failure`` None when it succeeded, ``scan_failed`` when the host did not
    complete the search, ``corrupt_message``) or a failed attempt that said nothing of the host's
    updates (``scan_attempts``: ``unreachable``, ``credentials``, ``connection``, ``request``).
    The newest by the controller's clock wins; at the same second a failed attempt counts as newer,
    so a failure is never hidden.
    """
    where, params = ("WHERE host_name = ?", (host,)) if host is not None else ("", ())
    found = {}
    for row in store.query(
            "SELECT host_name, received, succeeded, error, source FROM (SELECT host_name, received, succeeded, "
            "error, source, ROW_NUMBER() OVER (PARTITION BY host_name ORDER BY %s) AS newest FROM scans %s) "
            "ranked WHERE newest = 1" % (NEWEST_FIRST, where), params):
        failure = None if row["succeeded"] else ("corrupt_message" if row["source"] == "quarantine" else "scan_failed")
        found[row["host_name"]] = {"time": row["received"], "failed": failure is not None, "failure": failure,
                                   "reason": row["error"]}
    for row in store.query(
            "SELECT host_name, received, failure, reason FROM (SELECT host_name, received, failure, reason, "
            "ROW_NUMBER() OVER (PARTITION BY host_name ORDER BY received DESC, message_id) AS newest "
            "FROM scan_attempts %s) ranked WHERE newest = 1" % where, params):
        known = found.get(row["host_name"])
        if known is None or known["time"] <= row["received"]:
            found[row["host_name"]] = {"time": row["received"], "failed": True, "failure": row["failure"],
                                       "reason": row["reason"]}
    return found
