"""Benchmark: catalog sync of generated offline scan packages (issue 2).

For each size (50,000 and 200,000 updates) it measures, in the same run:

* extraction: the collection's extraction (directory checks + cabextract of the outer cab,
  package.cab and every detail cab) against a bare ``cabextract`` of the same cabs;
* parse-and-store: reading package.xml and every fragment and storing the catalog in a fresh
  SQLite store, against a bare lxml ``iterparse`` pass over exactly the XML the sync reads
  (package.xml and every c/, x/, l/<lang>/ fragment, already extracted);
* updates per second of the whole sync (extraction, parse, store; the signature check excluded);
* peak memory (max RSS) of the sync: the storing process plus its reader processes (each counted
  at the largest one's peak), in a fresh process per size.

Goals: parse-and-store time <= 2x the bare parse (at least half its rate); extraction <= 1.2x
bare cabextract; peak memory at 200,000 <= 1.2x peak at 50,000.
"""

import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, ".build", "collections"))
sys.path.insert(0, REPO)

LANGUAGES = ("en", "de")


def generated(size, cache):
    """The generated package of ``size`` updates, built once and kept under .build/bench."""
    from tests.catalog_gen import generate

    path = os.path.join(cache, "wsusscn2-%d.cab" % size)
    if not os.path.exists(path):
        os.makedirs(cache, exist_ok=True)
        generate("offline_scan", path + ".tmp", updates=size, languages=LANGUAGES)
        os.replace(path + ".tmp", path)
    return path


def bare_cabextract(cab, work):
    """cabextract alone: the outer cab, then package.cab and every detail cab it holds."""
    outer = os.path.join(work, "outer")
    start = time.perf_counter()
    subprocess.run(["cabextract", "-q", "-d", outer, cab], check=True)
    for name in sorted(os.listdir(outer)):
        if name.endswith(".cab"):
            subprocess.run(["cabextract", "-q", "-d", os.path.join(work, name), os.path.join(outer, name)], check=True)
    return time.perf_counter() - start


def bare_parse(package_xml, folders):
    """lxml iterparse over package.xml and every fragment file the sync reads."""
    from lxml import etree

    start = time.perf_counter()
    count = 0
    for _event, element in etree.iterparse(package_xml, events=("end",)):
        count += 1
        element.clear()
    for folder in folders:
        for kind in ["c", "x"] + ["l/%s" % language for language in LANGUAGES]:
            directory = os.path.join(folder, kind)
            if not os.path.isdir(directory):
                continue
            for name in os.listdir(directory):
                with open(os.path.join(directory, name), "rb") as handle:
                    data = handle.read()
                # fragments have no single root: wrap them, as any parser of them must
                for _event, _element in etree.iterparse(io.BytesIO(b"<f>" + data + b"</f>"), events=("end",)):
                    count += 1
    return time.perf_counter() - start


