"""distribution_point and content_stage through ansible-playbook: a package staged on a folder and on
a Samba share in WSUS's layout (checked from outside with smbclient), a second run copies nothing,
prune removes only what this collection staged, check mode writes nothing, mistakes are named."""

import hashlib
import json
import os
import subprocess
import urllib.request

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_runs import BIN, ansible_env, save
from content_fixtures import nginx, world  # noqa: F401  pylint: disable=unused-import
from test_module_returns import ReturnChecker

from tests.content_world import freeze_rows, updates_with_files
from tests.servers import samba
from tests.servers.http import Nginx


@pytest.fixture(scope="module")
def smb():
    reason = samba.available()
    if reason:
        pytest.fail("cannot start the tests' Samba server: %s" % reason)
    with samba.private_server(encrypt="if_required") as server:
        yield server


def task(label, module, options, extra=""):
    return ("    - name: %s\n      patchwave.windows.%s: %s\n      register: %s\n      ignore_errors: true\n%s"
            % (label, module, json.dumps(options), label, extra)) + save(label, label)


def packaged_store(world, nginx, runner, tmp_path, lists):
    """A copy of the world's store with one package per ``{package: (list, update count)}``, downloaded."""
    path = str(tmp_path / "store.db")
    with open(world["store"], "rb") as source, open(path, "wb") as target:
        target.write(source.read())
    store = open_store(path)
    try:
        for name, count in lists.items():
            freeze_rows(store, name, updates_with_files(store, count))
    finally:
        store.close()
    tasks = "".join(task("pkg_%s" % name, "deployment_package", {"name": name, "update_list": name, "store": path,
                                                                 "mirror_url": nginx.url("/")}) for name in lists)
    runner.play(tasks, {"results_dir": str(runner.results)}, name="packages")
    for name in lists:
        assert not runner.result("pkg_%s" % name).get("failed"), runner.result("pkg_%s" % name)["msg"]
    return path


