"""`python -m tests.lab mount` / `unmount`: the CLI maps a folder of this machine to a host path or
share on a running lab's hosts, and an offline scan then reads its wsusscn2.cab from there."""

import json
import threading
from http.server import ThreadingHTTPServer

import pytest

from tests.catalog_gen.store import generated_store
from tests.lab import __main__ as cli
from tests.lab.backend import ModuleContext
from tests.lab.fleet import Fleet
from tests.lab.hosts import wua_host
from tests.lab.profiles import FleetProfile
from tests.lab.wua import CatalogCache

SCAN = "patchwave.windows.scan"


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    path, cab, dummy = generated_store(str(tmp_path_factory.mktemp("cli-mount")), updates=200, seed=9)
    return {"store": path, "cab": cab}


@pytest.fixture
def lab(catalog, tmp_path, monkeypatch):
    """A WUA fleet of 3 hosts with the CLI's control endpoint, as ``start --store`` runs it."""
    profile = FleetProfile(catalog["store"], seed=1, search_seconds=(0, 0), time_scale=0, cache=CatalogCache())
    with Fleet(3, auth="basic", module_cost=0, **profile.fleet_kwargs()) as fleet:
        monkeypatch.setattr(cli._Control, "fleet", fleet)
        control = ThreadingHTTPServer(("127.0.0.1", 0), cli._Control)
        threading.Thread(target=control.serve_forever, daemon=True).start()
        state_dir = tmp_path / "state"
        state_dir.mkdir()
        (state_dir / "lab.json").write_text(json.dumps({"control_port": control.server_address[1]}))
        try:
            yield fleet, str(state_dir)
        finally:
            control.shutdown()
            control.server_close()


def offline_scan(host, path):
    """start + poll of an offline scan on the host's backend; the poll's scan, or the refused start."""
    context = ModuleContext(host=host.model, user="Administrator", now=host.model.boot_time + 3600)
    start = host.backend.run_module(SCAN, {"_operation": "start", "server_selection": "offline",
                                           "offline_scan_file": path}, context)
    if start.get("failed"):
        return start
    done = host.backend.run_module(SCAN, {"_operation": "poll", "_operation_options": {"scan_id": start["scan_id"]}},
                                   context)
    assert done["state"] == "done", done
    return done["scan"]


def test_mount_then_unmount_an_offline_scan_share(lab, catalog, tmp_path, capsys):
    fleet, state_dir = lab
    share = tmp_path / "wsus"
    share.mkdir()
    (share / "wsusscn2.cab").write_bytes(open(catalog["cab"], "rb").read())
    before = offline_scan(fleet.host(1), "\\\\fs01\\wsus\\wsusscn2.cab")
    assert (before["result_code"], before["hresult"]) == (4, 0x80070002)

    assert cli.main(["mount", "\\\\fs01\\wsus", str(share), "--state-dir", state_dir]) == 0
    printed = capsys.readouterr().out
    assert printed.count("\\\\fs01\\wsus -> %s" % share) == 3, printed
    for host in fleet.hosts:
        assert wua_host(host.model).fs.mounts == {"\\\\fs01\\wsus": str(share)}
        scan = offline_scan(host, "\\\\FS01\\wsus\\wsusscn2.cab")
        assert (scan["mode"], scan["result_code"]) == ("offline", 2), scan
        assert scan["updates"], "an offline scan against the generated catalog finds updates"

    assert cli.main(["unmount", "\\\\fs01\\wsus", "--host", "win002", "--state-dir", state_dir]) == 0
    assert wua_host(fleet.host(2).model).fs.mounts == {}
    assert wua_host(fleet.host(1).model).fs.mounts == {"\\\\fs01\\wsus": str(share)}
    assert offline_scan(fleet.host(2), "\\\\fs01\\wsus\\wsusscn2.cab")["hresult"] == 0x80070002


def test_mount_a_drive_path_on_named_hosts_only(lab, catalog, tmp_path):
    fleet, state_dir = lab
    local = tmp_path / "local"
    local.mkdir()
    (local / "wsusscn2.cab").write_bytes(open(catalog["cab"], "rb").read())
    path = "C:\\Patchwave\\wsusscn2.cab"
    assert "does not exist on the host" in offline_scan(fleet.host(3), path)["msg"]
    assert cli.main(["mount", "C:\\Patchwave", str(local), "--host", "win003", "--host", "win001",
                     "--state-dir", state_dir]) == 0
    assert offline_scan(fleet.host(3), path)["result_code"] == 2
    assert offline_scan(fleet.host(1), path)["result_code"] == 2
    assert offline_scan(fleet.host(2), path)["failed"] is True


@pytest.mark.parametrize("argv, message", [
    (["mount", "\\\\fs01\\wsus", "{missing}"], "is not a folder on the lab's machine"),
    (["mount", "relative\\path", "{folder}"], "neither a drive path"),
    (["mount", "C:\\Patchwave", "{folder}", "--host", "win009"], "no host win009 in this lab"),
])
def test_mount_refusals_name_the_problem(lab, tmp_path, argv, message):
    fleet, state_dir = lab
    argv = [a.format(missing=tmp_path / "nowhere", folder=tmp_path) for a in argv]
    with pytest.raises(SystemExit) as refused:
        cli.main(argv + ["--state-dir", state_dir])
    assert message in str(refused.value), str(refused.value)
    assert all(wua_host(host.model).fs.mounts == {} for host in fleet.hosts)
