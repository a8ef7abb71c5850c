# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: compliance
author: patchwave.windows contributors (@patchwave)
short_description: Groups and variables by update compliance, from the patchwave store
version_added: 0.1.0
description:
  - Reads every host's newest scans from the patchwave store in a few bulk queries and puts hosts
    into groups by their update compliance, overall (against the set V(all), every current software
    update of the catalog) and against each named update set of O(update_sets).
  - State messages waiting in the spool are ingested into the store first, so the groups include
    every scan that has finished. When the spool cannot be ingested (for example, no permission),
    a warning is shown and the store is read as it is.
  - "The seven state groups, each named O(group_prefix) plus the state: V(compliant), V(non_compliant)
    and V(unknown) (compliance against the set), V(pending_reboot) (the host's newest usable scan
    reports a pending restart, or a Required update is installed and waits for one), V(stale_scan)
    (the newest scan is older than O(stale_after_days)), V(never_scanned) and V(last_attempt_failed)
    (the newest attempt to scan failed: the host could not be reached, refused the credentials or the
    request, or did not complete the search). O(group_names) renames them."
  - A host whose last attempt failed before it could search keeps its compliance (and its groups);
    only a search the host did not complete makes it V(unknown).
  - Hosts retired with M(patchwave.windows.host_retire) are left out until they scan again; one that
    an earlier inventory source still defines is V(never_scanned).
  - The same seven groups exist for every named update set, as O(group_prefix) plus the set's name,
    C(_) and the state, for example C(patchwave_critical_non_compliant).
  - Works beside your own inventory. Hosts that earlier inventory sources defined get the groups
    and variables too; a host the store has never seen is V(never_scanned). Inventory sources are
    read in command-line order, so give this file B(after) your inventory
    (C(-i hosts.ini -i fleet.compliance.yml)).
  - The inventory file must end with C(compliance.yml) or C(compliance.yaml).
  - "Host variables: C(patchwave_compliance_loaded) (V(true) on every host this plugin loaded, so a
    playbook can assert the compliance inventory was read; see the notes),
    C(patchwave_compliance) (V(compliant), V(non_compliant) or V(unknown)),
    C(patchwave_counts) (updates per state: V(required), V(not_required), V(installed), V(unknown)),
    C(patchwave_missing_kbs) (KBs of the Required updates), C(patchwave_pending_reboot) (bool),
    C(patchwave_last_scan) (C(status), C(time), C(mode), C(catalog_version), C(error), C(last_success)),
    C(patchwave_last_attempt) (C(time), C(failed), C(failure), C(reason); null when no attempt was made),
    C(patchwave_enforcement) (what installation last said of each deployment on the host: deployment name
    to C(state), C(time) and C(updates), update id to its state, as M(patchwave.windows.compliance_info)
    returns it in C(hosts.enforcement); empty when none),
    and C(patchwave_set_compliance) (set name to compliance) when O(update_sets) is set."
  - Values read from the store are marked unsafe, so they are never templated.
  - "One more group, O(group_prefix) plus V(in_window) (C(patchwave_in_window)): the hosts inside a
    maintenance window for software updates at the time of the run (the rules of
    M(patchwave.windows.maintenance_window_info) with C(applies_to=software_updates)). A host's windows
    are the union of every variable whose name starts with C(patchwave_maintenance_windows), from the
    host and its groups as the earlier inventory sources define them (variables of C(group_vars/) and
    C(host_vars/) folders are loaded by vars plugins after the inventory, so they are not seen here).
    A host without windows is always inside (so every host known only to the store is). Windows in the
    zone C(local) use the host variable C(patchwave_host_timezone) (an IANA zone) when set, else UTC. A
    host whose windows are not valid is left out of the group, with a warning naming the host, the window
    and the field."
extends_documentation_fragment:
  - constructed
  - inventory_cache
  - patchwave.windows.store.inventory
  - patchwave.windows.update_sets
