"""Fixtures for the content library tests: real nginx and tinyproxy on loopback, started lazily
once per test process (each xdist worker its own, on its own ports) and stopped at the end; and
the network guard on every test, so nothing can fall back to a real download host."""

import os

import pytest

from tests.servers.http import Nginx, ServerUnavailable, Tinyproxy
from tests.servers.network_guard import network_guard  # noqa: F401  pylint: disable=unused-import

_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy",
                    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def _loopback_only(network_guard, monkeypatch):  # noqa: F811  pylint: disable=redefined-outer-name
    """Every test here: loopback only, and no proxy from the environment unless the test sets one."""
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    yield network_guard


def _started(server):
    try:
        return server.start()
    except ServerUnavailable as exc:
        pytest.fail("cannot start the tests' %s: %s" % (server.name, exc), pytrace=False)


@pytest.fixture(scope="session")
def content_root(tmp_path_factory):
    """The folder nginx serves: tests put their files in a subfolder of their own (``served``)."""
    return tmp_path_factory.mktemp("served")


@pytest.fixture(scope="session")
def nginx(content_root):
    """nginx serving ``content_root`` over HTTP (``url``) and HTTPS with a self-signed cert (``tls_url``)."""
    try:
        server = Nginx(str(content_root), tls=True)
    except ServerUnavailable as exc:
        pytest.fail("cannot start the tests' nginx: %s" % exc, pytrace=False)
    yield _started(server)
    server.stop()


@pytest.fixture(scope="session")
def tinyproxy():
    try:
        server = Tinyproxy()
    except ServerUnavailable as exc:
        pytest.fail("cannot start the tests' tinyproxy: %s" % exc, pytrace=False)
    yield _started(server)
    server.stop()


@pytest.fixture
def served(content_root, request):
    """A fresh subfolder of what nginx serves, and its path below the server root (``/<name>``)."""
    name = "t%d-%s" % (os.getpid(), request.node.name.replace("[", "-").replace("]", "").replace("/", "-"))
    folder = content_root / name
    folder.mkdir()
    return folder, "/" + name
