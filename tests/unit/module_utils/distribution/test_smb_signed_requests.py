"""smb_requests' own framing and signing: the same signatures as smbprotocol's, answers checked, and the raw path
used for listings, folders and uploads on the tests' Samba server."""

import os
import struct
import threading

import pytest

from ansible_collections.patchwave.windows.plugins.module_utils._distribution import layout, smb_requests, stage

smbprotocol_connection = pytest.importorskip("smbprotocol.connection")
SigningAlgorithms = smbprotocol_connection.SigningAlgorithms
Dialects = smbprotocol_connection.Dialects
SMBException = pytest.importorskip("smbprotocol.exceptions").SMBException

_HEADER = struct.Struct("<4sHHIHHIIQIIQ16s")  # an answer's header: status, command, credits, flags, next, id, ...


def _reference(algorithm, key, message, message_id, response):
    """smbprotocol's own signature of ``message`` (its signature field is zeroed there)."""
    connection = smbprotocol_connection.Connection.__new__(smbprotocol_connection.Connection)
    connection.dialect = Dialects.SMB_3_1_1 if algorithm != SigningAlgorithms.HMAC_SHA256 else Dialects.SMB_2_1_0
    connection.signing_algorithm_id = algorithm if algorithm != SigningAlgorithms.HMAC_SHA256 else None
    return connection._generate_signature(message, key, message_id, response, 0x09)  # pylint: disable=protected-access


@pytest.mark.parametrize("algorithm", [SigningAlgorithms.AES_GMAC, SigningAlgorithms.AES_CMAC,
                                       SigningAlgorithms.HMAC_SHA256])
@pytest.mark.parametrize("response", [False, True])
def test_signatures_match_smbprotocols(algorithm, response):
    key = os.urandom(16)
    message = os.urandom(64) + os.urandom(1000)
    parts = (message[:48], b"\x00" * 16, message[64:100], memoryview(message)[100:])
    ours = smb_requests._signature(algorithm, key, 77, 1 if response else 0, parts)  # pylint: disable=protected-access
    assert ours == _reference(algorithm, key, message, 77, response)[:16]


class _Transport:
    connected = True


def _receiving_connection():
    connection = smb_requests.ReceivingConnection.__new__(smb_requests.ReceivingConnection)
    connection.raw_requests = {}
    connection.sequence_lock = threading.Lock()
    connection.sequence_window = {"low": 10, "high": 10}
    connection.transport = _Transport()
    connection._t_exc = None  # pylint: disable=protected-access
    return connection


def _answer(key, message_id, status=0, credits=3, signed=True, body=b"\x11" * 8, tamper=False, following=0):
    header = _HEADER.pack(b"\xfeSMB", 64, 1, status, 0x09, credits, 0x1 | (0x8 if signed else 0), following,
                          message_id, 0, 1, 5, b"\x00" * 16)
    message = header + body
    if signed:
        signature = smb_requests._signature(SigningAlgorithms.AES_GMAC, key, message_id, 1,  # pylint: disable=protected-access
                                            (message,))
        if tamper:
            signature = bytes([signature[0] ^ 1]) + signature[1:]
        message = message[:48] + signature + message[64:]
    return message


def test_a_signed_answer_is_handed_over_with_its_credits():
    key = os.urandom(16)
    connection = _receiving_connection()
    request = smb_requests.RawRequest(connection, 12, key, SigningAlgorithms.AES_GMAC)
    connection.raw_requests[12] = request
    answer = _answer(key, 12)
    assert connection._deliver(answer)  # pylint: disable=protected-access
    assert request.result() == answer and connection.sequence_window["high"] == 13 and not connection.raw_requests


def test_a_compound_answer_is_split_and_each_part_checked():
    key = os.urandom(16)
    connection = _receiving_connection()
    first, second = (smb_requests.RawRequest(connection, i, key, SigningAlgorithms.AES_GMAC) for i in (20, 21))
    connection.raw_requests.update({20: first, 21: second})
    head = _answer(key, 20, following=72)
    tail = _answer(key, 21, body=b"\x22" * 4)
    assert connection._deliver(head + tail)  # pylint: disable=protected-access
    assert first.result() == head and second.result() == tail


