# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Open a catalog source: detect its format, check its signature, extract it, read its records.

This is the one place that knows which reader serves which format; ``catalog_sync`` hands the
records it yields to the store. Extraction happens in a private temporary folder that is removed
on every path out, so a failed sync leaves no files behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import shutil
import tempfile

from ansible_collections.patchwave.windows.plugins.module_utils._catalog import cabinet as _cab
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import CatalogError, FileLocation

FORMATS = ("auto", "offline_scan", "wsus_export", "catalog_file")
# The feeds the Windows Update Agent itself knows (Microsoft Update, a WSUS server's export); updates of
# any other source came from a catalog file (third-party, custom) and reach WUA only when the host's
# update server publishes them.
MICROSOFT_SOURCES = ("microsoft-update", "wsus-export")
_OFFLINE_MEMBERS = ("package.cab", "index.xml")
_EXPORT_MEMBERS = ("package.xml", "metadata.txt")


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_text(head):
    """Whether the first bytes of a file read as text (UTF-8 without control characters but white space)."""
    try:
        return "".join(head.decode("utf-8").split()).isprintable()
    except UnicodeDecodeError:
        return False


def detect_format(path):
    """Name the format of the file at ``path`` from its content, or raise CatalogError."""
    where = "catalog file '%s'" % path
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        raise CatalogError("%s: cannot be read: %s" % (where, exc.strerror))
    if head.startswith(b"MSCF"):
        names = {m.name.lower() for m in _cab.list_members(path)}
        if all(m in names for m in _OFFLINE_MEMBERS):
            return "offline_scan"
        if all(m in names for m in _EXPORT_MEMBERS):
            return "wsus_export"
        raise CatalogError("%s: is a cabinet but neither an offline scan package (package.cab, index.xml) nor a "
                           "WSUS export (package.xml, metadata.txt); it holds: %s"
                           % (where, ", ".join(sorted(names)[:10]) or "nothing"))
    extension = os.path.splitext(path)[1].lower()
    if extension == ".cab":
        # Named as a cabinet but without the signature: an HTML error page or a truncated download
        # saved under the package's name, not a catalog file with the wrong name.
        looks = "; it is empty" if not head else "; it looks like text" if _is_text(head) else ""
        raise CatalogError("%s: is not a cabinet (it is named .cab but does not start with the cabinet signature "
                           "MSCF%s); download the package again" % (where, looks))
    if extension in (".yml", ".yaml", ".json") or head.lstrip()[:1] in (b"{", b"f", b"-", b"#"):
        return "catalog_file"
    raise CatalogError("%s: format not recognised (expected a cabinet or a YAML/JSON catalog file)" % where)


def _require_members(path, fmt, where):
    names = {m.name.lower() for m in _cab.list_members(path)}
    wanted = _OFFLINE_MEMBERS if fmt == "offline_scan" else _EXPORT_MEMBERS
    missing = [m for m in wanted if m not in names]
    if missing:
        hint = ""
        if fmt == "offline_scan" and all(m in names for m in _EXPORT_MEMBERS):
            hint = " (it looks like a WSUS export: use format wsus_export)"
        elif fmt == "wsus_export" and all(m in names for m in _OFFLINE_MEMBERS):
            hint = " (it looks like an offline scan package: use format offline_scan)"
        raise CatalogError("%s: member%s %s missing for format %s%s" % (
            where, "s" if len(missing) > 1 else "", ", ".join("'%s'" % m for m in missing)
            + (" are" if len(missing) > 1 else " is"), fmt, hint))
    return names


