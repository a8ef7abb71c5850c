"""Command line of the lab (run from the repository root).

    python -m tests.lab start --hosts N --inventory PATH [--auth basic|ntlm|https] [--state-dir DIR]
                              [--store PATH [--seed S] [--time-scale X] [--search-seconds LOW:HIGH]]
                              [--module-cost S]
    python -m tests.lab status [--state-dir DIR]
    python -m tests.lab fault HOST [--down refuse|blackhole | --up] [--latency S] [--drop-receive N]
                                   [--clock-offset S] [--module-cost S]
                                   [--drop-after-send N] [--search-hresult HEX] [--offline-search-hresult HEX]
                                   [--scheduled-task-blocked on|off] [--worker-lost on|off]
                                   [--s4u-blocked on|off] [--worker-bootstrap-error TEXT]
                                   [--search-seconds S] [--install-hresult ID=HEX] [--download-hresult ID=HEX]
                                   [--install-seconds S|ID=S] [--download-seconds S] [--reboot-seconds S]
                                   [--never-returns on|off] [--loop-update ID] [--free-space-bytes N]
                                   [--state-dir DIR]
    python -m tests.lab mount HOST_PATH FOLDER [--host NAME ...] [--state-dir DIR]
    python -m tests.lab unmount HOST_PATH [--host NAME ...] [--state-dir DIR]
    python -m tests.lab stop [--state-dir DIR]

``start`` launches the fleet in a background process, writes the inventory and returns once every
host listens; ``--foreground`` serves in this process until SIGINT/SIGTERM instead. ``stop`` ends the
background process (SIGTERM, it closes every socket) and waits until it has gone. The state
directory (default ``tests/output/lab``) holds ``lab.pid``, ``lab.json`` (hosts, ports, control
port), ``lab.log`` and, for HTTPS, ``certs/ca.pem``.

``--store`` makes the hosts a varied fleet built from the catalog synced into that store
(:class:`.profiles.FleetProfile`, seeded by ``--seed``) answering ``patchwave.windows.scan``
(:class:`.wua.WuaBackend`); ``fault`` then also sets their WUA faults, and ``mount`` makes a folder
of this machine a host path (``C:\\Patchwave``) or a share (``\\\\fs01\\wsus``) on the hosts
(every host unless ``--host`` names some), so an offline scan can read a ``wsusscn2.cab`` from it;
``unmount`` removes the mapping.
"""

import argparse
import importlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.request import Request, urlopen

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_STATE_DIR = os.path.join(REPO, "tests", "output", "lab")
PACKAGE = __package__ or "tests.lab"
DEFAULT_BACKEND = "%s.backend:DefaultBackend" % PACKAGE


def _paths(state_dir):
    return {name: os.path.join(state_dir, name) for name in ("lab.pid", "lab.json", "lab.log")}


def _load_factory(spec):
    module_name, dummy, attribute = spec.partition(":")
    if not attribute:
        raise SystemExit("--backend must be module:callable, e.g. tests.lab.backend:DefaultBackend")
    return getattr(importlib.import_module(module_name), attribute)


