"""What a simulated Windows host *is* and how it answers Ansible modules.

The server decodes each module run (module FQCN + arguments, see :mod:`.psexec`) and calls the
host's backend::

    class HostBackend:
        def run_module(self, fqcn, args, context) -> dict

The returned dict is the module result; the lab prints it as JSON on stdout with exit code 0, or 1
when it has ``failed: true`` (what ``Ansible.Basic`` does in ExitJson/FailJson). ``changed`` defaults
to ``False``. An exception raised by a backend becomes the result PowerShell's module wrapper gives
for an unhandled exception (``msg: "Unhandled exception while executing module: <text>"``).

Backends are built once per host by ``backend_factory(host_model)`` and may be called from several
threads at once (two forks, or two shells, on the same host): keep per-host state behind a lock.

:class:`DefaultBackend` answers ``ansible.windows.win_ping`` and fact gathering
(``ansible.windows.setup``, what ``gather_facts`` runs on a Windows host with ansible-core 2.19);
subclass it, or wrap it, to add modules::

    class MyBackend(DefaultBackend):
        def run_module(self, fqcn, args, context):
            if fqcn == "patchwave.windows.scan":
                return {"changed": False, ...}
            return super().run_module(fqcn, args, context)
"""

import datetime
import threading
from dataclasses import dataclass, field

OS_PRODUCTS = {
    # product name: (version, installation type, product type)
    "Microsoft Windows Server 2022 Datacenter": ("10.0.20348.0", "Server", "server"),
    "Microsoft Windows Server 2019 Datacenter": ("10.0.17763.0", "Server", "server"),
    "Microsoft Windows Server 2016 Datacenter": ("10.0.14393.0", "Server", "server"),
    "Microsoft Windows Server 2025 Datacenter": ("10.0.26100.0", "Server", "server"),
    "Microsoft Windows 11 Enterprise": ("10.0.22631.0", "Client", "workstation"),
    "Microsoft Windows 10 Enterprise": ("10.0.19045.0", "Client", "workstation"),
}


@dataclass
class HostModel:
    """Identity and basic state of one simulated Windows host.

    ``boot_time`` and ``install_time`` are POSIX timestamps (UTC), true time. ``clock_offset`` is
    how wrong the host's clock is (seconds, + ahead): every time the host reports (facts, a scan's
    started/finished/last_boot, progress) is shifted by it. ``extra`` is free for backends that need
    more per-host data (installed updates, pending reboots, ...).
    """

    name: str
    index: int
    os_product: str = "Microsoft Windows Server 2022 Datacenter"
    os_version: str = None
    domain: str = None  # DNS domain when domain-joined, else None (workgroup member)
    workgroup: str = "WORKGROUP"
    ip_address: str = None
    prefix_length: int = 24
    gateway: str = None
    mac_address: str = None
    memory_mb: int = 8192
    processors: int = 1
    cores: int = 2
    threads_per_core: int = 2
    manufacturer: str = "Microsoft Corporation"
    model: str = "Virtual Machine"
    boot_time: float = None
    install_time: float = None
    reboot_pending: bool = False
    timezone: str = "UTC"
    clock_offset: float = 0.0
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.os_version is None:
            self.os_version = OS_PRODUCTS.get(self.os_product, ("10.0.20348.0",))[0]
        octet_hi, octet_lo = divmod(self.index, 250)
        if self.ip_address is None:
            self.ip_address = "10.20.%d.%d" % (octet_hi, octet_lo + 1)
        if self.gateway is None:
            self.gateway = "10.20.%d.254" % octet_hi
        if self.mac_address is None:
            octets = ((self.index >> 16) & 0xFF, (self.index >> 8) & 0xFF, self.index & 0xFF)
            self.mac_address = "00:15:5D:%02X:%02X:%02X" % octets
        if self.install_time is None:
            self.install_time = datetime.datetime(2025, 1, 6, 9, 0, tzinfo=datetime.timezone.utc).timestamp() \
                + self.index * 3600

    @property
    def netbios_name(self):
        return self.name.upper()[:15]

    @property
    def fqdn(self):
        return "%s.%s" % (self.name, self.domain) if self.domain else self.name

    @property
    def installation_type(self):
        return OS_PRODUCTS.get(self.os_product, (None, "Server"))[1]

    @property
    def product_type(self):
        return OS_PRODUCTS.get(self.os_product, (None, None, "server"))[2]


