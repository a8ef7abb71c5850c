"""Staging on both kinds of distribution point: a folder, and a folder on a real Samba share.

The same behaviour is asked of both (the ``point`` fixture runs each test on each kind; the Samba
side is marked ``integration``): only missing or changed files are copied, decided without reading
the target back; nothing half-written is ever visible; prune removes only what this collection put
there; each failure names the distribution point and the cause.
"""

import os

import pytest

from ansible_collections.patchwave.windows.plugins.module_utils._distribution import errors, layout, stage
from ansible_collections.patchwave.windows.plugins.module_utils._distribution.errors import DistributionError


def path_of(record):
    return layout.relative_path(layout.content_parts(record["sha1"], record["sha256"], record["extension"]))


def known_from(result):
    """What a store would keep of a stage: the records this collection staged."""
    return {record["path"]: record for record in result["files"] if record["ours"]}


def package(library):
    return [library.add(300 * 1024 + 7, seed=1), library.add(1, seed=2, extension="exe"), library.add(70000, seed=3),
            library.add(4096, seed=4, extension="msu", sha1=False)]


def test_stage_copies_the_package_in_the_wsus_layout_then_nothing(point, library):
    files = package(library)
    with point.target() as target:
        first = stage.stage(target, files)
        assert first["copied"] == {"files": 4, "bytes": sum(f["size"] for f in files)}
        assert first["skipped"] == {"files": 0, "bytes": 0}
        assert point.files() == {path_of(f): f["size"] for f in files}
        sha256_only = files[3]
        expected = "sha256/%s/%s.msu" % (sha256_only["sha256"][-2:].upper(), sha256_only["sha256"].upper())
        assert path_of(sha256_only) == expected
        assert [r["path"] for r in first["files"]] == sorted(path_of(f) for f in files)
        assert all(r["ours"] and r["copied"] for r in first["files"])

        second = stage.stage(target, files, known=known_from(first))
    assert second["copied"] == {"files": 0, "bytes": 0}
    assert second["skipped"] == {"files": 4, "bytes": sum(f["size"] for f in files)}
    assert all(r["ours"] and not r["copied"] for r in second["files"])


def test_a_file_shared_by_two_updates_is_staged_once(point, library):
    record = library.add(5000, seed=9)
    with point.target() as target:
        result = stage.stage(target, [record, dict(record)])
    assert result["copied"] == {"files": 1, "bytes": 5000}


def test_the_plan_computes_the_same_without_writing(point, library):
    files = package(library)
    with point.target() as target:
        planned = stage.plan(target, files)
        assert planned["copied"] == {"files": 4, "bytes": sum(f["size"] for f in files)}
        assert planned["fits"] and planned["free_bytes"] >= planned["needed_bytes"]
        assert point.files() == {}
        stage.stage(target, files[:2])
        again = stage.plan(target, files)
    assert again["copied"]["files"] == 2 and again["skipped"]["files"] == 2


def test_a_file_whose_size_differs_on_the_target_is_copied_again(point, library):
    files = package(library)
    with point.target() as target:
        first = stage.stage(target, files)
        point.place(path_of(files[0]), b"truncated")
        second = stage.stage(target, files, known=known_from(first))
    assert second["copied"] == {"files": 1, "bytes": files[0]["size"]}
    assert point.files()[path_of(files[0])] == files[0]["size"]


def test_a_file_already_there_that_we_did_not_stage_is_left_and_not_claimed(point, library):
    record = library.add(2048, seed=5)
    with open(record["source_path"], "rb") as handle:
        point.place(path_of(record), handle.read())  # e.g. a WSUS server's own copy
    with point.target() as target:
        result = stage.stage(target, [record])
    assert result["copied"]["files"] == 0 and result["skipped"]["files"] == 1
    assert result["files"][0]["ours"] is False


def test_prune_removes_only_our_files_that_no_package_references(point, library):
    old, kept, other = library.add(1000, seed=6), library.add(2000, seed=7), library.add(3000, seed=8)
    foreign = library.add(4000, seed=10)
    with point.target() as target:
        staged = stage.stage(target, [old, kept, other])
        with open(foreign["source_path"], "rb") as handle:
            point.place(path_of(foreign), handle.read())  # a WSUS server's own file
        point.place("WsusContent.txt", b"not ours")
        ours = set(known_from(staged))
        # the new package drops `old`; `other` is still referenced by another package
        result = stage.stage(target, [kept], known=known_from(staged), ours=ours | {path_of(foreign)} - {path_of(foreign)},
                             keep={path_of(other)})
    assert result["pruned"] == {"files": 1, "bytes": 1000}
    assert result["removed"] == [path_of(old)]
    assert set(point.files()) == {path_of(kept), path_of(other), path_of(foreign), "WsusContent.txt"}