options:
  plugin:
    description: The name of this plugin; it makes the file an inventory source of this plugin.
    type: str
    required: true
    choices: [patchwave.windows.compliance]
  group_prefix:
    description:
      - Prefix of every group this plugin creates (state, per-set, KB and severity groups).
      - Set it to an empty string for bare names such as C(non_compliant).
    type: str
    default: patchwave_
  group_names:
    description:
      - Other names for the seven state groups, as a mapping from the state (V(compliant),
        V(non_compliant), V(unknown), V(pending_reboot), V(stale_scan), V(never_scanned),
        V(last_attempt_failed)) to the name
        to use instead; O(group_prefix) is still put in front.
      - The names also apply to the per-set groups, for example C(non_compliant=needs_updates) gives
        C(patchwave_needs_updates) and C(patchwave_critical_needs_updates).
    type: dict
    default: {}
  kb_groups:
    description:
      - Also one group per KB that any host requires, C(<prefix>kb_<number>), for example
        C(patchwave_kb_5031364), holding the hosts for which an update with that KB is Required.
      - Measured against the set V(all). One group per KB; with many missing updates this adds
        many groups.
    type: bool
    default: false
  severity_groups:
    description:
      - Also one group per MSRC severity, C(<prefix>severity_<severity>), for example
        C(patchwave_severity_critical), holding the hosts that require any update of that severity
        (V(critical), V(important), V(moderate), V(low), V(unspecified)).
      - Measured against the set V(all).
    type: bool
    default: false
  add_store_hosts:
    description:
      - Add the hosts the store knows that no earlier inventory source defined.
      - With V(false), only hosts already in the inventory are grouped, and hosts known only to the
        store are left out.
    type: bool
    default: true
notes:
  - A host without a usable scan (never scanned, scan failed, corrupt message, stale) is V(unknown)
    against every set, a set that selects no update included; such a set, and a store without a
    catalog version (every host V(unknown)), are shown as warnings. The plugin never creates a store.
  - "An inventory source that fails to parse (a misspelled classification, a store that does not exist)
    is only a warning by default, and a play against its groups then matches no host and succeeds.
    Make it an error with C(ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED=true) (C(any_unparsed_is_failed = True)
    in the C([inventory]) section of C(ansible.cfg)), or assert C(patchwave_compliance_loaded) in the play,
    as the collection's examples do."
  - With O(cache) enabled, the raw rows read from the store are cached, not the inventory built from
    them. A cache hit neither opens the store nor ingests the spool, so scans that finish meanwhile
    show after O(cache_timeout) or with C(--flush-cache). Groups, names and O(compose) are computed
    again on every run, and staleness is measured against the time of the run.
  - O(compose), O(groups) and O(keyed_groups) are templated for every host. With tens of thousands of
    hosts, keep them few and simple.
"""

EXAMPLES = r"""
# fleet.compliance.yml: the store from PATCHWAVE_STORE (or the default), groups such as
# patchwave_non_compliant and patchwave_pending_reboot.
plugin: patchwave.windows.compliance

---
# fleet.compliance.yml, used beside your own inventory:
#   ansible-playbook -i hosts.ini -i fleet.compliance.yml patch.yml
# Only the hosts of hosts.ini are grouped; hosts known only to the store are not added.
plugin: patchwave.windows.compliance
store: /srv/patchwave/patchwave.db
add_store_hosts: false

---
# Named update sets, KB and severity groups, shorter group names, and a PostgreSQL store.
plugin: patchwave.windows.compliance
store: postgresql://patchwave@db.example.com/patchwave
stale_after_days: 14
group_prefix: pw_
group_names:
  non_compliant: needs_updates
update_sets:
  - name: critical
    severities: [Critical]
  - name: november
    kbs: [KB5031364, KB5032196]
kb_groups: true
severity_groups: true

---
# Constructed features and a cache of the rows read from the store.
plugin: patchwave.windows.compliance
compose:
  missing_count: patchwave_counts.required
groups:
  many_missing: patchwave_counts.required > 20
