#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: maintenance_window_info
short_description: Whether an instant is inside a host's maintenance windows, and the next windows
version_added: 0.4.0
description:
  - Computes a host's maintenance windows, as Configuration Manager's, from their definitions (the format is in
    C(docs/maintenance_windows.md) of the collection) and says whether O(at) is inside one, which merged window
    that is and which windows open next.
  - Times are wall-clock time in each window's zone; a start in a spring-forward gap moves forward by the gap, an
    ambiguous start (fall-back) is the first occurrence, the duration is elapsed time, and UTC windows do not drift.
  - Overlapping or touching windows merge into one, and the merged window is what RV(current) and RV(next) show
    (and what the fit rule of the install step is evaluated against). Windows are computed up to 400
    days ahead of O(at).
  - A host without windows (O(windows) empty) is always inside one; RV(current) is then null.
  - Runs on the controller and changes nothing.
options:
  windows:
    description:
      - The host's window definitions, each a dict with C(name), C(timezone), C(start), C(duration_minutes),
        C(recurrence) or C(rrule) or C(date), C(effective), C(until) and C(applies_to).
      - For the windows of the host variables C(patchwave_maintenance_windows*) merged, as the collection merges
        them, pass
        C({{ q('ansible.builtin.vars', *q('ansible.builtin.varnames', '^patchwave_maintenance_windows')) | flatten }}).
      - A definition that is not valid fails the task, naming the window and the field.
    type: list
    elements: dict
    required: true
  at:
    description:
      - The instant to look from, ISO 8601 (C(2026-12-05T22:30:00Z), or with an offset; without a zone it is UTC).
      - When not set, now.
    type: str
  count:
    description: How many of the next windows (not yet open at O(at)) to list in RV(next).
    type: int
    default: 3
  applies_to:
    description:
      - The kind of work asking.
      - V(software_updates) applies Configuration Manager's type precedence, when the host has any window of type
        C(software_updates) only those count, else its C(all) windows.
      - V(all) counts every window.
    type: str
    choices: [software_updates, all]
    default: software_updates
  host_timezone:
    description:
      - The host's IANA time zone, for windows whose C(timezone) is C(local).
      - Required when a window is C(local).
    type: str
extends_documentation_fragment:
  - patchwave.windows.attributes
  - patchwave.windows.attributes.controller
  - patchwave.windows.attributes.info_module
seealso:
  - plugin: patchwave.windows.compliance
    plugin_type: inventory
author:
  - patchwave.windows contributors (@patchwave)
"""

EXAMPLES = r"""
- name: Is this host inside one of its maintenance windows now?
  patchwave.windows.maintenance_window_info:
    windows: "{{ q('ansible.builtin.vars', *q('ansible.builtin.varnames', '^patchwave_maintenance_windows')) | flatten }}"
  delegate_to: localhost
  register: window

- name: The next five Patch Tuesday nights in Berlin, from a given instant
  patchwave.windows.maintenance_window_info:
    windows:
      - name: patch-tuesday
        timezone: Europe/Berlin
        start: "22:00"
        duration_minutes: 240
        recurrence:
          frequency: monthly
          week: second
          day: tuesday
          offset_days: 1
    at: "2026-12-01T00:00:00Z"
    count: 5
  delegate_to: localhost
  register: patch_nights

- name: Windows in the host's own zone
  patchwave.windows.maintenance_window_info:
    windows:
      - name: nightly
        timezone: local
        start: "02:00"
        duration_minutes: 120
        recurrence:
          frequency: daily
    host_timezone: America/New_York
  delegate_to: localhost
  register: nightly
"""

RETURN = r"""
in_window:
  description: Whether O(at) is inside a window that counts (always true for a host without windows).
  returned: always
  type: bool
  sample: true
current:
  description: The merged window open at O(at); null when outside every window, or when the host has no windows.
  returned: always
  type: dict
  contains:
    name:
      description: The first window the merged window came from.
      type: str
      sample: sat-night
    names:
      description: Every window the merged window came from, in the order they open.
      type: list
      elements: str
      sample: [sat-night, sql-extra]
    start:
      description: When it opened (UTC, ISO 8601); a chain of touching windows shows from a day before O(at).
      type: str
      sample: "2026-12-05T21:00:00Z"
    end:
      description: When it closes (UTC, ISO 8601).
      type: str
      sample: "2026-12-06T01:00:00Z"
    remaining_minutes:
      description: Whole minutes from O(at) until it closes.
      type: int
      sample: 150
next:
  description: The next O(count) merged windows that have not opened yet at O(at), soonest first.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The first window the merged window came from.
      type: str
      sample: sat-night
    names:
      description: Every window the merged window came from, in the order they open.
      type: list
      elements: str
      sample: [sat-night]
    start:
      description: When it opens (UTC, ISO 8601).
      type: str
      sample: "2026-12-12T21:00:00Z"
    end:
      description: When it closes (UTC, ISO 8601).
      type: str
      sample: "2026-12-13T01:00:00Z"
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import (
    format_time,
    parse_time,
    utc_now,
)
from ansible_collections.patchwave.windows.plugins.module_utils._windows.definitions import (
    APPLIES_TO,
    LOCAL_ZONE,
    WindowDefinitionError,
    check_zone,
    parse_windows,
)
from ansible_collections.patchwave.windows.plugins.module_utils._windows.merge import current_and_next


def window_entry(merged):
    """A merged window as the module returns it."""
    return {"name": merged.name, "names": list(merged.names), "start": format_time(merged.start),
            "end": format_time(merged.end)}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            windows=dict(type="list", elements="dict", required=True),
            at=dict(type="str"),
            count=dict(type="int", default=3),
            applies_to=dict(type="str", choices=list(APPLIES_TO), default="software_updates"),
            host_timezone=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params["count"] < 0:
        module.fail_json(msg="count must be 0 or more, not %d" % params["count"])
    host_timezone = params["host_timezone"]
    if host_timezone is not None:
        problem = check_zone(host_timezone)
        if problem:
            module.fail_json(msg="host_timezone: %s" % problem)
    try:
        at = parse_time(params["at"], "instant") if params["at"] is not None else utc_now().replace(microsecond=0)
    except ValueError as exc:
        module.fail_json(msg="at: %s" % exc)
    try:
        windows = parse_windows(params["windows"])
    except WindowDefinitionError as exc:
        module.fail_json(msg=str(exc))
    local = [w.name for w in windows if w.timezone == LOCAL_ZONE]
    if local and host_timezone is None:
        module.fail_json(msg="window '%s': timezone: 'local' needs the host's zone: give host_timezone" % local[0])

    state = current_and_next(windows, at, count=params["count"], applies_to=params["applies_to"],
                             host_timezone=host_timezone)
    current = None
    if state.current is not None:
        current = window_entry(state.current)
        current["remaining_minutes"] = int((state.current.end - at).total_seconds() // 60)
    module.exit_json(changed=False, in_window=state.in_window, current=current,
                     next=[window_entry(w) for w in state.next])


if __name__ == "__main__":
    main()
