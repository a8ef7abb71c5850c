#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: distribution_point
short_description: Define where deployment content is staged and how hosts fetch it
version_added: 0.2.0
description:
  - Stores a distribution point by name, an SMB share (O(type=smb)) or a folder on the controller
    (O(type=path), a local or NFS-mounted folder, for example a web server's document root), with
    O(host_url), how Windows hosts will fetch the content staged there.
  - No secrets are stored; M(patchwave.windows.content_stage) takes the SMB credentials when it stages.
  - Deployments, M(patchwave.windows.content_stage) and installation refer to the point by name.
  - Content is laid out as WSUS lays out C(WsusContent) (see M(patchwave.windows.content_stage)), so
    a WSUS server's content folder can be a distribution point as it is.
options:
  name:
    description: The distribution point's name (letters, digits, C(.), C(_), C(-)).
    type: str
    required: true
  state:
    description:
      - V(present) creates or updates the definition; V(absent) removes it.
      - A point that still holds staged packages is not removed (stage elsewhere, or prune, first).
    type: str
    choices: [present, absent]
    default: present
  type:
    description: V(smb) for a share reached with SMB (signing required), V(path) for a folder on the controller.
    type: str
    choices: [smb, path]
  server:
    description: The SMB server's name or address (V(smb)).
    type: str
  port:
    description: The SMB server's TCP port (V(smb)); 445 when not set.
    type: int
  share:
    description: The share's name (V(smb)).
    type: str
  folder:
    description: A folder below the share to stage into (V(smb)), created when missing; the share's root when not set.
    type: str
  encrypt:
    description: Require SMB 3 encryption of the session (V(smb)); signing is always required.
    type: bool
    default: false
  path:
    description: The folder (V(path)); it must exist (a missing folder is more likely an unmounted share).
    type: path
  host_url:
    description:
      - How Windows hosts reach the staged content, C(http(s)://server/path) or C(\\\\server\\share\\folder).
      - Required with O(state=present).
    type: str
extends_documentation_fragment:
  - patchwave.windows.store
  - patchwave.windows.attributes
  - patchwave.windows.attributes.controller
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
seealso:
  - module: patchwave.windows.content_stage
author:
  - patchwave.windows contributors (@patchwave)
"""

EXAMPLES = r"""
- name: A share on the branch file server, fetched by hosts over SMB
  patchwave.windows.distribution_point:
    name: branch-fs01
    type: smb
    server: fs01.example.com
    share: patches
    folder: WsusContent
    host_url: \\fs01.example.com\patches\WsusContent

- name: nginx's document root on the controller, fetched by hosts over HTTP
  patchwave.windows.distribution_point:
    name: web
    type: path
    path: /srv/www/patches
    host_url: http://patches.example.com/
"""

RETURN = r"""
distribution_point:
  description: The definition as stored (no credentials); null after O(state=absent).
  returned: always
  type: dict
  sample: {"name": "web", "type": "path", "path": "/srv/www/patches", "host_url": "http://patches.example.com/"}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.patchwave.windows.plugins.module_utils._distribution import points
from ansible_collections.patchwave.windows.plugins.module_utils._store import objects
from ansible_collections.patchwave.windows.plugins.module_utils._store.address import resolve_store_address, secrets_of
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_collections.patchwave.windows.plugins.module_utils._store.errors import StoreError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            type=dict(type="str", choices=list(points.KINDS)),
            server=dict(type="str"),
            port=dict(type="int"),
            share=dict(type="str"),
            folder=dict(type="str"),
            encrypt=dict(type="bool", default=False),
            path=dict(type="path"),
            host_url=dict(type="str"),
            store=dict(type="str"),
        ),
        required_if=[("state", "present", ("type", "host_url"))],
        supports_check_mode=True,
    )
    module.no_log_values.update(secrets_of(resolve_store_address(module.params["store"])))  # never echo a DSN's password
    params = module.params
    try:
        store = open_store(resolve_store_address(params["store"]), create=False)
    except StoreError as exc:
        module.fail_json(msg=str(exc))
    try:
        before = points.read_point(store, params["name"])
        if params["state"] == "absent":
            result = _absent(module, store, before)
        else:
            try:
                name, kind, settings, host_url = points.check_definition(params)
            except points.PointError as exc:
                module.fail_json(msg=str(exc))
            after = {"name": name, "kind": kind, "settings": settings, "host_url": host_url}
            changed = before is None or (before["kind"], before["settings"], before["host_url"]) != (kind, settings, host_url)
            if changed and not module.check_mode:
                with store.transaction() as cursor:
                    points.save_point(cursor, name, kind, settings, host_url, before)
            result = dict(changed=changed, distribution_point=points.public(after))
            if module._diff:
                result["diff"] = {"before": points.public(before) if before else {}, "after": points.public(after)}
    except StoreError as exc:
        module.fail_json(msg=str(exc))
    finally:
        store.close()
    module.exit_json(**result)


def _absent(module, store, before):
    if before is None:
        return dict(changed=False, distribution_point=None)
    staged = store.query("SELECT package FROM staged_packages WHERE point = ? ORDER BY package", (before["name"],))
    if staged:
        module.fail_json(msg="distribution point '%s' still holds staged package(s) %s: it is kept, so that what was "
                             "staged there stays known to prune" % (before["name"], ", ".join(r["package"] for r in staged)))
    if not module.check_mode:
        with store.transaction() as cursor:
            objects.delete_object(cursor, points.TABLE, points.OBJECT, before["name"], before, json_column="settings")
            cursor.execute("DELETE FROM staged_files WHERE point = ?", (before["name"],))
    result = dict(changed=True, distribution_point=None)
    if module._diff:
        result["diff"] = {"before": points.public(before), "after": {}}
    return result


if __name__ == "__main__":
    main()
