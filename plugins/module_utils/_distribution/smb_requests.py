# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""The SMB2 requests staging sends itself, through smbprotocol's request API, where smbclient's
file-like API would cost round trips (loopback or LAN latency, times hundreds of files):

* ``list_folders``: each folder's listing is one related compound (create, query directory, close),
  and the compounds of many folders are sent before the first answer is read.
* ``FileUpload``: the file is opened once with DELETE access; writes are pipelined (up to ``depth``
  in flight, as the ``smbclient`` tool does, where smbclient's file object waits for each); its size
  is asked on the open handle, and it is renamed on that handle (replacing) and closed in one compound.
  (smbclient's rename also opens the destination for FILE_EXECUTE first, which Samba refuses on a
  file without an execute bit.)

Only imported by ``smb_target.py`` once smbprotocol is known to be installed.
"""

from __future__ import annotations

import collections
import threading
import time
import weakref

from smbprotocol.exceptions import SMBResponseException
from smbprotocol.file_info import (FileAttributes, FileDispositionInformation, FileInformationClass,
                                   FileRenameInformation, FileStandardInformation)
from smbprotocol.open import (CreateDisposition, CreateOptions, DirectoryAccessMask, FilePipePrinterAccessMask,
                              ImpersonationLevel, Open, ShareAccess, SMB2QueryDirectoryRequest,
                              SMB2QueryDirectoryResponse, SMB2QueryInfoRequest, SMB2QueryInfoResponse,
                              SMB2SetInfoRequest)

CREDIT_BYTES = 65536  # one SMB2 credit pays for 64 KiB of a read, write or answer (MS-SMB2 3.1.5.2)
LISTING_BYTES = 256 * 1024  # one query's answer: about 1,600 content files; a fuller folder is listed again
MAX_CREDIT_REQUEST = 512
# Credits kept back for the small requests of other threads (create, query, rename: one each), which send
# without taking the credit lock; files staged concurrently share one connection and its credits.
CREDIT_MARGIN = 16
_CREDIT_LOCKS = weakref.WeakKeyDictionary()
_LOCKS_LOCK = threading.Lock()
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


def list_folders(tree, names):
    """``{name: {file name: size}}`` (folders left out) or ``None`` when the folder does not exist.

    A folder whose listing filled the answer maps to ``...`` (Ellipsis): list it another way.
    """
    connection = tree.session.connection
    sid, tid = tree.session.session_id, tree.tree_connect_id
    charge = 2 + LISTING_BYTES // CREDIT_BYTES
    pending = collections.deque()
    found = {}

    def settle():
        name, requests, receivers = pending.popleft()
        outcome = []
        for request, receive in zip(requests, receivers):
            try:
                outcome.append(receive(request))
            except SMBResponseException as exc:
                outcome.append(exc)
        created, listed = outcome[0], outcome[1]
        if isinstance(created, SMBResponseException):
            if _status(created) in _MISSING:
                found[name] = None
                return
            raise created
        if isinstance(listed, SMBResponseException):
            if _status(listed) == _NO_MORE_FILES:
                found[name] = {}
                return
            raise listed
        data, entries = listed
        if len(data) > LISTING_BYTES - 4096:
            found[name] = Ellipsis
            return
        found[name] = {entry["file_name"].get_value().decode("utf-16-le"): entry["end_of_file"].get_value()
                       for entry in entries
                       if not entry["file_attributes"].has_flag(FileAttributes.FILE_ATTRIBUTE_DIRECTORY)}

    def receive_listing(request):
        response = connection.receive(request)
        answer = SMB2QueryDirectoryResponse()
        answer.unpack(response["data"].get_value())
        data = answer["buffer"].get_value()
        return data, SMB2QueryDirectoryRequest.unpack_response(FileInformationClass.FILE_DIRECTORY_INFORMATION, data)

    for name in names:
        while pending and (available_credits(connection) < charge or len(pending) >= 64):
            settle()
        handle = Open(tree, name)
        create = handle.create(ImpersonationLevel.Impersonation, DirectoryAccessMask.FILE_LIST_DIRECTORY,
                               FileAttributes.FILE_ATTRIBUTE_DIRECTORY, _SHARE_ALL, CreateDisposition.FILE_OPEN,
                               CreateOptions.FILE_DIRECTORY_FILE, send=False)
        query = handle.query_directory("*", FileInformationClass.FILE_DIRECTORY_INFORMATION,
                                       max_output=LISTING_BYTES, send=False)
        close = handle.close(False, send=False)
        requests = connection.send_compound([create[0], query[0], close[0]], sid, tid, related=True)
        pending.append((name, requests, (create[1], receive_listing, close[1])))
    while pending:
        settle()
    return found


class FileUpload:
    """A new file on the share, written with pipelined requests; ``commit`` renames and closes it."""

    def __init__(self, tree, name, write_size, depth):
        self.tree = tree
        self.connection = tree.session.connection
        self.ids = (tree.session.session_id, tree.tree_connect_id)
        self.handle = Open(tree, name)
        self.handle.create(ImpersonationLevel.Impersonation,
                           FilePipePrinterAccessMask.FILE_WRITE_DATA | FilePipePrinterAccessMask.FILE_READ_ATTRIBUTES
                           | FilePipePrinterAccessMask.FILE_WRITE_ATTRIBUTES | FilePipePrinterAccessMask.DELETE,
                           FileAttributes.FILE_ATTRIBUTE_NORMAL, ShareAccess.FILE_SHARE_READ,
                           CreateDisposition.FILE_OVERWRITE_IF, CreateOptions.FILE_NON_DIRECTORY_FILE)
        self.piece = max(CREDIT_BYTES, min(write_size, self.connection.max_write_size))
        self.depth = max(1, depth)
        self.offset = 0
        self.pending = collections.deque()
        self.open = True

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
            with lock:  # credits checked and spent in one step: other files' writes share them
                available = available_credits(self.connection) - CREDIT_MARGIN
                size = min(size, available * CREDIT_BYTES)
                if size > 0:
                    charge = (size - 1) // CREDIT_BYTES + 1
                    # ask for enough credits to keep `depth` full-size writes in flight
                    wanted = self.depth * ((self.piece - 1) // CREDIT_BYTES + 1)
                    extra = min(max(0, wanted - (available - charge)), MAX_CREDIT_REQUEST)
                    message, receive = self.handle.write(bytes(view[:size]), self.offset, send=False)
                    request = self.connection.send(message, *self.ids, credit_request=charge + extra)
            if size <= 0:  # every credit is in flight: wait for answers to bring some back
                if self.pending:
                    self._settle_one()
                else:
                    time.sleep(0.001)
                continue
            self.pending.append((request, size, receive))
            self.offset += size
            view = view[size:]

    def finish(self):
        """Wait for every write; the file's size as the server reports it on the open handle."""
        while self.pending:
            self._settle_one()
        query = SMB2QueryInfoRequest()
        query["info_type"] = FileStandardInformation.INFO_TYPE
        query["file_info_class"] = FileStandardInformation.INFO_CLASS
        query["file_id"] = self.handle.file_id
        query["output_buffer_length"] = len(FileStandardInformation())
        response = self.connection.receive(self.connection.send(query, *self.ids))
        answer = SMB2QueryInfoResponse()
        answer.unpack(response["data"].get_value())
        return answer.parse_buffer(FileStandardInformation)["end_of_file"].get_value()

    def _set_and_close(self, info):
        request = SMB2SetInfoRequest()
        request["info_type"] = info.INFO_TYPE
        request["file_info_class"] = info.INFO_CLASS
        request["file_id"] = self.handle.file_id
        request["buffer"] = info
        close, receive_close = self.handle.close(False, send=False)
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
        """Rename the file to ``name`` (share-relative), replacing a file of that name, and close it."""
        rename = FileRenameInformation()
        rename["replace_if_exists"] = True
        rename["file_name"] = name
        self._set_and_close(rename)

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
