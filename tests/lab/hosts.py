"""What a simulated host looks like to the Windows Update Agent: platform, update state, files.

The lab's :class:`.backend.HostModel` holds identity and facts; the WUA side of a host lives in a
:class:`WuaHost` kept in ``model.extra["wua"]`` (:func:`wua_host` returns it, creating a default
one from the model's OS product for hosts built without a profile)::

    state = wua_host(fleet.host("win003").model)
    state.installed.add(update_id)                  # mark an update installed
    state.set_reboot_pending("windows_update")      # a pending reboot (REBOOT_SOURCES names)
    state.fs.mount("C:\\\\Patchwave", tmp_path)     # host path -> local folder
    state.faults.search_hresult = 0x8024402C        # the next online searches fail

Plain data and a lock; nothing here knows the catalog (that is :mod:`.wua`).
"""

import ntpath
import os
import threading
from dataclasses import dataclass, field

from .backend import OS_PRODUCTS

# Real Microsoft category GUIDs where they exist (catalog_formats.md §2.4); Windows Server 2025's
# is the generated catalog's own (tests/catalog_gen/content.py: uuid5 of a fixed namespace).
PRODUCT_WS2016 = "569e8e8f-c6cd-42c8-92a3-efbb20a0f6f5"
PRODUCT_WS2019 = "f702a48c-919b-45d6-9aef-ca4248d50397"
PRODUCT_WS2022 = "71718f13-7324-4b0f-8f9e-2ca9dc978e53"
PRODUCT_WS2025 = "4239026c-7a98-5ada-a130-cf45ab3697c5"
PRODUCT_WIN11 = "72e7624a-5b00-45d2-b92f-e561c0a6a160"
PRODUCT_WIN10 = "a3c2375d-0c8a-42f9-bce0-28333e198407"
PRODUCT_DOTNET = "a0770f4d-c06c-5a78-b94c-baabd7e59cbb"  # generated: ".NET Framework"
PRODUCT_DEFENDER = "bfc9fd35-455b-5d47-b946-733380ea5aca"  # generated: "Microsoft Defender Antivirus"
# Non-OS products every lab host has (their updates apply when the rules say so).
DEFAULT_EXTRA_PRODUCTS = frozenset((PRODUCT_DOTNET, PRODUCT_DEFENDER))

# Processor architecture codes of the applicability rule bar:Processor (PROCESSOR_ARCHITECTURE_*).
ARCHITECTURES = {"x86": 0, "x64": 9, "arm64": 12}
# ProductType of bar:WindowsVersion (OSVERSIONINFOEX.wProductType): 1 workstation, 2 DC, 3 server.
WORKSTATION, DOMAIN_CONTROLLER, SERVER = 1, 2, 3

NETFX_KEY = "SOFTWARE\\Microsoft\\NET Framework Setup\\NDP\\v4\\Full"
DEFENDER_KEY = "SOFTWARE\\Microsoft\\Windows Defender"
NETFX48, NETFX481 = 528040, 533320

# Pending-reboot sources, as the contract names them (REBOOT_SOURCES), with what each stands for
# on a real host (wua_anchors.md §6.6).
REBOOT_SOURCE_KEYS = {
    "wua": "Microsoft.Update.SystemInfo.RebootRequired",
    "component_based_servicing": "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Component Based Servicing"
                                 "\\RebootPending",
    "windows_update": "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\WindowsUpdate\\Auto Update\\RebootRequired",
    "pending_file_rename": "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Session Manager\\PendingFileRenameOperations",
    "pending_computer_rename": "HKLM\\SYSTEM\\CurrentControlSet\\Control\\ComputerName (active != pending)",
    "server_manager": "HKLM\\SOFTWARE\\Microsoft\\ServerManager\\ServicingStorage\\ServerComponentCache"
                      "\\RestartRequired",
}


@dataclass(frozen=True)
class Platform:
    """An OS a host can run, as WUA's applicability rules see it."""

    key: str
    product_id: str  # the catalog's Product category
    product_title: str  # its title in the catalog
    os_product: str  # the HostModel / ansible_distribution name
    build: int
    architecture: str = "x64"
    product_type: int = SERVER
    netfx_release: int = NETFX48

    @property
    def os_version(self):
        return "10.0.%d.0" % self.build


