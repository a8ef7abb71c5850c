"""Benchmark: state-message ingest and the compliance summary (issue 4).

10,000 hosts x 300 updates = 3,000,000 state records, on SQLite and (when a private server can be
started) PostgreSQL. Measured in the same run, per backend:

* ingest: ``_state_messages.ingest(store, spool)`` moving 10,000 real state messages (one per host,
  written by ``write_message``, each a SCAN_SCHEMA scan of 300 updates) into a fresh store, against
  a bare driver ``executemany`` of the same 10,000 ``scans`` rows and 3,000,000 ``scan_updates`` rows
  (already in memory) into a fresh store of the same schema. Only the ``ingest`` call and only the
  inserts (one transaction, committed) are timed. Goal: ingest <= 2x the bare insert.
* summary: the per-update-set compliance summary, ``read_rows(store, [all_updates(), one named set],
  per_update=False, required=False)`` + ``evaluate_rows`` (per set: hosts per compliance state and
  (host, update) pairs per state), over the ingested store, against a bare
  ``SELECT update_id, installed, count(*) FROM scan_updates GROUP BY update_id, installed``.
  Goal: <= 2x. Also measured and reported, without a goal of its own: the same with
  ``per_update=True`` (hosts per state for every update of each set, a second pass over the
  records), and with ``required=True`` (each host's Required updates listed, what compliance_info,
  the report and the inventory plugin read by default). On PostgreSQL the store is ANALYZEd first,
  as autovacuum would have done.

Each measured side runs in a fresh process (so each side's peak memory is its own); sides
alternate, best of N rounds. The messages are written once; each ingest round gets a hard-linked
copy of the spool (ingest deletes what it stored). Work files live on tmpfs when there is room,
like the catalog benchmark, so the ratios measure the code rather than this machine's disk.

``--numbered N`` first gives N other update ids an ordinal in each ingested store, as a store with a
long history has (``_scan_bits``): the scans' planes then span N + 300 bits instead of 300, and
ingest builds them byte-wise past 4,096. The bare sides do not change.

Usage: bench_ingest.py [--quick] [--hosts N] [--updates N] [--rounds N] [--numbered N]
                       [--backends sqlite,postgresql]
"""

import argparse
import datetime
import gc
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(REPO, ".build", "collections"))
sys.path.insert(0, REPO)
sys.path.insert(0, HERE)

CATALOG_VERSION = 3  # add_catalog's default: versions 1..3; every scan ran against the newest
NAMED_SET = {"name": "critical_important", "severities": ["Critical", "Important"]}
GOAL = 2.0

_SCAN_COLUMNS = ("scan_pk", "message_id", "host_name", "scan_id", "mode", "server_selection", "forced", "started",
                 "finished", "received", "succeeded", "result_code", "hresult", "error", "catalog_version", "wua_version",
                 "reboot_pending", "reboot_sources", "last_boot", "source", "controller", "ingested_at")
_UPDATE_COLUMNS = ("scan_pk", "update_id", "revision_number", "installed", "hidden", "downloaded", "reboot_required")


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def host_name(index):
    return "win%05d" % index


def host_scan(index, update_ids, now):
    """What host ``index`` reported: (finished, {update_id: (installed, hidden, reboot_required)}).

    Every scan returns every update: ~60% installed (~2% of all awaiting a restart), ~35% missing,
    ~5% missing and hidden. Finished 1 to 20 hours before ``now``, so every host is usable.
    """
    rng = random.Random("bench-ingest|%d" % index)
    finished = now - datetime.timedelta(seconds=rng.uniform(3600, 20 * 3600))
    results = {}
    for uid in update_ids:
        roll = rng.random()
        installed = roll < 0.60
        results[uid] = (installed, roll >= 0.95, roll < 0.02)
    return _iso(finished), results


def _catalog(work, updates):
    """add_catalog's update facts (deterministic), from a scratch store."""
    from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store

    from tests.compliance_data import add_catalog

    path = os.path.join(work, "catalog-template.db")
    store = open_store(path)
    try:
        return add_catalog(store, updates)
    finally:
        store.close()
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.unlink(path + suffix)


def write_spool(spool, hosts, updates, now, work):
    """One real state message per host, through write_message; returns seconds taken (not measured)."""
    from ansible_collections.patchwave.windows.plugins.module_utils._scan.spool import write_message

    from tests.compliance_data import scan_body

    catalog = _catalog(work, updates)
    ids = list(catalog)
    start = time.perf_counter()
    for index in range(hosts):
        finished, results = host_scan(index, ids, now)
        body = scan_body(results, finished, catalog, scan_id="scan-%d" % index)
        write_message(spool, host_name(index), "scan", body, catalog_version=CATALOG_VERSION, created=finished)
    return time.perf_counter() - start


