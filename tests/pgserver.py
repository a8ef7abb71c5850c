"""A private PostgreSQL server for the tests (tests/conftest.py) and the benchmarks.

``private_server()`` is a context manager: initdb into a temporary folder, a free loopback port,
scram password authentication; yields a ``Server`` whose ``new_database()`` makes a fresh, empty
database and returns its ``postgresql://`` address. The server is stopped and its folder deleted at
the end. As root the server runs as the ``postgres`` OS user (PostgreSQL refuses to run as root).

``available()`` says why it cannot run (no server binaries, no psycopg), or None.
"""

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid

USER = "patchwave"


def bindir():
    def version(path):
        name = path.split(os.sep)[-3]
        return tuple(int(p) for p in name.split(".") if p.isdigit())
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    return os.path.dirname(found[-1]) if found else None


def available():
    """None when a private server can be started, else the reason it cannot."""
    if bindir() is None:
        return "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb; `make postgres` installs them)"
    try:
        import psycopg  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    except ImportError:
        return "the Python package psycopg is missing from the venv (`make venv`)"
    return None


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    def __init__(self, port, password):
        self.port = port
        self.password = password

    def dsn(self, dbname):
        return "postgresql://%s:%s@127.0.0.1:%d/%s" % (USER, self.password, self.port, dbname)

    def admin(self, statement):
        import psycopg  # pylint: disable=import-outside-toplevel
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as connection:
            connection.execute(statement)

    def new_database(self, prefix="b"):
        name = "%s_%s" % (prefix, uuid.uuid4().hex[:16])
        self.admin("CREATE DATABASE %s" % name)
        return self.dsn(name)

    def drop_database(self, dsn):
        self.admin("DROP DATABASE IF EXISTS %s WITH (FORCE)" % dsn.rsplit("/", 1)[1])


@contextlib.contextmanager
def private_server(root=None, settings=()):
    """Start a private server (data folder under ``root``, default the system temp folder).

    ``root`` must be reachable by the server's OS user (as root: ``postgres``).
    ``settings``: extra ``name=value`` server settings. Like the tests' server it runs with
    ``fsync=off``, ``full_page_writes=off`` and ``synchronous_commit=off``: a throwaway cluster.
    """
    reason = available()
    if reason:
        raise RuntimeError(reason)
    binaries = bindir()
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    password = "pw-%s" % uuid.uuid4().hex[:12]
    base = tempfile.mkdtemp(prefix="patchwave-bench-pg-", dir=root)
    data = os.path.join(base, "data")
    log = os.path.join(base, "server.log")
    pwfile = os.path.join(base, "pwfile")
    with open(pwfile, "w", encoding="utf-8") as handle:
        handle.write(password + "\n")
    if as_root:
        shutil.chown(base, "postgres", "postgres")
        shutil.chown(pwfile, "postgres", "postgres")
    port = _free_port()
    started = False
    try:
        subprocess.run(prefix + [os.path.join(binaries, "initdb"), "-D", data, "-U", USER, "--pwfile", pwfile,
                                 "--auth", "scram-sha-256", "--locale", "C", "--encoding", "UTF8"],
                       check=True, capture_output=True, text=True)
        options = ("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off "
                   "-c synchronous_commit=off -c max_connections=50" % (port, base))
        for setting in settings:
            options += " -c %s" % setting
        started = True
        subprocess.run(prefix + [os.path.join(binaries, "pg_ctl"), "-D", data, "-l", log, "-o", options, "-w",
                                 "-t", "60", "start"], check=True, capture_output=True, text=True)
        yield Server(port, password)
    except subprocess.CalledProcessError as exc:
        tail = ""
        if os.path.exists(log):
            with open(log, encoding="utf-8", errors="replace") as handle:
                tail = handle.read()[-2000:]
        raise RuntimeError("cannot start PostgreSQL: %s\n%s\n%s\n%s" % (exc, exc.stdout, exc.stderr, tail))
    finally:
        if started:
            subprocess.run(prefix + [os.path.join(binaries, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"],
                           check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
