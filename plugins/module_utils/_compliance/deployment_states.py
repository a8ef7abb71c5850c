# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""What installation last said of each deployment on each host, as readers show it.

``compliance_info`` (``hosts.<name>.enforcement``) and the inventory plugin
(``patchwave_enforcement``) show, per host and deployment, the newest state of the deployment and of
each of its updates (enforcement state messages, ``_scan/messages.py``). This is what installation
reported, shown as it is; what it does to compliance is ``rules.apply_enforcement``'s.
"""

from __future__ import annotations

from ansible_collections.patchwave.windows.plugins.module_utils._compliance.reads import ACTIVE_HOSTS

# Each active host's newest state per deployment and update (update NULL: of the deployment itself),
# newest on the controller's clock, then the store's sequence. Ad hoc states (no deployment) are left out.
_NEWEST_SQL = (
    "SELECT host_name, deployment, update_id, state, received FROM (SELECT host_name, deployment, update_id, "
    "state, received, ROW_NUMBER() OVER (PARTITION BY host_name, deployment, update_id ORDER BY received DESC, "
    "seq DESC) AS newest FROM enforcement_states WHERE deployment IS NOT NULL AND %s) ranked WHERE newest = 1 "
    "ORDER BY host_name, deployment, update_id" % ACTIVE_HOSTS)


def read_deployment_states(store):
    """Rows [host, deployment, update_id or None, state, received], plain JSON (cacheable); one query."""
    return [[r["host_name"], r["deployment"], r["update_id"], r["state"], r["received"]]
            for r in store.query(_NEWEST_SQL)]


def deployment_states(rows):
    """``{host: {deployment: {"state", "time", "updates": {update_id: state}}}}`` from
    ``read_deployment_states`` rows: ``state`` the deployment's newest state on the host (None when
    only its updates reported), ``time`` the newest state's time of any of them."""
    result = {}
    for host, deployment, update_id, state, received in rows:
        entry = result.setdefault(host, {}).setdefault(deployment, {"state": None, "time": None, "updates": {}})
        if update_id is None:
            entry["state"] = state
        else:
            entry["updates"][update_id] = state
        if entry["time"] is None or received > entry["time"]:
            entry["time"] = received
    return result