def bare_rows(hosts, updates, now):
    """The rows ingest stores for the spool write_spool wrote (same values, own message ids)."""
    from tests.compliance_data import update_id

    ids = [update_id(n) for n in range(updates)]
    stamp = _iso(datetime.datetime.now(datetime.timezone.utc))
    scans, rows = [], []
    for index in range(hosts):
        finished, results = host_scan(index, ids, now)
        pk = index + 1
        scans.append((pk, "bench-%d" % index, host_name(index), "scan-%d" % index, "online", "default", 0, finished,
                      finished, finished, 1, 2, None, None, CATALOG_VERSION, "10.0.17763.1", 0, "", finished,
                      "patchwave.windows.scan", "bench", stamp))
        for uid, (installed, hidden, reboot) in results.items():
            rows.append((pk, uid, 100, int(installed), int(hidden), int(installed), int(reboot)))
    return scans, rows


def _peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _insert_sql(table, columns, placeholder):
    return "INSERT INTO %s (%s) VALUES (%s)" % (table, ", ".join(columns), ", ".join([placeholder] * len(columns)))


# -- children: each measured side in a fresh process -----------------------------------------------

def child_ingest(address, spool, updates, numbered=0):
    from ansible_collections.patchwave.windows.plugins.module_utils._scan.ingest import ingest
    from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store

    from tests.compliance_data import add_catalog

    store = open_store(address)
    add_catalog(store, updates)
    if numbered:  # ids an older history numbered: this run's ids come after them
        with store.transaction() as cursor:
            store.copy_rows(cursor, "update_ordinals", ("ordinal", "update_id"),
                            ((n, "earlier-%06d" % n) for n in range(numbered)))
    before = _peak_mb()
    profile = os.environ.get("BENCH_INGEST_PROFILE")
    if profile:
        import cProfile  # pylint: disable=import-outside-toplevel
        profiler = cProfile.Profile()
        profiler.enable()
    start = time.perf_counter()
    counts = ingest(store, spool)
    seconds = time.perf_counter() - start
    if profile:
        profiler.disable()
        profiler.dump_stats(profile)
    records = store.query("SELECT count(*) AS n FROM scan_updates")[0]["n"]
    store.close()
    return {"seconds": seconds, "counts": counts, "records": records, "peak_rss_mb": _peak_mb(),
            "peak_rss_before_mb": before}


def child_bare(address, hosts, updates, now):
    from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store

    from tests.compliance_data import add_catalog

    store = open_store(address)
    add_catalog(store, updates)
    scans, rows = bare_rows(hosts, updates, now)
    gc.collect()
    if store.backend == "sqlite":
        connection = store.connection
        start = time.perf_counter()
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(_insert_sql("scans", _SCAN_COLUMNS, "?"), scans)
        connection.executemany(_insert_sql("scan_updates", _UPDATE_COLUMNS, "?"), rows)
        connection.execute("COMMIT")
        seconds = time.perf_counter() - start
    else:
        connection = store.connection  # psycopg, autocommit: an explicit transaction as ingest has
        start = time.perf_counter()
        with connection.transaction():
            with connection.cursor() as cursor:
                cursor.executemany(_insert_sql("scans", _SCAN_COLUMNS, "%s"), scans)
                cursor.executemany(_insert_sql("scan_updates", _UPDATE_COLUMNS, "%s"), rows)
        seconds = time.perf_counter() - start
    records = store.query("SELECT count(*) AS n FROM scan_updates")[0]["n"]
    store.close()
    return {"seconds": seconds, "records": records, "peak_rss_mb": _peak_mb()}


