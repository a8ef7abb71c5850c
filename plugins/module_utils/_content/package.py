# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Deployment packages: the files of one frozen update list version, in the content library.

A package is named, built from a list version, and has a **content version** that goes up when its
set of files changes (a new list version, a file the catalog revised, other ``languages``). Its
``languages`` choose the language-specific payloads fetched (default: the store's languages, those
the current catalog version was synced with). ``package_files`` records each
content version's files; the library (``library.ContentLibrary``) holds each file once, by digest,
whichever packages share it. Reading the list's members is one query of its own (this package may
not import ``_prepare``).
"""

from __future__ import annotations

import json
import os

from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import normalize_languages
from ansible_collections.patchwave.windows.plugins.module_utils._content.download import DownloadOptions, download_files
from ansible_collections.patchwave.windows.plugins.module_utils._content.files import files_for_updates, missing_updates
from ansible_collections.patchwave.windows.plugins.module_utils._content.library import ContentLibrary, library_key
from ansible_collections.patchwave.windows.plugins.module_utils._content.payload import ContentError, payload_file
from ansible_collections.patchwave.windows.plugins.module_utils._store.address import default_data_dir, is_postgresql
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import format_time, utc_now


def default_library(store_address, env=None):
    """The content library folder when none is given: ``content/`` beside a SQLite store, else
    ``$XDG_DATA_HOME/patchwave/content``."""
    if is_postgresql(store_address):
        return os.path.join(default_data_dir(env), "content")
    return os.path.join(os.path.dirname(os.path.abspath(store_address)), "content")


def list_version(store, list_name, version=None):
    """``(version, [update ids])`` of a frozen version of ``list_name`` (the newest when ``version`` is None).

    Raises ContentError naming the list when it has no frozen version, or not that one.
    """
    versions = [r["version"] for r in store.query(
        "SELECT version FROM update_list_versions WHERE list_name = ? ORDER BY version", (list_name,))]
    if not versions:
        known = store.query("SELECT count(*) AS n FROM update_lists WHERE name = ?", (list_name,))[0]["n"]
        raise ContentError("update list '%s' %s: a package is built from a frozen version (update_list with "
                           "freeze: true)" % (list_name, "has no frozen version" if known else "does not exist"))
    if version is None:
        version = versions[-1]
    elif version not in versions:
        raise ContentError("update list '%s' has no version %d (versions: %s)"
                           % (list_name, version, ", ".join(str(v) for v in versions)))
    ids = [r["update_id"] for r in store.query(
        "SELECT update_id FROM update_list_members WHERE list_name = ? AND version = ? ORDER BY update_id",
        (list_name, version))]
    return version, ids


def store_languages(store):
    """The languages the store's current catalog version was synced with, or None (before schema 8,
    or no catalog yet)."""
    rows = store.query("SELECT languages FROM catalog_versions WHERE version = (SELECT max(version) FROM "
                       "catalog_versions)")
    if not rows or not rows[0]["languages"]:
        return None
    return json.loads(rows[0]["languages"])


def package_languages(store, requested):
    """``(codes, recorded)``: the languages whose language-specific files a package fetches (None:
    every language) and the list recorded with the package (``["all"]`` for every language).

    ``requested`` None means the store's languages, else every language. Raises ContentError for an
    empty list or a value that is not a language code.
    """
    if requested is None:
        requested = store_languages(store)
        if requested is None:
            return None, ["all"]
    if not requested:
        raise ContentError("languages must name at least one language, or all (leave it out for the store's "
                           "languages)")
    try:
        codes = normalize_languages(requested, "language")
    except ValueError as exc:
        raise ContentError("languages: %s" % exc) from None
    if not codes:
        return None, ["all"]
    return codes, list(codes)


def package_records(store, update_ids, languages=None):
    """The download records of the updates' files in ``languages`` (None: all); ContentError when an
    update is not in the catalog."""
    missing = missing_updates(store, update_ids)
    if missing:
        raise ContentError("the catalog no longer holds %d update(s) of the list: %s"
                           % (len(missing), ", ".join(sorted(missing)[:5])))
    return files_for_updates(store, update_ids, languages)


def file_rows(records):
    """One row per distinct file: ``{file_key, sha1, sha256, size, file_name, update_ids}`` sorted by key."""
    rows = {}
    for record in records:
        payload = payload_file(record)
        key = "%s:%s" % library_key(payload)
        row = rows.setdefault(key, {"file_key": key, "sha1": payload.sha1, "sha256": payload.sha256,
                                    "size": payload.size or 0, "file_name": payload.file_name, "update_ids": set()})
        row["update_ids"].add(record["update_id"])
    return [dict(row, update_ids=sorted(row["update_ids"])) for _key, row in sorted(rows.items())]


def current_package(store, name):
    """The package row and its newest content version's file keys, or (None, None)."""
    rows = store.query("SELECT * FROM deployment_packages WHERE name = ?", (name,))
    if not rows:
        return None, None
    package = dict(rows[0])
    rows = store.query("SELECT file_key FROM package_files WHERE package = ? AND content_version = ?",
                       (name, package["content_version"]))
    keys = {r["file_key"] for r in rows}
    return package, keys