def _pid_alive(pid):
    """True while ``pid`` is a running lab process (not gone, not a zombie, not a reused pid)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid, "rb") as handle:
            if handle.read().rsplit(b")", 1)[-1].split()[0] == b"Z":
                return False
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return PACKAGE.encode() in handle.read()
    except (OSError, IndexError):
        return True


def _read_pid(state_dir):
    try:
        with open(_paths(state_dir)["lab.pid"], encoding="ascii") as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


# serve ------------------------------------------------------------------------------------------

class _Control(BaseHTTPRequestHandler):
    """JSON control endpoint of a running lab (127.0.0.1 only): GET /status, POST /fault."""

    fleet = None

    def log_message(self, *args):
        pass

    def _reply(self, status, payload):
        body = json.dumps(payload, indent=1).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path != "/status":
            return self._reply(404, {"error": "unknown path"})
        self._reply(200, {"hosts": [
            dict({"name": h.name, "port": h.port, "state": h.state, "faults": h.faults.as_dict(),
                  "connections": h.connection_count, "shells": h.shells.shell_count, "stats": dict(h.stats)},
                 **({"wua": h.backend.status(h.clock())} if hasattr(h.backend, "status") else {}))
            for h in self.fleet.hosts]})

    def do_POST(self):
        if self.path == "/mount":
            return self._mount()
        if self.path != "/fault":
            return self._reply(404, {"error": "unknown path"})
        try:
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            host = self.fleet.host(request.pop("host"))
            down = request.pop("down", None)
            wua = request.pop("wua", None)
            clock_offset = request.pop("clock_offset", None)
            module_cost = request.pop("module_cost", None)
            if wua and not hasattr(host.backend, "set_faults"):
                raise KeyError("host %s has no WUA emulation (start the lab with --store)" % host.name)
            if request.pop("up", False):
                host.come_up(reset_shells=bool(request.pop("reset_shells", False)))
            if down:
                host.go_down(down)
            host.faults.update(**request)
            if clock_offset is not None:
                host.model.clock_offset = float(clock_offset)
            if module_cost is not None:
                host.module_cost = float(module_cost)
            if wua:
                host.backend.set_faults(**wua)
        except (KeyError, ValueError, TypeError) as exc:
            return self._reply(400, {"error": str(exc)})
        reply = {"name": host.name, "state": host.state, "faults": host.faults.as_dict(),
                 "clock_offset": host.model.clock_offset, "module_cost": host.module_cost}
        if hasattr(host.backend, "status"):
            reply["wua"] = host.backend.status()["faults"]
        self._reply(200, reply)

    def _mount(self):
        """Map (or with ``unmount``, unmap) a host path to a folder of this machine on the named hosts."""
        from .hosts import wua_host

        try:
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            prefix = request["path"]
            folder = request.get("folder")
            known = {h.name: h for h in self.fleet.hosts}
            names = request.get("hosts") or sorted(known)
            unknown = [name for name in names if name not in known]
            if unknown:
                raise KeyError("no host %s in this lab (it has %s)" % (", ".join(unknown), ", ".join(sorted(known))))
            hosts = [known[name] for name in names]
            without = [h.name for h in hosts if not hasattr(h.backend, "set_faults")]
            if without:
                raise KeyError("%s: no WUA emulation (start the lab with --store)" % ", ".join(without))
            if not request.get("unmount") and not (folder and os.path.isdir(folder)):
                raise ValueError("folder %r is not a folder on the lab's machine" % (folder,))
            mounts = {}
            for host in hosts:
                view = wua_host(host.model).fs
                if request.get("unmount"):
                    view.unmount(prefix)
                else:
                    view.mount(prefix, folder)
                mounts[host.name] = view.mounts
        except KeyError as exc:  # a missing request field, an unknown host, a host without WUA
            return self._reply(400, {"error": str(exc.args[0]) if exc.args else "bad request"})
        except (ValueError, TypeError) as exc:
            return self._reply(400, {"error": str(exc)})
        return self._reply(200, {"mounts": mounts})


def serve(args):
    from .fleet import Fleet

    state_dir = os.path.abspath(args.state_dir)
    os.makedirs(state_dir, exist_ok=True)
    paths = _paths(state_dir)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    factories = {"backend_factory": _load_factory(args.backend)}
    if args.store:
        from .profiles import FleetProfile

        low, dummy, high = args.search_seconds.partition(":")
        profile = FleetProfile(args.store, seed=args.seed, time_scale=args.time_scale, now=time.time(),
                               search_seconds=(float(low), float(high or low)))
        factories = profile.fleet_kwargs()
        if args.backend != DEFAULT_BACKEND:
            factories["backend_factory"] = _load_factory(args.backend)
    fleet = Fleet(args.hosts, auth=args.auth, user=args.user, password=args.password, name_prefix=args.prefix,
                  address=args.address, base_port=args.base_port, state_dir=state_dir, module_cost=args.module_cost,
                  **factories)
    fleet.start()
    control = None
    try:
        inventory = fleet.write_inventory(os.path.abspath(args.inventory), cert_validation=args.cert_validation)
        _Control.fleet = fleet
        control = ThreadingHTTPServer(("127.0.0.1", 0), _Control)
        control.daemon_threads = True
        threading.Thread(target=control.serve_forever, name="lab-control", daemon=True).start()
        with open(paths["lab.pid"], "w", encoding="ascii") as handle:
            handle.write(str(os.getpid()))
        state = {"pid": os.getpid(), "auth": args.auth, "inventory": inventory,
                 "control_port": control.server_address[1], "ca": fleet.ca_path,
                 "hosts": [{"name": h.name, "address": h.address, "port": h.port} for h in fleet.hosts]}
        with open(paths["lab.json"] + ".tmp", "w", encoding="utf-8") as handle:
            json.dump(state, handle, indent=1)
        os.replace(paths["lab.json"] + ".tmp", paths["lab.json"])
        print("lab: %d hosts (%s) listening on %s ports %d-%d; inventory %s" % (
            len(fleet), args.auth, args.address, min(h.port for h in fleet.hosts),
            max(h.port for h in fleet.hosts), inventory), flush=True)
        while not stop.wait(1.0):
            pass
    finally:
        if control is not None:
            control.shutdown()
            control.server_close()
        fleet.stop()
        for name in ("lab.pid", "lab.json"):
            if os.path.exists(paths[name]):
                os.remove(paths[name])
        print("lab: stopped", flush=True)
    return 0


# client commands --------------------------------------------------------------------------------

def start(args):
    state_dir = os.path.abspath(args.state_dir)
    pid = _read_pid(state_dir)
    if pid and _pid_alive(pid):
        raise SystemExit("lab already running (pid %d); stop it first: python -m %s stop --state-dir %s"
                         % (pid, PACKAGE, state_dir))
    if args.foreground:
        return serve(args)
    os.makedirs(state_dir, exist_ok=True)
    paths = _paths(state_dir)
    for name in ("lab.pid", "lab.json"):
        if os.path.exists(paths[name]):
            os.remove(paths[name])
    command = [sys.executable, "-m", PACKAGE, "serve"] + args.forward
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([REPO] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    with open(paths["lab.log"], "ab") as log:
        child = subprocess.Popen(command, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if os.path.exists(paths["lab.json"]):
            with open(paths["lab.json"], encoding="utf-8") as handle:
                state = json.load(handle)
            print("lab started: pid %d, %d hosts (%s), inventory %s" % (
                state["pid"], len(state["hosts"]), state["auth"], state["inventory"]))
            return 0
        if child.poll() is not None:
            break
        time.sleep(0.1)
    if child.poll() is None:
        child.terminate()
        child.wait(10)
    with open(paths["lab.log"], encoding="utf-8", errors="replace") as handle:
        tail = handle.read()[-3000:]
    raise SystemExit("lab did not start (exit %s); log %s:\n%s" % (child.returncode, paths["lab.log"], tail))


def stop(args):
    state_dir = os.path.abspath(args.state_dir)
    pid = _read_pid(state_dir)
    if pid is None or not _pid_alive(pid):
        print("lab not running")
        for name in ("lab.pid", "lab.json"):
            path = _paths(state_dir)[name]
            if os.path.exists(path):
                os.remove(path)
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + args.timeout
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
        print("lab (pid %d) did not stop in %.0fs; killed" % (pid, args.timeout))
    else:
        print("lab stopped (pid %d)" % pid)
    for name in ("lab.pid", "lab.json"):
        path = _paths(state_dir)[name]
        if os.path.exists(path):
            os.remove(path)
    return 0


def _control(state_dir, path, payload=None):
    try:
        with open(_paths(os.path.abspath(state_dir))["lab.json"], encoding="utf-8") as handle:
            port = json.load(handle)["control_port"]
    except (OSError, ValueError, KeyError):
        raise SystemExit("lab not running in %s" % state_dir)
    data = json.dumps(payload).encode() if payload is not None else None
    request = Request("http://127.0.0.1:%d%s" % (port, path), data=data,
                      headers={"Content-Type": "application/json"})
    try:
        with urlopen(request, timeout=10) as response:
            return json.load(response)
    except OSError as exc:
        body = getattr(exc, "read", lambda: b"")()
        raise SystemExit("lab control request failed: %s %s" % (exc, body.decode(errors="replace")))


def status(args):
    print(json.dumps(_control(args.state_dir, "/status"), indent=1))
    return 0


def fault(args):
    payload = {"host": args.host}
    if args.down:
        payload["down"] = args.down
    if args.up:
        payload["up"] = True
        payload["reset_shells"] = args.reset_shells
    for key in ("latency", "drop_receive", "drop_after_send", "clock_offset", "module_cost"):
        value = getattr(args, key)
        if value is not None:
            payload[key] = value
    wua = {key: getattr(args, key) for key in ("search_hresult", "offline_search_hresult", "search_seconds")
           if getattr(args, key) is not None}
    for key in ("scheduled_task_blocked", "s4u_blocked", "worker_lost"):
        if getattr(args, key) is not None:
            wua[key] = getattr(args, key) == "on"
    if args.worker_bootstrap_error is not None:
        wua["worker_bootstrap_error"] = args.worker_bootstrap_error or None  # '' clears
    for key in ("search_hresult", "offline_search_hresult"):
        if key in wua:
            wua[key] = int(wua[key], 0) or None  # 0 clears the fault
    wua.update(_install_faults(args))
    if wua:
        payload["wua"] = wua
    print(json.dumps(_control(args.state_dir, "/fault", payload)))
    return 0


def _pairs(values, option):
    """``ID=VALUE`` arguments -> {ID: VALUE}."""
    found = {}
    for text in values or ():
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise SystemExit("%s takes UPDATE_ID=VALUE (or *=VALUE), not %r" % (option, text))
        found[key.strip()] = value.strip()
    return found


def _install_faults(args):
    """The install faults and settings of ``fault`` (tests/lab/install.py) as set_faults takes them."""
    wua = {}
    for key, option in (("install_hresult", "--install-hresult"), ("download_hresult", "--download-hresult")):
        pairs = _pairs(getattr(args, key), option)
        if pairs:
            wua[key] = {uid: int(value, 0) for uid, value in pairs.items()}
    for text in args.install_seconds or ():
        if "=" in text:
            wua.setdefault("install_seconds_by_update", {}).update(
                {uid: float(value) for uid, value in _pairs([text], "--install-seconds").items()})
        else:
            wua["install_seconds"] = float(text)
    for key in ("download_seconds", "reboot_seconds", "free_space_bytes"):
        if getattr(args, key) is not None:
            wua[key] = getattr(args, key)
    if args.never_returns is not None:
        wua["never_returns"] = args.never_returns == "on"
    if args.loop_update is not None:
        wua["loop_updates"] = [uid for uid in args.loop_update if uid]  # --loop-update '' clears
    return wua


def mount(args):
    payload = {"path": args.path, "hosts": args.host or None}
    if args.command == "unmount":
        payload["unmount"] = True
    else:
        payload["folder"] = os.path.abspath(args.folder)
    reply = _control(args.state_dir, "/mount", payload)
    for name, mounts in sorted(reply["mounts"].items()):
        print("%s: %s" % (name, ", ".join("%s -> %s" % item for item in sorted(mounts.items())) or "nothing mounted"))
    return 0


def main(argv=None):
    from .fleet import DEFAULT_MODULE_COST

    parser = argparse.ArgumentParser(prog="python -m %s" % PACKAGE, description=__doc__.split("\n\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def fleet_options(p):
        p.add_argument("--hosts", type=int, required=True, help="number of simulated hosts")
        p.add_argument("--inventory", required=True, help="Ansible inventory file to write (YAML)")
        p.add_argument("--auth", choices=("basic", "ntlm", "https"), default="ntlm")
        p.add_argument("--state-dir", default=DEFAULT_STATE_DIR)
        p.add_argument("--address", default="127.0.0.1")
        p.add_argument("--base-port", type=int, default=0, help="first port (consecutive); default: free ports")
        p.add_argument("--prefix", default="win", help="host name prefix (win001, win002, ...)")
        p.add_argument("--user", default="Administrator")
        p.add_argument("--password", default="Lab-Passw0rd")
        p.add_argument("--cert-validation", choices=("validate", "ignore"), default="validate",
                       help="https: validate against the generated CA (default) or ignore")
        p.add_argument("--backend", default=DEFAULT_BACKEND,
                       help="module:callable building each host's backend from its HostModel")
        p.add_argument("--store", help="store with a synced catalog: hosts become a varied fleet answering "
                                       "patchwave.windows.scan (tests/lab/wua.py)")
        p.add_argument("--seed", type=int, default=0, help="with --store: seed of the fleet profile")
        p.add_argument("--time-scale", type=float, default=1.0,
                       help="with --store: clock seconds per emulated second (0: searches end at once)")
        p.add_argument("--search-seconds", default="1:4",
                       help="with --store: emulated search duration, S or LOW:HIGH drawn per host")
        p.add_argument("--module-cost", type=float, default=None,
                       help="seconds each module run costs before the module runs (PowerShell's start; "
                            "default %.1f, 0 for speed)" % DEFAULT_MODULE_COST)

    p_start = sub.add_parser("start", help="start a fleet in the background and write its inventory")
    fleet_options(p_start)
    p_start.add_argument("--foreground", action="store_true", help="serve in this process until interrupted")
    p_start.add_argument("--timeout", type=float, default=60.0)
    p_serve = sub.add_parser("serve", help=argparse.SUPPRESS)
    fleet_options(p_serve)

    p_stop = sub.add_parser("stop", help="stop the background fleet")
    p_stop.add_argument("--state-dir", default=DEFAULT_STATE_DIR)
    p_stop.add_argument("--timeout", type=float, default=15.0)

    p_status = sub.add_parser("status", help="hosts, states, faults and request counters")
    p_status.add_argument("--state-dir", default=DEFAULT_STATE_DIR)

    p_fault = sub.add_parser("fault", help="change a running host's faults")
    p_fault.add_argument("host")
    p_fault.add_argument("--state-dir", default=DEFAULT_STATE_DIR)
    group = p_fault.add_mutually_exclusive_group()
    group.add_argument("--down", choices=("refuse", "blackhole"))
    group.add_argument("--up", action="store_true")
    p_fault.add_argument("--reset-shells", action="store_true", help="with --up: forget shells (a reboot)")
    p_fault.add_argument("--latency", type=float)
    p_fault.add_argument("--drop-receive", type=int)
    p_fault.add_argument("--drop-after-send", type=int)
    p_fault.add_argument("--clock-offset", type=float, help="the host's clock is off by this many seconds (+ ahead)")
    p_fault.add_argument("--module-cost", type=float, help="seconds each module run on this host costs")
    p_fault.add_argument("--search-hresult", help="WUA (--store labs): online searches fail with this HRESULT "
                                                  "(e.g. 0x8024402C; 0 clears)")
    p_fault.add_argument("--offline-search-hresult", help="WUA: offline scans fail with this HRESULT (0 clears)")
    p_fault.add_argument("--scheduled-task-blocked", choices=("on", "off"),
                         help="WUA: start fails with E_ACCESSDENIED (worker cannot leave the network logon)")
    p_fault.add_argument("--worker-lost", choices=("on", "off"), help="WUA: running scans are lost")
    p_fault.add_argument("--s4u-blocked", choices=("on", "off"),
                         help="WUA: the S4U task never runs; the worker runs as SYSTEM and start warns")
    p_fault.add_argument("--worker-bootstrap-error", metavar="TEXT",
                         help="WUA: running scans' workers die with this bootstrap error ('' clears)")
    p_fault.add_argument("--search-seconds", type=float, help="WUA: emulated search duration (slow search)")
    p_fault.add_argument("--install-hresult", action="append", metavar="ID=HEX",
                         help="install: the update's install fails with this HRESULT (ID * = every update; "
                              "HEX 0 removes the entry; repeatable)")
    p_fault.add_argument("--download-hresult", action="append", metavar="ID=HEX",
                         help="install: WUA's own download of the update fails with this HRESULT (as --install-hresult)")
    p_fault.add_argument("--install-seconds", action="append", metavar="S|ID=S",
                         help="install: emulated seconds each update installs (ID=S: that update; negative removes)")
    p_fault.add_argument("--download-seconds", type=float, help="install: emulated seconds each update downloads")
    p_fault.add_argument("--reboot-seconds", type=float, help="install: emulated seconds a restart keeps the host down")
    p_fault.add_argument("--never-returns", choices=("on", "off"), help="install: after a reboot the host stays down")
    p_fault.add_argument("--loop-update", action="append", metavar="ID",
                         help="install: the update 'installs' and is required again after the restart (repeatable; "
                              "the ids given replace the host's; '' clears)")
    p_fault.add_argument("--free-space-bytes", type=int, help="install: free space on the system drive")

    p_mount = sub.add_parser("mount", help="make a folder of this machine a host path or share on hosts (--store labs)")
    p_mount.add_argument("path", help="the host path, a drive path (C:\\Patchwave) or a share (\\\\fs01\\wsus)")
    p_mount.add_argument("folder", help="the folder on this machine it shows")
    p_unmount = sub.add_parser("unmount", help="remove a mount from hosts")
    p_unmount.add_argument("path", help="the host path given to mount")
    for p in (p_mount, p_unmount):
        p.add_argument("--host", action="append", help="a host to change (repeatable); default: every host")
        p.add_argument("--state-dir", default=DEFAULT_STATE_DIR)

    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if args.command == "start":
        # the background "serve" process gets the same fleet options, paths made absolute
        args.forward = [
            "--hosts", str(args.hosts), "--inventory", os.path.abspath(args.inventory), "--auth", args.auth,
            "--state-dir", os.path.abspath(args.state_dir), "--address", args.address,
            "--base-port", str(args.base_port), "--prefix", args.prefix, "--user", args.user,
            "--password", args.password, "--cert-validation", args.cert_validation, "--backend", args.backend]
        if args.module_cost is not None:
            args.forward += ["--module-cost", str(args.module_cost)]
        if args.store:
            args.forward += ["--store", os.path.abspath(args.store), "--seed", str(args.seed),
                             "--time-scale", str(args.time_scale), "--search-seconds", args.search_seconds]
        return start(args)
    return {"serve": serve, "stop": stop, "status": status, "fault": fault, "mount": mount,
            "unmount": mount}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