def child_summary(address, now, rounds):
    from ansible_collections.patchwave.windows.plugins.module_utils._compliance.reads import evaluate_rows, read_rows
    from ansible_collections.patchwave.windows.plugins.module_utils._compliance.update_sets import (
        all_updates,
        parse_update_sets,
    )
    from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store

    store = open_store(address)
    if store.backend == "postgresql":
        store.connection.execute("ANALYZE")  # what autovacuum does after a bulk load; helps both sides
    sets = [all_updates()] + parse_update_sets([dict(NAMED_SET)])
    now = datetime.datetime.strptime(now, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    bare_sql = "SELECT update_id, installed, count(*) FROM scan_updates GROUP BY update_id, installed"
    bare_times, ours_times, read_times, per_update_times, required_times = [], [], [], [], []
    evaluation = groups = None
    for attempt in range(rounds):
        for side in (("bare", "ours", "per_update", "required") if attempt % 2 == 0
                     else ("required", "per_update", "ours", "bare")):
            gc.collect()
            if side == "bare":
                start = time.perf_counter()
                if store.backend == "sqlite":
                    groups = store.connection.execute(bare_sql).fetchall()
                else:
                    with store.connection.cursor() as cursor:
                        groups = cursor.execute(bare_sql).fetchall()
                bare_times.append(time.perf_counter() - start)
            elif side == "ours":
                start = time.perf_counter()
                rows = read_rows(store, sets, now=now, per_update=False, required=False)
                read = time.perf_counter()
                evaluation = evaluate_rows(rows, now=now)
                ours_times.append(time.perf_counter() - start)
                read_times.append(read - start)
            elif side == "per_update":
                start = time.perf_counter()
                evaluate_rows(read_rows(store, sets, now=now, per_update=True, required=False), now=now)
                per_update_times.append(time.perf_counter() - start)
            else:
                start = time.perf_counter()
                evaluate_rows(read_rows(store, sets, now=now, per_update=False, required=True), now=now)
                required_times.append(time.perf_counter() - start)
    store.close()
    named = evaluation.sets[NAMED_SET["name"]]
    whole = evaluation.sets["all"]
    return {
        "seconds": min(ours_times), "read_rows_seconds": min(read_times), "bare_seconds": min(bare_times),
        "per_update_seconds": min(per_update_times), "required_seconds": min(required_times),
        "peak_rss_mb": _peak_mb(), "bare_groups": len(groups),
        "hosts": len(evaluation.hosts), "usable_hosts": sum(1 for s in evaluation.hosts.values() if s.usable),
        "sets": {name: {"updates": len(result.update_ids), "hosts_per_compliance": result.summary(),
                        "pairs_per_state": result.state_totals()}
                 for name, result in ((whole.name, whole), (named.name, named))},
    }


def _child(kind, *args):
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", kind] + [str(a) for a in args],
                          check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError("%s child failed:\n%s\n%s" % (kind, done.stdout[-2000:], done.stderr[-4000:]))
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the parent ---------------------------------------------------------------------------------------

def _work_root(need_bytes):
    shm = "/dev/shm"
    if os.path.isdir(shm) and shutil.disk_usage(shm).free > need_bytes + (4 << 30):
        return shm
    return os.path.join(REPO, ".build", "bench")


def _link_spool(master, target):
    os.makedirs(target)
    for name in os.listdir(master):
        if name.endswith(".json"):
            os.link(os.path.join(master, name), os.path.join(target, name))


def _sqlite_cleanup(path):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)


class _Backend:
    """Fresh store addresses on one backend; the last ingested store is kept for the summary."""

    def __init__(self, name, work, server=None):
        self.name = name
        self.work = work
        self.server = server
        self.counter = 0

    def fresh(self):
        self.counter += 1
        if self.server is not None:
            return self.server.new_database("b%d" % self.counter)
        return os.path.join(self.work, "%s-%d.db" % (self.name, self.counter))

    def size_mb(self, address):
        if self.server is None:
            return round(sum(os.path.getsize(address + s) for s in ("", "-wal") if os.path.exists(address + s)) / 1e6, 1)
        import psycopg  # pylint: disable=import-outside-toplevel
        with psycopg.connect(address, autocommit=True) as connection:
            return round(connection.execute("SELECT pg_database_size(current_database())").fetchone()[0] / 1e6, 1)

    def drop(self, address):
        if self.server is not None:
            self.server.drop_database(address)
        else:
            _sqlite_cleanup(address)