@contextlib.contextmanager
def open_source(path, fmt="auto", languages=("en",), verify_signature=True, trusted_ca_file=None, tmpdir=None):
    """Yield ``(info, records)`` for the catalog at ``path``; temporary files go when the block ends.

    ``info`` holds the detected format, the source name, the file's SHA-256, the package creation
    date and, for signed packages, the signature facts.
    """
    where = "catalog file '%s'" % path
    if not os.path.isfile(path):
        raise CatalogError("%s: does not exist or is not a file" % where)
    if fmt not in FORMATS:
        raise CatalogError("%s: format %r is not one of %s" % (where, fmt, ", ".join(FORMATS)))
    detected = detect_format(path) if fmt == "auto" else fmt
    info = {"format": detected, "path": os.path.abspath(path), "sha256": file_sha256(path),
            "source": None, "package_created": None, "signature": None}
    if detected == "catalog_file":
        from ansible_collections.patchwave.windows.plugins.module_utils._catalog.readers.catalog_file import (
            read_catalog_file,
        )

        source, records = read_catalog_file(path, languages=languages)
        info["source"] = source
        yield info, records
        return

    with open(path, "rb") as handle:
        if not handle.read(4) == b"MSCF":
            raise CatalogError("%s: is not a cabinet, but format %s needs one" % (where, detected))
    if fmt != "auto":  # detection already found the members of the format it names
        _require_members(path, detected, where)
    work = tempfile.mkdtemp(prefix="patchwave-sync-", dir=tmpdir)
    try:
        if detected == "offline_scan":
            info["source"] = MICROSOFT_SOURCES[0]
            if verify_signature:
                from ansible_collections.patchwave.windows.plugins.module_utils._catalog.authenticode import (
                    verify_cab_signature,
                )

                info["signature"] = verify_cab_signature(path, trusted_ca_file=trusted_ca_file, where=where)
            yield info, _offline_scan_records(path, work, languages, where, info)
        else:
            info["source"] = MICROSOFT_SOURCES[1]
            yield info, _wsus_export_records(path, work, languages, where, info)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def extract_offline_scan(path, work, languages, where):
    """Extract an offline scan package into ``work``; return ``(package_xml, index_xml, folders)``.

    ``folders`` maps each detail cabinet named by index.xml to the folder it was extracted into.
    Only the fragments a sync reads are extracted: core, extended and the chosen languages.
    """
    from ansible_collections.patchwave.windows.plugins.module_utils._catalog.readers import offline_scan as offline

    outer = os.path.join(work, "outer")
    _cab.extract(path, outer, where=where)
    package_cab = os.path.join(outer, "package.cab")
    package_where = "%s: member 'package.cab'" % where
    inner = os.path.join(work, "package")
    _cab.extract(package_cab, inner, where=package_where)
    package_xml = os.path.join(inner, "package.xml")
    if not os.path.isfile(package_xml):
        raise CatalogError("%s: member 'package.xml' is missing" % package_where)
    index_xml = os.path.join(outer, "index.xml")
    ranges = offline.read_index(index_xml, "%s: member 'index.xml'" % where)
    patterns = ["c/*", "x/*"] + ["l/%s/*" % language for language in (languages or ())]
    folders = {}
    for _start, name in ranges:
        detail = os.path.join(outer, name)
        if not os.path.isfile(detail):
            raise CatalogError("%s: index.xml names detail cabinet '%s', which is missing" % (where, name))
        target = os.path.join(work, "detail", name)
        # One cabextract stream per cabinet; members outside the patterns are not written.
        _cab.extract(detail, target, members=patterns, where="%s: member '%s'" % (where, name))
        folders[name] = target
        os.unlink(detail)  # the compressed copy is no longer needed: keep the disk footprint down
    return package_xml, index_xml, folders


def _offline_scan_records(path, work, languages, where, info):
    from ansible_collections.patchwave.windows.plugins.module_utils._catalog.parallel import parallel_rows
    from ansible_collections.patchwave.windows.plugins.module_utils._catalog.readers import offline_scan as offline

    package_xml, index_xml, folders = extract_offline_scan(path, work, languages, where)
    header = offline.read_package_header(package_xml, "%s: member 'package.xml'" % where)
    info["package_created"] = header["creation_date"]

    def read_share(share):
        return offline.read_offline_scan(package_xml, index_xml, folders.__getitem__, languages=languages,
                                         where=where, share=share)

    return parallel_rows(read_share, languages, where=where)


def _wsus_export_records(path, work, languages, where, info):
    from ansible_collections.patchwave.windows.plugins.module_utils._catalog.readers import wsus_export as export

    folder = os.path.join(work, "export")
    _cab.extract(path, folder, where=where)
    names = {name.lower(): name for name in os.listdir(folder)}
    package_xml = os.path.join(folder, names["package.xml"])
    info["package_created"] = export.read_package_header(package_xml)["creation_time"]
    # URLs go to the store as file locations and are joined there by SHA-1, so memory does not
    # grow with the number of files (the reader's own join keeps a map of them all).
    records = export.read_wsus_export_dir(folder, languages=languages, url_for_digest=lambda digest: ())
    locations = (FileLocation(digest, url) for digest, url in export.iter_package_file_urls(package_xml))
    return itertools.chain(records, locations)
