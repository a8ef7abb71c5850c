# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Open the store an address names, with the backend it selects."""

from __future__ import annotations

import os

from ansible_collections.patchwave.windows.plugins.module_utils._store.address import (
    is_postgresql,
    resolve_store_address,
)
from ansible_collections.patchwave.windows.plugins.module_utils._store.errors import StoreError
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
        return PostgreSQLStore(address) if create else _ExistingPostgreSQLStore(address)
    if not create and not os.path.exists(os.path.abspath(address)):
        raise StoreError(missing_store_message(address))
    return SQLiteStore(address, create=create)


class _ExistingPostgreSQLStore(PostgreSQLStore):
    """A PostgreSQL store opened by a reader: a database without the store's tables is not made into
    one (an older schema is still migrated, as for every opener)."""

    def _migrate(self):
        try:
            found = self.schema_version()
        except self._psycopg.Error:
            found = None  # the base class says what is wrong
        if found == 0:
            raise StoreError("store '%s' does not exist: the database holds no patchwave store; %s"
                             % (self.redacted, _HOW_TO_MAKE % "address"))
        super()._migrate()


_HOW_TO_MAKE = ("a store is made by syncing a catalog into it with patchwave.windows.catalog_sync (the playbook "
                "patchwave.windows.sync_catalog), with the same store option or PATCHWAVE_STORE; check the %s")


def missing_store_message(address):
    """What a reader says of a store file that does not exist."""
    path = os.path.abspath(address)
    folder = os.path.dirname(path)
    missing = "" if os.path.isdir(folder) else " (nor does its folder '%s')" % folder
    return "store '%s' does not exist%s: %s" % (path, missing, _HOW_TO_MAKE % "path")
