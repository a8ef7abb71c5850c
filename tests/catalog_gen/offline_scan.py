# -*- coding: utf-8 -*-
"""Write a catalog as an offline scan package (``wsusscn2.cab``), catalog_formats.md §1.

Outer cabinet members: ``package.cab`` (holding the one-line ``package.xml``), ``index.xml`` and
the detail cabinets ``package2.cab ... packageK.cab`` with the ``c/<RevisionId>``,
``x/<RevisionId>`` and ``l/<lang>/<RevisionId>`` fragments. ``package.xml`` is written while the
catalog streams; its ``<FileLocations>`` go to a side file and are appended at the end. Detail
cabinets are compressed on a worker thread (zlib releases the GIL) while the next range is built.
"""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import tempfile

from . import cab as cabfile
from . import content as C
from . import xmlgen as X

OFFLINE_SYNC_NS = "http://schemas.microsoft.com/msus/2004/02/OfflineSync"
MAX_REVISIONS_PER_CAB = 65535 // (2 + 2)  # c/, x/ and up to two l/<lang>/ members per revision


def package_entry(update, category_prerequisites=False):
    """The ``<Update>`` element of ``package.xml`` for one update."""
    attrs = ['<Update CreationDate="%s" DefaultLanguage="en" UpdateId="%s" RevisionNumber="%d" RevisionId="%d"'
             % (update.date, update.update_id, update.revision_number, update.revision_id)]
    if update.bundled_by:
        attrs.append(' DeploymentAction="Bundle"')
    attrs.append(' IsLeaf="true"')
    if update.is_bundle:
        attrs.append(' IsBundle="true"')
    attrs.append(">")
    parts = ["".join(attrs)]
    if update.files:
        parts.append("<PayloadFiles>%s</PayloadFiles>" % "".join('<File Id="%s"/>' % f.sha1 for f in update.files))
    if update.is_bundle and update.kind == "software":
        categories = [("Company", C.COMPANY)]
        categories += [("Product", p) for p in update.products]
        categories += [("ProductFamily", f) for f in update.families or ()]
        categories.append(("UpdateClassification", update.classification))
        parts.append("<Categories>%s</Categories>" % "".join('<Category Type="%s" Id="%s"/>' % c for c in categories))
    clauses = []
    for clause in update.prereqs or ():
        if len(clause) == 1:
            clauses.append('<UpdateId Id="%s"/>' % clause[0])
        else:
            clauses.append("<Or>%s</Or>" % "".join('<UpdateId Id="%s"/>' % i for i in clause))
    if category_prerequisites and update.is_bundle and update.kind == "software":
        # Real packages flatten the IsCategory clauses into Prerequisites too (off by default: the
        # logical catalog keeps categories and prerequisites apart).
        clauses.append('<UpdateId Id="%s"/>' % update.classification)
        clauses += ['<UpdateId Id="%s"/>' % p for p in update.products]
    if clauses:
        parts.append("<Prerequisites>%s</Prerequisites>" % "".join(clauses))
    if update.bundled_by:
        parts.append("<BundledBy>%s</BundledBy>" % "".join('<Revision Id="%d"/>' % r for r in update.bundled_by))
    if update.superseded_by:
        parts.append("<SupersededBy>%s</SupersededBy>"
                     % "".join('<Revision Id="%d"/>' % r for r in update.superseded_by))
    if update.languages:
        parts.append("<Languages>%s</Languages>" % "".join('<Language Name="%s"/>' % code for code in update.languages))
    if len(parts) == 1:
        return parts[0][:-1] + "/>"
    parts.append("</Update>")
    return "".join(parts)


