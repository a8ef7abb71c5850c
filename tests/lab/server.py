"""The lab's HTTP(S) listeners: one TCP port per simulated host, all served by one process.

One acceptor thread watches every listening socket (``selectors``); each accepted connection gets a
thread that reads HTTP/1.1 requests on it for as long as the client keeps it alive (NTLM
authenticates the connection, so it must stay open). A request is: authenticate (Basic per
request, NTLM per connection), decrypt if ``multipart/encrypted``, hand the SOAP envelope to the
host's :class:`.winrs.ShellService`, answer (encrypted when the request was).
"""

import base64
import collections
import email.utils
import logging
import selectors
import socket
import ssl
import struct
import threading
import time

from . import auth, wsman
from .execute import AsyncJobs
from .faults import HostFaults
from .winrs import ShellService

log = logging.getLogger("tests.lab")

IDLE_TIMEOUT = 300.0  # seconds a keep-alive connection may stay silent
MAX_HEADER_LINES = 100
MAX_BODY = 64 * 1024 * 1024
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
           411: "Length Required", 413: "Request Entity Too Large", 500: "Internal Server Error"}

UP, REFUSE, BLACKHOLE = "up", "refuse", "blackhole"


class AuthConfig:
    """How the listeners authenticate: ``mode`` is ``basic``, ``ntlm`` or ``https``.

    ``basic``: HTTP, Basic only (WinRM with ``Basic`` and ``AllowUnencrypted`` on);
    ``ntlm``: HTTP, Negotiate/NTLM with message encryption (the Windows default);
    ``https``: HTTPS, Basic and NTLM (with channel binding), no message encryption.
    """

    def __init__(self, mode, users, tls_context=None, channel_bindings=None):
        if mode not in ("basic", "ntlm", "https"):
            raise ValueError("auth mode must be basic, ntlm or https, not %r" % mode)
        self.mode = mode
        self.users = {user.lower(): password for user, password in users.items()}
        self.allow_basic = mode in ("basic", "https")
        self.allow_ntlm = mode in ("ntlm", "https")
        self.tls_context = tls_context
        self.channel_bindings = channel_bindings

    @property
    def scheme(self):
        return "https" if self.tls_context is not None else "http"

    def challenge_headers(self):
        headers = []
        if self.allow_ntlm:
            headers.append(("WWW-Authenticate", "Negotiate"))
        if self.allow_basic:
            headers.append(("WWW-Authenticate", 'Basic realm="WSMAN"'))
        return headers


class LabHost:
    """The server side of one simulated host: its port, model, backend, shells and faults.

    Reachability: :meth:`go_down` (``"refuse"``: the port is closed, connections are refused;
    ``"blackhole"``: connections are accepted and never answered) and :meth:`come_up`.
    :meth:`drop_connections` resets every open connection (e.g. for a reboot).
    """

    def __init__(self, server, model, backend, clock, address):
        self.server = server
        self.model = model
        self.name = model.name
        self.index = model.index
        self.backend = backend
        self.clock = clock
        self.address = address
        self.port = None
        self.faults = HostFaults()
        # seconds a module run costs before the module's code runs (the PowerShell wrapper's start)
        self.module_cost = 0.0
        self.shells = ShellService(self)
        self.async_jobs = AsyncJobs()
        self.state = UP
        self._up = threading.Event()
        self._up.set()
        self._connections = set()
        self._lock = threading.Lock()
        self.listener = None
        # optional callable(command_line, stdin_bytes), called as each command starts (tests use it
        # to capture exactly what a client sent)
        self.recorder = None
        # request counters: requests, encrypted, auth_basic, auth_ntlm, rejected, faults
        self.stats = collections.Counter()

    def count(self, key):
        with self._lock:
            self.stats[key] += 1

    @property
    def endpoint(self):
        return "%s://%s:%d/wsman" % (self.server.auth.scheme, self.address, self.port)

    def __repr__(self):
        return "<LabHost %s %s %s>" % (self.name, self.endpoint, self.state)

    # reachability ------------------------------------------------------------------------------

    def go_down(self, mode=REFUSE):
        if mode not in (REFUSE, BLACKHOLE):
            raise ValueError("mode must be %r or %r" % (REFUSE, BLACKHOLE))
        with self._lock:
            self.state = mode
            self._up.clear()
        if mode == REFUSE:
            self.server.close_listener(self)
        self.drop_connections()

    def come_up(self, reset_shells=False):
        """Serve again (same port). ``reset_shells`` forgets every shell, as a reboot does."""
        if reset_shells:
            self.shells.reset()
        with self._lock:
            was = self.state
            self.state = UP
        if was == REFUSE:
            self.server.open_listener(self)
        self._up.set()

    def wait_up(self, timeout):
        return self._up.wait(timeout)

    def drop_connections(self):
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            connection.drop()

    def _track(self, connection, add):
        with self._lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    @property
    def connection_count(self):
        with self._lock:
            return len(self._connections)


