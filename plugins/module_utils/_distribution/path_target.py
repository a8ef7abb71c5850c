# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""A distribution point that is a folder the controller writes directly (local, NFS-mounted, a web root)."""

from __future__ import annotations

import errno
import os

from ansible_collections.patchwave.windows.plugins.module_utils._distribution import errors
from ansible_collections.patchwave.windows.plugins.module_utils._distribution.errors import DistributionError
from ansible_collections.patchwave.windows.plugins.module_utils._distribution.target import Target, Writer
from ansible_collections.patchwave.windows.plugins.module_utils._store.files import sync_folder

_NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class PathTarget(Target):
    """``root`` must exist: a missing folder is more likely an unmounted share than one to create."""

    def __init__(self, name, root):
        self.name = name
        self.root = os.path.abspath(os.path.expanduser(root))
        self.location = self.root

    def _path(self, parts):
        return os.path.join(self.root, *parts)

    def _fail(self, exc, action, parts=()):
        cause = errors.NO_SPACE if exc.errno in _NO_SPACE else errors.IO
        where = "/".join(parts) or "the root"
        return DistributionError(self.name, cause, "cannot %s %s in %s: %s" % (action, where, self.location,
                                                                               exc.strerror or exc))

    def connect(self, create=True):
        if not os.path.isdir(self.root):
            raise DistributionError(self.name, errors.UNREACHABLE, "folder %s does not exist (is it mounted?)"
                                    % self.root)
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise DistributionError(self.name, errors.CREDENTIALS, "folder %s is not writable by this user"
                                    % self.root)

    def free_space(self):
        try:
            found = os.statvfs(self.root)
        except OSError as exc:
            raise self._fail(exc, "measure free space") from exc
        return found.f_bavail * found.f_frsize

    def listings(self, folders):
        return {folder: self._listing(folder) for folder in folders}

    def _listing(self, parts):
        found = {}
        try:
            with os.scandir(self._path(parts)) as entries:
                for entry in entries:
                    if entry.is_file(follow_symlinks=False):
                        found[entry.name] = entry.stat(follow_symlinks=False).st_size
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._fail(exc, "list") from exc
        return found

    def size(self, parts):
        try:
            return os.stat(self._path(parts)).st_size
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._fail(exc, "read the size of", parts) from exc

    def make_folders(self, folders):
        for parts in folders:
            try:
                os.makedirs(self._path(parts), exist_ok=True)
            except OSError as exc:
                raise self._fail(exc, "create folder", parts) from exc

    def subfolders(self):
        try:
            with os.scandir(self.root) as entries:
                return {entry.name for entry in entries if entry.is_dir(follow_symlinks=False)}
        except OSError as exc:
            raise self._fail(exc, "list") from exc

    def open_write(self, parts):
        try:
            handle = open(self._path(parts), "wb")  # pylint: disable=consider-using-with
        except OSError as exc:
            raise self._fail(exc, "create", parts) from exc
        return _FileWriter(self, parts, handle)

    def remove(self, parts):
        try:
            os.unlink(self._path(parts))
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise self._fail(exc, "remove", parts) from exc


class _FileWriter(Writer):
    def __init__(self, target, parts, handle):
        self.target = target
        self.parts = parts
        self.handle = handle

    def _fail(self, exc, action):
        return self.target._fail(exc, action, self.parts)  # pylint: disable=protected-access

    def write(self, chunk):
        try:
            self.handle.write(chunk)
        except OSError as exc:
            raise self._fail(exc, "write") from exc

    def finish(self):
        try:
            self.handle.flush()
            os.fsync(self.handle.fileno())  # complete on disk before it gets its final name
            return os.fstat(self.handle.fileno()).st_size
        except OSError as exc:
            raise self._fail(exc, "write") from exc

    def commit(self, parts):
        try:
            self.handle.close()
            final = self.target._path(parts)  # pylint: disable=protected-access
            os.replace(self.target._path(self.parts), final)  # pylint: disable=protected-access
            sync_folder(os.path.dirname(final))  # the rename itself survives a crash
            return os.stat(final).st_size
        except OSError as exc:
            raise self._fail(exc, "rename to %s" % "/".join(parts)) from exc

    def discard(self):
        try:
            self.handle.close()
        except OSError:
            pass  # the write that failed may fail again on close; the file goes anyway
        try:
            self.target.remove(self.parts)
        except DistributionError:
            return False
        return True
