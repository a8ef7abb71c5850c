"""The lab's Windows Update Agent: the host module ``patchwave.windows.scan``, driven by a store's catalog.

Three parts, from data to the wire:

* :class:`CatalogSnapshot` / :class:`CatalogCache`: the catalog the collection synced into a
  store, loaded in bulk once per (store, catalog version) and shared by every host of the process;
* :func:`static_candidates`, :func:`search_updates`: applicability, as pure functions of the
  catalog and a host's :class:`.hosts.WuaHost` (platform, installed, hidden);
* :class:`WuaBackend`: the start / poll / cancel rounds of ``plugins/module_utils/_scan/contract.py``
  on emulated time, with per-host faults (:class:`.hosts.WuaFaults`).

Applicability (what a WUA search with ``IsInstalled=0 or IsInstalled=1`` and
``IncludePotentiallySupersededUpdates=false`` returns):

1. candidates: software updates of the catalog, not expired, not bundle members (WUA returns
   bundles; their payload children are inside), whose products include one of the host's products;
2. prerequisites: every clause needs one satisfied id: a detectoid whose ``is_installed`` rule is
   true on the host (``bar:Processor``, ``bar:WindowsVersion``, ``bar:RegDword``, ``bar:RegKeyExists``,
   ``lar:And/Or/Not``; other rules are false), a product category the host has (other category
   types: true), or an update the host has installed. Ids the store does not know are false;
3. installed updates that pass 1-2 (the prerequisite on other updates aside) are reported with
   ``is_installed: true``, superseded or not;
4. not-installed updates superseded (transitively, through the whole supersedence graph) by an
   installed update are left out, and so are those superseded by another not-installed, *not
   hidden*, *not optional* candidate (what WUA calls potentially superseded; an update superseded
   only by hidden ones shows up, as Microsoft documents for ``IsHidden=0`` searches). Optional
   updates (BrowseOnly; the lab goes by the title: "... Cumulative Update Preview ...") are
   offered beside the updates they supersede, as Windows offers the month's preview as optional
   beside the security update.
"""

import datetime
import json
import os
import re
import sqlite3
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ET
import zlib
from collections import OrderedDict
from urllib.parse import quote

from .backend import DefaultBackend
from .hosts import ARCHITECTURES, wua_host

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _collection_importable():
    """Make ``ansible_collections.patchwave.windows`` importable (as tests/conftest.py does for pytest)."""
    collections = os.path.join(REPO, ".build", "collections")
    link = os.path.join(collections, "ansible_collections", "patchwave", "windows")
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(REPO, link)
    if collections not in sys.path:
        sys.path.insert(0, collections)


_collection_importable()

from ansible_collections.patchwave.windows.plugins.module_utils._catalog.source import MICROSOFT_SOURCES  # noqa: E402
from ansible_collections.patchwave.windows.plugins.module_utils._host import contract as workers_contract  # noqa: E402
from ansible_collections.patchwave.windows.plugins.module_utils._scan.contract import (  # noqa: E402
    REBOOT_BEHAVIORS,
    REBOOT_SOURCES,
    SERVER_SELECTIONS,
)
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store  # noqa: E402

FQCN = "patchwave.windows.scan"
HOST_WORKERS_FQCN = "patchwave.windows.host_workers"
INSTALL_FQCN = "patchwave.windows.install"  # tests/lab/install.py

# HRESULTs the emulation produces (unsigned 32-bit, as the contract's integers carry them).
E_ACCESSDENIED = 0x80070005
ERROR_FILE_NOT_FOUND = 0x80070002
SCHED_S_TASK_HAS_NOT_RUN = 0x00041303
LOCAL_SYSTEM = "S-1-5-18"
WU_E_PT_WINHTTP_NAME_NOT_RESOLVED = 0x8024402C

_REBOOT_BEHAVIOR = {name: code for code, name in REBOOT_BEHAVIORS.items()}
_SYSTEM_TEXT = {E_ACCESSDENIED: "Access is denied.", ERROR_FILE_NOT_FOUND: "The system cannot find the file specified."}
_SYSTEM_NAME = {E_ACCESSDENIED: "E_ACCESSDENIED", ERROR_FILE_NOT_FOUND: "ERROR_FILE_NOT_FOUND"}


class LabCatalogError(Exception):
    """The lab cannot emulate WUA: no store, or no catalog in it. The message says which."""


def com_error_text(hresult):
    """What PowerShell shows as the message of a COMException with ``hresult`` (WUA codes have no text)."""
    if hresult in _SYSTEM_TEXT:
        return "%s (Exception from HRESULT: 0x%08X (%s))" % (_SYSTEM_TEXT[hresult], hresult, _SYSTEM_NAME[hresult])
    return "Exception from HRESULT: 0x%08X" % hresult


def iso(timestamp):
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# Catalog ------------------------------------------------------------------------------------------

def is_optional(title):
    """Optional (BrowseOnly) updates: the store keeps no BrowseOnly flag, so the lab goes by the
    title, as Microsoft names them: the month's "Cumulative Update Preview"."""
    return "preview" in (title or "").lower()


class UpdateRecord:
    """One searchable update of the catalog: what a search result says of it, whatever the host."""

    __slots__ = ("update_id", "revision_number", "title", "kbs", "msrc_severity", "reboot_behavior",
                 "max_download_size", "release_date", "categories", "products", "prerequisites", "supersedes",
                 "optional", "source")

    def __init__(self, **values):
        for name in self.__slots__:
            setattr(self, name, values.get(name, MICROSOFT_SOURCES[0]) if name == "source" else values[name])

    def as_result(self, installed, hidden, downloaded, reboot_required=False):
        """The contract's UPDATE_SCHEMA entry for this update on a host."""
        return {
            "update_id": self.update_id, "revision_number": self.revision_number, "title": self.title,
            "kb_article_ids": list(self.kbs), "is_installed": installed, "is_hidden": hidden,
            "is_downloaded": downloaded or installed, "reboot_behavior": self.reboot_behavior,
            "max_download_size": self.max_download_size, "msrc_severity": self.msrc_severity,
            "categories": [{"id": i, "name": n, "type": t} for i, n, t in self.categories],
            "superseded_update_ids": list(self.supersedes),
            "reboot_required": bool(installed and reboot_required),
        }

    def __repr__(self):
        return "UpdateRecord(%s %r)" % (self.update_id, self.title)


