# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Put a package's files on a distribution point, and take away what no package needs any more.

Plain data in and out; the target (``path_target.PathTarget``, ``smb_target.SmbTarget``) is the
only I/O besides reading the content library.

* ``files``: the package's file records ``{sha1, sha256, size, extension, source_path}`` (a digest
  as hex or base64; one of the two may be None; ``source_path`` is the file in the content library).
* ``known``: ``{path: {size, ...}}``, what the store says this collection staged on this
  distribution point (paths as ``layout.relative_path`` gives them).
* ``ours`` and ``keep`` for pruning: the paths the store says this collection staged here, and the
  paths any package staged here still references.

What to copy is decided from the target's file sizes (one listing per content folder) and
``known``, never by reading content back: a file whose name is its digest and whose size is right
is the file. A file present with the right size that the store does not know (a WSUS server's
own, or staged by a store since lost) is left alone and reported with ``ours: false``, so prune
never touches it.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.patchwave.windows.plugins.module_utils._distribution import errors, layout
from ansible_collections.patchwave.windows.plugins.module_utils._distribution.errors import (DistributionError,
                                                                                             LayoutError)

CHUNK_BYTES = 1024 * 1024  # read, hashed and sent as one SMB write (no copy to split it)
CONCURRENCY = 4  # files in flight at once: per-file round trips overlap, large files share the link
PARTIAL_SUFFIX = ".patchwave-partial"
# .<final name>.<8 hex>.patchwave-partial: a copy in progress, or left by an interrupted run
_PARTIAL = re.compile(r"^\.(?P<final>.+)\.[0-9a-f]{8}" + re.escape(PARTIAL_SUFFIX) + r"$")


def _counts(entries):
    return {"files": len(entries), "bytes": sum(entry["size"] for entry in entries)}


def _entries(target, files):
    """The package's files as layout entries, one per content path (a file shared by updates counts once)."""
    entries = {}
    for record in files:
        try:
            parts = layout.content_parts(record.get("sha1"), record.get("sha256"), record.get("extension"))
        except LayoutError as exc:
            raise DistributionError(target.name, errors.PATH_ESCAPE, "file %s: %s"
                                    % (record.get("source_path") or record.get("sha1") or record.get("sha256"),
                                       exc)) from exc
        path = layout.relative_path(parts)
        if path not in entries:
            sha1 = layout.digest_hex(record["sha1"], "sha1") if record.get("sha1") else None
            sha256 = layout.digest_hex(record["sha256"], "sha256") if record.get("sha256") else None
            entries[path] = {"path": path, "parts": parts, "size": int(record["size"]), "sha1": sha1,
                             "sha256": sha256, "source_path": record.get("source_path")}
    return list(entries.values())


def _prune_entries(target, ours, keep, listings):
    candidates = []
    for path in sorted(set(ours or ()) - set(keep or ())):
        try:
            parts = layout.parse_relative_path(path)
        except LayoutError as exc:
            raise DistributionError(target.name, errors.PATH_ESCAPE, "the store's record of a staged file: %s"
                                    % exc) from exc
        candidates.append({"path": path, "parts": parts})
    missing = sorted({entry["parts"][:-1] for entry in candidates} - set(listings))
    listings.update(target.listings(missing))
    found = []
    for entry in candidates:
        present = (listings[entry["parts"][:-1]] or {}).get(entry["parts"][-1])
        if present is not None:
            entry["size"] = present
            found.append(entry)
    return found


