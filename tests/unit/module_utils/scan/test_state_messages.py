"""State messages: atomic spool writes, one ingest function, quarantine, idempotence, concurrency."""

import json
import multiprocessing
import os
import shutil

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._scan.contract import SCAN_SCHEMA, validate
from ansible_collections.patchwave.windows.plugins.module_utils._scan.ingest import ingest
from ansible_collections.patchwave.windows.plugins.module_utils._scan.previous import last_good_scan
from ansible_collections.patchwave.windows.plugins.module_utils._scan.spool import (
    QUARANTINE,
    pending_files,
    write_message,
)
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store


def scan_body(n=0, result_code=2, hresult=None, finished="2026-11-23T10:00:00Z"):
    return {
        "scan_id": "scan-%d" % n, "mode": "online", "server_selection": "default",
        "started": "2026-11-23T09:59:00Z", "finished": finished, "result_code": result_code, "hresult": hresult,
        "error": None, "wua_version": "10.0.20348.2849", "reboot_pending": False, "reboot_sources": [],
        "last_boot": "2026-11-01T00:00:00Z", "worker": "scheduled_task", "warnings": [],
        "updates": [{
            "update_id": "00000000-0000-4000-8000-%012d" % n, "revision_number": 200, "title": "KB%d" % n,
            "kb_article_ids": [str(5000000 + n)], "is_installed": False, "is_hidden": False, "is_downloaded": False,
            "reboot_behavior": 1, "max_download_size": 1000, "msrc_severity": "Critical",
            "categories": [{"id": "f702a48c-919b-45d6-9aef-ca4248d50397", "name": "Windows Server 2019",
                            "type": "Product"}],
            "superseded_update_ids": []}],
    }


@pytest.fixture
def store(tmp_path):
    opened = open_store(str(tmp_path / "store.db"))
    yield opened
    opened.close()


def test_body_fixture_follows_the_contract():
    assert validate(scan_body(), SCAN_SCHEMA) == []


def test_write_is_atomic_and_ingest_moves_messages_into_the_store(store, tmp_path):
    spool = str(tmp_path / "spool")
    path = write_message(spool, "win01", "scan", scan_body(1), catalog_version=3)
    assert os.path.basename(path).startswith("win01~") and not any(n.startswith(".") and n.endswith(".tmp")
                                                                   for n in os.listdir(spool))
    assert ingest(store, spool) == {"ingested": 1, "duplicates": 0, "quarantined": 0, "pruned": 0}
    assert pending_files(spool) == []
    good = last_good_scan(store, "win01")
    assert good["catalog_version"] == 3 and good["mode"] == "online"
    assert store.query("SELECT update_id, installed FROM scan_updates") == [
        {"update_id": "00000000-0000-4000-8000-000000000001", "installed": 0}]


def test_reingesting_the_same_message_is_a_duplicate(store, tmp_path):
    spool = str(tmp_path / "spool")
    path = write_message(spool, "win01", "scan", scan_body(1))
    keep = str(tmp_path / "copy.json")
    shutil.copyfile(path, keep)
    ingest(store, spool)
    shutil.copyfile(keep, path)
    assert ingest(store, spool) == {"ingested": 0, "duplicates": 1, "quarantined": 0, "pruned": 0}
    assert store.query("SELECT count(*) AS n FROM scans")[0]["n"] == 1


def test_failed_scan_is_not_a_good_scan(store, tmp_path):
    spool = str(tmp_path / "spool")
    write_message(spool, "win01", "scan", scan_body(1, finished="2026-11-20T00:00:00Z"))
    write_message(spool, "win01", "scan", scan_body(2, result_code=4, hresult=-2145107924,
                                                    finished="2026-11-23T00:00:00Z"))
    write_message(spool, "win02", "scan_failure", {"error": "host unreachable", "hresult": None})
    ingest(store, spool)
    assert last_good_scan(store, "win01")["finished"] == "2026-11-20T00:00:00Z"
    assert last_good_scan(store, "win02") is None
    assert store.query("SELECT error FROM scans WHERE host_name = 'win02'") == [{"error": "host unreachable"}]


@pytest.mark.parametrize("content, reason", [
    ("{not json", "not valid JSON"),
    (json.dumps({"message_version": 1}), "missing 'message_id'"),
])
def test_corrupt_message_is_quarantined_and_the_host_keeps_the_reason(store, tmp_path, content, reason):
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "win07~abc.json").write_text(content)
    assert ingest(store, str(spool))["quarantined"] == 1
    assert os.listdir(str(spool / QUARANTINE)) == ["win07~abc.json"]
    row = store.query("SELECT host_name, succeeded, error FROM scans")[0]
    assert row["host_name"] == "win07" and row["succeeded"] == 0 and reason in row["error"]
    assert reason in store.query("SELECT reason FROM message_quarantine")[0]["reason"]


def test_partial_temporary_files_are_left_alone(store, tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / ".1234.tmp").write_text('{"half": ')
    assert ingest(store, str(spool)) == {"ingested": 0, "duplicates": 0, "quarantined": 0, "pruned": 0}
    assert (spool / ".1234.tmp").exists()


def test_store_failure_loses_nothing(store, tmp_path):
    spool = str(tmp_path / "spool")
    write_message(spool, "win01", "scan", scan_body(1))
    store.connection.execute("DROP TABLE scan_updates")
    with pytest.raises(Exception):
        ingest(store, spool)
    assert len(pending_files(spool)) == 1


