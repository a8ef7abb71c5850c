"""Synthetic compliance data for tests and benchmarks: a small catalog written straight into the
store and scans that travel the real way (state messages through the spool and ``ingest``).

``Fleet`` keeps the truth it generated (per host: its scans and what each returned), so a test can
compute the expected states with the pure rules of ``_compliance`` and compare them with the bulk
evaluation over the store.
"""

import contextlib
import datetime
import random
import uuid

from ansible_collections.patchwave.windows.plugins.module_utils._scan.ingest import ingest
from ansible_collections.patchwave.windows.plugins.module_utils._scan.spool import write_message
from ansible_collections.patchwave.windows.plugins.module_utils._store import planes as _scan_bits
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store

NOW = datetime.datetime(2026, 11, 23, 12, 0, tzinfo=datetime.timezone.utc)
PRODUCT = ("f702a48c-919b-45d6-9aef-ca4248d50397", "Windows Server 2019")
SECURITY = ("0fa1201d-4330-4fa8-8ae9-b877473b6441", "Security Updates")
SEVERITIES = ("Critical", "Important", "Moderate", "Low", None)


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def update_id(n):
    return str(uuid.UUID(int=(0x5EED << 96) | n))


def add_catalog(store, n_updates, versions=3, seed=0):
    """``n_updates`` software updates spread over catalog versions 1..versions (plus two categories).

    Returns {update_id: {"kb", "first_version", "severity", "superseded_by"}}; every tenth update
    is superseded by the next one.
    """
    rng = random.Random("catalog|%s" % seed)
    updates = {}
    with store.transaction() as cursor:
        for version in range(1, versions + 1):
            cursor.execute(
                "INSERT INTO catalog_versions (version, created_at, source, format, updates_added, updates_modified, "
                "updates_expired, updates_total) VALUES (?, ?, 'test', 'catalog_file', 0, 0, 0, 0)",
                (version, iso(NOW - datetime.timedelta(days=10 * (versions - version)))))
        for category, title, kind in ((PRODUCT[0], PRODUCT[1], "Product"), (SECURITY[0], SECURITY[1],
                                                                            "UpdateClassification")):
            cursor.execute(
                "INSERT INTO updates (update_id, revision_number, source, kind, category_type, title, is_bundle, "
                "digest, first_version, changed_version) VALUES (?, 1, 'test', 'category', ?, ?, 0, 'd', 1, 1)",
                (category, kind, title))
        rows = []
        for n in range(n_updates):
            uid = update_id(n)
            first = 1 + (n * versions) // max(n_updates, 1)
            severity = rng.choice(SEVERITIES)
            kb = str(5000000 + n)
            updates[uid] = {"kb": kb, "first_version": first, "severity": severity, "superseded_by": None}
            released = iso(NOW - datetime.timedelta(days=n_updates - n))
            rows.append((uid, "test", "software", "Update for Windows (KB%s)" % kb, kb, severity, released, "d%d" % n,
                         first, first))
        cursor.executemany(
            "INSERT INTO updates (update_id, revision_number, source, kind, title, kb, msrc_severity, release_date, "
            "is_bundle, digest, first_version, changed_version) VALUES (?, 100, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)", rows)
        cursor.executemany("INSERT INTO update_kbs (update_id, kb) VALUES (?, ?)",
                           [(uid, u["kb"]) for uid, u in updates.items()])
        cursor.executemany("INSERT INTO update_categories (update_id, category_id) VALUES (?, ?)",
                           [(uid, cat) for uid in updates for cat in (PRODUCT[0], SECURITY[0])])
        ids = list(updates)
        for n in range(0, n_updates - 1, 10):
            updates[ids[n]]["superseded_by"] = ids[n + 1]
            cursor.execute("INSERT INTO update_supersedence (update_id, superseded_id) VALUES (?, ?)",
                           (ids[n + 1], ids[n]))
    return updates


