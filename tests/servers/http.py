"""Real HTTP servers on loopback for the tests and benchmarks: nginx (content source) and tinyproxy.

Pytest-independent: each server is a context manager (or ``start()``/``stop()``) that writes its
own configuration into a temporary folder, listens on a free 127.0.0.1 port, runs in the
foreground as our child process (its own process group) and is stopped, with its folder removed,
on exit; an ``atexit`` hook stops whatever a crashed test left. A missing binary raises
``ServerUnavailable`` naming the Debian package (the Makefile's ``debs`` target installs them);
a conftest turns that into ``pytest.fail``.

* ``Nginx(root, tls=True)``: serves ``root`` (Range requests work, as nginx always does) over
  plain HTTP at ``url()`` and, with ``tls``, over HTTPS at ``tls_url()`` with a self-signed
  certificate for 127.0.0.1/localhost made by ``cryptography`` (``cert_path``). Its access log
  (``access_log()``) records method, path, status, the Range header and the bytes sent.
* ``Tinyproxy()``: an HTTP proxy at ``url`` (CONNECT to any port: no ``ConnectPort`` lines),
  allowing only 127.0.0.1; ``log_text()`` shows the requests it passed on.
* ``CuttingServer(root)``: a small threaded Python server for faults nginx does not make: it cuts
  the first ``cuts`` GETs after ``cut_after`` bytes, honours ``Range`` (or ignores it with
  ``honor_range=False``), records every request's Range header in ``requests`` and, with a
  ``delay`` before each answer, how many requests it served at once (``max_active``).
"""

from __future__ import annotations

import atexit
import datetime
import http.server
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

_RUNNING = set()


class ServerUnavailable(RuntimeError):
    """A server cannot be started here (binary missing, failed to start): the message says why."""


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def find_binary(name, package, folders=("/usr/sbin", "/usr/bin", "/sbin", "/bin")):
    """The path of ``name``, or ServerUnavailable naming the Debian package that provides it."""
    found = shutil.which(name) or next((os.path.join(f, name) for f in folders
                                        if os.access(os.path.join(f, name), os.X_OK)), None)
    if not found:
        raise ServerUnavailable("%s not found: install the Debian package %s (`make debs` does, as root)"
                                % (name, package))
    return found


