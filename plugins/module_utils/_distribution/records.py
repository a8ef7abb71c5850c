# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""A package on a distribution point, with the store's record of it: what the store says was staged
decides what to skip and what prune may remove; what landed is recorded in one transaction."""

from __future__ import annotations

import hashlib
import os
from types import SimpleNamespace

from ansible_collections.patchwave.windows.plugins.module_utils._content.library import ContentLibrary
from ansible_collections.patchwave.windows.plugins.module_utils._distribution import layout, stage
from ansible_collections.patchwave.windows.plugins.module_utils._distribution.errors import DistributionError
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import format_time, utc_now

OFFLINE_SCAN_NAME = "wsusscn2.cab"


def stage_files(library, rows):
    """The staging records ``{sha1, sha256, size, extension, source_path}`` of a package's file rows."""
    found = ContentLibrary(library)
    records = []
    for row in rows:
        payload = SimpleNamespace(sha1=row["sha1"], sha256=row["sha256"], size=row["size"])
        records.append({"sha1": row["sha1"], "sha256": row["sha256"], "size": row["size"],
                        "extension": layout.extension_of(row["file_name"]), "source_path": found.path_of(payload)})
    return records


def staged_state(store, point, package):
    """``(known, keep)`` for ``point``: the store's record of what this collection staged there
    (``{path: {size}}``), and the paths the other packages staged there still reference."""
    # the offline scan package lies beside the content layout: never a content file, never pruned
    known = {r["path"]: {"size": r["size"]} for r in store.query(
        "SELECT path, size FROM staged_files WHERE point = ? AND path <> ?", (point, OFFLINE_SCAN_NAME))}
    keep = set()
    for row in store.query(
            "SELECT f.sha1, f.sha256, f.file_name FROM staged_packages s JOIN package_files f ON f.package = s.package "
            "AND f.content_version = s.content_version WHERE s.point = ? AND s.package <> ?", (point, package)):
        keep.add(layout.relative_path(layout.content_parts(row["sha1"], row["sha256"], layout.extension_of(row["file_name"]))))
    return known, keep


def record(store, point, package, content_version, outcome, now=None):
    """What landed on ``point`` (``stage.stage``'s records, or a failure's ``staged``) and which
    package version it holds; one transaction."""
    stamp = format_time(now or utc_now())
    with store.transaction() as cursor:
        for row in outcome.get("files", ()):
            if row["ours"]:
                cursor.execute("INSERT INTO staged_files (point, path, sha1, sha256, size, staged_at) VALUES "
                               "(?, ?, ?, ?, ?, ?) ON CONFLICT (point, path) DO UPDATE SET size = excluded.size, "
                               "staged_at = CASE WHEN ? THEN excluded.staged_at ELSE staged_files.staged_at END",
                               (point, row["path"], row["sha1"], row["sha256"], row["size"], stamp, bool(row["copied"])))
        for path in outcome.get("removed", ()):
            cursor.execute("DELETE FROM staged_files WHERE point = ? AND path = ?", (point, path))
        if content_version is not None:
            cursor.execute("INSERT INTO staged_packages (point, package, content_version, staged_at, verified_at) "
                           "VALUES (?, ?, ?, ?, ?) ON CONFLICT (point, package) DO UPDATE SET content_version = "
                           "excluded.content_version, verified_at = excluded.verified_at, staged_at = CASE WHEN "
                           "staged_packages.content_version = excluded.content_version THEN staged_packages.staged_at "
                           "ELSE excluded.staged_at END", (point, package, content_version, stamp, stamp))