keyed_groups:
  - key: patchwave_last_scan.mode
    prefix: scan_mode
    default_value: none
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/patchwave-inventory
cache_timeout: 600
"""

import re

from ansible.errors import AnsibleParserError
from ansible.inventory.helpers import get_group_vars
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.unsafe_proxy import wrap_var
from ansible.utils.vars import combine_vars
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.groups import (
    SEVERITY_GROUPS,
    STATE_GROUPS,
    pending_reboot,
    state_group_keys,
)
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.deployment_states import (
    deployment_states,
    read_deployment_states,
)
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.reads import evaluate_rows, read_rows
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.update_sets import (
    ALL_UPDATES,
    UpdateSetError,
    all_updates,
    parse_update_sets,
)
from ansible_collections.patchwave.windows.plugins.module_utils._scan.ingest import ingest
from ansible_collections.patchwave.windows.plugins.module_utils._store.address import (
    redact,
    resolve_spool,
    resolve_store_address,
)
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import utc_now
from ansible_collections.patchwave.windows.plugins.module_utils._windows.definitions import (
    VARIABLE_PREFIX,
    WindowDefinitionError,
    check_zone,
    host_windows,
    parse_windows,
)
from ansible_collections.patchwave.windows.plugins.module_utils._windows.merge import in_window

RESERVED_GROUPS = ("all", "ungrouped")
IN_WINDOW_GROUP = "in_window"
HOST_TIMEZONE_VARIABLE = "patchwave_host_timezone"
# Bumped when the shape of the cached rows changes, so an old cache entry is read again, not misread.
ROWS_FORMAT = 2

_INVALID = re.compile(r"[^A-Za-z0-9_]")


def safe_group_name(name):
    """``name`` as a valid Ansible group name: letters, digits and ``_``, not starting with a digit."""
    name = _INVALID.sub("_", name)
    return "_" + name if not name or name[0].isdigit() else name


def _unsafe_text(value):
    return None if value is None else wrap_var(to_text(value))


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    """Hosts grouped by compliance, from the store."""

    NAME = "patchwave.windows.compliance"
    FILE_SUFFIXES = ("compliance.yml", "compliance.yaml")

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(self.FILE_SUFFIXES)

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        try:
            update_sets = [all_updates()] + parse_update_sets(self.get_option("update_sets"))
        except UpdateSetError as exc:
            raise AnsibleParserError("compliance inventory '%s': %s" % (path, exc))
        stale_after_days = self.get_option("stale_after_days")
        if stale_after_days is None or stale_after_days < 0:
            raise AnsibleParserError("compliance inventory '%s': stale_after_days must be 0 or more" % path)
        names = self._state_group_names(path)

        rows = self._rows(path, update_sets, cache)
        existing = list(self.inventory.hosts)
        evaluation = evaluate_rows(rows, hosts=existing, now=utc_now(), stale_after_days=stale_after_days,
                                   include_store_hosts=self.get_option("add_store_hosts"))
        for text in evaluation.warnings():
            self.display.warning("compliance inventory '%s': %s" % (path, text))
        self._populate(evaluation, names, [s.name for s in update_sets if s.name != ALL_UPDATES], path,
                       deployment_states(rows.get("deployment_states", ())))

    # -- reading -----------------------------------------------------------------------------
    def _fingerprint(self, update_sets):
        """What the cached rows depend on besides the store's content."""
        return {"format": ROWS_FORMAT, "store": redact(resolve_store_address(self.get_option("store"))),
                "update_sets": [{"name": s.name, "filter": repr(s.update_filter)} for s in update_sets]}

    def _rows(self, path, update_sets, cache):
        """The raw rows: from the cache when enabled and fresh, else from the store."""
        use_cache = self.get_option("cache")
        fingerprint = self._fingerprint(update_sets)
        cache_key = self.get_cache_key(path)
        if use_cache and cache:
            try:
                cached = self._cache[cache_key]
            except KeyError:
                cached = None
            if isinstance(cached, dict) and cached.get("fingerprint") == fingerprint:
                return cached["rows"]
        rows = self._read_store(path, update_sets)
        if use_cache:
            self._cache[cache_key] = {"fingerprint": fingerprint, "rows": rows}
        return rows

    def _read_store(self, path, update_sets):
        """Ingest the spool, then read the rows in bulk; errors name the file and the store."""
        store_option = self.get_option("store")
        address = resolve_store_address(store_option)
        shown = redact(address)
        store = None
        try:
            store = open_store(address, create=False)
            spool = resolve_spool(self.get_option("spool"), address)
            try:
                ingest(store, spool)
            except OSError as exc:
                self.display.warning("compliance inventory '%s': the spool '%s' cannot be ingested (%s); reading "
                                     "the store without the state messages waiting there" % (path, spool, exc))
            rows = read_rows(store, update_sets, stale_after_days=self.get_option("stale_after_days"))
            rows["deployment_states"] = read_deployment_states(store)
            return rows
        except UpdateSetError as exc:
            raise AnsibleParserError("compliance inventory '%s': %s" % (path, exc))
        except Exception as exc:  # the store's own errors, sqlite3 and psycopg errors alike
            text = to_text(exc).replace(address, shown) if address != shown else to_text(exc)
            if shown not in text:
                text = "store '%s': %s" % (shown, text)
            raise AnsibleParserError("compliance inventory '%s': %s" % (path, text))
        finally:
            if store is not None:
                store.close()

    # -- building ----------------------------------------------------------------------------
    def _state_group_names(self, path):
        """{state key: group name without prefix}, with O(group_names) applied and checked."""
        renames = self.get_option("group_names") or {}
        unknown = sorted(set(renames) - set(STATE_GROUPS))
        if unknown:
            raise AnsibleParserError("compliance inventory '%s': group_names: unknown key(s) %s; known: %s"
                                     % (path, ", ".join(unknown), ", ".join(STATE_GROUPS)))
        names = {}
        for key in STATE_GROUPS:
            value = renames.get(key, key)
            if not isinstance(value, str) or not value:
                raise AnsibleParserError("compliance inventory '%s': group_names: %s must be a non-empty name"
                                         % (path, key))
            names[key] = value
        if len(set(names.values())) != len(names):
            raise AnsibleParserError("compliance inventory '%s': group_names: two states share one group name" % path)
        return names

    def _group(self, name):
        name = safe_group_name(self.get_option("group_prefix") + name)
        if name in RESERVED_GROUPS:
            raise AnsibleParserError("compliance inventory: the group name '%s' is reserved by Ansible" % name)
        return name

    def _populate(self, evaluation, names, set_names, path, enforcement=None):
        """Hosts, their variables and the groups, in one pass over the hosts; ``enforcement``: host ->
        its deployments' states (``deployment_states``)."""
        enforcement = enforcement or {}
        inventory = self.inventory
        overall = evaluation.sets[ALL_UPDATES]
        state_groups = {key: self._group(name) for key, name in names.items()}
        set_groups = {s: {key: self._group("%s_%s" % (s, name)) for key, name in names.items()} for s in set_names}
        members = {group: [] for group in state_groups.values()}
        for groups in set_groups.values():
            members.update((group, []) for group in groups.values())
        window_group = self._group(IN_WINDOW_GROUP)
        members[window_group] = []
        window_check = self._window_check(path, utc_now())
        kb_groups = self.get_option("kb_groups")
        severity_groups = self.get_option("severity_groups")
        kb_prefix = self.get_option("group_prefix") + "kb_"
        severity_group = {}
        for severity in SEVERITY_GROUPS:
            severity_group[severity] = self._group("severity_" + severity)
        # Per update of the set all: its KB (unsafe) and severity group, computed once.
        update_kb = {}
        update_severity = {}
        for uid, facts in overall.updates.items():
            update_kb[uid] = _unsafe_text(facts.get("kb")) if facts.get("kb") else None
            severity = (facts.get("msrc_severity") or "unspecified").lower()
            update_severity[uid] = severity_group.get(severity) or self._group("severity_" + severity)
        kb_group = {}
        constructed = any(self.get_option(o) for o in ("compose", "groups", "keyed_groups"))
        # ansible-inventory hands plugins a proxy whose set_variable copies every value and tags each
        # string and number with the source's origin; with 50,000 hosts that is most of the run. The
        # variables built here are fresh plain data per host (dict, list, str, int, bool, None), never
        # trusted as templates and never changed afterwards, so they go to the inventory directly.
        # Variables from compose still take the proxy's path.
        host_variables = getattr(inventory, "__wrapped__", inventory)
        add_store_hosts = self.get_option("add_store_hosts")
        existing = inventory.hosts

        for host, status in evaluation.hosts.items():
            if not add_store_hosts and host not in existing:
                continue
            if host not in existing or window_check(host):
                members[window_group].append(host)
            inventory.add_host(host)
            compliance = overall.host_compliance[host]
            required = overall.host_required.get(host, ())
            scan = status.scan
            pending = pending_reboot(status, required)
            kbs = set()
            for uid, _detail in required:
                kb = update_kb.get(uid)
                if kb is not None and kb not in kbs:
                    kbs.add(kb)
                    if kb_groups:
                        group = kb_group.get(kb)
                        if group is None:
                            group = kb_group[kb] = safe_group_name(kb_prefix + kb)
                        members.setdefault(group, []).append(host)
            if severity_groups:
                for group in {update_severity[uid] for uid, _detail in required}:
                    members.setdefault(group, []).append(host)
            for key in state_group_keys(compliance, status, required):
                members[state_groups[key]].append(host)

            host_vars = {
                "patchwave_compliance_loaded": True,
                "patchwave_compliance": compliance,
                "patchwave_counts": dict(overall.host_counts[host]),
                "patchwave_missing_kbs": sorted(kbs),
                "patchwave_pending_reboot": pending,
                "patchwave_last_scan": {
                    "status": status.status,
                    "time": _unsafe_text(scan.finished) if scan else None,
                    "mode": _unsafe_text(scan.mode) if scan else None,
                    "catalog_version": scan.catalog_version if scan else None,
                    "error": _unsafe_text(scan.error) if scan and not scan.succeeded else None,
                    "last_success": _unsafe_text(status.last_good.finished) if status.last_good else None,
                },
                "patchwave_last_attempt": self._attempt_vars(status.last_attempt),
                "patchwave_enforcement": wrap_var(enforcement.get(host, {})),
            }
            if set_names:
                per_set = {}
                for set_name in set_names:
                    result = evaluation.sets[set_name]
                    set_compliance = result.host_compliance[host]
                    per_set[set_name] = set_compliance
                    groups = set_groups[set_name]
                    for key in state_group_keys(set_compliance, status, result.host_required.get(host, ())):
                        members[groups[key]].append(host)
                host_vars["patchwave_set_compliance"] = per_set
            for key, value in host_vars.items():
                host_variables.set_variable(host, key, value)
            if constructed:
                self._construct(host)

        # The fixed groups in their order, then KB and severity groups sorted, so output is stable.
        fixed = len(state_groups) + len(set_groups) * len(names) + 1
        order = list(members)[:fixed] + sorted(list(members)[fixed:])
        for group in order:
            hosts = members[group]
            inventory.add_group(group)
            for host in hosts:
                inventory.add_child(group, host)

    def _window_check(self, path, now):
        """A test of whether a host of an earlier source is inside a software-updates window at ``now``.

        Only hosts and groups that define a ``patchwave_maintenance_windows*`` variable are looked at
        closely; the rest have no windows and are inside. Hosts of the same groups share the same
        variable objects, so the answer is computed once per distinct set of them.
        """
        inventory = self.inventory
        window_groups = {name for name, group in inventory.groups.items()
                         if any(key.startswith(VARIABLE_PREFIX) for key in group.vars)}
        answers = {}

        def answer(variables):
            try:
                windows = parse_windows(host_windows(variables))
                zone = variables.get(HOST_TIMEZONE_VARIABLE)
                problem = check_zone(zone) if zone is not None else None
                if problem:
                    raise WindowDefinitionError("%s: %s" % (HOST_TIMEZONE_VARIABLE, problem))
                return in_window(windows, now, host_timezone=zone), None
            except WindowDefinitionError as exc:
                return False, str(exc)

        def inside(name):
            host = inventory.get_host(name)
            if not window_groups.intersection(g.name for g in host.groups) and not any(
                    key.startswith(VARIABLE_PREFIX) for key in host.vars):
                return True
            variables = combine_vars(get_group_vars(host.get_groups()), host.vars)
            values = [(k, v) for k, v in sorted(variables.items()) if k.startswith(VARIABLE_PREFIX)]
            key = tuple((k, id(v)) for k, v in values) + (repr(variables.get(HOST_TIMEZONE_VARIABLE)),)
            if key not in answers:
                # the values are kept with the answer, so no other object can take their ids meanwhile
                answers[key] = answer(variables) + (values,)
            result, problem, _values = answers[key]
            if problem:
                self.display.warning("compliance inventory '%s': host '%s': %s; the host is left out of the "
                                     "group %s" % (path, name, problem, self._group(IN_WINDOW_GROUP)))
            return result

        return inside

    @staticmethod
    def _attempt_vars(attempt):
        """The host variable of the newest attempt, its texts unsafe; None without one."""
        if attempt is None:
            return None
        return {"time": _unsafe_text(attempt["time"]), "failed": bool(attempt["failed"]),
                "failure": _unsafe_text(attempt["failure"]) if attempt["failure"] else None,
                "reason": _unsafe_text(attempt["reason"]) if attempt["reason"] else None}

    def _construct(self, host):
        """compose, then groups, then keyed_groups, over all of the host's variables."""
        strict = self.get_option("strict")
        variables = self.inventory.get_host(host).get_vars()
        self._set_composite_vars(self.get_option("compose"), variables, host, strict=strict)
        variables = self.inventory.get_host(host).get_vars()
        self._add_host_to_composed_groups(self.get_option("groups"), variables, host, strict=strict)
        self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, host, strict=strict)