def _wait_for_port(port, process, log_path, what, seconds=15.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerUnavailable("%s exited with status %s at start: %s" % (what, process.returncode, _tail(log_path)))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise ServerUnavailable("%s did not listen on 127.0.0.1:%d within %.0f s: %s" % (what, port, seconds, _tail(log_path)))


def _tail(path, lines=20):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return " | ".join(handle.read().strip().splitlines()[-lines:]) or "(empty log)"
    except OSError:
        return "(no log at %s)" % path


class ServerProcess:
    """A server binary run in the foreground under its own process group, stopped on exit.

    A subclass writes its configuration in ``_config`` (into ``self.folder``, for ``self.port``),
    gives its command line in ``_command`` and its log in ``_log_path``; ``start`` retries on
    other free ports when one was taken meanwhile (other test processes pick ports too).
    """

    name = "server"

    def __init__(self):
        self.folder = None
        self.process = None
        self.port = None

    def _config(self):
        raise NotImplementedError

    def _command(self):
        raise NotImplementedError

    def _log_path(self):
        raise NotImplementedError

    def start(self, attempts=3):
        """Start on a free port (another port on a lost race for it); return self."""
        self.folder = tempfile.mkdtemp(prefix="patchwave-%s-" % self.name)
        os.chmod(self.folder, 0o755)
        problem = None
        for _attempt in range(attempts):
            self._choose_ports()
            self._config()
            with open(os.path.join(self.folder, "console.log"), "wb") as console:
                self.process = subprocess.Popen(  # pylint: disable=consider-using-with
                    self._command(), stdout=console, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    cwd=self.folder, start_new_session=True)
            _RUNNING.add(self)
            try:
                for port in self._ports():
                    _wait_for_port(port, self.process, self._log_path(), self.name)
                return self
            except ServerUnavailable as exc:
                problem = exc
                self._stop_process()
        self.stop()
        raise problem

    def _choose_ports(self):
        self.port = free_port()

    def _ports(self):
        return [self.port]

    def _stop_process(self):
        process, self.process = self.process, None
        _RUNNING.discard(self)
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        # Workers (nginx) share the group we created for this process alone.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def stop(self):
        """Stop the server and remove its folder."""
        self._stop_process()
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Nginx(ServerProcess):
    """nginx serving ``root`` on 127.0.0.1 (and over TLS with a self-signed certificate when ``tls``)."""

    name = "nginx"

    def __init__(self, root, tls=False, limit_rate=None):
        super().__init__()
        self.root = os.path.abspath(root)
        self.tls = tls
        self.limit_rate = limit_rate
        self.tls_port = None
        self.binary = find_binary("nginx", "nginx")

    @property
    def cert_path(self):
        return os.path.join(self.folder, "cert.pem")

    def url(self, path=""):
        return "http://127.0.0.1:%d/%s" % (self.port, path.lstrip("/"))

    def tls_url(self, path=""):
        return "https://127.0.0.1:%s/%s" % (self.tls_port, path.lstrip("/"))

    def access_log(self):
        """The access log as dicts: method, path, status, range ('-' when none), bytes sent."""
        entries = []
        try:
            with open(os.path.join(self.folder, "access.log"), encoding="utf-8") as handle:
                for line in handle:
                    method, path, status, ranges, sent = line.rstrip("\n").split("\t")
                    entries.append({"method": method, "path": path, "status": int(status), "range": ranges,
                                    "bytes": int(sent)})
        except FileNotFoundError:
            pass
        return entries

    def _choose_ports(self):
        self.port = free_port()
        self.tls_port = free_port() if self.tls else None

    def _ports(self):
        return [self.port] + ([self.tls_port] if self.tls else [])

    def _log_path(self):
        return os.path.join(self.folder, "error.log")

    def _command(self):
        return [self.binary, "-p", self.folder + os.sep, "-c", os.path.join(self.folder, "nginx.conf"),
                "-e", self._log_path()]

    def _config(self):
        folder = self.folder
        for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(folder, "temp", sub), exist_ok=True)
        tls_server = ""
        if self.tls:
            if not os.path.exists(self.cert_path):
                write_self_signed(self.cert_path, os.path.join(folder, "key.pem"))
            tls_server = """
    server {
        listen 127.0.0.1:%d ssl;
        ssl_certificate %s;
        ssl_certificate_key %s;
        root %s;
    }""" % (self.tls_port or 0, self.cert_path, os.path.join(folder, "key.pem"), self.root)
        user = "user root;\n" if os.geteuid() == 0 else ""
        rate = "limit_rate %s;" % self.limit_rate if self.limit_rate else ""
        config = """%sdaemon off;
worker_processes 2;
pid %s/nginx.pid;
error_log %s/error.log warn;
events { worker_connections 512; }
http {
    default_type application/octet-stream;
    log_format patchwave "$request_method\\t$uri\\t$status\\t$http_range\\t$body_bytes_sent";
    access_log %s/access.log patchwave;
    client_body_temp_path %s/temp/client_body;
    proxy_temp_path %s/temp/proxy;
    fastcgi_temp_path %s/temp/fastcgi;
    uwsgi_temp_path %s/temp/uwsgi;
    scgi_temp_path %s/temp/scgi;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 30;
    %s
    server {
        listen 127.0.0.1:%d;
        root %s;
    }%s
}
""" % ((user,) + (folder,) * 8 + (rate, self.port, self.root, tls_server))
        with open(os.path.join(folder, "nginx.conf"), "w", encoding="utf-8") as handle:
            handle.write(config)