class Connection:
    """One accepted TCP (or TLS) connection and the HTTP requests on it."""

    def __init__(self, server, host, sock, peer):
        self.server = server
        self.host = host
        self.sock = sock
        self.peer = peer
        self.ntlm = auth.NtlmAcceptor(server.auth.channel_bindings) if server.auth.allow_ntlm else None
        self._dropped = False

    def drop(self):
        """Reset the connection without an answer (RST)."""
        self._dropped = True
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def run(self):
        self.host._track(self, True)
        try:
            if self.host.state == BLACKHOLE:  # a hung host: accept, then never say a word
                while not self.host.wait_up(0.5) and not self.server.stopping and not self._dropped:
                    pass
                return
            if self.server.auth.tls_context is not None:
                self.sock.settimeout(30)
                self.sock = self.server.auth.tls_context.wrap_socket(self.sock, server_side=True)
            self.sock.settimeout(IDLE_TIMEOUT)
            reader = self.sock.makefile("rb", buffering=65536)
            while not self._dropped and not self.server.stopping:
                request = self._read_request(reader)
                if request is None:
                    break
                if self.host.state == BLACKHOLE:
                    # never answer; hang up once the host is back (or the lab stops)
                    while not self.host.wait_up(0.5) and not self.server.stopping and not self._dropped:
                        pass
                    break
                if not self._handle(*request):
                    break
        except (OSError, ssl.SSLError, ValueError) as exc:
            log.debug("%s: connection from %s ended: %s", self.host.name, self.peer, exc)
        finally:
            self.host._track(self, False)
            try:
                self.sock.close()
            except OSError:
                pass

    # HTTP -------------------------------------------------------------------------------------

    def _read_request(self, reader):
        line = reader.readline(65537)
        while line in (b"\r\n", b"\n"):
            line = reader.readline(65537)
        if not line:
            return None
        try:
            method, target, version = line.decode("latin-1").split()
        except ValueError:
            raise ValueError("bad request line %r" % line[:80])
        headers = {}
        for dummy in range(MAX_HEADER_LINES):
            line = reader.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
            name, dummy, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        else:
            raise ValueError("too many headers")
        length = headers.get("content-length")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._read_chunked(reader)
        else:
            size = int(length) if length else 0
            if size > MAX_BODY:
                raise ValueError("body too large")
            body = reader.read(size) if size else b""
            if len(body) != size:
                return None
        return method, target, version, headers, body

    @staticmethod
    def _read_chunked(reader):
        parts = []
        while True:
            size = int(reader.readline(1024).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while reader.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            parts.append(reader.read(size))
            reader.readline(3)

    def _send(self, status, body=b"", content_type=None, headers=(), keep_alive=True):
        lines = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "Error")),
                 "Server: Microsoft-HTTPAPI/2.0",
                 "Date: %s" % email.utils.formatdate(usegmt=True),
                 "Content-Length: %d" % len(body)]
        if content_type:
            lines.append("Content-Type: %s" % content_type)
        lines.extend("%s: %s" % h for h in headers)
        if not keep_alive:
            lines.append("Connection: close")
        latency = self.host.faults.latency
        if latency > 0:
            time.sleep(latency)
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def _handle(self, method, target, version, headers, body):
        """Answer one request; False when the connection must close afterwards."""
        keep_alive = headers.get("connection", "").lower() != "close" and version != "HTTP/1.0"
        if target.split("?", 1)[0].rstrip("/").lower() != "/wsman":
            self._send(404, keep_alive=keep_alive)
            return keep_alive
        if method != "POST":
            self._send(405, keep_alive=keep_alive)
            return keep_alive

        self.host.count("requests")
        user = self._authenticate(headers.get("authorization"), keep_alive)
        if user is None:
            return keep_alive

        encrypted = headers.get("content-type", "").lower().startswith("multipart/encrypted")
        if encrypted:
            if self.ntlm is None or not self.ntlm.complete:
                self._send(401, headers=self.server.auth.challenge_headers(), keep_alive=keep_alive)
                return keep_alive
            self.host.count("encrypted")
            try:
                body = self.ntlm.unwrap(body)
            except ValueError as exc:
                log.info("%s: bad encrypted message: %s", self.host.name, exc)
                self._send(400, keep_alive=False)
                return False
        if not body:
            # the empty POST pywinrm sends to set up message encryption
            self._send(200, keep_alive=keep_alive)
            return keep_alive

        status, response = self._soap(body, user)
        if response is None:  # a fault dropped the connection
            return False
        content_type = "application/soap+xml;charset=UTF-8"
        if encrypted:
            content_type, response = self.ntlm.wrap(response)
        self._send(status, response, content_type, keep_alive=keep_alive)
        return keep_alive

    def _authenticate(self, header, keep_alive):
        """The user name, or None after answering 401."""
        config = self.server.auth
        if header:
            scheme, dummy, value = header.partition(" ")
            scheme_l = scheme.lower()
            if scheme_l == "basic" and config.allow_basic:
                try:
                    user = auth.check_basic(value, config.users)
                except auth.AuthError:
                    self.host.count("rejected")
                else:
                    self.host.count("auth_basic")
                    return user
            elif scheme_l in ("negotiate", "ntlm") and self.ntlm is not None:
                try:
                    answer = self.ntlm.step(base64.b64decode(value.strip()))
                except (auth.AuthError, ValueError) as exc:
                    log.info("%s: NTLM rejected: %s", self.host.name, exc)
                    self.host.count("rejected")
                else:
                    if self.ntlm.complete:
                        self.host.count("auth_ntlm")
                        return self.ntlm.user
                    self._send(401, headers=[("WWW-Authenticate", "%s %s" % (
                        scheme, base64.b64encode(answer or b"").decode("ascii")))], keep_alive=keep_alive)
                    return None
        elif self.ntlm is not None and self.ntlm.complete:
            return self.ntlm.user
        self._send(401, headers=config.challenge_headers(), keep_alive=keep_alive)
        return None

    def _soap(self, body, user):
        relates_to = None
        try:
            request = wsman.parse_request(body)
            relates_to = request.message_id
            response = self.host.shells.handle(request, user, self.peer[0], self)
            if response is None:
                return 500, None
            return 200, response
        except wsman.WsmanFault as fault:
            self.host.count("faults")
            return 500, wsman.fault_response(fault, relates_to, self.host.address)


