"""The test servers themselves (tests/servers/http.py): a missing binary is named with its Debian
package, and a stopped server leaves no process and no folder behind."""

import os

import pytest

from tests.servers.http import Nginx, ServerUnavailable, Tinyproxy, find_binary


def test_a_missing_binary_names_its_package():
    with pytest.raises(ServerUnavailable, match="patchwave-no-such-server not found: install the Debian package "
                                                "patchwave-pkg"):
        find_binary("patchwave-no-such-server", "patchwave-pkg")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open("/proc/%d/stat" % pid, encoding="ascii") as handle:
        return handle.read().split(")")[-1].split()[0] != "Z"


@pytest.mark.integration
def test_servers_stop_leaving_nothing_running(tmp_path):
    with Nginx(str(tmp_path), tls=True) as nginx, Tinyproxy() as proxy:
        pids = [nginx.process.pid, proxy.process.pid]
        folders = [nginx.folder, proxy.folder]
        workers = [int(p) for p in os.listdir("/proc") if p.isdigit() and _ppid(int(p)) == nginx.process.pid]
        assert workers  # nginx's worker processes
    for pid in pids + workers:
        assert not _alive(pid)
    assert not any(os.path.exists(f) for f in folders)


def _ppid(pid):
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii") as handle:
            return int(handle.read().split(")")[-1].split()[1])
    except (OSError, ValueError):
        return None
