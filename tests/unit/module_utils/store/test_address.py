"""Where the store and the spool are (plugins/module_utils/_store/address.py)."""

from __future__ import annotations

import os

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._store.address import (
    resolve_spool,
    resolve_store_address,
    secrets_of,
)
from ansible_collections.patchwave.windows.plugins.action import scan as scan_action


def test_a_store_under_home_puts_its_spool_under_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_store_address("~/patchwave/p.db", {}) == str(tmp_path / "patchwave" / "p.db")
    assert resolve_spool(None, "~/patchwave/p.db", {}) == str(tmp_path / "patchwave" / "spool")
    assert resolve_store_address(None, {"PATCHWAVE_STORE": "~/s.db"}) == str(tmp_path / "s.db")


def test_a_spool_is_a_path_with_user_and_variables_expanded(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PW_TEST_ROOT", "/srv/pw")
    assert resolve_spool("~/sp", "/o/b.db", {}) == str(tmp_path / "sp")
    assert resolve_spool("$PW_TEST_ROOT/spool", "/o/b.db", {}) == "/srv/pw/spool"
    assert resolve_spool(None, "/o/b.db", {"PATCHWAVE_SPOOL": "~/env-spool"}) == str(tmp_path / "env-spool")


def test_a_postgresql_address_is_never_expanded(monkeypatch):
    monkeypatch.setenv("word", "EXPANDED")
    dsn = "postgresql://u:pa$word@db.example.com/patchwave"
    assert resolve_store_address(dsn, {}) == dsn
    assert resolve_store_address(None, {"PATCHWAVE_STORE": dsn}) == dsn


def test_the_scan_action_types_spool_as_a_path_and_store_as_text():
    assert scan_action.ARGUMENT_SPEC["spool"]["type"] == "path"
    assert scan_action.ARGUMENT_SPEC["store"]["type"] == "str"
    assert os.path.isabs(resolve_spool(None, "relative.db", {}))


@pytest.mark.parametrize("address, secrets", [
    ("postgresql://u:Pw0rdX@127.0.0.1:1/db", {"Pw0rdX"}),
    ("postgres://u:Pw0rdX@db.example/patchwave?sslmode=require", {"Pw0rdX"}),
    ("postgresql://u:p%40ss%2Fw@host/db", {"p%40ss%2Fw", "p@ss/w"}),  # as written and as libpq reads it
    ("postgresql://u@host/db?password=Qx9secret", {"Qx9secret"}),
    ("postgresql://host/db?sslmode=require&password=Qx9secret&connect_timeout=5", {"Qx9secret"}),
    ("postgresql://u:One1@host/db?password=Two2", {"One1", "Two2"}),
    ("postgresql://u@host/db", set()),
    ("postgresql://u:@host/db", set()),
    ("/var/lib/patchwave/p:w@d.db", set()),  # a file path carries no password
    ("", set()),
    (None, set()),
])
def test_secrets_of_a_store_address(address, secrets):
    assert secrets_of(address) == secrets
