# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""What staging needs from a distribution point, whatever carries it (a folder, an SMB share).

Paths are tuples of parts relative to the distribution point's root (``_distribution/layout.py``).
Every method raises ``DistributionError`` naming the distribution point and the cause; a target
is a context manager (connect on enter, disconnect on exit).
"""

from __future__ import annotations


class Writer:
    """A new file under its temporary name: ``write`` chunks in order, ``finish``, then ``commit`` or ``discard``."""

    def write(self, chunk):
        raise NotImplementedError

    def finish(self):
        """Everything written has reached the target; returns the bytes the target says it holds."""
        raise NotImplementedError

    def commit(self, parts):
        """Rename the file to ``parts`` (same folder), replacing a file of that name, and close it.

        Returns the size of the file under its final name, as the target reports it.
        """
        raise NotImplementedError

    def discard(self):
        """Close and delete the file after a failure; raises nothing, returns False if it may be left behind."""
        raise NotImplementedError


class Target:
    """A distribution point's root, as staging uses it."""

    name = None       # the distribution point's name, for messages
    location = None   # where it is, for messages: a folder or \\server\share\folder

    def __enter__(self):
        self.connect()
        return self

    def __exit__(self, *exc_info):
        self.close()

    def connect(self, create=True):
        """Reach the root (and create it below an SMB share unless ``create`` is false: check mode).

        Fails clearly when that is impossible. ``with target:`` connects with ``create=True``.
        """

    def close(self):
        """Drop connections; never raises."""

    def free_space(self):
        """Bytes that may still be written below the root."""
        raise NotImplementedError

    def listings(self, folders):
        """``{folder: {name: size}}`` of the files in each folder (sub-folders left out), None for a missing folder."""
        raise NotImplementedError

    def size(self, parts):
        """The size of file ``parts``, or None when there is none."""
        raise NotImplementedError

    def make_folders(self, folders):
        """Create each folder (tuples of parts) and its parents, when missing."""
        raise NotImplementedError

    def subfolders(self):
        """The names of the folders directly below the root."""
        raise NotImplementedError

    def open_write(self, parts):
        """A ``Writer`` for a new file ``parts`` (replacing any file of that name)."""
        raise NotImplementedError

    def remove(self, parts):
        """Delete file ``parts``; absent is fine."""
        raise NotImplementedError
