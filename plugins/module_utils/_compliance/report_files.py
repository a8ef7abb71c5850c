# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Report files: compare with what is on disk, write by atomic rename, plan changes."""

from __future__ import annotations

import json
import os
import re
import tempfile

from ansible_collections.patchwave.windows.plugins.module_utils._store.files import sync_folder

GENERATED_RE = re.compile(r"<!--generated-->.*?<!--/generated-->", re.S)


def comparable(fmt, text):
    """The content of a report file without its generation time, for change detection."""
    if text is None:
        return None
    if fmt == "html":
        return GENERATED_RE.sub("<!--generated--><!--/generated-->", text)
    if fmt == "json":
        try:
            value = json.loads(text)
        except ValueError:
            return text
        if isinstance(value, dict):
            value.pop("generated", None)
        return json.dumps(value, sort_keys=True)
    return text


def read_text(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        return ""  # unreadable or not ours: it differs


def write_atomic(path, text, mode=None):
    """Write ``text`` to a temporary file in the same folder, fsync it, rename it over ``path``.

    The file keeps the permissions of the file it replaces; a new one gets ``mode`` (0644).
    """
    if mode is None:
        try:
            mode = os.stat(path).st_mode & 0o7777
        except OSError:
            mode = 0o644
    folder = os.path.dirname(os.path.abspath(path))
    handle, temp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    sync_folder(folder)


def plan_files(paths, contents):
    """Which files differ from what is on disk: {fmt: (path, old_text or None, changed)}."""
    plan = {}
    for fmt, path in paths.items():
        old = read_text(path)
        plan[fmt] = (path, old, comparable(fmt, old) != comparable(fmt, contents[fmt]))
    return plan
