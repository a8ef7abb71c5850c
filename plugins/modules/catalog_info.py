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
  - Every filter narrows the result; with none, all current software updates are listed except
    Microsoft's optional previews (O(previews)).
  - A product or classification the catalog does not know is a warning naming the closest names the
    catalog knows (RV(unknown_categories) lists the unknown names); the other names still select.
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
      - Decided within the selection. V(false) leaves out an update only when another update this query
        selects supersedes it; V(true) lists only those. Not set lists both.
      - So an update superseded only by one the other options leave out (such as next month's optional
        preview when O(previews) is not true) is listed with V(false); RV(updates[].superseded_by) shows
        every update of the catalog that supersedes it.
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
  previews:
    description:
      - Microsoft's optional non-security preview releases, recognized by title in any kept language
        (C(Cumulative Update Preview), C(Preview of Monthly Quality Rollup), C(Preview of Quality Rollup),
        C(Kumulatives Update (Vorschau))) and by carrying no MSRC severity.
      - V(false) leaves them out, V(true) keeps them. Not set leaves them out unless O(update_ids) or
        O(kbs) names updates (a preview named by its KB is listed).
    type: bool
  exclude_titles:
    description:
      - Leave out updates whose title, in any kept language, matches one of these patterns.
      - Shell-style wildcards (as fnmatch), case-insensitive; C(*) is any text and C(?) one character,
        and a pattern without them matches anywhere in the title. C([) is an ordinary character.
    type: list
    elements: str
    default: []
  exclude_kbs:
    description:
      - Leave out updates with a KB number matching one of these patterns (C(KB5046616), C(5046616),
        C(KB50466*)).
      - The pattern matches the whole number; C(*) and C(?) are wildcards, the C(KB) prefix is optional.
    type: list
    elements: str
    default: []
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
- name: Critical security updates for Windows Server 2022 released this month, without those another of them supersedes
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

- name: Windows 11 updates with the optional previews, but no .NET and not KB5043080
  patchwave.windows.catalog_info:
    products: [Windows 11]
    previews: true
    exclude_titles: ["*.NET Framework*"]
    exclude_kbs: [KB5043080]
"""

RETURN = r"""
catalog_version:
  description: The store's current catalog version; null for a store without a catalog.
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
      sample: 200
    title:
      description: The title in the preferred language.
      type: str
      sample: 2026-11 Cumulative Update for Microsoft server operating system version 21H2 for x64-based Systems (KB5046616)
    titles:
      description: Titles by language (the language code is the key).
      type: dict
      sample: {"en": "2026-11 Cumulative Update for Microsoft server operating system version 21H2 for x64-based Systems (KB5046616)"}
    description:
      description: The description in the preferred language (else in another one); null when the catalog has none.
      type: str
      sample: Install this update to resolve issues in Windows.
    kind:
      description: V(software), V(driver), V(category) or V(detectoid).
      type: str
      sample: software
    category_type:
      description: For a category, its type (V(Company), V(ProductFamily), V(Product), V(UpdateClassification)); null for other kinds.
      type: str
      sample: Product
    kb:
      description: The first KB number, without the C(KB) prefix; RV(updates[].kbs) has all; null when the update has none.
      type: str
      sample: "5046616"
    kbs:
      description: All the update's KB numbers, without the C(KB) prefix.
      type: list
      elements: str
      sample: ["5046616"]
    msrc_severity:
      description: MSRC severity; null when the update has none.
      type: str
      sample: Critical
    release_date:
      description: Release date, ISO 8601 UTC; null when the catalog gives none.
      type: str
      sample: "2026-11-10T18:00:00Z"
    reboot_behavior:
      description: V(NeverReboots), V(AlwaysRequiresReboot) or V(CanRequestReboot); null when the catalog gives none.
      type: str
      sample: CanRequestReboot
    impact:
      description: The install impact the catalog states (V(Normal), V(Minor), V(RequiresExclusiveHandling)); null when it states none.
      type: str
      sample: Normal
    max_download_size:
      description: The largest download the update may need, in bytes, as the catalog states it; null when it states none.
      type: int
      sample: 512000000
    is_bundle:
      description: Whether the update bundles others (its payload is in RV(updates[].bundled_updates)).
      type: bool
      sample: true
    support_url:
      description: The support page the catalog names; null when it names none.
      type: str
      sample: https://support.microsoft.com/help/5046616
    security_bulletins:
      description: Security bulletin ids the catalog gives.
      type: list
      elements: str
      sample: []
    source:
      description: The source name the update is kept under.
      type: str
      sample: microsoft-update
    first_catalog_version:
      description: The catalog version the update arrived in.
      type: int
      sample: 3
    changed_catalog_version:
      description: The catalog version that last changed the update.
      type: int
      sample: 5
    expired:
      description: Whether the update is expired.
      type: bool
      sample: false
    expired_catalog_version:
      description: The catalog version that expired the update; null when it is not expired.
      type: int
      sample: 6
    products:
      description: Products the update belongs to.
      type: list
      elements: dict
      contains:
        id:
          description: The product's GUID.
          type: str
          sample: f702a48c-919b-45d6-9aef-ca4248d50397
        title:
          description: The product's title; null when the catalog lacks the category.
          type: str
          sample: Windows Server 2019
    classifications:
      description: Classifications of the update.
      type: list
      elements: dict
      contains:
        id:
          description: The classification's GUID.
          type: str
          sample: 0fa1201d-4330-4fa8-8ae9-b877473b6441
        title:
          description: The classification's title; null when the catalog lacks the category.
          type: str
          sample: Security Updates
    categories:
      description: Every category the update belongs to, products and classifications among them.
      type: list
      elements: dict
      contains:
        id:
          description: The category's GUID.
          type: str
          sample: 56309036-4c77-4dd9-951a-99ee9c246a94
        title:
          description: The category's title; null when the catalog lacks the category.
          type: str
          sample: Microsoft Corporation
        type:
          description: The category's type; null when the catalog lacks the category.
          type: str
          sample: Company
    prerequisites:
      description:
        - The update's prerequisites as clauses (every clause must be met; a clause is met by any of its update ids).
      type: list
      elements: list
      sample: [["4c222524-2990-52f5-a723-678cf58ea6e9"]]
    supersedes:
      description: Updates this one supersedes; links to updates absent from the catalog are kept with RV(updates[].supersedes[].in_catalog=false).
      type: list
      elements: dict
      contains:
        update_id:
          description: The linked update's GUID.
          type: str
          sample: 0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d
        title:
          description: The linked update's title; null when it is not in the catalog.
          type: str
          sample: 2026-10 Cumulative Update for Microsoft server operating system version 21H2 for x64-based Systems (KB5044281)
        kb:
          description: The linked update's first KB number; null when it has none or is not in the catalog.
          type: str
          sample: "5044281"
        in_catalog:
          description: Whether the catalog holds the linked update.
          type: bool
          sample: true
    superseded_by:
      description: Updates that supersede this one.
      type: list
      elements: dict
      contains:
        update_id:
          description: The linked update's GUID.
          type: str
          sample: 0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d
        title:
          description: The linked update's title; null when it is not in the catalog.
          type: str
          sample: 2026-10 Cumulative Update for Microsoft server operating system version 21H2 for x64-based Systems (KB5044281)
        kb:
          description: The linked update's first KB number; null when it has none or is not in the catalog.
          type: str
          sample: "5044281"
        in_catalog:
          description: Whether the catalog holds the linked update.
          type: bool
          sample: true
    bundled_updates:
      description: Updates this bundle contains.
      type: list
      elements: dict
      contains:
        update_id:
          description: The linked update's GUID.
          type: str
          sample: 0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d
        title:
          description: The linked update's title; null when it is not in the catalog.
          type: str
          sample: 2026-10 Cumulative Update for Microsoft server operating system version 21H2 for x64-based Systems (KB5044281)
        kb:
          description: The linked update's first KB number; null when it has none or is not in the catalog.
          type: str
          sample: "5044281"
        in_catalog:
          description: Whether the catalog holds the linked update.
          type: bool
          sample: true
    bundled_by:
      description: Bundles that contain this update.
      type: list
      elements: dict
      contains:
        update_id:
          description: The linked update's GUID.
          type: str
          sample: 0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d
        title:
          description: The linked update's title; null when it is not in the catalog.
          type: str
          sample: 2026-10 Cumulative Update for Microsoft server operating system version 21H2 for x64-based Systems (KB5044281)
        kb:
          description: The linked update's first KB number; null when it has none or is not in the catalog.
          type: str
          sample: "5044281"
        in_catalog:
          description: Whether the catalog holds the linked update.
          type: bool
          sample: true
    files:
      description: Files of the update and of the updates it bundles.
      type: list
      elements: dict
      contains:
        name:
          description: The file's name.
          type: str
          sample: windows10.0-kb5046616-x64.cab
        sha1:
          description: SHA-1 of the file, base64 as Microsoft gives it; null when the catalog gives only SHA-256.
          type: str
          sample: 3q2+7w==
        sha256:
          description: SHA-256 of the file, base64; null when the catalog gives none.
          type: str
          sample: n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=
        size:
          description: The file's size in bytes; null when the catalog gives none.
          type: int
          sample: 512000000
        modified:
          description: The file's modification time, ISO 8601 UTC; null when the catalog gives none.
          type: str
          sample: "2026-11-06T22:14:03Z"
        urls:
          description: Where the file can be downloaded.
          type: list
          elements: str
          sample: ["http://download.windowsupdate.com/c/msdownload/update/software/secu/2026/11/windows10.0-kb5046616-x64.cab"]
        from_update:
          description: The update whose file it is (the bundle itself or one of its bundled updates).
          type: str
          sample: 7e1f0b2a-9c3d-4e5f-8a6b-1c2d3e4f5a6b
unknown_categories:
  description:
    - Product or classification names that matched nothing in the catalog; each is also a warning
      naming the closest names the catalog knows.
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
    unknown_category_messages,
)
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.update_sets import (
    FILTER_SPEC,
    filter_from_params,
)
from ansible_collections.patchwave.windows.plugins.module_utils._store.address import resolve_store_address, secrets_of
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
    module.no_log_values.update(secrets_of(resolve_store_address(module.params["store"])))  # never echo a DSN's password
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
        warnings = unknown_category_messages(store, update_filter) if unknown else []
        updates = describe_updates(store, ids, languages=tuple(params["languages"] or ["en"]))
    except StoreError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:
        module.fail_json(msg="catalog query failed: %s" % exc, exception=traceback.format_exc())
    finally:
        if store is not None:
            store.close()
    for text in warnings:
        module.warn(text)
    module.exit_json(changed=False, catalog_version=version, count=len(updates), updates=updates,
                     unknown_categories=unknown)


if __name__ == "__main__":
    main()
