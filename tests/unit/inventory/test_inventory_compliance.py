"""The compliance inventory plugin, in process: groups and host variables against ``evaluate_store``,
names, working beside another inventory source, caching, errors.

The plugin's options are given the way the docker inventory tests do it (a dict behind
``get_option``); tests/integration/test_inventory_compliance_live.py runs the real
``ansible-inventory`` with inventory files, so the option definitions are covered there.
"""

import datetime
import os

import pytest
from ansible.errors import AnsibleError, AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.template import trust_as_template
from ansible_collections.patchwave.windows.plugins.inventory import compliance
from ansible_collections.patchwave.windows.plugins.module_utils._compliance import groups as groups_rule
from ansible_collections.patchwave.windows.plugins.module_utils._compliance import rules as c
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.reads import evaluate_store
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.update_sets import (
    all_updates,
    parse_update_sets,
)
from ansible_collections.patchwave.windows.plugins.module_utils._scan.spool import write_message
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store

from tests.compliance_data import NOW, Fleet, add_catalog, iso, scan_body

DEFAULTS = {
    "plugin": "patchwave.windows.compliance", "store": None, "spool": None, "stale_after_days": 7,
    "update_sets": [], "group_prefix": "patchwave_", "group_names": {}, "kb_groups": False,
    "severity_groups": False, "add_store_hosts": True,
    # constructed and inventory_cache
    "compose": {}, "groups": {}, "keyed_groups": [], "strict": False, "use_extra_vars": False,
    "leading_separator": True, "cache": False, "cache_plugin": "memory", "cache_timeout": 3600,
    "cache_connection": None, "cache_prefix": "ansible_inventory_",
}
SETS = [{"name": "critical", "severities": ["Critical"]}, {"name": "picked", "kbs": ["KB5000003", "5000050"]}]
STATE_KEYS = groups_rule.STATE_GROUPS


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch):
    monkeypatch.setattr(compliance, "utc_now", lambda: NOW)


@pytest.fixture
def populated(store_address, tmp_path):
    store = open_store(store_address)
    catalog = add_catalog(store, 120, versions=3, seed=1)
    fleet = Fleet(catalog, seed=2)
    spool = str(tmp_path / "spool")
    hosts, counts = fleet.generate(store, spool, 60)
    assert counts["ingested"] > 60
    yield store, store_address, spool, fleet, hosts
    store.close()


class Run:
    """One parse of the plugin with the given options, into a fresh (or given) InventoryData."""

    def __init__(self, options, inventory=None, path="/inv/fleet.compliance.yml", cache=True, cache_store=None):
        self.plugin = compliance.InventoryModule()
        self.plugin._options = dict(DEFAULTS, **options)
        # templates from an inventory file are trusted (the loader marks them); here they come from code
        self.plugin._options["compose"] = {k: trust_as_template(v) for k, v in self.plugin._options["compose"].items()}
        self.plugin._options["groups"] = {k: trust_as_template(v) for k, v in self.plugin._options["groups"].items()}
        self.plugin._options["keyed_groups"] = [dict(k, key=trust_as_template(k["key"]))
                                                for k in self.plugin._options["keyed_groups"]]
        self.plugin._read_config_data = lambda p: None
        self.plugin._load_name = compliance.InventoryModule.NAME
        if cache_store is not None:
            self.plugin._cache = cache_store
        self.warnings = []
        self.plugin.display = type("Display", (), {"warning": lambda _self, msg: self.warnings.append(msg),
                                                   "deprecated": lambda *a, **k: None,
                                                   "vvv": lambda *a, **k: None})()
        self.inventory = inventory or InventoryData()
        self.plugin.parse(self.inventory, DataLoader(), path, cache=cache)

    def members(self, group):
        return sorted(h.name for h in self.inventory.groups[group].get_hosts()) if group in self.inventory.groups else None

    def hostvars(self, host):
        return self.inventory.get_host(host).get_vars()


def options(address, spool, **extra):
    return dict({"store": address, "spool": spool}, **extra)


