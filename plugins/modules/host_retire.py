#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: host_retire
short_description: Retire hosts from compliance evaluation, reports and the inventory
version_added: 0.2.0
description:
  - Marks hosts of the store as retired (decommissioned, renamed, rebuilt under another name), by name
    or because they have not been seen for a number of days. Retired hosts leave
    M(patchwave.windows.compliance_info), M(patchwave.windows.compliance_report) (figures, trend and
    tables) and the P(patchwave.windows.compliance#inventory) inventory plugin's groups.
  - Their scan history stays in the store and is pruned under the retention policy like any other
    (E(PATCHWAVE_HISTORY_DAYS)); nothing is deleted.
  - A retired host that scans again (or fails an attempt) reports again and is back in evaluation
    at once. O(state=active) brings hosts back by hand.
  - A retired host that a reader still names (O(patchwave.windows.compliance_info#module:hosts), an
    inventory host) is reported as never scanned, with a warning from M(patchwave.windows.compliance_info).
  - Runs on the controller; state messages waiting in the spool are ingested first, so a host that
    reported a moment ago counts as seen. The change is one transaction.
options:
  hosts:
    description:
      - Host names (inventory names, as the store records them) to retire, or to bring back with O(state=active).
      - A name the store does not know is reported in a warning and changes nothing.
    type: list
    elements: str
    default: []
  not_seen_days:
    description:
      - Also retire every host whose newest scan or attempt is older than this many days (the controller's
        clock). Only with O(state=retired).
    type: int
  state:
    description: V(retired) retires the hosts; V(active) brings retired hosts back into evaluation.
    type: str
    choices: [retired, active]
    default: retired
  reason:
    description: Why the hosts are retired, kept with them and shown in warnings (for example a change ticket).
    type: str
extends_documentation_fragment:
  - patchwave.windows.store
  - patchwave.windows.store.spool
  - patchwave.windows.attributes
  - patchwave.windows.attributes.controller
attributes:
  check_mode:
    support: full
    details:
      - Lists the hosts that would change and changes nothing (waiting state messages are still ingested).
  diff_mode:
    support: full
    details:
      - The retired hosts before and after.
notes:
  - "Example: retire what has not been seen for 45 days each month, before the report, so a decommissioned
    server stops counting as Unknown."
seealso:
  - module: patchwave.windows.compliance_info
  - plugin: patchwave.windows.compliance
    plugin_type: inventory
author:
  - patchwave.windows contributors (@patchwave)
"""

EXAMPLES = r"""
- name: Retire two decommissioned servers
  patchwave.windows.host_retire:
    hosts: [web07, sql03]
    reason: CHG0042 decommissioned

- name: Show which hosts have not reported for 45 days (check mode changes nothing)
  patchwave.windows.host_retire:
    not_seen_days: 45
  check_mode: true
  register: stale

- name: Bring a rebuilt server back before its first scan
  patchwave.windows.host_retire:
    hosts: [web07]
    state: active
"""

RETURN = r"""
hosts:
  description: The hosts this run retired (or brought back), or would in check mode, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The host's name.
      type: str
      sample: web07
    last_seen:
      description: When the host's newest scan or attempt was received (ISO 8601 UTC).
      type: str
      sample: "2026-10-01T06:10:00Z"
    retired_at:
      description: When it was retired by this run; null with O(state=active) or in check mode.
      type: str
      sample: "2026-12-05T16:40:00Z"
unknown:
  description: Named hosts the store does not know (nothing was changed for them).
  returned: always
  type: list
  elements: str
  sample: [web7]
retired:
  description: Every retired host after this run (as it would be in check mode), sorted.
  returned: always
  type: list
  elements: str
  sample: [sql03, web07]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.patchwave.windows.plugins.module_utils._compliance import retire
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.module_store import ingested_store
from ansible_collections.patchwave.windows.plugins.module_utils._store.address import resolve_store_address, secrets_of
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import utc_now


def main():
    module = AnsibleModule(
        argument_spec=dict(
            hosts=dict(type="list", elements="str", default=[]),
            not_seen_days=dict(type="int"),
            state=dict(type="str", default="retired", choices=["retired", "active"]),
            reason=dict(type="str"),
            store=dict(type="str"),
            spool=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    module.no_log_values.update(secrets_of(resolve_store_address(module.params["store"])))  # never echo a DSN's password
    params = module.params
    if params["not_seen_days"] is not None:
        if params["state"] == "active":
            module.fail_json(msg="not_seen_days only selects hosts to retire; name the hosts to bring back in hosts")
        if params["not_seen_days"] < 1:
            module.fail_json(msg="not_seen_days must be 1 or more, not %d" % params["not_seen_days"])
    if not params["hosts"] and params["not_seen_days"] is None:
        module.fail_json(msg="give the hosts to %s in hosts%s" % (
            "retire" if params["state"] == "retired" else "bring back",
            ", or not_seen_days" if params["state"] == "retired" else ""))

    now = utc_now()
    with ingested_store(module, params["store"], params["spool"], failure="retiring hosts failed") as (store, _ingested):
        known = retire.host_rows(store)
        changes, unknown = retire.plan(known, params["state"], params["hosts"], params["not_seen_days"], now)
        before = sorted(name for name, facts in known.items() if facts["retired_at"])
        stamp = None
        if changes and not module.check_mode:
            stamp = retire.apply(store, params["state"], changes, params["reason"], now)
    changed_names = {change["name"] for change in changes}
    after = sorted(set(before) | changed_names) if params["state"] == "retired" else sorted(set(before) - changed_names)
    for name in unknown:
        module.warn("host %s is not known to the store (never scanned, or a typo): nothing to %s"
                    % (name, "retire" if params["state"] == "retired" else "bring back"))
    result = dict(changed=bool(changes), unknown=unknown, retired=after,
                  hosts=[{"name": c["name"], "last_seen": c["last_seen"], "retired_at": stamp} for c in changes])
    if module._diff:
        result["diff"] = {"before": {"retired": before}, "after": {"retired": after}}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
