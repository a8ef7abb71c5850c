#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: content_stage
short_description: Put a deployment package's files on distribution points
version_added: 0.2.0
description:
  - Copies the files of a package built by M(patchwave.windows.deployment_package) from the content
    library to each distribution point, in WSUS's content layout
    C(<root>/<last two hex digits of the SHA-1>/<SHA-1 in upper case>.<extension>) (a file with only a
    SHA-256 goes to C(<root>/sha256/<last two hex digits>/<SHA-256 in upper case>.<extension>)), so a WSUS
    server's C(WsusContent) folder (served by its IIS) works as a distribution point as it is, and a folder
    staged here can be published by IIS or nginx without rewriting.
  - Only missing or changed files are copied, decided from the store's record and the sizes of the files
    on the point, never by reading them back. Each file is written under a temporary name while its digest
    is computed, renamed once complete, and its size on the point checked. Free space is checked before
    anything is copied. A second run of the same package copies nothing.
  - O(prune=true) removes the files this collection staged on the point (as the store records them) that
    no staged package references any more, and nothing else; a WSUS server's own content is safe.
  - The store records which content version of which package is on which point, and when it was verified.
  - Runs on the controller.
options:
  package:
    description: The package's name.
    type: str
    required: true
  content_version:
    description: The package's content version to stage; the newest when not set.
    type: int
  library:
    description: The content library the package was downloaded into; the one the package records when not set.
    type: path
  distribution_points:
    description:
      - The points to stage on, each the name of a stored point (M(patchwave.windows.distribution_point)), or
        a definition with that module's options (C(name), C(type), C(server), C(port), C(share), C(folder),
        C(encrypt), C(path), C(host_url)), which is stored too.
    type: list
    elements: raw
    required: true
  username:
    description: The user for SMB points (C(DOMAIN\\user) or C(user@domain)); never stored.
    type: str
  password:
    description: The password for SMB points; never stored.
    type: str
  prune:
    description: Also remove the files this collection staged on the point that no staged package references any more.
    type: bool
    default: false
  offline_scan_file:
    description:
      - Also stage the catalog's offline scan package as C(<root>/wsusscn2.cab), so hosts that reach only
        the point can scan offline against the same catalog version.
      - Only when the current catalog version was synced from an offline scan package that is still at its
        path and unchanged (its SHA-256 as the sync recorded it), so hosts scan against the store's catalog version.
    type: bool
    default: false
extends_documentation_fragment:
  - patchwave.windows.store
  - patchwave.windows.attributes
  - patchwave.windows.attributes.controller
attributes:
  check_mode:
    support: full
    details:
      - Connects to each point and says what would be copied, skipped and pruned; writes nothing.
  diff_mode:
    support: full
    details:
      - Which content version of the package each distribution point holds, before and after.
seealso:
  - module: patchwave.windows.deployment_package
  - module: patchwave.windows.distribution_point
author:
  - patchwave.windows contributors (@patchwave)
"""

EXAMPLES = r"""
- name: Stage this month's package on the branch share and the web root, removing what no package needs
  patchwave.windows.content_stage:
    package: security-2026-12
    distribution_points: [branch-fs01, web]
    username: "{{ dp_user }}"
    password: "{{ dp_password }}"
    prune: true
"""

RETURN = r"""
package:
  description: The package's name.
  returned: always
  type: str
  sample: security-2026-12
content_version:
  description: The content version staged.
  returned: always
  type: int
  sample: 2
distribution_points:
  description: Per distribution point, what was copied, skipped (already there) and pruned (or would be, in check mode).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The distribution point.
      type: str
      sample: branch-fs01
    location:
      description: Where the files went (a UNC path or a folder).
      type: str
      sample: \\fs01.example.com\patches\WsusContent
    copied:
      description: Files copied, C({files, bytes}).
      type: dict
      sample: {"files": 4, "bytes": 734003200}
    skipped:
      description: Files already there with the right size, C({files, bytes}).
      type: dict
      sample: {"files": 27, "bytes": 339738624}
    pruned:
      description: Files removed by O(prune), C({files, bytes}).
      type: dict
      sample: {"files": 0, "bytes": 0}
    offline_scan:
      description: The offline scan package, C({copied, skipped}) each C({files, bytes}).
      type: dict
      returned: with O(offline_scan_file=true)
      sample: {"copied": {"files": 1, "bytes": 1073741824}, "skipped": {"files": 0, "bytes": 0}}
    changed:
      description: Whether this point changed.
      type: bool
      sample: true
