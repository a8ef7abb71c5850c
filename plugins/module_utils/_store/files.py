# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Files that appear by atomic rename: what makes the rename itself durable."""

from __future__ import annotations

import errno
import os


def sync_folder(folder):
    """fsync ``folder`` so that a rename into it survives a crash, where the platform allows it.

    A folder that cannot be opened (Windows), or a file system that cannot fsync one (EINVAL,
    EBADF), is left as it is; any other failure is raised: the disk did not take the change.
    """
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EBADF):
            raise
    finally:
        os.close(descriptor)
