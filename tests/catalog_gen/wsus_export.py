# -*- coding: utf-8 -*-
"""Write a catalog as a WSUS export cabinet (``wsusutil export``), catalog_formats.md §2.5.

Members: ``package.xml`` (UTF-8 with BOM, one line, ``<ExportPackage>``) and ``metadata.txt``
(no BOM; records ``<UpdateID>,<RevisionNumber %08x>,<XML length %08x>,<XML>\\r\\n`` where the
length counts UTF-16 code units, as .NET's ``string.Length`` does). The real export is LZX;
nothing on Linux writes LZX, so this one is MSZIP.

As Microsoft's exporter does, detectoids and categories come first and payload children are
written before the bundles that contain them. ``package.xml``'s ``<Files>`` precede
``<Updates>``, so both lists stream into side files that are joined at the end.
"""

from __future__ import annotations

import datetime
import os
import shutil
import tempfile

from . import cab as cabfile
from . import content as C
from . import xmlgen as X
from .offline_scan import _stamp, _write_atomically


def utf16_length(text):
    """Length of ``text`` in UTF-16 code units (characters outside the BMP count twice)."""
    return len(text.encode("utf-16-le")) // 2


def local_time(iso, utc_offset_minutes, ticks=0):
    """``iso`` (``YYYY-MM-DDTHH:MM:SS[.fff]Z``) as .NET's round-trip format writes a local time: the
    wall-clock time at ``utc_offset_minutes`` east of UTC, seven fractional digits (``ticks``, 100 ns
    each, replace the fraction) and the offset, e.g. ``2004-02-28T18:17:34.1032476-08:00``."""
    moment = datetime.datetime.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S")
    moment += datetime.timedelta(minutes=utc_offset_minutes)
    sign = "-" if utc_offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(utc_offset_minutes), 60)
    return "%s.%07d%s%02d:%02d" % (moment.strftime("%Y-%m-%dT%H:%M:%S"), ticks, sign, hours, minutes)


def _with_local_times(update, parts, utc_offset_minutes):
    """``parts`` with CreationDate and every file's Modified written as local times (see local_time)."""
    tag = update.revision_number * 7919 % 10000  # sub-millisecond digits, so all seven vary
    properties = parts["properties"]
    attrs = tuple((k, local_time(v, utc_offset_minutes, (update.date_ms or 0) * 10000 + tag) if k == "CreationDate" else v)
                  for k, v in properties[2])
    parts = dict(parts, properties=properties[:2] + (attrs,) + properties[3:])
    if parts["files"] is not None:
        files = parts["files"]
        parts["files"] = files[:3] + (tuple(
            entry[:2] + (tuple((k, local_time(v, utc_offset_minutes, tag) if k == "Modified" else v)
                               for k, v in entry[2]),) + entry[3:]
            for entry in files[3]),) + files[4:]
    return parts


def metadata_record(update, utc_offset_minutes=None):
    """One metadata.txt record for ``update`` (str, including the CRLF).

    ``utc_offset_minutes``: write the dates as Microsoft's exporter does, as the server's local time
    with its offset and seven fractional digits; None writes them in UTC (``...Z``).
    """
    parts = X.build(update)
    if utc_offset_minutes is not None:
        parts = _with_local_times(update, parts, utc_offset_minutes)
    xml = X.full_xml(update, parts)
    return "%s,%08x,%08x,%s\r\n" % (update.update_id, update.revision_number, utf16_length(xml), xml)


def _export_update(update):
    files = "".join('<File Digest="%s" />' % f.sha1 for f in update.files)
    categories = "".join('<Category Value="%s" />' % p for p in update.products or ()) if update.is_bundle else ""
    classified = update.is_bundle and update.classification
    classes = ('<Classification Value="%s" />' % update.classification) if classified else ""
    return ('<Update UpdateId="%s" RevisionNumber="%d">%s%s%s</Update>'
            % (update.update_id, update.revision_number,
               "<Files>%s</Files>" % files if files else "<Files />",
               "<Categories>%s</Categories>" % categories if categories else "<Categories />",
               "<Classifications>%s</Classifications>" % classes if classes else "<Classifications />"))