class CatalogSnapshot:
    """One catalog version of a store, in memory: searchable updates and what rules need.

    ``records``: UpdateRecords by id, newest release first; ``kinds``: every id the store knows
    -> ``software``/``detectoid``/``category``; ``category_types``: category id -> type;
    ``detectoid_rules``: detectoid id -> its ``is_installed`` rule (parsed XML); ``supersedes``:
    update id -> ids it supersedes (whole table, expired and dangling ends included).
    """

    def __init__(self, store_path, version, records, kinds, category_types, detectoid_rules, supersedes):
        self.store_path = store_path
        self.version = version
        self.records = records
        self.kinds = kinds
        self.category_types = category_types
        self.detectoid_rules = detectoid_rules
        self.supersedes = supersedes
        self.latest_release = max((r.release_date for r in records.values() if r.release_date), default=None)
        self._static = {}
        self._searches = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self):
        return len(self.records)

    @classmethod
    def load(cls, store_path):
        """Read the newest catalog version of the store at ``store_path`` in a few bulk queries."""
        store = open_store(store_path, create=False)
        try:
            version = store.query("SELECT max(version) AS v FROM catalog_versions")[0]["v"]
            if version is None:
                raise LabCatalogError("store '%s' holds no catalog: sync one first (patchwave.windows.catalog_sync)"
                                      % store_path)
            db = store.connection
            kinds, category_types, titles = {}, {}, {}
            detectoid_rules = {}
            for uid, kind, category_type, title, rules in db.execute(
                    "SELECT update_id, kind, category_type, title, rules FROM updates"):
                kinds[uid] = kind
                if kind == "category":
                    category_types[uid] = category_type
                    titles[uid] = title
                elif kind == "detectoid":
                    detectoid_rules[uid] = _parse_rule((json.loads(rules) if rules else {}).get("is_installed"))
            rows = db.execute(
                "SELECT u.update_id, u.revision_number, u.title, u.kb, u.msrc_severity, u.reboot_behavior, "
                "u.max_download_size, u.release_date, u.source FROM updates u WHERE u.kind = 'software' "
                "AND u.expired_version IS NULL AND NOT EXISTS "
                "(SELECT 1 FROM update_bundles b WHERE b.member_id = u.update_id) "
                "ORDER BY u.release_date DESC, u.title, u.update_id").fetchall()
            wanted = {row[0] for row in rows}
            kbs, categories, prerequisites, supersedes, sizes = {}, {}, {}, {}, {}
            for uid, kb in db.execute("SELECT update_id, kb FROM update_kbs ORDER BY update_id, kb"):
                if uid in wanted:
                    kbs.setdefault(uid, []).append(kb)
            for uid, category in db.execute("SELECT update_id, category_id FROM update_categories"):
                if uid in wanted:
                    categories.setdefault(uid, []).append(category)
            clauses = {}
            for uid, clause, prerequisite in db.execute(
                    "SELECT update_id, clause, prerequisite_id FROM update_prerequisites ORDER BY update_id, clause"):
                if uid in wanted:
                    clauses.setdefault(uid, {}).setdefault(clause, []).append(prerequisite)
            for uid, numbered in clauses.items():
                prerequisites[uid] = tuple(tuple(numbered[n]) for n in sorted(numbered))
            for uid, superseded in db.execute(
                    "SELECT update_id, superseded_id FROM update_supersedence ORDER BY update_id, superseded_id"):
                supersedes.setdefault(uid, []).append(superseded)
            # A bundle's download is its members' files (MaxDownloadSize when the metadata has none).
            for uid, size in db.execute(
                    "SELECT owner, SUM(size) FROM (SELECT x.update_id AS owner, f.size AS size FROM update_files x "
                    "JOIN files f ON f.file_id = x.file_id UNION ALL SELECT b.bundle_id, f.size FROM update_bundles b "
                    "JOIN update_files x ON x.update_id = b.member_id JOIN files f ON f.file_id = x.file_id) "
                    "GROUP BY owner"):
                if uid in wanted:
                    sizes[uid] = size or 0
        finally:
            store.close()
        order = {"Product": 0, "UpdateClassification": 1}
        records = {}
        for uid, revision, title, kb, severity, reboot, max_size, released, source in rows:
            # IUpdate.Categories: the update's products and classification (not company or family)
            cats = sorted(((c, titles.get(c) or c, category_types.get(c)) for c in categories.get(uid, ())
                           if category_types.get(c) in order), key=lambda c: (order[c[2]], c[1]))
            records[uid] = UpdateRecord(
                update_id=uid, revision_number=revision, title=title or uid,
                kbs=tuple(kbs.get(uid) or ([kb] if kb else [])), msrc_severity=severity,
                reboot_behavior=_REBOOT_BEHAVIOR.get(reboot, 0),
                max_download_size=int(max_size if max_size is not None else sizes.get(uid, 0)),
                release_date=released, categories=tuple(cats),
                products=frozenset(c for c, _n, t in cats if t == "Product"),
                prerequisites=prerequisites.get(uid, ()), supersedes=tuple(supersedes.get(uid, ())),
                optional=is_optional(title), source=source)
        supersedes = {uid: tuple(ids) for uid, ids in supersedes.items()}
        return cls(os.path.abspath(store_path), version, records, kinds, category_types, detectoid_rules, supersedes)

    # applicability caches ---------------------------------------------------------------------

    def static_for(self, host):
        """:func:`static_candidates` for the host's platform, computed once per platform."""
        key = host.platform_key()
        found = self._static.get(key)
        if found is None:
            found = static_candidates(self, host)
            with self._lock:
                self._static[key] = found
        return found

    def search(self, host, installed=None, hidden=None, as_of=None):
        """:func:`search_updates`, memoised on (platform, installed, hidden, as_of)."""
        installed = frozenset(host.installed if installed is None else installed)
        hidden = frozenset(host.hidden if hidden is None else hidden)
        key = (host.platform_key(), installed, hidden, as_of)
        with self._lock:
            found = self._searches.get(key)
            if found is not None:
                self._searches.move_to_end(key)
                return found
        found = search_updates(self, host, installed, hidden, as_of)
        with self._lock:
            self._searches[key] = found
            while len(self._searches) > 512:
                self._searches.popitem(last=False)
        return found


