"""Reader processes: the same rows as one reader, errors reach the caller, nothing is left running."""

import multiprocessing
import os

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import CatalogError, CatalogUpdate
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.parallel import parallel_rows
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.sync import FileLocation


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
