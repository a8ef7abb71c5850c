#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: wave_info
short_description: Patch waves with their rings, per-ring outcome counts, halts and per-host results
version_added: 0.4.0
description:
  - Shows the patch waves of the store (the state M(patchwave.windows.wave) keeps for the playbook
    C(patchwave.windows.patch_wave)), or one by O(name). Each has the frozen list version it installs, its
    state, the ring in progress, each ring with its outcome counts and the newest result of each host, every
    halt with its reason, and the wave's events with their times.
  - Only reads the store. Runs on the controller. A store that does not exist is an error, never created.
options:
  name:
    description: The wave to show; every wave, newest first, when not given.
    type: str
extends_documentation_fragment:
  - patchwave.windows.store
  - patchwave.windows.attributes
  - patchwave.windows.attributes.controller
  - patchwave.windows.attributes.info_module
seealso:
  - module: patchwave.windows.wave
  - module: patchwave.windows.deployment_info
author:
  - patchwave.windows contributors (@patchwave)
"""

EXAMPLES = r"""
- name: December's wave
  patchwave.windows.wave_info:
    name: "2026-12"
  delegate_to: localhost
  run_once: true
  register: december

- name: The hosts of each ring that failed
  ansible.builtin.debug:
    msg: "{{ item.name }}: {{ item.host_results | selectattr('outcome', 'in', failures) | map(attribute='host') }}"
  vars:
    failures: [failed, update_loop, did_not_return, unreachable]
  loop: "{{ december.waves[0].rings }}"
  loop_control:
    label: "{{ item.name }}"

- name: Every wave, newest first
  patchwave.windows.wave_info:
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
waves:
  description: The waves (the one named by O(name), else all of them, newest first).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The wave's name.
      type: str
      sample: "2026-12"
    deployment:
      description: The deployment the wave started with (rings without their own deployment install this one).
      type: str
      sample: 2026-12-security
    update_list:
      description: The update list of that deployment.
      type: str
      sample: security
    list_version:
      description: The frozen list version the wave installs in every ring, recorded at its first start.
      type: int
      sample: 4
    state:
      description: V(running), V(halted) or V(finished).
      type: str
      sample: running
    ring_index:
      description: The 0-based index of the ring in progress; the number of rings once the wave is finished.
      type: int
      sample: 1
    next_ring:
      description: The name of the ring in progress (the ring a resumed wave installs next); null when the wave is finished.
      type: str
      sample: broad
    halt_reason:
      description: Why a halted wave halted; null unless the wave is V(halted).
      type: str
      sample: "ring pilot: 1 host(s) failed, the budget allows 0: web03 (failed: 0x80240022 WU_E_ALL_UPDATES_FAILED)"
    started_at:
      description: When the wave was first started (ISO 8601 UTC).
      type: str
      sample: "2026-12-09T08:00:00Z"
    updated_at:
      description: When the wave last changed (ISO 8601 UTC).
      type: str
      sample: "2026-12-09T09:12:40Z"
    finished_at:
      description: When its last ring finished (ISO 8601 UTC); null until then.
      type: str
      sample: "2026-12-10T02:40:00Z"
    rings:
      description: The rings in order, as given at the first start (with the defaults filled in), with their progress.
      type: list
      elements: dict
      contains:
        name:
          description: The ring's name.
          type: str
          sample: pilot
        hosts:
          description: The inventory group (or pattern) the ring's hosts come from.
          type: str
          sample: pilot
        serial:
          description: The batch size, a count or a percentage of the ring's hosts.
          type: raw
          sample: "25%"
        failure_budget:
          description: The hosts the ring may lose before the wave halts, a count or a percentage (rounded down).
          type: raw
          sample: 0
        wait_after:
          description: Minutes to wait after the ring before the next one starts.
          type: int
          sample: 60
        deployment:
          description: The ring's own deployment (of the same list version); null when it installs the wave's.
          type: str
          sample: null
        deadline_offset:
          description: The ring's deadline offset as given (for example V(+2d)); null when not given.
          type: str
          sample: null
        state:
          description: V(pending), V(running), V(done) or V(halted).
          type: str
          sample: done
        counts:
          description: The ring's hosts per install outcome, every outcome listed, and V(not_run) for hosts not recorded yet.
          type: dict
          sample: {"compliant": 9, "installed_pending_restart": 1, "waiting_for_window": 0, "skipped": 0, "failed": 1,
                   "update_loop": 0, "did_not_return": 0, "unreachable": 0, "not_run": 0}
        host_results:
          description: Each host of the ring, by name, with its newest result in the wave.
          type: list
          elements: dict
          contains:
            host:
              description: The host's inventory name.
              type: str
              sample: web03
            outcome:
              description: Its newest install outcome; null when it has not run in this wave (or is to be retried after a halt).
              type: str
              sample: failed
            reason:
              description: The reason given with the outcome; null when none.
              type: str
              sample: install_failed
            msg:
              description: The message given with the outcome; null when none.
              type: str
              sample: 0x80240022 WU_E_ALL_UPDATES_FAILED
            attempts:
              description: How many times a result of the host was recorded in the wave.
              type: int
              sample: 1
            updated_at:
              description: When its row last changed (ISO 8601 UTC).
              type: str
              sample: "2026-12-09T08:41:10Z"
    halts:
      description: Every halt of the wave, oldest first (a resumed wave keeps them).
      type: list
      elements: dict
      contains:
        at:
          description: When (ISO 8601 UTC).
          type: str
          sample: "2026-12-09T08:41:10Z"
        ring:
          description: The ring the halt is recorded against.
          type: str
          sample: pilot
        reason:
          description: Why.
          type: str
          sample: "ring pilot: 1 host(s) failed, the budget allows 0: web03 (failed: 0x80240022 WU_E_ALL_UPDATES_FAILED)"
    events:
      description:
        - Everything that happened to the wave, in order, never changed afterwards.
        - V(kind) is V(started), V(resumed), V(ring_started), V(recorded), V(halted), V(ring_finished) or V(finished);
          V(detail) is a dict whose keys depend on the kind.
      type: list
      elements: dict
      sample: [{"seq": 1, "at": "2026-12-09T08:00:00Z", "kind": "started", "ring": null,
                "detail": {"deployment": "2026-12-security", "update_list": "security", "list_version": 4,
                           "rings": ["pilot", "broad"]}}]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.module_store import existing_store
from ansible_collections.patchwave.windows.plugins.module_utils._store.address import resolve_store_address, secrets_of
from ansible_collections.patchwave.windows.plugins.module_utils._wave.rules import WaveError
from ansible_collections.patchwave.windows.plugins.module_utils._wave.state import list_waves, read_wave


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str"),
            store=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    module.no_log_values.update(secrets_of(resolve_store_address(module.params["store"])))  # never echo a DSN's password
    name = module.params["name"]
    with existing_store(module, module.params["store"], failure="reading waves failed", errors=(WaveError,)) as store:
        if name is None:
            waves = list_waves(store)
        else:
            wave = read_wave(store, name)
            if wave is None:
                names = [w["name"] for w in list_waves(store)]
                module.fail_json(msg="wave '%s' does not exist (the store has %s)" % (
                    name, ", ".join("'%s'" % n for n in names) if names else "no wave"))
            waves = [wave]
    module.exit_json(changed=False, waves=waves)


if __name__ == "__main__":
    main()
