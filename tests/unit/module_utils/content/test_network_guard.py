"""The network guard (tests/servers/network_guard.py): loopback goes, anything else raises, naming
the address, before a packet leaves. Every test in this folder runs under it (conftest.py)."""

import os
import socket
import urllib.request

import pytest

from tests.servers.network_guard import NonLoopbackConnection, is_loopback


@pytest.mark.parametrize("family, address, allowed", [
    (socket.AF_INET, ("127.0.0.1", 80), True),
    (socket.AF_INET, ("127.8.9.10", 80), True),
    (socket.AF_INET, ("localhost", 80), True),
    (socket.AF_INET6, ("::1", 80, 0, 0), True),
    (socket.AF_INET6, ("::ffff:127.0.0.1", 80, 0, 0), True),
    (socket.AF_UNIX, "/run/some.sock", True),
    (socket.AF_INET, ("192.0.2.1", 80), False),
    (socket.AF_INET, ("10.0.0.1", 445), False),
    (socket.AF_INET6, ("2001:db8::1", 443, 0, 0), False),
    (socket.AF_INET6, ("::ffff:192.0.2.1", 443, 0, 0), False),
    (socket.AF_INET, ("download.windowsupdate.com", 80), False),
])
def test_what_counts_as_loopback(family, address, allowed):
    assert is_loopback(family, address) is allowed


def test_outbound_connections_raise_with_the_address(network_guard):
    with network_guard.expected():
        with pytest.raises(NonLoopbackConnection, match="192.0.2.1"):
            socket.create_connection(("192.0.2.1", 80), timeout=1)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            with pytest.raises(NonLoopbackConnection, match="10.1.2.3"):
                sock.connect(("10.1.2.3", 443))
            with pytest.raises(NonLoopbackConnection, match="10.1.2.3"):
                sock.connect_ex(("10.1.2.3", 443))
        # urllib does not take it for a network error to wrap or retry: it reaches the test as it is
        with pytest.raises(NonLoopbackConnection, match="download.windowsupdate.com"):
            urllib.request.urlopen("http://download.windowsupdate.com/c/x.cab", timeout=1)
        assert len(network_guard.refused) == 4


def test_loopback_and_unix_sockets_still_work(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=5):
            pass
    path = os.path.join(str(tmp_path), "s.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen(1)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(path)


def test_a_swallowed_refusal_is_recorded(network_guard):
    with network_guard.expected():
        try:
            socket.create_connection(("198.51.100.7", 80), timeout=1)
        except Exception:  # pylint: disable=broad-except  # what careless code would do
            pass
        assert network_guard.refused == [("198.51.100.7", 80)]