def plan(target, files, known=None, ours=None, keep=None):
    """What ``stage`` would do on a connected ``target``, computed without writing anything (check mode).

    Returns ``{name, location, copied, skipped, pruned}`` (each ``{files, bytes}``: what would be
    copied, skipped, pruned), ``needed_bytes``, ``free_bytes``, ``fits``, and the lists ``copy``,
    ``skip``, ``prune``, ``partials`` (temporary files of an interrupted earlier run) and
    ``missing_folders``. ``ours=None`` means no pruning. Only the digest a file is named by (SHA-1,
    else SHA-256) is computed while sending; the content library verified both when it downloaded.
    """
    known = known or {}
    entries = _entries(target, files)
    # every content folder is listed at once (a missing one lists as None): asking the root which exist
    # first would cost the second stage one more round trip and save a first stage nothing it notices
    listings = target.listings(sorted({entry["parts"][:-1] for entry in entries}))
    copy, skip = [], []
    for entry in entries:
        present = (listings[entry["parts"][:-1]] or {}).get(entry["parts"][-1])
        entry["present_size"] = present
        entry["ours"] = entry["path"] in known
        (skip if present == entry["size"] else copy).append(entry)
    partials = [folder + (name,) for folder, found in sorted(listings.items()) for name in sorted(found or ())
                if _PARTIAL.match(name)]
    missing_folders = sorted({entry["parts"][:-1] for entry in copy if listings[entry["parts"][:-1]] is None})
    prune_list = []
    if ours is not None:
        prune_list = _prune_entries(target, ours, set(keep or ()) | {entry["path"] for entry in entries}, listings)
    needed = sum(entry["size"] for entry in copy)
    free = target.free_space() if copy else None
    return {"name": target.name, "location": target.location, "copied": _counts(copy), "skipped": _counts(skip),
            "pruned": _counts(prune_list), "needed_bytes": needed, "free_bytes": free,
            "fits": not copy or needed <= free, "copy": copy, "skip": skip, "prune": prune_list,
            "partials": partials, "missing_folders": missing_folders}


def _size_text(count):
    value = float(count)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return ("%d %s" % (value, unit)) if unit == "bytes" else ("%.1f %s" % (value, unit))
        value /= 1024
    return "%d bytes" % count  # not reached


def _check_sources(target, entries):
    for entry in entries:
        source = entry["source_path"]
        try:
            size = os.stat(source).st_size if source else None
        except OSError as exc:
            raise DistributionError(target.name, errors.SOURCE, "content library file %s for %s: %s"
                                    % (source, entry["path"], exc.strerror or exc)) from exc
        if size != entry["size"]:
            raise DistributionError(target.name, errors.SOURCE, "content library file %s for %s has %s bytes, the "
                                    "catalog says %d" % (source, entry["path"], size, entry["size"]))


def _copy(target, entry, chunk_size):
    """One file: sent under a temporary name while hashed; digest and size checked, renamed, size checked again."""
    folder, final = entry["parts"][:-1], entry["parts"][-1]
    temporary = folder + (".%s.%s%s" % (final, uuid.uuid4().hex[:8], PARTIAL_SUFFIX),)
    algorithm, expected = ("sha1", entry["sha1"]) if entry["sha1"] else ("sha256", entry["sha256"])
    digest = hashlib.new(algorithm)
    writer = target.open_write(temporary)

    def fail(cause, message, exc=None):
        left = "" if writer.discard() else "; the temporary file %s may be left behind" % "/".join(temporary)
        raise DistributionError(target.name, cause, message + left) from exc

    try:
        # one buffer per file, read into again and again: a writer is done with a chunk once write returns
        buffer = bytearray(max(1, min(chunk_size, entry["size"] + 1)))
        view = memoryview(buffer)
        with open(entry["source_path"], "rb", buffering=0) as source:
            while True:
                count = source.readinto(buffer)
                if not count:
                    break
                chunk = view[:count]
                digest.update(chunk)
                writer.write(chunk)
        landed = writer.finish()
    except DistributionError as exc:
        fail(exc.cause, "copying %s: %s; nothing was renamed" % (entry["path"], exc.detail), exc)
    except OSError as exc:
        fail(errors.SOURCE, "reading content library file %s for %s: %s"
             % (entry["source_path"], entry["path"], exc.strerror or exc), exc)
    actual = digest.hexdigest().upper()
    if actual != expected:
        fail(errors.DIGEST_MISMATCH, "content library file %s sent as %s has %s %s, expected %s; nothing was renamed"
             % (entry["source_path"], entry["path"], algorithm.upper(), actual, expected))
    if landed != entry["size"]:
        fail(errors.SIZE_MISMATCH, "%s arrived with %s bytes, expected %d; nothing was renamed"
             % (entry["path"], landed, entry["size"]))
    try:
        final = writer.commit(entry["parts"])
    except DistributionError as exc:
        try:
            target.remove(temporary)  # closed by the failed commit; a rename that did happen left nothing here
        except DistributionError:
            pass  # the next stage removes partial files it finds
        raise DistributionError(target.name, exc.cause, "renaming %s into place: %s" % (entry["path"], exc.detail)) \
            from exc
    if final != entry["size"]:  # cannot happen unless something else wrote to it: take it away again
        target.remove(entry["parts"])
        raise DistributionError(target.name, errors.SIZE_MISMATCH, "%s has %s bytes on the target once renamed, "
                                "expected %d; it was removed" % (entry["path"], final, entry["size"]))


