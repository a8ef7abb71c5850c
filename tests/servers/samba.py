"""A private Samba server for the tests and the benchmarks (SMB distribution points).

``private_server()`` is a context manager: ``smbd`` from the Debian package ``samba``, run as root
in the foreground with its own ``smb.conf`` in a temporary folder (every private, lock, state,
cache and pid directory under it), listening on a free loopback port only, signing mandatory and
encryption as asked. One Samba user (a system account, created once if missing: ``smbpasswd``
only adds users the system knows) owns the share folders. It yields a ``Server``; at the end the
server's process group is stopped, the small share unmounted and the folder deleted.

Shares:

* ``content``: a folder on the temporary folder's file system.
* ``small``: a tmpfs of ``small_bytes`` (default 2 MiB) for the out-of-space tests, mounted as
  root. When the mount is refused (no privilege), ``Server.small_unavailable`` says why and the
  share is absent; the tests that need it skip with that reason.

``available()`` says why a server cannot be started (not root, ``smbd``/``smbpasswd`` missing), or None.
"""

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

USER = "patchwave-smb"
SHARE = "content"
SMALL_SHARE = "small"
SMALL_BYTES = 2 * 1024 * 1024
ENCRYPT_SETTINGS = ("off", "if_required", "desired", "required")


def available():
    """None when a private server can be started, else the reason it cannot."""
    if os.geteuid() != 0:
        return "smbd must be started as root (it changes to the share user's identity per connection)"
    for program in ("smbd", "smbpasswd", "smbclient"):
        if shutil.which(program, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None:
            return "%s not found (Debian packages samba and smbclient; `make debs` installs them as root)" % program
    return None


def _program(name):
    return shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ensure_user(name):
    try:
        return pwd.getpwnam(name)
    except KeyError:
        added = subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                                "--shell", "/usr/sbin/nologin", name], check=False, capture_output=True, text=True)
        try:
            return pwd.getpwnam(name)  # also when another test process (xdist worker) added it meanwhile
        except KeyError:
            raise RuntimeError("cannot add the system user %s for Samba: %s" % (name, added.stderr.strip())) from None


class Server:
    """A running private smbd: where it listens, who may log on, where its shares' folders are."""

    def __init__(self, base, port, password, encrypt):
        self.base = base
        self.host = "127.0.0.1"
        self.port = port
        self.username = USER
        self.password = password
        self.encrypt = encrypt
        self.share = SHARE
        self.share_dir = os.path.join(base, "shares", SHARE)
        self.small_share = SMALL_SHARE
        self.small_dir = os.path.join(base, "shares", SMALL_SHARE)
        self.small_unavailable = None
        self.config = os.path.join(base, "smb.conf")
        self.log = os.path.join(base, "smbd.log")

    def unc(self, share, *parts):
        """``\\\\127.0.0.1\\share\\part\\...`` (the port travels separately, as smbprotocol takes it)."""
        return "\\\\" + "\\".join((self.host, share) + parts)

    def smbclient(self, share, command, password=None, check=True):
        """Run the ``smbclient`` command-line client against ``share`` (signing required, like our client)."""
        args = [_program("smbclient"), "//%s/%s" % (self.host, share), "-p", str(self.port),
                "-U", "%s%%%s" % (self.username, self.password if password is None else password),
                "--client-protection=sign" if self.encrypt != "required" else "--client-protection=encrypt",
                "-c", command]
        done = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False)
        if check and done.returncode != 0:
            raise RuntimeError("smbclient %r failed (%d): %s%s" % (command, done.returncode, done.stdout,
                                                                   done.stderr))
        return done