def child(cab, work):
    """Runs in a fresh process: the collection's extraction, then parse-and-store; prints JSON."""
    from ansible_collections.patchwave.windows.plugins.module_utils._catalog.parallel import (
        default_workers,
        parallel_rows,
    )
    from ansible_collections.patchwave.windows.plugins.module_utils._catalog.readers.offline_scan import (
        read_offline_scan,
    )
    from ansible_collections.patchwave.windows.plugins.module_utils._catalog.source import extract_offline_scan
    from ansible_collections.patchwave.windows.plugins.module_utils._catalog.sync import SyncOptions, sync_records
    from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store

    start = time.perf_counter()
    package_xml, index_xml, folders = extract_offline_scan(cab, work, LANGUAGES, "benchmark")
    extracted = time.perf_counter()
    store = open_store(os.path.join(work, "store.db"))

    def read_share(share):
        return read_offline_scan(package_xml, index_xml, folders.__getitem__, languages=LANGUAGES, share=share)

    # The same path catalog_sync takes: reader processes build rows, this process stores them.
    result = sync_records(store, parallel_rows(read_share, LANGUAGES),
                          SyncOptions(source="bench", format="offline_scan", languages=LANGUAGES))
    stored = time.perf_counter()
    store.close()
    print(json.dumps({
        "extract_seconds": extracted - start,
        "parse_store_seconds": stored - extracted,
        "updates": result["counts"]["staged"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        # the largest child (a reader process, or cabextract), and how many readers ran
        "peak_child_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0,
        "readers": default_workers(),
        "package_xml": package_xml,
        "folders": sorted(folders.values()),
    }))


def _work_root(cache):
    """Extraction writes hundreds of thousands of small files; this machine's disk makes such runs
    swing by 2x from one minute to the next. Both sides therefore work on tmpfs when there is one,
    so the ratio measures the code, not the disk."""
    shm = "/dev/shm"
    if os.path.isdir(shm) and shutil.disk_usage(shm).free > 4 << 30:
        return shm
    return cache


def _child_run(cab, work):
    done = subprocess.run([sys.executable, __file__, "--child", cab, work], check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(size, cache, rounds=5):
    """Alternate bare and collection runs, each after os.sync(), and keep each side's best of five."""
    cab = generated(size, cache)
    work = tempfile.mkdtemp(prefix="patchwave-bench-", dir=_work_root(cache))
    try:
        bare_extracts, ours_runs, bare_parses = [], [], []
        for attempt in range(rounds):
            for side in (("bare", "ours") if attempt % 2 == 0 else ("ours", "bare")):
                os.sync()
                if side == "bare":
                    target = os.path.join(work, "bare")
                    bare_extracts.append(bare_cabextract(cab, target))
                    shutil.rmtree(target)
                else:
                    target = os.path.join(work, "sync")
                    ours = _child_run(cab, target)
                    ours_runs.append(ours)
                    bare_parses.append(bare_parse(ours["package_xml"], ours["folders"]))
                    shutil.rmtree(target)
        extract = min(r["extract_seconds"] for r in ours_runs)
        parse_store = min(r["parse_store_seconds"] for r in ours_runs)
        updates = ours_runs[0]["updates"]
        return {
            "size": size,
            "updates": updates,
            "cab_mb": round(os.path.getsize(cab) / 1e6, 1),
            "updates_per_second": round(updates / (extract + parse_store)),
            "extract_seconds": round(extract, 2),
            "bare_cabextract_seconds": round(min(bare_extracts), 2),
            "extract_ratio": round(extract / min(bare_extracts), 3),
            "parse_store_seconds": round(parse_store, 2),
            "bare_iterparse_seconds": round(min(bare_parses), 2),
            "parse_store_ratio": round(parse_store / min(bare_parses), 3),
            "peak_rss_mb": round(max(r["peak_rss_mb"] for r in ours_runs), 1),
            "peak_reader_rss_mb": round(max(r["peak_child_rss_mb"] for r in ours_runs), 1),
            "readers": ours_runs[0]["readers"],
            # the sync's whole footprint, counting every reader process at the largest one's peak
            "peak_total_mb": round(max(r["peak_rss_mb"] + r["readers"] * r["peak_child_rss_mb"] for r in ours_runs), 1),
            "rounds": rounds,
            "work_folder": os.path.dirname(work),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(sizes=(50000, 200000)):
    cache = os.path.join(REPO, ".build", "bench")
    rows = [measure(size, cache) for size in sizes]
    memory_ratio = rows[-1]["peak_total_mb"] / rows[0]["peak_total_mb"]
    report = {"benchmark": "catalog_sync offline_scan", "rows": rows,
              "peak_memory_ratio_largest_to_smallest": round(memory_ratio, 3),
              "goals": {"parse_store_ratio_max": 2.0, "extract_ratio_max": 1.2, "peak_memory_ratio_max": 1.2}}
    report["met"] = {
        "parse_store": all(r["parse_store_ratio"] <= 2.0 for r in rows),
        "extract": all(r["extract_ratio"] <= 1.2 for r in rows),
        "peak_memory": memory_ratio <= 1.2,
    }
    return report


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
    else:
        sizes = tuple(int(s) for s in sys.argv[1:]) or (50000, 200000)
        print(json.dumps(main(sizes), indent=2))
