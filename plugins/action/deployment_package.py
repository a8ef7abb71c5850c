# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of ``patchwave.windows.deployment_package``: the download runs here, in the
controller's process, so its progress (files and bytes done) can be shown with ``-v`` while it runs."""

from __future__ import annotations

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.errors import UnsupportedError
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible_collections.patchwave.windows.plugins.module_utils._content.package import PACKAGE_SPEC, build_package
from ansible_collections.patchwave.windows.plugins.module_utils._content.payload import ContentError
from ansible_collections.patchwave.windows.plugins.module_utils._store.address import resolve_store_address
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_collections.patchwave.windows.plugins.module_utils._store.errors import StoreError

display = Display()

MODULE = "patchwave.windows.deployment_package"


def _megabytes(number):
    return "%.1f MB" % (number / 1e6)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        self._supports_async = False
        result = super().run(tmp, task_vars)
        validation = ArgumentSpecValidator(PACKAGE_SPEC).validate(dict(self._task.args))
        if validation.error_messages:
            message = to_text(validation.errors.msg)
            if isinstance(validation.errors[0], UnsupportedError):
                message = "Unsupported parameters for (%s) module: %s" % (MODULE, message)
            return dict(result, failed=True, msg=message)
        params = validation.validated_parameters
        address = resolve_store_address(params["store"])

        def progress(state):
            display.v("%s: %d of %d files, %s of %s (%s)" % (
                params["name"], state["files_done"], state["files_total"], _megabytes(state["bytes_done"]),
                _megabytes(state["bytes_total"]), state["file_name"]))

        try:
            store = open_store(address, create=False)
        except StoreError as exc:
            return dict(result, failed=True, msg=to_text(exc))
        try:
            outcome = build_package(store, address, params, self._task.check_mode, progress)
        except (ContentError, StoreError) as exc:
            return dict(result, failed=True, msg=to_text(exc))
        finally:
            store.close()
        diff = outcome.pop("diff")
        if self._task.diff:
            result["diff"] = diff
        result.update(outcome)
        return result
