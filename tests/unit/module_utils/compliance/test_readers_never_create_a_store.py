"""Readers never create a store (issue 10, section 1): a store that does not exist is an error that
names the path and says how a store is made, and nothing is created, a mistyped folder least of all.
The inventory plugin's side is in tests/unit/inventory; the modules' through ansible-playbook in
tests/integration/test_compliance_info.py.
"""

import os

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.module_store import ingested_store
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_collections.patchwave.windows.plugins.module_utils._store.errors import StoreError


class Failed(Exception):
    pass


class FakeModule:
    """What ingested_store needs of an AnsibleModule: fail_json, which ends the module."""

    def __init__(self):
        self.failure = None

    def fail_json(self, **kwargs):
        self.failure = kwargs
        raise Failed(kwargs["msg"])


@pytest.mark.parametrize("relative", ["patchwave.db", os.path.join("typo_dir", "patchwave.db"),
                                      os.path.join("typo_dir", "deeper", "patchwave.db")])
def test_a_reader_never_creates_a_store(tmp_path, relative):
    path = tmp_path / relative
    with pytest.raises(StoreError) as raised:
        open_store(str(path), create=False)
    message = str(raised.value)
    assert "store '%s' does not exist" % path in message
    assert "patchwave.windows.catalog_sync" in message
    assert ("nor does its folder" in message) == (path.parent != tmp_path)
    assert os.listdir(str(tmp_path)) == []  # neither the file nor a mistyped folder


def test_the_compliance_modules_fail_on_a_missing_store_and_create_nothing(tmp_path):
    module = FakeModule()
    address = str(tmp_path / "typo_dir" / "patchwave.db")
    with pytest.raises(Failed):
        with ingested_store(module, address, str(tmp_path / "spool")):
            raise AssertionError("a missing store must not be opened")
    assert "store '%s' does not exist" % address in module.failure["msg"]
    assert "catalog_sync" in module.failure["msg"]
    assert "exception" not in module.failure  # a plain error, not a crash
    assert os.listdir(str(tmp_path)) == []


@pytest.mark.integration
def test_a_reader_does_not_make_an_empty_postgresql_database_a_store(postgres_server):
    import psycopg  # pylint: disable=import-outside-toplevel
    dsn = postgres_server.new_database("empty")
    try:
        with pytest.raises(StoreError) as raised:
            open_store(dsn, create=False)
        message = str(raised.value)
        assert "does not exist: the database holds no patchwave store" in message
        assert "patchwave.windows.catalog_sync" in message
        assert postgres_server.password not in message  # the address is shown without its password
        with psycopg.connect(dsn) as connection:
            tables = connection.execute("SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema()")
            assert tables.fetchone()[0] == 0  # nothing was created
        open_store(dsn).close()  # a writer makes the store ...
        open_store(dsn, create=False).close()  # ... which a reader then opens
    finally:
        postgres_server.drop_database(dsn)


def _empty_sqlite_database(path):
    import sqlite3  # pylint: disable=import-outside-toplevel
    connection = sqlite3.connect(str(path))
    connection.execute("CREATE TABLE other_application (id INTEGER)")
    connection.commit()
    connection.close()


@pytest.mark.parametrize("make", [lambda path: path.write_bytes(b""), _empty_sqlite_database],
                         ids=["empty-file", "sqlite-without-patchwave-schema"])
def test_a_reader_does_not_make_an_existing_file_a_store(tmp_path, make):
    path = tmp_path / "patchwave.db"
    make(path)
    before = (path.read_bytes(), os.stat(str(path)).st_mtime_ns)
    with pytest.raises(StoreError) as raised:
        open_store(str(path), create=False)
    message = str(raised.value)
    assert "store '%s' holds no patchwave store" % path in message
    assert "patchwave.windows.catalog_sync" in message
    assert (path.read_bytes(), os.stat(str(path)).st_mtime_ns) == before  # nothing was written
    assert os.listdir(str(tmp_path)) == ["patchwave.db"]  # no -wal, -shm or -journal either
    open_store(str(path)).close()  # a writer makes the store ...
    open_store(str(path), create=False).close()  # ... which a reader then opens


def test_the_compliance_modules_create_no_spool_folder(tmp_path):
    address = str(tmp_path / "patchwave.db")
    open_store(address).close()  # a writer made the store; no state message was ever written
    before = sorted(os.listdir(str(tmp_path)))
    with ingested_store(FakeModule(), address, None) as (_store, ingested):
        assert ingested["ingested"] == 0
    assert sorted(os.listdir(str(tmp_path))) == before  # no spool folder beside the store
    assert not os.path.exists(str(tmp_path / "spool"))
