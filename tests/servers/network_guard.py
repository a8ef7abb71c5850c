"""Keep tests on loopback: any outbound connection to anything else fails loudly.

``guard()`` (a context manager, pytest-independent) patches ``socket.socket.connect``,
``socket.socket.connect_ex`` and ``socket.create_connection`` in this process. A connection to
127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z), the name ``localhost`` or a unix socket goes ahead;
anything else raises ``NonLoopbackConnection`` naming the address, before any packet leaves.
It is an AssertionError, not an OSError, so urllib and the downloader do not mistake it for a
network failure to retry or report: it propagates and fails the test. Every refusal is also
recorded, and the ``network_guard`` fixture fails the test at teardown if one was swallowed.

Other host names are refused without being resolved (resolving one is itself a query to a DNS
server). Child processes (nginx, tinyproxy) are not affected; they only listen on loopback.

Use: ``from tests.servers.network_guard import network_guard`` in a conftest, and an autouse
fixture depending on it. A test that provokes a refusal on purpose wraps it in
``with network_guard.expected(): ...``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket

_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


class NonLoopbackConnection(AssertionError):
    """A test tried to connect beyond loopback."""


def is_loopback(family, address):
    """Whether connecting a socket of ``family`` to ``address`` stays on this machine."""
    if family == getattr(socket, "AF_UNIX", None):
        return True
    if isinstance(address, (bytes, str)) and family not in (socket.AF_INET, socket.AF_INET6):
        return True  # other address families with path-like addresses (abstract unix sockets)
    host = address[0] if isinstance(address, tuple) and address else address
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    host = host.strip("[]").split("%")[0]
    if host.lower().rstrip(".") in _LOCAL_NAMES:
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name other than localhost: refused unresolved
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_loopback


class Guard:
    """The installed patches and what they refused."""

    def __init__(self):
        self.refused = []
        self._expected = 0

    @contextlib.contextmanager
    def expected(self):
        """Refusals inside this block are the point of the test: not held against it at teardown."""
        start = len(self.refused)
        self._expected += 1
        try:
            yield self
        finally:
            self._expected -= 1
            del self.refused[start:]

    def check(self, family, address):
        if not is_loopback(family, address):
            self.refused.append(address)
            raise NonLoopbackConnection("network guard: a test tried to connect to %r; tests may only reach "
                                        "loopback (127.0.0.0/8, ::1, unix sockets)" % (address,))


@contextlib.contextmanager
def guard():
    """Patch the socket module so that only loopback connections work; yield the Guard."""
    state = Guard()
    own = {name: socket.socket.__dict__[name] for name in ("connect", "connect_ex") if name in socket.socket.__dict__}
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_create_connection = socket.create_connection

    def connect(self, address):
        state.check(self.family, address)
        return original_connect(self, address)

    def connect_ex(self, address):
        state.check(self.family, address)
        return original_connect_ex(self, address)

    def create_connection(address, *args, **kwargs):
        state.check(socket.AF_INET, address)  # checked by name, before any lookup
        return original_create_connection(address, *args, **kwargs)

    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    socket.create_connection = create_connection
    try:
        yield state
    finally:
        for name in ("connect", "connect_ex"):
            if name in own:
                setattr(socket.socket, name, own[name])
            else:
                delattr(socket.socket, name)  # inherited from _socket.socket again
        socket.create_connection = original_create_connection


try:
    import pytest
except ImportError:  # the guard itself needs no pytest
    pytest = None

if pytest is not None:
    @pytest.fixture
    def network_guard():
        """Only loopback for this test; fails it at teardown if a refused connection was swallowed."""
        with guard() as state:
            yield state
        if state.refused:
            pytest.fail("network guard: the test tried to reach %s (refused, and the error was swallowed)"
                        % ", ".join(repr(a) for a in state.refused))
