# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Checks for SQL identifiers that are built into statements."""

from __future__ import annotations

import re

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def identifier(name):
    if not _IDENTIFIER.match(name):
        raise ValueError("not a plain SQL identifier: %r" % (name,))
    return name


def column_list(columns):
    return ", ".join(identifier(c) for c in columns)
