#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: deployment
short_description: What to install, on which hosts, and when (a deployment of a frozen update list version)
version_added: 0.3.0
description:
  - Creates, updates or deletes a deployment in the store, as Configuration Manager's software update
    deployments. It names a frozen version of an update list (M(patchwave.windows.update_list) with C(freeze=true)),
    the inventory groups it targets, when its updates become available and when they are due, whether they
    are mandatory, the settings of a deployment template with overrides, and the deployment package and
    distribution points its content comes from.
  - The deployment is stored resolved, so it means the same until it is written again. It holds the list version
    (the newest frozen one when O(version) is not given, taken when the deployment is written), absolute
    available and deadline times, and the template's settings as they are now.
  - A list that has never been frozen is refused, as are an unknown template, package or distribution point,
    a package built from another list version, and a deadline that is not after the available time.
  - Each change is recorded in the store's object history. Runs on the controller. A store that does not
    exist is an error (a store is made by M(patchwave.windows.catalog_sync)), never created.
options:
  name:
    description: The deployment's name.
    type: str
    required: true
  state:
    description: V(present) creates or updates the deployment; V(absent) deletes it (its history stays).
    type: str
    choices: [present, absent]
    default: present
  update_list:
    description: The update list whose frozen version is deployed. Required with O(state=present).
    type: str
  version:
    description: The frozen version of O(update_list); the newest frozen version when not given.
    type: int
  targets:
    description:
      - Inventory group names. When the install runs, a host in none of them (by its C(group_names)) is
        skipped with the reason C(not_targeted). Required with O(state=present).
    type: list
    elements: str
    default: []
  start:
    description:
      - The time offsets count from (ISO 8601; UTC when it has no zone), for example a Patch Tuesday.
      - When not given, the start stored with the deployment, else the time it is first written.
    type: str
  available:
    description:
      - When the updates become available, an ISO 8601 time (C(2026-12-09T18:00:00Z)) or an offset from
        O(start) (C(+2d), C(+4h), C(+1d12h)).
      - When not given, the template's C(available_offset) (V(+0m) without a template).
    type: str
  deadline:
    description:
      - When installation becomes mandatory, an ISO 8601 time or an offset from the available time.
        It must be after the available time.
      - When not given, the template's C(deadline_offset) (V(+7d) without a template). Each host's own
        deadline is later by its share of the template's C(deadline_randomization_minutes).
      - Not for O(type=available), which has no deadline.
    type: str
  type:
    description: V(required) (mandatory, installed by the deadline) or V(available) (optional, no deadline).
    type: str
    choices: [required, available]
    default: required
  template:
    description: The M(patchwave.windows.deployment_template) whose settings the deployment takes.
    type: str
  settings:
    description:
      - Overrides of the template's settings, by the names of M(patchwave.windows.deployment_template)'s options
        (C(deadline_randomization_minutes), C(reboot), C(reboot_outside_window), C(ignore_windows_after_deadline),
        C(max_run_time_minutes), C(rescan_after_reboot), C(content_source), C(scan_source)), with the same checks.
      - Each key replaces the template's setting whole (a C(max_run_time_minutes) override replaces the
        template's mapping, it is not merged into it).
      - The two offsets are given by O(available) and O(deadline) instead.
    type: dict
    default: {}
  package:
    description:
      - The M(patchwave.windows.deployment_package) holding the content; it must exist and be built from the
        same list version.
    type: str
  distribution_points:
    description: The M(patchwave.windows.distribution_point)s, by name, that hosts fetch the content from.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - patchwave.windows.store
  - patchwave.windows.attributes
  - patchwave.windows.attributes.controller
attributes:
  check_mode:
    support: full
    details:
      - Resolves and checks the deployment as it would be written (RV(deployment)) and changes nothing.
  diff_mode:
    support: full
    details:
      - The stored definition before and after.
notes:
  - A deployment refers to its list version, package and distribution points by name; deleting or changing those
    later is not prevented, and the install step checks them again.
seealso:
  - module: patchwave.windows.deployment_template
  - module: patchwave.windows.deployment_info
  - module: patchwave.windows.update_list
