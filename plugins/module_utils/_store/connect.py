# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Open the store an address names, with the backend it selects."""

from __future__ import annotations

from ansible_collections.patchwave.windows.plugins.module_utils._store.address import (
    is_postgresql,
    resolve_store_address,
)
from ansible_collections.patchwave.windows.plugins.module_utils._store.postgresql import PostgreSQLStore
from ansible_collections.patchwave.windows.plugins.module_utils._store.sqlite import SQLiteStore


def open_store(store=None, env=None, create=True):
    """Open the store that ``store`` (or the environment) addresses, migrating it if needed.

    Writers (``catalog_sync``, ``scan``) create a missing SQLite store and its folder; readers pass
    ``create=False`` and a missing store is then a StoreError naming the path and how a store is made,
    with nothing created (a mistyped folder stays absent). A ``postgresql://`` (or ``postgres://``)
    address selects the PostgreSQL backend: the database must exist for everyone; a writer creates
    the store's tables in it on first use, a reader refuses a database without them the same way.
    """
    address = resolve_store_address(store, env)
    if is_postgresql(address):
        return PostgreSQLStore(address, create=create)
    return SQLiteStore(address, create=create)
