"""The cabinet directory reader and the safe cabextract wrapper (plugins/module_utils/_catalog/cabinet.py)."""

import hashlib
import os
import shutil
import struct
import subprocess

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._catalog import cabinet as _cab
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import CatalogError

pytestmark = pytest.mark.skipif(not shutil.which("cabextract"), reason="cabextract is not installed")


# --- a raw cabinet writer: one uncompressed folder, real checksums ------------------------------

def _checksum(data, seed=0):
    """MS-CAB CFDATA checksum (XOR of little-endian words; the 1-3 byte tail is read big-endian)."""
    value = seed
    whole = len(data) - len(data) % 4
    for (word,) in struct.iter_unpack("<I", data[:whole]):
        value ^= word
    tail = 0
    for byte in data[whole:]:
        tail = (tail << 8) | byte
    return value ^ tail


def raw_cab(files, header_reserve=None, prev=None, next_=None, compression=0, order=None, ifolder=None):
    """Bytes of a cabinet holding ``files`` = [(name, data[, attribs])] in one uncompressed folder.

    ``name`` is bytes (written as is) or str (UTF-8, flagged 0x80 when not ASCII). ``order``
    permutes the CFFILE records (data stays in list order); ``ifolder`` overrides iFolder.
    """
    flags = 0
    extra = b""
    if header_reserve is not None:
        flags |= _cab.FLAG_RESERVE_PRESENT
        extra += struct.pack("<HBB", len(header_reserve), 0, 0) + header_reserve
    if prev:
        flags |= _cab.FLAG_PREV_CABINET
        extra += prev.encode() + b"\0disk1\0"
    if next_:
        flags |= _cab.FLAG_NEXT_CABINET
        extra += next_.encode() + b"\0disk2\0"
    records, offset, payload = [], 0, b""
    for entry in files:
        name, data = entry[0], entry[1]
        attribs = entry[2] if len(entry) > 2 else 0x20
        if isinstance(name, str):
            if not name.isascii():
                attribs |= 0x80
            name = name.encode("utf-8")
        folder = 0 if ifolder is None else ifolder
        records.append(struct.pack("<IIHHHH", len(data), offset, folder, 0x5A21, 0x6000, attribs) + name + b"\0")
        offset += len(data)
        payload += data
    if order is not None:
        records = [records[i] for i in order]
    table = b"".join(records)
    coff_files = 36 + len(extra) + 8
    data_start = coff_files + len(table)
    blocks = [payload[i:i + 32768] for i in range(0, len(payload), 32768)] or [b""]
    data = b""
    for block in blocks:
        sizes = struct.pack("<HH", len(block), len(block))
        data += struct.pack("<I", _checksum(sizes, _checksum(block))) + sizes + block
    total = data_start + len(data)
    header = struct.pack("<4sIIIIIBBHHHHH", b"MSCF", 0, total, 0, coff_files, 0, 3, 1, 1, len(files), flags, 7, 0)
    folder = struct.pack("<IHH", data_start, len(blocks), compression)
    return header + extra + folder + table + data


def write(path, data):
    with open(path, "wb") as handle:
        handle.write(data)
    return str(path)


def sha256(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def tree(root):
    """{relative path: bytes} of every file under ``root``."""
    found = {}
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, root).replace(os.sep, "/")] = handle.read()
    return found


def assert_refused(cab, tmp_path, *fragments, members=None):
    """``extract`` raises CatalogError naming the cab and every fragment, and leaves nothing behind."""
    parent = tmp_path / "out"
    parent.mkdir(exist_ok=True)
    with pytest.raises(CatalogError) as caught:
        _cab.extract(cab, str(parent / "dest"), members=members)
    message = str(caught.value)
    assert str(cab) in message
    for fragment in fragments:
        assert fragment in message
    assert os.listdir(parent) == []
    return message


# --- the real sample: MSZIP, LZX and Quantum folders ------------------------------------------

@pytest.fixture(scope="module")
def sample_cab(samples_dir):
    return os.path.join(samples_dir, "cab", "mszip_lzx_qtm.cab")


@pytest.fixture(scope="module")
def sample_sha256(samples_dir):
    expected = {}
    with open(os.path.join(samples_dir, "cab", "mszip_lzx_qtm.expected.sha256")) as handle:
        for line in handle:
            if line.strip():
                digest, name = line.split()
                expected[name] = digest
    return expected


