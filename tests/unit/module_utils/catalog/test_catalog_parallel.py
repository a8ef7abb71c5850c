"""Reader processes: the same rows as one reader, errors reach the caller, nothing is left running."""

import multiprocessing
import multiprocessing.connection
import os
import re
import signal
import sys
import time

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._catalog import parallel
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import CatalogError, CatalogUpdate, FileLocation
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.parallel import parallel_rows


def records(count):
    for n in range(count):
        yield CatalogUpdate(update_id="00000000-0000-4000-8000-%012d" % n, revision_number=1,
                            titles={"en": "update %d" % n}, kb_articles=(str(5000000 + n),))
    yield FileLocation("file-id", "http://example.invalid/file")


def shared(count, fail_at=None, crash=False):
    def read_share(share):
        part, parts = share
        for index, record in enumerate(records(count)):
            if isinstance(record, FileLocation):
                if part == 0:
                    yield record
                continue
            if index % parts != part:
                continue
            if fail_at is not None and index == fail_at:
                if crash:
                    os._exit(3)
                raise CatalogError("catalog file 'x': update %d is broken" % index)
            yield record
    return read_share


def collect(batches):
    rows = {}
    total = 0
    for batch in batches:
        total += batch.count
        for name, values in batch.rows.items():
            rows.setdefault(name, []).extend(values)
    return total, {name: sorted(values) for name, values in rows.items()}


@pytest.mark.parametrize("workers", [2, 3])
def test_workers_build_the_same_rows_as_one_reader(workers):
    assert collect(parallel_rows(shared(5000), ("en",), workers=workers)) == \
        collect(parallel_rows(shared(5000), ("en",), workers=1))


def test_a_worker_error_reaches_the_caller_and_no_worker_is_left():
    with pytest.raises(CatalogError, match="update 4321 is broken"):
        list(parallel_rows(shared(5000, fail_at=4321), ("en",), workers=2))
    assert multiprocessing.active_children() == []


def test_a_worker_that_dies_is_reported():
    with pytest.raises(CatalogError, match="exit code 3"):
        list(parallel_rows(shared(5000, fail_at=10, crash=True), ("en",), workers=2))
    assert multiprocessing.active_children() == []


def one_reader_ends(how):
    """Reader 2 of 2 ends at once, ``how``; reader 1 sends nothing and would never finish."""
    def read_share(share):
        if share[0] == 1:
            how()
        time.sleep(3600)  # ended by the caller's clean-up
        yield from records(1)
    return read_share


def recording_waits(monkeypatch):
    """Record the timeout of every wait the caller makes (None: it blocks until something happens)."""
    timeouts = []

    def wait(objects, timeout=None):
        timeouts.append(timeout)
        return multiprocessing.connection.wait(objects, timeout)

    monkeypatch.setattr(parallel, "wait", wait, raising=False)
    return timeouts


@pytest.mark.parametrize("how, outcome", [
    (lambda: os._exit(3), "ended with exit code 3"),
    (lambda: os.kill(os.getpid(), signal.SIGKILL), "was killed by signal SIGKILL"),
    (lambda: sys.exit(0), "ended with exit code 0"),  # gone without "done": the old code waited forever
], ids=["exit-code", "signal", "exit-0-without-done"])
def test_a_reader_that_dies_is_reported_at_once(monkeypatch, how, outcome):
    """The other reader never sends a message, so the old code, which looked at the processes only
    when ``results.get(timeout=5)`` timed out, could not report before 5 seconds; now the caller
    blocks on the readers' sentinels and the queue together, and the death itself wakes it."""
    timeouts = recording_waits(monkeypatch)
    started = time.monotonic()
    with pytest.raises(CatalogError) as info:
        list(parallel_rows(one_reader_ends(how), ("en",), workers=2, where="catalog file 'x.cab'"))
    elapsed = time.monotonic() - started
    assert re.fullmatch(r"catalog file 'x\.cab': catalog reader process 2 of 2 \(pid \d+\) %s before it had read "
                        r"its share of the updates" % outcome, str(info.value)), str(info.value)
    assert timeouts and all(timeout is None for timeout in timeouts)  # woken by the death, not by a timer
    assert elapsed < 5
    assert multiprocessing.active_children() == []
