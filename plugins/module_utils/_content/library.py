# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""The single-instance content library on the controller: a folder keyed by digest.

Layout (``root`` is the library folder)::

    <root>/sha256/<first 2 hex>/<sha256 hex>   a verified file whose catalog record gives a SHA-256
    <root>/sha1/<first 2 hex>/<sha1 hex>       a verified file whose record gives only a SHA-1
    <root>/.partial/<algo>-<hex>.part          a download in progress (resumed from here)
    <root>/.partial/<algo>-<hex>.lock          held while one process works on that file
    <root>/quarantine/<time>-<algo>-<hex12>-<file name>        a file whose digests did not match
    <root>/quarantine/<time>-<algo>-<hex12>-<file name>.json   why: update, file, URL, expected
                                                                and actual digests, time

A file is keyed by its strongest digest, so a name in the library is a SHA-256 claim whenever the
catalog allows one; a file shared by several updates or packages is stored once. A file reaches
its final name only by ``os.replace`` of a complete, verified ``.part`` (same file system), so no
reader ever sees half a file there; ``has()`` trusts that and checks only the size.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os

from ansible_collections.patchwave.windows.plugins.module_utils._store.files import sync_folder

PARTIAL = ".partial"
QUARANTINE = "quarantine"


def library_key(payload):
    """``(algorithm, hex)``: the digest a file is stored under (SHA-256 when given, else SHA-1)."""
    if payload.sha256:
        return "sha256", payload.sha256
    return "sha1", payload.sha1


class ContentLibrary:
    """A content library folder (created on first write)."""

    def __init__(self, root):
        self.root = os.path.abspath(os.path.expanduser(root))

    def path_of(self, payload):
        """Where the verified file lives (whether or not it is there yet)."""
        algorithm, digest = library_key(payload)
        return os.path.join(self.root, algorithm, digest[:2], digest)

    def has(self, payload):
        """Whether the library holds the file (with the catalog's size, when the catalog gives one)."""
        try:
            size = os.stat(self.path_of(payload)).st_size
        except OSError:
            return False
        return payload.size is None or size == payload.size

    def partial_path(self, payload):
        """The ``.part`` file a download of ``payload`` writes to and resumes from."""
        algorithm, digest = library_key(payload)
        return os.path.join(self.root, PARTIAL, "%s-%s.part" % (algorithm, digest))

    @contextlib.contextmanager
    def lock(self, payload):
        """Hold the file's lock: one process (or thread) at a time downloads a given file."""
        algorithm, digest = library_key(payload)
        path = os.path.join(self.root, PARTIAL, "%s-%s.lock" % (algorithm, digest))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                if self.has(payload):
                    # Done for good: later workers find the file and never need this lock.
                    with contextlib.suppress(OSError):
                        os.unlink(path)
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def insert(self, payload, partial):
        """Move a complete, verified ``partial`` to its final name; return that path."""
        final = self.path_of(payload)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        os.replace(partial, final)
        sync_folder(os.path.dirname(final))
        return final

    def quarantine(self, payload, partial, url, actual, reason):
        """Move a file that failed verification aside, with a JSON note of why; return the note."""
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        algorithm, digest = library_key(payload)
        folder = os.path.join(self.root, QUARANTINE)
        os.makedirs(folder, exist_ok=True)
        base = "%s-%s-%s-%s" % (now.strftime("%Y%m%dT%H%M%SZ"), algorithm, digest[:12], payload.file_name)
        target, suffix = os.path.join(folder, base), 1
        while os.path.exists(target) or os.path.exists(target + ".json"):
            suffix += 1
            target = os.path.join(folder, "%s.%d" % (base, suffix))
        note = {
            "update_id": payload.update_id, "kb": payload.kb, "title": payload.title,
            "file_name": payload.file_name, "url": url, "size_expected": payload.size,
            "expected": payload.digests, "actual": actual, "reason": reason,
            "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "path": target,
        }
        os.replace(partial, target)
        _write_json(target + ".json", note)
        return note

    def quarantined(self):
        """The notes of every quarantined file, oldest first."""
        folder = os.path.join(self.root, QUARANTINE)
        notes = []
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else ():
            if name.endswith(".json"):
                with open(os.path.join(folder, name), encoding="utf-8") as handle:
                    notes.append(json.load(handle))
        return notes


def _write_json(path, data):
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
    os.replace(temporary, path)
