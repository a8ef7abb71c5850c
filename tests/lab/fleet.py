"""A fleet of simulated Windows hosts, started and stopped as one (in-process API).

    with Fleet(3, auth="ntlm") as fleet:
        inventory = fleet.write_inventory(tmp_path / "hosts.yml")
        ... ansible-playbook -i inventory ...
        fleet.host("win002").go_down("refuse")

``backend_factory(model) -> HostBackend`` builds each host's module emulation (default:
:class:`.backend.DefaultBackend`); ``host_factory(index, name) -> HostModel`` its model.
"""

import os
import shutil
import ssl
import tempfile
import time

import yaml

from . import auth, certs
from .backend import DefaultBackend, HostModel
from .server import AuthConfig, LabServer

DEFAULT_USER = "Administrator"
DEFAULT_PASSWORD = "Lab-Passw0rd"
DEFAULT_DOMAIN = "LAB"
TRANSPORTS = {"basic": "basic", "ntlm": "ntlm", "https": "ntlm"}
# What one module run costs on a Windows host before the module's code runs: powershell.exe's start,
# the exec wrapper and Ansible.Basic's compile (a few hundred milliseconds).
DEFAULT_MODULE_COST = 0.3


class Fleet:
    """``n_hosts`` hosts on one port each, on ``address`` (default 127.0.0.1).

    * ``auth``: ``basic`` (HTTP Basic), ``ntlm`` (HTTP, NTLM + message encryption) or ``https``
      (HTTPS, NTLM or Basic; certificate from a generated CA, see :attr:`ca_path`);
    * ``user``/``password``: the one local administrator every host accepts (NTLM also accepts
      ``DOMAIN\\user`` with ``domain``);
    * ``name_prefix``: hosts are ``<prefix>001`` ...; ``base_port``: consecutive ports from there
      (default: free ports chosen by the OS);
    * ``clock``: POSIX-seconds callable the hosts use as "now" (default :func:`time.time`; a host
      whose clock is wrong adds its ``HostModel.clock_offset`` to what it reports);
    * ``module_cost``: seconds each module run costs before the module's code runs, as Windows
      PowerShell's start, the exec wrapper and Ansible.Basic's compile cost on a real host (default
      :data:`DEFAULT_MODULE_COST`; per host: ``LabHost.module_cost``); tests that need speed pass 0;
    * ``state_dir``: where certificates go (default: a temporary folder removed on stop).
    """

    def __init__(self, n_hosts, auth="ntlm", backend_factory=DefaultBackend, host_factory=None,
                 user=DEFAULT_USER, password=DEFAULT_PASSWORD, domain=DEFAULT_DOMAIN, name_prefix="win",
                 address="127.0.0.1", base_port=0, clock=time.time, state_dir=None, module_cost=None):
        self.n_hosts = n_hosts
        self.auth_mode = auth
        self.backend_factory = backend_factory
        self.host_factory = host_factory or (lambda index, name: HostModel(name=name, index=index))
        self.user = user
        self.password = password
        self.domain = domain
        self.name_prefix = name_prefix
        self.address = address
        self.base_port = base_port
        self.clock = clock
        self.module_cost = DEFAULT_MODULE_COST if module_cost is None else float(module_cost)
        self._state_dir = state_dir
        self._own_state_dir = False
        self.server = None
        self.certificates = None
        self._by_name = {}

    # lifecycle --------------------------------------------------------------------------------

    def start(self):
        if self._state_dir is None:
            self._state_dir = tempfile.mkdtemp(prefix="lab-fleet-")
            self._own_state_dir = True
        os.makedirs(self._state_dir, exist_ok=True)
        names = [self.host_name(i) for i in range(1, self.n_hosts + 1)]
        tls_context = channel_bindings = None
        if self.auth_mode == "https":
            self.certificates = certs.generate(os.path.join(self._state_dir, "certs"), names, (self.address,))
            tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            tls_context.load_cert_chain(self.certificates.server_cert, self.certificates.server_key)
            with open(self.certificates.server_cert, "rb") as handle:
                der = ssl.PEM_cert_to_DER_cert(handle.read().decode("ascii"))
            channel_bindings = auth.tls_channel_bindings(der)
        if self.auth_mode in ("ntlm", "https"):
            auth.CredentialStore.register(id(self), [(self.domain, self.user, self.password),
                                                     ("", self.user, self.password)])
        config = AuthConfig(self.auth_mode, {self.user: self.password}, tls_context, channel_bindings)
        self.server = LabServer(config, self.address)
        try:
            for index, name in enumerate(names, start=1):
                model = self.host_factory(index, name)
                port = self.base_port + index - 1 if self.base_port else 0
                host = self.server.add_host(model, self.backend_factory(model), self.clock, port)
                host.module_cost = self.module_cost
                self._by_name[name] = host
            self.server.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        if self.server is not None:
            for host in self.server.hosts:  # pending timers (a scheduled reboot) first
                close = getattr(host.backend, "close", None)
                if close is not None:
                    close()
            self.server.stop()
            self.server = None
        auth.CredentialStore.unregister(id(self))
        if self._own_state_dir and self._state_dir and os.path.isdir(self._state_dir):
            shutil.rmtree(self._state_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # access -----------------------------------------------------------------------------------

    def host_name(self, index):
        return "%s%03d" % (self.name_prefix, index)

    @property
    def hosts(self):
        return list(self.server.hosts) if self.server else []

    def host(self, key):
        """A :class:`.server.LabHost` by name or by 1-based index."""
        if isinstance(key, int):
            key = self.host_name(key)
        return self._by_name[key]

    def __iter__(self):
        return iter(self.hosts)

    def __len__(self):
        return len(self.hosts)

    @property
    def ca_path(self):
        return self.certificates.ca_cert if self.certificates else None

    @property
    def transport(self):
        return TRANSPORTS[self.auth_mode]

    def protocol_kwargs(self, host, transport=None, validate=True):
        """Keyword arguments for ``winrm.Protocol`` to reach ``host`` (a name, index or LabHost)."""
        if not hasattr(host, "endpoint"):
            host = self.host(host)
        kwargs = {"endpoint": host.endpoint, "transport": transport or self.transport,
                  "username": self.user, "password": self.password}
        if self.auth_mode != "https":
            kwargs["ca_trust_path"] = None  # plain HTTP: keep pywinrm from reading REQUESTS_CA_BUNDLE
        else:
            if validate:
                kwargs["server_cert_validation"] = "validate"
                kwargs["ca_trust_path"] = self.ca_path
            else:
                kwargs["server_cert_validation"] = "ignore"
        return kwargs

    # inventory --------------------------------------------------------------------------------

    def inventory(self, group="windows", cert_validation="validate", **extra_vars):
        """The Ansible inventory (dict) for the fleet: one group, connection variables at group level."""
        variables = {
            "ansible_connection": "winrm",
            "ansible_winrm_transport": self.transport,
            "ansible_winrm_scheme": "https" if self.auth_mode == "https" else "http",
            "ansible_user": self.user,
            "ansible_password": self.password,
            "ansible_shell_type": "powershell",
        }
        if self.auth_mode == "https":
            variables["ansible_winrm_server_cert_validation"] = cert_validation
            if cert_validation == "validate":
                variables["ansible_winrm_ca_trust_path"] = self.ca_path
        variables.update(extra_vars)
        hosts = {h.name: {"ansible_host": h.address, "ansible_port": h.port} for h in self.hosts}
        return {"all": {"children": {group: {"hosts": hosts, "vars": variables}}}}

    def write_inventory(self, path, **kwargs):
        """Write :meth:`inventory` as YAML to ``path``; returns the path as a string."""
        path = str(path)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write("# patchwave lab fleet: %d simulated Windows hosts (auth %s)\n" % (len(self), self.auth_mode))
            yaml.safe_dump(self.inventory(**kwargs), handle, default_flow_style=False, sort_keys=False)
        os.replace(tmp, path)
        return path