def _writer(spool, index, count):
    for n in range(count):
        write_message(spool, "win%03d" % index, "scan", scan_body(index * 1000 + n))


def _ingester(store_path, spool, rounds):
    store = open_store(store_path)
    for _round in range(rounds):
        ingest(store, spool)
    store.close()


def test_fifty_writers_and_concurrent_ingesters_lose_nothing(tmp_path):
    spool = str(tmp_path / "spool")
    store_path = str(tmp_path / "store.db")
    open_store(store_path).close()
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_writer, args=(spool, i, 4)) for i in range(50)]
    ingesters = [context.Process(target=_ingester, args=(store_path, spool, 20)) for _index in range(3)]
    for process in writers + ingesters:
        process.start()
    for process in writers + ingesters:
        process.join(120)
        assert process.exitcode == 0
    store = open_store(store_path)
    ingest(store, spool)
    assert store.query("SELECT count(*) AS n FROM scans")[0]["n"] == 200
    assert store.query("SELECT count(DISTINCT host_name) AS n FROM scans")[0]["n"] == 50
    assert pending_files(spool) == []
    store.close()


def test_a_body_that_breaks_the_contract_is_refused_at_write(tmp_path):
    body = scan_body(1)
    del body["updates"][0]["is_hidden"]
    with pytest.raises(ValueError, match=r"state message for win01: the scan result breaks the contract: .*is_hidden"):
        write_message(str(tmp_path / "spool"), "win01", "scan", body)
    assert not os.path.exists(str(tmp_path / "spool")) or os.listdir(str(tmp_path / "spool")) == []


def test_records_travel_compact_and_version_1_messages_are_still_read(store, tmp_path):
    spool = str(tmp_path / "spool")
    path = write_message(spool, "win01", "scan", scan_body(1))
    with open(path, encoding="utf-8") as handle:
        message = json.load(handle)
    assert message["message_version"] == 2 and "updates" not in message["body"]
    assert message["body"]["records"] == [["00000000-0000-4000-8000-000000000001", 200, False, False, False, None]]
    # a message written by the previous version (the host's whole answer) in the same spool
    old = dict(message, message_version=1, message_id="old-1", body=scan_body(2))
    with open(os.path.join(spool, "win02~old-1.json"), "w", encoding="utf-8") as handle:
        json.dump(old, handle)
    assert ingest(store, spool)["ingested"] == 2
    assert [r["update_id"][-1] for r in store.query("SELECT update_id FROM scan_updates ORDER BY update_id")] == [
        "1", "2"]


@pytest.mark.parametrize("record,reason", [
    (["id", 1, True, False], "expected [update_id, revision_number"),
    (["id", -1, True, False, False, None], "wrong types"),
    (["id", 1, "yes", False, False, None], "wrong types"),
    ([7, 1, True, False, False, None], "wrong types"),
    (["id", 1, True, False, False, 1], "wrong types"),
])
def test_bad_records_quarantine_the_message(store, tmp_path, record, reason):
    spool = str(tmp_path / "spool")
    path = write_message(spool, "win01", "scan", scan_body(1))
    with open(path, encoding="utf-8") as handle:
        message = json.load(handle)
    message["body"]["records"].append(record)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(message, handle)
    assert ingest(store, spool)["quarantined"] == 1
    assert reason in store.query("SELECT reason FROM message_quarantine")[0]["reason"]


def test_the_controller_stamps_when_it_received_the_result_and_ingest_orders_by_it(store, tmp_path):
    """``created`` is the controller's clock at write (or what the writer gives); ingest stores it as
    ``received`` beside the host's own ``finished``. A corrupt file is received when it was written."""
    import datetime
    from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import format_time, parse_time
    spool = str(tmp_path / "spool")
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    path = write_message(spool, "win01", "scan", scan_body(1, finished="2001-01-01T00:00:00Z"))
    with open(path, encoding="utf-8") as handle:
        created = parse_time(json.load(handle)["created"])
    assert before <= created <= datetime.datetime.now(datetime.timezone.utc)
    write_message(spool, "win02", "scan_failure", {"error": "unreachable"}, created="2026-11-23T08:00:00+02:00")
    bad = os.path.join(spool, "win03~bad.json")
    with open(bad, "w", encoding="utf-8") as handle:
        handle.write("{not json")
    os.utime(bad, (1764000000, 1764000000))
    ingest(store, spool)
    rows = {r["host_name"]: r for r in store.query("SELECT host_name, finished, received FROM scans")}
    assert rows["win01"]["finished"] == "2001-01-01T00:00:00Z" and rows["win01"]["received"] == format_time(created)
    assert rows["win02"]["received"] == rows["win02"]["finished"] == "2026-11-23T06:00:00Z"
    assert rows["win03"]["received"] == format_time(datetime.datetime.fromtimestamp(1764000000, datetime.timezone.utc))
    assert last_good_scan(store, "win01")["received"] == format_time(created)


def test_a_message_whose_created_is_not_a_time_is_quarantined(store, tmp_path):
    spool = str(tmp_path / "spool")
    path = write_message(spool, "win01", "scan", scan_body(1))
    with open(path, encoding="utf-8") as handle:
        message = json.load(handle)
    message["created"] = "yesterday"
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(message, handle)
    assert ingest(store, spool)["quarantined"] == 1
    assert "message.created" in store.query("SELECT error FROM scans")[0]["error"]