def expected_groups(evaluation, set_name, prefix="patchwave_", names=None):
    """The six state groups of one set, from evaluate_store's results and the pure membership rule."""
    names = names or {}
    result = evaluation.sets[set_name]
    base = prefix if set_name == "all" else "%s%s_" % (prefix, set_name)
    groups = {base + names.get(k, k): [] for k in STATE_KEYS}
    for host, status in evaluation.hosts.items():
        for key in groups_rule.state_group_keys(result.host_compliance[host], status, result.host_required.get(host, ())):
            groups[base + names.get(key, key)].append(host)
    return {g: sorted(h) for g, h in groups.items()}


def test_groups_match_the_bulk_evaluation_overall_and_per_set(populated):
    store, address, spool, _fleet, hosts = populated
    run = Run(options(address, spool, update_sets=SETS))
    evaluation = evaluate_store(store, [all_updates()] + parse_update_sets(SETS), now=NOW)
    assert sorted(run.inventory.hosts) == sorted(evaluation.hosts)
    for set_name in ("all", "critical", "picked"):
        for group, members in expected_groups(evaluation, set_name).items():
            assert run.members(group) == members, group
    # every state is represented in the generated fleet, so the comparison is not vacuous
    overall = expected_groups(evaluation, "all")
    for key in ("non_compliant", "unknown", "pending_reboot", "stale_scan"):
        assert overall["patchwave_" + key], key
    assert sum(len(overall["patchwave_" + k]) for k in c.COMPLIANCE) == len(evaluation.hosts)


def test_kb_and_severity_groups_hold_the_hosts_requiring_them(populated):
    store, address, spool, fleet, _hosts = populated
    run = Run(options(address, spool, kb_groups=True, severity_groups=True))
    evaluation = evaluate_store(store, [all_updates()], now=NOW)
    overall = evaluation.sets["all"]
    by_kb, by_severity = {}, {}
    for host, required in overall.host_required.items():
        for uid, _detail in required:
            by_kb.setdefault("patchwave_kb_" + overall.updates[uid]["kb"], set()).add(host)
            severity = (overall.updates[uid]["msrc_severity"] or "unspecified").lower()
            by_severity.setdefault("patchwave_severity_" + severity, set()).add(host)
    assert len(by_kb) > 20 and len(by_severity) == 5
    for group, members in list(by_kb.items()) + list(by_severity.items()):
        assert run.members(group) == sorted(members), group
    made = [g for g in run.inventory.groups if g.startswith(("patchwave_kb_", "patchwave_severity_"))]
    assert sorted(made) == sorted(list(by_kb) + list(by_severity))
    # off by default
    plain = Run(options(address, spool))
    assert not [g for g in plain.inventory.groups if g.startswith(("patchwave_kb_", "patchwave_severity_"))]


def test_host_variables(populated):
    store, address, spool, fleet, _hosts = populated
    run = Run(options(address, spool, update_sets=SETS))
    evaluation = evaluate_store(store, [all_updates()] + parse_update_sets(SETS), now=NOW)
    overall = evaluation.sets["all"]
    seen = set()
    for host, status in evaluation.hosts.items():
        got = run.hostvars(host)
        seen.add(status.status)
        assert got["patchwave_compliance"] == overall.host_compliance[host]
        assert got["patchwave_counts"] == overall.host_counts[host]
        assert got["patchwave_missing_kbs"] == sorted({overall.updates[u]["kb"] for u, _d in overall.host_required.get(host, ())})
        assert got["patchwave_set_compliance"] == {"critical": evaluation.sets["critical"].host_compliance[host],
                                                   "picked": evaluation.sets["picked"].host_compliance[host]}
        last = got["patchwave_last_scan"]
        assert last["status"] == status.status
        assert last["time"] == status.scan.finished
        assert last["mode"] == status.scan.mode == "online"
        assert last["catalog_version"] == status.scan.catalog_version
        assert last["error"] == (None if status.scan.succeeded else status.scan.error)
        assert last["last_success"] == (status.last_good.finished if status.last_good else None)
        reboot = status.usable and status.scan.reboot_pending
        assert got["patchwave_pending_reboot"] == bool(
            reboot or any(d == c.PENDING_REBOOT for _u, d in overall.host_required.get(host, ())))
        assert got["patchwave_compliance_loaded"] is True
        assert {k for k in got if k.startswith("patchwave_")} == {
            "patchwave_compliance_loaded", "patchwave_compliance", "patchwave_counts", "patchwave_missing_kbs", "patchwave_last_scan",
            "patchwave_pending_reboot", "patchwave_set_compliance", "patchwave_last_attempt", "patchwave_enforcement"}
        assert got["patchwave_enforcement"] == {}  # the generated fleet installed nothing
    assert {c.USABLE, c.STALE, c.SCAN_FAILED} <= seen
    # no named sets: no per-set variable
    assert "patchwave_set_compliance" not in Run(options(address, spool)).hostvars(sorted(evaluation.hosts)[0])


