# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Compliance of a deployment: the hosts measured against exactly the updates of its list version.

The version's members become an update set by id (expired and bundle-member updates included: a
frozen version is what was deployed, whatever the catalog says of it since), evaluated by
``_compliance/reads.evaluate_store`` with the same rules as ``compliance_info``.
"""

from __future__ import annotations

from ansible_collections.patchwave.windows.plugins.module_utils._catalog.query import UpdateFilter
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.reads import evaluate_store
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.report_data import percent_hosts_compliant
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.rules import count_compliance
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.update_sets import UpdateSet
from ansible_collections.patchwave.windows.plugins.module_utils._prepare.deployments import list_members

SET_NAME = "deployment"
# An id no update has: a version without members selects nothing (an empty id filter would select all).
_NO_UPDATE = "00000000-0000-0000-0000-000000000000"


def deployment_set(store, deployment):
    """The UpdateSet of the deployment's list version."""
    ids = tuple(m["update_id"] for m in list_members(store, deployment["update_list"], deployment["list_version"]))
    return UpdateSet(SET_NAME, UpdateFilter(update_ids=ids or (_NO_UPDATE,), kinds=(), include_expired=True,
                                            include_bundle_members=True))


def reporting_hosts(store, deployment):
    """The hosts that have reported on the deployment (install results). None can yet: installation
    comes later, and this returns an empty list until it records them."""
    return []


def deployment_compliance(store, deployment, hosts, now=None):
    """``{hosts, percent_hosts_compliant, host_compliance, required}`` of ``hosts`` against the
    deployment's list version: hosts per compliance state, each host's state and its Required count."""
    if not hosts:
        return {"hosts": count_compliance(()), "percent_hosts_compliant": None, "host_compliance": {}, "required": {}}
    evaluation = evaluate_store(store, [deployment_set(store, deployment)], hosts=list(hosts), now=now,
                                per_update=False, required=False)
    result = evaluation.sets[SET_NAME]
    summary = result.summary()
    return {"hosts": summary, "percent_hosts_compliant": percent_hosts_compliant(summary),
            "host_compliance": dict(sorted(result.host_compliance.items())),
            "required": {host: counts["required"] for host, counts in sorted(result.host_counts.items())}}
