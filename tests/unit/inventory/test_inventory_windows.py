"""The compliance inventory plugin's maintenance-window group (``patchwave_in_window``), in process: windows
from every ``patchwave_maintenance_windows*`` variable of the host and its groups, type precedence, no
windows = inside, ``local`` windows in ``patchwave_host_timezone`` else UTC, bad definitions warned about."""

import datetime

import pytest
from ansible.inventory.data import InventoryData
from ansible_collections.patchwave.windows.plugins.inventory import compliance
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store

from tests.compliance_data import Fleet, add_catalog
from tests.unit.inventory.test_inventory_compliance import Run, options

AT = datetime.datetime(2026, 12, 5, 22, 30, tzinfo=datetime.timezone.utc)  # a Saturday, 23:30 in Berlin
SATURDAY = {"name": "sat-night", "start": "22:00", "duration_minutes": 120,
            "recurrence": {"frequency": "weekly", "days": ["saturday"]}}
SUNDAY_UPDATES = {"name": "sun-updates", "start": "02:00", "duration_minutes": 120, "applies_to": "software_updates",
                  "recurrence": {"frequency": "weekly", "days": ["sunday"]}}
LOCAL = {"name": "local-night", "timezone": "local", "start": "23:00", "duration_minutes": 60,
         "recurrence": {"frequency": "daily"}}


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch):
    monkeypatch.setattr(compliance, "utc_now", lambda: AT)


@pytest.fixture
def store(tmp_path):
    address = str(tmp_path / "store.db")
    spool = str(tmp_path / "spool")
    store = open_store(address)
    try:
        fleet = Fleet(add_catalog(store, 5, versions=1), seed=3, now=AT)
        for host in ("sat01", "storeonly"):
            fleet.add_scan(spool, host, AT - datetime.timedelta(hours=3), 1, results={})
    finally:
        store.close()
    return address, spool


def user_inventory():
    """An earlier inventory source: groups and hosts carrying windows the way group and host variables do."""
    inventory = InventoryData()
    for group, variables in (("site", {"patchwave_maintenance_windows_site": [SATURDAY]}),
                             ("sql", {"patchwave_maintenance_windows_sql": [SUNDAY_UPDATES]}),
                             ("plain", {"ansible_user": "admin"})):
        inventory.add_group(group)
        for key, value in variables.items():
            inventory.set_variable(group, key, value)
    for host, groups, variables in (
            ("free", ["plain"], {}),
            ("sat01", ["site"], {}),
            ("sql01", ["site", "sql"], {}),
            ("override", ["site"], {"patchwave_maintenance_windows_site": []}),
            ("berlin", [], {"patchwave_maintenance_windows": [LOCAL], "patchwave_host_timezone": "Europe/Berlin"}),
            ("no-zone", [], {"patchwave_maintenance_windows": [LOCAL]}),
            ("bad", ["plain"], {"patchwave_maintenance_windows": [dict(SATURDAY, duration_minutes=2)]}),
            ("bad-zone", [], {"patchwave_maintenance_windows": [LOCAL], "patchwave_host_timezone": "Mars/Base"})):
        inventory.add_host(host)
        for group in groups:
            inventory.add_child(group, host)
        for key, value in variables.items():
            inventory.set_variable(host, key, value)
    return inventory


def test_in_window_group(store):
    address, spool = store
    run = Run(options(address, spool), inventory=user_inventory())
    assert run.members("patchwave_in_window") == [
        "berlin",     # local 23:00 in Berlin is 22:00 UTC: open
        "free",       # no windows: always inside
        "override",   # the host's own (empty) variable replaces the group's of the same name
        "sat01",      # the group's Saturday window
        "storeonly",  # known only to the store: no windows
    ]
    # sql01 has the Saturday window too, but a software-updates window exists: only that one counts;
    # no-zone's local window is taken as UTC (23:00 UTC: not yet open)
    assert sorted(run.inventory.hosts) == ["bad", "bad-zone", "berlin", "free", "no-zone", "override", "sat01",
                                           "sql01", "storeonly"]
    assert len(run.warnings) == 2
    assert "host 'bad': window 'sat-night': duration_minutes: 2 is out of range" in run.warnings[0]
    assert "host 'bad-zone': patchwave_host_timezone: unknown time zone 'Mars/Base'" in run.warnings[1]
    assert all("left out of the group patchwave_in_window" in w for w in run.warnings)


@pytest.mark.parametrize("at, sql_inside", [
    (datetime.datetime(2026, 12, 5, 22, 30, tzinfo=datetime.timezone.utc), False),  # only the all window is open
    (datetime.datetime(2026, 12, 6, 3, 0, tzinfo=datetime.timezone.utc), True),     # the software-updates window
])
def test_the_group_respects_the_type_precedence(store, monkeypatch, at, sql_inside):
    monkeypatch.setattr(compliance, "utc_now", lambda: at)
    address, spool = store
    run = Run(options(address, spool, stale_after_days=0), inventory=user_inventory())
    members = run.members("patchwave_in_window")
    assert ("sql01" in members) is sql_inside
    assert ("sat01" in members) is not sql_inside  # sat01 has only the all window: it counts for it


def test_the_group_follows_the_prefix_and_exists_when_empty(store, monkeypatch):
    monkeypatch.setattr(compliance, "utc_now", lambda: datetime.datetime(2026, 12, 3, 12, tzinfo=datetime.timezone.utc))
    address, spool = store
    inventory = InventoryData()
    inventory.add_host("sat01")
    inventory.set_variable("sat01", "patchwave_maintenance_windows", [SATURDAY])
    run = Run(options(address, spool, group_prefix="pw_", add_store_hosts=False), inventory=inventory)
    assert run.members("pw_in_window") == []


def test_hosts_of_the_same_groups_are_computed_once(store, monkeypatch):
    address, spool = store
    calls = []
    real = compliance.parse_windows
    monkeypatch.setattr(compliance, "parse_windows", lambda raw: calls.append(raw) or real(raw))
    inventory = InventoryData()
    inventory.add_group("site")
    inventory.set_variable("site", "patchwave_maintenance_windows_site", [SATURDAY])
    for number in range(50):
        inventory.add_host("web%02d" % number, group="site")
    inventory.add_host("late", group="site")
    inventory.set_variable("late", "patchwave_maintenance_windows_late", [SUNDAY_UPDATES])
    run = Run(options(address, spool, add_store_hosts=False), inventory=inventory)
    assert run.members("patchwave_in_window") == ["web%02d" % n for n in range(50)]
    assert len(calls) == 2