def test_a_scan_with_a_pending_restart_puts_the_host_in_pending_reboot(populated, tmp_path):
    _store, address, spool, fleet, _hosts = populated
    body = scan_body({}, iso(NOW - datetime.timedelta(hours=1)), fleet.catalog, reboot_pending=True)
    write_message(spool, "rebooter", "scan", body, catalog_version=3)
    run = Run(options(address, spool))  # the plugin ingests the spool first
    assert "rebooter" in run.members("patchwave_pending_reboot")
    assert run.hostvars("rebooter")["patchwave_pending_reboot"] is True
    assert run.hostvars("rebooter")["patchwave_missing_kbs"] == []


def test_prefix_and_renamed_state_groups(populated):
    store, address, spool, _fleet, _hosts = populated
    names = {"non_compliant": "needs_updates", "never_scanned": "new"}
    run = Run(options(address, spool, group_prefix="pw-", group_names=names, update_sets=SETS[:1],
                      kb_groups=True))
    evaluation = evaluate_store(store, [all_updates()] + parse_update_sets(SETS[:1]), now=NOW)
    for set_name in ("all", "critical"):
        for group, members in expected_groups(evaluation, set_name, prefix="pw_", names=names).items():
            assert run.members(group) == members, group
    assert "pw_needs_updates" in run.inventory.groups and "pw_critical_needs_updates" in run.inventory.groups
    assert not [g for g in run.inventory.groups if g.startswith("patchwave_") or "-" in g]
    overall = evaluation.sets["all"]
    kbs = {overall.updates[u]["kb"] for req in overall.host_required.values() for u, _d in req}
    assert sorted(g for g in run.inventory.groups if g.startswith("pw_kb_")) == sorted("pw_kb_" + kb for kb in kbs)
    bare = Run(options(address, spool, group_prefix=""))
    assert {"compliant", "non_compliant", "unknown", "pending_reboot", "stale_scan", "never_scanned"} <= set(
        bare.inventory.groups)


@pytest.mark.parametrize("name,expected", [
    ("patchwave_kb_5031364", "patchwave_kb_5031364"),
    ("pw-critical.updates", "pw_critical_updates"),
    ("5031364", "_5031364"),
    ("", "_"),
    ("näme with space", "n_me_with_space"),
])
def test_group_names_are_sanitised(name, expected):
    assert compliance.safe_group_name(name) == expected


@pytest.mark.parametrize("extra,message", [
    ({"group_names": {"compliantish": "x"}}, "group_names: unknown key(s) compliantish"),
    ({"group_names": {"compliant": "same", "unknown": "same"}}, "share one group name"),
    ({"group_names": {"compliant": ""}}, "compliant must be a non-empty name"),
    ({"group_prefix": "", "group_names": {"unknown": "all"}}, "'all' is reserved"),
    ({"stale_after_days": -1}, "stale_after_days must be 0 or more"),
])
def test_bad_names_and_values_are_refused(populated, extra, message):
    _store, address, spool, _fleet, _hosts = populated
    with pytest.raises(AnsibleParserError) as info:
        Run(options(address, spool, **extra))
    assert message in str(info.value)


