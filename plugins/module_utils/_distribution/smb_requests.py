# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""The SMB2 requests staging sends itself, where smbclient's file-like API would cost round trips
(loopback or LAN latency, times hundreds of files) and smbprotocol's structures would cost CPU:

* ``list_folders``: each folder's listing is one related compound (create, query directory, close),
  and the compounds of many folders are sent before the first answer is read.
* ``make_folders``: the same, create and close, parents before their sub-folders.
* ``FileUpload``: the file is created with DELETE access; writes are pipelined (up to ``depth`` in
  flight, as the ``smbclient`` tool does, where smbclient's file object waits for each); it is
  renamed on its handle (replacing) and closed in one compound, whose answer gives the file's size.
  (smbclient's rename also opens the destination for FILE_EXECUTE first, which Samba refuses on a
  file without an execute bit.)

On a signed, unencrypted session over a ``ReceivingConnection`` (``smb_target`` opens one) every
one of these requests is framed and signed here (``SignedRequests``) and its answer is checked and
read as bytes; on an encrypted session smbprotocol builds, encrypts and reads them.

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
    from cryptography.hazmat.primitives.ciphers import Cipher, aead, algorithms, modes
    from smbprotocol.connection import Connection, Dialects, SigningAlgorithms
    from smbprotocol.exceptions import SMBException, SMBResponseException
    from smbprotocol.file_info import FileAttributes, FileInformationClass
    from smbprotocol.header import Commands, SMB2HeaderResponse
    from smbprotocol.open import (CreateDisposition, CreateOptions, DirectoryAccessMask, FilePipePrinterAccessMask,
                                  ImpersonationLevel, Open, ShareAccess, SMB2SetInfoRequest)
except ImportError:  # pragma: no cover - a controller without smbprotocol never stages to SMB
    Connection = object

CREDIT_BYTES = 65536  # one SMB2 credit pays for 64 KiB of a read, write or answer (MS-SMB2 3.1.5.2)
LISTING_BYTES = 256 * 1024  # one query's answer: about 1,600 content files; a fuller folder is listed again
MAX_CREDIT_REQUEST = 512
_BATCH = 32  # folder compounds sent in one system call
_IN_FLIGHT = 128  # folder compounds awaiting their answers
# Credits kept back for the small requests of other threads (create, query, rename: one each), which send
# without taking the credit lock; files staged concurrently share one connection and its credits.
CREDIT_MARGIN = 16
_CREDIT_LOCKS = weakref.WeakKeyDictionary()
_LOCKS_LOCK = threading.Lock()
_NEXT = struct.Struct("<I")
_SIZE = struct.Struct("<q")
_BUFFER_AT = struct.Struct("<HI")
_ATTRIBUTES_AND_LENGTH = struct.Struct("<II")
# MS-SMB2 2.2.1.2 (sync header) and 2.2.21 (WRITE request, data right after it at offset 0x70)
_SMB2_HEADER = struct.Struct("<4sHHHHHHIIQIIQ16s")
_WRITE_BODY = struct.Struct("<HHIQ16sIIHHI")
_NETBIOS_LENGTH = struct.Struct(">I")
_FLAGS_SIGNED = 0x00000008
_FLAGS_ASYNC = 0x00000002
_FLAGS_RELATED = 0x00000004
_STATUS_PENDING = 0x00000103
_MESSAGE_ID = struct.Struct("<Q")
_CREDITS = struct.Struct("<H")
_GMAC_NONCE = struct.Struct("<QI")  # MS-SMB2 3.1.4.1: the message id, then 1 for an answer (bit 2: a cancel)
_ZERO_SIGNATURE = b"\x00" * 16
_RELATED_FILE = b"\xff" * 16  # the file the compound's first request opened (MS-SMB2 3.2.4.1.4)
# MS-SMB2 2.2.13 CREATE, 2.2.15 CLOSE, 2.2.33 QUERY_DIRECTORY, 2.2.39 SET_INFO (bodies before their buffers)
_CREATE_BODY = struct.Struct("<HBBIQQIIIIIHHII")
_CLOSE_BODY = struct.Struct("<HHI16s")
_QUERY_BODY = struct.Struct("<HBBI16sHHI")
_SET_INFO_BODY = struct.Struct("<HBBIHHI16s")
_RENAME_HEAD = struct.Struct("<B7xQI")  # MS-FSCC 2.4.37.2: ReplaceIfExists, Reserved, RootDirectory, FileNameLength
_FILE_RENAME_INFORMATION = 10
_FILE_DISPOSITION_INFORMATION = 13
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


def _answer(connection, request):
    """The answer to ``request`` as bytes (SMB2 header, then body); SMBResponseException for a failure status."""
    if isinstance(request, RawRequest):
        return request.result()
    return connection.receive(request).pack()


def _outcomes(connection, requests):
    """Each request's answer bytes, or the SMBResponseException it failed with."""
    outcome = []
    for request in requests:
        try:
            outcome.append(_answer(connection, request))
        except SMBResponseException as exc:
            outcome.append(exc)
    return outcome


def _open_folders(tree, signer, names, disposition, then):
    """For each folder of ``names``, a related compound: open it (``disposition``), the requests ``then`` on it
    (``list``: a query of its files; ``make``: none), close it. Returns each compound's requests, in order.
    On a signed session the compounds go in one system call."""
    if signer is not None:
        compounds = []
        for name in names:
            messages = [signer.create(name, DirectoryAccessMask.FILE_LIST_DIRECTORY,
                                      FileAttributes.FILE_ATTRIBUTE_DIRECTORY, _SHARE_ALL, disposition,
                                      CreateOptions.FILE_DIRECTORY_FILE)]
            if then == "list":
                messages.append(signer.query_directory(LISTING_BYTES))
            messages.append(signer.close())
            compounds.append((messages, True))
        return signer.send_batch(compounds)
    sent = []
    for name in names:
        handle = Open(tree, name)
        messages = [handle.create(ImpersonationLevel.Impersonation, DirectoryAccessMask.FILE_LIST_DIRECTORY,
                                  FileAttributes.FILE_ATTRIBUTE_DIRECTORY, _SHARE_ALL, disposition,
                                  CreateOptions.FILE_DIRECTORY_FILE, send=False)[0]]
        if then == "list":
            messages.append(handle.query_directory("*", FileInformationClass.FILE_DIRECTORY_INFORMATION,
                                                   max_output=LISTING_BYTES, send=False)[0])
        messages.append(handle.close(False, send=False)[0])
        # answers are taken with connection.receive: the handle is never registered, only used in this compound
        sent.append(tree.session.connection.send_compound(messages, tree.session.session_id, tree.tree_connect_id,
                                                          related=True))
    return sent


def _signer(tree):
    return SignedRequests(tree) if SignedRequests.usable(tree) else None


def list_folders(tree, names, folders=False):
    """``{name: {file name: size}}`` (sub-folders left out) or ``None`` when the folder does not exist.

    With ``folders``, each maps to its sub-folders' names instead. A folder whose listing filled the
    answer maps to ``...`` (Ellipsis): list it another way. Each listing is a related compound
    (open, query, close), and many are in flight before the first answer is read.
    """
    connection = tree.session.connection
    signer = _signer(tree)
    charge = 2 + LISTING_BYTES // CREDIT_BYTES
    pending = collections.deque()
    found = {}

    def settle():
        name, requests = pending.popleft()
        outcome = _outcomes(connection, requests)
        opened, listed = outcome[0], outcome[1]
        if isinstance(opened, SMBResponseException):
            if _status(opened) in _MISSING:
                found[name] = None
                return
            raise opened
        if isinstance(listed, SMBResponseException):
            if _status(listed) == _NO_MORE_FILES:
                found[name] = {}
                return
            raise listed
        offset, length = _BUFFER_AT.unpack_from(listed, 66)  # MS-SMB2 2.2.34: OutputBufferOffset, OutputBufferLength
        data = listed[offset:offset + length]
        found[name] = Ellipsis if len(data) > LISTING_BYTES - 4096 else _directory_entries(data, folders)

    names = list(names)
    while names:
        while pending and (available_credits(connection) < charge * min(len(names), _BATCH) + CREDIT_MARGIN
                           or len(pending) >= _IN_FLIGHT):
            settle()
        room = max(1, min(_BATCH, (available_credits(connection) - CREDIT_MARGIN) // charge))
        batch, names = names[:room], names[room:]
        pending.extend(zip(batch, _open_folders(tree, signer, batch, CreateDisposition.FILE_OPEN, "list")))
    while pending:
        settle()
    return found


def make_folders(tree, names):
    """Create each folder (parents first in ``names``), pipelined; an existing folder is fine."""
    connection = tree.session.connection
    signer = _signer(tree)
    pending = collections.deque()

    def settle():
        _name, requests = pending.popleft()
        failure = next((outcome for outcome in _outcomes(connection, requests)
                        if isinstance(outcome, SMBResponseException)), None)
        if failure is not None:
            raise failure

    # a folder's parent must exist before it is created: one batch per depth, the batch before it answered
    for level in sorted({name.count("\\") for name in names}):
        batch_names = [name for name in names if name.count("\\") == level]
        while batch_names:
            while pending and (available_credits(connection) < 2 * min(len(batch_names), _BATCH) + CREDIT_MARGIN
                               or len(pending) >= _IN_FLIGHT):
                settle()
            room = max(1, min(_BATCH, (available_credits(connection) - CREDIT_MARGIN) // 2))
            batch, batch_names = batch_names[:room], batch_names[room:]
            pending.extend(zip(batch, _open_folders(tree, signer, batch, CreateDisposition.FILE_OPEN_IF, "make")))
        while pending:
            settle()


class ReceivingConnection(Connection):
    """smbprotocol's Connection whose receive thread hands the answers to ``SignedRequests`` over as bytes.

    smbprotocol unpacks every answer into its structures and packs it again to check the signature:
    about 70 microseconds of this process's CPU per answer, the bulk of a second stage's listings
    (three answers per folder) and of each file's create and close. An answer to a request that
    ``SignedRequests`` sent (registered in ``raw_requests`` before sending) is taken off the socket
    here instead: its signature checked on the bytes as they came (MS-SMB2 3.2.5.1.3), its credits
    added to the sequence window, and its bytes given to the waiting request. Every other message
    (and any encrypted one) goes to smbprotocol's own processing, unchanged; so does a failure,
    which ends the connection as smbprotocol's would, waking every waiting request.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.raw_requests = {}

    def _process_message_thread(self):
        receive = self.transport.recv

        def recv(timeout):
            while True:
                message = receive(timeout)
                if not message or not self.raw_requests or message[:4] != b"\xfeSMB" or not self._deliver(message):
                    return message

        self.transport.recv = recv
        try:
            super()._process_message_thread()
        finally:
            for request in list(self.raw_requests.values()):
                request.event.set()

    def _deliver(self, message):
        """Hand each answer of ``message`` to its raw request; False when the first is not one of them."""
        offset = 0
        while True:
            following, = _NEXT.unpack_from(message, offset + 20)
            end = offset + following if following else len(message)
            flags, = _NEXT.unpack_from(message, offset + 16)
            message_id, = _MESSAGE_ID.unpack_from(message, offset + 24)
            request = self.raw_requests.get(message_id)
            if request is None:
                if offset == 0:
                    return False
                raise SMBException("the server answered message %d, which no request awaits" % message_id)
            part = message[offset:end]
            status, = _NEXT.unpack_from(part, 8)
            interim = status == _STATUS_PENDING and flags & _FLAGS_ASYNC
            if flags & _FLAGS_SIGNED:
                expected = _signature(request.algorithm, request.key, message_id, 1,
                                      (memoryview(part)[:48], _ZERO_SIGNATURE, memoryview(part)[64:]))
                if not hmac.compare_digest(expected, part[48:64]):
                    raise SMBException("the server's answer to message %d has a wrong signature" % message_id)
            elif not interim:
                raise SMBException("the server's answer to message %d is not signed, and signing is required"
                                   % message_id)
            granted, = _CREDITS.unpack_from(part, 14)
            with self.sequence_lock:
                self.sequence_window["high"] += granted
            if not interim:  # an interim STATUS_PENDING answer: the real one follows
                del self.raw_requests[message_id]
                request.data = part
                request.event.set()
            if not following:
                return True
            offset = end


_SMALL_MESSAGE = 64 * 1024  # a message up to this size is signed joined; a larger one (a write) in its parts
_GMAC_KEYS = {}


def _signature(algorithm, key, message_id, message_info, parts):
    """MS-SMB2 3.1.4.1 over ``parts`` taken as one message (signature field zero); ``message_info`` 1 for an answer."""
    if algorithm == SigningAlgorithms.AES_GMAC:
        nonce = _GMAC_NONCE.pack(message_id, message_info)
        if sum(len(part) for part in parts) <= _SMALL_MESSAGE:  # one call on a key's cached AESGCM: the cheapest
            gmac = _GMAC_KEYS.get(key)
            if gmac is None:
                if len(_GMAC_KEYS) > 16:
                    _GMAC_KEYS.clear()
                gmac = _GMAC_KEYS[key] = aead.AESGCM(key)
            return gmac.encrypt(nonce, b"", b"".join(parts))
        gmac = Cipher(algorithms.AES(key), modes.GCM(nonce)).encryptor()
        for part in parts:
            gmac.authenticate_additional_data(part)
        gmac.finalize()
        return gmac.tag[:16]
    if algorithm == SigningAlgorithms.AES_CMAC:
        mac = cmac.CMAC(algorithms.AES(key))
        for part in parts:
            mac.update(part)
        return mac.finalize()[:16]
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:
        mac.update(part)
    return mac.digest()[:16]


class RawRequest:
    """A request sent by ``SignedRequests``; ``result()`` waits for its answer's bytes (header first)."""

    __slots__ = ("connection", "message_id", "key", "algorithm", "event", "data")

    def __init__(self, connection, message_id, key, algorithm):
        self.connection = connection
        self.message_id = message_id
        self.key = key
        self.algorithm = algorithm
        self.event = threading.Event()
        self.data = None

    def result(self):
        """The answer (SMB2 header and body); SMBResponseException for a status other than success."""
        while not self.event.wait(1.0):
            if self.connection._t_exc is not None or not self.connection.transport.connected:  # pylint: disable=protected-access
                break
        if self.data is None:
            self.connection.raw_requests.pop(self.message_id, None)
            self.connection._check_worker_running()  # pylint: disable=protected-access  # raises its failure
            raise SMBException("the connection closed before the answer to message %d" % self.message_id)
        status, = _NEXT.unpack_from(self.data, 8)
        if status:
            header = SMB2HeaderResponse()
            header.unpack(self.data)
            raise SMBResponseException(header)
        return self.data


class SignedRequests:
    """SMB2 requests framed and signed here, their answers read as bytes (``ReceivingConnection``).

    smbprotocol copies a request about eight times while packing, signing and framing it, which
    bounds a copy at a few hundred MB/s of this process's CPU, and costs about half a millisecond
    for each small request. Used only on a signed, unencrypted session over a ``ReceivingConnection``
    (an encrypted one goes through smbprotocol, which encrypts). This leans on smbprotocol's
    Connection internals (sequence window, the transport's socket and lock, the receive thread), as
    pinned in constraints.txt and covered by the Samba tests.
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
                    and not tree.encrypt_data and session.connection.supports_multi_credit
                    and isinstance(session.connection, ReceivingConnection))

    def send(self, messages, related=False):
        """Send ``[(command, body, data, charge, credit_request)]`` as one compound; returns a RawRequest for each.

        ``data`` (bytes-like, may be empty) follows ``body`` unchanged: a write's data is never copied.
        ``related``: each message after the first works on the file the first one opened.
        """
        return self.send_batch([(messages, related)])[0]

    def send_batch(self, compounds):
        """Send several ``(messages, related)`` compounds (see ``send``) in one system call; their RawRequests."""
        connection = self.connection
        total = sum(message[3] for messages, _related in compounds for message in messages)
        with connection.sequence_lock:
            window = connection.sequence_window
            if total > window["high"] - window["low"]:
                raise SMBException("Request requires %d credits but only %d credits are available"
                                   % (total, window["high"] - window["low"]))
            message_id = window["low"]
            window["low"] += total
        frames, answers = [], []
        for messages, related in compounds:
            parts, requests = [], []
            last = len(messages) - 1
            for index, (command, body, data, charge, credit_request) in enumerate(messages):
                length = 64 + len(body) + len(data)
                padding = b"" if index == last else b"\x00" * (-length % 8)
                following = 0 if index == last else length + len(padding)
                flags = _FLAGS_SIGNED | (_FLAGS_RELATED if related and index else 0)
                header = _SMB2_HEADER.pack(b"\xfeSMB", 64, charge, 0, 0, command, credit_request, flags, following,
                                           message_id, 0, self.tree_id, self.session_id, _ZERO_SIGNATURE)
                signature = _signature(self.algorithm, self.key, message_id, 0, (header, body, data, padding))
                request = RawRequest(connection, message_id, self.key, self.algorithm)
                connection.raw_requests[message_id] = request
                requests.append(request)
                parts += [header[:48], signature, body]
                if len(data):
                    parts.append(data)
                if padding:
                    parts.append(padding)
                message_id += charge
            frames.append(_NETBIOS_LENGTH.pack(sum(len(part) for part in parts)))
            frames += parts
            answers.append(requests)
        size = sum(len(part) for part in frames)
        transport = connection.transport
        with transport._sock_lock:  # pylint: disable=protected-access  # smbprotocol's framing lock
            sent = transport._sock.sendmsg(frames)  # pylint: disable=protected-access
            if sent < size:  # interrupted: send the rest
                transport._sock.sendall(b"".join(frames)[sent:])  # pylint: disable=protected-access
        return answers

    # -- the requests staging sends (MS-SMB2 2.2.13, 2.2.15, 2.2.21, 2.2.33, 2.2.39) --------------

    @staticmethod
    def create(name, access, attributes, share, disposition, options):
        encoded = name.encode("utf-16-le")
        body = _CREATE_BODY.pack(57, 0, 0, 2, 0, 0, access, attributes, share, disposition, options, 0x78,
                                 len(encoded), 0, 0) + (encoded or b"\x00")
        return (Commands.SMB2_CREATE, body, b"", 1, 1)

    @staticmethod
    def query_directory(output_bytes, file_id=_RELATED_FILE):
        body = _QUERY_BODY.pack(33, 0x01, 0, 0, file_id, 0x60, 2, output_bytes) + "*".encode("utf-16-le")
        charge = (output_bytes - 1) // CREDIT_BYTES + 1
        return (Commands.SMB2_QUERY_DIRECTORY, body, b"", charge, charge)

    @staticmethod
    def close(file_id=_RELATED_FILE, get_attributes=False):
        return (Commands.SMB2_CLOSE, _CLOSE_BODY.pack(24, 1 if get_attributes else 0, 0, file_id), b"", 1, 1)

    @staticmethod
    def set_info(file_id, info_class, buffer):
        body = _SET_INFO_BODY.pack(33, 1, info_class, len(buffer), 0x60, 0, 0, file_id) + buffer
        return (Commands.SMB2_SET_INFO, body, b"", 1, 1)

    @staticmethod
    def write(file_id, offset, data, credit_request):
        charge = (len(data) - 1) // CREDIT_BYTES + 1 if len(data) else 1
        body = _WRITE_BODY.pack(49, 0x70, len(data), offset, file_id, 0, 0, 0, 0, 0)
        return (Commands.SMB2_WRITE, body, data, charge, credit_request)


SignedWrites = SignedRequests  # the name the Samba tests ask for


class FileUpload:
    """A new file on the share, written with pipelined requests; ``commit`` renames and closes it.

    Round trips per file: the create, the writes (pipelined), then the rename and close in one
    compound. On a signed session every request is framed and signed here (``SignedRequests``);
    on an encrypted one smbprotocol builds them. Answers are read for the few fields used (file id,
    bytes written, size).
    """

    def __init__(self, tree, name, write_size, depth):
        self.connection = tree.session.connection
        self.ids = (tree.session.session_id, tree.tree_connect_id)
        self.piece = max(CREDIT_BYTES, min(write_size, self.connection.max_write_size))
        self.depth = max(1, depth)
        self.offset = 0
        self.pending = collections.deque()
        self.signer = _signer(tree)
        access = (FilePipePrinterAccessMask.FILE_WRITE_DATA | FilePipePrinterAccessMask.FILE_READ_ATTRIBUTES
                  | FilePipePrinterAccessMask.FILE_WRITE_ATTRIBUTES | FilePipePrinterAccessMask.DELETE)
        # nobody else writes to it meanwhile: others may only read
        if self.signer is not None:
            self.handle = None
            request = self.signer.send([self.signer.create(name, access, FileAttributes.FILE_ATTRIBUTE_NORMAL,
                                                           ShareAccess.FILE_SHARE_READ,
                                                           CreateDisposition.FILE_OVERWRITE_IF,
                                                           CreateOptions.FILE_NON_DIRECTORY_FILE)])[0]
        else:
            self.handle = Open(tree, name)
            message, _receive = self.handle.create(
                ImpersonationLevel.Impersonation, access, FileAttributes.FILE_ATTRIBUTE_NORMAL,
                ShareAccess.FILE_SHARE_READ, CreateDisposition.FILE_OVERWRITE_IF,
                CreateOptions.FILE_NON_DIRECTORY_FILE, send=False)
            request = self.connection.send(message, *self.ids)
        self.file_id = _answer(self.connection, request)[128:144]  # MS-SMB2 2.2.14: FileId at offset 64 of the body
        if self.handle is not None:
            self.handle.file_id = self.file_id
        self.open = True

    def _settle_one(self):
        request, expected = self.pending.popleft()
        written, = _NEXT.unpack_from(_answer(self.connection, request), 68)  # MS-SMB2 2.2.22: Count
        if written != expected:
            raise IOError("the server wrote %d of %d bytes at offset %d" % (written, expected, self.offset))

    def write(self, chunk):
        """Send ``chunk`` (bytes-like); it is no longer referenced once this returns."""
        view = memoryview(chunk)
        lock = _credit_lock(self.connection)
        while view:
            while len(self.pending) >= self.depth:
                self._settle_one()
            size = min(len(view), self.piece)
            request = None
            with lock:  # credits checked and spent in one step: other files' writes share them
                available = available_credits(self.connection) - CREDIT_MARGIN
                size = min(size, available * CREDIT_BYTES)
                if size > 0:
                    charge = (size - 1) // CREDIT_BYTES + 1
                    # ask for enough credits to keep `depth` full-size writes in flight
                    wanted = self.depth * ((self.piece - 1) // CREDIT_BYTES + 1)
                    extra = min(max(0, wanted - (available - charge)), MAX_CREDIT_REQUEST)
                    if self.signer is not None:  # sent (copied into the socket) before send returns
                        request = self.signer.send([self.signer.write(self.file_id, self.offset, view[:size],
                                                                      charge + extra)])[0]
                    else:
                        message, _receive = self.handle.write(bytes(view[:size]), self.offset, send=False)
                        request = self.connection.send(message, *self.ids, credit_request=charge + extra)
            if request is None:  # every credit is in flight: wait for answers to bring some back
                if self.pending:
                    self._settle_one()
                else:
                    time.sleep(0.001)
                continue
            self.pending.append((request, size))
            self.offset += size
            view = view[size:]

    def finish(self):
        """Wait for every write; the bytes the server acknowledged (all of the file: nobody else may write)."""
        while self.pending:
            self._settle_one()
        return self.offset

    def _set_and_close(self, info_class, buffer, get_attributes=False):
        """Set ``buffer`` (of ``info_class``) on the file and close it, in one compound; the size on closing."""
        if self.signer is not None:
            requests = self.signer.send([self.signer.set_info(self.file_id, info_class, buffer),
                                         self.signer.close(self.file_id, get_attributes)])
        else:
            request = SMB2SetInfoRequest()
            request["info_type"] = 1  # SMB2_0_INFO_FILE
            request["file_info_class"] = info_class
            request["file_id"] = self.file_id
            request["buffer"] = buffer
            close, _receive = self.handle.close(get_attributes, send=False)
            requests = self.connection.send_compound([request, close], *self.ids, related=False)
        self.open = False
        outcome = _outcomes(self.connection, requests)
        failed, closed = outcome[0], outcome[1]
        if isinstance(closed, SMBResponseException):
            raise closed
        if isinstance(failed, SMBResponseException):
            raise failed
        # MS-SMB2 2.2.16: EndofFile at offset 48 of the body (set with SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB)
        return _SIZE.unpack_from(closed, 64 + 48)[0] if get_attributes else None

    def commit(self, name):
        """Rename the file to ``name`` (share-relative), replacing a file of that name, and close it.

        Returns the file's size as the server reports it on closing.
        """
        encoded = name.encode("utf-16-le")
        rename = _RENAME_HEAD.pack(1, 0, len(encoded)) + encoded
        return self._set_and_close(_FILE_RENAME_INFORMATION, rename, get_attributes=True)

    def discard(self):
        """Close the file, deleting it; settles what was in flight, raises nothing."""
        while self.pending:
            try:
                self._settle_one()
            except Exception:  # pylint: disable=broad-except  # the first failure is already being raised
                pass
        if self.open:
            try:
                self._set_and_close(_FILE_DISPOSITION_INFORMATION, b"\x01")
            except Exception:  # pylint: disable=broad-except
                return False
        return True
