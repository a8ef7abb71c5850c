"""Benchmark: downloading into the content library from nginx, against curl (issue 11).

About 1 GB of generated content, a realistic mix: a few large files (200-600 MB at full size) and
many small ones, served by a private nginx on loopback (tests/servers/http.py). Measured in the
same run, alternating sides, best of N rounds, each side in a fresh process:

* patchwave: ``_content/download.download_files`` of every file into an empty content library,
  ``concurrency`` downloads at once, every file verified against the strongest digest its record
  gives (the records give SHA-1 and SHA-256, so SHA-256, hashed while streaming), fsynced and
  renamed into place;
* curl: ``curl --parallel --parallel-max <concurrency>`` of the same URLs into a folder, no
  verification.

Goal: throughput ratio (curl seconds / patchwave seconds) >= 0.8. Also reported: peak memory of
the patchwave side (max RSS of its process), and memory against file size: one process downloads
only the smallest large file, another only the largest, each under tracemalloc; peak RSS and
Python's peak allocation stay the same (streamed hashing in a fixed buffer, never a whole file).

Work files live on tmpfs when there is room, like the other benchmarks, so the ratio measures the
code rather than this machine's disk.

Size: ``--total-mb`` (or the environment variable PATCHWAVE_BENCH_DOWNLOAD_MB; default 1024)
scales every file, so ``--total-mb 64`` is a quick check of the same mix.

Usage: bench_download.py [--total-mb N] [--rounds N] [--concurrency N] [--keep]
"""

import argparse
import hashlib
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
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from content_mix import FULL_MB, LARGE_MB, plan, work_root  # noqa: E402  pylint: disable=wrong-import-position

GOAL = 0.8


def _peak_mb():
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


def _children_peak_mb():
    return round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0, 1)


