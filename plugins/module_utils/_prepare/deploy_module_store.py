# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""What deployment_template and deployment share: the store opened (never created: a store is made
by catalog_sync, and a deployment without a catalog and a frozen list means nothing), closed
afterwards, and one way to fail."""

from __future__ import annotations

import contextlib
import traceback

from ansible_collections.patchwave.windows.plugins.module_utils._prepare.deployments import DeploymentError
from ansible_collections.patchwave.windows.plugins.module_utils._prepare.templates import TemplateError
from ansible_collections.patchwave.windows.plugins.module_utils._store.address import resolve_store_address
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_collections.patchwave.windows.plugins.module_utils._store.errors import StoreError


@contextlib.contextmanager
def existing_store(module, store=None, failure="writing the deployment failed"):
    """Yield the open store for the module's ``store`` option.

    A StoreError, TemplateError or DeploymentError inside fails the module with its own message (it
    names the store or the object and the cause); anything else with ``failure``, the cause and the
    traceback.
    """
    opened = None
    try:
        opened = open_store(resolve_store_address(store), create=False)
        yield opened
    except (StoreError, TemplateError, DeploymentError) as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # pylint: disable=broad-exception-caught
        module.fail_json(msg="%s: %s" % (failure, exc), exception=traceback.format_exc())
    finally:
        if opened is not None:
            opened.close()
