"""The patchwave lab: simulated Windows hosts behind a real WinRM (WS-Management) endpoint.

Ansible's ``winrm`` connection plugin and plain pywinrm talk to it unmodified. See README.md.
"""

from .backend import DefaultBackend, HostBackend, HostModel, ModuleContext, not_emulated
from .faults import HostFaults
from .fleet import Fleet
from .server import BLACKHOLE, REFUSE, LabHost

__all__ = ["BLACKHOLE", "DefaultBackend", "Fleet", "HostBackend", "HostFaults", "HostModel", "LabHost",
           "ModuleContext", "REFUSE", "not_emulated"]