def package_files(store, name, content_version=None):
    """The files of a package's content version (the newest by default), with ``update_ids`` decoded."""
    package, _keys = current_package(store, name)
    if package is None:
        raise ContentError("deployment package '%s' does not exist: build it with deployment_package" % name)
    version = package["content_version"] if content_version is None else content_version
    rows = [dict(r, update_ids=json.loads(r["update_ids"])) for r in store.query(
        "SELECT file_key, sha1, sha256, size, file_name, update_ids FROM package_files WHERE package = ? AND "
        "content_version = ? ORDER BY file_key", (name, version))]
    if not rows and version != package["content_version"]:
        raise ContentError("deployment package '%s' has no content version %d (the newest is %d)"
                           % (name, version, package["content_version"]))
    return package, version, rows


def _same_settings(package, list_name, list_version, library, languages):
    return (package["list_name"], package["list_version"], package["library"], package["languages"]) == (
        list_name, list_version, library, json.dumps(languages))


def deployments_of(store, name):
    """``[(deployment, update list, list version)]`` of the deployments that name package ``name``
    (their definitions are JSON; this package may not import ``_prepare``)."""
    found = []
    for row in store.query("SELECT name, definition FROM deployments ORDER BY name"):
        definition = json.loads(row["definition"])
        if definition.get("package") == name:
            found.append((row["name"], definition.get("update_list"), definition.get("list_version")))
    return found


def check_deployments(store, name, list_name, list_version):
    """ContentError when deployments name package ``name`` for another list version than the one it
    would now hold: their hosts would install from content that is not their list's."""
    others = [d for d in deployments_of(store, name) if (d[1], d[2]) != (list_name, list_version)]
    if others:
        raise ContentError(
            "deployment package '%s' is named by deployment(s) %s for update list %s; building it from '%s' version %d "
            "would give them content of another list version: build the new version under another package name "
            "(e.g. one per month), or point the deployments at it first" % (
                name, ", ".join("'%s'" % d[0] for d in others),
                ", ".join(sorted({"'%s' version %s" % (d[1], d[2]) for d in others})), list_name, list_version))


def record_package(store, name, list_name, list_version, library, rows, now=None, languages=("all",)):
    """Store the package and, when its files differ from its newest content version, a new one; one
    transaction. ``languages`` is the list recorded (``package_languages``). Returns
    ``(content_version, changed)``."""
    stamp = format_time(now or utc_now())
    package, keys = current_package(store, name)
    new_keys = {row["file_key"] for row in rows}
    size = sum(row["size"] for row in rows)
    languages = list(languages)
    same_files = package is not None and keys == new_keys
    if same_files and _same_settings(package, list_name, list_version, library, languages):
        return package["content_version"], False
    version = package["content_version"] if same_files else (package["content_version"] + 1 if package else 1)
    with store.transaction() as cursor:
        if package is None:
            cursor.execute("INSERT INTO deployment_packages (name, list_name, list_version, content_version, library, "
                           "languages, size, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (name, list_name, list_version, version, library, json.dumps(languages), size, stamp,
                            stamp))
        else:
            cursor.execute("UPDATE deployment_packages SET list_name = ?, list_version = ?, content_version = ?, "
                           "library = ?, languages = ?, size = ?, updated_at = ? WHERE name = ?",
                           (list_name, list_version, version, library, json.dumps(languages), size, stamp, name))
        if not same_files:
            cursor.executemany(
                "INSERT INTO package_files (package, content_version, file_key, sha1, sha256, size, file_name, "
                "update_ids) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(name, version, row["file_key"], row["sha1"], row["sha256"], row["size"], row["file_name"],
                  json.dumps(row["update_ids"])) for row in rows])
    return version, True