class LabServer:
    """Owns the listening sockets of many :class:`LabHost` and the acceptor thread."""

    def __init__(self, auth_config, address="127.0.0.1"):
        self.auth = auth_config
        self.address = address
        self.hosts = []
        self.stopping = False
        self._selector = selectors.DefaultSelector()
        self._pending = []
        self._pending_lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._thread = None

    def add_host(self, model, backend, clock, port=0):
        host = LabHost(self, model, backend, clock, self.address)
        host.port = port
        self.open_listener(host)
        self.hosts.append(host)
        return host

    def open_listener(self, host):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.address, host.port or 0))
        sock.listen(128)
        sock.setblocking(False)
        host.port = sock.getsockname()[1]
        host.listener = sock
        self._call(lambda: self._selector.register(sock, selectors.EVENT_READ, host))

    def close_listener(self, host):
        sock, host.listener = host.listener, None
        if sock is None:
            return
        done = threading.Event()

        def unregister():
            try:
                self._selector.unregister(sock)
            except (KeyError, ValueError):
                pass
            sock.close()
            done.set()

        self._call(unregister)
        if self._thread is not None and self._thread.is_alive() and threading.current_thread() is not self._thread:
            done.wait(5)

    def _call(self, function):
        """Run ``function`` in the acceptor thread (selectors are not thread-safe)."""
        if self._thread is None or not self._thread.is_alive():
            function()
            return
        with self._pending_lock:
            self._pending.append(function)
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def start(self):
        self._thread = threading.Thread(target=self._accept_loop, name="lab-acceptor", daemon=True)
        self._thread.start()

    def _accept_loop(self):
        while not self.stopping:
            for key, dummy in self._selector.select(timeout=1.0):
                if key.data is None:
                    try:
                        while self._wake_r.recv(4096):
                            pass
                    except (BlockingIOError, OSError):
                        pass
                    continue
                host = key.data
                try:
                    sock, peer = key.fileobj.accept()
                except (BlockingIOError, OSError):
                    continue
                sock.setblocking(True)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                connection = Connection(self, host, sock, peer)
                threading.Thread(target=connection.run, name="lab-conn-%s" % host.name, daemon=True).start()
            with self._pending_lock:
                pending, self._pending = self._pending, []
            for function in pending:
                function()

    def stop(self, timeout=10.0):
        """Close every listener and connection; returns when the acceptor thread has ended."""
        self.stopping = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(timeout)
        for host in self.hosts:
            if host.listener is not None:
                host.listener.close()
                host.listener = None
            host._up.set()
            host.drop_connections()
        deadline = time.monotonic() + timeout
        while any(h.connection_count for h in self.hosts) and time.monotonic() < deadline:
            time.sleep(0.02)
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()