@pytest.mark.parametrize("answer_options", [{"tamper": True}, {"signed": False}])
def test_a_wrongly_signed_or_unsigned_answer_is_refused(answer_options):
    key = os.urandom(16)
    connection = _receiving_connection()
    connection.raw_requests[30] = smb_requests.RawRequest(connection, 30, key, SigningAlgorithms.AES_GMAC)
    with pytest.raises(SMBException, match="signature|not signed"):
        connection._deliver(_answer(key, 30, **answer_options))  # pylint: disable=protected-access


def test_an_answer_to_someone_elses_request_goes_to_smbprotocol():
    connection = _receiving_connection()
    assert not connection._deliver(_answer(os.urandom(16), 40))  # pylint: disable=protected-access


def test_an_interim_pending_answer_keeps_the_request_waiting():
    key = os.urandom(16)
    connection = _receiving_connection()
    request = smb_requests.RawRequest(connection, 50, key, SigningAlgorithms.AES_GMAC)
    connection.raw_requests[50] = request
    interim = bytearray(_answer(key, 50, status=0x103, credits=1, signed=False))
    struct.pack_into("<I", interim, 16, 0x1 | 0x2)  # SMB2_FLAGS_SERVER_TO_REDIR | SMB2_FLAGS_ASYNC_COMMAND
    assert connection._deliver(bytes(interim))  # pylint: disable=protected-access
    assert connection.raw_requests == {50: request} and not request.event.is_set()
    assert connection.sequence_window["high"] == 11


def test_a_failure_status_is_raised_as_smbprotocols_exception():
    key = os.urandom(16)
    connection = _receiving_connection()
    request = smb_requests.RawRequest(connection, 60, key, SigningAlgorithms.AES_GMAC)
    connection.raw_requests[60] = request
    # an SMB2 ERROR answer body: StructureSize 9, ErrorContextCount, Reserved, ByteCount, one byte
    connection._deliver(_answer(key, 60, status=0xC0000034, body=struct.pack("<HBBI", 9, 0, 0, 0) + b"\x00"))  # pylint: disable=protected-access
    with pytest.raises(SMBException) as caught:
        request.result()
    assert caught.value.status == 0xC0000034


pytest_integration = pytest.mark.integration


@pytest_integration
def test_the_raw_path_lists_missing_empty_and_filled_folders(samba_server, make_smb_target, library):
    record = library.add(70000, seed=41)
    target = make_smb_target()
    with target:
        tree = target._tree  # pylint: disable=protected-access
        assert isinstance(tree.session.connection, smb_requests.ReceivingConnection)
        assert smb_requests.SignedRequests.usable(tree)
        stage.stage(target, [record])
        parts = layout.content_parts(record["sha1"], None, "cab")
        target.make_folders([("empty",), ("deep", "er")])
        found = target.listings([parts[:-1], ("empty",), ("deep",), ("missing",)])
        assert found[parts[:-1]] == {parts[-1]: 70000}
        assert found[("empty",)] == {} and found[("deep",)] == {} and found[("missing",)] is None
        assert target.subfolders() >= {parts[0], "empty", "deep"}
        assert not target._session.connection.raw_requests  # pylint: disable=protected-access
    for folder in ("empty", os.path.join("deep", "er")):
        assert os.path.isdir(os.path.join(samba_server.share_dir, target.folder[0], folder))


@pytest_integration
def test_a_failed_upload_is_deleted_on_the_raw_path(samba_server, make_smb_target):
    target = make_smb_target()
    with target:
        target.make_folders([("aa",)])
        writer = target.open_write(("aa", ".partial-test"))
        writer.write(b"x" * 100000)
        assert writer.finish() == 100000
        assert writer.discard()
        assert target.size(("aa", ".partial-test")) is None


@pytest_integration
def test_a_refused_logon_leaves_no_connection_behind(samba_server, make_smb_target):
    def workers():
        return [t for t in threading.enumerate() if t.name == "msg_worker-%s:%d" % (samba_server.host, samba_server.port)
                and t.is_alive()]

    before = len(workers())
    target = make_smb_target(password="not-the-password")
    with pytest.raises(Exception):
        target.connect()
    assert len(workers()) == before and not target._cache  # pylint: disable=protected-access