PLATFORMS = {p.key: p for p in (
    Platform("ws2016-x64", PRODUCT_WS2016, "Windows Server 2016", "Microsoft Windows Server 2016 Datacenter", 14393),
    Platform("ws2019-x64", PRODUCT_WS2019, "Windows Server 2019", "Microsoft Windows Server 2019 Datacenter", 17763),
    Platform("ws2022-x64", PRODUCT_WS2022, "Microsoft Server operating system-21H2",
             "Microsoft Windows Server 2022 Datacenter", 20348, netfx_release=NETFX481),
    Platform("ws2025-x64", PRODUCT_WS2025, "Microsoft Server operating system-24H2",
             "Microsoft Windows Server 2025 Datacenter", 26100, netfx_release=NETFX481),
    Platform("win11-24h2-x64", PRODUCT_WIN11, "Windows 11", "Microsoft Windows 11 Enterprise", 26100,
             product_type=WORKSTATION, netfx_release=NETFX481),
    Platform("win11-24h2-arm64", PRODUCT_WIN11, "Windows 11", "Microsoft Windows 11 Enterprise", 26100, "arm64",
             WORKSTATION, NETFX481),
    Platform("win11-23h2-x64", PRODUCT_WIN11, "Windows 11", "Microsoft Windows 11 Enterprise", 22631,
             product_type=WORKSTATION, netfx_release=NETFX481),
    Platform("win11-23h2-arm64", PRODUCT_WIN11, "Windows 11", "Microsoft Windows 11 Enterprise", 22631, "arm64",
             WORKSTATION, NETFX481),
    Platform("win11-22h2-x64", PRODUCT_WIN11, "Windows 11", "Microsoft Windows 11 Enterprise", 22621,
             product_type=WORKSTATION, netfx_release=NETFX481),
    Platform("win10-22h2-x64", PRODUCT_WIN10, "Windows 10", "Microsoft Windows 10 Enterprise", 19045,
             product_type=WORKSTATION),
)}

# HostModel.os_product -> the platform a plain (profile-less) host gets.
_DEFAULT_PLATFORM = {
    "Microsoft Windows Server 2016 Datacenter": "ws2016-x64",
    "Microsoft Windows Server 2019 Datacenter": "ws2019-x64",
    "Microsoft Windows Server 2022 Datacenter": "ws2022-x64",
    "Microsoft Windows Server 2025 Datacenter": "ws2025-x64",
    "Microsoft Windows 11 Enterprise": "win11-23h2-x64",
    "Microsoft Windows 10 Enterprise": "win10-22h2-x64",
}