def stage_on_point(store, target, package, content_version, rows, library, prune=False, check_mode=False,
                   progress=None, now=None):
    """Stage a package's content version on a connected target and record it; the per-point result
    ``{name, location, copied, skipped, pruned, changed}``. A DistributionError is raised after what
    landed has been recorded."""
    files = stage_files(library, rows)
    known, keep = staged_state(store, target.name, package)
    ours = set(known) if prune else None
    previous = store.query("SELECT content_version FROM staged_packages WHERE point = ? AND package = ?",
                           (target.name, package))
    moved_on = not previous or previous[0]["content_version"] != content_version
    if check_mode:
        planned = stage.plan(target, files, known, ours, keep)
        if not planned["fits"]:
            raise DistributionError(target.name, "no_space", "the package needs %d bytes but %s has %s free"
                                    % (planned["needed_bytes"], target.location, planned["free_bytes"]))
        return _summary(planned, moved_on)
    try:
        outcome = stage.stage(target, files, known, ours, keep, progress=progress)
    except DistributionError as exc:
        record(store, target.name, package, None, {"files": exc.staged}, now)
        raise
    unknown_ours = [row for row in outcome["files"] if row["ours"] and row["path"] not in known]
    record(store, target.name, package, content_version, outcome, now)
    return _summary(outcome, moved_on or bool(unknown_ours))


def _summary(outcome, moved_on):
    changed = bool(outcome["copied"]["files"] or outcome["pruned"]["files"] or moved_on)
    return {"name": outcome["name"], "location": outcome["location"], "copied": outcome["copied"],
            "skipped": outcome["skipped"], "pruned": outcome["pruned"], "changed": changed}


def staged_packages(store, package=None):
    """Where packages are staged: ``[{point, package, content_version, staged_at, verified_at}]``."""
    where, params = ("WHERE package = ?", (package,)) if package else ("", ())
    return store.query("SELECT point, package, content_version, staged_at, verified_at FROM staged_packages %s "
                       "ORDER BY point, package" % where, params)


def offline_scan_source(store):
    """``(path, None)``: the offline scan package the current catalog version was synced from, still at
    its path and still the same file (its SHA-256 as the sync recorded it); else ``(None, why)``."""
    rows = store.query("SELECT version, format, source_path, source_sha256 FROM catalog_versions "
                       "ORDER BY version DESC LIMIT 1")
    if not rows or rows[0]["format"] != "offline_scan" or not rows[0]["source_path"]:
        return None, "the current catalog version was not synced from an offline scan package"
    row = rows[0]
    path = row["source_path"]
    if not os.path.isfile(path):
        return None, "%s, which catalog version %d was synced from, is no longer there" % (path, row["version"])
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(stage.CHUNK_BYTES), b""):
            digest.update(chunk)
    if row["source_sha256"] and digest.hexdigest() != row["source_sha256"].lower():
        return None, ("%s has changed since catalog version %d was synced from it (a newer package, not synced "
                      "yet?): hosts would scan against another catalog than the store's; sync it first"
                      % (path, row["version"]))
    return path, None


def put_offline_scan(store, target, source, check_mode=False, now=None):
    """The catalog's offline scan package as ``<root>/wsusscn2.cab``, so hosts that reach only this
    distribution point scan against the same catalog version. Copied when the store's record of it
    (its SHA-1) or its size on the target differs; ``{copied: {files, bytes}, skipped: {...}}``."""
    digest = hashlib.sha1()
    with open(source, "rb") as handle:
        for chunk in iter(lambda: handle.read(stage.CHUNK_BYTES), b""):
            digest.update(chunk)
    sha1 = digest.hexdigest().upper()
    size = os.path.getsize(source)
    recorded = store.query("SELECT sha1 FROM staged_files WHERE point = ? AND path = ?", (target.name, OFFLINE_SCAN_NAME))
    if recorded and recorded[0]["sha1"] == sha1 and target.size((OFFLINE_SCAN_NAME,)) == size:
        return {"copied": {"files": 0, "bytes": 0}, "skipped": {"files": 1, "bytes": size}}
    if not check_mode:
        entry = {"parts": (OFFLINE_SCAN_NAME,), "path": OFFLINE_SCAN_NAME, "sha1": sha1, "sha256": None, "size": size,
                 "source_path": source}
        stage._copy(target, entry, stage.CHUNK_BYTES)  # pylint: disable=protected-access
        record(store, target.name, None, None, {"files": [{"path": OFFLINE_SCAN_NAME, "sha1": sha1, "sha256": None,
                                                          "size": size, "ours": True, "copied": True}]}, now)
    return {"copied": {"files": 1, "bytes": size}, "skipped": {"files": 0, "bytes": 0}}
