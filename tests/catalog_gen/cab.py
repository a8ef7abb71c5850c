# -*- coding: utf-8 -*-
"""Write Microsoft cabinet (MS-CAB) files with MSZIP compression, in pure Python.

Nothing on Linux writes LZX, so generated catalogs use MSZIP (typeCompress 1): every CFDATA
block is ``b"CK"`` followed by a complete raw-deflate stream of at most 32,768 uncompressed
bytes. Blocks are compressed independently (no preset dictionary), which every MSZIP reader
(cabextract/libmspack, gcab, Windows) accepts. Checksums are computed as MS-CAB §2.4 defines.

The writer streams: member data may be given as bytes or as a path (read in 32 KB blocks), and
the compressed blocks go straight to the output file; the header is patched at the end. A new
folder is started when one would exceed the 65,535-block limit (about 2 GB uncompressed).

``write_cab_gcab`` builds the same cabinet with the ``gcab`` tool instead (for cross-checks).
"""

from __future__ import annotations

import calendar
import os
import shutil
import struct
import subprocess
import tempfile
import zlib

BLOCK = 32768
_MAX_BLOCKS_PER_FOLDER = 65535
_MAX_FILES = 65535
_TYPE_MSZIP = 1
_ATTR_ARCHIVE = 0x20
_ATTR_NAME_IS_UTF = 0x80