def test_prune_alone_and_a_store_record_that_escapes_is_refused(point, library):
    record = library.add(1000, seed=11)
    with point.target() as target:
        stage.stage(target, [record])
        with pytest.raises(DistributionError) as caught:
            stage.prune(target, {"../../etc/passwd"}, set())
        assert caught.value.cause == errors.PATH_ESCAPE and "dp-" in str(caught.value)
        assert stage.prune(target, {path_of(record)}, {path_of(record)})["pruned"]["files"] == 0
        assert stage.prune(target, {path_of(record), "0D/" + "A" * 38 + "0D.cab"}, set())["removed"] == [path_of(record)]
    assert point.files() == {}


def test_a_name_in_the_catalog_that_escapes_is_refused_before_anything_is_written(point, library):
    record = dict(library.add(100, seed=12), extension="../../evil")
    with point.target() as target:
        with pytest.raises(DistributionError) as caught:
            stage.stage(target, [library.add(100, seed=13), record])
    assert caught.value.cause == errors.PATH_ESCAPE
    assert "distribution point 'dp-" in str(caught.value) and "extension" in str(caught.value)
    assert point.files() == {}


def test_a_library_file_that_does_not_match_its_digest_is_never_renamed(point, library):
    record = library.add(50000, seed=14)
    with open(record["source_path"], "r+b") as handle:
        handle.seek(100)
        handle.write(b"X")
    with point.target() as target:
        with pytest.raises(DistributionError) as caught:
            stage.stage(target, [record])
    assert caught.value.cause == errors.DIGEST_MISMATCH and record["sha1"].upper() in str(caught.value)
    assert point.files() == {}


def test_a_missing_library_file_stops_before_anything_is_copied(point, library):
    files = [library.add(100, seed=15), library.add(200, seed=16)]
    os.unlink(files[1]["source_path"])
    with point.target() as target:
        with pytest.raises(DistributionError) as caught:
            stage.stage(target, files)
    assert caught.value.cause == errors.SOURCE and files[1]["source_path"] in str(caught.value)
    assert point.files() == {}


def test_partial_files_of_an_interrupted_run_are_removed(point, library):
    record = library.add(1000, seed=17)
    folder = path_of(record).split("/", maxsplit=1)[0]
    point.place("%s/.%s.0123abcd%s" % (folder, path_of(record).split("/")[1], stage.PARTIAL_SUFFIX), b"half")
    with point.target() as target:
        stage.stage(target, [record])
    assert point.files() == {path_of(record): 1000}


def test_the_free_space_check_refuses_a_package_that_does_not_fit(small_point, library):
    with small_point.target() as target:
        free = target.free_space()
        files = [library.add(free // 2, seed=18), library.add(free // 2 + 65536, seed=19)]
        with pytest.raises(DistributionError) as caught:
            stage.stage(target, files)
    assert caught.value.cause == errors.NO_SPACE
    assert "nothing was copied" in str(caught.value) and "dp-" in str(caught.value)
    assert small_point.files() == {}


def test_running_out_of_space_mid_copy_leaves_no_partial_file(small_point, library, monkeypatch):
    with small_point.target() as target:
        free = target.free_space()
        small = library.add(100 * 1024, seed=20)
        big = library.add(free + 65536, seed=21)  # passes the check below, can never fit
        monkeypatch.setattr(target, "free_space", lambda: 10 * free)  # someone else filled it since
        with pytest.raises(DistributionError) as caught:
            stage.stage(target, [small, big])
        assert caught.value.cause == errors.NO_SPACE, str(caught.value)
        assert "nothing was renamed" in str(caught.value) and "dp-" in str(caught.value)
        left = small_point.files()
        # files copied at the same time may have landed (complete) or failed too; nothing partial is left
        assert path_of(big) not in left
        assert left == {path_of(r): r["size"] for r in (small,) if path_of(r) in left}
        assert [r["path"] for r in caught.value.staged] == sorted(left)
        stage.prune(target, set(left), set())


def test_one_at_a_time_the_file_before_the_failure_stays(small_point, library, monkeypatch):
    with small_point.target() as target:
        free = target.free_space()
        small = library.add(100 * 1024, seed=22)
        big = library.add(free + 65536, seed=23)  # can never fit
        monkeypatch.setattr(target, "free_space", lambda: 10 * free)
        with pytest.raises(DistributionError) as caught:
            stage.stage(target, [small, big], concurrency=1)  # largest first: `big` fails, `small` never starts
        assert caught.value.cause == errors.NO_SPACE and path_of(big) in str(caught.value)
        assert small_point.files() == {} and caught.value.staged == []