class CatalogCache:
    """Catalog snapshots by store path, reloaded when the store gets a new catalog version."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entries = {}

    @staticmethod
    def current_version(store_path):
        if not store_path:
            raise LabCatalogError("the lab's WUA needs a store with a synced catalog (WuaBackend(store=...), "
                                  "--store, or PATCHWAVE_STORE)")
        path = os.path.abspath(store_path)
        if not os.path.isfile(path):
            raise LabCatalogError("store '%s' does not exist" % path)
        try:
            connection = sqlite3.connect("file:%s?mode=ro" % quote(path), uri=True, timeout=30)
            try:
                return connection.execute("SELECT max(version) FROM catalog_versions").fetchone()[0]
            finally:
                connection.close()
        except sqlite3.DatabaseError as exc:
            raise LabCatalogError("store '%s' cannot be read: %s" % (path, exc))

    def get(self, store_path):
        version = self.current_version(store_path)
        path = os.path.abspath(store_path)
        snapshot = self._entries.get(path)
        if snapshot is not None and snapshot.version == version:
            return snapshot
        with self._lock:
            snapshot = self._entries.get(path)
            if snapshot is None or snapshot.version != version:
                snapshot = CatalogSnapshot.load(path)
                self._entries[path] = snapshot
            return snapshot

    def clear(self):
        with self._lock:
            self._entries.clear()


CATALOG_CACHE = CatalogCache()


# Applicability rules -----------------------------------------------------------------------------

def _parse_rule(text):
    if not text:
        return None
    try:
        return ET.fromstring(text)
    except ET.ParseError:
        return None


def _local(tag):
    """``{ns}And``, ``lar:And`` (namespaced) or ``b.Processor`` (offline scan packages' short form) -> the name."""
    return tag.rsplit("}", 1)[-1].rsplit(".", 1)[-1]


def _compare(left, comparison, right):
    return {"EqualTo": left == right, "LessThan": left < right, "LessThanOrEqualTo": left <= right,
            "GreaterThan": left > right, "GreaterThanOrEqualTo": left >= right}.get(comparison, False)


def evaluate_rule(rule, host):
    """Evaluate an applicability rule (parsed XML) on a host; rules the lab does not know are false."""
    if rule is None:
        return False
    name = _local(rule.tag)
    children = list(rule)
    if name == "And":
        return all(evaluate_rule(child, host) for child in children)
    if name == "Or":
        return any(evaluate_rule(child, host) for child in children)
    if name == "Not":
        return bool(children) and not evaluate_rule(children[0], host)
    if name in ("True", "False"):
        return name == "True"
    platform = host.platform
    attrs = rule.attrib
    if name == "Processor":
        return int(attrs.get("Architecture", -1)) == ARCHITECTURES[platform.architecture]
    if name == "WindowsVersion":
        if "ProductType" in attrs and int(attrs["ProductType"]) != platform.product_type:
            return False
        wanted = [int(attrs[k]) for k in ("MajorVersion", "MinorVersion", "BuildNumber") if k in attrs]
        have = [10, 0, platform.build][:len(wanted)]
        return _compare(have, attrs.get("Comparison", "EqualTo"), wanted)
    if name in ("RegKeyExists", "RegDword"):
        if attrs.get("Key", "HKEY_LOCAL_MACHINE") != "HKEY_LOCAL_MACHINE":
            return False
        values = host.registry.get(attrs.get("Subkey", "").lower())
        if name == "RegKeyExists" or values is None:
            return values is not None
        data = values.get(attrs.get("Value", "").lower())
        if not isinstance(data, int):
            return False
        return _compare(data, attrs.get("Comparison", "EqualTo"), int(attrs.get("Data", "0")))
    return False


def static_candidates(snapshot, host):
    """Updates that can apply to the host's platform, whatever it has installed.

    Returns ``[(record, pending_clauses)]``, newest first: ``pending_clauses`` are the
    prerequisite clauses that only another update can satisfy (tuples of update ids; one of
    each must be installed). Depends on the platform only, so it is computed once per platform.
    """
    products = host.products
    detectoids = {}
    out = []
    for record in snapshot.records.values():
        if not record.products & products:
            continue
        if host.published_sources is not None and record.source not in MICROSOFT_SOURCES \
                and record.source not in host.published_sources:
            continue  # a catalog file's update: WUA knows it only when the host's update server publishes it
        pending = []
        for clause in record.prerequisites:
            satisfied = False
            updates = []
            for prerequisite in clause:
                kind = snapshot.kinds.get(prerequisite)
                if kind == "detectoid":
                    if prerequisite not in detectoids:
                        detectoids[prerequisite] = evaluate_rule(snapshot.detectoid_rules.get(prerequisite), host)
                    satisfied = detectoids[prerequisite]
                elif kind == "category":
                    satisfied = snapshot.category_types.get(prerequisite) != "Product" or prerequisite in products
                elif kind == "software":
                    updates.append(prerequisite)
                if satisfied:
                    break
            if satisfied:
                continue
            if not updates:
                break  # nothing can satisfy this clause on this platform
            pending.append(tuple(updates))
        else:
            out.append((record, tuple(pending)))
    return out


def _superseded_by(starts, supersedes):
    """Every update that the updates ``starts`` supersede, directly or through others."""
    seen = set()
    stack = [s for start in starts for s in supersedes.get(start, ())]
    while stack:
        uid = stack.pop()
        if uid not in seen:
            seen.add(uid)
            stack.extend(supersedes.get(uid, ()))
    return seen


class SearchOutcome:
    """What a search finds: installed and needed UpdateRecords (each newest first)."""

    __slots__ = ("installed", "needed")

    def __init__(self, installed, needed):
        self.installed = installed
        self.needed = needed

    @property
    def updates(self):
        return self.installed + self.needed


def search_updates(snapshot, host, installed, hidden, as_of=None):
    """The updates a search reports on ``host`` given its ``installed`` and ``hidden`` ids.

    ``as_of`` (ISO date) searches the catalog as it was then: only updates released before it.
    See the module docstring for the rules.
    """
    candidates = snapshot.static_for(host)
    if as_of:
        candidates = [(r, p) for r, p in candidates if (r.release_date or "") < as_of]
    installed_hits, needed = [], []
    for record, pending in candidates:
        if record.update_id in installed:
            installed_hits.append(record)
        elif all(any(uid in installed for uid in clause) for clause in pending):
            needed.append(record)
    gone = _superseded_by(installed, snapshot.supersedes)
    needed = [r for r in needed if r.update_id not in gone]
    shadowed = _superseded_by([r.update_id for r in needed if r.update_id not in hidden and not r.optional],
                              snapshot.supersedes)
    needed = [r for r in needed if r.update_id not in shadowed]
    return SearchOutcome(installed_hits, needed)


def patch_through(snapshot, host, as_of=None, include_optional=False, rounds=10):
    """Install what the host needs from the catalog as of ``as_of`` (all of it: None), round after
    round (an update whose prerequisite is another update shows up once that one is in), as a host
    patched each month would be; optional updates only with ``include_optional``. Returns the
    installed ids (a new set; the host is not changed)."""
    installed = set(host.installed)
    for _round in range(rounds):
        outcome = snapshot.search(host, installed=installed, hidden=host.hidden, as_of=as_of)
        new = [r.update_id for r in outcome.needed
               if r.update_id not in host.hidden and (include_optional or not r.optional)]
        if not new:
            break
        installed.update(new)
    return installed


# Search criteria (IUpdateSearcher::Search, wua_anchors.md §6.2) ----------------------------------

WU_E_INVALID_CRITERIA = 0x80240032


class CriteriaError(ValueError):
    """The criteria are not valid WUA criteria (the search fails with WU_E_INVALID_CRITERIA)."""


_TOKEN = re.compile(r"\s*(?:(?P<paren>[()])|(?P<op>!=|=)|(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+)"
                    r"|(?P<word>[A-Za-z_]\w*))")
_BOOLEAN_CRITERIA = {
    # name: what the criterion is of an update, from (record, installed, hidden)
    "isinstalled": lambda r, i, h: i,
    "ispresent": lambda r, i, h: i,
    "ishidden": lambda r, i, h: h,
    "browseonly": lambda r, i, h: r.optional,
    "autoselectonwebsites": lambda r, i, h: not r.optional,
    "isassigned": lambda r, i, h: not r.optional,
    "rebootrequired": lambda r, i, h: False,
}
_OTHER_CRITERIA = ("type", "updateid", "revisionnumber", "categoryids", "deploymentaction")


def _tokens(text):
    tokens, index = [], 0
    text = text or ""
    while index < len(text):
        if text[index:].strip() == "":
            break
        match = _TOKEN.match(text, index)
        if not match:
            raise CriteriaError("cannot read the criteria at %r" % text[index:index + 20])
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "word" and value.lower() in ("and", "or", "contains"):
            kind, value = value.lower(), value.lower()
        elif kind == "string":
            value = value[1:-1].replace("''", "'")
        elif kind == "number":
            value = int(value)
        tokens.append((kind, value))
        index = match.end()
    return tokens


def parse_criteria(text):
    """WUA criteria -> a list of AND-groups ``[(name, operator, value)]`` (OR between groups).

    Follows the grammar's limits (wua_anchors.md §6.2): OR only at the top level, ``!=`` only on
    Type and UpdateID, ``contains`` only on CategoryIDs, RevisionNumber only with ``UpdateID =``.
    Raises CriteriaError otherwise.
    """
    tokens = _tokens(text)
    position = [0]

    def peek():
        return tokens[position[0]] if position[0] < len(tokens) else (None, None)

    def take(kind=None):
        token = peek()
        if token[0] is None or (kind and token[0] != kind):
            raise CriteriaError("expected %s, found %r" % (kind or "more", token[1]))
        position[0] += 1
        return token

    def criterion():
        name = take("word")[1]
        operator = peek()[0]
        if operator not in ("op", "contains"):
            raise CriteriaError("expected an operator after %s" % name)
        operator = take()[1]
        kind, value = take()
        if kind not in ("string", "number"):
            raise CriteriaError("expected a value after %s %s" % (name, operator))
        key = name.lower()
        if key not in _BOOLEAN_CRITERIA and key not in _OTHER_CRITERIA:
            raise CriteriaError("unknown criterion %s" % name)
        if (operator == "contains") != (key == "categoryids"):
            raise CriteriaError("CategoryIDs takes contains, and only it")
        if operator == "!=" and key not in ("type", "updateid"):
            raise CriteriaError("!= is allowed only on Type and UpdateID")
        if key in _BOOLEAN_CRITERIA and value not in (0, 1):
            raise CriteriaError("%s takes 0 or 1" % name)
        return (key, operator, value)

    def and_group(inside):
        terms = []
        while True:
            if peek()[0] == "paren" and peek()[1] == "(":
                take()
                terms.extend(and_group(True))
                if peek()[0] == "or":
                    raise CriteriaError("OR is allowed only at the top level")
                if take("paren")[1] != ")":
                    raise CriteriaError("unbalanced parentheses")
            else:
                terms.append(criterion())
            if peek()[0] != "and":
                break
            take()
        if inside and peek()[0] == "or":
            raise CriteriaError("OR is allowed only at the top level")
        return terms

    groups = [and_group(False)]
    while peek()[0] == "or":
        take()
        groups.append(and_group(False))
    if peek()[0] is not None:
        raise CriteriaError("unexpected %r" % (peek()[1],))
    for group in groups:
        if any(c[0] == "revisionnumber" for c in group) and not any(c[:2] == ("updateid", "=") for c in group):
            raise CriteriaError("RevisionNumber needs UpdateID =")
    return groups


def matches_criteria(groups, record, installed, hidden):
    """Whether an update (with its installed/hidden state on the host) matches parsed criteria."""
    for criteria in groups:
        if any(c[0] == "deploymentaction" for c in criteria):
            implied = criteria
        else:
            implied = criteria + [("deploymentaction", "=", "Installation")]  # implied in every AND group
        if all(_criterion(c, record, installed, hidden) for c in implied):
            return True
    return False


def _criterion(criterion, record, installed, hidden):
    name, operator, value = criterion
    if name in _BOOLEAN_CRITERIA:
        return _BOOLEAN_CRITERIA[name](record, installed, hidden) == bool(value)
    if name == "type":
        same = str(value).lower() == "software"  # every update the lab knows is software (no drivers)
        return same if operator == "=" else not same
    if name == "updateid":
        same = str(value).lower() == record.update_id.lower()
        return same if operator == "=" else not same
    if name == "revisionnumber":
        return value == record.revision_number
    if name == "categoryids":
        return str(value).lower() in {c[0].lower() for c in record.categories}
    if name == "deploymentaction":
        return str(value).lower() == "installation"
    return False


# The host module ---------------------------------------------------------------------------------

SPEC = {
    # plugins/modules/scan.ps1's $spec: option -> (type, default, choices)
    "_operation": ("str", "start", ("start", "poll", "cancel")),
    "_operation_options": ("dict", None, None),
    "server_selection": ("str", "default", SERVER_SELECTIONS),
    "offline_scan_file": ("path", None, None),
    "include_hidden": ("bool", True, None),
    "search_criteria": ("str", "IsInstalled=0 or IsInstalled=1", None),
}
OPERATION_OPTIONS = {"scan_id": ("str", None, None), "wait_seconds": ("int", 0, None), "give_up_seconds": ("int", 0, None)}
# plugins/modules/host_workers.ps1's $spec
HOST_WORKERS_SPEC = {
    "state": ("str", "present", ("present", "absent")),
    "kind": ("str", "all", ("all",) + workers_contract.KINDS),
    "older_than": ("str", None, None),
}
WORK_ROOT = "C:\\Windows\\Temp"
# PatchwaveTask.psm1: when the controller does not say when it gives up on a piece of work.
DEFAULT_GIVE_UP_SECONDS = 46800
_TRUE = ("y", "yes", "on", "1", "true", "t", "1.0")
_FALSE = ("n", "no", "off", "0", "false", "f", "0.0")


class ModuleArgumentError(ValueError):
    """What Ansible.Basic fails with before the module's own code runs."""


def _parse_options(values, spec, context="", module=FQCN):
    values = {k: v for k, v in (values or {}).items() if not k.startswith("_ansible_")}
    unsupported = sorted(k for k in values if k not in spec)
    if unsupported:
        raise ModuleArgumentError("Unsupported parameters for (%s) module: %s%s. Supported parameters include: %s" % (
            module, ", ".join(unsupported), context, ", ".join(sorted(spec))))
    params = {}
    for name, (kind, default, choices) in spec.items():
        value = values.get(name)
        if value is None:
            params[name] = default
            continue
        if kind == "bool" and not isinstance(value, bool):
            text = str(value).strip().lower()
            if text not in _TRUE + _FALSE:
                raise ModuleArgumentError("The value '%s' is not a valid boolean. Valid booleans include: %s"
                                          % (text, ", ".join(_TRUE + _FALSE)))
            value = text in _TRUE
        elif kind == "int":
            value = int(value)
        elif kind in ("str", "path"):
            value = str(value)
        if choices and value not in choices:
            raise ModuleArgumentError("value of %s must be one of: %s. Got no match for: %s%s"
                                      % (name, ", ".join(choices), value, context))
        params[name] = value
    return params


def parse_module_args(args):
    """The module's parameters as Ansible.Basic gives them to scan.ps1; ModuleArgumentError otherwise."""
    params = _parse_options(args, SPEC)
    if not isinstance(params["_operation_options"], (dict, type(None))):
        raise ModuleArgumentError("argument for _operation_options is of type %s and we were unable to convert to "
                                  "dict" % type(params["_operation_options"]).__name__)
    params["_operation_options"] = _parse_options(params["_operation_options"], OPERATION_OPTIONS,
                                                  " found in _operation_options")
    if params["server_selection"] == "offline" and not params["offline_scan_file"]:
        raise ModuleArgumentError("server_selection is offline but all of the following are missing: "
                                  "offline_scan_file")
    return params


class _Scan:
    __slots__ = ("scan_id", "server_selection", "mode", "offline_file", "staged", "include_hidden", "criteria",
                 "worker", "started_at", "duration", "boot_time", "result", "lost", "worker_error", "last_task_result",
                 "owner", "give_up")

    def __init__(self, scan_id, params, worker, started_at, duration, boot_time, owner=None):
        self.scan_id = scan_id
        self.server_selection = params["server_selection"]
        self.mode = "offline" if self.server_selection == "offline" else "online"
        self.offline_file = params["offline_scan_file"]
        self.staged = None  # a UNC cab the start step could not copy: the worker tries again
        self.include_hidden = params["include_hidden"]
        self.criteria = params["search_criteria"]
        self.worker = worker
        self.started_at = started_at
        self.duration = duration
        self.boot_time = boot_time
        self.result = None
        self.lost = None
        self.worker_error = None
        self.last_task_result = None  # the task is deleted once the worker runs: nothing to read later
        self.owner = owner
        self.give_up = started_at + (params["_operation_options"]["give_up_seconds"] or DEFAULT_GIVE_UP_SECONDS)

    @property
    def ends_at(self):
        return self.started_at + self.duration


def _is_guid(text):
    try:
        uuid.UUID(str(text))
    except ValueError:
        return False
    return True


class WuaBackend(DefaultBackend):
    """``patchwave.windows.scan`` as ``plugins/modules/scan.ps1`` answers it (contract: ``plugins/module_utils/_scan/contract.py``).

    ``store``: the store whose newest catalog drives the emulation (default ``PATCHWAVE_STORE``);
    ``time_scale``: clock seconds per emulated second (a host's search takes
    ``search_seconds * time_scale`` on the lab clock; 0 = instant); ``cache``: where catalogs are
    kept (default: one per process). Everything else goes to :class:`.backend.DefaultBackend`.

    Arguments are checked as Ansible.Basic checks scan.ps1's ``$spec`` (unsupported parameters,
    choices, ``required_if``). ``_operation`` start / poll / cancel; ``_operation_options.scan_id``
    for poll and cancel (a GUID), ``_operation_options.wait_seconds`` makes a poll wait (on the lab
    clock, when the host has one) for the search to end, ``_operation_options.give_up_seconds``
    (start) is when the controller gives up on the scan. With ``become`` the worker runs with the
    module's own token, started detached through WMI (``worker: in_process``), and is not stopped by
    the scheduled-task faults. Every start first removes stale scans (past their give-up time, or
    whose worker ended without a result) and lists them as ``stale_removed``; a live scan of another
    user is never touched. Check mode starts nothing (the action plugin never calls the host in check
    mode anyway).
    """

    def __init__(self, host, store=None, time_scale=1.0, cache=None):
        super().__init__(host)
        self.store = store or os.environ.get("PATCHWAVE_STORE")
        self.time_scale = float(time_scale)
        self.cache = cache or CATALOG_CACHE
        self.wua = wua_host(host)
        self._scans = {}
        self._lock = threading.Lock()
        from .install import InstallEmulation  # noqa: E402  (install.py imports this module)

        self.installs = InstallEmulation(self)

    @classmethod
    def factory(cls, store, time_scale=1.0, cache=None):
        """A ``backend_factory`` for :class:`.fleet.Fleet`."""
        return lambda model: cls(model, store=store, time_scale=time_scale, cache=cache)

    def run_module(self, fqcn, args, context):
        if fqcn == FQCN:
            return self.scan(args, context)
        if fqcn == HOST_WORKERS_FQCN:
            return self.host_workers(args, context)
        if fqcn == INSTALL_FQCN:
            return self.installs.run(args, context)
        return super().run_module(fqcn, args, context)

    def close(self):
        """The fleet stops: cancel what is scheduled (reboots)."""
        self.installs.close()

    def catalog(self):
        return self.cache.get(self.store)

    # operations -------------------------------------------------------------------------------

    def scan(self, args, context):
        try:
            params = parse_module_args(args)
        except ModuleArgumentError as exc:
            return {"failed": True, "changed": False, "msg": str(exc)}
        # Ansible.Basic reports the parameters as its spec made them: defaults filled in, a dict option
        # that was not given stays null (its suboptions' defaults apply only to a given dict).
        invocation = dict(params)
        if args.get("_operation_options") is None:
            invocation["_operation_options"] = None
        return dict(self._operation(params, context), invocation={"module_args": invocation})

    def _operation(self, params, context):
        operation = params["_operation"]
        if operation == "start":
            return self.start(params, context)
        base = {"changed": False, "operation": operation}
        scan_id = params["_operation_options"]["scan_id"]
        if not scan_id:
            return dict(base, failed=True, msg="_operation_options.scan_id is required for %s." % operation)
        if not _is_guid(scan_id):
            return dict(base, failed=True, msg="The scan id '%s' is not a GUID." % scan_id)
        base["scan_id"] = scan_id
        if operation == "poll":
            return self.poll(base, params["_operation_options"]["wait_seconds"], context,
                             params["_operation_options"]["give_up_seconds"])
        return self.cancel(base, context)

    def start(self, params, context):
        scan_id = str(uuid.uuid4())
        worker = "in_process" if context.become else "scheduled_task"
        base = {"changed": False, "operation": "start", "scan_id": scan_id, "worker": worker}
        state = self.wua
        path = params["offline_scan_file"]
        unc = params["server_selection"] == "offline" and path.startswith("\\\\")
        if params["server_selection"] == "offline" and not unc and not state.fs.exists(path):
            return dict(base, failed=True, msg="The offline scan file '%s' does not exist on the host." % path)
        if not params["search_criteria"].strip():
            return dict(base, failed=True, msg=(
                "search_criteria is empty: give a Windows Update search criteria, for example "
                "'IsInstalled=0 or IsInstalled=1' (the default) or 'IsInstalled=0 and IsHidden=0'."))
        if context.check_mode:
            return base  # nothing started: a later poll finds nothing
        base["stale_removed"] = self._remove_stale(context.now, context.user)
        if worker == "scheduled_task" and state.faults.scheduled_task_blocked:
            denied = com_error_text(E_ACCESSDENIED)
            return dict(base, failed=True, hresult=E_ACCESSDENIED, worker_start_failed=True, msg=(
                "Failed to start the scan worker (scheduled_task): Could not start the task patchwave-scan-%s as %s "
                "(S4U): %s; as %s (SYSTEM): %s" % (scan_id, _user_sid(self.host), denied, LOCAL_SYSTEM, denied)))
        if worker == "scheduled_task" and state.faults.s4u_blocked:
            # Start-PatchwaveWorkTask: the S4U task never leaves "has not run", so SYSTEM runs it.
            base["warnings"] = [
                "The scan task could not start as %s (S4U): The task is not running (state 3, last result 0x%08X); "
                "enable the Microsoft-Windows-TaskScheduler/Operational log for details. The scan runs as SYSTEM, "
                "which reaches shares with the computer account only." % (_user_sid(self.host), SCHED_S_TASK_HAS_NOT_RUN)]
        try:
            self.catalog()
        except LabCatalogError as exc:
            return dict(base, failed=True, msg="lab: %s" % exc)
        model = self.host
        if model.boot_time is None:
            model.boot_time = context.now - 3 * 86400
        duration = max(0.0, float(state.search_seconds)) * self.time_scale
        scan = _Scan(scan_id, params, worker, context.now, duration, model.boot_time, owner=context.user)
        if unc and not state.fs.exists(path):
            scan.staged = "Cannot find path '%s' because it does not exist." % path
        with self._lock:
            self._scans[scan_id] = scan
        return base

    def _remove_stale(self, now, owner, kind="scan"):
        """Remove-PatchwaveStaleWork: abandoned work of any kind (``_worker_state``); a stale worker that
        still runs is stopped only when it is the caller's (same kind and owner). Returns the folder names."""
        removed = []
        with self._lock:
            for scan_id, scan in list(self._scans.items()):
                self._settle(scan, now)
                if self._worker_state(scan, now) != "abandoned" or (
                        self._alive(scan) and (scan.owner != owner or kind != "scan")):
                    continue
                del self._scans[scan_id]
                removed.append(_work_name(scan_id))
        return removed + self.installs.remove_stale(now, owner, kind)

    @staticmethod
    def _alive(scan):
        """The worker process still runs (settled: no result yet, not lost)."""
        return scan.result is None and not scan.lost

    @staticmethod
    def _worker_state(scan, now):
        """Get-PatchwaveWork's state of a settled scan: abandoned (past its give-up time, or its worker
        ended without a result), finished (its result waits) or running."""
        if now >= scan.give_up or (scan.lost and scan.result is None):
            return "abandoned"
        return "finished" if scan.result is not None else "running"

    def _workers(self, now):
        """Get-PatchwaveWork: every scan on the host as host_workers lists it (WORKER_SCHEMA), oldest first."""
        offset = float(self.host.clock_offset or 0)  # the host's clock stamps work.json
        found = []
        with self._lock:
            for scan_id, scan in sorted(self._scans.items(), key=lambda item: (item[1].started_at, item[0])):
                self._settle(scan, now)
                name = _work_name(scan_id)
                found.append({"kind": "scan", "work_id": scan_id, "owner": _owner_sid(self.host, scan.owner),
                              "started": iso(scan.started_at + offset), "give_up_at": iso(scan.give_up + offset),
                              "state": self._worker_state(scan, now), "alive": self._alive(scan), "task_name": name,
                              "folder": "%s\\%s" % (WORK_ROOT, name)})
        found.extend(self.installs.workers(now))
        found.sort(key=lambda w: w["started"])  # stable: scans before installs of the same second
        return found

    def host_workers(self, args, context):
        """``patchwave.windows.host_workers`` as ``plugins/modules/host_workers.ps1`` answers it
        (contract: ``plugins/module_utils/_host/contract.py``): list (``state: present``) or remove
        (``absent``; check mode removes nothing and lists what would go) the scans on this host."""
        try:
            params = _parse_options(args, HOST_WORKERS_SPEC, module=HOST_WORKERS_FQCN)
        except ModuleArgumentError as exc:
            return {"failed": True, "changed": False, "msg": str(exc)}
        result = {"changed": False, "removed": [], "invocation": {"module_args": dict(params)}}
        minimum_age = 0
        if params["older_than"] is not None:
            duration = re.match(workers_contract.DURATION_PATTERN, params["older_than"])
            if not duration:
                return dict(result, failed=True, msg=workers_contract.older_than_error(params["older_than"]))
            minimum_age = int(duration.group(1)) * workers_contract.DURATION_UNITS[duration.group(2)]
        cutoff = iso(context.host_now - minimum_age)
        workers = [w for w in self._workers(context.now)
                   if params["kind"] in ("all", w["kind"]) and (not minimum_age or w["started"] <= cutoff)]
        result["workers"] = workers
        if params["state"] == "absent" and workers:
            result["changed"] = True
            if not context.check_mode:
                with self._lock:
                    for worker in workers:
                        self._scans.pop(worker["work_id"], None)
                self.installs.remove_all(w["work_id"] for w in workers if w["kind"] == "install")
            result["removed"] = [w["task_name"] for w in workers]
        return result

    def _settle(self, scan, now):
        """What the host's files say of a scan at ``now``: its result once the search has ended, or why it is lost."""
        if scan.result is not None or scan.lost is not None:
            return
        if self.wua.faults.worker_bootstrap_error:
            scan.worker_error = self.wua.faults.worker_bootstrap_error
            scan.lost = scan.worker_error
        elif self.wua.faults.worker_lost:
            scan.lost = "the worker ended without a result (killed, or the host restarted)"
        elif self.host.boot_time != scan.boot_time and (self.host.boot_time or now) < scan.ends_at:
            scan.lost = "the host restarted at %s, before the search ended" % iso(self.host.boot_time or now)
        elif now >= scan.ends_at:
            scan.result = self._finish(scan)

    def poll(self, base, wait_seconds, context, give_up_seconds=0):
        with self._lock:
            scan = self._scans.get(base["scan_id"])
            if scan is not None and give_up_seconds:
                scan.give_up = context.now + give_up_seconds  # Update-PatchwaveWorkGiveUp
        if scan is None:
            return dict(base, state="lost", worker_error=None, last_task_result=None, msg=(
                "scan %s is lost: the host has no folder for it (never started here, or already cleaned up)"
                % base["scan_id"]))
        clock = getattr(context.runtime, "clock", None)
        now = context.now
        if wait_seconds and clock is not None:
            deadline = time.monotonic() + wait_seconds
            while scan.result is None and now < scan.ends_at and time.monotonic() < deadline \
                    and not context.cancelled.is_set():
                time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
                now = clock()
        with self._lock:
            self._settle(scan, now)
        if scan.lost:
            why = "scan %s is lost: %s" % (base["scan_id"], scan.lost)
            if scan.last_task_result is not None:
                why += " (task last result 0x%08X)" % scan.last_task_result
            return dict(base, state="lost", msg=why, worker_error=scan.worker_error,
                        last_task_result=scan.last_task_result)
        if scan.result is None:
            return dict(base, state="running", progress=self._progress(scan, now, self.host.clock_offset))
        return dict(base, state="done", scan=scan.result)

    @staticmethod
    def _progress(scan, now, clock_offset=0.0):
        """progress.json as the worker writes it: starting, then searching (WUA reports nothing while it
        searches), collecting near the end; ``updated`` is when the worker entered the phase, by the host's clock."""
        elapsed = max(0.0, now - scan.started_at)
        phases = (("starting", 0.0), ("searching", min(1.0, 0.05 * scan.duration)),
                  ("collecting", 0.9 * scan.duration))
        phase, since = phases[0]
        for name, at in phases:
            if elapsed >= at:
                phase, since = name, at
        return {"phase": phase, "updated": iso(scan.started_at + since + float(clock_offset or 0))}

    def cancel(self, base, context):
        """Acknowledge a result, or abort a running search; either way nothing of the scan is left."""
        if context.check_mode:
            return dict(base, cleaned=False)
        with self._lock:
            scan = self._scans.pop(base["scan_id"], None)
            aborted = False
            if scan is not None and scan.result is None and not scan.lost:
                if context.now < scan.ends_at:
                    aborted = True
                else:  # the worker had finished: its search counts even if nobody fetched it
                    scan.result = self._finish(scan)
        return dict(base, cleaned=True, aborted=aborted)

    # the search itself ----------------------------------------------------------------------

    def _finish(self, scan):
        """The SCAN_SCHEMA result of a finished search, from the catalog and the host as they are now."""
        state = self.wua
        faults = state.faults
        offset = float(self.host.clock_offset or 0)  # the worker stamps times with the host's clock
        result = {
            "scan_id": scan.scan_id, "mode": scan.mode, "server_selection": scan.server_selection,
            "started": iso(scan.started_at + offset), "finished": iso(scan.ends_at + offset), "result_code": 2,
            "hresult": None, "error": None, "wua_version": state.wua_version, "worker": scan.worker,
            "last_boot": iso(scan.boot_time + offset), "updates": [], "warnings": [],
        }
        with state.lock:
            result["reboot_pending"] = state.reboot_pending
            result["reboot_sources"] = [s for s in REBOOT_SOURCES if s in state.reboot_sources]
            hresult = faults.offline_search_hresult if scan.mode == "offline" else faults.search_hresult
            try:
                criteria = parse_criteria(scan.criteria)
            except CriteriaError:
                criteria = None
            if scan.staged and not state.fs.exists(scan.offline_file):
                result.update(result_code=4, hresult=ERROR_FILE_NOT_FOUND, error=(
                    "Could not copy the offline scan file '%s' to the host: %s (the start step could not either: %s)"
                    % (scan.offline_file, scan.staged, scan.staged)))
            elif criteria is None:
                result.update(result_code=4, hresult=WU_E_INVALID_CRITERIA, error=com_error_text(WU_E_INVALID_CRITERIA))
            elif hresult:
                result.update(result_code=4, hresult=hresult, error=com_error_text(hresult))
            else:
                installed, hidden, downloaded = set(state.installed), set(state.hidden), set(state.downloaded)
                outcome = self.catalog().search(state, installed, hidden)
                result["updates"] = [
                    r.as_result(r.update_id in installed, r.update_id in hidden, r.update_id in downloaded,
                                r.update_id in state.reboot_required)
                    for r in outcome.updates
                    if matches_criteria(criteria, r, r.update_id in installed, r.update_id in hidden)
                    and (scan.include_hidden or r.update_id not in hidden)]
                result["warnings"] = [{"context": int(w["context"]), "hresult": int(w["hresult"])}
                                      for w in faults.search_warnings]
                if result["warnings"]:
                    result["result_code"] = 3
            needed = sum(1 for u in result["updates"] if not u["is_installed"])
            state.last_scan = {"scan_id": scan.scan_id, "finished": result["finished"], "mode": scan.mode,
                               "server_selection": scan.server_selection, "result_code": result["result_code"],
                               "hresult": result["hresult"], "installed": len(result["updates"]) - needed,
                               "needed": needed}
        return result

    # lab status ------------------------------------------------------------------------------

    def status(self, now=None):
        """The host's WUA state, its scans' ids (``scans``) and the same scans as host_workers lists them
        (``workers``) at ``now`` (default: the true time)."""
        with self._lock:
            active = sorted(self._scans)
        return dict(self.wua.summary(), scans=active, workers=self._workers(time.time() if now is None else now),
                    store=self.store, install=self.installs.status())

    # WuaHost fields set_faults changes besides WuaFaults (tests/lab/install.py uses the install ones)
    HOST_SETTINGS = {"search_seconds": float, "install_seconds": float, "download_seconds": float,
                     "reboot_seconds": float, "free_space_bytes": int}

    def set_faults(self, **settings):
        """Change this host's WUA faults (``WuaFaults`` fields) and the WuaHost settings ``search_seconds``,
        ``install_seconds`` (a number, or ``{update_id: seconds}`` merged into ``install_seconds_by_update``,
        a negative value removing an entry), ``download_seconds``, ``reboot_seconds``, ``free_space_bytes``."""
        if "install_seconds_by_update" in settings:
            settings.setdefault("install_seconds", {})
            if isinstance(settings["install_seconds"], dict):
                settings["install_seconds"].update(settings.pop("install_seconds_by_update"))
            else:
                self.set_faults(install_seconds=settings.pop("install_seconds_by_update"))
        for key, convert in self.HOST_SETTINGS.items():
            if key not in settings:
                continue
            value = settings.pop(key)
            if key == "install_seconds" and isinstance(value, dict):
                for update_id, seconds in value.items():
                    if seconds is None or float(seconds) < 0:
                        self.wua.install_seconds_by_update.pop(update_id, None)
                    else:
                        self.wua.install_seconds_by_update[update_id] = float(seconds)
                continue
            setattr(self.wua, key, convert(value))
        self.wua.faults.update(**settings)
        return self.wua.faults.as_dict()


def _user_sid(model):
    return "S-1-5-21-%d-%d-%d-500" % (1000000000 + model.index, 2000000000, 300000000)


def _owner_sid(model, user):
    """The SID work.json records for the lab user who started a piece of work (the built-in Administrator
    is RID 500, other lab users get a RID from their name)."""
    bare = str(user or "").split("\\", 1)[-1].split("@", 1)[0].lower()
    if bare in ("", "administrator"):
        return _user_sid(model)
    return "S-1-5-21-%d-%d-%d-%d" % (1000000000 + model.index, 2000000000, 300000000,
                                     1000 + zlib.crc32(bare.encode("utf-8")) % 100000)


def _work_name(scan_id):
    return "patchwave-scan-%s" % scan_id
