# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""A distribution point on an SMB share (``\\\\server\\share\\folder``), through smbprotocol.

Signing is always required; encryption when asked. Each target keeps its own connection cache, so
two distribution points on one server with different accounts never share a session, and
``close`` drops it. smbprotocol is imported only when an SMB target connects (``requirements.txt``:
only SMB distribution points need it). The hot path (listing content folders, writing files) uses
``smb_requests.py`` on the target's own tree connection; the rest is smbclient's API.
"""

from __future__ import annotations

from ansible_collections.patchwave.windows.plugins.module_utils._distribution import errors
from ansible_collections.patchwave.windows.plugins.module_utils._distribution.errors import DistributionError
from ansible_collections.patchwave.windows.plugins.module_utils._distribution.layout import check_name, folder_parts
from ansible_collections.patchwave.windows.plugins.module_utils._distribution.target import Target, Writer

CREDITS_WANTED = 1024  # asked for once connected: room for pipelined writes and listings

# NTSTATUS values (MS-ERREF 2.3.1) that decide the cause named in the error
_CREDENTIALS = {0xC000006D, 0xC000006A, 0xC0000064, 0xC000006E, 0xC0000070, 0xC0000071, 0xC0000072, 0xC0000193,
                0xC0000224, 0xC0000234, 0xC0000022}  # logon failure, wrong password, no such user, ..., access denied
# bad network name, not found, bad path, path/name not found
_UNREACHABLE = {0xC00000CC, 0xC0000225, 0xC00000BE, 0xC000003A, 0xC0000034}
_NO_SPACE = {0xC000007F, 0xC0000044}  # disk full, quota exceeded
_MESSAGES = {0xC000006D: "the server refused the user name or password (STATUS_LOGON_FAILURE)",
             0xC000006A: "the server refused the password (STATUS_WRONG_PASSWORD)",
             0xC0000022: "access denied (STATUS_ACCESS_DENIED)",
             0xC00000CC: "no such share (STATUS_BAD_NETWORK_NAME)",
             0xC000007F: "the share is full (STATUS_DISK_FULL)",
             0xC0000044: "the user's quota is exhausted (STATUS_QUOTA_EXCEEDED)"}


def _status(exc):
    value = getattr(exc, "ntstatus", None)
    if value is None:
        value = getattr(exc, "status", None)
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class SmbTarget(Target):
    """``\\\\server\\share\\folder`` reached on ``port`` as ``username``; ``folder`` is created when missing."""

    def __init__(self, name, server, share, folder="", port=445, username=None, password=None, encrypt=False,
                 timeout=30, write_size=1024 * 1024, depth=8):
        self.name = name
        self.server = check_name(server, "server name")
        self.share = check_name(share, "share name")
        self.folder = folder_parts(folder)
        self.port = int(port)
        self.username = username
        self.password = password
        self.encrypt = bool(encrypt)
        self.timeout = timeout
        self.write_size = write_size
        self.depth = max(1, depth)
        self.location = "\\\\%s\\%s" % (server, "\\".join((self.share,) + self.folder))
        self._cache = {}
        self._session = None
        self._smbclient = None
        self._tree = None
        self._requests = None

    # -- connection and errors ---------------------------------------------------------------------

    def _fail(self, exc, action, parts=()):
        status = _status(exc)
        if status in _CREDENTIALS:
            cause = errors.CREDENTIALS
        elif status in _UNREACHABLE:
            cause = errors.UNREACHABLE
        elif status in _NO_SPACE:
            cause = errors.NO_SPACE
        else:
            cause = errors.IO
        what = _MESSAGES.get(status) or str(exc) or type(exc).__name__
        where = "\\".join(parts) if parts else ""
        target = "%s\\%s" % (self.location, where) if where else self.location
        return DistributionError(self.name, cause, "cannot %s %s (port %d): %s" % (action, target, self.port, what))

    def _unc(self, parts):
        return "\\\\%s\\%s" % (self.server, "\\".join((self.share,) + self.folder + tuple(parts)))

    def _name(self, parts):
        """A path relative to the share, as SMB2 requests on the tree take it."""
        return "\\".join(self.folder + tuple(parts))

    def _kwargs(self):
        return {"port": self.port, "connection_cache": self._cache}

    def connect(self, create=True):
        """Log on and reach the share; create the folder below it unless ``create`` is false (check mode)."""
        try:
            self._connect(create)
        except BaseException:
            self.close()  # a failed connect leaves no connection (and no receive thread) behind
            raise

    def _connect(self, create):
        try:
            import smbclient  # pylint: disable=import-outside-toplevel
        except ImportError as exc:
            raise DistributionError(self.name, errors.IO, "the Python package smbprotocol is needed for SMB "
                                    "distribution points (pip install smbprotocol): %s" % exc) from exc
        self._smbclient = smbclient
        try:
            # pylint: disable=import-outside-toplevel
            from ansible_collections.patchwave.windows.plugins.module_utils._distribution import smb_requests
            # our own connection in the cache, so that smbclient's session (and its API) uses it: its
            # receive thread hands the answers to smb_requests' own requests over as bytes
            connection = smb_requests.ReceivingConnection(smbclient.ClientConfig().client_guid, self.server, self.port,
                                                          require_signing=True)
            connection.connect(timeout=self.timeout)
            self._cache["%s:%d" % (self.server.lower(), self.port)] = connection
            self._session = smbclient.register_session(
                self.server, username=self.username, password=self.password, port=self.port,
                encrypt=True if self.encrypt else None, connection_timeout=self.timeout,
                connection_cache=self._cache, require_signing=True)
        except ValueError as exc:  # smbprotocol's "Failed to connect to 'host:port': ..."
            raise DistributionError(self.name, errors.UNREACHABLE, "cannot reach %s on port %d: %s"
                                    % (self.server, self.port, exc)) from exc
        except Exception as exc:  # pylint: disable=broad-except  # smbprotocol/spnego raise many types
            failure = self._fail(exc, "log on as %r to" % self.username, ())
            if failure.cause == errors.IO and "auth" in type(exc).__name__.lower() + str(exc).lower():
                failure = DistributionError(self.name, errors.CREDENTIALS, "cannot log on to %s (port %d) as %r: %s"
                                            % (self.server, self.port, self.username, exc))
            raise failure from exc
        if self.encrypt and not self._session.encrypt_data:
            raise DistributionError(self.name, errors.IO, "encryption was asked for but %s does not encrypt"
                                    % self.server)
        # the share must exist; the folder below it is ours to create
        try:
            from smbprotocol.tree import TreeConnect  # pylint: disable=import-outside-toplevel
            self._requests = smb_requests
            self._tree = TreeConnect(self._session, "\\\\%s\\%s" % (self.server, self.share))
            self._tree.connect()
            connection = self._session.connection
            if smb_requests.available_credits(connection) < CREDITS_WANTED:
                connection.echo(sid=self._session.session_id, timeout=self.timeout,
                                credit_request=CREDITS_WANTED - smb_requests.available_credits(connection))
        except Exception as exc:  # pylint: disable=broad-except
            failure = self._fail(exc, "open share")
            if failure.cause == errors.UNREACHABLE or _status(exc) == 0xC00000CC:
                failure = DistributionError(self.name, errors.UNREACHABLE, "no such share '%s' on %s (port %d): %s"
                                            % (self.share, self.server, self.port, exc))
            raise failure from exc
        # the folder below the share, and its parents
        if create:
            self._make(["\\".join(self.folder[:depth]) for depth in range(1, len(self.folder) + 1)])

    def close(self):
        if self._tree is not None:
            try:
                self._tree.disconnect()
            except Exception:  # pylint: disable=broad-except
                pass
            self._tree = None
        if self._smbclient is not None:
            self._smbclient.reset_connection_cache(fail_on_error=False, connection_cache=self._cache)
        self._session = None

    # -- the Target interface ----------------------------------------------------------------------

    def free_space(self):
        try:
            try:
                found = self._smbclient.stat_volume(self._unc(()), **self._kwargs())
            except Exception as exc:  # pylint: disable=broad-except
                if _status(exc) not in _UNREACHABLE and getattr(exc, "errno", None) != 2:
                    raise
                # the folder is not there yet (check mode): the share's volume is where it will be
                found = self._smbclient.stat_volume("\\\\%s\\%s" % (self.server, self.share), **self._kwargs())
        except Exception as exc:  # pylint: disable=broad-except
            raise self._fail(exc, "measure free space on") from exc
        return found.caller_available_size

    def listings(self, folders):
        folders = list(folders)
        try:
            found = self._requests.list_folders(self._tree, [self._name(folder) for folder in folders])
        except Exception as exc:  # pylint: disable=broad-except
            raise self._fail(exc, "list the content folders of") from exc
        result = {}
        for folder in folders:
            listed = found[self._name(folder)]
            result[folder] = self._scandir(folder) if listed is Ellipsis else listed
        return result

    def _scandir(self, parts):
        """A folder too full for one answer, listed with smbclient (several requests)."""
        found = {}
        try:
            for entry in self._smbclient.scandir(self._unc(parts), **self._kwargs()):
                if not entry.is_dir():
                    found[entry.name] = entry.smb_info.end_of_file
        except Exception as exc:  # pylint: disable=broad-except
            raise self._fail(exc, "list", parts) from exc
        return found

    def size(self, parts):
        try:
            return self._smbclient.stat(self._unc(parts), **self._kwargs()).st_size
        except Exception as exc:  # pylint: disable=broad-except
            if _status(exc) in _UNREACHABLE or getattr(exc, "errno", None) == 2:
                return None
            raise self._fail(exc, "read the size of", parts) from exc

    def make_folders(self, folders):
        names = []
        for parts in folders:
            for depth in range(1, len(parts) + 1):
                name = self._name(parts[:depth])
                if name not in names:
                    names.append(name)
        self._make(names)

    def _make(self, names):
        try:
            self._requests.make_folders(self._tree, names)
        except Exception as exc:  # pylint: disable=broad-except
            raise self._fail(exc, "create the content folders below") from exc

    def subfolders(self):
        try:
            found = self._requests.list_folders(self._tree, [self._name(())], folders=True)[self._name(())]
        except Exception as exc:  # pylint: disable=broad-except
            raise self._fail(exc, "list") from exc
        if found is Ellipsis:
            return {entry.name for entry in self._smbclient.scandir(self._unc(()), **self._kwargs()) if entry.is_dir()}
        return set(found or ())

    def open_write(self, parts):
        try:
            upload = self._requests.FileUpload(self._tree, self._name(parts), self.write_size, self.depth)
        except Exception as exc:  # pylint: disable=broad-except
            raise self._fail(exc, "create", parts) from exc
        return _UploadWriter(self, parts, upload)

    def remove(self, parts):
        try:
            self._smbclient.remove(self._unc(parts), **self._kwargs())
        except Exception as exc:  # pylint: disable=broad-except
            if _status(exc) in _UNREACHABLE or getattr(exc, "errno", None) == 2:
                return
            raise self._fail(exc, "remove", parts) from exc


class _UploadWriter(Writer):
    """``smb_requests.FileUpload`` with failures named as this distribution point's."""

    def __init__(self, target, parts, upload):
        self.target = target
        self.parts = parts
        self.upload = upload

    def _fail(self, exc, action):
        return self.target._fail(exc, action, self.parts)  # pylint: disable=protected-access

    def write(self, chunk):
        try:
            self.upload.write(chunk)
        except Exception as exc:  # pylint: disable=broad-except
            raise self._fail(exc, "write") from exc

    def finish(self):
        try:
            return self.upload.finish()
        except Exception as exc:  # pylint: disable=broad-except
            raise self._fail(exc, "write") from exc

    def commit(self, parts):
        try:
            return self.upload.commit(self.target._name(parts))  # pylint: disable=protected-access
        except Exception as exc:  # pylint: disable=broad-except
            raise self._fail(exc, "rename to %s" % "\\".join(parts)) from exc

    def discard(self):
        if self.upload.discard():
            return True
        try:
            self.target.remove(self.parts)
        except DistributionError:
            return False
        return True