def _record(entry, copied):
    return {"path": entry["path"], "size": entry["size"], "sha1": entry["sha1"], "sha256": entry["sha256"],
            "ours": copied or entry["ours"], "copied": copied}


def _copy_all(target, entries, chunk_size, concurrency, progress):
    """Copy ``entries``, ``concurrency`` at a time, largest first; returns (copied entries, first failure)."""
    copied, failures = [], []
    lock = threading.Lock()

    def one(entry):
        if failures:
            return  # after a failure no new file is started; those in flight finish
        try:
            _copy(target, entry, chunk_size)
        except DistributionError as exc:
            with lock:
                failures.append(exc)
            return
        with lock:
            copied.append(entry)
            if progress:
                progress(len(copied), sum(item["size"] for item in copied))

    ordered = sorted(entries, key=lambda entry: -entry["size"])
    if concurrency <= 1 or len(ordered) <= 1:
        for entry in ordered:
            one(entry)
    else:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            list(pool.map(one, ordered))
    return copied, (failures[0] if failures else None)


def stage(target, files, known=None, ours=None, keep=None, reserve_bytes=0, chunk_size=CHUNK_BYTES,
          concurrency=CONCURRENCY, progress=None):
    """Copy the package's missing or changed files to a connected ``target``; prune when ``ours`` is given.

    Nothing is copied when the files to copy (plus ``reserve_bytes``) do not fit in the target's free
    space. ``progress(files_done, bytes_done)`` is called after each copied file. Returns
    ``{name, location, copied, skipped, pruned}`` (each ``{files, bytes}``), ``files``: one record
    per package file for the store ``{path, size, sha1, sha256, ours, copied}`` (``ours``: staged by
    this collection, now or before, so a later prune may remove it), and ``removed``: the pruned paths.
    A ``DistributionError`` raised once copying started carries ``staged``: the records of the files
    that did land (complete, under their final names), for the store to record all the same.
    """
    planned = plan(target, files, known, ours, keep)
    if planned["copy"]:
        _check_sources(target, planned["copy"])
        needed = planned["needed_bytes"] + reserve_bytes
        if needed > planned["free_bytes"]:
            raise DistributionError(target.name, errors.NO_SPACE, "the package needs %s for %d files (%s) but %s "
                                    "has %s free; nothing was copied"
                                    % (_size_text(needed), planned["copied"]["files"],
                                       "with %s kept free" % _size_text(reserve_bytes) if reserve_bytes
                                       else "missing or changed", target.location, _size_text(planned["free_bytes"])))
    for parts in planned["partials"]:
        target.remove(parts)
    target.make_folders(planned["missing_folders"])
    copied, failure = _copy_all(target, planned["copy"], chunk_size, concurrency, progress)
    if failure is not None:
        failure.staged = sorted((_record(entry, True) for entry in copied), key=lambda r: r["path"])
        raise failure
    removed = _remove(target, planned["prune"])
    records = [_record(entry, True) for entry in planned["copy"]] + [_record(entry, False) for entry in planned["skip"]]
    return {"name": target.name, "location": target.location, "copied": planned["copied"],
            "skipped": planned["skipped"], "pruned": _counts(removed), "files": sorted(records, key=lambda r: r["path"]),
            "removed": [entry["path"] for entry in removed]}


def _remove(target, entries):
    for entry in entries:
        target.remove(entry["parts"])
    return entries


def prune(target, ours, keep):
    """Remove the files this collection staged here (``ours``) that no package references (``keep``).

    Only paths of the content layout are ever removed (a malformed record is refused), and only
    those listed in ``ours``: a file this collection did not put there is never touched. Returns
    ``{name, pruned: {files, bytes}, removed: [paths]}``.
    """
    removed = _remove(target, _prune_entries(target, ours, keep, {}))
    return {"name": target.name, "pruned": _counts(removed), "removed": [entry["path"] for entry in removed]}
