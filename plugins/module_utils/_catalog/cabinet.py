# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Read the directory of a Microsoft Cabinet file and extract it safely with ``cabextract``.

The directory (CFHEADER, CFFOLDER and CFFILE records, see [MS-CAB]) is parsed here in pure
Python, in one bounded pass and without decompressing anything, so that a cabinet is refused
*before* any byte lands on disk when it is truncated, part of a multi-cabinet set, or names a
member that would escape the extraction folder. Decompression (MSZIP, Quantum and above all
LZX, which Microsoft uses everywhere) is left to ``cabextract`` (Debian package ``cabextract``,
libmspack), called once per cabinet.

Extraction runs ``cabextract --pipe`` once per cabinet and splits its output by the sizes the
directory declares: every file is created here, from a name that passed the checks above,
with ``O_EXCL | O_NOFOLLOW`` under folders verified to lie inside the extraction folder, and
byte-counted, so each expected member exists with its declared size and nothing else can
appear. Files land in a fresh folder beside the destination, renamed into place only when
complete; on any error it is removed. (Measured on generated offline scan packages: as fast as
a bare ``cabextract -d``, which also sets times and modes per file; ``-d`` followed by a
check of the extracted tree cost 1.4x.) Member modification times are not restored.

Three cabextract behaviours shape this module: it extracts *every* cabinet it finds in a file
(so a second cabinet hidden after cbCabinet, where a signature normally sits, is refused before
extraction); it honours only the last ``-F`` pattern (several patterns stream the whole
cabinet and keep what matches); and it verifies the CFDATA checksums of every folder type, so
damaged data makes it fail. The checksum is a plain XOR of 32-bit words, though, and cannot see
every change (a signed cabinet's signature can).
"""

from __future__ import annotations

import collections
import errno
import fnmatch
import os
import re
import secrets
import shutil
import struct
import subprocess
import tempfile

from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import CatalogError, program_path

SIGNATURE = b"MSCF"
FLAG_PREV_CABINET = 0x0001
FLAG_NEXT_CABINET = 0x0002
FLAG_RESERVE_PRESENT = 0x0004
ATTR_READONLY = 0x01
ATTR_HIDDEN = 0x02
ATTR_SYSTEM = 0x04
ATTR_ARCHIVE = 0x20
ATTR_EXEC = 0x40
ATTR_NAME_IS_UTF = 0x80
COMPRESSION_NAMES = {0: "none", 1: "MSZIP", 2: "Quantum", 3: "LZX"}

_HEADER = struct.Struct("<4sIIIIIBBHHHHH")  # CFHEADER up to iCabinet: 36 bytes
_RESERVE_SIZES = struct.Struct("<HBB")      # cbCFHeader, cbCFFolder, cbCFData
_FOLDER = struct.Struct("<IHH")             # coffCabStart, cCFData, typeCompress
_FILE = struct.Struct("<IIHHHH")            # cbFile, uoffFolderStart, iFolder, date, time, attribs
_DATA = struct.Struct("<IHH")               # csum, cbData, cbUncomp (+ cbCFData reserve bytes)
_DATA_HEADER_SIZE = _DATA.size
_MAX_HEADER_RESERVE = 60000                 # [MS-CAB] 2.1: cbCFHeader is at most 60,000
_MAX_NAME = 256                             # szName: up to 256 bytes plus the terminating NUL
_MAX_BLOCK = 32768                          # a CFDATA block never holds more than 32 KiB uncompressed
_IFOLDER_CONTINUED = (0xFFFD, 0xFFFE, 0xFFFF)  # continued from/to another cabinet of a set
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

#: ``read_member`` keeps the member in memory: refuse anything larger than this by default.
READ_MEMBER_LIMIT = 64 * 1024 * 1024
_PIPE_CHUNK = 1 << 20
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)

CabMember = collections.namedtuple(
    "CabMember", "name size folder compression offset attributes modified")
CabMember.__doc__ = """One file listed in a cabinet's directory.

``name`` uses '/' as separator; ``size`` is the declared uncompressed size; ``folder`` the CFFOLDER
index; ``compression`` one of none, MSZIP, Quantum, LZX; ``offset`` the uncompressed offset in the
folder; ``attributes`` the raw attribs word; ``modified`` the DOS date/time as
'YYYY-MM-DDTHH:MM:SS' (local time of the packer, no zone), or None when it is not a valid date.
"""

CabDirectory = collections.namedtuple(
    "CabDirectory", "path size file_size members folders set_id signature data_reserve")
CabDirectory.__doc__ = """The parsed directory of a cabinet.

``size`` is cbCabinet, ``file_size`` the size on disk (larger when a signature or other bytes
follow the cabinet); ``folders`` a list of ``(compression, data_blocks, data_offset)``;
``signature`` the ``(offset, length)`` of an Authenticode signature announced in the header
reserve, or None; ``data_reserve`` cbCFData, the reserved bytes in each CFDATA header.
"""


def _where(cab_path, where):
    return where or "cabinet file '%s'" % cab_path


def _show(name):
    """A member name made safe for a one-line message."""
    return _CONTROL.sub(lambda m: "\\x%02x" % ord(m.group(0)), name)


def _dos_datetime(date, time):
    year, month, day = 1980 + (date >> 9), (date >> 5) & 0x0F, date & 0x1F
    hour, minute, second = time >> 11, (time >> 5) & 0x3F, (time & 0x1F) * 2
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 60):
        return None
    return "%04d-%02d-%02dT%02d:%02d:%02d" % (year, month, day, hour, minute, second)


def _cstring(buf, pos, limit, what, where):
    """Return ``(bytes, next_pos)`` for a NUL-terminated string of at most ``limit`` bytes."""
    end = buf.find(b"\0", pos, pos + limit + 1)
    if end < 0:
        if len(buf) - pos <= limit:
            raise CatalogError("%s: is truncated: its directory runs past the end of the file (in %s)"
                               % (where, what))
        raise CatalogError("%s: %s is not terminated within %d bytes" % (where, what, limit))
    return buf[pos:end], end + 1


def _member_name(raw, attribs, index, where):
    """Decode and check one CFFILE name; return it with '/' separators."""
    if not raw:
        raise CatalogError("%s: member #%d has an empty name" % (where, index + 1))
    if attribs & ATTR_NAME_IS_UTF:
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CatalogError("%s: member #%d name %r is flagged UTF-8 but is not valid UTF-8"
                               % (where, index + 1, raw))
    else:
        try:
            name = raw.decode("ascii")
        except UnicodeDecodeError:
            # cabextract writes such names byte for byte; their code page is unknown, so refuse them.
            raise CatalogError("%s: member #%d name %r is neither ASCII nor flagged UTF-8 (unknown code page)"
                               % (where, index + 1, raw))
    # cabextract treats both '\' and '/' as folder separators; so do we.
    name = name.replace("\\", "/")
    if _CONTROL.search(name):
        raise CatalogError("%s: member '%s' has control characters in its name" % (where, _show(name)))
    if name.startswith("/"):
        raise CatalogError("%s: member '%s' escapes the extraction folder (absolute path)" % (where, name))
    if _DRIVE.match(name):
        raise CatalogError("%s: member '%s' escapes the extraction folder (drive letter)" % (where, name))
    parts = name.split("/")
    if ".." in parts:
        raise CatalogError("%s: member '%s' escapes the extraction folder ('..' component)" % (where, name))
    if "" in parts or "." in parts:
        raise CatalogError("%s: member '%s' has an empty or '.' path component" % (where, name))
    return name


def read_directory(cab_path, where=None):
    """Parse and check the directory of the cabinet at ``cab_path``; return a ``CabDirectory``.

    One pass, no decompression. Raises CatalogError (naming the file and the cause) for a file
    that is not a cabinet, is truncated, belongs to a multi-cabinet set, declares impossible
    sizes, or names members that are unsafe to extract (absolute, drive letter, '..', empty,
    duplicates, a member that is also another member's folder).
    """
    where = _where(cab_path, where)
    try:
        with open(cab_path, "rb") as handle:
            file_size = os.fstat(handle.fileno()).st_size
            head = handle.read(_HEADER.size + _RESERVE_SIZES.size + _MAX_HEADER_RESERVE + 4 * (_MAX_NAME + 1))
            if not head.startswith(SIGNATURE):
                raise CatalogError("%s: is not a cabinet (no 'MSCF' signature)" % where)
            if len(head) < _HEADER.size:
                raise CatalogError("%s: is truncated: %d bytes, shorter than a cabinet header" % (where, len(head)))
            (_sig, _r1, cab_size, _r2, coff_files, _r3, _minor, major, n_folders, n_files, flags, set_id,
             _index) = _HEADER.unpack_from(head)
            if major != 1:
                raise CatalogError("%s: cabinet format version %d is not supported" % (where, major))
            if cab_size > file_size:
                raise CatalogError("%s: is truncated: the header says %d bytes, the file has %d"
                                   % (where, cab_size, file_size))
            pos = _HEADER.size
            header_reserve = folder_reserve = data_reserve = 0
            signature = None
            if flags & FLAG_RESERVE_PRESENT:
                if len(head) < pos + _RESERVE_SIZES.size:
                    raise CatalogError("%s: is truncated: its directory runs past the end of the file" % where)
                header_reserve, folder_reserve, data_reserve = _RESERVE_SIZES.unpack_from(head, pos)
                pos += _RESERVE_SIZES.size
                if header_reserve > _MAX_HEADER_RESERVE:
                    raise CatalogError("%s: header reserve of %d bytes exceeds the %d the format allows"
                                       % (where, header_reserve, _MAX_HEADER_RESERVE))
                if len(head) < pos + header_reserve:
                    raise CatalogError("%s: is truncated: its directory runs past the end of the file" % where)
                if header_reserve >= 12 and head[pos:pos + 4] == b"\x00\x00\x10\x00":
                    sig_offset, sig_length = struct.unpack_from("<II", head, pos + 4)
                    signature = (sig_offset, sig_length)
                pos += header_reserve
            links = []
            for flag, what in ((FLAG_PREV_CABINET, "continued from"), (FLAG_NEXT_CABINET, "continues in")):
                if flags & flag:
                    cabinet, pos = _cstring(head, pos, _MAX_NAME - 1, "the %s cabinet name" % what, where)
                    _disk, pos = _cstring(head, pos, _MAX_NAME - 1, "the %s disk name" % what, where)
                    links.append("%s '%s'" % (what, cabinet.decode("latin-1")))
            if links:
                raise CatalogError("%s: is part of a multi-cabinet set (%s); only single cabinets are supported"
                                   % (where, ", ".join(links)))
            if n_files == 0:
                raise CatalogError("%s: the cabinet holds no files" % where)
            if n_folders == 0:
                raise CatalogError("%s: declares %d files but no folders" % (where, n_files))
            folder_entry = _FOLDER.size + folder_reserve
            folders_end = pos + n_folders * folder_entry
            if folders_end > cab_size:
                raise CatalogError("%s: is truncated: its directory runs past the end of the cabinet" % where)
            if coff_files < folders_end or coff_files + n_files * (_FILE.size + 1) > cab_size:
                raise CatalogError("%s: declares %d files at offset %d, which does not fit in its %d bytes"
                                   % (where, n_files, coff_files, cab_size))
            if len(head) < folders_end:
                handle.seek(0)
                head = handle.read(folders_end)
            folders = []
            for number in range(n_folders):
                start, blocks, ctype = _FOLDER.unpack_from(head, pos + number * folder_entry)
                kind = COMPRESSION_NAMES.get(ctype & 0x000F)
                if kind is None:
                    raise CatalogError("%s: folder %d uses unknown compression type %d" % (where, number, ctype & 0x0F))
                folders.append((kind, blocks, start))
            handle.seek(coff_files)
            table = handle.read(min(cab_size - coff_files, n_files * (_FILE.size + _MAX_NAME + 1)))
    except OSError as exc:
        raise CatalogError("%s: cannot be read: %s" % (where, exc.strerror or exc))

    members = []
    seen = {}
    folders_of_members = set()
    stamps = {}
    pos = 0
    limit = len(table)
    unpack, find, record = _FILE.unpack_from, table.find, _FILE.size
    for index in range(n_files):
        if pos + record > limit:
            raise CatalogError("%s: is truncated: its directory runs past the end of the cabinet" % where)
        size, offset, folder, date, time, attribs = unpack(table, pos)
        start = pos + record
        end = find(b"\0", start, start + _MAX_NAME + 1)
        if end < 0:
            _cstring(table, start, _MAX_NAME, "the name of member #%d" % (index + 1), where)  # raises
        raw = table[start:end]
        pos = end + 1
        # Fast path for the plain ASCII names of real cabinets; anything unusual gets the full checks.
        name = raw.decode("ascii", "replace").replace("\\", "/")
        if not (raw.isascii() and name.isprintable() and name[:1] not in ("/", ".", "") and name[1:2] != ":"
                and name[-1] != "/" and "//" not in name and "/." not in name):
            name = _member_name(raw, attribs, index, where)
        if folder >= n_folders:
            if folder in _IFOLDER_CONTINUED:
                raise CatalogError("%s: member '%s' spans several cabinets of a set; only single cabinets are "
                                   "supported" % (where, name))
            raise CatalogError("%s: member '%s' refers to folder %d, but the cabinet has %d"
                               % (where, name, folder, n_folders))
        kind, blocks, _start = folders[folder]
        if offset + size > blocks * _MAX_BLOCK:
            raise CatalogError("%s: member '%s' declares %d bytes at offset %d, more than its folder's %d data blocks "
                               "can hold" % (where, name, size, offset, blocks))
        key = name.casefold()
        if key in seen:
            raise CatalogError("%s: member '%s' appears twice (names are case-insensitive)" % (where, name))
        seen[key] = name
        cut = key.rfind("/")
        while cut > 0:
            parent = key[:cut]
            if parent in folders_of_members:
                break
            folders_of_members.add(parent)
            cut = parent.rfind("/")
        stamp = (date << 16) | time
        modified = stamps.get(stamp)
        if modified is None:
            modified = stamps[stamp] = _dos_datetime(date, time) or ""
        members.append(CabMember(name, size, folder, kind, offset, attribs, modified or None))
    for number, (kind, blocks, start) in enumerate(folders):
        if blocks and (start < folders_end or start + blocks * _DATA_HEADER_SIZE > cab_size):
            raise CatalogError("%s: folder %d's data (offset %d, %d blocks) lies outside the cabinet's %d bytes"
                               % (where, number, start, blocks, cab_size))
    # A member cannot also be the folder of another member ('a' and 'a/b').
    clash = folders_of_members.intersection(seen)
    if clash:
        folder_name = seen[min(clash)]
        inside = next(m.name for m in members if m.name.casefold().startswith(min(clash) + "/"))
        raise CatalogError("%s: member '%s' needs a folder '%s', which is also a member"
                           % (where, inside, folder_name))
    _check_tail(cab_path, cab_size, file_size, where)
    return CabDirectory(cab_path, cab_size, file_size, members, folders, set_id, signature, data_reserve)


def _check_tail(cab_path, cab_size, file_size, where):
    """Refuse a second cabinet hidden after the first one: cabextract would extract it as well.

    Bytes after cbCabinet are normal (an Authenticode signature lives there); a plausible 'MSCF'
    header among them is not. The test mirrors libmspack's own search for embedded cabinets.
    """
    if file_size - cab_size < _HEADER.size:
        return
    chunk = 1 << 20
    try:
        with open(cab_path, "rb") as handle:
            handle.seek(cab_size)
            base, carry = cab_size, b""
            while True:
                block = handle.read(chunk)
                if not block:
                    return
                buf = carry + block
                start = 0
                while True:
                    hit = buf.find(SIGNATURE, start)
                    if hit < 0 or hit + 20 > len(buf):
                        break
                    at = base + hit
                    length, coff = struct.unpack_from("<I", buf, hit + 8)[0], struct.unpack_from("<I", buf, hit + 16)[0]
                    if coff < length and at + coff < file_size + 32 and at + length < file_size + 32:
                        raise CatalogError("%s: another cabinet is hidden after the end of this one (at offset %d); "
                                           "refusing it" % (where, at))
                    start = hit + 1
                keep = min(len(buf), 19)
                carry = buf[len(buf) - keep:]
                base += len(buf) - keep
    except OSError as exc:
        raise CatalogError("%s: cannot be read: %s" % (where, exc.strerror or exc))


def list_members(cab_path, where=None):
    """Return the checked list of ``CabMember`` of the cabinet at ``cab_path``."""
    return read_directory(cab_path, where).members


def cabextract_path(where=None):
    """Return the path of the ``cabextract`` program, or raise CatalogError saying how to get it."""
    return program_path("cabextract", "(or your distribution's equivalent): it is the only reader of LZX cabinets", where)


_PIPE_MESSAGE = re.compile(r"^stdout\((.*)\): ")


def _cabextract_failure(where, returncode, stderr):
    lines = []
    for line in stderr.decode("utf-8", "replace").splitlines():
        line = _PIPE_MESSAGE.sub(r"\1: ", line.strip())  # 'stdout(a.txt): checksum error'
        if line and line not in lines:
            lines.append(line)
    detail = "; ".join(lines[-6:]) or "no message"
    if len(detail) > 600:
        detail = detail[:600] + "..."
    return CatalogError("%s: cabextract could not extract it (exit status %s): %s" % (where, returncode, detail))


def _check_patterns(patterns, where):
    for pattern in patterns:
        if not isinstance(pattern, str) or not pattern:
            raise CatalogError("%s: member pattern %r is not a non-empty string" % (where, pattern))
        if "\\" in pattern or "[^" in pattern:
            raise CatalogError("%s: member pattern '%s' may not contain '\\' or '[^' (use '/' between folders "
                               "and '[!...]' for negation)" % (where, pattern))


def _matcher(patterns):
    """One compiled test for all ``patterns``, with cabextract's semantics: fnmatch(3) with
    FNM_CASEFOLD and without FNM_PATHNAME ('*' crosses '/')."""
    regex = re.compile("|".join("(?:%s)" % fnmatch.translate(pattern.casefold()) for pattern in patterns))
    return lambda name: regex.match(name.casefold()) is not None


def _make_stage(parent, dest):
    for _attempt in range(100):
        stage = os.path.join(parent, ".%s.part-%s" % (os.path.basename(dest), secrets.token_hex(6)))
        try:
            os.mkdir(stage, 0o777)  # the umask applies, like any folder we create
            return stage
        except FileExistsError:
            continue
    raise OSError(errno.EEXIST, "cannot create a unique temporary folder", parent)


def _makedirs(path):
    """``os.makedirs`` that returns the folders it created, deepest last."""
    created = []
    missing = []
    while not os.path.isdir(path):
        if os.path.lexists(path):
            raise OSError(errno.ENOTDIR, "not a directory", path)
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for folder in reversed(missing):
        os.mkdir(folder)
        created.append(folder)
    return created


def _run_piped(tool, cab_path, stage, stream, wanted, pattern, where):
    """Run one ``cabextract --pipe`` and write the ``wanted`` members (name -> size) into ``stage``.

    cabextract writes the members it extracts to stdout one after the other, in directory
    order, with nothing between them; ``stream`` lists exactly those members (all of them, or
    the ones the single ``-F`` ``pattern`` selects), so the output is split by their declared
    sizes. Every file is created here (``O_EXCL | O_NOFOLLOW``, under folders checked to lie
    inside the stage) and byte-counted; any shortfall or surplus is an error. cabextract itself
    writes nothing to disk in this mode, and it accepts only one ``-F``: several patterns
    stream the whole cabinet once and keep what matches.
    """
    argv = [tool, "-q", "-s", "-p"]
    if pattern is not None:
        argv += ["-F", pattern]
    argv.append(cab_path)
    root = os.path.realpath(stage) + os.sep
    with tempfile.TemporaryFile() as errors:
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors,
                                    bufsize=1 << 20)
        except OSError as exc:
            raise CatalogError("%s: cannot run cabextract: %s" % (where, exc.strerror or exc))
        failure = None
        surplus = False
        try:
            read = proc.stdout.read
            made = {stage}
            for member in stream:
                target = None
                if member.name in wanted:
                    path = os.path.join(stage, *member.name.split("/"))
                    folder = os.path.dirname(path)
                    if folder not in made:
                        os.makedirs(folder, exist_ok=True)
                        if not os.path.realpath(folder).startswith(root):
                            raise CatalogError("%s: member '%s' would be written outside the extraction folder"
                                               % (where, member.name))
                        made.add(folder)
                    target = os.open(path, _CREATE_FLAGS, 0o666)
                try:
                    left = member.size
                    while left:
                        block = read(left if left < _PIPE_CHUNK else _PIPE_CHUNK)
                        if not block:
                            break
                        left -= len(block)
                        if target is not None:
                            view = memoryview(block)
                            while view:
                                view = view[os.write(target, view):]
                finally:
                    if target is not None:
                        os.close(target)
                if left:
                    failure = "member '%s' came out %d bytes short of the %d the cabinet declares" % (
                        member.name, left, member.size)
                    break
            if failure is None and read(1):
                failure = "cabextract produced more data than the cabinet directory declares"
                surplus = True
        finally:
            proc.stdout.close()  # a writer still running gets SIGPIPE and stops
            if surplus and proc.poll() is None:
                proc.kill()
            returncode = proc.wait()
        errors.seek(0)
        stderr = errors.read(65536)
    if failure and surplus:
        raise CatalogError("%s: %s" % (where, failure))
    if returncode != 0:
        raise _cabextract_failure(where, returncode, stderr)
    if failure:
        raise CatalogError("%s: %s" % (where, failure))


def extract(cab_path, dest_dir, members=None, where=None):
    """Extract the cabinet at ``cab_path`` into ``dest_dir``; return the extracted ``CabMember`` list.

    ``members`` is None (everything), or one or more fnmatch patterns on the '/'-separated member
    names, matched case-insensitively with '*' crossing folders (as cabextract's ``-F`` does), e.g.
    ``["c/*", "x/*", "l/en/*"]``. ``dest_dir`` must not exist, or be a folder (if not empty, none
    of its entries may clash with the extracted top-level names); its missing parents are
    created. One cabextract process per call. Nothing is left behind when an error is raised.
    """
    where = _where(cab_path, where)
    directory = read_directory(cab_path, where)
    if members is None:
        patterns = None
        chosen = directory.members
    else:
        patterns = [members] if isinstance(members, str) else list(members)
        _check_patterns(patterns, where)
        matches = _matcher(patterns) if patterns else (lambda name: False)
        chosen = [m for m in directory.members if matches(m.name)]
    tool = cabextract_path(where) if chosen else None
    cab_abs = os.path.abspath(cab_path)
    dest = os.path.abspath(dest_dir)
    parent = os.path.dirname(dest)
    expected = {m.name: m.size for m in chosen}

    dest_entries = None
    if os.path.lexists(dest):
        if os.path.islink(dest) or not os.path.isdir(dest):
            raise CatalogError("%s: cannot extract into '%s': it exists and is not a folder" % (where, dest))
        dest_entries = os.listdir(dest)
        if dest_entries:
            tops = {m.name.split("/", 1)[0] for m in chosen}
            clash = sorted(name for name in dest_entries if name in tops)
            if clash:
                raise CatalogError("%s: cannot extract into '%s': '%s' is already there"
                                   % (where, dest, clash[0]))

    created = []
    stage = None
    try:
        created = _makedirs(parent)
        if chosen:
            total = sum(expected.values())
            try:
                free = shutil.disk_usage(parent).free
            except OSError:
                free = total  # cannot tell: let cabextract find out
            if total > free:
                raise CatalogError("%s: needs %d bytes to extract, but only %d are free in '%s'"
                                   % (where, total, free, parent))
        stage = _make_stage(parent, dest)
        if chosen:
            if patterns is not None and len(patterns) == 1:
                _run_piped(tool, cab_abs, stage, chosen, expected, patterns[0], where)
            else:
                _run_piped(tool, cab_abs, stage, directory.members, expected, None, where)
        if not dest_entries:
            os.rename(stage, dest)  # rename(2) atomically replaces a missing or empty folder
        else:
            _merge(stage, dest)
        stage = None
    except BaseException as exc:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)
        for folder in reversed(created):
            try:
                os.rmdir(folder)
            except OSError:
                break
        if isinstance(exc, OSError):
            raise CatalogError("%s: cannot extract into '%s': %s" % (
                where, dest, exc.strerror or exc)) from exc
        raise
    return chosen


def _merge(stage, dest):
    """Move the top-level entries of ``stage`` into the non-empty folder ``dest``, all or none."""
    moved = []
    try:
        for name in os.listdir(stage):
            target = os.path.join(dest, name)
            if os.path.lexists(target):
                raise OSError(errno.EEXIST, "already exists", target)
            os.rename(os.path.join(stage, name), target)
            moved.append(name)
    except BaseException:
        for name in moved:
            try:
                os.rename(os.path.join(dest, name), os.path.join(stage, name))
            except OSError:
                pass
        raise
    os.rmdir(stage)


def _literal_pattern(name):
    """An fnmatch pattern that matches ``name`` only (up to case)."""
    return "".join("[%s]" % c if c in "*?[" else c for c in name)


def read_member(cab_path, name, where=None, max_size=READ_MEMBER_LIMIT):
    """Return the bytes of the member ``name`` ('/' or '\\' separators, any case) of the cabinet.

    Meant for small members (``index.xml``); members over ``max_size`` bytes are refused.
    """
    where = _where(cab_path, where)
    directory = read_directory(cab_path, where)
    wanted = name.replace("\\", "/").casefold()
    member = next((m for m in directory.members if m.name.casefold() == wanted), None)
    if member is None:
        raise CatalogError("%s: has no member '%s'" % (where, name))
    if member.size > max_size:
        raise CatalogError("%s: member '%s' is %d bytes, more than the %d read into memory"
                           % (where, member.name, member.size, max_size))
    tool = cabextract_path(where)
    argv = [tool, "-q", "-s", "-p", "-F", _literal_pattern(member.name), os.path.abspath(cab_path)]
    with tempfile.TemporaryFile() as errors:
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors)
        except OSError as exc:
            raise CatalogError("%s: cannot run cabextract: %s" % (where, exc.strerror or exc))
        data = b""
        try:
            data = proc.stdout.read(member.size + 1)
        finally:
            proc.stdout.close()
            if proc.poll() is None and len(data) > member.size:
                proc.kill()
            returncode = proc.wait()
        errors.seek(0)
        stderr = errors.read(65536)
    if len(data) > member.size:
        raise CatalogError("%s: member '%s': cabextract produced more than the %d bytes the cabinet declares"
                           % (where, member.name, member.size))
    if returncode != 0:
        raise _cabextract_failure("%s: member '%s'" % (where, member.name), returncode, stderr)
    if len(data) != member.size:
        raise CatalogError("%s: member '%s' was extracted with %d bytes, the cabinet declares %d"
                           % (where, member.name, len(data), member.size))
    return data
