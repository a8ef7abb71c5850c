"""The install's result rules (_install/results.py): ad hoc selection, entries, loops, the host's outcome."""

import pytest

from ansible_collections.patchwave.windows.plugins.module_utils._install import results as r
from ansible_collections.patchwave.windows.plugins.module_utils._install.contract import UPDATE_RESULT_SCHEMA
from ansible_collections.patchwave.windows.plugins.module_utils._scan.contract import validate


def scan_update(uid, title, categories, installed=False, hidden=False, kbs=("5040001",)):
    return {"update_id": uid, "title": title, "kb_article_ids": list(kbs), "is_installed": installed,
            "is_hidden": hidden, "categories": [{"id": c, "name": c, "type": t} for c, t in categories]}


SEC = ("Security Updates", "UpdateClassification")
DEF = ("Definition Updates", "UpdateClassification")
UPDATES = [
    scan_update("A", "2026-12 Cumulative Update", [SEC, ("Windows 11", "Product")]),
    scan_update("B", "Defender definitions", [DEF], kbs=("2267602",)),
    scan_update("C", "Installed one", [SEC], installed=True),
    scan_update("D", "Hidden one", [SEC], hidden=True, kbs=("5040009",)),
]


@pytest.mark.parametrize("categories, accept, reject, selected, filtered", [
    (None, None, None, ["A"], {"B": ["category_names"], "D": ["hidden"]}),
    (["*"], None, None, ["A", "B"], {"D": ["hidden"]}),
    (["definitionupdates"], None, None, ["B"], {"A": ["category_names"], "D": ["category_names", "hidden"]}),
    (["*"], ["KB2267602"], None, ["B"], {"A": ["accept_list"], "D": ["accept_list", "hidden"]}),
    (["*"], None, ["cumulative"], ["B"], {"A": ["reject_list"], "D": ["hidden"]}),
])
def test_ad_hoc_selection_as_win_updates(categories, accept, reject, selected, filtered):
    chosen, left = r.select_ad_hoc(UPDATES, categories, accept, reject)
    assert [u["update_id"] for u in chosen] == selected
    assert {k.upper(): v["filtered_reasons"] for k, v in left.items()} == filtered


def test_bad_pattern_names_the_option():
    with pytest.raises(ValueError, match="reject_list: '\\[' is not a regular expression"):
        r.check_patterns(["["], "reject_list")


def result(outcome, reason=None, hresult=None, download_hresult=None, reboot=False, content_error=None):
    entry = {"update_id": "a", "title": "T", "kb_article_ids": ["5040001"], "batch": 0, "outcome": outcome,
             "not_attempted_reason": reason, "downloaded": outcome != "download_failed",
             "download_result_code": 2, "download_hresult": download_hresult,
             "result_code": 4 if hresult else 2, "hresult": hresult, "error": None, "reboot_required": reboot,
             "started": None, "finished": None, "content_error": content_error}
    assert validate(entry, UPDATE_RESULT_SCHEMA) == []
    return entry


def test_entries_map_host_results():
    assert r.update_entry("a", result=result("installed"))["outcome"] == "installed"
    pending = r.update_entry("a", result=result("installed", reboot=True))
    assert pending["outcome"] == "pending_restart" and pending["installed"] and pending["reboot_required"]
    failed = r.update_entry("a", result=result("failed", hresult=0x80240022))
    assert failed["failure_hresult_code"] == 0x80240022 - 0x100000000
    assert failed["failure_msg"].startswith("0x80240022 ")
    bad = r.update_entry("a", result=result("download_failed", download_hresult=0x80096010,
                                            content_error="file x.cab: SHA-1 mismatch"))
    assert bad["outcome"] == "download_failed" and "SHA-1 mismatch" in bad["failure_msg"]
    late = r.update_entry("a", decision={"would_start": "w", "needs_minutes": 60, "window_ends": "e"},
                          result=result("not_attempted", reason="window"))
    assert late["outcome"] == "waiting_for_window" and late["needs_minutes"] == 60
    gone = r.update_entry("a", result=result("not_attempted", reason="not_found"))
    assert gone["outcome"] == "not_attempted" and gone["reason"] == "not_found"


def test_unsent_update_waits_with_the_figures():
    entry = r.update_entry("a", "T", ["KB1"], decision={"outcome": "not_attempted", "message": "would start 02:10",
                                                        "would_start": "x", "needs_minutes": 60, "window_ends": "y"})
    assert entry["outcome"] == "waiting_for_window" and entry["message"] == "would start 02:10"


def test_loop_is_success_still_required_after_restart():
    after = [{"update_id": "A", "is_installed": False}, {"update_id": "B", "is_installed": True}]
    assert r.still_required(["a", "b"], after) == ["a"]
    assert r.still_required(["b"], after) == []


E = {"outcome": "installed"}
F = {"outcome": "failed"}
W = {"outcome": "waiting_for_window"}


@pytest.mark.parametrize("entries, needed, rebooted, loops, gone, expected", [
    ([E], False, False, (), False, "compliant"),
    ([E], True, False, (), False, "installed_pending_restart"),
    ([E], True, True, (), False, "compliant"),
    ([E, W], False, False, (), False, "waiting_for_window"),
    ([E, F, W], False, False, (), False, "failed"),
    ([E], True, True, ["a"], False, "update_loop"),
    ([E, F], True, False, (), True, "did_not_return"),
    ([], False, False, (), False, "compliant"),
])
def test_one_outcome(entries, needed, rebooted, loops, gone, expected):
    assert r.host_outcome(entries, needed, rebooted, loops, gone) == expected
    assert expected in r.OUTCOMES


def test_counts():
    entries = [dict(E, installed=True), dict(F, installed=False), {"outcome": "download_failed", "installed": False}]
    assert r.counts(entries) == {"found_update_count": 3, "installed_update_count": 1, "failed_update_count": 2}
