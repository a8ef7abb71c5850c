#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: catalog_info
short_description: Query the update catalog in the patchwave store
version_added: 0.1.0
description:
  - Lists updates of the synchronized catalog by product, classification, severity, KB, title,
    release date, supersedence or update id, with their supersedence in both directions, their
    bundled updates, files and categories.
  - Every filter narrows the result; with none, all current software updates are listed.
  - Runs on the controller and never changes anything.
options:
  update_ids:
    description: Only these updates (GUIDs). Bundle members can be named here directly.
    type: list
    elements: str
    default: []
  kbs:
    description: Only updates with these KB numbers (C(5046616) or C(KB5046616)).
    type: list
    elements: str
    default: []
  products:
    description: Only updates of these products, by GUID or title.
    type: list
    elements: str
    default: []
  classifications:
    description: Only updates of these classifications, by GUID or title (for example C(Security Updates)).
    type: list
    elements: str
    default: []
  severities:
    description: Only updates with these MSRC severities; V(Unspecified) matches updates without one.
    type: list
    elements: str
    choices: [Critical, Important, Moderate, Low, Unspecified]
    default: []
  title:
    description:
      - Only updates whose title, in any kept language, matches. C(*) and C(?) are wildcards; without
        them the text matches anywhere in the title. Case does not matter.
    type: str
  released_after:
    description:
      - Only updates released on or after this date, in ISO 8601.
      - A date means midnight; a date-time may end in C(Z), carry an offset, or have no zone, meaning UTC.
    type: str
  released_before:
    description:
      - Only updates released on or before this date, in ISO 8601.
      - A date means midnight; a date-time may end in C(Z), carry an offset, or have no zone, meaning UTC.
    type: str
  superseded:
    description:
      - V(true) lists only updates that a current update supersedes, V(false) only those that none does.
        Not set lists both.
    type: bool
  kinds:
    description: Kinds of update to list.
    type: list
    elements: str
    choices: [software, driver, category, detectoid]
    default: [software]
  include_expired:
    description: Also list expired updates.
    type: bool
    default: false
  include_bundle_members:
    description:
      - Also list the payload updates that bundles contain. They are not deployed on their own; their
        files are listed under their bundle either way.
    type: bool
    default: false
  languages:
    description: Preferred languages for descriptions.
    type: list
    elements: str
    default: [en]
  limit:
    description: At most this many updates, newest release first. C(0) means no limit.
    type: int
    default: 0
extends_documentation_fragment:
  - patchwave.windows.store
  - patchwave.windows.attributes
  - patchwave.windows.attributes.controller
  - patchwave.windows.attributes.info_module
seealso:
  - module: patchwave.windows.catalog_sync
author:
  - patchwave.windows contributors (@patchwave)
"""

EXAMPLES = r"""
- name: Critical security updates for Windows Server 2022 released this month that nothing supersedes
  patchwave.windows.catalog_info:
    products: [Microsoft Server operating system-21H2]
    classifications: [Security Updates]
    severities: [Critical]
    released_after: "2026-11-01"
    superseded: false
  register: critical

- name: One KB with its files and what it supersedes
  patchwave.windows.catalog_info:
    kbs: [KB5046616]
  register: kb

- name: Titles matching a pattern, at most 20
  patchwave.windows.catalog_info:
    title: "*Cumulative Update*Windows 11*"
    limit: 20
"""

RETURN = r"""
catalog_version:
  description: The store's current catalog version; null for an empty store.
  returned: always
  type: int
  sample: 7
count:
  description: Number of updates returned.
  returned: always
  type: int
  sample: 1
updates:
  description: The matching updates, newest release first.
  returned: always
  type: list
  elements: dict
  contains:
    update_id:
      description: The update's GUID.
      type: str
      sample: 5a9d4f2e-3c1b-4e8f-9a7d-2b6c1e0f4a3d
    revision_number:
      description: The revision kept in the store (the highest the catalog holds).
      type: int
    title:
      description: The title in the preferred language.
      type: str
      sample: 2026-11 Cumulative Update for Microsoft server operating system version 21H2 for x64-based Systems (KB5046616)
    titles:
      description: Titles by language.
      type: dict
    kb:
      description: The first KB number; C(kbs) has all.
      type: str
      sample: "5046616"
    msrc_severity:
      description: MSRC severity, when the update has one.
      type: str
      sample: Critical
    release_date:
      description: Release date, ISO 8601 UTC.
      type: str
      sample: "2026-11-10T18:00:00Z"
    products:
      description: Products (id, title) the update belongs to.
      type: list
      elements: dict
    classifications:
      description: Classifications (id, title).
      type: list
      elements: dict
    supersedes:
      description: Updates this one supersedes (update_id, title, kb, in_catalog); links to updates absent from the catalog are kept with in_catalog false.
      type: list
      elements: dict
    superseded_by:
      description: Updates that supersede this one.
      type: list
      elements: dict
    bundled_updates:
      description: Updates this bundle contains.
      type: list
      elements: dict
    files:
      description: Files of the update and of its bundled updates, with name, size, sha1, sha256 (base64) and urls.
      type: list
      elements: dict
    reboot_behavior:
      description: NeverReboots, AlwaysRequiresReboot or CanRequestReboot.
      type: str
    expired:
      description: Whether the update is expired.
      type: bool
    first_catalog_version:
      description: The catalog version the update arrived in.
      type: int
unknown_categories:
  description: Product or classification names that matched nothing in the catalog.
  returned: always
  type: list
  elements: str
  sample: []
"""

import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.query import (
    current_version,
    describe_updates,
    select_update_ids,
)
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.update_sets import (
    FILTER_SPEC,
    filter_from_params,
)
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_collections.patchwave.windows.plugins.module_utils._store.errors import StoreError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            languages=dict(type="list", elements="str", default=["en"]),
            limit=dict(type="int", default=0),
            store=dict(type="str"),
            **FILTER_SPEC
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params["limit"] < 0:
        module.fail_json(msg="limit must be 0 (no limit) or more, not %d" % params["limit"])
    try:
        update_filter = filter_from_params(params)
    except ValueError as exc:
        module.fail_json(msg=str(exc))

    store = None
    try:
        store = open_store(params["store"], create=False)  # a reader never creates a store
        version = current_version(store)
        ids, unknown = select_update_ids(store, update_filter, limit=params["limit"])
        updates = describe_updates(store, ids, languages=tuple(params["languages"] or ["en"]))
    except StoreError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:
        module.fail_json(msg="catalog query failed: %s" % exc, exception=traceback.format_exc())
    finally:
        if store is not None:
            store.close()
    module.exit_json(changed=False, catalog_version=version, count=len(updates), updates=updates,
                     unknown_categories=unknown)


if __name__ == "__main__":
    main()
