# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""The one error every store backend raises."""

from __future__ import annotations


class StoreError(Exception):
    """The store cannot be opened or used; the message names the store and the cause."""
