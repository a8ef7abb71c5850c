# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""The one error every store backend raises."""

from __future__ import annotations

import os


class StoreError(Exception):
    """The store cannot be opened or used; the message names the store and the cause."""


# What every "no such store" error says a reader should do about it.
HOW_TO_MAKE = ("a store is made by syncing a catalog into it with patchwave.windows.catalog_sync (the playbook "
               "patchwave.windows.sync_catalog), with the same store option or PATCHWAVE_STORE; check the %s")


def missing_store_message(path):
    """What a reader says of a store file that does not exist."""
    path = os.path.abspath(path)
    folder = os.path.dirname(path)
    missing = "" if os.path.isdir(folder) else " (nor does its folder '%s')" % folder
    return "store '%s' does not exist%s: %s" % (path, missing, HOW_TO_MAKE % "path")