class FileSystemView:
    """Host paths (``C:\\\\...``) and UNC shares (``\\\\\\\\server\\\\share\\\\...``) mapped to local folders.

    ``mount(prefix, folder)`` maps a host path prefix; ``resolve(path)`` gives the local path of a
    host path (longest prefix wins, case-insensitive as NTFS/SMB are) or None when nothing maps it
    or it would leave the mapped folder. ``exists(path)`` tells whether a file is there.
    """

    def __init__(self, mounts=None):
        self._mounts = {}
        self._smb = {}
        for prefix, folder in (mounts or {}).items():
            self.mount(prefix, folder)

    def mount_smb(self, prefix, server, port, share, username, password):
        """Map a UNC share (``\\\\dp01\\content``) to a real SMB share: ``server``:``port`` (a UNC path
        carries no port, so the lab keeps it here), ``share``, read with ``username``/``password`` (what
        the host's worker would present: its computer account)."""
        key = self._normalise(prefix).lower()
        if not key.startswith("\\\\") or len([p for p in key.split("\\") if p]) != 2:
            raise ValueError("%r is not a UNC share (\\\\server\\share)" % prefix)
        self._smb[key] = {"server": server, "port": int(port), "share": share, "username": username,
                          "password": password}

    def smb_location(self, path):
        """``(share settings, [parts below the share])`` of a UNC path under an SMB mapping, or None."""
        wanted = self._normalise(path)
        lowered = wanted.lower()
        for prefix in sorted(self._smb, key=len, reverse=True):
            if lowered.startswith(prefix + "\\"):
                return self._smb[prefix], [p for p in wanted[len(prefix):].split("\\") if p]
        return None

    @staticmethod
    def _normalise(path):
        path = str(path).replace("/", "\\")
        unc = path.startswith("\\\\")
        parts = [p for p in path.split("\\") if p not in ("", ".")]
        return ("\\\\" if unc else "") + "\\".join(parts)

    def mount(self, prefix, folder):
        key = self._normalise(prefix).lower()
        if not (key.startswith("\\\\") or ntpath.splitdrive(key)[0]):
            raise ValueError("host path %r is neither a drive path (C:\\...) nor a UNC share (\\\\server\\share)" % prefix)
        self._mounts[key] = os.path.abspath(str(folder))

    def unmount(self, prefix):
        self._mounts.pop(self._normalise(prefix).lower(), None)
        self._smb.pop(self._normalise(prefix).lower(), None)

    @property
    def mounts(self):
        found = dict(self._mounts)
        found.update((prefix, "smb://%s:%d/%s" % (m["server"], m["port"], m["share"])) for prefix, m in self._smb.items())
        return found

    def resolve(self, path):
        if not path:
            return None
        wanted = self._normalise(path)
        lowered = wanted.lower()
        for prefix in sorted(self._mounts, key=len, reverse=True):
            if lowered == prefix or lowered.startswith(prefix + "\\"):
                rest = [p for p in wanted[len(prefix):].split("\\") if p]
                if ".." in rest:
                    return None
                return _case_insensitive(self._mounts[prefix], rest)
        return None

    def exists(self, path):
        local = self.resolve(path)
        return bool(local) and os.path.isfile(local)


def _case_insensitive(folder, parts):
    """``folder/parts...``, each part matched without regard to case when it exists (as on NTFS/SMB)."""
    path = folder
    for part in parts:
        exact = os.path.join(path, part)
        if not os.path.exists(exact) and os.path.isdir(path):
            lowered = part.lower()
            exact = next((os.path.join(path, name) for name in sorted(os.listdir(path)) if name.lower() == lowered),
                         exact)
        path = exact
    return path


@dataclass
class WuaFaults:
    """Faults of the emulated WUA on one host; all off by default.

    * ``search_hresult``: online searches end with result_code 4 (Failed) and this HRESULT
      (e.g. 0x8024402C WU_E_PT_WINHTTP_NAME_NOT_RESOLVED); ``offline_search_hresult`` the same for
      offline scans;
    * ``scheduled_task_blocked``: the worker cannot be started outside the WinRM network logon,
      so ``start`` fails with E_ACCESSDENIED (0x80070005), as WUA does when called from it;
    * ``s4u_blocked``: the S4U task registers but never runs (the user lacks "Log on as a batch
      job": LastTaskResult stays 0x00041303), so the worker runs as SYSTEM and ``start`` warns;
    * ``worker_bootstrap_error``: text the worker's bootstrap writes before it dies (worker.ps1 does
      not parse, Constrained Language Mode...): running scans poll as ``lost`` with it as
      ``worker_error`` and ``last_task_result`` 1;
    * ``worker_lost``: running scans' worker process dies; polls answer ``state: lost``;
    * ``search_warnings``: ``[{"context": int, "hresult": int}]`` added to successful scans
      (result_code 3, SucceededWithErrors, when any).

    Installs (``patchwave.windows.install``, :mod:`.install`):

    * ``install_hresult``: ``{update_id or "*": HRESULT}``: the update's install ends Failed
      (result_code 4) with that HRESULT (``*``: every update without its own entry);
    * ``download_hresult``: the same for WUA's own download (content source ``wua``);
    * ``loop_updates``: update ids that report a successful install (needing a restart) and are
      no longer installed after the restart, so a verification scan still finds them required;
    * ``never_returns``: a reboot takes the host down and it never comes back.

    ``update`` merges the two HRESULT maps (an entry with 0 or None removes that id; None for the
    whole map clears it) and replaces ``loop_updates``.

    A slow search is ``WuaHost.search_seconds``; a connection dropped mid-operation and a host
    that stops answering are the transport faults (``LabHost.faults``, ``LabHost.go_down``).
    """

    search_hresult: int = None
    offline_search_hresult: int = None
    scheduled_task_blocked: bool = False
    s4u_blocked: bool = False
    worker_lost: bool = False
    worker_bootstrap_error: str = None
    search_warnings: list = field(default_factory=list)
    install_hresult: dict = field(default_factory=dict)
    download_hresult: dict = field(default_factory=dict)
    loop_updates: set = field(default_factory=set)
    never_returns: bool = False

    def as_dict(self):
        return {"search_hresult": self.search_hresult, "offline_search_hresult": self.offline_search_hresult,
                "scheduled_task_blocked": self.scheduled_task_blocked, "s4u_blocked": self.s4u_blocked,
                "worker_lost": self.worker_lost, "worker_bootstrap_error": self.worker_bootstrap_error,
                "search_warnings": list(self.search_warnings),
                "install_hresult": dict(sorted(self.install_hresult.items())),
                "download_hresult": dict(sorted(self.download_hresult.items())),
                "loop_updates": sorted(self.loop_updates), "never_returns": self.never_returns}

    def update(self, **settings):
        for key, value in settings.items():
            if key.startswith("_") or not hasattr(self, key):
                raise KeyError("unknown WUA fault %r" % key)
            if key in ("install_hresult", "download_hresult"):
                value = _merge_hresults(getattr(self, key), value)
            elif key == "loop_updates":
                value = set() if value is None else ({value} if isinstance(value, str) else set(value))
            elif key.endswith("hresult") and isinstance(value, str):
                value = int(value, 0)
            setattr(self, key, value)


