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
        software update of the catalog except Microsoft's optional previews), which is always evaluated.
      - Each set selects updates like M(patchwave.windows.catalog_info) does; every key narrows the
        selection. A product or classification the catalog does not know is an error naming the set
        and the closest names the catalog knows (a typo must not narrow what hosts are measured against).
      - A set may instead name a stored update list, O(update_sets[].update_list) (with O(update_sets[].version));
        its updates are then exactly the members of that frozen version, so a set such as C(security) is
        defined once, with M(patchwave.windows.update_list), and measured the same way everywhere. Filter keys
        cannot be combined with it; a list that does not exist, has no frozen version or lacks the version
        asked for is an error naming the set and the list.
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
      update_list:
        description:
          - The name of a stored update list (M(patchwave.windows.update_list)); the set is the members of its
            frozen version O(update_sets[].version). No filter key may be given with it.
        type: str
        version_added: 0.2.0
      version:
        description:
          - With O(update_sets[].update_list), the list version to use. When not set, the newest frozen version.
        type: int
        version_added: 0.2.0
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
        description:
          - Decided within the set. V(false) leaves out an update only when another update the same set
            selects supersedes it; V(true) keeps only those. Not set keeps both.
          - So this month's security cumulative update stays in a security set although this month's
            optional preview supersedes it, as long as the set does not select the preview.
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
      previews:
        description:
          - Microsoft's optional non-security preview releases (title C(Cumulative Update Preview),
            C(Preview of Monthly Quality Rollup), C(Preview of Quality Rollup) or C(Kumulatives Update (Vorschau)),
            no MSRC severity).
          - V(false) leaves them out, V(true) keeps them. Not set leaves them out unless O(update_sets[].update_ids)
            or O(update_sets[].kbs) names updates; so the set V(all) has no previews.
        type: bool
      exclude_titles:
        description:
          - Leave out updates whose title matches one of these patterns, shell-style wildcards (as fnmatch),
            case-insensitive, C(*) any text and C(?) one character; without them, anywhere in the title.
        type: list
        elements: str
        default: []
      exclude_kbs:
        description:
          - Leave out updates with a KB number matching one of these patterns (C(KB5046616), C(KB50466*));
            the whole number is matched, the C(KB) prefix is optional.
        type: list
        elements: str
        default: []
  stale_after_days:
    description:
      - A host whose newest scan is older than this many days is Unknown (detail V(stale)) for every
        update. V(0) turns the staleness policy off.
    type: int
    default: 7
"""
