# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """How every patchwave.windows module, plugin and role addresses the store."""

    DOCUMENTATION = r"""
options:
  store:
    description:
      - Where the collection keeps catalog versions, updates and host state.
      - A file path selects the embedded SQLite store; it is created, with its folder, on first use.
      - When not set, the environment variable E(PATCHWAVE_STORE) is used, else
        C($XDG_DATA_HOME/patchwave/patchwave.db) (C(~/.local/share/patchwave/patchwave.db) when
        E(XDG_DATA_HOME) is unset).
      - The schema is versioned; an older store is migrated when it is opened, and a store written by a
        newer version of the collection is refused.
    type: str
notes:
  - Every change to the store is one transaction; a failure leaves the store as it was.
"""