def test_beside_another_inventory_hosts_already_there_are_grouped(populated):
    store, address, spool, _fleet, hosts = populated
    scanned = sorted(h for h in hosts if h in evaluate_store(store, [all_updates()], now=NOW).hosts)
    mine = [scanned[0], scanned[1], "linux-box"]

    def user_inventory():
        inventory = InventoryData()
        inventory.add_group("webservers")
        for host in mine:
            inventory.add_host(host, group="webservers")
        inventory.set_variable(scanned[0], "ansible_host", "10.0.0.1")
        return inventory

    only = Run(options(address, spool, add_store_hosts=False), inventory=user_inventory())
    assert sorted(only.inventory.hosts) == sorted(mine)
    assert only.members("patchwave_never_scanned") == ["linux-box"]
    assert only.hostvars("linux-box")["patchwave_last_scan"]["status"] == c.NEVER_SCANNED
    assert only.hostvars("linux-box")["patchwave_compliance"] == c.UNKNOWN
    assert only.hostvars(scanned[0])["ansible_host"] == "10.0.0.1"  # the user's variables stay
    assert only.members("webservers") == sorted(mine)
    grouped = set()
    for key in STATE_KEYS:
        grouped.update(only.members("patchwave_" + key))
    assert grouped == set(mine)

    both = Run(options(address, spool), inventory=user_inventory())
    assert set(both.inventory.hosts) == set(scanned) | {"linux-box"}
    assert "linux-box" in both.members("patchwave_never_scanned")
    assert both.members("webservers") == sorted(mine)


def test_every_host_the_plugin_loaded_says_so(populated):
    """patchwave_compliance_loaded: true on every host it loaded (scanned, store-only, never scanned),
    and on no host it did not load, so a play can tell a compliance group that is empty from an
    inventory that was not read."""
    _store, address, spool, _fleet, hosts = populated
    inventory = InventoryData()
    inventory.add_host("linux-box")
    inventory.add_host("left-out")
    run = Run(options(address, spool), inventory=inventory)
    loaded = {h for h in run.inventory.hosts if run.hostvars(h).get("patchwave_compliance_loaded") is True}
    assert loaded == set(run.inventory.hosts)
    assert {"linux-box", "left-out"} | (set(hosts) & loaded) <= loaded and len(loaded) > 10

    only = Run(options(address, spool, add_store_hosts=False), inventory=InventoryData())
    assert list(only.inventory.hosts) == []  # nothing loaded, nothing claims to be


def test_a_never_scanned_host_is_unknown_for_an_empty_set_and_the_set_is_warned_about(populated):
    store, address, spool, _fleet, _hosts = populated
    inventory = InventoryData()
    inventory.add_host("nobody")
    run = Run(options(address, spool, update_sets=[{"name": "typo", "kbs": ["KB9999999"]}]), inventory=inventory)
    assert run.members("patchwave_typo_compliant") is not None
    assert "nobody" not in run.members("patchwave_typo_compliant")
    assert "nobody" in run.members("patchwave_typo_unknown") and "nobody" in run.members("patchwave_typo_never_scanned")
    assert "nobody" not in run.members("patchwave_compliant")
    assert run.hostvars("nobody")["patchwave_set_compliance"] == {"typo": c.UNKNOWN}
    # hosts with a usable scan are the only compliant ones against the empty set
    evaluation = evaluate_store(store, [all_updates()], hosts=list(run.inventory.hosts), now=NOW)
    usable = sorted(h for h, s in evaluation.hosts.items() if s.usable)
    assert usable and run.members("patchwave_typo_compliant") == usable
    assert [w for w in run.warnings if "update set 'typo' selects no update" in w] == run.warnings
    assert len(run.warnings) == 1 and "/inv/fleet.compliance.yml" in run.warnings[0]


def test_a_store_without_a_catalog_makes_every_host_unknown_with_a_warning(store_address, tmp_path):
    store = open_store(store_address)
    spool = str(tmp_path / "spool")
    write_message(spool, "scanned", "scan", scan_body({}, iso(NOW), {}), catalog_version=None, created=iso(NOW))
    store.close()
    run = Run(options(store_address, spool))
    assert run.members("patchwave_unknown") == ["scanned"]
    assert run.members("patchwave_compliant") == []
    assert run.hostvars("scanned")["patchwave_last_scan"]["status"] == c.USABLE
    assert len(run.warnings) == 1 and "no catalog version" in run.warnings[0]


def test_bad_update_set_names_the_set_and_the_file(populated):
    _store, address, spool, _fleet, _hosts = populated
    with pytest.raises(AnsibleParserError) as info:
        Run(options(address, spool, update_sets=[{"name": "patch_tuesday", "severities": ["Huge"]}]),
            path="/etc/ansible/fleet.compliance.yml")
    assert "update set 'patch_tuesday'" in str(info.value) and "/etc/ansible/fleet.compliance.yml" in str(info.value)
    with pytest.raises(AnsibleParserError) as info:
        Run(options(address, spool, update_sets=[{"name": "typo", "products": ["Windows Server 2091"]}]))
    assert "update set 'typo'" in str(info.value) and "Windows Server 2091" in str(info.value)