def _merge_hresults(current, given):
    """``{update_id or "*": HRESULT}`` merged into ``current``: 0/None removes an entry; None clears all."""
    if given is None:
        return {}
    merged = dict(current)
    for update_id, hresult in dict(given).items():
        if isinstance(hresult, str):
            hresult = int(hresult, 0)
        if hresult:
            merged[str(update_id)] = int(hresult) & 0xFFFFFFFF
        else:
            merged.pop(str(update_id), None)
    return merged


@dataclass
class WuaHost:
    """The WUA-visible state of one host (see the module docstring).

    ``installed``/``hidden``/``downloaded`` are sets of UpdateIDs; ``reboot_sources`` names from
    the contract's REBOOT_SOURCES; ``extra_products`` the non-OS products installed (.NET
    Framework, Microsoft Defender Antivirus: their catalog category ids); ``registry`` the HKLM
    keys and values applicability rules read (``{subkey: {value: data}}``); ``search_seconds`` how
    long a search takes in emulated seconds; ``last_scan`` facts of the last finished scan.

    Installs (:mod:`.install`): ``install_seconds`` (emulated seconds per update;
    ``install_seconds_by_update`` overrides it per update id), ``download_seconds`` (per update, WUA's
    own download or the worker's fetch), ``reboot_seconds`` (how long a restart keeps the host
    down), ``free_space_bytes`` (free space on the system drive, as ``status`` reports it) and
    ``ca_file`` (a PEM file of extra CAs the host trusts for HTTPS distribution points);
    ``languages`` (the host's display languages: a bundle's members for other languages need no files).
    """

    platform: Platform
    installed: set = field(default_factory=set)
    hidden: set = field(default_factory=set)
    downloaded: set = field(default_factory=set)
    reboot_sources: set = field(default_factory=set)
    reboot_required: set = field(default_factory=set)  # installed updates waiting for a restart
    extra_products: frozenset = DEFAULT_EXTRA_PRODUCTS
    registry: dict = None
    wua_version: str = None
    search_seconds: float = 2.0
    install_seconds: float = 3.0
    install_seconds_by_update: dict = field(default_factory=dict)
    download_seconds: float = 0.0
    reboot_seconds: float = 5.0
    free_space_bytes: int = 50 * 1024 ** 3
    ca_file: str = None
    # the host's display languages: WUA downloads a bundle's language-specific members only for these
    languages: tuple = ("en",)
    # the catalog-file feeds (updates.source) the host's update server publishes, so WUA knows them
    # besides Microsoft's; None (the default): every feed, since most lab stores are generated catalogs
    # synced from a catalog file that stand for Microsoft's own
    published_sources: frozenset = None
    fs: FileSystemView = field(default_factory=FileSystemView)
    faults: WuaFaults = field(default_factory=WuaFaults)
    last_scan: dict = None
    profile: str = "baseline"  # how the profile builder made it: current, behind, never_patched...
    patched_through: str = None  # YYYY-MM-DD of the newest update release the host was patched to
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)
    model: object = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if self.registry is None:
            self.registry = {NETFX_KEY.lower(): {"release": self.platform.netfx_release}, DEFENDER_KEY.lower(): {}}
        else:
            self.registry = {k.lower(): {n.lower(): v for n, v in values.items()} for k, values in self.registry.items()}
        if self.wua_version is None:
            self.wua_version = "10.0.%d.1" % self.platform.build
        unknown = set(self.reboot_sources) - set(REBOOT_SOURCE_KEYS)
        if unknown:
            raise ValueError("unknown reboot source(s) %s; known: %s" % (sorted(unknown), ", ".join(REBOOT_SOURCE_KEYS)))

    @property
    def products(self):
        return frozenset((self.platform.product_id,)) | frozenset(self.extra_products)

    @property
    def reboot_pending(self):
        return bool(self.reboot_sources)

    def set_reboot_pending(self, source, pending=True):
        """Set or clear one pending-reboot source; keeps ``HostModel.reboot_pending`` (facts) in step."""
        if source not in REBOOT_SOURCE_KEYS:
            raise ValueError("unknown reboot source %r; known: %s" % (source, ", ".join(REBOOT_SOURCE_KEYS)))
        with self.lock:
            (self.reboot_sources.add if pending else self.reboot_sources.discard)(source)
            if self.model is not None:
                self.model.reboot_pending = self.reboot_pending

    def platform_key(self):
        """What applicability depends on besides update state (cache key of the static part)."""
        registry = tuple(sorted((k, tuple(sorted(v.items()))) for k, v in self.registry.items()))
        published = None if self.published_sources is None else tuple(sorted(self.published_sources))
        return (self.platform, self.products, registry, published)

    def summary(self):
        with self.lock:
            return {"platform": self.platform.key, "product": self.platform.product_title,
                    "profile": self.profile, "patched_through": self.patched_through,
                    "installed": len(self.installed), "hidden": len(self.hidden),
                    "downloaded": len(self.downloaded), "reboot_sources": sorted(self.reboot_sources),
                    "search_seconds": self.search_seconds, "install_seconds": self.install_seconds,
                    "install_seconds_by_update": dict(self.install_seconds_by_update),
                    "download_seconds": self.download_seconds, "reboot_seconds": self.reboot_seconds,
                    "free_space_bytes": self.free_space_bytes, "reboot_required": sorted(self.reboot_required),
                    "wua_version": self.wua_version,
                    "last_scan": self.last_scan, "faults": self.faults.as_dict(), "mounts": self.fs.mounts}


def attach(model, state):
    """Give ``model`` (a HostModel) its WUA state and align the model's OS facts with the platform."""
    state.model = model
    model.extra["wua"] = state
    model.os_product = state.platform.os_product
    model.os_version = state.platform.os_version
    model.reboot_pending = state.reboot_pending
    return state


def wua_host(model):
    """The :class:`WuaHost` of ``model``; a default one (nothing installed) when it has none."""
    state = model.extra.get("wua")
    if state is None:
        key = _DEFAULT_PLATFORM.get(model.os_product)
        if key is None:
            raise ValueError("host %s: no WUA platform for OS product %r (known: %s)"
                             % (model.name, model.os_product, ", ".join(sorted(_DEFAULT_PLATFORM))))
        state = attach(model, WuaHost(PLATFORMS[key], reboot_sources=set(
            ["windows_update"] if model.reboot_pending else [])))
    return state


assert all(p.os_product in OS_PRODUCTS for p in PLATFORMS.values())
