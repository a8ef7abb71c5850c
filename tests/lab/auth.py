"""HTTP authentication as a Windows WinRM listener does it: Basic, and NTLM (``Negotiate``) with
WinRM message encryption ([MS-WSMV] 2.2.9.1.1).

NTLM authenticates the TCP connection, not single requests: one :class:`NtlmAcceptor` lives per
connection. The server side is pyspnego's NTLM acceptor, which reads the accepted credentials from
the file named by the environment variable ``NTLM_USER_FILE`` (lines ``DOMAIN:USER:PASSWORD``, or smbpasswd lines
with the hashes, which this module writes);
:class:`CredentialStore` owns that file for every lab fleet of this process.
"""

import base64
import hashlib
import os
import struct
import tempfile
import threading

import spnego
import spnego.exceptions
from spnego.channel_bindings import GssChannelBindings

BOUNDARY = b"--Encrypted Boundary"
SPNEGO_ENCRYPTED = b"application/HTTP-SPNEGO-session-encrypted"
ENCRYPTED_CONTENT_TYPE = 'multipart/encrypted;protocol="application/HTTP-SPNEGO-session-encrypted";' \
                         'boundary="Encrypted Boundary"'


class AuthError(Exception):
    """Credentials rejected: the server answers HTTP 401."""


def check_basic(header_value, users):
    """Return the user name for a valid ``Basic`` header value, else raise :class:`AuthError`.

    ``users`` maps lower-case user names to passwords; ``DOMAIN\\user`` and ``.\\user`` match ``user``.
    """
    try:
        decoded = base64.b64decode(header_value.strip(), validate=True).decode("utf-8")
        user, password = decoded.split(":", 1)
    except (ValueError, UnicodeDecodeError):
        raise AuthError("malformed Basic credentials")
    bare = user.split("\\", 1)[-1].split("@", 1)[0].lower()
    if bare in users and users[bare] == password:
        return user
    raise AuthError("Basic credentials rejected")


class CredentialStore:
    """The process-wide ``NTLM_USER_FILE`` (pyspnego reads credentials only from that variable).

    Every started fleet registers its users here; the file holds the union and the variable is
    restored when the last fleet is gone.
    """

    _lock = threading.Lock()
    _users = {}  # owner -> [(domain, user, password)]
    _dir = None
    _previous = None

    @classmethod
    def register(cls, owner, credentials):
        with cls._lock:
            if not cls._users:
                cls._previous = os.environ.get("NTLM_USER_FILE")
                cls._dir = tempfile.mkdtemp(prefix="lab-ntlm-")
            cls._users[owner] = list(credentials)
            cls._write()

    @classmethod
    def unregister(cls, owner):
        with cls._lock:
            if cls._users.pop(owner, None) is None:
                return
            if cls._users:
                cls._write()
                return
            if cls._previous is None:
                os.environ.pop("NTLM_USER_FILE", None)
            else:
                os.environ["NTLM_USER_FILE"] = cls._previous
            path = os.path.join(cls._dir, "users")
            if os.path.exists(path):
                os.remove(path)
            os.rmdir(cls._dir)
            cls._dir = None

    @classmethod
    def _write(cls):
        # smbpasswd lines (``[DOMAIN\\]USER:UID:LM:NT:FLAGS:LCT``) carry the hashes, so pyspnego does
        # not recompute them (DES in pure Python) on every authentication
        from spnego._ntlm_raw.crypto import lmowfv1, ntowfv1

        lines = []
        for entries in cls._users.values():
            for domain, user, password in entries:
                account = "%s\\%s" % (domain, user) if domain else user
                lines.append("%s:1000:%s:%s:[U]:LCT-00000000" % (
                    account, lmowfv1(password).hex().upper(), ntowfv1(password).hex().upper()))
        path = os.path.join(cls._dir, "users")
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        os.replace(tmp, path)
        os.environ["NTLM_USER_FILE"] = path


def tls_channel_bindings(certificate_der):
    """RFC 5929 ``tls-server-end-point`` bindings for the server certificate (what requests-ntlm sends)."""
    from cryptography import x509
    cert = x509.load_der_x509_certificate(certificate_der)
    algorithm = cert.signature_hash_algorithm
    name = algorithm.name if algorithm is not None else "sha256"
    if name in ("md5", "sha1"):
        name = "sha256"
    digest = hashlib.new(name, certificate_der).digest()
    return GssChannelBindings(application_data=b"tls-server-end-point:" + digest)


class NtlmAcceptor:
    """One connection's NTLM server context: the handshake, then wrap/unwrap for message encryption."""

    def __init__(self, channel_bindings=None):
        self._channel_bindings = channel_bindings
        self._context = None
        self.user = None

    @property
    def complete(self):
        return self._context is not None and self._context.complete

    def step(self, token):
        """Feed a client token; return the token to answer with (``None`` once authenticated).

        Raises :class:`AuthError` when the credentials are wrong (the caller answers 401).
        """
        if token.startswith(b"NTLMSSP\x00\x01") or self._context is None or self._context.complete:
            # a Negotiate message (re)starts the handshake on this connection
            self._context = spnego.server(protocol="ntlm", channel_bindings=self._channel_bindings)
            self.user = None
        try:
            answer = self._context.step(token)
        except spnego.exceptions.SpnegoError as exc:
            self._context = None
            raise AuthError("NTLM authentication failed: %s" % exc)
        if self._context.complete:
            self.user = self._context.client_principal
        return answer

    def wrap(self, data):
        """Encrypt a response body: ``(content_type, body)`` in the multipart framing pywinrm reads."""
        wrapped = self._context.wrap(data, encrypt=True).data
        signature, sealed = wrapped[:16], wrapped[16:]
        body = (BOUNDARY + b"\r\n"
                b"\tContent-Type: " + SPNEGO_ENCRYPTED + b"\r\n"
                b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=" + str(len(data)).encode()
                + b"\r\n" + BOUNDARY + b"\r\n"
                b"\tContent-Type: application/octet-stream\r\n"
                + struct.pack("<i", len(signature)) + signature + sealed
                + BOUNDARY + b"--\r\n")
        return ENCRYPTED_CONTENT_TYPE, body

    def unwrap(self, body):
        """Decrypt a ``multipart/encrypted`` request body; raises :class:`ValueError` if malformed."""
        if self._context is None or not self._context.complete:
            raise ValueError("encrypted message on a connection that is not authenticated")
        parts = [p for p in body.split(BOUNDARY + b"\r\n") if p]
        message = b""
        for index in range(0, len(parts) - 1, 2):
            header, payload = parts[index], parts[index + 1]
            if b"Length=" not in header:
                raise ValueError("encrypted part without OriginalContent Length")
            expected = int(header.split(b"Length=", 1)[1].split(b"\r\n", 1)[0])
            if payload.endswith(BOUNDARY + b"--\r\n"):
                payload = payload[:-len(BOUNDARY + b"--\r\n")]
            prefix = b"\tContent-Type: application/octet-stream\r\n"
            if not payload.startswith(prefix):
                raise ValueError("encrypted part without an octet-stream header")
            payload = payload[len(prefix):]
            (signature_length,) = struct.unpack("<i", payload[:4])
            signature = payload[4:4 + signature_length]
            sealed = payload[4 + signature_length:]
            try:
                data = self._context.unwrap(signature + sealed).data
            except spnego.exceptions.SpnegoError as exc:
                raise ValueError("cannot decrypt message: %s" % exc)
            if len(data) != expected:
                raise ValueError("decrypted length %d does not match %d" % (len(data), expected))
            message += data
        if not parts:
            raise ValueError("empty encrypted message")
        return message