def generate(folder, files):
    """Write the files (pseudo-random, not compressible) and return download records for them."""
    os.makedirs(folder, exist_ok=True)
    block = os.urandom(4 << 20)
    records = []
    for index, (name, size) in enumerate(files):
        sha1, sha256 = hashlib.sha1(), hashlib.sha256()
        with open(os.path.join(folder, name), "wb") as handle:
            written = 0
            while written < size:
                # a different 4 MiB block each time: the block rotated by the file and block number
                shift = (index * 7919 + written // len(block) * 104729) % len(block)
                chunk = (block[shift:] + block[:shift])[:size - written]
                handle.write(chunk)
                sha1.update(chunk)
                sha256.update(chunk)
                written += len(chunk)
        records.append({"update_id": "b0000000-0000-4000-8000-%012d" % index, "kb": "50%04d" % index,
                        "title": "generated", "file_name": name, "sha1": sha1.hexdigest(),
                        "sha256": sha256.hexdigest(), "size": size, "urls": []})
    return records


def side_patchwave(records_path, library, concurrency, trace):
    """Run in a fresh process: download every record into an empty library; print the figures."""
    # pylint: disable=import-outside-toplevel
    from ansible_collections.patchwave.windows.plugins.module_utils._content.download import (
        DownloadOptions,
        download_files,
    )
    from ansible_collections.patchwave.windows.plugins.module_utils._content.library import ContentLibrary

    with open(records_path, encoding="utf-8") as handle:
        records = json.load(handle)
    if trace:
        import tracemalloc
        tracemalloc.start()
    started = time.perf_counter()
    result = download_files(records, ContentLibrary(library), DownloadOptions(concurrency=concurrency, retries=0))
    seconds = time.perf_counter() - started
    traced = tracemalloc.get_traced_memory()[1] / float(1 << 20) if trace else None
    return {"seconds": seconds, "downloaded": result["downloaded"], "failed": len(result["failed"]),
            "quarantined": len(result["quarantined"]), "peak_rss_mb": _peak_mb(),
            "tracemalloc_peak_mb": round(traced, 2) if traced is not None else None}


def side_bare(records_path, folder, concurrency, digests):
    """Run in a fresh process: the least a Python downloader can do, as a floor for the patchwave side.

    Plain HTTP/1.1 GETs on raw sockets, ``recv_into`` one reusable buffer, ``os.write``, the given
    digests updated in the same thread (hashlib releases the GIL), ``concurrency`` threads, largest
    file first; no retries, no TLS, no library, no rename, no fsync. Not a usable downloader: it shows
    what the machine allows once the digests are computed.
    """
    # pylint: disable=import-outside-toplevel
    import queue
    import socket
    import threading

    with open(records_path, encoding="utf-8") as handle:
        records = json.load(handle)
    os.makedirs(folder, exist_ok=True)
    work = queue.SimpleQueue()
    for entry in sorted(records, key=lambda e: -e["size"]):
        work.put(entry)
    failures = []

    def fetch(entry):
        address, path = entry["urls"][0][len("http://"):].split("/", 1)
        host, port = address.rsplit(":", 1)
        hashers = [hashlib.new(name) for name in digests]
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(("GET /%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, address)).encode())
            head = b""
            while b"\r\n\r\n" not in head:
                head += sock.recv(65536)
            body = head.split(b"\r\n\r\n", 1)[1]
            buffer = bytearray(1 << 20)
            view = memoryview(buffer)
            descriptor = os.open(os.path.join(folder, entry["file_name"]), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            try:
                chunk, received = body, len(body)
                while chunk:
                    os.write(descriptor, chunk)
                    for hasher in hashers:
                        hasher.update(chunk)
                    count = sock.recv_into(buffer)
                    chunk = view[:count]
                    received += count
            finally:
                os.close(descriptor)
        if received != entry["size"] or any(h.hexdigest() != entry[h.name] for h in hashers):
            failures.append(entry["file_name"])

    def worker():
        while True:
            try:
                entry = work.get_nowait()
            except queue.Empty:
                return
            fetch(entry)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _index in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"seconds": time.perf_counter() - started, "failed": failures}


def run_bare(records, work, concurrency, digests):
    records_path = os.path.join(work, "bare.records.json")
    with open(records_path, "w", encoding="utf-8") as handle:
        json.dump(records, handle)
    folder = os.path.join(work, "bare")
    shutil.rmtree(folder, ignore_errors=True)
    command = [sys.executable, os.path.abspath(__file__), "--bare", records_path, "--library", folder,
               "--concurrency", str(concurrency), "--digests", ",".join(digests)]
    figures = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
    shutil.rmtree(folder, ignore_errors=True)
    if figures["failed"]:
        raise RuntimeError("the bare side got wrong files: %s" % figures["failed"][:3])
    return figures


def run_patchwave(records, work, name, concurrency, trace=False):
    records_path = os.path.join(work, "%s.records.json" % name)
    with open(records_path, "w", encoding="utf-8") as handle:
        json.dump(records, handle)
    library = os.path.join(work, "library-%s" % name)
    shutil.rmtree(library, ignore_errors=True)
    command = [sys.executable, os.path.abspath(__file__), "--side", records_path, "--library", library,
               "--concurrency", str(concurrency)] + (["--trace"] if trace else [])
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    figures = json.loads(output.strip().splitlines()[-1])
    if figures["failed"] or figures["quarantined"] or figures["downloaded"]["files"] != len(records):
        raise RuntimeError("the patchwave side did not download every file: %s" % figures)
    shutil.rmtree(library, ignore_errors=True)
    return figures


def run_curl(records, work, concurrency):
    target = os.path.join(work, "curl")
    shutil.rmtree(target, ignore_errors=True)
    os.makedirs(target)
    config = os.path.join(work, "curl.config")
    with open(config, "w", encoding="utf-8") as handle:
        for entry in records:
            handle.write('url = "%s"\noutput = "%s"\n' % (entry["urls"][0], os.path.join(target, entry["file_name"])))
    started = time.perf_counter()
    subprocess.run(["curl", "--silent", "--no-progress-meter", "--show-error", "--fail", "--parallel", "--parallel-max", str(concurrency),
                    "--config", config], check=True)
    seconds = time.perf_counter() - started
    got = sum(os.path.getsize(os.path.join(target, e["file_name"])) for e in records)
    if got != sum(e["size"] for e in records):
        raise RuntimeError("curl fetched %d bytes, expected %d" % (got, sum(e["size"] for e in records)))
    shutil.rmtree(target, ignore_errors=True)
    return {"seconds": seconds}


FLOORS = {"bare_sha256": ("sha256",), "bare_sha1_sha256": ("sha1", "sha256")}


def main(total_mb=None, rounds=3, concurrency=4, keep=False, rate=None, floor=False):
    """``rate``: nginx's ``limit_rate`` per connection (``50m``: 50 MB/s), a network link's speed for
    both sides; None serves at loopback speed, where verifying two digests is what costs. ``floor``:
    also time ``side_bare`` (with SHA-256 only, and with both digests) in each round, for reference."""
    from tests.servers.http import Nginx  # pylint: disable=import-outside-toplevel

    rate = rate or os.environ.get("PATCHWAVE_BENCH_DOWNLOAD_RATE") or None
    total_mb = int(total_mb or os.environ.get("PATCHWAVE_BENCH_DOWNLOAD_MB") or FULL_MB)
    files = plan(total_mb)
    total_bytes = sum(size for _name, size in files)
    root = work_root(3 * total_bytes)
    os.makedirs(root, exist_ok=True)
    work = tempfile.mkdtemp(prefix="patchwave-bench-download-", dir=root)
    try:
        served = os.path.join(work, "served")
        print("generating %d files, %.0f MB in %s ..." % (len(files), total_bytes / 1e6, work), flush=True)
        records = generate(served, files)
        with Nginx(served, limit_rate=rate) as server:
            for entry in records:
                entry["urls"] = [server.url(entry["file_name"])]
            times = {"patchwave": [], "curl": []}
            if floor:
                times.update({name: [] for name in FLOORS})
            peaks = []
            for round_index in range(rounds):
                order = tuple(times) if round_index % 2 == 0 else tuple(reversed(tuple(times)))
                for side in order:
                    if side in FLOORS:
                        seconds = run_bare(records, work, concurrency, FLOORS[side])["seconds"]
                    elif side == "curl":
                        seconds = run_curl(records, work, concurrency)["seconds"]
                    else:
                        figures = run_patchwave(records, work, "all", concurrency)
                        seconds = figures["seconds"]
                        peaks.append(figures["peak_rss_mb"])
                    times[side].append(round(seconds, 3))
                    print("  round %d  %-16s %7.2f s  %7.0f MB/s  (load %.2f)" % (
                        round_index + 1, side, seconds, total_bytes / 1e6 / seconds, os.getloadavg()[0]), flush=True)
            large = [e for e in records if e["size"] >= min(size for _name, size in files[:len(LARGE_MB)])]
            smallest, largest = min(large, key=lambda e: e["size"]), max(large, key=lambda e: e["size"])
            memory = {}
            for label, entry in (("smallest_large_file", smallest), ("largest_file", largest)):
                figures = run_patchwave([entry], work, label, 1, trace=True)
                memory[label] = {"mb": round(entry["size"] / 1e6, 1), "peak_rss_mb": figures["peak_rss_mb"],
                                 "tracemalloc_peak_mb": figures["tracemalloc_peak_mb"]}
                print("  memory   %-20s %7.1f MB file: peak RSS %6.1f MB, Python peak %5.2f MB"
                      % (label, entry["size"] / 1e6, figures["peak_rss_mb"], figures["tracemalloc_peak_mb"]),
                      flush=True)
        best = {side: min(values) for side, values in times.items()}
        ratio = best["curl"] / best["patchwave"]
        results = {
            "benchmark": "download into the content library (SHA-256 verified) vs curl, from nginx on loopback",
            "files": len(files), "large_files_mb": [round(size / 1e6, 1) for _name, size in files[:len(LARGE_MB)]],
            "total_mb": round(total_bytes / 1e6, 1), "concurrency": concurrency, "rounds": rounds,
            "work_on_tmpfs": root == "/dev/shm", "nginx_limit_rate_per_connection": rate,
            "seconds_best": {k: round(v, 3) for k, v in best.items()}, "seconds_all": times,
            "mb_per_second_best": {k: round(total_bytes / 1e6 / v, 1) for k, v in best.items()},
            "throughput_ratio_patchwave_vs_curl": round(ratio, 3), "goal_ratio_min": GOAL,
            "load_average_at_end": round(os.getloadavg()[0], 2),
            "met": ratio >= GOAL,
            "peak_rss_mb_patchwave": max(peaks),
            "memory_by_file_size": memory,
            "memory_flat": (memory["largest_file"]["peak_rss_mb"]
                            <= memory["smallest_large_file"]["peak_rss_mb"] * 1.1 + 2),
        }
        out = os.path.join(REPO, ".build", "bench", "download.json")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)
        return results
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--total-mb", type=int, default=None,
                        help="content size in MB (default: $PATCHWAVE_BENCH_DOWNLOAD_MB or %d)" % FULL_MB)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="keep the generated files afterwards")
    parser.add_argument("--side", help=argparse.SUPPRESS)  # internal: run the patchwave side on these records
    parser.add_argument("--library", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--floor", action="store_true",
                        help="also time a bare raw-socket Python downloader with the same digests (a floor)")
    parser.add_argument("--bare", help=argparse.SUPPRESS)  # internal: run the bare side on these records
    parser.add_argument("--digests", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.bare:
        print(json.dumps(side_bare(options.bare, options.library, options.concurrency, options.digests.split(","))))
    elif options.side:
        print(json.dumps(side_patchwave(options.side, options.library, options.concurrency, options.trace)))
    else:
        print(json.dumps(main(options.total_mb, options.rounds, options.concurrency, options.keep, floor=options.floor),
                         indent=2))