"""

import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.patchwave.windows.plugins.module_utils._content.package import package_files
from ansible_collections.patchwave.windows.plugins.module_utils._content.payload import ContentError
from ansible_collections.patchwave.windows.plugins.module_utils._distribution import points, records
from ansible_collections.patchwave.windows.plugins.module_utils._distribution.errors import DistributionError
from ansible_collections.patchwave.windows.plugins.module_utils._store.address import resolve_store_address, secrets_of
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_collections.patchwave.windows.plugins.module_utils._store.errors import StoreError


def resolve_points(module, store, entries):
    """``[(row, stored)]``: each point's definition (inline ones checked), and whether it must be stored."""
    resolved = []
    for entry in entries:
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, dict) or not entry.get("name"):
            module.fail_json(msg="distribution_points: each entry is a stored point's name or a definition with a name, "
                                 "not %r" % (entry,))
        secrets = sorted(set(entry) & set(points.SECRET_KEYS))
        if secrets:
            module.fail_json(msg="distribution point '%s': give %s in the module's username/password options (no_log), "
                                 "not in the definition" % (entry["name"], " and ".join(secrets)))
        before = points.read_point(store, entry["name"])
        if set(entry) == {"name"}:
            if before is None:
                module.fail_json(msg="distribution point '%s' is not defined: define it with distribution_point, or "
                                     "give its definition here" % entry["name"])
            resolved.append((before, False))
            continue
        try:
            name, kind, settings, host_url = points.check_definition(entry)
        except points.PointError as exc:
            module.fail_json(msg=str(exc))
        row = {"name": name, "kind": kind, "settings": settings, "host_url": host_url}
        same = before is not None and (before["kind"], before["settings"], before["host_url"]) == (kind, settings, host_url)
        resolved.append((dict(row, before=before), not same))
    return resolved


def main():
    module = AnsibleModule(
        argument_spec=dict(
            package=dict(type="str", required=True),
            content_version=dict(type="int"),
            library=dict(type="path"),
            distribution_points=dict(type="list", elements="raw", required=True),
            username=dict(type="str"),
            password=dict(type="str", no_log=True),
            prune=dict(type="bool", default=False),
            offline_scan_file=dict(type="bool", default=False),
            store=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    module.no_log_values.update(secrets_of(resolve_store_address(params["store"])))  # never echo a DSN's password
    # A definition is raw data, so Ansible cannot mask a password put in it (it is refused below):
    # mask it in everything this run returns, the echoed arguments included.
    for entry in params["distribution_points"] or ():
        if isinstance(entry, dict):
            module.no_log_values.update(str(entry[key]) for key in points.SECRET_KEYS if entry.get(key))
    try:
        store = open_store(resolve_store_address(params["store"]), create=False)
    except StoreError as exc:
        module.fail_json(msg=str(exc))
    results = []
    try:
        try:
            package, version, rows = package_files(store, params["package"], params["content_version"])
        except ContentError as exc:
            module.fail_json(msg=str(exc))
        library = params["library"] or package["library"]
        before = {row["point"]: row["content_version"] for row in records.staged_packages(store, params["package"])}
        scan_source = None
        if params["offline_scan_file"]:
            scan_source, why = records.offline_scan_source(store)
            if scan_source is None:
                module.fail_json(msg="offline_scan_file: %s, so there is none to stage" % why)
        for row, store_it in resolve_points(module, store, params["distribution_points"]):
            if store_it and not module.check_mode:
                with store.transaction() as cursor:
                    points.save_point(cursor, row["name"], row["kind"], row["settings"], row["host_url"], row["before"])
            target = points.target(row["name"], row["kind"], row["settings"], params["username"], params["password"])
            try:
                target.connect(create=not module.check_mode)
                try:
                    outcome = records.stage_on_point(store, target, params["package"], version, rows, library,
                                                     params["prune"], module.check_mode)
                    if scan_source:
                        outcome["offline_scan"] = records.put_offline_scan(store, target, scan_source, module.check_mode)
                        outcome["changed"] = outcome["changed"] or bool(outcome["offline_scan"]["copied"]["files"])
                finally:
                    target.close()
            except DistributionError as exc:
                module.fail_json(msg=str(exc), cause=exc.cause, package=params["package"], content_version=version,
                                 distribution_points=results)
            outcome["changed"] = outcome["changed"] or store_it
            results.append(outcome)
    except StoreError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # pylint: disable=broad-exception-caught
        module.fail_json(msg="staging package %s failed: %s" % (params["package"], exc), exception=traceback.format_exc())
    finally:
        store.close()
    result = dict(changed=any(r["changed"] for r in results), package=params["package"], content_version=version,
                  distribution_points=results)
    if module._diff:
        # which content version of the package each point holds, before and after
        result["diff"] = {"before": {r["name"]: before.get(r["name"]) for r in results},
                          "after": {r["name"]: version for r in results}}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
