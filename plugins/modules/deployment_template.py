#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: deployment_template
short_description: Reusable deployment settings (a deployment template)
version_added: 0.3.0
description:
  - Creates, updates or deletes a named deployment template in the store, as Configuration Manager's
    deployment templates (when updates become available and are due, how the deadline is spread over
    the hosts, how reboots and maintenance windows are treated, how long each update may run, and
    where hosts get content and scan from).
  - A M(patchwave.windows.deployment) takes a template's settings when it is written, each overridable;
    changing a template later does not change deployments already written (write them again to apply it).
  - Every option that is not given takes its default, so the stored settings are exactly the options of
    the task. Each change is recorded in the store's object history.
  - Runs on the controller. A store that does not exist is an error (a store is made by
    M(patchwave.windows.catalog_sync)), never created.
options:
  name:
    description: The template's name.
    type: str
    required: true
  state:
    description: V(present) creates or updates the template; V(absent) deletes it (deployments keep their settings).
    type: str
    choices: [present, absent]
    default: present
  available_offset:
    description:
      - When the updates become available, counted from a deployment's start (its O(patchwave.windows.deployment#module:start)).
      - An offset such as V(+0m), V(+4h), V(+2d), V(+1d12h) or V(+1w).
    type: str
    default: "+0m"
  deadline_offset:
    description:
      - When installation becomes mandatory, counted from the available time (as ConfigMgr's "available time + interval").
      - An offset as for O(available_offset); a deployment's deadline must come after its available time.
    type: str
    default: "+7d"
  deadline_randomization_minutes:
    description:
      - Spread each host's deadline by up to this many minutes after the deployment's deadline, 0 to 120
        (ConfigMgr randomizes by up to two hours).
      - A host's share is derived from its name, so it is the same on every run and every controller.
    type: int
    default: 120
  reboot:
    description:
      - Reboot after installation V(if_required) (an update asks for it), V(never) (left pending, reported), or V(always).
    type: str
    choices: [if_required, never, always]
    default: if_required
  reboot_outside_window:
    description: Whether the reboot may happen outside a maintenance window.
    type: bool
    default: false
  ignore_windows_after_deadline:
    description: Whether, once the deadline has passed, installation goes ahead outside maintenance windows.
    type: bool
    default: false
  max_run_time_minutes:
    description:
      - The maximum run time of an update, per classification title (for example C(Security Updates) 30 and
        C(Feature Packs) 120, as in the examples), 5 to 9999 minutes each, where the update list gives none for the update.
      - A classification not named here takes 60 minutes (ConfigMgr's default).
    type: dict
    default: {}
  rescan_after_reboot:
    description: Scan again after the install's reboot (re-evaluation), so compliance is current at once.
    type: bool
    default: true
  content_source:
    description:
      - Where hosts get the update files, V(distribution_point) (the deployment's distribution points, from
        its package) or V(wua) (the host's own Windows Update or WSUS).
    type: str
    choices: [distribution_point, wua]
    default: wua
  scan_source:
    description:
      - What the install's fresh scan asks, V(wua) (the host's update source) or V(offline) (the offline
        scan file staged with the package, for hosts that reach only a distribution point).
    type: str
    choices: [wua, offline]
    default: wua
extends_documentation_fragment:
  - patchwave.windows.store
  - patchwave.windows.attributes
  - patchwave.windows.attributes.controller
attributes:
  check_mode:
    support: full
    details:
      - Returns the settings the template would have and changes nothing.
  diff_mode:
    support: full
    details:
      - The template's settings before and after.
seealso:
  - module: patchwave.windows.deployment
  - module: patchwave.windows.deployment_info
author:
  - patchwave.windows contributors (@patchwave)
"""

EXAMPLES = r"""
- name: A Patch Tuesday template (available at once, due a week later, reboot when needed)
  patchwave.windows.deployment_template:
    name: patch_tuesday
    deadline_offset: +7d
    deadline_randomization_minutes: 120
    max_run_time_minutes:
      Security Updates: 30
      Feature Packs: 120
  delegate_to: localhost
  run_once: true

- name: Servers that take content from a distribution point and never reboot by themselves
  patchwave.windows.deployment_template:
    name: servers_no_reboot
    reboot: never
    content_source: distribution_point
    scan_source: offline
  delegate_to: localhost

- name: Remove a template (deployments written from it keep their settings)
  patchwave.windows.deployment_template:
    name: old_template
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
name:
  description: The template's name.
  returned: always
  type: str
  sample: patch_tuesday
action:
  description: What this run did (or would do in check mode), V(created), V(updated) or V(deleted); null when nothing changed.
  returned: always
  type: str
  sample: created
settings:
  description: The template's settings after this run; null once it is deleted (or when it did not exist).
  returned: always
  type: dict
  contains:
    available_offset:
      description: When updates become available, from a deployment's start, as an offset.
      type: str
      sample: "+0m"
    deadline_offset:
      description: When installation is due, from the available time, as an offset.
      type: str
      sample: "+7d"
    deadline_randomization_minutes:
      description: The largest spread of a host's deadline, in minutes.
      type: int
      sample: 120
    reboot:
      description: The reboot policy.
      type: str
      sample: if_required
    reboot_outside_window:
      description: Whether a reboot may happen outside a maintenance window.
      type: bool
      sample: false
    ignore_windows_after_deadline:
      description: Whether installation ignores maintenance windows after the deadline.
      type: bool
      sample: false
    max_run_time_minutes:
      description: Maximum run time per classification in minutes (others take 60).
      type: dict
      sample: {"Security Updates": 30}
    rescan_after_reboot:
      description: Whether the install scans again after its reboot.
      type: bool
      sample: true
    content_source:
      description: Where hosts get the update files.
      type: str
      sample: wua
    scan_source:
      description: What the install's scan asks.
      type: str
      sample: wua
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.module_store import existing_store
from ansible_collections.patchwave.windows.plugins.module_utils._prepare.deployments import DeploymentError
from ansible_collections.patchwave.windows.plugins.module_utils._prepare.templates import (
    SETTINGS,
    SETTINGS_SPEC,
    TemplateError,
    apply_template,
)
from ansible_collections.patchwave.windows.plugins.module_utils._store.address import resolve_store_address, secrets_of


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            store=dict(type="str"),
            **SETTINGS_SPEC
        ),
        supports_check_mode=True,
    )
    module.no_log_values.update(secrets_of(resolve_store_address(module.params["store"])))  # never echo a DSN's password
    params = module.params
    if not params["name"].strip():
        module.fail_json(msg="name must not be empty")
    settings = {key: params[key] for key in SETTINGS}
    with existing_store(module, params["store"], failure="writing deployment template '%s' failed" % params["name"],
                        errors=(TemplateError, DeploymentError)) as store:
        action, before, after = apply_template(store, params["name"], params["state"], settings,
                                               check_mode=module.check_mode)
    result = dict(changed=action is not None, name=params["name"], action=action, settings=after)
    if module._diff:
        result["diff"] = {"before": before or {}, "after": after or {}}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
