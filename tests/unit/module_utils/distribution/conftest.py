"""Fixtures for staging tests: content in a library folder, and the two kinds of distribution point.

``samba_server``: one private smbd per test process (``tests/servers/samba.py``), stopped at the end.
``make_target``: a factory of fresh, empty distribution points, parametrized over a folder
(``path``) and a folder on the Samba share (``smb``, marked ``integration``); ``small_target`` the
same on a 2 MiB file system, for running out of space.
"""

import hashlib
import os
import subprocess
import uuid

import pytest

from ansible_collections.patchwave.windows.plugins.module_utils._distribution.path_target import PathTarget
from ansible_collections.patchwave.windows.plugins.module_utils._distribution.smb_target import SmbTarget
from tests.servers import samba

SMALL_BYTES = 2 * 1024 * 1024


@pytest.fixture(scope="session")
def samba_server():
    """A running private smbd (a ``tests.servers.samba.Server``): signing mandatory, encryption if the client asks."""
    reason = samba.available()
    if reason:
        pytest.fail("cannot start the tests' Samba server: %s" % reason)
    try:
        with samba.private_server(encrypt="if_required", small_bytes=SMALL_BYTES) as server:
            yield server
    except RuntimeError as exc:
        pytest.fail(str(exc))


def smb_target(server, share=None, folder=None, **options):
    """An ``SmbTarget`` on ``server``'s share, in a fresh folder unless one is given."""
    options.setdefault("username", server.username)
    options.setdefault("password", server.password)
    options.setdefault("port", server.port)
    return SmbTarget("dp-smb", server.host, share or server.share,
                     folder="t-%s" % uuid.uuid4().hex[:8] if folder is None else folder, **options)


@pytest.fixture
def make_smb_target(samba_server):
    """``make_smb_target(**options)``: an ``SmbTarget`` on the tests' share, in a fresh folder unless one is given."""
    return lambda share=None, folder=None, **options: smb_target(samba_server, share, folder, **options)


class Library:
    """A content library folder with generated files; ``record`` gives what staging takes."""

    def __init__(self, root):
        self.root = root
        os.makedirs(root, exist_ok=True)

    def add(self, size, seed=None, extension="cab", sha1=True):
        data = hashlib.sha256(("seed-%s" % (seed if seed is not None else uuid.uuid4().hex)).encode()).digest()
        body = (data * (size // len(data) + 1))[:size]
        path = os.path.join(self.root, "%s.%s" % (hashlib.sha1(body).hexdigest(), extension))
        with open(path, "wb") as handle:
            handle.write(body)
        return {"sha1": hashlib.sha1(body).hexdigest() if sha1 else None, "sha256": hashlib.sha256(body).hexdigest(),
                "size": size, "extension": extension, "source_path": path}


@pytest.fixture
def library(tmp_path):
    return Library(str(tmp_path / "library"))


class PathPoint:
    """A path distribution point and how to look at it from outside."""

    kind = "path"

    def __init__(self, root):
        self.root = root

    def target(self):
        return PathTarget("dp-path", self.root)

    def files(self):
        """``{relative path: size}`` of every file below the root, read from the file system."""
        found = {}
        for folder, _dirs, names in os.walk(self.root):
            for name in names:
                full = os.path.join(folder, name)
                found[os.path.relpath(full, self.root).replace(os.sep, "/")] = os.path.getsize(full)
        return found

    def place(self, relpath, body):
        full = os.path.join(self.root, *relpath.split("/"))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as handle:
            handle.write(body)


class SmbPoint(PathPoint):
    """A folder on the Samba share; the server's folder on disk is what the share holds."""

    kind = "smb"

    def __init__(self, server, share_dir, share=None, **options):
        self.server = server
        self.folder = "t-%s" % uuid.uuid4().hex[:8]
        super().__init__(os.path.join(share_dir, self.folder))
        self.share = share
        self.options = options

    def target(self):
        return smb_target(self.server, share=self.share, folder=self.folder, **self.options)

    def place(self, relpath, body):
        super().place(relpath, body)
        owner = os.stat(os.path.dirname(self.root))
        for folder, _dirs, names in os.walk(self.root):
            os.chown(folder, owner.st_uid, owner.st_gid)
            for name in names:
                os.chown(os.path.join(folder, name), owner.st_uid, owner.st_gid)


@pytest.fixture(params=["path", pytest.param("smb", marks=pytest.mark.integration)])
def point(request, tmp_path):
    """A fresh, empty distribution point of each kind."""
    if request.param == "path":
        root = tmp_path / "dp"
        root.mkdir()
        return PathPoint(str(root))
    server = request.getfixturevalue("samba_server")
    return SmbPoint(server, server.share_dir)


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 2 MiB tmpfs mounted for the test (root only), unmounted after it."""
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d" % SMALL_BYTES, "tmpfs", str(folder)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip("a small file system to fill needs `mount -t tmpfs` (root): %s" % mounted.stderr.strip())
    yield str(folder)
    subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


@pytest.fixture(params=["path", pytest.param("smb", marks=pytest.mark.integration)])
def small_point(request):
    """A fresh distribution point of each kind on a 2 MiB file system."""
    if request.param == "path":
        return PathPoint(request.getfixturevalue("small_tmpfs"))
    server = request.getfixturevalue("samba_server")
    if server.small_unavailable:
        pytest.skip(server.small_unavailable)
    return SmbPoint(server, server.small_dir, share=server.small_share)
