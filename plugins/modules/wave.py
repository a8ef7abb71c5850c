#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: wave
short_description: Start, resume, record, advance and halt a patch wave in the store
version_added: 0.4.0
description:
  - Keeps the state of a patch wave, the monthly rollout of one frozen update list version ring by ring, for
    the playbook C(patchwave.windows.patch_wave) and the role C(install_updates), which call it on the
    controller. The wave is named; its state (list version, rings, the ring in progress, each host's outcome,
    halts) is in the store, so running the playbook again continues the same wave.
  - O(action=start) creates the wave when none of that name exists. It takes the list version of
    O(deployment) and the O(rings) as they are now, and they never change for the rest of the wave. Otherwise
    it resumes the wave (a halted wave runs again; the hosts its budget counted in the ring in progress are
    retried, compliant hosts are not installed again) with its stored rings and list version, warning when
    different ones are given, or returns a finished wave unchanged. The hosts of O(hosts_by_ring) not yet in
    the wave are added to it.
  - O(action=record) records install results of the ring in progress and checks the ring's failure budget
    over all its hosts; a spent budget halts the wave (RV(halted), RV(halt_reason)). Only the outcomes
    V(failed), V(update_loop), V(did_not_return) and V(unreachable) count against the budget.
  - O(action=finish_ring) ends the ring in progress; the next ring starts, or the wave is finished after its
    last ring. O(action=halt) halts the wave for a failed health gate or pre-install hook.
  - Every change is one transaction. Runs on the controller. A store that does not exist is an error, never
    created.
