# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """How every patchwave.windows module, plugin and role addresses the store."""

    DOCUMENTATION = r"""
options:
  store:
    description:
      - Where the collection keeps catalog versions, updates and host state.
      - A file path selects the embedded SQLite store. Only M(patchwave.windows.catalog_sync) and
        M(patchwave.windows.scan) create it, with its folder, on first use; a catalog sync that fails
        takes away the store file and folders it made.
      - The other modules that write the store (M(patchwave.windows.update_list),
        M(patchwave.windows.deployment_template), M(patchwave.windows.deployment),
        M(patchwave.windows.deployment_package), M(patchwave.windows.distribution_point),
        M(patchwave.windows.content_stage), M(patchwave.windows.host_retire), M(patchwave.windows.install),
        M(patchwave.windows.wave)) and the modules that only read it (M(patchwave.windows.catalog_info),
        M(patchwave.windows.compliance_info), M(patchwave.windows.compliance_report),
        M(patchwave.windows.update_list_info), M(patchwave.windows.deployment_info),
        M(patchwave.windows.wave_info)) never create one. A store file that does not exist, or an
        existing file without the patchwave schema (an empty file, another application's database), is
        an error, and nothing is written to it.
      - A C(postgresql://) URL (libpq connection URI) selects a PostgreSQL store shared by several
        controllers; the database must exist, its tables are created by the first run of
        M(patchwave.windows.catalog_sync) or M(patchwave.windows.scan) (every other module refuses a
        database without them), and the Python
        package C(psycopg) (3.x) must be installed on the controller. Add C(sslmode=verify-full) to
        have the server's certificate checked.
      - A password in the URL (C(postgresql://user:password@host/db) or C(?password=)) is masked
        (C(********)) in the returned C(invocation) and in messages; a password file (C(passfile=),
        E(PGPASSFILE)) keeps it out of the playbook as well.
      - When not set, the environment variable E(PATCHWAVE_STORE) is used, else
        C($XDG_DATA_HOME/patchwave/patchwave.db) (C(~/.local/share/patchwave/patchwave.db) when
        E(XDG_DATA_HOME) is unset).
      - The schema is versioned; an older store is migrated when it is opened, and a store written by a
        newer version of the collection is refused.
    type: str
notes:
  - Every change to the store is one transaction; a failure leaves the store as it was.
"""

    # Modules that read the store move waiting state messages in first (compliance_info, compliance_report).
    SPOOL = r"""
options:
  spool:
    description:
      - The state-message spool folder, ingested into the store before it is read.
      - When not set, the environment variable E(PATCHWAVE_SPOOL) is used, else C(spool/) beside a
        SQLite O(store), or C($XDG_DATA_HOME/patchwave/spool) for a PostgreSQL store.
      - A spool folder that does not exist holds no message and is not created; M(patchwave.windows.scan)
        creates it when it writes the first one.
    type: path
"""

    # Plugins (the inventory plugin) read their options through the configuration system, so the
    # environment variables are declared as option sources rather than read by the code.
    INVENTORY = r"""
options:
  store:
    description:
      - Where the collection keeps catalog versions, updates and host state.
      - A file path selects the embedded SQLite store, a C(postgresql://) URL the PostgreSQL store.
      - The plugin never creates or writes a store; a store file that does not exist, or a file without
        the patchwave schema, is an error (a store is made by M(patchwave.windows.catalog_sync)).
      - When not set, C($XDG_DATA_HOME/patchwave/patchwave.db) (C(~/.local/share/patchwave/patchwave.db)
        when E(XDG_DATA_HOME) is unset).
    type: str
    env:
      - name: PATCHWAVE_STORE
  spool:
    description:
      - The state-message spool folder, ingested into the store before it is read.
      - When not set, C(spool/) beside a SQLite store, C($XDG_DATA_HOME/patchwave/spool) for a PostgreSQL store.
      - A spool folder that does not exist holds no message and is not created.
    type: path
    env:
      - name: PATCHWAVE_SPOOL
"""