@dataclass
class ModuleContext:
    """Everything about one module run besides its name and arguments.

    * ``host``: the :class:`HostModel`; ``runtime``: the server-side host (``LabHost``: faults,
      ``go_down()``/``come_up()``/``drop_connections()``) for backends that emulate reboots;
    * ``user``: the authenticated user name; ``now``: the lab clock (POSIX seconds, UTC, true time);
      ``host_now``: the host's own clock (``now`` + ``host.clock_offset``), what the host reports;
    * ``check_mode``/``diff`` from the ``_ansible_*`` arguments; ``become``/``async_``: see
      :class:`.psexec.ExecRequest`; ``environment``: the task's ``environment:``;
    * ``cancelled``: a :class:`threading.Event` set when the client signals ctrl_c/terminate;
    * ``request``: the decoded :class:`.psexec.ExecRequest` (manifest, module source...).
    """

    host: HostModel
    user: str
    now: float
    check_mode: bool = False
    diff: bool = False
    become: dict = None
    async_: dict = None
    environment: dict = field(default_factory=dict)
    cancelled: threading.Event = field(default_factory=threading.Event)
    runtime: object = None
    request: object = None

    @property
    def host_now(self):
        return self.now + float(self.host.clock_offset or 0)


class HostBackend:
    """Interface of a host's module emulation. See the module docstring."""

    def __init__(self, host):
        self.host = host

    def run_module(self, fqcn, args, context):  # pragma: no cover - interface
        raise NotImplementedError


def not_emulated(fqcn):
    return {"failed": True, "changed": False, "msg": "module %s is not emulated by the lab" % fqcn}


class DefaultBackend(HostBackend):
    """``ansible.windows.win_ping`` and ``ansible.windows.setup``; everything else fails clearly."""

    def run_module(self, fqcn, args, context):
        handler = {
            "ansible.windows.win_ping": self.win_ping,
            "ansible.windows.setup": self.setup,
        }.get(fqcn)
        if handler is None:
            return not_emulated(fqcn)
        return handler(args, context)

    def win_ping(self, args, context):
        data = args.get("data", "pong")
        if data == "crash":
            raise RuntimeError("boom")
        return {"changed": False, "ping": data}

    def setup(self, args, context):
        subsets = args.get("gather_subset") or ["all"]
        if isinstance(subsets, str):
            subsets = [s.strip() for s in subsets.split(",")]
        facts, warnings = windows_facts(self.host, context, subsets)
        result = {"changed": False, "ansible_facts": facts}
        if warnings:
            result["warnings"] = warnings
        return result


# Facts ------------------------------------------------------------------------------------------

SUBSET_GROUPS = {
    # as ansible.windows.setup groups them
    "min": ["date_time", "distribution", "dns", "env", "local", "platform", "powershell_version", "user"],
    "network": ["all_ipv4_addresses", "all_ipv6_addresses", "interfaces", "windows_domain", "winrm"],
    "hardware": ["bios", "memory", "processor", "uptime", "virtual"],
    "external": ["facter"],
}
ALL_SUBSETS = sorted({s for group in SUBSET_GROUPS.values() for s in group})