def measure_backend(backend, master, hosts, updates, now, rounds, summary_rounds, numbered=0):
    expected = hosts * updates
    bare_runs, ingest_runs = [], []
    kept = None
    for attempt in range(rounds):
        for side in (("bare", "ingest") if attempt % 2 == 0 else ("ingest", "bare")):
            address = backend.fresh()
            os.sync()
            if side == "bare":
                run = _child("bare", address, hosts, updates, _iso(now))
                bare_runs.append(run)
                backend.drop(address)
            else:
                spool = os.path.join(backend.work, "spool-%s-%d" % (backend.name, attempt))
                _link_spool(master, spool)
                run = _child("ingest", address, spool, updates, numbered)
                shutil.rmtree(spool, ignore_errors=True)
                if run["counts"]["ingested"] != hosts:
                    raise RuntimeError("ingest stored %r, expected %d messages" % (run["counts"], hosts))
                ingest_runs.append(run)
                if kept is not None:
                    backend.drop(kept)
                kept = address
            if run["records"] != expected:
                raise RuntimeError("%s stored %d records, expected %d" % (side, run["records"], expected))
    store_mb = backend.size_mb(kept)
    summary = _child("summary", kept, _iso(now + datetime.timedelta(minutes=1)), summary_rounds)
    backend.drop(kept)
    ingest_s = min(r["seconds"] for r in ingest_runs)
    bare_s = min(r["seconds"] for r in bare_runs)
    return {
        "backend": backend.name,
        "records": expected,
        "ingest_seconds": round(ingest_s, 2),
        "bare_executemany_seconds": round(bare_s, 2),
        "ingest_ratio": round(ingest_s / bare_s, 3),
        "ingest_records_per_second": round(expected / ingest_s),
        "ingest_seconds_all_rounds": [round(r["seconds"], 2) for r in ingest_runs],
        "bare_seconds_all_rounds": [round(r["seconds"], 2) for r in bare_runs],
        "ingest_peak_rss_mb": round(max(r["peak_rss_mb"] for r in ingest_runs), 1),
        "bare_peak_rss_mb": round(max(r["peak_rss_mb"] for r in bare_runs), 1),
        "store_mb": store_mb,
        "summary_seconds": round(summary["seconds"], 2),
        "summary_read_rows_seconds": round(summary["read_rows_seconds"], 2),
        "bare_group_by_seconds": round(summary["bare_seconds"], 2),
        "summary_ratio": round(summary["seconds"] / summary["bare_seconds"], 3),
        "per_update_summary_seconds": round(summary["per_update_seconds"], 2),
        "per_update_summary_ratio": round(summary["per_update_seconds"] / summary["bare_seconds"], 3),
        "required_summary_seconds": round(summary["required_seconds"], 2),
        "required_summary_ratio": round(summary["required_seconds"] / summary["bare_seconds"], 3),
        "summary_peak_rss_mb": round(summary["peak_rss_mb"], 1),
        "summary_hosts": summary["hosts"],
        "summary_usable_hosts": summary["usable_hosts"],
        "summary_sets": summary["sets"],
        "rounds": rounds,
        "summary_rounds": summary_rounds,
        "numbered_before": numbered,
    }


def main(hosts=10000, updates=300, rounds=3, summary_rounds=5, backends=("sqlite", "postgresql"), numbered=0):
    from tests.pgserver import available, private_server  # pylint: disable=import-outside-toplevel

    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    work = tempfile.mkdtemp(prefix="patchwave-bench-ingest-", dir=_work_root(hosts * updates * 400 * 3))
    report = {"benchmark": "state-message ingest and compliance summary", "hosts": hosts,
              "updates_per_host": updates, "records": hosts * updates, "work_folder": os.path.dirname(work),
              "goals": {"ingest_ratio_max": GOAL, "summary_ratio_max": GOAL}, "rows": [], "skipped": {}}
    try:
        master = os.path.join(work, "messages")
        report["write_messages_seconds"] = round(write_spool(master, hosts, updates, now, work), 2)
        report["spool_mb"] = round(sum(os.path.getsize(os.path.join(master, n)) for n in os.listdir(master)) / 1e6, 1)
        for name in backends:
            if name == "sqlite":
                report["rows"].append(measure_backend(_Backend(name, work), master, hosts, updates, now, rounds,
                                                      summary_rounds, numbered))
                continue
            reason = available()
            if reason:
                report["skipped"][name] = reason
                continue
            with private_server(root=os.path.dirname(work)) as server:
                report["rows"].append(measure_backend(_Backend(name, work, server), master, hosts, updates, now,
                                                      rounds, summary_rounds, numbered))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report["met"] = {"%s_%s" % (row["backend"], what): row["%s_ratio" % what] <= GOAL
                     for row in report["rows"] for what in ("ingest", "summary")}
    return report


def _arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 200 hosts, 1 round")
    parser.add_argument("--hosts", type=int)
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--summary-rounds", type=int)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--numbered", type=int, default=0, help="update ids numbered before the run")
    args = parser.parse_args(argv)
    hosts = args.hosts or (200 if args.quick else 10000)
    rounds = args.rounds or (1 if args.quick else 3)
    summary_rounds = args.summary_rounds or (1 if args.quick else 5)
    return dict(hosts=hosts, updates=args.updates, rounds=rounds, summary_rounds=summary_rounds,
                backends=tuple(b for b in args.backends.split(",") if b), numbered=args.numbered)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, rest = sys.argv[2], sys.argv[3:]
        if kind == "ingest":
            result = child_ingest(rest[0], rest[1], int(rest[2]), int(rest[3]))
        elif kind == "bare":
            result = child_bare(rest[0], int(rest[1]), int(rest[2]),
                                datetime.datetime.strptime(rest[3], "%Y-%m-%dT%H:%M:%SZ").replace(
                                    tzinfo=datetime.timezone.utc))
        else:
            result = child_summary(rest[0], rest[1], int(rest[2]))
        print(json.dumps(result))
    else:
        print(json.dumps(main(**_arguments(sys.argv[1:])), indent=2))
