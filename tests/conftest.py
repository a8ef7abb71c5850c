"""Make the collection importable as ``ansible_collections.patchwave.windows`` for pytest.

The Makefile links the checkout into ``.build/collections``; this does the same when pytest is
run by hand, so tests always import the collection the way Ansible does.
"""
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(REPO, ".build", "collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "patchwave", "windows")

if not os.path.islink(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(REPO, LINK)
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)

import pytest  # noqa: E402

from tests.servers.network_guard import network_guard  # noqa: E402,F401  pylint: disable=unused-import


@pytest.fixture(autouse=True)
def _loopback_only(network_guard):  # noqa: F811  pylint: disable=redefined-outer-name
    """Every test: a connection beyond loopback fails naming the address (tests/servers/network_guard.py);
    the processes the integration tests start get the same through tests/servers/guard_site."""
    yield network_guard


SHARED = os.environ.get("PATCHWAVE_SHARED") or os.path.join(os.path.dirname(REPO), "shared")


@pytest.fixture(scope="session")
def shared_dir():
    """The ``shared/`` folder beside the checkout (real Microsoft samples, tools)."""
    if not os.path.isdir(os.path.join(SHARED, "catalog_samples")):
        raise RuntimeError("shared/ with catalog_samples/ not found at %s; set PATCHWAVE_SHARED" % SHARED)
    return SHARED


@pytest.fixture(scope="session")
def samples_dir(shared_dir):
    """``shared/catalog_samples``."""
    return os.path.join(shared_dir, "catalog_samples")


# -- PostgreSQL: a private server for the store's second backend ---------------------------------
# The tests start their own server (tests/pgserver.py: initdb into a temporary folder, a free
# loopback port, password authentication), so nothing depends on a system cluster.

from tests.pgserver import available, private_server  # noqa: E402


@pytest.fixture(scope="session")
def postgres_server():
    """A running PostgreSQL server of our own (a tests.pgserver.Server); stopped and deleted at the end."""
    reason = available()
    if reason:
        pytest.fail("cannot start the tests' PostgreSQL server: %s" % reason)
    try:
        with private_server(settings=("max_connections=200",)) as server:
            server.admin("CREATE DATABASE patchwave")
            yield server
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def postgres_dsn(postgres_server):
    """``postgresql://user:password@127.0.0.1:PORT/patchwave`` on the private server (scram password auth)."""
    return postgres_server.dsn("patchwave")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def store_address(request, tmp_path):
    """A fresh, empty store address on each backend: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield str(tmp_path / "store" / "patchwave.db")
        return
    server = request.getfixturevalue("postgres_server")
    dsn = server.new_database("t")
    yield dsn
    server.drop_database(dsn)


# -- the fast loop and the rest ------------------------------------------------------------------
# `make unit` runs what needs no server: pure tests and the SQLite side of every store test.
# Everything under tests/integration, every test on the PostgreSQL backend and every test that
# starts the PostgreSQL server is marked `integration` and runs in `make integration`.

INTEGRATION_FIXTURES = {"postgres_server", "postgres_dsn"}


def pytest_configure(config):
    config.addinivalue_line("markers", "integration: needs a server, the lab over WinRM, Chromium or ansible-playbook "
                                       "(make integration)")


def pytest_collection_modifyitems(config, items):
    folder = os.path.join(REPO, "tests", "integration") + os.sep
    for item in items:
        if str(item.path).startswith(folder) or INTEGRATION_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.integration)
