"""catalog_info's filters against a generated catalog, checked against the generator's own facts."""

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.query import (
    UpdateFilter,
    describe_updates,
    select_update_ids,
    validate_filter,
)
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store

from tests.catalog_gen import generate
from tests.catalog_gen.store import sync_file


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    folder = tmp_path_factory.mktemp("query")
    cab = str(folder / "wsusscn2.cab")
    manifest = generate("offline_scan", cab, updates=1500, seed=2, languages=("en", "de"))
    store = open_store(str(folder / "store.db"))
    sync_file(store, cab, languages=("en", "de"))
    yield store, manifest
    store.close()


def ids(store, **criteria):
    found, unknown = select_update_ids(store, validate_filter(UpdateFilter(**criteria)))
    assert unknown == []
    return found


def test_supersedence_chain_both_ways(catalog):
    store, manifest = catalog
    chain_ids = manifest["supersedence_chain"]["update_ids"]  # oldest first
    described = {u["update_id"]: u for u in describe_updates(store, chain_ids)}
    for older, newer in zip(chain_ids, chain_ids[1:]):
        assert older in [s["update_id"] for s in described[newer]["supersedes"]]
        assert newer in [s["update_id"] for s in described[older]["superseded_by"]]
    current = set(ids(store, superseded=False, previews=True))
    replaced = set(ids(store, superseded=True, previews=True))
    assert chain_ids[0] in replaced and not current & replaced
    assert current | replaced == set(ids(store, previews=True))
    for update_id in chain_ids:  # with every update selected, superseded=False means: nothing in the catalog replaces it
        assert (update_id in current) == (not described[update_id]["superseded_by"])


def test_newest_cumulative_updates_survive_their_previews(catalog):
    """Each month's optional preview supersedes that month's CU; a set without previews keeps the CU."""
    store, manifest = catalog
    security = set(ids(store, classifications=("Security Updates",), superseded=False))
    newest = [update_ids[0] for update_ids in manifest["latest_cu_by_product"].values()]
    described = describe_updates(store, newest)
    assert any("Preview" in (s["title"] or "") for u in described for s in u["superseded_by"])
    assert set(newest) <= security
    previews = set(ids(store, title="*Cumulative Update Preview*", previews=True))
    assert previews and not previews & set(ids(store)) and not previews & security


def test_title_pattern_and_substring(catalog):
    store, _manifest = catalog
    cumulative = describe_updates(store, ids(store, title="*Cumulative Update for Windows Server 2022*"))
    assert cumulative and all("Cumulative Update for Windows Server 2022" in u["title"] for u in cumulative)
    substring = ids(store, title="cumulative update for windows server 2022")
    assert set(substring) >= {u["update_id"] for u in cumulative}


def test_severity_and_dates(catalog):
    store, _manifest = catalog
    critical = describe_updates(store, ids(store, severities=("Critical",)))
    assert critical and all(u["msrc_severity"] == "Critical" for u in critical)
    november = describe_updates(store, ids(store, released_after="2026-11-01", released_before="2026-11-30"))
    assert november and all("2026-11-01" <= u["release_date"][:10] <= "2026-11-30" for u in november)
    everything = ids(store)
    assert set(ids(store, released_after="2026-11-01")) < set(everything)


def test_kb_and_product_and_classification(catalog):
    store, manifest = catalog
    product, update_ids = sorted(manifest["latest_cu_by_product"].items())[0]
    update_id = update_ids[0]
    described = describe_updates(store, [update_id])[0]
    assert ids(store, kbs=("KB" + described["kb"],)) == [update_id]
    assert product in [p["id"] for p in described["products"]]
    by_product = ids(store, products=(product,))
    assert update_id in by_product
    security = ids(store, classifications=("Security Updates",))
    assert set(security) <= set(ids(store))


def test_bad_filter_values_are_named():
    with pytest.raises(ValueError, match="not a GUID"):
        validate_filter(UpdateFilter(update_ids=("nope",)))
    with pytest.raises(ValueError, match="released_after"):
        validate_filter(UpdateFilter(released_after="yesterday"))
    with pytest.raises(ValueError, match="KB"):
        validate_filter(UpdateFilter(kbs=("KBx",)))