def test_store_problems_name_the_store(tmp_path):
    missing = str(tmp_path / "nowhere" / "patchwave.db")
    with pytest.raises(AnsibleParserError) as info:
        Run(options(missing, str(tmp_path / "spool")))
    assert missing in str(info.value) and "does not exist" in str(info.value)
    assert "patchwave.windows.catalog_sync" in str(info.value)  # says how a store is made
    assert not os.path.exists(os.path.dirname(missing))  # an inventory never creates a store, nor its folder
    dsn = "postgresql://patchwave:s3cret-pw@127.0.0.1:1/patchwave?connect_timeout=2"
    with pytest.raises(AnsibleParserError) as info:
        Run(options(dsn, str(tmp_path / "spool")))
    text = str(info.value)
    assert "s3cret-pw" not in text and "postgresql://patchwave@127.0.0.1:1/patchwave" in text


def test_a_spool_that_cannot_be_ingested_warns_and_the_store_is_read(populated, monkeypatch):
    _store, address, spool, _fleet, _hosts = populated

    def refuse(store, folder):
        raise PermissionError(13, "Permission denied", folder)

    monkeypatch.setattr(compliance, "ingest", refuse)
    run = Run(options(address, spool))
    assert len(run.warnings) == 1 and spool in run.warnings[0] and "Permission denied" in run.warnings[0]
    # the store is read as it is: the groups are those of the evaluation without the spool
    evaluation = evaluate_store(_store, [all_updates()], now=NOW)
    for group, members in expected_groups(evaluation, "all").items():
        assert run.members(group) == members, group
    assert run.members("patchwave_non_compliant")


def test_cache_holds_the_raw_rows_and_a_hit_does_not_open_the_store(populated, monkeypatch):
    store, address, spool, _fleet, _hosts = populated
    cache = {}
    first = Run(options(address, spool, cache=True, update_sets=SETS[:1]), cache_store=cache)
    assert len(cache) == 1
    entry = list(cache.values())[0]
    assert set(entry) == {"fingerprint", "rows"} and "latest" in entry["rows"]  # rows, not groups

    def no_store(*args, **kwargs):
        raise AssertionError("the store was opened on a cache hit")

    monkeypatch.setattr(compliance, "open_store", no_store)
    second = Run(options(address, spool, cache=True, update_sets=SETS[:1], kb_groups=True), cache_store=cache)
    for group in first.inventory.groups:
        assert second.members(group) == first.members(group), group
    assert [g for g in second.inventory.groups if g.startswith("patchwave_kb_")]  # built again from the rows
    # --flush-cache (cache=False) reads the store again and rewrites the entry
    with pytest.raises(AnsibleParserError, match="the store was opened"):
        Run(options(address, spool, cache=True, update_sets=SETS[:1]), cache_store=cache, cache=False)
    # other update sets do not match the cached rows: the store is read
    with pytest.raises(AnsibleParserError, match="the store was opened"):
        Run(options(address, spool, cache=True, update_sets=SETS[1:]), cache_store=cache)


def test_staleness_is_measured_at_the_time_of_the_run_even_from_the_cache(populated, monkeypatch):
    _store, address, spool, _fleet, _hosts = populated
    cache = {}
    before = Run(options(address, spool, cache=True), cache_store=cache)
    monkeypatch.setattr(compliance, "utc_now", lambda: NOW + datetime.timedelta(days=30))
    after = Run(options(address, spool, cache=True), cache_store=cache)
    assert len(after.members("patchwave_stale_scan")) > len(before.members("patchwave_stale_scan"))
    assert after.members("patchwave_stale_scan") == sorted(
        h for h in after.inventory.hosts if after.hostvars(h)["patchwave_last_scan"]["status"] == c.STALE)


