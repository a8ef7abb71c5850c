"""The store's catalog sync: versions, change detection, relationships, filters, expiry, atomicity."""

import datetime
import sqlite3

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import (
    CatalogError,
    CatalogUpdate,
    FileLocation,
    UpdateFile,
)
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.query import (
    UpdateFilter,
    describe_updates,
    select_update_ids,
)
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.sync import (
    SyncOptions,
    sync_records,
)
from ansible_collections.patchwave.windows.plugins.module_utils._store.address import (
    resolve_spool,
    resolve_store_address,
)
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_collections.patchwave.windows.plugins.module_utils._store.errors import StoreError
from ansible_collections.patchwave.windows.plugins.module_utils._store.schema import SCHEMA_VERSION

PRODUCT = "f702a48c-919b-45d6-9aef-ca4248d50397"
OTHER_PRODUCT = "72e7624a-5b00-45d2-b92f-e561c0a6a160"
SECURITY = "0fa1201d-4330-4fa8-8ae9-b877473b6441"
NOW = datetime.datetime(2026, 11, 23, tzinfo=datetime.timezone.utc)


def guid(n):
    return "00000000-0000-4000-8000-%012d" % n


def categories():
    return [
        CatalogUpdate(update_id=PRODUCT, revision_number=1, kind="category", category_type="Product",
                      titles={"en": "Windows Server 2019"}),
        CatalogUpdate(update_id=OTHER_PRODUCT, revision_number=1, kind="category", category_type="Product",
                      titles={"en": "Windows 11"}),
        CatalogUpdate(update_id=SECURITY, revision_number=1, kind="category", category_type="UpdateClassification",
                      titles={"en": "Security Updates", "de": "Sicherheitsupdates"}),
    ]


def cumulative(n, month, supersedes=(), product=PRODUCT, revision=100):
    return CatalogUpdate(
        update_id=guid(n), revision_number=revision, titles={"en": "2026-%02d Cumulative Update (KB50%05d)" % (month, n)},
        kb_articles=("50%05d" % n,), msrc_severity="Critical", release_date="2026-%02d-10T18:00:00Z" % month,
        categories=(product, SECURITY), supersedes=tuple(supersedes), is_bundle=True,
        files=(UpdateFile(name="kb%d.msu" % n, sha1="sha1-%d=" % n, sha256="sha256-%d=" % n, size=1000 + n),),
    )


def options(**kw):
    kw.setdefault("source", "test")
    kw.setdefault("format", "catalog_file")
    kw.setdefault("now", NOW)
    return SyncOptions(**kw)


@pytest.fixture
def store(tmp_path):
    opened = open_store(str(tmp_path / "store" / "patchwave.db"))
    yield opened
    opened.close()


def test_first_sync_creates_version_one_and_counts_by_kind(store):
    result = sync_records(store, categories() + [cumulative(1, 9), cumulative(2, 10, supersedes=[guid(1)])], options())
    assert result["changed"] is True
    assert result["catalog_version"] == 1 and result["previous_version"] is None
    assert result["counts"]["added"] == 5
    assert result["counts"]["by_kind"]["software"]["added"] == 2
    assert result["counts"]["by_kind"]["category"]["added"] == 3


def test_identical_sync_creates_no_version(store):
    records = categories() + [cumulative(1, 9), cumulative(2, 10, supersedes=[guid(1)])]
    sync_records(store, records, options())
    again = sync_records(store, categories() + [cumulative(1, 9), cumulative(2, 10, supersedes=[guid(1)])], options())
    assert again["changed"] is False
    assert again["catalog_version"] == 1
    assert store.query("SELECT count(*) AS n FROM catalog_versions")[0]["n"] == 1


def test_changed_title_and_new_supersedence_edge_are_modifications(store):
    sync_records(store, categories() + [cumulative(1, 9), cumulative(2, 10)], options())
    renamed = cumulative(1, 9)
    renamed.titles = {"en": "renamed"}
    result = sync_records(store, categories() + [renamed, cumulative(2, 10, supersedes=[guid(1)])], options())
    assert result["catalog_version"] == 2
    assert result["counts"]["modified"] == 2
    assert result["counts"]["added"] == 0
    row = store.query("SELECT title, first_version, changed_version FROM updates WHERE update_id = ?", (guid(1),))[0]
    assert row == {"title": "renamed", "first_version": 1, "changed_version": 2}


def test_supersedence_both_directions_and_dangling_links(store):
    absent = guid(999)
    sync_records(store, categories() + [cumulative(1, 9), cumulative(2, 10, supersedes=[guid(1), absent])], options())
    described = {u["update_id"]: u for u in describe_updates(store, [guid(1), guid(2)])}
    assert [s["update_id"] for s in described[guid(1)]["superseded_by"]] == [guid(2)]
    links = {s["update_id"]: s["in_catalog"] for s in described[guid(2)]["supersedes"]}
    assert links == {guid(1): True, absent: False}
    assert described[guid(2)]["products"] == [{"id": PRODUCT, "title": "Windows Server 2019"}]
    assert described[guid(2)]["files"][0]["sha256"] == "sha256-2="


