"""The scan action plugin's decisions, as pure functions: TTL, the unforced-scan rule, HRESULT names."""

import datetime

import pytest
from ansible_collections.patchwave.windows.plugins.action.scan import (
    ActionModule,
    age_in_words,
    parse_ttl,
    skip_reason,
    summarize_scan,
)
from ansible_collections.patchwave.windows.plugins.module_utils._scan.hresults import describe

NOW = datetime.datetime(2026, 11, 23, 12, 0, 0, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize("text, seconds", [("24h", 86400), ("90m", 5400), ("2d", 172800), ("3600s", 3600),
                                           ("12", 43200), (" 1 h ", 3600)])
def test_parse_ttl(text, seconds):
    assert parse_ttl(text) == seconds


@pytest.mark.parametrize("text", ["", "1w", "-1h", "h", "1.5h"])
def test_parse_ttl_refuses(text):
    with pytest.raises(ValueError, match="scan_ttl"):
        parse_ttl(text)


@pytest.mark.parametrize("last, version, skipped", [
    (None, 3, False),                                                          # never scanned
    ({"finished": "2026-11-23T11:00:00Z", "catalog_version": 3}, 3, True),     # fresh, same catalog
    ({"finished": "2026-11-23T11:00:00Z", "catalog_version": 2}, 3, False),    # catalog moved on
    ({"finished": "2026-11-22T11:00:00Z", "catalog_version": 3}, 3, False),    # older than the TTL
    ({"finished": "2026-11-22T12:00:01Z", "catalog_version": 3}, 3, True),     # just inside the TTL
    ({"finished": "2026-11-23T13:00:00Z", "catalog_version": 3}, 3, False),    # from the future: distrust
    # the age counts from when the controller received the result, whatever the host's clock said
    ({"finished": "2026-11-23T17:00:00Z", "received": "2026-11-23T11:00:00Z", "catalog_version": 3}, 3, True),
    ({"finished": "2026-11-23T11:00:00Z", "received": "2026-11-22T11:00:00Z", "catalog_version": 3}, 3, False),
])
def test_unforced_scan_rule(last, version, skipped):
    reason = skip_reason(last, version, 86400, NOW)
    assert (reason is not None) is skipped
    if skipped:
        assert "catalog version %d" % version in reason


def test_hresult_names_signed_and_unsigned():
    assert describe(-2145107924) == describe(0x8024402C)
    assert describe(0x8024402C)["name"] == "WU_E_PT_WINHTTP_NAME_NOT_RESOLVED"
    assert describe(0x80070005)["name"] == "E_ACCESSDENIED"
    assert describe(0x80070020)["name"] == "HRESULT_FROM_WIN32(32)"
    assert describe(None) == {"hresult": None, "name": None, "meaning": None}


def test_summary_names_codes():
    scan = {"mode": "offline", "server_selection": "offline", "started": "s", "finished": "f", "result_code": 3,
            "hresult": None, "wua_version": "10", "reboot_pending": True, "reboot_sources": ["wua"],
            "last_boot": "b", "warnings": [], "scan_id": "x",
            "updates": [{"update_id": "ABC", "revision_number": 1, "title": "t", "kb_article_ids": ["5000001"],
                         "is_installed": True, "is_hidden": False, "is_downloaded": True, "reboot_behavior": 2,
                         "max_download_size": 5, "msrc_severity": None, "categories": [],
                         "superseded_update_ids": ["DEF"]}]}
    summary = summarize_scan(scan)
    assert summary["result"] == "SucceededWithErrors" and summary["update_count"] == 1
    assert summary["updates"][0] == {
        "update_id": "abc", "revision_number": 1, "kb": "5000001", "title": "t", "installed": True, "hidden": False,
        "downloaded": True, "reboot_behavior": "CanRequestReboot", "max_download_size": 5, "severity": None,
        "categories": [], "superseded_ids": ["def"], "kbs": ["5000001"]}


@pytest.mark.parametrize("received, words", [
    ("2026-11-23T11:59:30Z", "less than a minute ago"),
    ("2026-11-23T11:59:00Z", "1 minute ago"),
    ("2026-11-23T11:58:00Z", "2 minutes ago"),
    ("2026-11-23T11:00:00Z", "1 hour ago"),
    ("2026-11-23T10:59:00Z", "1 hour 1 minute ago"),
    ("2026-11-23T09:30:00Z", "2 hours 30 minutes ago"),
])
def test_skip_reason_says_its_age_in_words(received, words):
    reason = skip_reason({"finished": received, "received": received, "catalog_version": 3}, 3, 86400, NOW)
    assert "(received %s, %s)" % (received, words) in reason, reason
    assert "1 minutes" not in reason and "1 hours" not in reason


@pytest.mark.parametrize("seconds, words", [(0, "less than a minute ago"), (119, "1 minute ago"),
                                            (86400, "1 day ago"), (86400 * 3 + 3600 + 60, "3 days 1 hour ago"),
                                            (86400 * 2 + 7200, "2 days 2 hours ago")])
def test_age_in_words(seconds, words):
    assert age_in_words(seconds) == words


@pytest.mark.parametrize("task_args, wanted", [
    ({"_operation": "start"}, "patchwave.windows.scan: remove _operation from the task: it is internal"),
    ({"_operation": "poll", "_operation_options": {"scan_id": "x"}, "force": True},
     "patchwave.windows.scan: remove _operation and _operation_options from the task: they are internal"),
    ({"forced": True}, "Unsupported parameters for (patchwave.windows.scan) module: forced."),
    ({"server_selection": "wsus"}, "value of server_selection must be one of: default, managed_server, windows_update, "
                                   "offline, got: wsus"),
])
def test_refused_arguments_name_the_module_as_users_write_it(task_args, wanted):
    problem, args = ActionModule._validate_arguments(task_args)
    assert args is None and wanted in problem, problem
    assert "ansible_collections" not in problem and "plugins.action" not in problem


def test_accepted_arguments_get_their_defaults():
    problem, args = ActionModule._validate_arguments({"force": "yes", "scan_ttl": "2d"})
    assert problem is None
    assert args["force"] is True and args["scan_ttl"] == "2d" and args["server_selection"] == "default"
    assert args["timeout"] == 3600 and args["include_hidden"] is True and args["offline_scan_file"] is None


def test_a_port_with_401_in_it_is_no_rejected_credential():
    """A refused connection to port 34011 (``port=34011`` in the error) is unreachable, not credentials."""
    from ansible_collections.patchwave.windows.plugins.action.scan import attempt_failure

    refused = ConnectionError("HTTPConnectionPool(host='127.0.0.1', port=34011): Max retries exceeded with url: /wsman "
                              "(Caused by NewConnectionError: [Errno 111] Connection refused)")
    assert attempt_failure(refused) == "unreachable"
    assert attempt_failure(ConnectionError("ntlm: 401 Unauthorized")) == "credentials"
    assert attempt_failure(ConnectionError("Bad HTTP response returned from server. Code 401")) == "credentials"
    assert attempt_failure(ConnectionError("the specified credentials were rejected by the server")) == "credentials"
