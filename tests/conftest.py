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
# The tests start their own server (initdb into a temporary folder, a free loopback port, password
# authentication), so nothing depends on a system cluster. As root the server runs as the
# ``postgres`` OS user (PostgreSQL refuses to run as root); otherwise as the current user.

import glob  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import uuid  # noqa: E402

PG_USER = "patchwave"
PG_PASSWORD = "pw-%s" % uuid.uuid4().hex[:12]


def _pg_bindir():
    def version(path):
        name = path.split(os.sep)[-3]
        return tuple(int(p) for p in name.split(".") if p.isdigit())
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    return os.path.dirname(found[-1]) if found else None


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _pg_dsn(port, dbname, password=PG_PASSWORD):
    return "postgresql://%s:%s@127.0.0.1:%d/%s" % (PG_USER, password, port, dbname)


def _pg_admin(dsn, statement):
    import psycopg
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(statement)


@pytest.fixture(scope="session")
def postgres_server():
    """A running PostgreSQL server of our own: yields its port; stopped and deleted at the end."""
    bindir = _pg_bindir()
    if bindir is None:
        pytest.fail("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb): install the Debian "
                    "package postgresql (`make unit` does so when run as root)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.fail("the Python package psycopg is missing from the venv: run `make venv`")
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    base = tempfile.mkdtemp(prefix="patchwave-pg-")
    data = os.path.join(base, "data")
    log = os.path.join(base, "server.log")
    pwfile = os.path.join(base, "pwfile")
    with open(pwfile, "w", encoding="utf-8") as handle:
        handle.write(PG_PASSWORD + "\n")
    if as_root:
        shutil.chown(base, "postgres", "postgres")
        shutil.chown(pwfile, "postgres", "postgres")
    port = _free_port()
    started = False
    try:
        subprocess.run(prefix + [os.path.join(bindir, "initdb"), "-D", data, "-U", PG_USER, "--pwfile", pwfile,
                                 "--auth", "scram-sha-256", "--locale", "C", "--encoding", "UTF8"],
                       check=True, capture_output=True, text=True)
        options = "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off " \
                  "-c synchronous_commit=off -c max_connections=200" % (port, base)
        started = True
        subprocess.run(prefix + [os.path.join(bindir, "pg_ctl"), "-D", data, "-l", log, "-o", options, "-w", "-t", "60",
                                 "start"], check=True, capture_output=True, text=True)
        _pg_admin(_pg_dsn(port, "postgres"), "CREATE DATABASE patchwave")
        yield port
    except subprocess.CalledProcessError as exc:
        tail = ""
        if os.path.exists(log):
            with open(log, encoding="utf-8", errors="replace") as handle:
                tail = handle.read()[-2000:]
        pytest.fail("cannot start PostgreSQL: %s\n%s\n%s\n%s" % (exc, exc.stdout, exc.stderr, tail))
    finally:
        if started:
            subprocess.run(prefix + [os.path.join(bindir, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"],
                           check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_dsn(postgres_server):
    """``postgresql://user:password@127.0.0.1:PORT/patchwave`` on the private server (scram password auth)."""
    return _pg_dsn(postgres_server, "patchwave")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_address(request, tmp_path):
    """A fresh, empty store address on each backend: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield str(tmp_path / "store" / "patchwave.db")
        return
    port = request.getfixturevalue("postgres_server")
    name = "t_%s" % uuid.uuid4().hex[:16]
    _pg_admin(_pg_dsn(port, "postgres"), "CREATE DATABASE %s" % name)
    yield _pg_dsn(port, name)
    _pg_admin(_pg_dsn(port, "postgres"), "DROP DATABASE %s WITH (FORCE)" % name)
