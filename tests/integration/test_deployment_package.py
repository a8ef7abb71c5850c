"""deployment_package through ansible-playbook: a frozen list's files from loopback nginx (mirror_url)
into the content library, verified; a second run downloads nothing; bad content is quarantined and
named; mistakes are named."""

import json
import os

from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_runs import save
from content_fixtures import nginx, world  # noqa: F401  pylint: disable=unused-import
from test_module_returns import ReturnChecker

from tests.content_world import freeze_rows, updates_with_files
from tests.servers.http import Nginx


def package_task(label, options):
    return ("    - name: %s\n      patchwave.windows.deployment_package: %s\n      register: %s\n      ignore_errors: true\n"
            % (label, json.dumps(options), label)) + save(label, label)


def fresh_store(world, tmp_path):
    path = str(tmp_path / "store.db")
    with open(world["store"], "rb") as source, open(path, "wb") as target:
        target.write(source.read())
    return path


def test_download_verify_reuse(world, nginx, runner, tmp_path):
    store_path = fresh_store(world, tmp_path)
    store = open_store(store_path)
    try:
        ids = updates_with_files(store, 8)
        freeze_rows(store, "month", ids)
        files = store.query("SELECT count(DISTINCT x.file_id) AS n, sum(f.size) AS b FROM update_files x JOIN files f "
                            "ON f.file_id = x.file_id WHERE x.update_id IN (%s)" % ",".join("?" * len(ids)), ids)[0]
    finally:
        store.close()
    options = {"name": "pkg", "update_list": "month", "store": store_path, "mirror_url": nginx.url("/")}
    results = {"results_dir": str(runner.results)}
    runner.play(package_task("check", options), results, check=True, name="check")
    check = runner.result("check")
    assert check["changed"] is True and check["downloaded"]["files"] == files["n"] and check["content_version"] == 1
    assert not os.path.exists(check["library"])  # check mode writes nothing
    runner.play(package_task("first", options) + package_task("again", options), results, name="run")
    first, again = runner.result("first"), runner.result("again")
    assert not first.get("failed"), first.get("msg")
    assert first["changed"] is True and first["downloaded"] == {"files": files["n"], "bytes": files["b"]}
    assert first["content_version"] == 1 and first["library"] == str(tmp_path / "content")
    assert again["changed"] is False and again["downloaded"]["files"] == 0 and again["reused"]["files"] == files["n"]
    assert again["content_version"] == 1
    # the library holds each file once, under its digest, and nothing partial
    stored = [os.path.join(d, f) for d, _s, fs in os.walk(first["library"]) for f in fs]
    assert len(stored) == files["n"] and all("/sha256/" in p or "/sha1/" in p for p in stored)
    # a new list version with one more update: content version 2, only the new files fetched
    store = open_store(store_path)
    try:
        more = updates_with_files(store, 9)
        freeze_rows(store, "month", more, version=2)
    finally:
        store.close()
    runner.play(package_task("second", options).replace("      register: second\n", "      register: second\n      diff: true\n"),
                results, name="second")
    second = runner.result("second")
    assert second["diff"]["before"]["content_version"] == 1 and second["diff"]["after"]["content_version"] == 2
    assert second["diff"]["before"]["list_version"] == 1 and second["diff"]["after"]["list_version"] == 2
    assert second["content_version"] == 2 and second["list_version"] == 2 and second["reused"]["files"] == files["n"]
    assert second["downloaded"]["files"] >= 1
    # a deployment names the package for version 2: moving the package to version 3 under it is refused
    store = open_store(store_path)
    try:
        with store.transaction() as cursor:
            cursor.execute("INSERT INTO deployments (name, definition, created_at, updated_at) VALUES ('pilot', ?, 'x', 'x')",
                           (json.dumps({"update_list": "month", "list_version": 2, "package": "pkg"}),))
        freeze_rows(store, "month", updates_with_files(store, 10), version=3)
    finally:
        store.close()
    runner.play(package_task("moved", options), results, name="moved")
    moved = runner.result("moved")
    assert moved["failed"] and "named by deployment(s) 'pilot' for update list 'month' version 2" in moved["msg"]


def test_bad_content_is_quarantined_and_mistakes_are_named(world, nginx, runner, tmp_path):
    store_path = fresh_store(world, tmp_path)
    store = open_store(store_path)
    try:
        ids = updates_with_files(store, 1, "%Servicing Stack%")
        freeze_rows(store, "bad", ids)
        url = store.query("SELECT u.url FROM update_files x JOIN file_urls u ON u.file_id = x.file_id "
                          "WHERE x.update_id = ?", (ids[0],))[0]["url"]
    finally:
        store.close()
    # a mirror whose copy of the file was altered
    altered = tmp_path / "altered"
    path = altered.joinpath(*url.split("://", 1)[1].split("/", 1)[1].split("/"))
    path.parent.mkdir(parents=True)
    original = os.path.join(world["payloads"], *url.split("://", 1)[1].split("/", 1)[1].split("/"))
    path.write_bytes(b"X" + open(original, "rb").read()[1:])
    bad_mirror = Nginx(str(altered)).start()
    try:
        results = {"results_dir": str(runner.results)}
        runner.play(package_task("tampered", {"name": "p", "update_list": "bad", "store": store_path,
                                              "mirror_url": bad_mirror.url("/")})
                    + package_task("unfrozen", {"name": "q", "update_list": "nothing", "store": store_path})
                    + package_task("nostore", {"name": "q", "update_list": "bad",
                                               "store": str(tmp_path / "typo" / "store.db")}),
                    results, name="faults")
    finally:
        bad_mirror.stop()
    tampered = runner.result("tampered")
    assert tampered["failed"] is True and len(tampered["quarantined"]) == 1
    assert ids[0] in tampered["msg"] and "expected" in tampered["msg"].lower()
    assert tampered["quarantined"][0]["url"].startswith(bad_mirror.url("/"))
    library = tmp_path / "content"
    assert not any((library / algo).exists() for algo in ("sha1", "sha256"))  # nothing entered the library
    store = open_store(store_path)
    try:
        assert store.query("SELECT count(*) AS n FROM deployment_packages")[0]["n"] == 0  # not recorded
    finally:
        store.close()
    assert "update list 'nothing' does not exist" in runner.result("unfrozen")["msg"]
    assert "catalog_sync" in runner.result("nostore")["msg"] and not (tmp_path / "typo").exists()