def test_stage_on_a_folder_and_a_share(world, nginx, smb, runner, tmp_path):
    store = packaged_store(world, nginx, runner, tmp_path, {"big": 6, "small": 3})
    web = tmp_path / "www"
    web.mkdir()
    (web / "README.txt").write_text("not ours")  # a file this collection did not put there
    points = [{"name": "web", "type": "path", "path": str(web), "host_url": "http://patches.example.com/"},
              {"name": "share", "type": "smb", "server": smb.host, "port": smb.port, "share": smb.share,
               "folder": "WsusContent", "host_url": "\\\\fs01\\content\\WsusContent"}]
    creds = {"username": smb.username, "password": smb.password}
    results = {"results_dir": str(runner.results)}
    stage = dict(creds, package="big", store=store, distribution_points=points, offline_scan_file=True)
    runner.play(task("check", "content_stage", stage), results, check=True, name="check")
    check = runner.result("check")
    assert check["changed"] is True and all(p["copied"]["files"] > 0 for p in check["distribution_points"])
    assert sorted(os.listdir(web)) == ["README.txt"]  # check mode wrote nothing
    runner.play(task("first", "content_stage", stage, "      diff: true\n") + task("again", "content_stage", stage),
                results, name="stage")
    first, again = runner.result("first"), runner.result("again")
    assert not first.get("failed"), first.get("msg")
    assert smb.password not in json.dumps(first) and first["changed"] is True
    assert first["diff"] == {"before": {"web": None, "share": None}, "after": {"web": 1, "share": 1}}
    for point in first["distribution_points"]:
        assert point["copied"]["files"] > 0 and point["offline_scan"]["copied"]["files"] == 1
    for point in again["distribution_points"]:
        assert point["copied"] == {"files": 0, "bytes": 0} and point["changed"] is False, point
        assert point["offline_scan"]["copied"]["files"] == 0
    assert again["changed"] is False
    # WSUS's layout, seen from outside: <last two hex of the SHA-1>/<SHA-1>.<ext>
    copied = first["distribution_points"][0]["copied"]["files"]
    on_disk = sorted(os.path.relpath(os.path.join(d, f), web) for d, _s, fs in os.walk(web) for f in fs)
    content = [p for p in on_disk if p not in ("README.txt", "wsusscn2.cab")]
    assert len(content) == copied
    for relative in content:
        folder, name = relative.split(os.sep)
        assert len(folder) == 2 and name[:40].upper() == name[:40] and name[38:40] == folder, relative
    # the folder as an HTTP distribution point: nginx publishes it as it is, and a file fetched by its
    # layout path has the digest its name says
    with Nginx(str(web)) as published:
        with urllib.request.urlopen(published.url("/" + content[0].replace(os.sep, "/")), timeout=30) as answer:
            body = answer.read()
    assert hashlib.sha1(body).hexdigest().upper() == content[0].split(os.sep)[1][:40]
    listing = smb.smbclient(smb.share, "cd WsusContent; ls %s\\*" % content[0].split(os.sep)[0])
    assert content[0].split(os.sep)[1] in listing.stdout

    # the small package next; then prune after the big one is no longer wanted there
    small = dict(creds, package="small", store=store, distribution_points=["web"])
    runner.play(task("small", "content_stage", small) + task("prune", "content_stage", dict(small, prune=True)),
                results, name="prune")
    assert runner.result("small")["distribution_points"][0]["pruned"]["files"] == 0
    # the big package is still staged there: nothing it references may go
    assert runner.result("prune")["distribution_points"][0]["pruned"]["files"] == 0
    opened = open_store(store)
    try:
        with opened.transaction() as cursor:  # the big package leaves the web point
            cursor.execute("DELETE FROM staged_packages WHERE point = 'web' AND package = 'big'")
    finally:
        opened.close()
    runner.play(task("prune2", "content_stage", dict(small, prune=True)), results, name="prune2")
    pruned = runner.result("prune2")["distribution_points"][0]
    assert pruned["pruned"]["files"] > 0 and pruned["changed"] is True
    assert (web / "README.txt").exists() and (web / "wsusscn2.cab").exists()  # never ours to prune / not content
    checker = ReturnChecker("content_stage")
    checker.check_samples()
    for label in ("check", "first", "again", "small", "prune", "prune2"):
        checker.check(runner.result(label), label)
    assert not checker.problems and not checker.unseen(), (checker.problems, checker.unseen())


