# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""What the store knows of a host's earlier scans, for the scan action's rules."""

from __future__ import annotations


def last_good_scan(store, host):
    """The newest successful scan of ``host`` (finished, catalog_version, mode), or None."""
    rows = store.query("SELECT finished, catalog_version, mode, scan_pk FROM scans WHERE host_name = ? "
                       "AND succeeded = 1 ORDER BY finished DESC, scan_pk DESC LIMIT 1", (host,))
    return rows[0] if rows else None
