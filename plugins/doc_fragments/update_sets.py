# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Named update sets and the staleness policy, shared by compliance_info, compliance_report and
    the compliance inventory plugin."""

    DOCUMENTATION = r"""
options:
  update_sets:
    description:
      - Named sets of updates to measure compliance against, besides the set V(all) (every current
        software update of the catalog), which is always evaluated.
      - Each set selects updates like M(patchwave.windows.catalog_info) does; every key narrows the
        selection. A product or classification the catalog does not know is an error naming the set.
      - A host is compliant with a set when every update in it is Installed or Not Required,
        non-compliant when any is Required, and unknown otherwise.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The set's name, a word of letters, digits and C(_); V(all) is reserved.
        type: str
        required: true
      update_ids:
        description: Only these updates (GUIDs).
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
        description: Only updates of these classifications, by GUID or title.
        type: list
        elements: str
        default: []
      severities:
        description: Only updates with these MSRC severities.
        type: list
        elements: str
        choices: [Critical, Important, Moderate, Low, Unspecified]
        default: []
      title:
        description: Only updates whose title matches (C(*) and C(?) are wildcards; else a substring).
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
        description: V(true) only superseded updates, V(false) only updates nothing current supersedes.
        type: bool
      kinds:
        description: Kinds of update.
        type: list
        elements: str
        choices: [software, driver, category, detectoid]
        default: [software]
      include_expired:
        description: Also expired updates.
        type: bool
        default: false
      include_bundle_members:
        description: Also the payload updates that bundles contain.
        type: bool
        default: false
  stale_after_days:
    description:
      - A host whose newest scan is older than this many days is Unknown (detail V(stale)) for every
        update. V(0) turns the staleness policy off.
    type: int
    default: 7
"""
