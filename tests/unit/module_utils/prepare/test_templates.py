"""Deployment templates (plugins/module_utils/_prepare/templates.py): settings checks, offsets, the
randomized deadline offset, maximum run times, and templates in the store on both backends."""

import datetime

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._prepare import templates as t
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_collections.patchwave.windows.plugins.module_utils._store.objects import object_history


@pytest.mark.parametrize("text, minutes, canonical", [
    ("+0m", 0, "+0m"), ("0", 0, "+0m"), ("+0", 0, "+0m"), ("+4h", 240, "+4h"), ("+2d", 2880, "+2d"),
    ("2d", 2880, "+2d"), ("+1d12h", 2160, "+1d12h"), ("+90m", 90, "+1h30m"), ("+1w", 10080, "+7d"),
    ("+1W2D", 12960, "+9d"), (" +30m ", 30, "+30m"),
])
def test_offsets(text, minutes, canonical):
    delta = t.parse_offset(text)
    assert delta == datetime.timedelta(minutes=minutes)
    assert t.format_offset(delta) == canonical


@pytest.mark.parametrize("text", ["", "+", "-2d", "2 days", "+2x", "+h", "2026-12-01", None, "+1h2d"])
def test_bad_offsets(text):
    with pytest.raises(ValueError, match="is not an offset"):
        t.parse_offset(text)


def test_defaults_fill_and_normalise():
    settings = t.check_settings({"deadline_offset": "+48h", "max_run_time_minutes": {"Security Updates": "30"}},
                                "deployment template 'x'")
    assert settings == dict(t.DEFAULTS, deadline_offset="+2d", max_run_time_minutes={"Security Updates": 30})
    assert set(settings) == set(t.SETTINGS)


@pytest.mark.parametrize("settings, message", [
    ({"deadline_randomization_minutes": 121}, "deadline_randomization_minutes: 121 minutes is out of range (0 to 120)"),
    ({"deadline_randomization_minutes": -1}, "deadline_randomization_minutes: -1 minutes is out of range"),
    ({"max_run_time_minutes": {"Updates": 4}}, "max_run_time_minutes: classification 'Updates': 4 minutes is out "
                                               "of range (5 to 9999)"),
    ({"max_run_time_minutes": {"Updates": 10000}}, "out of range (5 to 9999)"),
    ({"max_run_time_minutes": {"Updates": "soon"}}, "'soon' is not a whole number of minutes"),
    ({"max_run_time_minutes": [30]}, "max_run_time_minutes: expected a mapping"),
    ({"reboot": "sometimes"}, "reboot: 'sometimes' is not one of if_required, never, always"),
    ({"content_source": "smb"}, "content_source: 'smb' is not one of distribution_point, wua"),
    ({"scan_source": "cab"}, "scan_source: 'cab' is not one of wua, offline"),
    ({"rescan_after_reboot": "yes"}, "rescan_after_reboot: 'yes' is not true or false"),
    ({"deadline_offset": "next week"}, "deadline_offset: 'next week' is not an offset"),
    ({"colour": "blue"}, "unknown setting(s) colour"),
])
def test_out_of_range_names_the_template_and_the_option(settings, message):
    with pytest.raises(t.TemplateError) as caught:
        t.check_settings(settings, t.owner_name("pilot"))
    assert str(caught.value).startswith("deployment template 'pilot': ")
    assert message in str(caught.value)


def test_randomized_offset_is_stable_in_range_and_spread():
    settings = {"deadline_randomization_minutes": 120}
    hosts = ["web%03d" % n for n in range(2000)]
    offsets = [t.randomized_offset(settings, h) for h in hosts]
    assert offsets == [t.randomized_offset(settings, h) for h in hosts]  # stable between runs
    assert all(0 <= o <= 120 for o in offsets)
    assert t.randomized_offset(settings, "WEB001") == t.randomized_offset(settings, "web001")  # names without case
    buckets = [0] * 4
    for o in offsets:
        buckets[min(o * 4 // 121, 3)] += 1
    assert min(buckets) > 400  # spread over the range, not bunched
    assert t.randomized_offset({"deadline_randomization_minutes": 0}, "web001") == 0
    assert {t.randomized_offset({"deadline_randomization_minutes": 1}, h) for h in hosts} == {0, 1}
    # a known value, so a change of the derivation (which would move every host's deadline) is seen
    assert [t.randomized_offset(settings, h) for h in ("web001", "sql01")] == [78, 16]


@pytest.mark.parametrize("update, settings, override, expected", [
    ({"classification": "Security Updates"}, {"max_run_time_minutes": {"Security Updates": 30}}, None, 30),
    ({"classification": "security updates"}, {"max_run_time_minutes": {"Security Updates": 30}}, None, 30),
    ({"classification": "Security Updates"}, {"max_run_time_minutes": {"Security Updates": 30}}, 90, 90),
    ({"classification": "Feature Packs"}, {"max_run_time_minutes": {"Security Updates": 30}}, None, 60),
    ({"classification": None}, {}, None, 60),
    ({}, {"max_run_time_minutes": {}}, None, 60),
])
def test_max_run_time(update, settings, override, expected):
    assert t.max_run_time(update, settings, override) == expected


def test_templates_in_the_store_created_updated_idempotent_deleted(store_address):
    store = open_store(store_address)
    try:
        action, before, after = t.apply_template(store, "pilot", "present", {"deadline_offset": "+2d"},
                                                 check_mode=True)
        assert (action, before) == ("created", None) and after["deadline_offset"] == "+2d"
        assert t.read_template(store, "pilot") is None  # check mode wrote nothing
        assert t.apply_template(store, "pilot", "present", {"deadline_offset": "+2d"})[0] == "created"
        assert t.apply_template(store, "pilot", "present", {"deadline_offset": "+48h"})[0] is None  # same settings
        action, before, after = t.apply_template(store, "pilot", "present", {"deadline_offset": "+3d", "reboot": "never"})
        assert action == "updated" and before["deadline_offset"] == "+2d" and after["reboot"] == "never"
        with pytest.raises(t.TemplateError, match="deployment template 'pilot': deadline_randomization_minutes"):
            t.apply_template(store, "pilot", "present", {"deadline_randomization_minutes": 500})
        assert t.read_template(store, "pilot")["reboot"] == "never"  # the failed write left it as it was
        assert t.apply_template(store, "pilot", "absent")[0] == "deleted"
        assert t.apply_template(store, "pilot", "absent")[0] is None
        history = object_history(store, t.OBJECT_TYPE, "pilot")
        assert [h["action"] for h in history] == ["created", "updated", "deleted"]
        assert history[1]["after"]["settings"]["deadline_offset"] == "+3d"
    finally:
        store.close()
