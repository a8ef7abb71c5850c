# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""What the store knows of a host's earlier scans, for the scan action's rules."""

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