def test_sample_directory(sample_cab):
    members = _cab.list_members(sample_cab)
    assert [(m.name, m.size, m.compression) for m in members] == [
        ("mszip.txt", 57, "MSZIP"), ("lzx.txt", 187, "LZX"), ("qtm.txt", 59, "Quantum")]
    assert {m.modified for m in members} == {"1997-03-12T11:13:52"}
    directory = _cab.read_directory(sample_cab)
    assert directory.size == directory.file_size == 379
    assert [kind for kind, _blocks, _offset in directory.folders] == ["MSZIP", "LZX", "Quantum"]
    assert directory.signature is None


def test_sample_extract_matches_expected_sha256(sample_cab, sample_sha256, tmp_path):
    dest = tmp_path / "out" / "sample"
    extracted = _cab.extract(sample_cab, str(dest))
    assert sorted(m.name for m in extracted) == sorted(sample_sha256)
    for name, digest in sample_sha256.items():
        assert sha256(dest / name) == digest, name
    assert os.listdir(tmp_path / "out") == ["sample"]  # no temporary folder left beside it


def test_sample_read_member_matches_expected_sha256(sample_cab, sample_sha256):
    for name, digest in sample_sha256.items():
        assert hashlib.sha256(_cab.read_member(sample_cab, name)).hexdigest() == digest
    assert hashlib.sha256(_cab.read_member(sample_cab, "LZX.TXT")).hexdigest() == sample_sha256["lzx.txt"]


def test_sample_single_pattern_extracts_only_the_lzx_member(sample_cab, sample_sha256, tmp_path):
    dest = tmp_path / "lzx"
    extracted = _cab.extract(sample_cab, str(dest), members="L*")
    assert [m.name for m in extracted] == ["lzx.txt"]
    assert sorted(tree(dest)) == ["lzx.txt"]
    assert sha256(dest / "lzx.txt") == sample_sha256["lzx.txt"]


def test_sample_several_patterns_stream_once(sample_cab, sample_sha256, tmp_path):
    dest = tmp_path / "two"
    extracted = _cab.extract(sample_cab, str(dest), members=["lzx.txt", "QTM.*"])
    assert sorted(m.name for m in extracted) == ["lzx.txt", "qtm.txt"]
    assert sorted(tree(dest)) == ["lzx.txt", "qtm.txt"]
    for name in ("lzx.txt", "qtm.txt"):
        assert sha256(dest / name) == sample_sha256[name]


def test_no_matching_member_gives_an_empty_folder(sample_cab, tmp_path):
    dest = tmp_path / "none"
    assert _cab.extract(sample_cab, str(dest), members=["nothing/*"]) == []
    assert os.listdir(dest) == []


