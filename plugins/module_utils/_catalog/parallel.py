# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Read a catalog with several processes: each parses a share of the updates into staging rows.

Parsing is Python-bound and a real offline scan package holds well over 100,000 updates, so the
readers run in forked worker processes (one per core, at most four) while the calling process
writes the rows they send into the store. A worker's CatalogError reaches the caller unchanged;
any other failure of a worker becomes a CatalogError that says so, and a worker that dies is
reported the moment it is gone (the caller waits on the workers' sentinels, not on a timer).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from multiprocessing.connection import wait

from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import CatalogError, FileLocation
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.staging import RowBuilder

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
    """Run in reader ``share[0]``: every message carries the reader's number, so the caller knows
    which reader finished; the last message is ``done`` or ``error``."""
    number = share[0]
    try:
        for batch in _batches(read_share, share, languages):
            results.put(("rows", number, batch))
        results.put(("done", number, None))
    except CatalogError as exc:
        results.put(("error", number, str(exc)))
    except Exception as exc:  # reported to the caller, which names the catalog
        results.put(("error", number, "a reader process failed: %s: %s" % (type(exc).__name__, exc)))


def _ended(process, number, workers, where):
    """The error for reader ``number`` that ended before it sent ``done``."""
    process.join()
    code = process.exitcode
    if code is not None and code < 0:
        try:
            how = "was killed by signal %s" % signal.Signals(-code).name
        except ValueError:
            how = "was killed by signal %d" % -code
    else:
        how = "ended with exit code %s" % code
    return CatalogError("%scatalog reader process %d of %d (pid %s) %s before it had read its share of the updates"
                        % ("%s: " % where if where else "", number + 1, workers, process.pid, how))


def parallel_rows(read_share, languages, workers=None, where=None):
    """Yield RowBatch objects built by ``workers`` processes, each running ``read_share((k, n))``.

    The caller blocks on the result queue and on every unfinished reader's sentinel at once, with
    no timeout: a reader that dies (a crash, the out-of-memory killer) is reported as soon as it
    is gone, naming the reader and its exit code or signal. ``where`` names the catalog.
    """
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
    # The queue's receiving end is a multiprocessing Connection (Queue keeps it as _reader; there is
    # no public name for it), so it can be waited on together with the process sentinels.
    incoming = results._reader  # pylint: disable=protected-access
    running = {process.sentinel: number for number, process in enumerate(processes)}
    try:
        while running:
            ready = wait([incoming] + list(running))
            ended = [item for item in ready if item is not incoming and item in running]
            for sentinel in ended:
                number = running.get(sentinel)
                if number is None:  # its "done" was read while an earlier one's queue was drained
                    continue
                process = processes[number]
                process.join()  # it has exited: this only collects its exit code
                if process.exitcode == 0:
                    # A reader that exits normally has flushed all it sent, so its "done" or
                    # "error" is already in the queue, behind rows that may still be unread.
                    while sentinel in running and incoming.poll():
                        yield from _receive(results, running, processes)
                if sentinel in running:
                    raise _ended(process, number, workers, where)
            if not ended and incoming in ready:
                yield from _receive(results, running, processes)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(10)
        results.close()


def _receive(results, running, processes):
    """Handle one message: yield its rows; a reader's ``done`` takes it out of ``running``."""
    kind, number, payload = results.get()
    if kind == "rows":
        yield payload
    elif kind == "done":
        running.pop(processes[number].sentinel, None)
    else:
        raise CatalogError(payload)
