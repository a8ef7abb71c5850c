# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""The SMB2 requests staging sends itself, through smbprotocol's request API, where smbclient's
file-like API would cost round trips (loopback or LAN latency, times hundreds of files):

* ``list_folders``: each folder's listing is one related compound (create, query directory, close),
  and the compounds of many folders are sent before the first answer is read.
* ``FileUpload``: the file is created with DELETE access in one compound with its first write;
  writes are pipelined (up to ``depth`` in flight, as the ``smbclient`` tool does, where smbclient's
  file object waits for each); it is renamed on its handle (replacing) and closed in one compound,
  whose answer gives the file's size.
  (smbclient's rename also opens the destination for FILE_EXECUTE first, which Samba refuses on a
  file without an execute bit.)

Only imported by ``smb_target.py`` once smbprotocol is known to be installed.
"""

from __future__ import annotations

import collections
import struct
import threading
import time
import weakref

from smbprotocol.exceptions import SMBResponseException
from smbprotocol.file_info import (FileAttributes, FileDispositionInformation, FileInformationClass,
                                   FileRenameInformation)
from smbprotocol.open import (CreateDisposition, CreateOptions, DirectoryAccessMask, FilePipePrinterAccessMask,
                              ImpersonationLevel, Open, ShareAccess, SMB2QueryDirectoryResponse,
                              SMB2SetInfoRequest)

CREDIT_BYTES = 65536  # one SMB2 credit pays for 64 KiB of a read, write or answer (MS-SMB2 3.1.5.2)
LISTING_BYTES = 256 * 1024  # one query's answer: about 1,600 content files; a fuller folder is listed again
MAX_CREDIT_REQUEST = 512
# Credits kept back for the small requests of other threads (create, query, rename: one each), which send
# without taking the credit lock; files staged concurrently share one connection and its credits.
CREDIT_MARGIN = 16
_CREDIT_LOCKS = weakref.WeakKeyDictionary()
_LOCKS_LOCK = threading.Lock()
_NEXT = struct.Struct("<I")
_SIZE = struct.Struct("<q")
_ATTRIBUTES_AND_LENGTH = struct.Struct("<II")
_MISSING = {0xC0000034, 0xC000003A}  # object name / path not found
_NO_MORE_FILES = 0x80000006
_SHARE_ALL = ShareAccess.FILE_SHARE_READ | ShareAccess.FILE_SHARE_WRITE | ShareAccess.FILE_SHARE_DELETE


def available_credits(connection):
    window = connection.sequence_window
    return window["high"] - window["low"]


def _credit_lock(connection):
    with _LOCKS_LOCK:
        lock = _CREDIT_LOCKS.get(connection)
        if lock is None:
            lock = _CREDIT_LOCKS[connection] = threading.Lock()
        return lock


def _status(exc):
    value = getattr(exc, "status", None)
    return int(value) if value is not None else None


def _directory_entries(data, folders=False):
    """``{name: size}`` of the files in a FileDirectoryInformation buffer (MS-FSCC 2.4.10), sub-folders left out
    (or only the sub-folders, sizes None, with ``folders``).

    Read with struct rather than smbprotocol's structures: a listing is hundreds of entries, and
    staging's second run is mostly listings.
    """
    found = {}
    offset = 0
    while offset + 64 <= len(data):
        following, = _NEXT.unpack_from(data, offset)
        size, = _SIZE.unpack_from(data, offset + 40)
        attributes, length = _ATTRIBUTES_AND_LENGTH.unpack_from(data, offset + 56)
        if bool(attributes & FileAttributes.FILE_ATTRIBUTE_DIRECTORY) == folders:
            name = data[offset + 64:offset + 64 + length].decode("utf-16-le")
            if name not in (".", ".."):
                found[name] = None if folders else size
        if not following:
            break
        offset += following
    return found


def list_folders(tree, names, folders=False):
    """``{name: {file name: size}}`` (sub-folders left out) or ``None`` when the folder does not exist.

    With ``folders``, each maps to its sub-folders' names instead. A folder whose listing filled the
    answer maps to ``...`` (Ellipsis): list it another way.
    """
    connection = tree.session.connection
    sid, tid = tree.session.session_id, tree.tree_connect_id
    charge = 2 + LISTING_BYTES // CREDIT_BYTES
    pending = collections.deque()
    found = {}

    def settle():
        name, (created, listed, closed) = pending.popleft()
        outcome = []
        for request in (created, listed, closed):
            try:
                outcome.append(connection.receive(request))
            except SMBResponseException as exc:
                outcome.append(exc)
        if isinstance(outcome[0], SMBResponseException):
            if _status(outcome[0]) in _MISSING:
                found[name] = None
                return
            raise outcome[0]
        if isinstance(outcome[1], SMBResponseException):
            if _status(outcome[1]) == _NO_MORE_FILES:
                found[name] = {}
                return
            raise outcome[1]
        answer = SMB2QueryDirectoryResponse()
        answer.unpack(outcome[1]["data"].get_value())
        data = answer["buffer"].get_value()
        found[name] = Ellipsis if len(data) > LISTING_BYTES - 4096 else _directory_entries(data, folders)

    for name in names:
        while pending and (available_credits(connection) < charge + CREDIT_MARGIN or len(pending) >= 64):
            settle()
        handle = Open(tree, name)
        create = handle.create(ImpersonationLevel.Impersonation, DirectoryAccessMask.FILE_LIST_DIRECTORY,
                               FileAttributes.FILE_ATTRIBUTE_DIRECTORY, _SHARE_ALL, CreateDisposition.FILE_OPEN,
                               CreateOptions.FILE_DIRECTORY_FILE, send=False)
        query = handle.query_directory("*", FileInformationClass.FILE_DIRECTORY_INFORMATION,
                                       max_output=LISTING_BYTES, send=False)
        close = handle.close(False, send=False)
        # answers are taken with connection.receive: the handle is never registered, only used in this compound
        pending.append((name, connection.send_compound([create[0], query[0], close[0]], sid, tid, related=True)))
    while pending:
        settle()
    return found


def make_folders(tree, names):
    """Create each folder (parents first in ``names``), pipelined; an existing folder is fine."""
    connection = tree.session.connection
    sid, tid = tree.session.session_id, tree.tree_connect_id
    pending = collections.deque()

    def settle():
        name, (created, closed) = pending.popleft()
        failure = None
        for request in (created, closed):
            try:
                connection.receive(request)
            except SMBResponseException as exc:
                failure = failure or exc
        if failure is not None:
            raise failure

    depth = {}
    for name in names:
        # a folder's parent must exist before it is created: wait for what is in flight first
        level = name.count("\\")
        while pending and (available_credits(connection) < 4 + CREDIT_MARGIN or len(pending) >= 64
                           or any(depth.get(other, -1) < level for other, _ in pending)):
            settle()
        depth[name] = level
        handle = Open(tree, name)
        create = handle.create(ImpersonationLevel.Impersonation, DirectoryAccessMask.FILE_LIST_DIRECTORY,
                               FileAttributes.FILE_ATTRIBUTE_DIRECTORY, _SHARE_ALL, CreateDisposition.FILE_OPEN_IF,
                               CreateOptions.FILE_DIRECTORY_FILE, send=False)
        close = handle.close(False, send=False)
        pending.append((name, connection.send_compound([create[0], close[0]], sid, tid, related=True)))
    while pending:
        settle()


class FileUpload:
    """A new file on the share, written with pipelined requests; ``commit`` renames and closes it.

    The create goes out in one related compound with the first write, so a small file costs two
    round trips: create and write, then rename and close.
    """

    def __init__(self, tree, name, write_size, depth):
        self.tree = tree
        self.name = name
        self.connection = tree.session.connection
        self.ids = (tree.session.session_id, tree.tree_connect_id)
        self.handle = Open(tree, name)
        self.piece = max(CREDIT_BYTES, min(write_size, self.connection.max_write_size))
        self.depth = max(1, depth)
        self.offset = 0
        self.pending = collections.deque()
        self.created = False
        self.open = False

    def _create_message(self):
        return self.handle.create(
            ImpersonationLevel.Impersonation,
            FilePipePrinterAccessMask.FILE_WRITE_DATA | FilePipePrinterAccessMask.FILE_READ_ATTRIBUTES
            | FilePipePrinterAccessMask.FILE_WRITE_ATTRIBUTES | FilePipePrinterAccessMask.DELETE,
            FileAttributes.FILE_ATTRIBUTE_NORMAL, ShareAccess.FILE_SHARE_READ,  # nobody else writes to it meanwhile
            CreateDisposition.FILE_OVERWRITE_IF, CreateOptions.FILE_NON_DIRECTORY_FILE, send=False)

    def _created(self, receive, request):
        self.created = True
        receive(request)
        self.open = True

    def create(self):
        """Create the file alone (an empty file, or when the first write is not at hand)."""
        message, receive = self._create_message()
        self._created(receive, self.connection.send(message, *self.ids))

    def _settle_one(self):
        request, expected, receive = self.pending.popleft()
        written = receive(request)
        if written != expected:
            raise IOError("the server wrote %d of %d bytes at offset %d" % (written, expected, self.offset))

    def write(self, chunk):
        view = memoryview(chunk)
        lock = _credit_lock(self.connection)
        while view:
            while len(self.pending) >= self.depth:
                self._settle_one()
            size = min(len(view), self.piece)
            create = None
            with lock:  # credits checked and spent in one step: other files' writes share them
                available = available_credits(self.connection) - CREDIT_MARGIN - 1
                size = min(size, available * CREDIT_BYTES)
                if size > 0:
                    charge = (size - 1) // CREDIT_BYTES + 1
                    # ask for enough credits to keep `depth` full-size writes in flight
                    wanted = self.depth * ((self.piece - 1) // CREDIT_BYTES + 1)
                    extra = min(max(0, wanted - (available - charge)), MAX_CREDIT_REQUEST)
                    if not self.created:
                        create = self._create_message()
                    piece = chunk if size == len(chunk) and isinstance(chunk, bytes) else bytes(view[:size])
                    message, receive = self.handle.write(piece, self.offset, send=False)
                    if create is None:
                        request = self.connection.send(message, *self.ids, credit_request=charge + extra)
                    else:
                        created, request = self.connection.send_compound([create[0], message], *self.ids,
                                                                         related=True)
            if size <= 0:  # every credit is in flight: wait for answers to bring some back
                if self.pending:
                    self._settle_one()
                else:
                    time.sleep(0.001)
                continue
            if create is not None:
                try:
                    self._created(create[1], created)
                finally:
                    if not self.open:  # the related write fails with the create; take its answer too
                        try:
                            receive(request)
                        except SMBResponseException:
                            pass
            self.pending.append((request, size, receive))
            self.offset += size
            view = view[size:]

    def finish(self):
        """Wait for every write; the bytes the server acknowledged (all of the file: nobody else may write)."""
        if not self.created:
            self.create()
        while self.pending:
            self._settle_one()
        return self.offset

    def _set_and_close(self, info, get_attributes=False):
        request = SMB2SetInfoRequest()
        request["info_type"] = info.INFO_TYPE
        request["file_info_class"] = info.INFO_CLASS
        request["file_id"] = self.handle.file_id
        request["buffer"] = info
        close, receive_close = self.handle.close(get_attributes, send=False)
        set_sent, close_sent = self.connection.send_compound([request, close], *self.ids, related=False)
        self.open = False
        failure = None
        try:
            self.connection.receive(set_sent)
        except SMBResponseException as exc:
            failure = exc
        receive_close(close_sent)
        if failure is not None:
            raise failure

    def commit(self, name):
        """Rename the file to ``name`` (share-relative), replacing a file of that name, and close it.

        Returns the file's size as the server reports it on closing.
        """
        rename = FileRenameInformation()
        rename["replace_if_exists"] = True
        rename["file_name"] = name
        self._set_and_close(rename, get_attributes=True)
        return self.handle.end_of_file

    def discard(self):
        """Close the file, deleting it; settles what was in flight, raises nothing."""
        while self.pending:
            try:
                self._settle_one()
            except Exception:  # pylint: disable=broad-except  # the first failure is already being raised
                pass
        if self.open:
            disposition = FileDispositionInformation()
            disposition["delete_pending"] = True
            try:
                self._set_and_close(disposition)
            except Exception:  # pylint: disable=broad-except
                return False
        return True