def _count_cabextract_calls(monkeypatch):
    """Record every process started (subprocess.run goes through Popen too)."""
    calls = []
    real_popen = subprocess.Popen

    def popen(argv, *args, **kwargs):
        calls.append(list(argv))
        return real_popen(argv, *args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", popen)
    return calls


@pytest.mark.parametrize("members", [None, "*.txt", ["lzx.txt", "mszip.txt", "qtm.txt"]])
def test_one_cabextract_call_per_cab(sample_cab, tmp_path, monkeypatch, members):
    calls = _count_cabextract_calls(monkeypatch)
    _cab.extract(sample_cab, str(tmp_path / "x"), members=members)
    assert len(calls) == 1
    assert os.path.basename(calls[0][0]) == "cabextract"


# --- gcab-made (MSZIP) cabinets ----------------------------------------------------------------

@pytest.fixture
def gcab_cab(tmp_path):
    """An MSZIP cabinet made by gcab, with wsusscn2-like folders, and the files it holds."""
    if not shutil.which("gcab"):
        pytest.skip("gcab is not installed")
    src = tmp_path / "src"
    files = {
        "index.xml": b"<CABLIST/>\n",
        "c/100": b"core " * 2000,
        "x/100": b"extended\n",
        "l/en/100": b"english\n",
        "l/de/100": b"deutsch\n",
        "files/big.bin": os.urandom(150000),
    }
    for name, data in files.items():
        path = src / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    cab = tmp_path / "gcab.cab"
    subprocess.run(["gcab", "-c", "-z", str(cab)] + list(files), cwd=src, check=True)
    return str(cab), files


def test_gcab_directory_and_full_extract(gcab_cab, tmp_path):
    cab, files = gcab_cab
    members = _cab.list_members(cab)
    assert {m.name: m.size for m in members} == {name: len(data) for name, data in files.items()}
    assert {m.compression for m in members} == {"MSZIP"}
    dest = tmp_path / "out" / "all"
    _cab.extract(cab, str(dest))
    assert tree(dest) == files


def test_gcab_patterns_as_the_offline_scan_reader_uses_them(gcab_cab, tmp_path):
    cab, files = gcab_cab
    dest = tmp_path / "detail" / "package2.cab"  # missing parents are created
    extracted = _cab.extract(cab, str(dest), members=["c/*", "x/*", "l/en/*"])
    assert sorted(m.name for m in extracted) == ["c/100", "l/en/100", "x/100"]
    assert tree(dest) == {name: files[name] for name in ("c/100", "l/en/100", "x/100")}


def test_gcab_read_member(gcab_cab):
    cab, files = gcab_cab
    assert _cab.read_member(cab, "index.xml") == files["index.xml"]
    assert _cab.read_member(cab, "files\\big.bin") == files["files/big.bin"]
    with pytest.raises(CatalogError, match="has no member 'nope.xml'"):
        _cab.read_member(cab, "nope.xml")
    with pytest.raises(CatalogError, match="more than the 1000 read into memory"):
        _cab.read_member(cab, "files/big.bin", max_size=1000)


def test_existing_destination_folders(gcab_cab, tmp_path):
    cab, files = gcab_cab
    empty = tmp_path / "empty"
    empty.mkdir()
    _cab.extract(cab, str(empty), members="index.xml")
    assert tree(empty) == {"index.xml": files["index.xml"]}

    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_bytes(b"mine")
    _cab.extract(cab, str(busy), members="c/*")
    assert tree(busy) == {"keep.txt": b"mine", "c/100": files["c/100"]}

    with pytest.raises(CatalogError, match="'c' is already there"):
        _cab.extract(cab, str(busy), members="c/*")
    assert sorted(os.listdir(tmp_path)) == sorted(["busy", "empty", "gcab.cab", "src"])

    a_file = tmp_path / "file"
    a_file.write_bytes(b"x")
    with pytest.raises(CatalogError, match="exists and is not a folder"):
        _cab.extract(cab, str(a_file))


# --- hand-made cabinets ------------------------------------------------------------------------

def test_raw_cab_round_trip(tmp_path):
    files = [("a.txt", b"alpha\n"), ("dir\\b.txt", b"beta\n"), ("d\u00e9j\u00e0\\vu.txt", b"utf8\n"),
             ("big.bin", bytes(range(256)) * 300)]
    cab = write(tmp_path / "ok.cab", raw_cab(files))
    assert [m.name for m in _cab.list_members(cab)] == ["a.txt", "dir/b.txt", "d\u00e9j\u00e0/vu.txt", "big.bin"]
    assert {m.compression for m in _cab.list_members(cab)} == {"none"}
    dest = tmp_path / "out"
    _cab.extract(cab, str(dest))
    assert tree(dest) == {name.replace("\\", "/"): data for name, data in files}


def test_directory_order_differs_from_data_order(tmp_path):
    """cabextract --pipe writes members in directory order; the split must follow it."""
    cab = write(tmp_path / "order.cab", raw_cab([("b.txt", b"BBBB"), ("a.txt", b"AAA"), ("c.txt", b"C")],
                                                order=[2, 1, 0]))
    dest = tmp_path / "out"
    _cab.extract(cab, str(dest), members=["a.txt", "b.txt", "c.txt"])
    assert tree(dest) == {"a.txt": b"AAA", "b.txt": b"BBBB", "c.txt": b"C"}


@pytest.mark.parametrize("name, cause", [
    (b"..\\evil.txt", "member '../evil.txt' escapes the extraction folder ('..' component)"),
    (b"a\\..\\..\\up.txt", "member 'a/../../up.txt' escapes the extraction folder ('..' component)"),
    (b"C:\\x", "member 'C:/x' escapes the extraction folder (drive letter)"),
    (b"c:x.txt", "member 'c:x.txt' escapes the extraction folder (drive letter)"),
    (b"\\abs", "member '/abs' escapes the extraction folder (absolute path)"),
    (b"\\\\server\\share\\x", "member '//server/share/x' escapes the extraction folder (absolute path)"),
    (b"/etc/passwd", "member '/etc/passwd' escapes the extraction folder (absolute path)"),
    (b"dir/../../x", "escapes the extraction folder ('..' component)"),
    (b"", "member #2 has an empty name"),
    (b"a\\\\b", "member 'a//b' has an empty or '.' path component"),
    (b"a\\.\\b", "member 'a/./b' has an empty or '.' path component"),
    (b"trailing\\", "member 'trailing/' has an empty or '.' path component"),
    (b"tab\there", "member 'tab\\x09here' has control characters in its name"),
    (b"caf\xe9.txt", "is neither ASCII nor flagged UTF-8"),
])
def test_unsafe_member_names_are_refused(tmp_path, name, cause):
    cab = write(tmp_path / "bad.cab", raw_cab([("ok.txt", b"fine\n"), (name, b"payload\n")]))
    assert_refused(cab, tmp_path, cause)
    with pytest.raises(CatalogError, match="bad.cab"):
        _cab.list_members(cab)


def test_invalid_utf8_name_is_refused(tmp_path):
    cab = write(tmp_path / "utf.cab", raw_cab([(b"bad\xff.txt", b"x", 0xA0)]))
    assert_refused(cab, tmp_path, "is flagged UTF-8 but is not valid UTF-8")


@pytest.mark.parametrize("names, cause", [
    (["same.txt", "same.txt"], "member 'same.txt' appears twice"),
    (["Dir\\Same.txt", "dir\\SAME.TXT"], "member 'dir/SAME.TXT' appears twice (names are case-insensitive)"),
    (["a", "a\\b"], "member 'a/b' needs a folder 'a', which is also a member"),
])
def test_duplicate_and_conflicting_names_are_refused(tmp_path, names, cause):
    cab = write(tmp_path / "dup.cab", raw_cab([(name, b"%d" % i) for i, name in enumerate(names)]))
    assert_refused(cab, tmp_path, cause)


def test_overlong_name_is_refused(tmp_path):
    cab = write(tmp_path / "long.cab", raw_cab([(b"n" * 300, b"x")]))
    assert_refused(cab, tmp_path, "is not terminated within 256 bytes")


def test_not_a_cabinet(tmp_path):
    for name, data in (("text.cab", b"hello, this is not a cabinet\n"), ("empty.cab", b""),
                       ("zip.cab", b"PK\x03\x04" + b"\0" * 60)):
        path = write(tmp_path / name, data)
        assert_refused(path, tmp_path, "is not a cabinet (no 'MSCF' signature)")


def test_missing_file(tmp_path):
    assert_refused(str(tmp_path / "absent.cab"), tmp_path, "cannot be read")


@pytest.mark.parametrize("keep", [20, 36, 50, 70, -1])
def test_truncated_copies_are_refused(tmp_path, keep):
    good = raw_cab([("a.txt", b"alpha" * 50), ("dir\\b.txt", b"beta" * 50)])
    cab = write(tmp_path / "cut.cab", good[:keep])
    message = assert_refused(cab, tmp_path, "is truncated")
    if keep >= 36:
        assert "the header says %d bytes, the file has %d" % (len(good), keep) in message


def test_truncated_sample_is_refused(sample_cab, tmp_path):
    with open(sample_cab, "rb") as handle:
        data = handle.read()
    for keep in (10, 100, 200, len(data) - 1):
        cab = write(tmp_path / ("cut%d.cab" % keep), data[:keep])
        assert_refused(cab, tmp_path, "is truncated")


def test_directory_running_past_the_end_is_refused(tmp_path):
    data = bytearray(raw_cab([("a.txt", b"alpha")]))
    struct.pack_into("<H", data, 28, 60000)  # cFiles: far more than the bytes hold
    cab = write(tmp_path / "count.cab", bytes(data))
    assert_refused(cab, tmp_path, "declares 60000 files at offset 44, which does not fit")


@pytest.mark.parametrize("kwargs, cause", [
    ({"prev": "part0.cab"}, "is part of a multi-cabinet set (continued from 'part0.cab')"),
    ({"next_": "part2.cab"}, "is part of a multi-cabinet set (continues in 'part2.cab')"),
    ({"ifolder": 0xFFFD}, "member 'a.txt' spans several cabinets of a set"),
    ({"ifolder": 3}, "member 'a.txt' refers to folder 3, but the cabinet has 1"),
    ({"compression": 7}, "folder 0 uses unknown compression type 7"),
])
def test_unsupported_structures_are_refused(tmp_path, kwargs, cause):
    cab = write(tmp_path / "set.cab", raw_cab([("a.txt", b"alpha")], **kwargs))
    assert_refused(cab, tmp_path, cause)


def test_header_reserve_is_skipped(tmp_path):
    cab = write(tmp_path / "reserve.cab", raw_cab([("a.txt", b"alpha")], header_reserve=b"\x01" * 100))
    dest = tmp_path / "out"
    _cab.extract(cab, str(dest))
    assert tree(dest) == {"a.txt": b"alpha"}


def test_member_larger_than_its_folder_is_refused(tmp_path):
    data = bytearray(raw_cab([("a.txt", b"alpha")]))
    struct.pack_into("<I", data, 44, 40000)  # cbFile of the first CFFILE: one 32 KiB block cannot hold it
    cab = write(tmp_path / "big.cab", bytes(data))
    assert_refused(cab, tmp_path,
                   "member 'a.txt' declares 40000 bytes at offset 0, more than its folder's 1 data blocks")


def test_declared_size_larger_than_the_data_is_refused(tmp_path):
    data = bytearray(raw_cab([("a.txt", b"alpha")]))
    struct.pack_into("<I", data, 44, 100)  # fits the 32 KiB-per-block bound, but the data holds only 5 bytes
    cab = write(tmp_path / "short.cab", bytes(data))
    assert_refused(cab, tmp_path, "cabextract could not extract it (exit status 1): a.txt: error in CAB data format")


def test_trailing_bytes_are_accepted_but_a_hidden_second_cabinet_is_not(tmp_path):
    first = raw_cab([("a.txt", b"genuine\n"), ("b.txt", b"other\n")])
    cab = write(tmp_path / "tail.cab", first + b"\0" * 500)
    dest = tmp_path / "ok"
    _cab.extract(cab, str(dest))
    assert tree(dest) == {"a.txt": b"genuine\n", "b.txt": b"other\n"}

    # cabextract extracts every cabinet it finds in a file: a same-named member would overwrite.
    hidden = write(tmp_path / "hidden.cab", first + b"junk" + raw_cab([("a.txt", b"EVIL!!!\n")]))
    assert_refused(hidden, tmp_path, "another cabinet is hidden after the end of this one (at offset %d)"
                   % (len(first) + 4))


@pytest.mark.parametrize("offset", [150, 200, 300])
def test_corrupt_sample_data_is_refused(sample_cab, tmp_path, offset):
    with open(sample_cab, "rb") as handle:
        data = bytearray(handle.read())
    for i in range(offset, offset + 8):
        data[i] ^= 1 << (i % 8)  # (the CAB checksum is a plain XOR of words: equal flips would cancel)
    cab = write(tmp_path / "corrupt.cab", bytes(data))
    message = assert_refused(cab, tmp_path, "cabextract could not extract it")
    assert tmp_path.name not in message.split("could not extract it")[1]  # temporary paths are not leaked
    with pytest.raises(CatalogError, match="cabextract could not extract it"):
        for name in ("mszip.txt", "lzx.txt", "qtm.txt"):
            _cab.read_member(cab, name)


def test_corrupt_gcab_data_is_refused_in_both_extraction_modes(gcab_cab, tmp_path):
    cab, _files = gcab_cab
    with open(cab, "rb") as handle:
        data = bytearray(handle.read())
    middle = len(data) // 2
    data[middle] ^= 0x10
    bad = write(tmp_path / "corrupt.cab", bytes(data))
    for members in (None, "files/*", ["files/*", "c/*"]):
        parent = tmp_path / "out"
        parent.mkdir(exist_ok=True)
        with pytest.raises(CatalogError) as caught:
            _cab.extract(bad, str(parent / "deep" / "dest"), members=members)
        assert str(caught.value).startswith("cabinet file '%s': cabextract could not extract it (exit status 1): "
                                            % bad)
        assert "checksum error" in str(caught.value)
        assert os.listdir(parent) == []  # neither the partial folder nor the created parent remain
    with pytest.raises(CatalogError, match="member 'files/big.bin': cabextract could not extract it .*checksum error"):
        _cab.read_member(bad, "files/big.bin")


def test_corrupt_uncompressed_data_is_refused(tmp_path):
    data = bytearray(raw_cab([("a.txt", b"alpha" * 100), ("b.txt", b"beta" * 100)]))
    data[-50] ^= 0x04
    cab = write(tmp_path / "flip.cab", bytes(data))
    message = assert_refused(cab, tmp_path)
    assert "checksum" in message


def _fake_cabextract(tmp_path, monkeypatch, script):
    """Make ``extract`` run ``script`` (a shell snippet) instead of cabextract."""
    tool = tmp_path / "fake-cabextract"
    tool.write_text("#!/bin/sh\n" + script + "\n")
    tool.chmod(0o755)
    monkeypatch.setattr(_cab, "cabextract_path", lambda where=None: str(tool))


@pytest.mark.parametrize("script, cause", [
    # a.txt is 6 bytes, b.txt 5: the stream must hold exactly 11
    ("printf 'alpha\\nbeta\\nEXTRA'", "cabextract produced more data than the cabinet directory declares"),
    ("head -c 2000000 /dev/zero", "cabextract produced more data than the cabinet directory declares"),
    ("printf 'alpha\\nbe'", "member 'b.txt' came out 3 bytes short of the 5 the cabinet declares"),
    ("printf 'alpha\\nbeta\\n'; echo 'stdout(c.txt): boom' >&2; exit 3",
     "cabextract could not extract it (exit status 3): c.txt: boom"),
])
def test_cabextract_output_must_match_the_directory(tmp_path, monkeypatch, script, cause):
    """Whatever cabextract streams must be exactly what the directory declares; nothing stays behind."""
    cab = write(tmp_path / "pair.cab", raw_cab([("a.txt", b"alpha\n"), ("dir\\b.txt", b"beta\n")]))
    _fake_cabextract(tmp_path, monkeypatch, script)
    cause = cause.replace("'b.txt'", "'dir/b.txt'")
    for members in (None, ["*.txt", "nothing"]):  # whole stream, and several patterns
        assert_refused(cab, tmp_path, cause, members=members)


def test_interrupted_extraction_leaves_nothing(gcab_cab, tmp_path, monkeypatch):
    cab, _files = gcab_cab

    def interrupted(*_args):
        raise KeyboardInterrupt

    monkeypatch.setattr(_cab, "_run_piped", interrupted)
    parent = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        _cab.extract(cab, str(parent / "a" / "b"))
    assert not parent.exists()


def test_extraction_stays_inside_the_stage(gcab_cab, tmp_path, monkeypatch):
    """A link planted where a member's folder goes is not followed."""
    cab, _files = gcab_cab
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    real_stage = _cab._make_stage

    def planted(parent, dest):
        stage = real_stage(parent, dest)
        os.symlink(str(outside), os.path.join(stage, "c"))
        return stage

    monkeypatch.setattr(_cab, "_make_stage", planted)
    parent = tmp_path / "out"
    with pytest.raises(CatalogError, match="member 'c/100' would be written outside the extraction folder"):
        _cab.extract(cab, str(parent / "dest"))
    assert os.listdir(outside) == [] and not parent.exists()


def test_bad_patterns_are_refused(sample_cab, tmp_path):
    for pattern in ("c\\*", "[^a]*", ""):
        with pytest.raises(CatalogError, match="member pattern"):
            _cab.extract(sample_cab, str(tmp_path / "p"), members=[pattern])
    assert not (tmp_path / "p").exists()


def test_missing_cabextract_is_reported(sample_cab, tmp_path, monkeypatch):
    monkeypatch.setattr(_cab.shutil, "which", lambda name: None)
    with pytest.raises(CatalogError, match="install the Debian/Ubuntu package 'cabextract'") as caught:
        _cab.extract(sample_cab, str(tmp_path / "x"))
    assert sample_cab in str(caught.value)
    assert not (tmp_path / "x").exists()
    with pytest.raises(CatalogError, match="package 'cabextract'"):
        _cab.read_member(sample_cab, "lzx.txt")


def test_custom_where_prefixes_messages(tmp_path):
    cab = write(tmp_path / "inner.cab", raw_cab([(b"..\\evil", b"x")]))
    with pytest.raises(CatalogError) as caught:
        _cab.list_members(cab, where="catalog file '/x/wsusscn2.cab': member 'package.cab'")
    assert str(caught.value) == ("catalog file '/x/wsusscn2.cab': member 'package.cab': member '../evil' "
                                 "escapes the extraction folder ('..' component)")
