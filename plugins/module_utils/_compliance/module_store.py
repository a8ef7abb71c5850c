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
def ingested_store(module, store=None, spool=None, failure="compliance evaluation failed"):
    """Yield ``(store, ingest counts)`` for the module's ``store`` and ``spool`` options.

    A StoreError or UpdateSetError inside fails the module with its own message (it names the store
    or the update set); anything else with ``failure``, the cause and the traceback.
    """
    address = resolve_store_address(store)
    opened = None
    try:
        opened = open_store(address, create=False)  # a reader never creates a store
        yield opened, ingest(opened, resolve_spool(spool, address))
    except (StoreError, UpdateSetError) as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # pylint: disable=broad-exception-caught
        module.fail_json(msg="%s: %s" % (failure, exc), exception=traceback.format_exc())
    finally:
        if opened is not None:
            opened.close()
