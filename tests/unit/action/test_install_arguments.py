"""The install action plugin's argument checks: refused before anything runs, each naming the option."""

import pytest

from ansible_collections.patchwave.windows.plugins.action import install
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import parse_time


@pytest.mark.parametrize("args, expected", [
    ({"batches": []}, "remove batches from the task"),
    ({"_operation": "start"}, "remove _operation from the task"),
    ({"deployment": "dec", "reboot": True}, "reboot is for ad hoc installs only"),
    ({"deployment": "dec", "category_names": ["x"], "reject_list": ["y"]},
     "category_names, reject_list are for ad hoc installs only"),
    ({"max_run_time_minutes": 4}, "max_run_time_minutes must be 5 to 9999"),
    ({"reboot_timeout": 0}, "reboot_timeout must be more than 0"),
    ({"window_wait": -1}, "window_wait, reconnect_timeout and poll_interval must be 0 or more"),
    ({"accept_list": ["KB(50"]}, "accept_list: 'KB(50' is not a regular expression"),
    ({"server_selection": "offline"}, "server_selection must be one of"),
    ({"deploymnet": "dec"}, "Unsupported parameters for (patchwave.windows.install) module: deploymnet"),
])
def test_refused(args, expected):
    problem, parsed = install._validate_arguments(args)  # pylint: disable=protected-access
    assert parsed is None and expected in problem, problem


def test_accepted_with_defaults():
    problem, args = install._validate_arguments({"deployment": "dec"})  # pylint: disable=protected-access
    assert problem is None
    assert args["reboot_timeout"] == 1200 and args["max_run_time_minutes"] == 60 and args["window_wait"] == 0
    assert args["maintenance_windows"] is None and args["predownload"] is False and args["accept_eula"] is True


def test_clock_offset_from_the_middle_of_the_round_trip():
    before = parse_time("2026-12-05T10:00:00Z")
    after = parse_time("2026-12-05T10:00:02Z")
    assert install._clock_offset({"host_time": "2026-12-05T10:01:31Z"}, before, after) == 90  # pylint: disable=protected-access


def test_without_drops_what_was_sent():
    fitted = {"batches": [["a", "b"], ["c"]], "updates": [{"update_id": u} for u in "abc"]}
    left = install._without(fitted, {"a", "c"})  # pylint: disable=protected-access
    assert left["batches"] == [["b"]] and [d["update_id"] for d in left["updates"]] == ["b"]
