#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: deployment_package
short_description: Download and verify a frozen update list's files into the content library
version_added: 0.2.0
description:
  - Builds the deployment package O(name) from a frozen version of the update list O(update_list). Every
    file its updates need (a bundle's files come from its members) is downloaded from the catalog's
    URLs, or from O(mirror_url), into a single-instance content library on the controller, keyed by digest,
    so a file shared by several updates or packages is stored once.
  - A file enters the library only after the strongest digest the catalog gives for it matches, its
    SHA-256 when there is one, else its SHA-1 (and its size, when known). A mismatch is kept aside in
    the library's C(quarantine/) folder, with a note naming the update,
    the file, the URL and the expected and actual digests, and the module fails. Nothing half-downloaded ever
    has its final name; an interrupted download is resumed with an HTTP range request on the next attempt.
  - The package has a content version that goes up when its set of files changes. A second run with
    nothing new downloads nothing and reports C(changed=false).
  - Runs on the controller. Progress (files and bytes done) is shown with C(-v).
  - Only the language-specific files of the languages in O(languages) are fetched. In Microsoft's metadata a
    language-specific payload is an update of its own (usually a bundle's member) that names its languages;
    the catalog records them, and an update that names none is language-neutral and always fetched.
options:
  name:
    description: The package's name.
    type: str
    required: true
  update_list:
    description: The update list whose frozen version the package holds.
    type: str
    required: true
  version:
    description: The list version; the newest frozen one by default. An unfrozen list is refused.
    type: int
  library:
    description:
      - The content library folder. Default C(content/) beside a SQLite O(store), else
        C($XDG_DATA_HOME/patchwave/content).
    type: path
  languages:
    description:
      - The languages whose language-specific files the package holds, as language codes (V(en), V(de),
        V(pt-br); case does not matter). The files of an update (or bundle member) whose languages are all
        outside this list are left out; language-neutral files are always in.
      - V(all) fetches every language.
      - Default the store's languages, those M(patchwave.windows.catalog_sync) was given for the current
        catalog version (its O(patchwave.windows.catalog_sync#module:languages)); every language when that
        version was synced before the store recorded them.
      - Changing the languages changes the package's content version when its set of files changes.
    type: list
    elements: str
    version_added: 0.2.0
  mirror_url:
    description:
      - A base URL that replaces the scheme and host of every catalog URL (a local mirror of Microsoft's
        download servers); the catalog URL's path is kept, after the mirror's own path.
    type: str
  proxy:
    description: An HTTP(S) proxy URL for the downloads; by default the environment's (E(https_proxy), E(http_proxy), E(no_proxy)).
    type: str
  use_proxy:
    description: Use a proxy at all (O(proxy) or the environment's).
    type: bool
    default: true
  validate_certs:
    description: Verify the TLS certificates of download servers. Only turn off for a test mirror.
    type: bool
    default: true
  ca_path:
    description: A PEM file of certificate authorities to trust for HTTPS, besides the system's.
    type: path
  timeout:
    description: Seconds without progress on a connection before it counts as failed.
    type: int
    default: 30
  retries:
    description: Further attempts per URL after a connection is cut, times out or the server answers 5xx (with backoff).
    type: int
    default: 3
  concurrency:
    description: Files downloaded at once.
    type: int
    default: 4
extends_documentation_fragment:
  - patchwave.windows.store
  - patchwave.windows.attributes
  - patchwave.windows.attributes.controller
attributes:
  check_mode:
    support: full
    details:
      - Says what would be downloaded and reused (from the library's contents) and the content version; downloads nothing.
  diff_mode:
    support: full
    details:
      - The package before and after (update list and version, content version, files, library).
notes:
  - The files are fetched by the controller, in the controller's process (an action plugin), whatever host the task names.
seealso:
  - module: patchwave.windows.update_list
  - module: patchwave.windows.content_stage
author:
  - patchwave.windows contributors (@patchwave)
"""

EXAMPLES = r"""
- name: Download this month's security updates from a local mirror
  patchwave.windows.deployment_package:
    name: security-2026-12
    update_list: security-monthly
    mirror_url: http://mirror.example.com/windowsupdate/

- name: Fetch only the English and German language-specific files, whatever the catalog was synced with
  patchwave.windows.deployment_package:
    name: security-2026-12
    update_list: security-monthly
    languages: [en, de]
"""

RETURN = r"""
name:
  description: The package's name.
  returned: always
  type: str
  sample: security-2026-12
update_list:
  description: The update list.
  returned: always
  type: str
  sample: security-monthly
list_version:
  description: The frozen list version the package holds.
  returned: always
  type: int
  sample: 3
library:
  description: The content library folder.
  returned: always
  type: str
  sample: /var/lib/patchwave/content
languages:
  description: The languages whose language-specific files the package holds (V(all) for every language), as recorded with it.
  returned: always
  type: list
  elements: str
  sample: [en, de]
updates:
  description: Updates in the list version.
  returned: always
  type: int
  sample: 12
files:
  description: Distinct files of the package.
  returned: always
  type: int
  sample: 31
size:
  description: Bytes of the package's files.
  returned: always
  type: int
  sample: 1073741824
content_version:
  description: The package's content version (what it is, or would be in check mode, after this run).
  returned: always
  type: int
  sample: 2
downloaded:
  description: Files fetched by this run (to be fetched, in check mode).
  returned: always
  type: dict
  contains:
    files:
      description: Number of files.
      type: int
      sample: 4
    bytes:
      description: Their bytes.
      type: int
      sample: 734003200
reused:
  description: Files the library already held.
  returned: always
  type: dict
  contains:
    files:
      description: Number of files.
      type: int
      sample: 27
    bytes:
      description: Their bytes.
      type: int
      sample: 339738624
resumed:
  description: Downloads continued from a partial file with a range request.
  returned: unless check mode
  type: dict
  contains:
    files:
      description: Number of files.
      type: int
      sample: 0
    bytes:
      description: Bytes that did not have to be fetched again.
      type: int
      sample: 0
quarantined:
  description: Files whose digests did not match, kept aside with a note (the module then fails).
  returned: always
  type: list
  elements: dict
  sample: []
failed_files:
  description: Files that could not be downloaded (HTTP errors, TLS failures, no URL left), with the reason (the module then fails).
  returned: always
  type: list
  elements: dict
  sample: []
"""

from urllib.parse import unquote, urlsplit

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.patchwave.windows.plugins.module_utils._content.package import PACKAGE_SPEC, build_package
from ansible_collections.patchwave.windows.plugins.module_utils._content.payload import ContentError
from ansible_collections.patchwave.windows.plugins.module_utils._store.address import resolve_store_address, secrets_of
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_collections.patchwave.windows.plugins.module_utils._store.errors import StoreError


def main():
    # The action plugin of the same name runs this work in the controller's process (with progress);
    # this entry point does the same without it.
    module = AnsibleModule(argument_spec=PACKAGE_SPEC, supports_check_mode=True)
    address = resolve_store_address(module.params["store"])
    # never echo the password of a PostgreSQL store or of a proxy (http://user:password@proxy:3128)
    module.no_log_values.update(secrets_of(address))
    proxy_password = urlsplit(module.params["proxy"] or "").password
    if proxy_password:
        module.no_log_values.update((proxy_password, unquote(proxy_password)))
    try:
        store = open_store(address, create=False)
    except StoreError as exc:
        module.fail_json(msg=str(exc))
    try:
        result = build_package(store, address, module.params, module.check_mode)
        diff = result.pop("diff")
        if module._diff:
            result["diff"] = diff
    except (ContentError, StoreError) as exc:
        module.fail_json(msg=str(exc))
    finally:
        store.close()
    if result.get("failed"):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
