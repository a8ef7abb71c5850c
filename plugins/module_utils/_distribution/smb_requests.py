# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""The SMB2 requests staging sends itself, through smbprotocol's request API, where smbclient's
file-like API would cost round trips (loopback or LAN latency, times hundreds of files):

* ``list_folders``: each folder's listing is one related compound (create, query directory, close),
  and the compounds of many folders are sent before the first answer is read.
* ``FileUpload``: the file is created with DELETE access; writes are pipelined (up to ``depth`` in
  flight, as the ``smbclient`` tool does, where smbclient's file object waits for each) and, on a
  signed session, framed and signed here (``SignedWrites``); it is renamed on its handle
  (replacing) and closed in one compound, whose answer gives the file's size.
  (smbclient's rename also opens the destination for FILE_EXECUTE first, which Samba refuses on a
  file without an execute bit.)

Only imported by ``smb_target.py`` once smbprotocol is known to be installed.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import struct
import threading
import time
import weakref

try:  # only for SMB points: smb_target imports this module once it found smbprotocol (requirements.txt)
    from cryptography.hazmat.primitives import cmac
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from smbprotocol.connection import Dialects, Request, SigningAlgorithms
    from smbprotocol.exceptions import SMBException, SMBResponseException
    from smbprotocol.file_info import (FileAttributes, FileDispositionInformation, FileInformationClass,
                                       FileRenameInformation)
    from smbprotocol.open import (CreateDisposition, CreateOptions, DirectoryAccessMask, FilePipePrinterAccessMask,
                                  ImpersonationLevel, Open, ShareAccess, SMB2QueryDirectoryResponse,
                                  SMB2SetInfoRequest, SMB2WriteRequest, SMB2WriteResponse)
    from smbprotocol.header import Commands, SMB2HeaderRequest
except ImportError:  # pragma: no cover - a controller without smbprotocol never stages to SMB
    pass

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
# MS-SMB2 2.2.1.2 (sync header) and 2.2.21 (WRITE request, data right after it at offset 0x70)
_SMB2_HEADER = struct.Struct("<4sHHHHHHIIQIIQ16s")
_WRITE_BODY = struct.Struct("<HHIQ16sIIHHI")
_NETBIOS_LENGTH = struct.Struct(">I")
_FLAGS_SIGNED = 0x00000008
_MISSING = {0xC0000034, 0xC000003A}  # object name / path not found
_NO_MORE_FILES = 0x80000006
_SHARE_ALL = 0x00000001 | 0x00000002 | 0x00000004  # FILE_SHARE_READ | WRITE | DELETE (MS-SMB2 2.2.13)


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
                           or any(depth.get(other, -1) < level for other, _request in pending)):
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


class SignedWrites:
    """WRITE requests framed and signed here, sent without copying the data.

    smbprotocol copies a request about eight times while packing, signing and framing it, which
    bounds a copy at a few hundred MB/s of this process's CPU. Used only on a signed, unencrypted
    session (an encrypted one goes through smbprotocol, which encrypts). The request is registered
    with the connection like smbprotocol's own, so its receive thread matches the answer, checks
    its signature and returns the credits; this leans on smbprotocol's Connection internals
    (sequence window, outstanding requests, the transport's socket and lock), as pinned in
    constraints.txt and covered by the Samba tests.
    """

    def __init__(self, tree):
        session = tree.session
        self.connection = session.connection
        self.session_id = session.session_id
        self.tree_id = tree.tree_connect_id
        self.key = session.signing_key
        if self.connection.dialect >= Dialects.SMB_3_1_1 and self.connection.signing_algorithm_id is not None:
            self.algorithm = self.connection.signing_algorithm_id
        elif self.connection.dialect >= Dialects.SMB_3_0_0:
            self.algorithm = SigningAlgorithms.AES_CMAC
        else:
            self.algorithm = SigningAlgorithms.HMAC_SHA256

    @staticmethod
    def usable(tree):
        session = tree.session
        return bool(session.signing_required and session.signing_key and not session.encrypt_data
                    and not tree.encrypt_data and session.connection.supports_multi_credit)

    def _signature(self, message_id, parts):
        """MS-SMB2 3.1.4.1, over the parts as if they were one message (signature field zero)."""
        if self.algorithm == SigningAlgorithms.AES_GMAC:
            nonce = message_id.to_bytes(8, "little") + b"\x00\x00\x00\x00"  # message_info 0: a request
            gmac = Cipher(algorithms.AES(self.key), modes.GCM(nonce)).encryptor()
            for part in parts:
                gmac.authenticate_additional_data(part)
            gmac.finalize()
            return gmac.tag[:16]
        if self.algorithm == SigningAlgorithms.AES_CMAC:
            mac = cmac.CMAC(algorithms.AES(self.key))
            for part in parts:
                mac.update(part)
            return mac.finalize()[:16]
        mac = hmac.new(self.key, digestmod=hashlib.sha256)
        for part in parts:
            mac.update(part)
        return mac.digest()[:16]

    def send(self, file_id, offset, data, credit_request):
        """Send one WRITE of ``data`` at ``offset``; returns the request to receive the answer of."""
        connection = self.connection
        charge = (len(data) - 1) // CREDIT_BYTES + 1 if data else 1
        with connection.sequence_lock:
            window = connection.sequence_window
            if charge > window["high"] - window["low"]:
                raise SMBException("Request requires %d credits but only %d credits are available"
                                   % (charge, window["high"] - window["low"]))
            message_id = window["low"]
            window["low"] += charge
        header = _SMB2_HEADER.pack(b"\xfeSMB", 64, charge, 0, 0, Commands.SMB2_WRITE, credit_request, _FLAGS_SIGNED, 0,
                                   message_id, 0, self.tree_id, self.session_id, b"\x00" * 16)
        body = _WRITE_BODY.pack(49, 0x70, len(data), offset, file_id, 0, 0, 0, 0, 0)
        header = header[:48] + self._signature(message_id, (header, body, data))

        record = SMB2HeaderRequest()  # what the receive thread and receive() read of a request
        record["credit_charge"] = charge
        record["command"] = Commands.SMB2_WRITE
        record["credit_request"] = credit_request
        record["flags"] = _FLAGS_SIGNED
        record["message_id"] = message_id
        record["tree_id"] = self.tree_id
        record["session_id"] = self.session_id
        record["signature"] = header[48:]
        request = Request(record, SMB2WriteRequest, connection, session_id=self.session_id)
        connection.outstanding_requests[message_id] = request

        transport = connection.transport
        parts = [_NETBIOS_LENGTH.pack(len(header) + len(body) + len(data)), header, body, data]
        with transport._sock_lock:  # pylint: disable=protected-access  # smbprotocol's framing lock
            sent = transport._sock.sendmsg(parts)  # pylint: disable=protected-access
            if sent < sum(len(part) for part in parts):  # interrupted: send the rest
                transport._sock.sendall(b"".join(parts)[sent:])  # pylint: disable=protected-access
        return request

    def written(self, request):
        """The bytes the server says it wrote, from the answer to ``request``."""
        response = self.connection.receive(request)
        answer = SMB2WriteResponse()
        answer.unpack(response["data"].get_value())
        return answer["count"].get_value()