def test_stage_mistakes_are_named(world, nginx, smb, runner, tmp_path):
    store = packaged_store(world, nginx, runner, tmp_path, {"one": 2})
    # the offline scan package the catalog came from, replaced by another one since the sync
    changed_cab = tmp_path / "wsusscn2.cab"
    changed_cab.write_bytes(open(world["cab"], "rb").read() + b"newer")
    opened = open_store(store)
    try:
        with opened.transaction() as cursor:
            cursor.execute("UPDATE catalog_versions SET source_path = ?", (str(changed_cab),))
    finally:
        opened.close()
    results = {"results_dir": str(runner.results)}
    share = {"name": "share", "type": "smb", "server": smb.host, "port": smb.port, "share": smb.share,
             "host_url": "\\\\fs01\\content"}
    runner.play(
        task("badpass", "content_stage", {"package": "one", "store": store, "distribution_points": [share],
                                          "username": smb.username, "password": "WrongPass"})
        + task("down", "content_stage", {"package": "one", "store": store, "username": "nobody", "password": "Down-Passw0rd-1",
                                         "distribution_points": [dict(share, name="down", port=1)]})
        + task("nopkg", "content_stage", {"package": "nothing", "store": store, "distribution_points": ["share"]})
        + task("undefined", "content_stage", {"package": "one", "store": store, "distribution_points": ["typo"]})
        + task("secret", "content_stage", {"package": "one", "store": store,
                                           "distribution_points": [dict(share, password="Inline-Secret-42")]})
        + task("missing", "content_stage", {"package": "one", "store": store, "distribution_points": [
            {"name": "gone", "type": "path", "path": str(tmp_path / "not-mounted"), "host_url": "http://x/"}]})
        + task("newcab", "content_stage", {"package": "one", "store": store, "offline_scan_file": True,
                                           "distribution_points": [{"name": "web3", "type": "path", "path": str(tmp_path),
                                                                    "host_url": "http://x/"}]})
        + task("badurl", "distribution_point", {"name": "bad", "type": "path", "path": str(tmp_path),
                                                "host_url": "ftp://x/", "store": store})
        + task("define", "distribution_point", {"name": "web2", "type": "path", "path": str(tmp_path),
                                                "host_url": "http://patches.example.com/", "store": store},
               "      diff: true\n")
        + task("define_again", "distribution_point", {"name": "web2", "type": "path", "path": str(tmp_path),
                                                      "host_url": "http://patches.example.com/", "store": store})
        + task("remove", "distribution_point", {"name": "web2", "state": "absent", "store": store}),
        results, name="faults")
    define, again, remove = runner.result("define"), runner.result("define_again"), runner.result("remove")
    assert define["changed"] is True and define["distribution_point"]["path"] == str(tmp_path)
    assert define["diff"]["before"] == {} and again["changed"] is False
    assert remove["changed"] is True and remove["distribution_point"] is None
    checker = ReturnChecker("distribution_point")
    checker.check_samples()
    for label in ("define", "define_again", "remove"):
        checker.check(runner.result(label), label)
    assert not checker.problems and not checker.unseen(), (checker.problems, checker.unseen())
    badpass = runner.result("badpass")
    assert badpass["failed"] and "distribution point 'share'" in badpass["msg"] and badpass["cause"] == "credentials"
    assert "WrongPass" not in json.dumps(badpass)
    down = runner.result("down")
    assert down["failed"] and "distribution point 'down'" in down["msg"] and down["cause"] == "unreachable"
    assert "deployment package 'nothing' does not exist" in runner.result("nopkg")["msg"]
    assert "distribution point 'typo' is not defined" in runner.result("undefined")["msg"]
    secret = runner.result("secret")
    assert "username/password options" in secret["msg"]
    assert "Inline-Secret-42" not in json.dumps(secret)  # masked in the echoed arguments too
    missing = runner.result("missing")
    assert missing["failed"] and "does not exist (is it mounted?)" in missing["msg"]
    assert "host_url must say how Windows hosts reach the content" in runner.result("badurl")["msg"]
    assert "has changed since catalog version 1 was synced from it" in runner.result("newcab")["msg"]


def test_distribute_content_role(world, nginx, runner, tmp_path):
    """The role downloads each package and stages it, and prints what it did per point."""
    store = str(tmp_path / "store.db")
    with open(world["store"], "rb") as source, open(store, "wb") as target:
        target.write(source.read())
    opened = open_store(store)
    try:
        freeze_rows(opened, "month", updates_with_files(opened, 4))
    finally:
        opened.close()
    web = tmp_path / "www"
    web.mkdir()
    playbook = tmp_path / "distribute.yml"
    playbook.write_text(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  roles:\n"
        "    - role: patchwave.windows.distribute_content\n      vars:\n"
        "        distribute_content_store: %s\n        distribute_content_mirror_url: %s\n"
        "        distribute_content_packages: [{name: pilot, update_list: month}]\n"
        "        distribute_content_languages: [en, de]\n"
        "        distribute_content_points: [{name: web, type: path, path: %s, host_url: 'http://patches/'}]\n"
        % (store, nginx.url("/"), web))
    done = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", str(playbook)],
                          env=ansible_env(tmp_path), capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "package pilot (list month version 1, content version 1):" in done.stdout
    assert "(languages: de, en)" in done.stdout  # distribute_content_languages reaches deployment_package
    assert "pilot on web (%s): copied" % web in done.stdout