# The options of deployment_package, shared by its module and its action plugin.
PACKAGE_SPEC = dict(
    name=dict(type="str", required=True),
    update_list=dict(type="str", required=True),
    version=dict(type="int"),
    library=dict(type="path"),
    languages=dict(type="list", elements="str"),
    mirror_url=dict(type="str"),
    proxy=dict(type="str"),
    use_proxy=dict(type="bool", default=True),
    validate_certs=dict(type="bool", default=True),
    ca_path=dict(type="path"),
    timeout=dict(type="int", default=30),
    retries=dict(type="int", default=3),
    concurrency=dict(type="int", default=4),
    store=dict(type="str"),
)


def build_package(store, address, params, check_mode=False, progress=None, now=None):
    """Everything deployment_package does, as a result dict (``failed`` with ``msg`` when a file
    failed or was quarantined). Raises ContentError for a request that cannot be carried out."""
    for option, low in (("timeout", 1), ("retries", 0), ("concurrency", 1)):
        if params[option] < low:
            raise ContentError("%s must be %d or more, not %d" % (option, low, params[option]))
    library_path = os.path.abspath(os.path.expanduser(params["library"] or default_library(address)))
    version, ids = list_version(store, params["update_list"], params["version"])
    check_deployments(store, params["name"], params["update_list"], version)
    languages, recorded_languages = package_languages(store, params.get("languages"))
    rows = file_rows(package_records(store, ids, languages)) if ids else []
    library = ContentLibrary(library_path)
    package, keys = current_package(store, params["name"])
    new_keys = {row["file_key"] for row in rows}
    content_version = (package["content_version"] if package and keys == new_keys
                       else (package["content_version"] + 1 if package else 1))
    result = {"name": params["name"], "update_list": params["update_list"], "list_version": version,
              "library": library_path, "languages": recorded_languages, "updates": len(ids),
              "content_version": content_version,
              "files": len(rows), "size": sum(row["size"] for row in rows), "quarantined": [], "failed_files": []}
    # What the package is before and after this run, for diff mode.
    result["diff"] = {
        "before": {} if package is None else {
            "update_list": package["list_name"], "list_version": package["list_version"],
            "content_version": package["content_version"], "files": len(keys), "library": package["library"]},
        "after": {"update_list": params["update_list"], "list_version": version, "content_version": content_version,
                  "files": len(rows), "library": library_path}}
    if check_mode:
        records = package_records(store, ids, languages) if ids else []
        present = [r for r in _distinct_payloads(records) if library.has(r)]
        missing = [r for r in _distinct_payloads(records) if not library.has(r)]
        result.update(downloaded={"files": len(missing), "bytes": sum(p.size or 0 for p in missing)},
                      reused={"files": len(present), "bytes": sum(p.size or 0 for p in present)},
                      changed=bool(missing) or package is None or keys != new_keys
                      or not _same_settings(package, params["update_list"], version, library_path,
                                            recorded_languages))
        return result
    options = DownloadOptions(concurrency=params["concurrency"], retries=params["retries"],
                              timeout=float(params["timeout"]), validate_certs=params["validate_certs"],
                              ca_path=params["ca_path"], proxy=params["proxy"], use_proxy=params["use_proxy"],
                              mirror_url=params["mirror_url"])
    fetched = download_files(package_records(store, ids, languages) if ids else [], library, options, progress)
    result.update(downloaded=fetched["downloaded"], reused=fetched["reused"], resumed=fetched["resumed"],
                  quarantined=fetched["quarantined"], failed_files=fetched["failed"])
    if fetched["quarantined"] or fetched["failed"]:
        problems = [q["message"] for q in fetched["quarantined"]] + [f["message"] for f in fetched["failed"]]
        first = problems[0] if len(problems[0]) <= 600 else problems[0][:600] + " ..."
        result.update(changed=bool(fetched["downloaded"]["files"]), failed=True,
                      msg="deployment package '%s': %d of %d files could not be put in the library (%d quarantined, %d "
                          "failed to download), so the package was not recorded; the files that arrived stay in the "
                          "library. The first: %s (each is in quarantined / failed_files)"
                          % (params["name"], len(problems), len(rows), len(fetched["quarantined"]),
                             len(fetched["failed"]), first))
        return result
    content_version, recorded = record_package(store, params["name"], params["update_list"], version, library_path,
                                               rows, now, recorded_languages)
    result.update(content_version=content_version, changed=recorded or bool(fetched["downloaded"]["files"]))
    return result


def _distinct_payloads(records):
    seen = {}
    for record in records:
        payload = payload_file(record)
        seen.setdefault(library_key(payload), payload)
    return list(seen.values())