def _dos_datetime(date_time):
    """(year, month, day, hour, minute, second) -> (dos date, dos time)."""
    year, month, day, hour, minute, second = date_time
    return ((year - 1980) << 9) | (month << 5) | day, (hour << 11) | (minute << 5) | (second // 2)


def _checksum(data, seed=0):
    """MS-CAB checksum: XOR of little-endian 32-bit words; a 1-3 byte tail is taken big-endian."""
    whole = len(data) & ~3
    value = seed
    if whole:
        number = int.from_bytes(data[:whole], "little")
        # Fold the big integer in halves until one 32-bit word is left (XOR of all words).
        words = whole // 4
        size = 1
        while size < words:
            size <<= 1
        width = size * 32
        while width > 32:
            width //= 2
            number = (number & ((1 << width) - 1)) ^ (number >> width)
        value ^= number
    tail = data[whole:]
    extra = 0
    for byte in tail:
        extra = (extra << 8) | byte
    return (value ^ extra) & 0xFFFFFFFF


def _block_checksum(compressed, uncompressed_size):
    partial = _checksum(compressed)
    return _checksum(struct.pack("<HH", len(compressed), uncompressed_size), partial)


def _iter_member_chunks(data):
    if isinstance(data, (bytes, bytearray, memoryview)):
        view = memoryview(data)
        for start in range(0, len(view), BLOCK):
            yield bytes(view[start:start + BLOCK])
    else:
        with open(data, "rb") as handle:
            while True:
                chunk = handle.read(BLOCK)
                if not chunk:
                    break
                yield chunk


def _member_size(data):
    if isinstance(data, (bytes, bytearray, memoryview)):
        return len(data)
    return os.path.getsize(data)


def _encode_name(name):
    name = name.replace("/", "\\")
    try:
        return name.encode("ascii"), 0
    except UnicodeEncodeError:
        return name.encode("utf-8"), _ATTR_NAME_IS_UTF


def write_cab(dst, members, date_time=(2026, 1, 1, 0, 0, 0), level=6, set_id=0x5057):
    """Write cabinet ``dst`` holding ``members``: a sequence of ``(name, bytes_or_path)``.

    Names use ``/`` or ``\\`` as folder separator (stored as ``\\``). ``date_time`` is stamped on
    every member, so the output depends only on the input (deterministic). Returns ``dst``.
    """
    members = list(members)
    if len(members) > _MAX_FILES:
        raise ValueError("a cabinet holds at most %d files, %d given" % (_MAX_FILES, len(members)))
    dos_date, dos_time = _dos_datetime(date_time)

    # Assign members to folders: a folder must stay below 65,535 blocks. A member never spans
    # folders (no continuation records are written).
    folders = []  # list of lists of (name_bytes, attribs, size, data, offset_in_folder)
    current = []
    current_size = 0
    for name, data in members:
        size = _member_size(data)
        if size > _MAX_BLOCKS_PER_FOLDER * BLOCK:
            raise ValueError("member %s is too large for one cabinet folder (%d bytes)" % (name, size))
        if current and (current_size + size) > _MAX_BLOCKS_PER_FOLDER * BLOCK:
            folders.append(current)
            current, current_size = [], 0
        encoded, attribs = _encode_name(name)
        current.append((encoded, attribs, size, data, current_size))
        current_size += size
    folders.append(current)

    header_size = 36
    folder_entry_size = 8
    files_offset = header_size + folder_entry_size * len(folders)
    file_entries = bytearray()
    for folder_index, folder in enumerate(folders):
        for encoded, attribs, size, _data, offset in folder:
            file_entries += struct.pack("<IIHHHH", size, offset, folder_index, dos_date, dos_time,
                                        _ATTR_ARCHIVE | attribs)
            file_entries += encoded + b"\0"
    data_offset = files_offset + len(file_entries)

    folder_records = []
    with open(dst, "wb") as out:
        out.write(b"\0" * data_offset)  # header, folder and file entries are written last
        position = data_offset
        for folder in folders:
            writer = _FolderWriter(out, level)
            pending = bytearray()
            for _encoded, _attribs, _size, data, _offset in folder:
                for chunk in _iter_member_chunks(data):
                    if not pending and len(chunk) == BLOCK:
                        writer.block(chunk)
                        continue
                    pending += chunk
                    while len(pending) >= BLOCK:
                        writer.block(bytes(pending[:BLOCK]))
                        del pending[:BLOCK]
            if pending or writer.blocks == 0:
                writer.block(bytes(pending))
            folder_records.append(struct.pack("<IHH", position, writer.blocks, _TYPE_MSZIP))
            position += writer.written
        count = sum(len(folder) for folder in folders)
        header = b"MSCF" + struct.pack("<IIIIIBBHHHHH", 0, position, 0, files_offset, 0, 3, 1,
                                       len(folders), count, 0, set_id, 0)
        out.seek(0)
        out.write(header)
        out.write(b"".join(folder_records))
        out.write(bytes(file_entries))
    return dst


class _FolderWriter(object):
    """Writes the CFDATA blocks of one folder: each block is 'CK' + an independent raw-deflate stream."""

    def __init__(self, out, level):
        self.out = out
        self.level = level
        self.blocks = 0
        self.written = 0

    def block(self, raw):
        compressor = zlib.compressobj(self.level, zlib.DEFLATED, -15)
        compressed = b"CK" + compressor.compress(raw) + compressor.flush(zlib.Z_FINISH)
        self.out.write(struct.pack("<IHH", _block_checksum(compressed, len(raw)), len(compressed), len(raw)))
        self.out.write(compressed)
        self.written += 8 + len(compressed)
        self.blocks += 1


def write_cab_gcab(dst, members, date_time=(2026, 1, 1, 0, 0, 0)):
    """Build the cabinet with ``gcab -c -z`` (MSZIP). Members are staged in a temporary folder."""
    gcab = shutil.which("gcab")
    if not gcab:
        raise RuntimeError("gcab is not installed")
    stamp = _epoch(date_time)
    stage = tempfile.mkdtemp(prefix="catalog_gen_gcab_")
    try:
        names = []
        for name, data in members:
            name = name.replace("\\", "/")
            path = os.path.join(stage, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if isinstance(data, (bytes, bytearray, memoryview)):
                with open(path, "wb") as handle:
                    handle.write(data)
            else:
                shutil.copyfile(data, path)
            os.utime(path, (stamp, stamp))
            names.append(name)
        target = os.path.abspath(dst)
        if os.path.exists(target):
            os.unlink(target)
        # gcab takes the member list on its command line (names here are short: c/<RevisionId> ...)
        subprocess.run([gcab, "-c", "-z", target] + names, cwd=stage, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return dst


def _epoch(date_time):
    return calendar.timegm(tuple(date_time) + (0, 0, 0))


def make_cab(dst, members, tool="python", date_time=(2026, 1, 1, 0, 0, 0), level=6):
    """Write a cabinet with the chosen tool: ``python`` (default, streaming) or ``gcab``."""
    if tool == "python":
        return write_cab(dst, members, date_time=date_time, level=level)
    if tool == "gcab":
        return write_cab_gcab(dst, members, date_time=date_time)
    raise ValueError("unknown cab tool %r (python or gcab)" % (tool,))