def write_wsus_export(catalog, out, cab_tool="python", level=6, progress=None, keep_dir=None, utc_offset_minutes=None):
    """Write ``catalog`` as a WSUS export cabinet at ``out``. Returns facts for the manifest.

    ``utc_offset_minutes``: write CreationDate, file Modified and the package's CreationTime as a
    server that many minutes east of UTC does (see local_time); None writes UTC.
    """
    out = os.path.abspath(out)
    work = tempfile.mkdtemp(prefix=".catalog_gen_", dir=os.path.dirname(out))
    try:
        metadata_path = os.path.join(work, "metadata.txt")
        files_path = os.path.join(work, "files.part")
        updates_path = os.path.join(work, "updates.part")
        done = 0
        records = 0
        with open(metadata_path, "w", encoding="utf-8", newline="") as metadata, \
                open(files_path, "w", encoding="utf-8", newline="") as files, \
                open(updates_path, "w", encoding="utf-8", newline="") as updates:
            for group in catalog.groups():
                ordered = group[1:] + group[:1]  # bundled updates before the bundle
                for update in ordered:
                    metadata.write(metadata_record(update, utc_offset_minutes))
                    records += 1
                    updates.write(_export_update(update))
                    for file in update.files:
                        files.write('<File Digest="%s" MUUrl="%s" Name="%s" />'
                                    % (file.sha1, X.esc_attr(file.url), X.esc_attr(file.name)))
                    done += 1
                    if progress and done % 5000 == 0:
                        progress(done, catalog.total)
        package_path = os.path.join(work, "package.xml")
        with open(package_path, "wb") as package:
            languages = "".join('<Language Id="%s" ShortName="%s" LongName="%s" Enabled="%d" />'
                                % (lang_id, short, long_name,
                                   1 if (short in catalog.languages or short == "all") else 0)
                                for lang_id, short, long_name in C.EXPORT_LANGUAGES)
            server_id = catalog.update_id("export-server-id")
            created = catalog.creation_date
            if utc_offset_minutes is not None:
                created = local_time(created, utc_offset_minutes, 1032476)
            package.write(("\ufeff<?xml version=\"1.0\" encoding=\"utf-8\"?><ExportPackage ServerID=\"%s\" "
                           "CreationTime=\"%s\" FormatVersion=\"1.0\" ProtocolVersion=\"1.20\"><Languages>%s"
                           "</Languages>" % (server_id, created, languages)).encode("utf-8"))
            if os.path.getsize(files_path):
                package.write(b"<Files>")
                with open(files_path, "rb") as part:
                    shutil.copyfileobj(part, package, 1 << 20)
                package.write(b"</Files>")
            else:
                package.write(b"<Files />")
            package.write(b"<Updates>")
            with open(updates_path, "rb") as part:
                shutil.copyfileobj(part, package, 1 << 20)
            package.write(b"</Updates></ExportPackage>")
        os.unlink(files_path)
        os.unlink(updates_path)
        members = [("package.xml", package_path), ("metadata.txt", metadata_path)]
        _write_atomically(out, lambda tmp: cabfile.make_cab(tmp, members, tool=cab_tool,
                                                            date_time=_stamp(catalog.creation_date), level=level))
        facts = {"format": "wsus_export", "path": out, "size": os.path.getsize(out), "records": records,
                 "metadata_txt_size": os.path.getsize(metadata_path), "package_xml_size": os.path.getsize(package_path),
                 "cab_tool": cab_tool}
        if keep_dir:
            os.makedirs(keep_dir, exist_ok=True)
            for name, path in (("package.xml", package_path), ("metadata.txt", metadata_path)):
                shutil.copyfile(path, os.path.join(keep_dir, name))
        return facts
    finally:
        shutil.rmtree(work, ignore_errors=True)
