#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: deployment_info
short_description: Deployments with their list version, settings and compliance
version_added: 0.3.0
description:
  - Lists the deployments of the store, or shows one by O(name), each with the list version it deploys,
    its times, targets and settings, its updates with their maximum run time, and the compliance of the
    given hosts against exactly the updates of that list version (the rules of
    M(patchwave.windows.compliance_info)).
  - A module on the controller cannot resolve inventory groups, so the hosts to measure are given in
    O(hosts), for example C({{ groups['pilot'] }}). Without O(hosts), the hosts measured are those that
    have reported on the deployment; none can yet, as installation is not part of the collection yet, so
    the evaluation is empty (every count 0) until it is.
  - State messages waiting in the spool are ingested first, so the answer includes every scan that has finished.
  - Runs on the controller. A store that does not exist is an error, never created.
options:
  name:
    description: The deployment to show; every deployment when not given.
    type: str
  hosts:
    description: The hosts to measure each deployment's compliance over (names as the inventory has them).
    type: list
    elements: str
    default: []
  updates:
    description: Return each deployment's updates (RV(deployments[].updates)).
    type: bool
    default: true
  history:
    description: Return each deployment's recorded changes (RV(deployments[].history)).
    type: bool
    default: false
extends_documentation_fragment:
  - patchwave.windows.store
  - patchwave.windows.store.spool
  - patchwave.windows.attributes
  - patchwave.windows.attributes.controller
  - patchwave.windows.attributes.state_reader
seealso:
  - module: patchwave.windows.deployment
  - module: patchwave.windows.compliance_info
author:
  - patchwave.windows contributors (@patchwave)
"""

EXAMPLES = r"""
- name: The pilot deployment and how the pilot group stands against it
  patchwave.windows.deployment_info:
    name: 2026-12-security-pilot
    hosts: "{{ groups['pilot'] }}"
  delegate_to: localhost
  run_once: true
  register: pilot

