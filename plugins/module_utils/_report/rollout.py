# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""The report's reads of the later steps: deployments (preparation), enforcement states
(installation) and waves, for the deployments and waves part of the report
(``_compliance/report_deployments.py`` turns them into the report's data).

The report is the last step, so this package may read every step; no step imports it.
"""

from __future__ import annotations

import json

from ansible_collections.patchwave.windows.plugins.module_utils._compliance.reads import ACTIVE_HOSTS
from ansible_collections.patchwave.windows.plugins.module_utils._prepare.deployments import (
    deployment_updates,
    list_deployments,
    read_deployment,
)
from ansible_collections.patchwave.windows.plugins.module_utils._wave.state import list_waves

# Each active host's newest enforcement state per deployment and update (update NULL: of the deployment),
# with the HRESULT and the detail the report shows; newest on the controller's clock, then the store's sequence.
_NEWEST_SQL = (
    "SELECT host_name, deployment, update_id, state, hresult, detail, received FROM (SELECT host_name, deployment, "
    "update_id, state, hresult, detail, received, ROW_NUMBER() OVER (PARTITION BY host_name, deployment, update_id "
    "ORDER BY received DESC, seq DESC) AS newest FROM enforcement_states WHERE deployment IS NOT NULL AND %s) ranked "
    "WHERE newest = 1 ORDER BY deployment, host_name, update_id" % ACTIVE_HOSTS)


def read_rollout(store):
    """``{"deployments": [definition + "updates"], "states": [row], "waves": [wave]}``, plain data.

    ``states`` rows are ``{host, deployment, update_id, state, hresult, detail, time}``; ``waves`` are
    ``_wave/state.list_waves``' (newest first)."""
    deployments = []
    for name in list_deployments(store):
        definition = read_deployment(store, name)
        definition["updates"] = deployment_updates(store, definition)
        deployments.append(definition)
    states = [{"host": r["host_name"], "deployment": r["deployment"], "update_id": r["update_id"], "state": r["state"],
               "hresult": r["hresult"], "detail": json.loads(r["detail"] or "{}"), "time": r["received"]}
              for r in store.query(_NEWEST_SQL)]
    return {"deployments": deployments, "states": states, "waves": list_waves(store)}