def resolve_subsets(requested):
    """The setup module's gather_subset algebra: ``all``, groups, ``!x`` exclusions; returns (set, warnings)."""
    actual = set(ALL_SUBSETS)
    explicit, exclude, warnings = set(), set(), []
    for item in requested:
        if item.startswith("!"):
            item = item[1:]
            if item == "all":
                exclude |= set(ALL_SUBSETS) - set(SUBSET_GROUPS["min"])
            elif item in SUBSET_GROUPS:
                exclude |= set(SUBSET_GROUPS[item])
            elif item in ALL_SUBSETS:
                exclude.add(item)
        elif item == "all":
            explicit |= set(ALL_SUBSETS)
        elif item in SUBSET_GROUPS:
            explicit |= set(SUBSET_GROUPS[item])
        elif item in ALL_SUBSETS:
            explicit.add(item)
        else:
            warnings.append("invalid value %s specified in gather_subset" % item)
    return (actual - exclude) | explicit, warnings


def _ipv6_link_local(model):
    return "fe80::%x:%x%%%d" % (0x215 + model.index // 65536, model.index % 65536, 4 + model.index % 10)


def windows_facts(model, context, subsets):
    """A truthful, minimal ``ansible_facts`` dict for ``model``, shaped like ansible.windows.setup's."""
    active, warnings = resolve_subsets(subsets)
    offset = float(model.clock_offset or 0)
    now = context.now + offset  # the host tells its own time
    now_utc = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
    boot = (model.boot_time if model.boot_time is not None else context.now - 3 * 86400) + offset
    facts = {"gather_subset": list(subsets), "module_setup": True}
    user = (context.user or "Administrator").split("\\")[-1]
    ipv6 = _ipv6_link_local(model)

    if active & {"all_ipv4_addresses", "all_ipv6_addresses"}:
        facts["ansible_ip_addresses"] = [model.ip_address, ipv6.split("%")[0]]
    if "bios" in active:
        facts.update({
            "ansible_bios_date": "11/12/2024",
            "ansible_bios_version": "Hyper-V UEFI Release v4.1",
            "ansible_product_name": model.model,
            "ansible_product_serial": "%04d-%04d-%04d-%04d-%04d-%04d-%02d" % (
                1000 + model.index, 2000, 3000, 4000, 5000, 6000, 7),
            "ansible_product_uuid": "4C4C4544-0000-4000-8000-%012X" % model.index,
        })
    if "date_time" in active:
        local = now_utc
        facts["ansible_date_time"] = {
            "date": local.strftime("%Y-%m-%d"), "day": local.strftime("%d"),
            "epoch": "%.0f" % now, "epoch_local": "%.0f" % now, "epoch_int": int(now),
            "hour": local.strftime("%H"), "iso8601": now_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "iso8601_basic": local.strftime("%Y%m%dT%H%M%S%f") + "0",
            "iso8601_basic_short": local.strftime("%Y%m%dT%H%M%S"),
            "iso8601_micro": now_utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "minute": local.strftime("%M"), "month": local.strftime("%m"), "second": local.strftime("%S"),
            "time": local.strftime("%H:%M:%S"), "tz": model.timezone, "tz_offset": "+00:00",
            "weekday": local.strftime("%A"), "weekday_number": str(int(local.strftime("%w"))),
            "weeknumber": local.strftime("%W"), "year": local.strftime("%Y"),
        }
    if "distribution" in active:
        major = model.os_version.split(".")[0]
        facts.update({
            "ansible_distribution": model.os_product,
            "ansible_distribution_version": model.os_version,
            "ansible_distribution_major_version": major,
            "ansible_os_family": "Windows",
            "ansible_os_name": model.os_product,
            "ansible_os_product_type": model.product_type,
            "ansible_os_installation_type": model.installation_type,
            "ansible_os_install_date": datetime.datetime.fromtimestamp(
                model.install_time, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        })
    if "env" in active:
        facts["ansible_env"] = {
            "ALLUSERSPROFILE": "C:\\ProgramData", "COMPUTERNAME": model.netbios_name,
            "ComSpec": "C:\\Windows\\system32\\cmd.exe", "NUMBER_OF_PROCESSORS": str(
                model.processors * model.cores * model.threads_per_core),
            "OS": "Windows_NT", "PROCESSOR_ARCHITECTURE": "AMD64", "ProgramData": "C:\\ProgramData",
            "ProgramFiles": "C:\\Program Files", "SystemDrive": "C:", "SystemRoot": "C:\\Windows",
            "TEMP": "C:\\Users\\%s\\AppData\\Local\\Temp" % user, "TMP": "C:\\Users\\%s\\AppData\\Local\\Temp" % user,
            "USERDOMAIN": model.netbios_name if not model.domain else model.domain.split(".")[0].upper(),
            "USERNAME": user, "USERPROFILE": "C:\\Users\\%s" % user, "windir": "C:\\Windows",
        }
    if "interfaces" in active:
        facts["ansible_interfaces"] = [{
            "connection_name": "Ethernet",
            "default_gateway": model.gateway,
            "dns_domain": model.domain,
            "interface_index": 4 + model.index % 10,
            "interface_name": "Microsoft Hyper-V Network Adapter",
            "ipv4": {"address": model.ip_address, "prefix": str(model.prefix_length)},
            "ipv6": {"address": ipv6, "prefix": "64"},
            "macaddress": model.mac_address,
            "mtu": 1500,
            "speed": 10000,
        }]
    if "memory" in active:
        facts.update({
            "ansible_memtotal_mb": model.memory_mb,
            "ansible_memfree_mb": model.memory_mb // 2,
            "ansible_swaptotal_mb": 0,
            "ansible_pagefiletotal_mb": 1408,
            "ansible_pagefilefree_mb": 1390,
        })
    if "platform" in active:
        facts.update({
            "ansible_domain": model.domain or "",
            "ansible_fqdn": model.fqdn,
            "ansible_hostname": model.name,
            "ansible_netbios_name": model.netbios_name,
            "ansible_kernel": model.os_version,
            "ansible_nodename": model.fqdn,
            "ansible_machine_id": "S-1-5-21-%d-%d-%d" % (1000000000 + model.index, 2000000000, 300000000),
            "ansible_owner_name": "Windows User",
            "ansible_owner_contact": "",
            "ansible_system": "Win32NT",
            "ansible_system_description": "",
            "ansible_system_vendor": model.manufacturer,
            "ansible_reboot_pending": bool(model.reboot_pending),
            "ansible_architecture": "64-bit",
            "ansible_architecture2": "x86_64",
        })
    if "powershell_version" in active:
        facts["ansible_powershell_version"] = 5
    if "processor" in active:
        processor = []
        for number in range(model.processors * model.cores * model.threads_per_core):
            processor += [str(number), "GenuineIntel", "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz"]
        facts.update({
            "ansible_processor": processor,
            "ansible_processor_count": model.processors,
            "ansible_processor_cores": model.cores,
            "ansible_processor_threads_per_core": model.threads_per_core,
            "ansible_processor_vcpus": model.processors * model.cores * model.threads_per_core,
        })
    if "uptime" in active:
        facts["ansible_lastboot"] = datetime.datetime.fromtimestamp(boot, datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M:%SZ")
        facts["ansible_uptime_seconds"] = int(round(now - boot))
    if "user" in active:
        facts.update({
            "ansible_user_dir": "C:\\Users\\%s" % user,
            "ansible_user_gecos": "",
            "ansible_user_id": user,
            "ansible_user_sid": "S-1-5-21-%d-%d-%d-500" % (1000000000 + model.index, 2000000000, 300000000),
        })
    if "virtual" in active:
        facts["ansible_virtualization_role"] = "guest"
        facts["ansible_virtualization_type"] = "Hyper-V"
    if "windows_domain" in active:
        facts["ansible_windows_domain"] = model.domain or model.workgroup
        facts["ansible_windows_domain_member"] = bool(model.domain)
        server = model.product_type != "workstation"
        if model.domain:
            facts["ansible_windows_domain_role"] = "Member server" if server else "Member workstation"
        else:
            facts["ansible_windows_domain_role"] = "Stand-alone server" if server else "Stand-alone workstation"
    return facts, warnings