def test_documented_returns(world, nginx, runner, tmp_path):
    """Every documented key with its type, in check mode, a download, a rerun and a quarantine."""
    store_path = fresh_store(world, tmp_path)
    store = open_store(store_path)
    try:
        freeze_rows(store, "docs", updates_with_files(store, 3))
    finally:
        store.close()
    options = {"name": "docs", "update_list": "docs", "store": store_path, "mirror_url": nginx.url("/")}
    results = {"results_dir": str(runner.results)}
    runner.play(package_task("doc_check", options), results, check=True, name="doc_check")
    missing = dict(options, name="other", mirror_url=nginx.url("/nothing/"), library=str(tmp_path / "empty-library"))
    runner.play(package_task("doc_run", options) + package_task("doc_again", options)
                + package_task("doc_missing", missing), results, name="doc_run")
    checker = ReturnChecker("deployment_package")
    checker.check_samples()
    for label in ("doc_check", "doc_run", "doc_again", "doc_missing"):
        result = runner.result(label)
        if label == "doc_missing":
            assert result["failed"] is True and "404" in json.dumps(result["failed_files"]), result
        checker.check(result, label)
    assert not checker.problems, checker.problems


def test_languages_choose_the_language_specific_files(world, nginx, runner, tmp_path):
    """The generated out-of-band updates have a neutral payload member and one member per language
    (en, de). The store was synced with languages [en]: by default, and with languages [en], a package
    fetches no de-only file; [en, de] adds them in a new content version, downloading only those."""
    store_path = fresh_store(world, tmp_path)
    store = open_store(store_path)
    try:
        ids = [r["update_id"] for r in store.query(
            "SELECT update_id FROM updates WHERE is_bundle = 1 AND title LIKE '%Out-of-band%' "
            "AND expired_version IS NULL ORDER BY update_id LIMIT 2")]
        assert len(ids) == 2
        freeze_rows(store, "oob", ids)
        marks = ",".join("?" * len(ids))
        files = {}
        for row in store.query(
                "SELECT x.file_name, l.language FROM update_bundles b JOIN update_files x ON x.update_id = b.member_id "
                "LEFT JOIN update_languages l ON l.update_id = b.member_id WHERE b.bundle_id IN (%s)" % marks, ids):
            files[row["file_name"]] = row["language"]
        assert store.query("SELECT languages FROM catalog_versions")[0]["languages"] == '["en"]'
    finally:
        store.close()
    neutral = {name for name, language in files.items() if language is None}
    english = {name for name, language in files.items() if language == "en"}
    german = {name for name, language in files.items() if language == "de"}
    assert len(neutral) == len(english) == len(german) == 2
    base = {"update_list": "oob", "store": store_path, "mirror_url": nginx.url("/")}
    results = {"results_dir": str(runner.results)}
    runner.play(package_task("lang_default", dict(base, name="default"))
                + package_task("lang_en", dict(base, name="english", languages=["EN"]))
                + package_task("lang_both", dict(base, name="default", languages=["en", "de"]))
                + package_task("lang_again", dict(base, name="default", languages=["de", "en"]))
                + package_task("lang_all", dict(base, name="every", languages=["all"])),
                results, name="languages")
    default, english_only, both, again, every = (runner.result(label) for label in (
        "lang_default", "lang_en", "lang_both", "lang_again", "lang_all"))
    for result in (default, english_only, both, again, every):
        assert not result.get("failed"), result.get("msg")
    assert default["languages"] == ["en"] and default["files"] == 4 and default["downloaded"]["files"] == 4
    assert english_only["languages"] == ["en"] and english_only["files"] == 4
    assert english_only["downloaded"]["files"] == 0 and english_only["reused"]["files"] == 4
    assert both["languages"] == ["de", "en"] and both["content_version"] == 2 and both["files"] == 6
    assert both["downloaded"]["files"] == 2 and both["reused"]["files"] == 4  # only the de files are fetched
    assert again["changed"] is False and again["content_version"] == 2
    assert every["languages"] == ["all"] and every["files"] == 6
    store = open_store(store_path)
    try:
        stored = {r["package"]: set() for r in store.query("SELECT DISTINCT package FROM package_files")}
        for row in store.query("SELECT package, content_version, file_name FROM package_files"):
            if (row["package"], row["content_version"]) != ("default", 2):
                stored[row["package"]].add(row["file_name"])
        languages = {r["name"]: r["languages"] for r in store.query("SELECT name, languages FROM deployment_packages")}
    finally:
        store.close()
    assert stored["english"] == neutral | english and not stored["english"] & german
    assert stored["default"] == neutral | english  # content version 1
    assert stored["every"] == neutral | english | german
    assert languages == {"default": '["de", "en"]', "english": '["en"]', "every": '["all"]'}
