"""A stored update list as a named set in the compliance inventory plugin: the same compliance as the
set of the same updates by KB, and an unknown list is a parser error naming the inventory, the set and
the list."""

import pytest
from ansible.errors import AnsibleParserError
from ansible_collections.patchwave.windows.plugins.inventory import compliance
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.reads import evaluate_store
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.update_sets import (
    all_updates,
    parse_update_sets,
)
from ansible_collections.patchwave.windows.plugins.module_utils._prepare import lists
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store

from tests.compliance_data import NOW, Fleet, add_catalog
from tests.unit.inventory.test_inventory_compliance import Run, options

KBS = ["KB5000003", "KB5000050", "KB5000051"]


@pytest.fixture
def populated(store_address, tmp_path, monkeypatch):
    monkeypatch.setattr(compliance, "utc_now", lambda: NOW)
    store = open_store(store_address)
    catalog = add_catalog(store, 120, versions=3, seed=1)
    spool = str(tmp_path / "spool")
    hosts, _counts = Fleet(catalog, seed=2).generate(store, spool, 30)
    definition = lists.definition_from_params("month", {"updates": KBS})
    lists.apply(store, lists.plan(store, "month", definition, freeze=True, now=NOW), NOW)
    yield store, store_address, spool, hosts
    store.close()


def test_an_update_list_set_groups_hosts_as_the_same_updates_by_kb(populated):
    store, address, spool, _hosts = populated
    run = Run(options(address, spool, update_sets=[{"name": "month", "update_list": "month"}]))
    expected = evaluate_store(store, [all_updates()] + parse_update_sets([{"name": "month", "kbs": KBS}]), now=NOW)
    assert len(expected.sets["month"].update_ids) == 3
    for host in expected.hosts:
        assert run.hostvars(host)["patchwave_set_compliance"] == {"month": expected.sets["month"].host_compliance[host]}


def test_an_unknown_list_is_a_parser_error(populated):
    _store, address, spool, _hosts = populated
    with pytest.raises(AnsibleParserError) as caught:
        Run(options(address, spool, update_sets=[{"name": "month", "update_list": "mnoth"}]))
    assert "update set 'month': update list 'mnoth' does not exist" in str(caught.value)