def _config(base, port, encrypt, shares):
    lines = [
        "[global]",
        "  server role = standalone server",
        "  netbios name = PATCHWAVETEST",
        "  workgroup = WORKGROUP",
        "  interfaces = lo",
        "  bind interfaces only = yes",
        "  smb ports = %d" % port,
        "  disable netbios = yes",
        "  private dir = %s/private" % base,
        "  lock directory = %s/lock" % base,
        "  state directory = %s/state" % base,
        "  cache directory = %s/cache" % base,
        "  pid directory = %s/pid" % base,
        "  ncalrpc dir = %s/ncalrpc" % base,
        "  passdb backend = tdbsam:%s/private/passdb.tdb" % base,
        "  log file = %s/smbd.log" % base,
        "  log level = 1",
        "  max log size = 0",
        "  server signing = mandatory",
        "  server smb encrypt = %s" % encrypt,
        "  server min protocol = SMB2_10",
        "  map to guest = never",
        "  load printers = no",
        "  printing = bsd",
        "  printcap name = /dev/null",
        "  disable spoolss = yes",
        # no samba-dcerpcd helpers started on demand: nothing may outlive the server's process group
        "  rpc start on demand helpers = no",
        "  smbd max xattr size = 65536",
    ]
    for name, path in shares:
        lines += ["", "[%s]" % name, "  path = %s" % path, "  read only = no", "  valid users = %s" % USER,
                  "  create mask = 0644", "  directory mask = 0755"]
    return "\n".join(lines) + "\n"


def _wait_listening(process, port, log, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("smbd exited with %s before listening:\n%s" % (process.returncode, _tail(log)))
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(0.5)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("smbd did not listen on 127.0.0.1:%d within %ds:\n%s" % (port, timeout, _tail(log)))


def _tail(path):
    if not os.path.exists(path):
        return ""
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()[-3000:]


def _stop(process):
    """SIGTERM to smbd's process group (its own session), then SIGKILL to whatever is left."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


@contextlib.contextmanager
def private_server(encrypt="desired", small_bytes=SMALL_BYTES, root=None):
    """Start a private smbd on a free loopback port; yields a ``Server``.

    ``encrypt``: ``server smb encrypt`` (off, if_required, desired, required); signing is always
    mandatory. ``small_bytes``: size of the ``small`` share's tmpfs (0: no small share).
    """
    reason = available()
    if reason:
        raise RuntimeError(reason)
    if encrypt not in ENCRYPT_SETTINGS:
        raise ValueError("encrypt must be one of %s" % ", ".join(ENCRYPT_SETTINGS))
    account = _ensure_user(USER)
    base = tempfile.mkdtemp(prefix="patchwave-samba-", dir=root)
    os.chmod(base, 0o755)  # the share user must traverse it to reach the shares
    server = Server(base, _free_port(), "pw-%s" % uuid.uuid4().hex[:12], encrypt)
    process = None
    mounted = False
    try:
        for sub in ("private", "lock", "state", "cache", "pid", "ncalrpc", "shares"):
            os.makedirs(os.path.join(base, sub), mode=0o755, exist_ok=True)
        os.chmod(os.path.join(base, "private"), 0o700)
        os.makedirs(server.share_dir)
        os.chown(server.share_dir, account.pw_uid, account.pw_gid)
        shares = [(SHARE, server.share_dir)]
        if small_bytes:
            os.makedirs(server.small_dir)
            mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d,uid=%d,gid=%d,mode=0755"
                                    % (small_bytes, account.pw_uid, account.pw_gid), "tmpfs", server.small_dir],
                                   capture_output=True, text=True, check=False)
            if mount.returncode == 0:
                mounted = True
                shares.append((SMALL_SHARE, server.small_dir))
            else:
                server.small_unavailable = "cannot mount a %d-byte tmpfs for the out-of-space share: %s" % (
                    small_bytes, (mount.stderr or mount.stdout).strip())
        with open(server.config, "w", encoding="utf-8") as handle:
            handle.write(_config(base, server.port, encrypt, shares))
        added = subprocess.run([_program("smbpasswd"), "-c", server.config, "-s", "-a", USER],
                               input="%s\n%s\n" % (server.password, server.password), capture_output=True,
                               text=True, check=False)
        if added.returncode != 0:
            raise RuntimeError("smbpasswd -a %s failed: %s%s" % (USER, added.stdout, added.stderr))
        with open(server.log + ".stdout", "wb") as out:
            process = subprocess.Popen(  # pylint: disable=consider-using-with
                [_program("smbd"), "--foreground", "--no-process-group", "--configfile=%s" % server.config],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        _wait_listening(process, server.port, server.log)
        yield server
    finally:
        if process is not None:
            _stop(process)
        if mounted:
            subprocess.run(["umount", "-l", server.small_dir], capture_output=True, check=False)
        shutil.rmtree(base, ignore_errors=True)