def write_offline_scan(catalog, out, revisions_per_cab=3000, cab_tool="python", level=6, outer_level=1,
                       progress=None, keep_dir=None):
    """Write ``catalog`` as an offline scan cabinet at ``out``. Returns facts for the manifest.

    ``revisions_per_cab``: RevisionIds per detail cabinet. ``cab_tool``: ``python`` (built-in
    MSZIP writer) or ``gcab``. ``keep_dir``: also leave the unpacked members (package.xml,
    index.xml, detail cabs) in this folder.
    """
    if not 1 <= revisions_per_cab <= MAX_REVISIONS_PER_CAB:
        raise ValueError("revisions_per_cab must be between 1 and %d (a cabinet holds at most 65,535 files)"
                         % MAX_REVISIONS_PER_CAB)
    out = os.path.abspath(out)
    work = tempfile.mkdtemp(prefix=".catalog_gen_", dir=os.path.dirname(out))
    stamp = _stamp(catalog.creation_date)
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    pending = []
    try:
        package_path = os.path.join(work, "package.xml")
        locations_path = os.path.join(work, "locations.part")
        detail = []  # (name, range start, path)
        members = []
        count_in_cab = 0
        done = 0
        with open(package_path, "w", encoding="utf-8", newline="") as package, \
                open(locations_path, "w", encoding="utf-8", newline="") as locations:
            package.write('<?xml version="1.0" encoding="utf-8"?><OfflineSyncPackage xmlns="%s" '
                          'MinimumClientVersion="5.8.0.2678" ProtocolVersion="1.0" PackageId="%s" SourceId="%s" '
                          'CreationDate="%s" PackageVersion="1.1"><Updates>'
                          % (OFFLINE_SYNC_NS, catalog.package_id, C.SOURCE_ID, catalog.creation_date))
            for group in catalog.groups():
                for update in group:
                    if count_in_cab == 0:
                        detail.append(["package%d.cab" % (len(detail) + 2), update.revision_id, None])
                    package.write(package_entry(update, catalog.category_prerequisites))
                    for file in update.files:
                        locations.write('<FileLocation Id="%s" Url="%s"/>' % (file.sha1, X.esc_attr(file.url)))
                    parts = X.build(update)
                    revision = update.revision_id
                    members.append(("c/%d" % revision, X.core_fragment(parts).encode("utf-8")))
                    members.append(("x/%d" % revision, X.extended_fragment(parts).encode("utf-8")))
                    for language, text in X.localized_fragments(parts).items():
                        members.append(("l/%s/%d" % (language, revision), text.encode("utf-8")))
                    count_in_cab += 1
                    done += 1
                    if count_in_cab == revisions_per_cab:
                        pending.append(_submit(executor, work, detail[-1], members, cab_tool, stamp, level))
                        members, count_in_cab = [], 0
                        _drain(pending, keep=1)
                    if progress and done % 5000 == 0:
                        progress(done, catalog.total)
            if members:
                pending.append(_submit(executor, work, detail[-1], members, cab_tool, stamp, level))
                members = []
            package.write("</Updates><FileLocations>")
        with open(package_path, "ab") as package, open(locations_path, "rb") as locations:
            shutil.copyfileobj(locations, package, 1 << 20)
            package.write(b"</FileLocations></OfflineSyncPackage>")
        os.unlink(locations_path)
        _drain(pending, keep=0)
        index_path = os.path.join(work, "index.xml")
        with open(index_path, "w", encoding="utf-8", newline="") as index:
            index.write('<?xml version="1.0" encoding="utf-8"?><CABLIST>')
            for number, (name, start, _path) in enumerate(detail):
                index.write('<CAB NAME="%s" RANGESTART="%d"%s/>' % (name, start, ' FILESDIR="1"' if number == 0 else ""))
            index.write("</CABLIST>")
        package_cab = os.path.join(work, "package.cab")
        cabfile.make_cab(package_cab, [("package.xml", package_path)], tool=cab_tool, date_time=stamp, level=level)
        outer = [("package.cab", package_cab), ("index.xml", index_path)]
        outer += [(name, path) for name, _start, path in detail]
        _write_atomically(out, lambda tmp: cabfile.make_cab(tmp, outer, tool=cab_tool, date_time=stamp,
                                                            level=outer_level))
        facts = {
            "format": "offline_scan",
            "path": out,
            "size": os.path.getsize(out),
            "package_xml_size": os.path.getsize(package_path),
            "detail_cabs": [{"name": name, "range_start": start} for name, start, _path in detail],
            "revisions_per_cab": revisions_per_cab,
            "cab_tool": cab_tool,
        }
        if keep_dir:
            os.makedirs(keep_dir, exist_ok=True)
            for name, path in [("package.xml", package_path)] + outer:
                shutil.copyfile(path, os.path.join(keep_dir, name))
        return facts
    finally:
        executor.shutdown(wait=True)
        shutil.rmtree(work, ignore_errors=True)


def _submit(executor, work, entry, members, cab_tool, stamp, level):
    path = os.path.join(work, entry[0])
    entry[2] = path
    return executor.submit(cabfile.make_cab, path, members, cab_tool, stamp, level)


def _drain(pending, keep):
    """Wait until at most ``keep`` detail cabinets are still being compressed (bounds memory)."""
    while len(pending) > keep:
        pending.pop(0).result()


def _write_atomically(out, write):
    """Run ``write(tmp)`` and move ``tmp`` to ``out``; no partial file is left behind on failure."""
    tmp = out + ".part"
    try:
        write(tmp)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _stamp(iso):
    return (int(iso[0:4]), int(iso[5:7]), int(iso[8:10]), int(iso[11:13]), int(iso[14:16]), int(iso[17:19]))
