"""Loopback only, in every Python process the integration tests start.

tests/integration/ansible_runs.py puts this folder first on PYTHONPATH and sets
PATCHWAVE_NETWORK_GUARD=1 for ansible-playbook, ansible-inventory and ansible-doc: Python imports
``sitecustomize`` at start-up, so the controller, its forks and the modules they run (a download,
an SMB stage, a WinRM connection) all get ``tests/servers/network_guard.guard()``, and a connection
to anything but loopback fails with the address named, before any packet leaves.
"""

import importlib.util
import os

if os.environ.get("PATCHWAVE_NETWORK_GUARD") == "1":
    _PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "network_guard.py")
    _SPEC = importlib.util.spec_from_file_location("patchwave_network_guard", _PATH)
    _MODULE = importlib.util.module_from_spec(_SPEC)
    _SPEC.loader.exec_module(_MODULE)
    _GUARD = _MODULE.guard()
    _GUARD.__enter__()  # for the life of the process