class FileUpload:
    """A new file on the share, written with pipelined requests; ``commit`` renames and closes it.

    Round trips per file: the create, the writes (pipelined), then the rename and close in one
    compound. Answers are read for the few fields used (file id, size) rather than unpacked whole.
    """

    def __init__(self, tree, name, write_size, depth):
        self.connection = tree.session.connection
        self.ids = (tree.session.session_id, tree.tree_connect_id)
        self.handle = Open(tree, name)
        self.piece = max(CREDIT_BYTES, min(write_size, self.connection.max_write_size))
        self.depth = max(1, depth)
        self.offset = 0
        self.pending = collections.deque()
        self.signed = SignedWrites(tree) if SignedWrites.usable(tree) else None
        message, _receive = self.handle.create(
            ImpersonationLevel.Impersonation,
            FilePipePrinterAccessMask.FILE_WRITE_DATA | FilePipePrinterAccessMask.FILE_READ_ATTRIBUTES
            | FilePipePrinterAccessMask.FILE_WRITE_ATTRIBUTES | FilePipePrinterAccessMask.DELETE,
            FileAttributes.FILE_ATTRIBUTE_NORMAL, ShareAccess.FILE_SHARE_READ,  # nobody else writes to it meanwhile
            CreateDisposition.FILE_OVERWRITE_IF, CreateOptions.FILE_NON_DIRECTORY_FILE, send=False)
        answer = self.connection.receive(self.connection.send(message, *self.ids))
        self.handle.file_id = answer["data"].get_value()[64:80]  # MS-SMB2 2.2.14: FileId at offset 64
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
                    piece = chunk if size == len(chunk) and isinstance(chunk, bytes) else bytes(view[:size])
                    if self.signed is not None:
                        request = self.signed.send(self.handle.file_id, self.offset, piece, charge + extra)
                        receive = self.signed.written
                    else:
                        message, receive = self.handle.write(piece, self.offset, send=False)
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
        """Wait for every write; the bytes the server acknowledged (all of the file: nobody else may write)."""
        while self.pending:
            self._settle_one()
        return self.offset

    def _set_and_close(self, info, get_attributes=False):
        """Set ``info`` on the file and close it, in one compound; the size on closing with ``get_attributes``."""
        request = SMB2SetInfoRequest()
        request["info_type"] = info.INFO_TYPE
        request["file_info_class"] = info.INFO_CLASS
        request["file_id"] = self.handle.file_id
        request["buffer"] = info
        close, _receive = self.handle.close(get_attributes, send=False)
        set_sent, close_sent = self.connection.send_compound([request, close], *self.ids, related=False)
        self.open = False
        failure = None
        try:
            self.connection.receive(set_sent)
        except SMBResponseException as exc:
            failure = exc
        closed = self.connection.receive(close_sent)
        if failure is not None:
            raise failure
        # MS-SMB2 2.2.16: EndofFile at offset 48 of the answer (set with SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB)
        return _SIZE.unpack_from(closed["data"].get_value(), 48)[0] if get_attributes else None

    def commit(self, name):
        """Rename the file to ``name`` (share-relative), replacing a file of that name, and close it.

        Returns the file's size as the server reports it on closing.
        """
        rename = FileRenameInformation()
        rename["replace_if_exists"] = True
        rename["file_name"] = name
        return self._set_and_close(rename, get_attributes=True)

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
