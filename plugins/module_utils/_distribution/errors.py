# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""The one error staging raises: it names the distribution point and the cause."""

from __future__ import annotations

# Causes, so callers and tests can tell them apart without parsing the message.
CREDENTIALS = "credentials"      # the server refused the user name or password
UNREACHABLE = "unreachable"      # no connection, no such share or folder
NO_SPACE = "no_space"            # the free-space check refused, or the target filled up mid-copy
PATH_ESCAPE = "path_escape"      # a name or folder that would leave the distribution point's root
DIGEST_MISMATCH = "digest_mismatch"  # what was sent is not the file the catalog names
SIZE_MISMATCH = "size_mismatch"  # the copy on the target does not have the expected size
SOURCE = "source"                # the file in the content library is missing or unreadable
IO = "io"                        # any other failure of the target


class DistributionError(Exception):
    """Staging to a distribution point failed; ``point`` and ``cause`` say where and why."""

    def __init__(self, point, cause, message):
        super().__init__("distribution point '%s': %s" % (point, message))
        self.point = point
        self.cause = cause
        self.detail = message
        self.staged = []  # set by stage(): records of the files that did land before the failure


class LayoutError(ValueError):
    """A digest, extension or relative path that the content layout refuses (the message says why)."""
