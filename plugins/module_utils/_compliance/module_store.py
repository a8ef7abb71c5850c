# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""What the modules that read compliance share: the store opened, the waiting state messages
moved in first, the store closed afterwards, and one way to fail."""

from __future__ import annotations

import contextlib
import traceback

from ansible_collections.patchwave.windows.plugins.module_utils._compliance.update_sets import UpdateSetError
from ansible_collections.patchwave.windows.plugins.module_utils._scan.ingest import ingest
from ansible_collections.patchwave.windows.plugins.module_utils._store.address import (
    resolve_spool,
    resolve_store_address,
)
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_collections.patchwave.windows.plugins.module_utils._store.errors import StoreError


@contextlib.contextmanager
def existing_store(module, store=None, failure="the store could not be used", errors=()):
    """Yield the open store for the module's ``store`` option, never created (a store is made by
    catalog_sync), closed afterwards.

    A StoreError, or one of ``errors`` (exception classes whose message names the object and the
    cause), raised inside fails the module with its own message; anything else with ``failure``,
    the cause and the traceback.
    """
    opened = None
    try:
        opened = open_store(resolve_store_address(store), create=False)
        yield opened
    except (StoreError,) + tuple(errors) as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # pylint: disable=broad-exception-caught
        module.fail_json(msg="%s: %s" % (failure, exc), exception=traceback.format_exc())
    finally:
        if opened is not None:
            opened.close()


@contextlib.contextmanager
def ingested_store(module, store=None, spool=None, failure="compliance evaluation failed"):
    """Yield ``(store, ingest counts)`` for the module's ``store`` and ``spool`` options: the
    existing store (``existing_store``, an UpdateSetError failing the module with its message too),
    with the state messages waiting in the spool moved in first."""
    address = resolve_store_address(store)
    with existing_store(module, address, failure, (UpdateSetError,)) as opened:
        yield opened, ingest(opened, resolve_spool(spool, address))
