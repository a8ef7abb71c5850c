# -*- coding: utf-8 -*-
"""Deterministic, streaming generator of Microsoft-style update catalogs for tests and benchmarks.

Three formats carry the same logical catalog:

* ``offline_scan`` - ``wsusscn2.cab`` (package.cab/package.xml, index.xml, detail cabs of fragments);
* ``wsus_export``  - a ``wsusutil export`` cabinet (package.xml + metadata.txt);
* ``catalog_file`` - the collection's own YAML/JSON format (docs/catalog_file_format.md).

Python API::

    from tests.catalog_gen import generate, Catalog, payload_bytes, write_payloads
    manifest = generate("offline_scan", "/tmp/wsusscn2.cab", updates=5000, seed=1)
    manifest["latest_cu_by_product"]      # ids tests can assert on, see Catalog.manifest()

CLI: ``python -m tests.catalog_gen --format offline_scan --updates 5000 --out /tmp/wsusscn2.cab``.
"""

from __future__ import annotations

import json
import os
import time
import urllib.parse

from .catalog import Catalog, GenFile, GenUpdate, payload_bytes
from .catalog_file import write_catalog_file
from .offline_scan import write_offline_scan
from .wsus_export import metadata_record, utf16_length, write_wsus_export

FORMATS = ("offline_scan", "wsus_export", "catalog_file")

__all__ = [
    "FORMATS", "Catalog", "GenFile", "GenUpdate", "generate", "iter_files", "metadata_record", "payload_bytes",
    "utf16_length", "write_catalog_file", "write_offline_scan", "write_payloads", "write_wsus_export",
]


def iter_files(catalog):
    """Yield every payload file (GenFile) of ``catalog``, streaming."""
    for update in catalog.iter_updates():
        yield from update.files


def write_payloads(catalog, folder, layout="flat"):
    """Write every payload file of ``catalog`` into ``folder``; return (count, bytes).

    ``layout``: ``flat`` (``folder/<FileName>``), ``wsus`` (``folder/<last SHA-1 byte, 2 hex
    digits>/<SHA1HEX><ext>``, the WsusContent layout) or ``url`` (``folder/<the URL's path>``: a web
    server's root that serves the catalog's URLs, reached through ``mirror_url``).
    """
    if layout not in ("flat", "wsus", "url"):
        raise ValueError("layout must be 'flat', 'wsus' or 'url'")
    os.makedirs(folder, exist_ok=True)
    count = total = 0
    for file in iter_files(catalog):
        if layout == "flat":
            path = os.path.join(folder, file.name)
        elif layout == "url":
            path = os.path.join(folder, *urllib.parse.urlsplit(file.url).path.lstrip("/").split("/"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
        else:
            extension = os.path.splitext(file.name)[1]
            sub = os.path.join(folder, file.sha1_hex[-2:].upper())
            os.makedirs(sub, exist_ok=True)
            path = os.path.join(sub, file.sha1_hex.upper() + extension)
        with open(path, "wb") as handle:
            handle.write(payload_bytes(file))
        count += 1
        total += file.size
    return count, total


def generate(fmt, out, updates=500, seed=0, languages=("en", "de"), payloads_dir=None, payload_layout="flat",
             sign_ca_dir=None, manifest_path=None, as_json=None, cab_tool="python", revisions_per_cab=3000,
             category_prerequisites=False, keep_dir=None, progress=None, utc_offset_minutes=None):
    """Build a catalog of about ``updates`` entries in format ``fmt`` at ``out``; return the manifest.

    ``payloads_dir``: also write the payload files there. ``sign_ca_dir``: Authenticode-sign the
    cabinet with ``tests/catalog_gen/signing.py``'s ``sign_cab(src, dst, ca_dir)``.
    ``manifest_path``: also write the manifest as JSON. ``as_json``: catalog_file as JSON (default:
    when ``out`` ends with .json). ``cab_tool``: ``python`` (built-in MSZIP writer) or ``gcab``.
    ``revisions_per_cab``: RevisionIds per offline-scan detail cabinet. ``category_prerequisites``:
    offline scan only, also list product/classification ids in package.xml ``<Prerequisites>`` as
    real packages do. ``keep_dir``: also leave the cabinet's unpacked members there.
    ``utc_offset_minutes``: wsus_export only, write dates as Microsoft's exporter does on a server
    that many minutes east of UTC (local time, offset, seven fractional digits); default UTC.
    ``progress(done, total)`` is called every 5,000 updates.
    """
    if fmt not in FORMATS:
        raise ValueError("format must be one of %s, not %r" % (", ".join(FORMATS), fmt))
    if utc_offset_minutes is not None and fmt != "wsus_export":
        raise ValueError("utc_offset_minutes is for wsus_export only (the other formats write UTC)")
    if sign_ca_dir and fmt == "catalog_file":
        raise ValueError("only cabinets can be signed (offline_scan, wsus_export)")
    started = time.time()
    catalog = Catalog(updates=updates, seed=seed, languages=languages,
                      category_prerequisites=category_prerequisites)
    out = os.path.abspath(out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    if fmt == "offline_scan":
        facts = write_offline_scan(catalog, out, revisions_per_cab=revisions_per_cab, cab_tool=cab_tool,
                                   progress=progress, keep_dir=keep_dir)
    elif fmt == "wsus_export":
        facts = write_wsus_export(catalog, out, cab_tool=cab_tool, progress=progress, keep_dir=keep_dir,
                                  utc_offset_minutes=utc_offset_minutes)
    else:
        facts = write_catalog_file(catalog, out, as_json=as_json, progress=progress)
    if sign_ca_dir:
        from . import signing  # written separately; imported only when signing is asked for

        unsigned = out + ".unsigned"
        os.replace(out, unsigned)
        try:
            signing.sign_cab(unsigned, out, sign_ca_dir)
        except BaseException:
            if os.path.exists(out):
                os.unlink(out)  # never leave a half-signed file where a signed one is expected
            raise
        finally:
            os.unlink(unsigned)
        facts["signed"] = True
        facts["size"] = os.path.getsize(out)
    manifest = catalog.manifest()
    manifest["output"] = facts
    if payloads_dir:
        count, total = write_payloads(catalog, payloads_dir, layout=payload_layout)
        manifest["payloads"] = {"folder": os.path.abspath(payloads_dir), "layout": payload_layout, "files": count,
                                "bytes": total}
    manifest["seconds"] = round(time.time() - started, 3)
    if manifest_path:
        write_manifest(manifest, manifest_path)
    return manifest


def write_manifest(manifest, path):
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=2, ensure_ascii=False, sort_keys=False)
        handle.write("\n")