def test_revision_links_resolve_through_revision_ids(store):
    bundle = cumulative(1, 9)
    bundle.revision_id = 501
    newer = cumulative(2, 10)
    newer.revision_id = 502
    child = CatalogUpdate(update_id=guid(11), revision_number=1, revision_id=503, bundled_by_revision_ids=(501,),
                          files=(UpdateFile(name="payload.cab", sha1="c2hhMQ=="),))
    bundle.superseded_by_revision_ids = (502, 9999)
    result = sync_records(store, categories() + [bundle, newer, child, FileLocation("c2hhMQ==", "http://x/payload.cab")],
                          options(format="offline_scan"))
    assert result["counts"]["dangling_revision_links"] == 1
    assert store.query("SELECT update_id, superseded_id FROM update_supersedence") == [
        {"update_id": guid(2), "superseded_id": guid(1)}]
    assert store.query("SELECT bundle_id, member_id FROM update_bundles") == [{"bundle_id": guid(1), "member_id": guid(11)}]
    files = describe_updates(store, [guid(1)])[0]["files"]
    assert any(f["name"] == "payload.cab" and f["urls"] == ["http://x/payload.cab"] for f in files)
    listed, unknown = select_update_ids(store, UpdateFilter())
    assert unknown == []
    assert guid(11) not in listed  # bundle members are not deployable on their own


def test_highest_revision_wins(store):
    low = cumulative(1, 9, revision=1)
    low.titles = {"en": "old"}
    high = cumulative(1, 9, revision=200)
    sync_records(store, categories() + [high, low], options())
    row = store.query("SELECT revision_number, title FROM updates WHERE update_id = ?", (guid(1),))[0]
    assert row["revision_number"] == 200 and row["title"].startswith("2026-09")


def test_product_filter_by_title_and_missing_updates_expire(store):
    other = cumulative(3, 10, product=OTHER_PRODUCT)
    sync_records(store, categories() + [cumulative(1, 9), other], options())
    result = sync_records(store, categories() + [cumulative(1, 9), other], options(products=("windows server 2019",)))
    assert result["counts"]["expired"] == 1
    assert store.query("SELECT expired_version FROM updates WHERE update_id = ?", (guid(3),))[0]["expired_version"] == 2
    with pytest.raises(CatalogError, match="product 'Windows 3.1' is not in the catalog"):
        sync_records(store, categories() + [cumulative(1, 9)], options(products=("Windows 3.1",)))


def test_superseded_updates_expire_after_days(store):
    records = categories() + [cumulative(1, 9), cumulative(2, 10, supersedes=[guid(1)])]
    result = sync_records(store, records, options(expire_superseded_days=30))
    assert result["counts"]["by_kind"]["software"]["expired"] == 0  # newly added is counted as added
    expired = store.query("SELECT update_id FROM updates WHERE expired_version IS NOT NULL")
    assert expired == [{"update_id": guid(1)}]
    again = sync_records(store, categories() + [cumulative(1, 9), cumulative(2, 10, supersedes=[guid(1)])],
                         options(expire_superseded_days=30))
    assert again["changed"] is False
    kept = sync_records(store, categories() + [cumulative(1, 9), cumulative(2, 10, supersedes=[guid(1)])],
                        options(expire_superseded_days=365))
    assert kept["counts"]["modified"] == 1  # no longer old enough to expire: it comes back


def test_check_mode_reports_and_leaves_store_unchanged(store):
    result = sync_records(store, categories() + [cumulative(1, 9)], options(check_mode=True))
    assert result["changed"] is True and result["counts"]["added"] == 4
    assert store.query("SELECT count(*) AS n FROM updates")[0]["n"] == 0
    assert store.query("SELECT count(*) AS n FROM catalog_versions")[0]["n"] == 0


def test_failure_mid_stream_leaves_store_exactly_as_it_was(store):
    sync_records(store, categories() + [cumulative(1, 9)], options())
    before = store.query("SELECT * FROM updates ORDER BY update_id")

    def broken():
        yield cumulative(2, 10)
        raise CatalogError("catalog file 'x': record 2 is truncated")

    with pytest.raises(CatalogError, match="truncated"):
        sync_records(store, broken(), options())
    assert store.query("SELECT * FROM updates ORDER BY update_id") == before
    assert store.query("SELECT max(version) AS v FROM catalog_versions")[0]["v"] == 1


def test_empty_source_is_an_error(store):
    with pytest.raises(CatalogError, match="holds no updates"):
        sync_records(store, [], options(source_path="/x/empty.yml"))


def test_store_addressing(tmp_path):
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    assert resolve_store_address(None, env) == str(tmp_path / "xdg" / "patchwave" / "patchwave.db")
    assert resolve_store_address(None, dict(env, PATCHWAVE_STORE="/s/a.db")) == "/s/a.db"
    assert resolve_store_address("/o/b.db", dict(env, PATCHWAVE_STORE="/s/a.db")) == "/o/b.db"
    assert resolve_spool(None, "/o/b.db", env) == "/o/spool"
    assert resolve_spool(None, "postgresql://u:p@h/db", env) == str(tmp_path / "xdg" / "patchwave" / "spool")
    assert resolve_spool("/sp", "/o/b.db", env) == "/sp"


def test_schema_version_and_newer_store_refused(tmp_path):
    path = str(tmp_path / "s.db")
    opened = open_store(path)
    assert opened.schema_version() == SCHEMA_VERSION
    opened.close()
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE schema_info SET version = 99")
    with pytest.raises(StoreError, match="schema version 99, newer"):
        open_store(path)


def test_not_a_store_is_refused(tmp_path):
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="junk.db"):
        open_store(str(path))


def test_first_sync_rebuilds_every_secondary_index(store):
    from ansible_collections.patchwave.windows.plugins.module_utils._store.schema import CATALOG_INDEXES

    sync_records(store, categories() + [cumulative(1, 9)], options())
    names = {r["name"] for r in store.query("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert set(CATALOG_INDEXES) <= names