options:
  action:
    description:
      - V(start) starts or resumes the wave (or returns it when finished).
      - V(record) records O(results) of the ring O(ring) and checks its failure budget.
      - V(finish_ring) ends the ring O(ring), which must be the ring in progress (a ring finished already
        changes nothing).
      - V(halt) halts the wave for O(reason).
    type: str
    required: true
    choices: [start, record, finish_ring, halt]
  name:
    description:
      - The wave's name.
      - Optional with O(action=start), where it defaults to the year and month (C(2026-12), UTC) the list version
        of O(deployment) was frozen in; required with the other actions.
    type: str
  deployment:
    description:
      - The deployment (M(patchwave.windows.deployment)) whose frozen list version the wave installs in every ring.
        Required with O(action=start) when the wave does not exist yet; a resumed wave keeps its own (a different
        one given is a warning).
    type: str
  rings:
    description:
      - The rings in order, used at the wave's first start (a resumed wave keeps the rings it started with).
      - Each ring is a dict with C(name) (required, unique), C(hosts) (required, the inventory group or pattern the
        ring's hosts come from), C(serial) (a batch size, a count of 1 or more or a percentage such as V(25%);
        default V(100%)), C(failure_budget) (the hosts that may fail before the wave halts, a count of 0 or more or
        a percentage of the ring's hosts rounded down; default V(0)), C(wait_after) (minutes to wait before the
        next ring; default V(0)), C(deployment) (a deployment of the same list version for this ring; default the
        wave's) and C(deadline_offset) (for example V(+2d); kept for the playbook).
    type: list
    elements: dict
  hosts_by_ring:
    description:
      - With O(action=start), the hosts of each ring by ring name, as the playbook resolves them from the
        inventory. A host not in the wave yet is added (not run); a host in two rings belongs to the first; a
        host already in the wave keeps its ring and its result.
    type: dict
  new:
    description:
      - With O(action=start), start a new wave when the wave O(name) is finished (it replaces the finished one).
        A wave of that name that is not finished is an error (finish it or pick another name).
    type: bool
    default: false
  ring:
    description:
      - The ring, by name. Required with O(action=record) and O(action=finish_ring), where it must be the ring in
        progress; with O(action=halt) the ring the halt is recorded against (default the ring in progress).
    type: str
  results:
    description:
      - With O(action=record), the install result of each host, by host name. Each is a dict with C(outcome)
        (required; one of the outcomes of M(patchwave.windows.install), for example V(compliant) or V(failed)),
        C(reason) and C(msg); other keys are ignored, so a host's whole install result may be given.
    type: dict
  reason:
    description: With O(action=halt), why the wave halts (required).
    type: str
extends_documentation_fragment:
  - patchwave.windows.store
  - patchwave.windows.attributes
  - patchwave.windows.attributes.controller
attributes:
  check_mode:
    support: full
    details:
      - Computes what the action would do (C(changed), RV(wave) as it would be) and writes nothing.
  diff_mode:
    support: none
notes:
  - The wave's state is in the tables C(waves), C(wave_hosts) and C(wave_events) of the store (schema 10).
seealso:
  - module: patchwave.windows.wave_info
  - module: patchwave.windows.deployment
  - module: patchwave.windows.install
author:
  - patchwave.windows contributors (@patchwave)
"""

EXAMPLES = r"""
- name: Start (or resume) December's wave over two rings
  patchwave.windows.wave:
    action: start
    deployment: 2026-12-security
    rings:
      - name: pilot
        hosts: pilot
        failure_budget: 0
      - name: broad
        hosts: windows
        serial: 25%
        failure_budget: 5%
        wait_after: 60
    hosts_by_ring:
      pilot: "{{ groups['pilot'] }}"
      broad: "{{ groups['windows'] }}"
  delegate_to: localhost
  run_once: true
  register: wave

- name: Record the install results of a batch of the pilot ring
  patchwave.windows.wave:
    action: record
    name: "{{ wave.name }}"
    ring: pilot
    results: "{{ dict(ansible_play_batch | zip(ansible_play_batch | map('extract', hostvars, 'install_result'))) }}"
  delegate_to: localhost
  run_once: true
  register: recorded

- name: The pilot ring is done, the broad ring starts
  patchwave.windows.wave:
    action: finish_ring
    name: "{{ wave.name }}"
    ring: pilot
  delegate_to: localhost
  run_once: true

- name: A health gate failed
  patchwave.windows.wave:
    action: halt
    name: "{{ wave.name }}"
    ring: pilot
    reason: "health gate https://app.example/health answered 503"
  delegate_to: localhost
  run_once: true

- name: Start January's wave under a name a finished wave had
  patchwave.windows.wave:
    action: start
    name: patch-wave
    new: true
    deployment: 2027-01-security
    rings: [{name: all, hosts: windows}]
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
wave:
  description:
    - The wave after this run (as it would be, in check mode), as M(patchwave.windows.wave_info) shows it.
    - With O(action=start) and O(action=finish_ring), RV(name), RV(state), RV(list_version), RV(ring_index) and
      RV(next_ring) are also returned at the top level.
  returned: always
  type: dict
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
name:
  description: The wave's name (the default name when O(name) was not given).
  returned: when O(action=start) or O(action=finish_ring)
  type: str
  sample: "2026-12"
state:
  description: The wave's state, V(running), V(halted) or V(finished).
  returned: when O(action=start) or O(action=finish_ring)
  type: str
  sample: running
list_version:
  description: The frozen list version the wave installs.
  returned: when O(action=start) or O(action=finish_ring)
  type: int
  sample: 4
ring_index:
  description: The 0-based index of the ring in progress.
  returned: when O(action=start) or O(action=finish_ring)
  type: int
  sample: 0
next_ring:
  description: The ring in progress, which the playbook installs next; null when the wave is finished.
  returned: when O(action=start) or O(action=finish_ring)
  type: str
  sample: pilot
pending:
  description: The hosts of each ring, by ring name, whose outcome in the wave is not V(compliant) (not run yet, or to retry).
  returned: when O(action=start)
  type: dict
  sample: {"pilot": ["web01", "web02"], "broad": ["web03", "web04", "web05"]}
event:
  description: What O(action=start) did, V(started), V(resumed), or null (nothing, or only hosts added).
  returned: when O(action=start)
  type: str
  sample: started
hosts_added:
  description: The hosts of O(hosts_by_ring) this run added to the wave, by ring.
  returned: when O(action=start)
  type: dict
  sample: {"pilot": ["web01", "web02"]}
halted:
  description: Whether the wave is halted after this run (a spent budget with O(action=record); always true with O(action=halt)).
  returned: when O(action=record) or O(action=halt)
  type: bool
  sample: false
halt_reason:
  description:
    - With O(action=record), the reason of the halt this run caused (null when the budget holds), naming each failed host.
    - With O(action=halt), O(reason).
  returned: when O(action=record) or O(action=halt)
  type: str
  sample: "ring pilot: 1 host(s) failed, the budget allows 0: web03 (failed: 0x80240022 WU_E_ALL_UPDATES_FAILED)"
failures:
  description: The ring's hosts whose newest outcome counts against the budget.
  returned: when O(action=record)
  type: int
  sample: 1
allowed:
  description: The failures the ring's budget allows (a percentage of its hosts rounded down).
  returned: when O(action=record)
  type: int
  sample: 0
failed_hosts:
  description: The ring's hosts counted against the budget, sorted by host.
  returned: when O(action=record)
  type: list
  elements: dict
  sample: [{"host": "web03", "outcome": "failed", "msg": "0x80240022 WU_E_ALL_UPDATES_FAILED"}]
summary:
  description: The ring's hosts per outcome (every outcome listed), and V(not_run).
  returned: when O(action=record)
  type: dict
  sample: {"compliant": 1, "installed_pending_restart": 0, "waiting_for_window": 0, "skipped": 0, "failed": 1,
           "update_loop": 0, "did_not_return": 0, "unreachable": 0, "not_run": 0}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.module_store import existing_store
from ansible_collections.patchwave.windows.plugins.module_utils._store.address import resolve_store_address, secrets_of
from ansible_collections.patchwave.windows.plugins.module_utils._wave.rules import WaveError
from ansible_collections.patchwave.windows.plugins.module_utils._wave.state import (
    finish_ring,
    halt_wave,
    record_results,
    start_wave,
)

ACTIONS = ("start", "record", "finish_ring", "halt")
# the keys of the wave that start and finish_ring return at the top level as well as in ``wave``
TOP_LEVEL = ("name", "state", "list_version", "ring_index", "next_ring")


def run(store, params, check_mode):
    """The action's result with ``wave``; WaveError names the wave, ring or field at fault."""
    action = params["action"]
    if action == "start":
        result = start_wave(store, params["name"], deployment=params["deployment"], rings=params["rings"],
                            hosts_by_ring=params["hosts_by_ring"], new=params["new"], check_mode=check_mode)
    elif action == "record":
        result = record_results(store, params["name"], params["ring"], params["results"], check_mode=check_mode)
    elif action == "finish_ring":
        result = finish_ring(store, params["name"], params["ring"], check_mode=check_mode)
    else:
        result = halt_wave(store, params["name"], params["reason"], ring=params["ring"], check_mode=check_mode)
    if "wave" in result:
        return result
    # start and finish_ring: the wave, with a few of its keys at the top level too
    extra = ("changed", "pending", "event", "hosts_added", "warnings")
    wave = {k: v for k, v in result.items() if k not in extra}
    return dict({k: v for k, v in result.items() if k in extra or k in TOP_LEVEL}, wave=wave)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            action=dict(type="str", required=True, choices=list(ACTIONS)),
            name=dict(type="str"),
            deployment=dict(type="str"),
            rings=dict(type="list", elements="dict"),
            hosts_by_ring=dict(type="dict"),
            new=dict(type="bool", default=False),
            ring=dict(type="str"),
            results=dict(type="dict"),
            reason=dict(type="str"),
            store=dict(type="str"),
        ),
        required_if=[
            ("action", "record", ("name", "ring", "results")),
            ("action", "finish_ring", ("name", "ring")),
            ("action", "halt", ("name", "reason")),
        ],
        supports_check_mode=True,
    )
    module.no_log_values.update(secrets_of(resolve_store_address(module.params["store"])))  # never echo a DSN's password
    params = module.params
    owner = "wave '%s'" % params["name"] if params["name"] else "wave"
    with existing_store(module, params["store"], failure="%s: %s failed" % (owner, params["action"]),
                        errors=(WaveError,)) as store:
        result = run(store, params, module.check_mode)
    for text in result.pop("warnings", ()):
        module.warn(text)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
