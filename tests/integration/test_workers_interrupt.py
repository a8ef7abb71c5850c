"""Ctrl-C during a scan: the scan worker on the host is cancelled before ansible-playbook stops.

ansible-playbook forwards the SIGINT it gets to every WorkerProcess (each is the leader of its own
session, so the terminal's signal does not reach them) and then SIGTERMs them while it cleans up;
HostRounds.run turns the first of those into an interruption and runs the cancel round, bounded,
before the worker exits (docs/scan.md, "Interrupting a scan")."""

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from ansible_runs import BIN, ansible_json_env

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from tests.catalog_gen.store import generated_store  # noqa: E402
from tests.lab.profiles import FleetProfile  # noqa: E402
from tests.lab.wua import CatalogCache  # noqa: E402


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    path, _cab, _manifest = generated_store(str(tmp_path_factory.mktemp("workers-interrupt")), updates=200, seed=7)
    return path


def _copy(source, target):
    with open(source, "rb") as read, open(target, "wb") as write:
        write.write(read.read())
    return str(target)


def _active_scans(fleet):
    return {host.name: host.backend.status()["scans"] for host in fleet}


def _wait_for(predicate, seconds, step=0.2):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def test_ctrl_c_during_a_scan_cancels_the_worker_on_every_host(catalog, tmp_path):
    store = _copy(catalog, tmp_path / "store.db")
    profile = FleetProfile(store, seed=7, search_seconds=(300.0, 300.0), cache=CatalogCache())
    with profile.fleet(2, auth="basic") as fleet:
        inventory = tmp_path / "hosts.yml"
        inventory.write_text(yaml.safe_dump(fleet.inventory()))
        playbook = tmp_path / "scan.yml"
        playbook.write_text(
            "- hosts: windows\n  gather_facts: false\n  tasks:\n"
            "    - name: scan\n      patchwave.windows.scan:\n        force: true\n        timeout: 600\n"
            "        store: %s\n        spool: %s\n" % (store, tmp_path / "spool"))
        # ansible-playbook leads its own process group, as in a terminal, where Ctrl-C reaches the group.
        process = subprocess.Popen([os.path.join(BIN, "ansible-playbook"), "-i", str(inventory), str(playbook)],
                                   env=ansible_json_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, start_new_session=True)
        try:
            started = _wait_for(lambda: all(_active_scans(fleet).values()), 60)
            assert started, "the scans never started: %s" % _active_scans(fleet)
            time.sleep(1.0)  # the first long poll is held on the host
            os.killpg(process.pid, signal.SIGINT)
            stdout, stderr = process.communicate(timeout=90)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        assert process.returncode == 99, (process.returncode, stdout[-3000:], stderr[-3000:])  # user interrupted
        assert _active_scans(fleet) == {host.name: [] for host in fleet}, stderr[-3000:]