- name: Every deployment, without its updates
  patchwave.windows.deployment_info:
    updates: false
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
deployments:
  description: The deployments (the one named by O(name), else all), sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The deployment's name.
      type: str
      sample: 2026-12-security-pilot
    update_list:
      description: The update list.
      type: str
      sample: security
    list_version:
      description: The frozen list version deployed.
      type: int
      sample: 4
    catalog_version:
      description: The catalog version the list version was evaluated against; null when the store had none.
      type: int
      sample: 7
    content_hash:
      description: The list version's content hash.
      type: str
      sample: 9f2c51d0e4a8b3c6d7e1f0a2b5c8d9e3f4a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0
    targets:
      description: The inventory groups targeted.
      type: list
      elements: str
      sample: [pilot]
    type:
      description: V(required) or V(available).
      type: str
      sample: required
    start:
      description: The time the offsets counted from (ISO 8601 UTC).
      type: str
      sample: "2026-12-08T18:00:00Z"
    available:
      description: When the updates become available (ISO 8601 UTC).
      type: str
      sample: "2026-12-08T18:00:00Z"
    deadline:
      description: When installation is due (ISO 8601 UTC), before each host's randomized offset; null for an available deployment.
      type: str
      sample: "2026-12-10T18:00:00Z"
    template:
      description: The template the settings came from; null when none was named.
      type: str
      sample: patch_tuesday
    overrides:
      description: The settings given on the deployment, over the template's.
      type: dict
      sample: {"reboot": "never"}
    settings:
      description: The settings in force (RV(patchwave.windows.deployment#module:deployment.settings)).
      type: dict
      sample: {"content_source": "wua", "deadline_randomization_minutes": 120, "reboot": "if_required"}
    package:
      description: The deployment package; null when none was named.
      type: str
      sample: 2026-12-security
    distribution_points:
      description: The distribution points by name.
      type: list
      elements: str
      sample: [dp-hq]
    created_at:
      description: When the deployment was first written (ISO 8601 UTC).
      type: str
      sample: "2026-12-05T16:40:00Z"
    updated_at:
      description: When it was last changed (ISO 8601 UTC).
      type: str
      sample: "2026-12-05T16:40:00Z"
    update_count:
      description: Updates in the list version.
      type: int
      sample: 12
    updates:
      description: With O(updates), the list version's updates.
      type: list
      elements: dict
      returned: when O(updates=true)
      contains:
        update_id:
          description: The update's GUID.
          type: str
          sample: 5a9d4f2e-3c1b-4e8f-9a7d-2b6c1e0f4a3d
        revision_number:
          description: The revision frozen in the list version.
          type: int
          sample: 200
        kb:
          description: The update's KB number; null when it has none (or the catalog no longer has the update).
          type: str
          sample: "5046616"
        title:
          description: The update's title; null when the catalog has none.
          type: str
          sample: 2026-12 Cumulative Update for Windows Server 2022 for x64-based Systems (KB5046616)
        classification:
          description: The update's classification; null when the catalog gives none.
          type: str
          sample: Security Updates
        max_run_time_minutes:
          description: The list's override, else the settings' default for the classification, else 60.
          type: int
          sample: 60
    compliance:
      description: The compliance of the measured hosts against the list version's updates.
      type: dict
      contains:
        evaluated:
          description:
            - Which hosts were measured, V(hosts) (O(hosts)) or V(reported) (the hosts that reported on the
              deployment; none yet, as installation is not part of the collection yet).
          type: str
          sample: hosts
        hosts:
          description: Measured hosts per compliance state (compliant, non_compliant, unknown).
          type: dict
          sample: {"compliant": 8, "non_compliant": 3, "unknown": 1}
        percent_hosts_compliant:
          description: Compliant hosts as a share of the measured hosts, in percent with one decimal; null when no host was measured.
          type: float
          sample: 66.7
        host_compliance:
          description: Each measured host's compliance, V(compliant), V(non_compliant) or V(unknown), by host name.
          type: dict
          sample: {"web01": "non_compliant", "web02": "compliant"}
        required:
          description: Each measured host's count of Required updates of the list version, by host name.
          type: dict
          sample: {"web01": 2, "web02": 0}
    history:
      description: With O(history), the deployment's recorded changes, oldest first.
      type: list
      elements: dict
      returned: when O(history=true)
      contains:
        changed_at:
          description: When (ISO 8601 UTC).
          type: str
          sample: "2026-12-05T16:40:00Z"
        action:
          description: V(created), V(updated) or V(deleted).
          type: str
          sample: updated
        before:
          description: The definition before; null for a creation.
          type: dict
          sample: {"list_version": 3}
        after:
          description: The definition after; null for a deletion.
          type: dict
          sample: {"list_version": 4}
ingested:
  description: What moving the state messages waiting in the spool into the store did before reading.
  returned: always
  type: dict
  sample: {"ingested": 0, "duplicates": 0, "quarantined": 0, "pruned": 0}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.module_store import ingested_store
from ansible_collections.patchwave.windows.plugins.module_utils._prepare.deployment_compliance import (
    deployment_compliance,
    reporting_hosts,
)
from ansible_collections.patchwave.windows.plugins.module_utils._prepare.deployments import (
    deployment_updates,
    history_entries,
    list_deployments,
    list_members,
    read_deployment,
)
from ansible_collections.patchwave.windows.plugins.module_utils._store.address import resolve_store_address, secrets_of
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import utc_now


def deployment_report(store, name, params, now):
    deployment = read_deployment(store, name)
    if params["updates"]:
        deployment["updates"] = deployment_updates(store, deployment)
        deployment["update_count"] = len(deployment["updates"])
    else:
        deployment["update_count"] = len(list_members(store, deployment["update_list"], deployment["list_version"]))
    hosts = params["hosts"] or reporting_hosts(store, deployment)
    deployment["compliance"] = dict(deployment_compliance(store, deployment, hosts, now),
                                    evaluated="hosts" if params["hosts"] else "reported")
    if params["history"]:
        deployment["history"] = history_entries(store, name)
    return deployment


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str"),
            hosts=dict(type="list", elements="str", default=[]),
            updates=dict(type="bool", default=True),
            history=dict(type="bool", default=False),
            store=dict(type="str"),
            spool=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    module.no_log_values.update(secrets_of(resolve_store_address(module.params["store"])))  # never echo a DSN's password
    params = module.params
    now = utc_now()
    with ingested_store(module, params["store"], params["spool"], failure="reading deployments failed") as (
            store, ingested):
        names = list_deployments(store)
        if params["name"] is not None:
            if params["name"] not in names:
                module.fail_json(msg="deployment '%s' does not exist (the store has %s)" % (
                    params["name"], ", ".join(names) if names else "no deployment"))
            names = [params["name"]]
        deployments = [deployment_report(store, name, params, now) for name in names]
    module.exit_json(changed=False, deployments=deployments, ingested=ingested)


if __name__ == "__main__":
    main()