class Tinyproxy(ServerProcess):
    """tinyproxy on 127.0.0.1, allowing only loopback clients, CONNECT to any port."""

    name = "tinyproxy"

    def __init__(self):
        super().__init__()
        self.binary = find_binary("tinyproxy", "tinyproxy")

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def log_text(self):
        try:
            with open(self._log_path(), encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except FileNotFoundError:
            return ""

    def _log_path(self):
        return os.path.join(self.folder, "tinyproxy.log")

    def _command(self):
        return [self.binary, "-d", "-c", os.path.join(self.folder, "tinyproxy.conf")]

    def _config(self):
        # No ConnectPort lines: the stock ones (443, 563) refuse CONNECT to a test server's free port.
        user = "User root\nGroup root\n" if os.geteuid() == 0 else ""
        config = """%sPort %d
Listen 127.0.0.1
Timeout 60
LogFile "%s"
LogLevel Info
PidFile "%s"
MaxClients 50
Allow 127.0.0.1
DisableViaHeader Yes
""" % (user, self.port, self._log_path(), os.path.join(self.folder, "tinyproxy.pid"))
        with open(os.path.join(self.folder, "tinyproxy.conf"), "w", encoding="utf-8") as handle:
            handle.write(config)


def write_self_signed(cert_path, key_path, names=("localhost",), addresses=("127.0.0.1", "::1")):
    """A self-signed certificate (and its key) for loopback, made with ``cryptography``."""
    # pylint: disable=import-outside-toplevel
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "patchwave test content server")])
    now = datetime.datetime.now(datetime.timezone.utc)
    alt = [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    with open(key_path, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    with open(cert_path, "wb") as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))


class CuttingServer:
    """A threaded HTTP server on 127.0.0.1 serving ``root``, cutting the first ``cuts`` GETs."""

    def __init__(self, root, cut_after=0, cuts=1, honor_range=True, delay=0.0):
        self.root = os.path.abspath(root)
        self.delay = delay
        self.active = 0
        self.max_active = 0  # the most requests served at once
        self.cut_after = cut_after
        self.cuts = cuts
        self.honor_range = honor_range
        self.requests = []  # (path, Range header or None, status)
        self._lock = threading.Lock()
        self._server = None
        self._thread = None

    @property
    def port(self):
        return self._server.server_address[1]

    def url(self, path=""):
        return "http://127.0.0.1:%d/%s" % (self.port, path.lstrip("/"))

    def start(self):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):  # noqa: N802  pylint: disable=invalid-name
                owner.serve(self)

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="cutting-server", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def serve(self, handler):
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            if self.delay:
                time.sleep(self.delay)
            self._serve(handler)
        finally:
            with self._lock:
                self.active -= 1

    def _serve(self, handler):
        path = os.path.join(self.root, handler.path.split("?")[0].lstrip("/"))
        ranges = handler.headers.get("Range")
        if not os.path.isfile(path):
            self._record(handler.path, ranges, 404)
            handler.send_response(404)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        with open(path, "rb") as source:
            data = source.read()
        start = 0
        if ranges and self.honor_range:
            start = int(ranges.split("=")[1].split("-")[0])
        with self._lock:
            cut = self.cuts > 0
            self.cuts -= 1 if cut else 0
        status = 206 if start else 200
        self._record(handler.path, ranges, status)
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(data) - start))
        if status == 206:
            handler.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        handler.send_header("Accept-Ranges", "bytes")
        handler.end_headers()
        body = data[start:]
        if cut:
            handler.wfile.write(body[:self.cut_after])
            handler.wfile.flush()
            handler.close_connection = True
            try:
                handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        handler.wfile.write(body)

    def _record(self, path, ranges, status):
        with self._lock:
            self.requests.append((path, ranges, status))


@atexit.register
def _stop_leftovers():
    for server in list(_RUNNING):
        server.stop()