def scan_body(results, finished, catalog_updates, mode="online", reboot_pending=False, result_code=2, scan_id=None):
    """A SCAN_SCHEMA body; ``results`` maps update id -> (installed, hidden, reboot_required)."""
    updates = []
    for uid, (installed, hidden, reboot_required) in results.items():
        kb = catalog_updates[uid]["kb"] if uid in catalog_updates else "0"
        updates.append({
            "update_id": uid, "revision_number": 100, "title": "KB" + kb, "kb_article_ids": [kb],
            "is_installed": installed, "is_hidden": hidden, "is_downloaded": installed, "reboot_behavior": 1,
            "max_download_size": 1000, "msrc_severity": None, "categories": [], "superseded_update_ids": [],
            "reboot_required": reboot_required})
    return {
        "scan_id": scan_id or str(uuid.uuid4()), "mode": mode, "server_selection": "default",
        "started": finished, "finished": finished, "result_code": result_code,
        "hresult": None if result_code in (2, 3) else -2145107924, "error": None if result_code in (2, 3) else "failed",
        "wua_version": "10.0.17763.1", "reboot_pending": reboot_pending, "reboot_sources": [],
        "last_boot": finished, "worker": "scheduled_task", "warnings": [], "updates": updates,
    }


class Fleet:
    """Hosts with generated scan histories, written as state messages and ingested."""

    def __init__(self, catalog, seed=0, now=None):
        self.catalog = catalog
        self.now = now or NOW  # scans are placed relative to this time
        self.rng = random.Random("fleet|%s" % seed)
        self.scans = {}   # host -> [{"finished", "succeeded", "catalog_version", "results", "corrupt"}]
        self.enforcement = {}  # host -> [{"received", "update_id", "state", "reason"}] in the order written
        self.enforcement_rng = random.Random("enforcement|%s" % seed)  # apart: the scans stay as they were

    def random_results(self, version):
        """What a scan against ``version`` returns: the applicable updates the catalog held then,
        plus sometimes one newer update the host learned about from Windows Update. A scan without a
        catalog version (made while the store was unreachable) may return any update."""
        results = {}
        for uid, facts in self.catalog.items():
            if version is not None and facts["first_version"] > version and self.rng.random() > 0.02:
                continue
            roll = self.rng.random()
            if roll < 0.4:
                continue  # not applicable
            installed = roll < 0.8
            results[uid] = (installed, (not installed) and self.rng.random() < 0.1,
                            installed and self.rng.random() < 0.05)
        return results

    def add_scan(self, spool, host, finished, version, succeeded=True, results=None, forced=False,
                 clock_offset=datetime.timedelta(0)):
        """A scan the controller received at ``finished``; the host stamps it with its own clock,
        ``clock_offset`` away from the controller's."""
        results = self.random_results(version) if results is None and succeeded else (results or {})
        body = scan_body(results if succeeded else {}, iso(finished + clock_offset), self.catalog,
                         result_code=2 if succeeded else 4)
        write_message(spool, host, "scan", body, catalog_version=version, forced=forced, created=iso(finished))
        self.scans.setdefault(host, []).append({"finished": iso(finished + clock_offset), "received": iso(finished),
                                                "succeeded": succeeded, "catalog_version": version,
                                                "results": results if succeeded else {}, "corrupt": False})

    def add_failure(self, spool, host, received, error="host unreachable"):
        """A scan that failed on the controller's side (``scan_failure``), received at ``received``."""
        write_message(spool, host, "scan_failure", {"error": error, "hresult": None}, created=iso(received))
        self.scans.setdefault(host, []).append({"finished": iso(received), "received": iso(received),
                                                "succeeded": False, "catalog_version": None, "results": {},
                                                "corrupt": False})

    def add_enforcement(self, spool, host, received, update_id, state, reason=None, deployment="wave",
                        hresult=None):
        """An enforcement state of ``update_id`` on ``host`` (None: of the deployment) received at
        ``received``."""
        detail = {"reason": reason} if reason else {}
        if state == "waiting_for_window":
            detail = {"would_start": iso(received), "needs_minutes": 60, "window_ends": iso(received)}
        body = {"deployment": deployment, "update_id": update_id, "state": state, "hresult": hresult, "detail": detail}
        write_message(spool, host, "enforcement", body, created=iso(received))
        self.enforcement.setdefault(host, []).append({"received": iso(received), "update_id": update_id,
                                                      "state": state, "reason": reason})

    def random_enforcement(self, spool, hosts):
        """Enforcement states for about half of the hosts with scans: on updates the newest scan
        returned (missing or installed) and others, some received after the newest scan (they decide),
        some before it (the scan supersedes them), several for one pair, and deployment states. Every
        time is whole minutes away from the host's scans, so no state shares a second with one."""
        rng = self.enforcement_rng
        states = ("downloading", "downloaded", "download_failed", "installing", "installed", "pending_restart",
                  "failed", "waiting_for_window", "not_attempted", "not_attempted")
        reasons = ("window", "longer_than_every_window", "update_loop")
        ids = sorted(self.catalog)
        for host in hosts:
            scans = self.scans.get(host)
            if not scans or scans[-1]["received"] is None or rng.random() < 0.4:
                continue
            newest = datetime.datetime.strptime(scans[-1]["received"], "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=datetime.timezone.utc)
            returned = sorted(scans[-1]["results"])
            picks = rng.sample(returned, min(len(returned), 6)) + rng.sample(ids, 3)
            for minute, uid in enumerate(picks, 1):
                for repeat in range(rng.choice((1, 1, 2))):
                    sign = -1 if rng.random() < 0.25 else 1
                    when = newest + datetime.timedelta(minutes=sign * (minute * 3 + repeat))
                    state = rng.choice(states)
                    self.add_enforcement(spool, host, when, uid, state,
                                         reason=rng.choice(reasons) if state == "not_attempted" else None)
            self.add_enforcement(spool, host, newest + datetime.timedelta(minutes=59), None,
                                 rng.choice(("in_progress", "compliant", "non_compliant", "failed")))

    def add_corrupt(self, spool, host, finished):
        import os
        with open(os.path.join(spool, "%s~%s.json" % (host, uuid.uuid4())), "w") as handle:
            handle.write("{not json")
        self.scans.setdefault(host, []).append({"finished": None, "received": None, "succeeded": False,
                                                "catalog_version": None, "results": {}, "corrupt": True})

    def generate(self, store, spool, hosts, versions=3, enforcement=False):
        """A mix: usable, stale, failed after good, scans against older catalogs, and newest scans
        without a catalog version (made while the store was unreachable); with ``enforcement``,
        enforcement states too (``random_enforcement``)."""
        for index in range(hosts):
            host = "win%04d" % index
            kind = self.rng.random()
            if kind < 0.05:
                continue  # known to the inventory, never scanned
            age = datetime.timedelta(hours=self.rng.uniform(1, 72))
            version = self.rng.randint(1, versions)
            if kind < 0.15:
                self.add_scan(spool, host, self.now - datetime.timedelta(days=20), version)       # stale
            elif kind < 0.22:
                self.add_scan(spool, host, self.now - age - datetime.timedelta(days=2), version)
                self.add_scan(spool, host, self.now - age, version, succeeded=False)              # failed after good
            elif kind < 0.32:
                self.add_scan(spool, host, self.now - age - datetime.timedelta(days=3), version)
                self.add_scan(spool, host, self.now - age, None)                                  # no catalog version
            else:
                self.add_scan(spool, host, self.now - age - datetime.timedelta(days=3), max(1, version - 1))
                self.add_scan(spool, host, self.now - age, version)                               # usable
        if enforcement:
            self.random_enforcement(spool, ["win%04d" % index for index in range(hosts)])
        counts = ingest(store, spool)
        return ["win%04d" % index for index in range(hosts)], counts


@contextlib.contextmanager
def fleet_in_store(address, spool, updates=120, hosts=60, seeds=(1, 2), now=None, enforcement=False):
    """Open the store at ``address``, add a catalog of ``updates`` (versions 1..3) and a generated
    fleet of ``hosts`` (``Fleet.generate``, scans placed before ``now``, default NOW; enforcement
    states with ``enforcement``); yield (store, fleet, host names, ingest counts)."""
    store = open_store(address)
    try:
        fleet = Fleet(add_catalog(store, updates, versions=3, seed=seeds[0]), seed=seeds[1], now=now)
        names, counts = fleet.generate(store, spool, hosts, enforcement=enforcement)
        yield store, fleet, names, counts
    finally:
        store.close()


PREPARATION_TABLES = ("update_lists", "update_list_versions", "update_list_members", "deployment_templates",
                      "deployments", "deployment_packages", "package_files", "distribution_points", "staged_files",
                      "staged_packages", "object_history")


WAVE_TABLES = ("waves", "wave_hosts", "wave_events")


def undo_migration_10(cursor):
    """Put a store back as schema 9 left it (no wave tables)."""
    for table in WAVE_TABLES:
        cursor.execute("DROP TABLE %s" % table)
    cursor.execute("UPDATE schema_info SET version = 9")


def undo_migration_9(cursor):
    """Put a store back as schema 8 left it (no enforcement states)."""
    undo_migration_10(cursor)
    cursor.execute("DROP TABLE enforcement_states")
    cursor.execute("UPDATE schema_info SET version = 8")


def undo_migration_8(cursor):
    """Put a store back as schema 7 left it (no update languages, no catalog version languages)."""
    undo_migration_9(cursor)
    cursor.execute("DROP TABLE update_languages")
    cursor.execute("ALTER TABLE catalog_versions DROP COLUMN languages")
    cursor.execute("UPDATE schema_info SET version = 7")


def undo_migration_7(cursor):
    """Put a store back as schema 6 left it (no preparation or distribution tables)."""
    undo_migration_8(cursor)
    for table in PREPARATION_TABLES:
        cursor.execute("DROP TABLE %s" % table)
    cursor.execute("UPDATE schema_info SET version = 6")


def undo_migration_6(cursor):
    """Put a store back as schema 5 left it (no attempts table, no retirement columns)."""
    undo_migration_7(cursor)
    cursor.execute("DROP TABLE scan_attempts")
    cursor.execute("ALTER TABLE hosts DROP COLUMN retired_at")
    cursor.execute("ALTER TABLE hosts DROP COLUMN retired_reason")
    cursor.execute("UPDATE schema_info SET version = 5")


def undo_migration_5(cursor):
    """Put a store's ``scans`` back as schema 4 left them (no ``received``, the old indexes)."""
    undo_migration_6(cursor)
    cursor.execute("DROP INDEX scans_host_received")
    cursor.execute("DROP INDEX scans_received")
    cursor.execute("ALTER TABLE scans DROP COLUMN received")
    cursor.execute("CREATE INDEX scans_host_finished ON scans (host_name, finished)")
    cursor.execute("CREATE INDEX scans_finished ON scans (finished)")
    cursor.execute("UPDATE schema_info SET version = 4")


def planes_of(store):
    """scan_pk -> {plane: set of update ids}, decoded with the store's ordinals."""
    ids = {row["ordinal"]: row["update_id"] for row in store.query("SELECT ordinal, update_id FROM update_ordinals")}
    result = {}
    for row in store.query("SELECT scan_pk, returned, installed, hidden, reboot FROM scan_bits"):
        result[row["scan_pk"]] = {}
        for plane in _scan_bits.PLANES:
            number = _scan_bits.from_blob(row[plane])
            result[row["scan_pk"]][plane] = {ids[n] for n in range(number.bit_length()) if number >> n & 1}
    return result


def planes_from_records(store):
    """The same, from the records: the truth the planes must agree with."""
    result = {row["scan_pk"]: {plane: set() for plane in _scan_bits.PLANES}
              for row in store.query("SELECT scan_pk FROM scans WHERE succeeded = 1")}
    for row in store.query("SELECT scan_pk, update_id, installed, hidden, reboot_required FROM scan_updates"):
        entry = result[row["scan_pk"]]
        entry["returned"].add(row["update_id"])
        for plane, column in (("installed", "installed"), ("hidden", "hidden"), ("reboot", "reboot_required")):
            if row[column]:
                entry[plane].add(row["update_id"])
    return result