def test_constructed_compose_groups_and_keyed_groups(populated):
    store, address, spool, _fleet, _hosts = populated
    run = Run(options(address, spool,
                      compose={"missing_count": "patchwave_counts.required", "scan_status": "patchwave_last_scan.status"},
                      groups={"many_missing": "missing_count > 20"},
                      keyed_groups=[{"key": "scan_status", "prefix": "scan"}]))
    evaluation = evaluate_store(store, [all_updates()], now=NOW)
    counts = evaluation.sets["all"].host_counts
    assert all(run.hostvars(h)["missing_count"] == counts[h]["required"] for h in evaluation.hosts)
    assert run.members("many_missing") == sorted(h for h in evaluation.hosts if counts[h]["required"] > 20)
    assert run.members("scan_stale") == sorted(h for h, s in evaluation.hosts.items() if s.status == c.STALE)
    assert run.members("scan_usable") == sorted(h for h, s in evaluation.hosts.items() if s.usable)
    # strict: an undefined variable is an error; not strict: skipped
    Run(options(address, spool, compose={"x": "no_such_var.y"}))
    with pytest.raises(AnsibleError, match="no_such_var"):
        Run(options(address, spool, compose={"x": "no_such_var.y"}, strict=True))


def test_without_constructed_options_no_template_is_rendered(populated, monkeypatch):
    _store, address, spool, _fleet, _hosts = populated

    def refuse(*args, **kwargs):
        raise AssertionError("constructed helper called without compose/groups/keyed_groups")

    for helper in ("_set_composite_vars", "_add_host_to_composed_groups", "_add_host_to_keyed_groups"):
        monkeypatch.setattr(compliance.InventoryModule, helper, refuse)
    Run(options(address, spool))


def test_text_from_the_store_is_never_templated(populated):
    _store, address, spool, fleet, _hosts = populated
    write_message(spool, "evil", "scan_failure", {"error": "{{ 7*7 }}", "hresult": None, "server_selection": "default"},
                  catalog_version=3)
    run = Run(options(address, spool, compose={"scan_error": "patchwave_last_scan.error"}))
    assert run.hostvars("evil")["patchwave_last_scan"]["error"] == "{{ 7*7 }}"
    assert run.hostvars("evil")["scan_error"] == "{{ 7*7 }}"
    assert run.members("patchwave_unknown").count("evil") == 1


def test_enforcement_states_are_host_variables_never_templated(populated):
    _store, address, spool, fleet, hosts = populated
    from ansible_collections.patchwave.windows.plugins.module_utils._install.enforcement import write_enforcement
    uid = sorted(fleet.catalog)[0]
    write_enforcement(spool, hosts[7], "{{ 7*7 }}", uid, "installing", created=iso(NOW - datetime.timedelta(minutes=9)))
    write_enforcement(spool, hosts[7], "{{ 7*7 }}", uid, "failed", hresult=-2145124329,
                      created=iso(NOW - datetime.timedelta(minutes=8)))
    write_enforcement(spool, hosts[7], "{{ 7*7 }}", None, "failed", created=iso(NOW - datetime.timedelta(minutes=7)))
    write_enforcement(spool, hosts[7], None, uid, "installed", created=iso(NOW - datetime.timedelta(minutes=6)))  # ad hoc
    run = Run(options(address, spool, compose={"wave": "patchwave_enforcement['{{ 7*7 }}'].state"}))
    assert run.hostvars(hosts[7])["patchwave_enforcement"] == {
        "{{ 7*7 }}": {"state": "failed", "time": iso(NOW - datetime.timedelta(minutes=7)), "updates": {uid: "failed"}}}
    assert run.hostvars(hosts[7])["wave"] == "failed"
    assert run.hostvars(hosts[8])["patchwave_enforcement"] == {}


@pytest.mark.parametrize("name,accepted", [
    ("fleet.compliance.yml", True),
    ("compliance.yaml", True),
    ("prod-compliance.yml", True),
    ("compliance.yml.bak", False),
    ("fleet.yml", False),
    ("compliance.json", False),
])
def test_verify_file_accepts_only_compliance_yaml(tmp_path, name, accepted):
    path = tmp_path / name
    path.write_text("plugin: patchwave.windows.compliance\n")
    assert compliance.InventoryModule().verify_file(str(path)) is accepted
    assert compliance.InventoryModule().verify_file(str(tmp_path / "missing.compliance.yml")) is False
