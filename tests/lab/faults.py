"""Per-host fault settings the server honours (all optional, all off by default).

Set them on ``fleet.host(name).faults`` (in process) or with ``python -m tests.lab fault`` (a
running CLI lab). Reachability itself (a host that is down) is switched with
``LabHost.go_down(mode)`` / ``LabHost.come_up()`` because it acts on sockets.

* ``latency``: seconds added before every HTTP response (a slow host);
* ``drop_receive``: the next N Receive requests are answered by closing the TCP connection
  without a response (``-1``: every one) -- a connection dropped mid-operation;
* ``drop_after_send``: like ``drop_receive`` for the Send carrying the end of stdin, after the
  command has started -- the host runs the module but the client never hears the result.
"""

import threading
from dataclasses import dataclass, field


@dataclass
class HostFaults:
    latency: float = 0.0
    drop_receive: int = 0
    drop_after_send: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def take(self, name):
        """Consume one occurrence of the counter ``name``; True when the fault applies now."""
        with self._lock:
            value = getattr(self, name)
            if value == 0:
                return False
            if value > 0:
                setattr(self, name, value - 1)
            return True

    def update(self, **settings):
        with self._lock:
            for key, value in settings.items():
                if key.startswith("_") or not hasattr(self, key):
                    raise KeyError("unknown fault %r" % key)
                setattr(self, key, type(getattr(self, key))(value))

    def as_dict(self):
        return {"latency": self.latency, "drop_receive": self.drop_receive, "drop_after_send": self.drop_after_send}
