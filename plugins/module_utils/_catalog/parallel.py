# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Read a catalog with several processes: each parses a share of the updates into staging rows.

Parsing is Python-bound and a real offline scan package holds well over 100,000 updates, so the
readers run in forked worker processes (one per core, at most four) while the calling process
writes the rows they send into the store. A worker's CatalogError reaches the caller unchanged;
any other failure of a worker becomes a CatalogError that says so.
"""

from __future__ import annotations

import multiprocessing
import os
import queue as queue_module

from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import CatalogError
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.staging import RowBuilder
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.sync import FileLocation

_BATCH = 2000


def default_workers():
    """One worker per core, at most four; a single core reads in-process."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


def _full(builder):
    """A batch is sent once it holds _BATCH records or as many file locations (they come in a run)."""
    return builder.count >= _BATCH or len(builder.rows["s_urls"]) >= _BATCH


def _batches(read_share, share, languages):
    """The staging rows of one share of the records, as RowBatch objects of bounded size."""
    builder = RowBuilder(languages)
    for record in read_share(share):
        if isinstance(record, FileLocation):
            builder.add_location(record)
        else:
            builder.add(record)
        if _full(builder):
            yield builder.take()
    yield builder.take()


def _work(read_share, share, languages, results):
    try:
        for batch in _batches(read_share, share, languages):
            results.put(("rows", batch))
        results.put(("done", None))
    except CatalogError as exc:
        results.put(("error", str(exc)))
    except Exception as exc:  # reported to the caller, which names the catalog
        results.put(("error", "a reader process failed: %s: %s" % (type(exc).__name__, exc)))


def parallel_rows(read_share, languages, workers=None):
    """Yield RowBatch objects built by ``workers`` processes, each running ``read_share((k, n))``."""
    workers = workers or default_workers()
    if workers == 1:
        yield from _batches(read_share, (0, 1), languages)
        return
    context = multiprocessing.get_context("fork")
    results = context.Queue(maxsize=4 * workers)
    processes = [context.Process(target=_work, args=(read_share, (k, workers), languages, results), daemon=True)
                 for k in range(workers)]
    for process in processes:
        process.start()
    finished = 0
    try:
        while finished < workers:
            try:
                kind, payload = results.get(timeout=5)
            except queue_module.Empty:
                dead = [p for p in processes if p.exitcode not in (None, 0)]
                if dead:
                    raise CatalogError("a reader process ended with exit code %d" % dead[0].exitcode)
                continue
            if kind == "rows":
                yield payload
            elif kind == "done":
                finished += 1
            else:
                raise CatalogError(payload)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(10)
        results.close()