author:
  - patchwave.windows contributors (@patchwave)
"""

EXAMPLES = r"""
- name: The pilot gets December's security updates at once, due in two days
  patchwave.windows.deployment:
    name: 2026-12-security-pilot
    update_list: security
    targets: [pilot]
    template: patch_tuesday
    start: "2026-12-08T18:00:00Z"
    deadline: +2d
  delegate_to: localhost
  run_once: true

- name: Everyone else a week later, from the same list version, package and distribution points
  patchwave.windows.deployment:
    name: 2026-12-security-broad
    update_list: security
    version: 4
    targets: [windows]
    template: patch_tuesday
    start: "2026-12-08T18:00:00Z"
    available: +7d
    deadline: +7d
    package: 2026-12-security
    distribution_points: [dp-hq, dp-branch]
    settings:
      reboot: never
  delegate_to: localhost

- name: An optional deployment, no deadline
  patchwave.windows.deployment:
    name: 2026-12-optional
    update_list: previews
    targets: [workstations]
    type: available
  delegate_to: localhost

- name: Remove a deployment
  patchwave.windows.deployment:
    name: 2026-11-security-broad
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
name:
  description: The deployment's name.
  returned: always
  type: str
  sample: 2026-12-security-pilot
action:
  description: What this run did (or would do in check mode), V(created), V(updated) or V(deleted); null when nothing changed.
  returned: always
  type: str
  sample: created
deployment:
  description: The deployment as stored after this run; null once it is deleted (or when it did not exist).
  returned: always
  type: dict
  contains:
    update_list:
      description: The update list.
      type: str
      sample: security
    list_version:
      description: The frozen version of the list.
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
      description: The time offsets count from (ISO 8601 UTC).
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
      description:
        - The settings in force (the template's with the overrides), as in
          RV(patchwave.windows.deployment_template#module:settings) without the two offsets.
      type: dict
      sample: {"content_source": "wua", "deadline_randomization_minutes": 120, "ignore_windows_after_deadline": false,
               "max_run_time_minutes": {}, "reboot": "if_required", "reboot_outside_window": false,
               "rescan_after_reboot": true, "scan_source": "wua"}
    package:
      description: The deployment package; null when none was named.
      type: str
      sample: 2026-12-security
    distribution_points:
      description: The distribution points by name.
      type: list
      elements: str
      sample: [dp-hq]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.module_store import existing_store
from ansible_collections.patchwave.windows.plugins.module_utils._prepare.deployments import (
    TYPES,
    DeploymentError,
    apply_deployment,
)
from ansible_collections.patchwave.windows.plugins.module_utils._prepare.templates import TemplateError
from ansible_collections.patchwave.windows.plugins.module_utils._store.address import resolve_store_address, secrets_of


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            update_list=dict(type="str"),
            version=dict(type="int"),
            targets=dict(type="list", elements="str", default=[]),
            start=dict(type="str"),
            available=dict(type="str"),
            deadline=dict(type="str"),
            type=dict(type="str", default="required", choices=list(TYPES)),
            template=dict(type="str"),
            settings=dict(type="dict", default={}),
            package=dict(type="str"),
            distribution_points=dict(type="list", elements="str", default=[]),
            store=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    module.no_log_values.update(secrets_of(resolve_store_address(module.params["store"])))  # never echo a DSN's password
    params = module.params
    if not params["name"].strip():
        module.fail_json(msg="name must not be empty")
    if params["version"] is not None and params["version"] < 1:
        module.fail_json(msg="deployment '%s': version must be 1 or more, not %d" % (params["name"], params["version"]))
    with existing_store(module, params["store"], failure="writing deployment '%s' failed" % params["name"],
                        errors=(TemplateError, DeploymentError)) as store:
        action, before, after, warnings = apply_deployment(store, params["name"], params["state"], params,
                                                           check_mode=module.check_mode)
    for text in warnings:
        module.warn(text)
    result = dict(changed=action is not None, name=params["name"], action=action, deployment=after)
    if module._diff:
        result["diff"] = {"before": before or {}, "after": after or {}}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
