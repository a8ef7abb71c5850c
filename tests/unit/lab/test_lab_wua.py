"""The lab's WUA emulation (tests/lab/wua.py, hosts.py, profiles.py) without sockets: applicability
rules, fleet profiles, the start/poll/cancel rounds of ``patchwave.windows.scan`` against the
contract, faults, and determinism. Catalogs are generated (tests.catalog_gen) and synced into a
store by the collection's own sync, as users do."""

import os
import sqlite3
import sys
import threading
import time
import tracemalloc

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from ansible_collections.patchwave.windows.plugins.module_utils._catalog.query import describe_updates  # noqa: E402
from ansible_collections.patchwave.windows.plugins.module_utils._scan.contract import REBOOT_SOURCES, validate_result  # noqa: E402
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store  # noqa: E402

from tests.catalog_gen.store import generated_store  # noqa: E402
from tests.lab import Fleet, HostModel, ModuleContext  # noqa: E402
from tests.lab.hosts import (  # noqa: E402
    PLATFORMS,
    PRODUCT_DEFENDER,
    PRODUCT_WS2022,
    FileSystemView,
    WuaHost,
    attach,
    wua_host,
)
from tests.lab.profiles import FleetProfile  # noqa: E402
from tests.lab.wua import (  # noqa: E402
    CatalogCache,
    CatalogSnapshot,
    UpdateRecord,
    WuaBackend,
    _parse_rule,
    evaluate_rule,
    is_optional,
    patch_through,
    search_updates,
)

SCAN = "patchwave.windows.scan"
T0 = 1_800_000_000.0


def build_store(folder, updates=400, fmt="offline_scan", seed=0):
    """Generate a catalog, sync it into a new store; returns (store path, manifest)."""
    path, _source, manifest = generated_store(folder, updates=updates, seed=seed, fmt=fmt,
                                              source_name="catalog.json" if fmt == "catalog_file" else "catalog.cab")
    return path, manifest


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    path, manifest = build_store(str(tmp_path_factory.mktemp("wua-store")))
    return {"store": path, "manifest": manifest, "cache": CatalogCache()}


@pytest.fixture(scope="module")
def snapshot(catalog):
    return catalog["cache"].get(catalog["store"])


def context(model, now=T0):
    return ModuleContext(host=model, user="Administrator", now=now)


def make_backend(catalog, platform="ws2022-x64", time_scale=1.0, search_seconds=2.0, **state):
    model = HostModel(name="win001", index=1, boot_time=T0 - 86400)
    attach(model, WuaHost(PLATFORMS[platform], search_seconds=search_seconds, **state))
    return model, WuaBackend(model, store=catalog["store"], time_scale=time_scale, cache=catalog["cache"])


def run(backend, now=T0, scan_id=None, become=None, check_mode=False, **args):
    """One module run (``scan_id`` goes into ``_operation_options``); every result is checked against the contract."""
    if scan_id is not None:
        args.setdefault("_operation_options", {})["scan_id"] = scan_id
    ctx = context(backend.host, now)
    ctx.become, ctx.check_mode = become, check_mode
    result = backend.run_module(SCAN, args, ctx)
    operation = result.get("operation") or args.get("_operation", "start")
    if operation in ("start", "poll", "cancel"):
        assert validate_result(operation, result) == [], result
    return result


def scan_now(backend, now=T0, **start_args):
    """start, then poll once the search is over; returns the scan (SCAN_SCHEMA)."""
    scan_id = run(backend, now, _operation="start", **start_args)["scan_id"]
    done = run(backend, now + 10 ** 6, _operation="poll", scan_id=scan_id)
    assert done["state"] == "done", done
    return done["scan"]


# Applicability rules ------------------------------------------------------------------------------

NS = ('xmlns:bar="http://schemas.microsoft.com/msus/2002/12/BaseApplicabilityRules" '
      'xmlns:lar="http://schemas.microsoft.com/msus/2002/12/LogicalApplicabilityRules"')
WS2022 = ('<lar:Or %s><bar:WindowsVersion Comparison="EqualTo" MajorVersion="10" MinorVersion="0" BuildNumber="20348" '
          'ProductType="2"/><bar:WindowsVersion Comparison="EqualTo" MajorVersion="10" MinorVersion="0" '
          'BuildNumber="20348" ProductType="3"/></lar:Or>' % NS)
WS2022_SHORT = ('<Or><b.WindowsVersion Comparison="EqualTo" MajorVersion="10" MinorVersion="0" BuildNumber="20348" '
                'ProductType="2"/><b.WindowsVersion Comparison="EqualTo" MajorVersion="10" MinorVersion="0" '
                'BuildNumber="20348" ProductType="3"/></Or>')
NETFX481 = ('<b.RegDword Key="HKEY_LOCAL_MACHINE" Subkey="SOFTWARE\\Microsoft\\NET Framework Setup\\NDP\\v4\\Full" '
            'Value="Release" Comparison="GreaterThanOrEqualTo" Data="533320"/>')


@pytest.mark.parametrize("rule, platform, expected", [
    ('<b.Processor Architecture="9"/>', "ws2022-x64", True),
    ('<b.Processor Architecture="12"/>', "ws2022-x64", False),
    ('<b.Processor Architecture="12"/>', "win11-24h2-arm64", True),
    ('<bar:Processor %s Architecture="9"/>' % NS, "win11-24h2-arm64", False),
    (WS2022, "ws2022-x64", True),
    (WS2022, "ws2019-x64", False),
    (WS2022_SHORT, "ws2022-x64", True),
    (WS2022_SHORT, "win11-24h2-x64", False),
    ('<b.WindowsVersion Comparison="EqualTo" MajorVersion="10" MinorVersion="0" BuildNumber="26100" ProductType="1"/>',
     "ws2025-x64", False),  # same build, server product type
    ('<b.WindowsVersion Comparison="EqualTo" MajorVersion="10" MinorVersion="0" BuildNumber="26100" ProductType="1"/>',
     "win11-24h2-x64", True),
    ('<b.WindowsVersion Comparison="GreaterThanOrEqualTo" MajorVersion="10" MinorVersion="0" BuildNumber="22000" '
     'ProductType="1"/>', "win11-23h2-x64", True),
    ('<b.WindowsVersion Comparison="LessThan" MajorVersion="10" MinorVersion="0" BuildNumber="22000" ProductType="1"/>',
     "win11-23h2-x64", False),
    ('<b.WindowsVersion Comparison="EqualTo" MajorVersion="10" MinorVersion="0"/>', "ws2016-x64", True),
    (NETFX481, "ws2022-x64", True),
    (NETFX481, "ws2019-x64", False),  # .NET 4.8 only
    ('<b.RegKeyExists Key="HKEY_LOCAL_MACHINE" Subkey="SOFTWARE\\Microsoft\\Windows Defender"/>', "ws2016-x64", True),
    ('<b.RegKeyExists Key="HKEY_LOCAL_MACHINE" Subkey="SOFTWARE\\Microsoft\\Microsoft Antimalware"/>', "ws2016-x64",
     False),
    ('<And><b.Processor Architecture="9"/>%s</And>' % NETFX481, "ws2022-x64", True),
    ('<And><b.Processor Architecture="9"/>%s</And>' % NETFX481, "ws2016-x64", False),
    ('<Not><b.Processor Architecture="9"/></Not>', "ws2016-x64", False),
    ('<True/>', "ws2016-x64", True),
    ('<b.FileVersion Path="ntoskrnl.exe" Comparison="GreaterThan" Version="10.0"/>', "ws2016-x64", False),
    (None, "ws2016-x64", False),
    ("<not xml", "ws2016-x64", False),
])
def test_evaluate_rule(rule, platform, expected):
    assert evaluate_rule(_parse_rule(rule), WuaHost(PLATFORMS[platform])) is expected


# A hand-made catalog for the search rules: every case names its updates by short keys.
DET_X64, DET_ARM, DET_WS2022 = "det-x64", "det-arm64", "det-ws2022"
RULES = {DET_X64: '<b.Processor Architecture="9"/>', DET_ARM: '<b.Processor Architecture="12"/>',
         DET_WS2022: WS2022_SHORT}
OTHER_PRODUCT = "00000000-0000-0000-0000-00000000aaaa"


def tiny_snapshot(specs):
    """``specs``: {key: dict(date, supersedes, prereqs, products, title)} -> CatalogSnapshot."""
    kinds = {d: "detectoid" for d in RULES}
    kinds.update({PRODUCT_WS2022: "category", OTHER_PRODUCT: "category"})
    records = {}
    for key, spec in specs.items():
        kinds[key] = "software"
        title = spec.get("title", key)
        records[key] = UpdateRecord(
            update_id=key, revision_number=200, title=title, kbs=(), msrc_severity=None, reboot_behavior=0,
            max_download_size=0, release_date=spec.get("date", "2026-01-10T00:00:00Z"), categories=(),
            products=frozenset(spec.get("products", (PRODUCT_WS2022,))),
            prerequisites=tuple(tuple(c) for c in spec.get("prereqs", ((DET_WS2022,), (DET_X64,)))),
            supersedes=tuple(spec.get("supersedes", ())), optional=is_optional(title))
    records = dict(sorted(records.items(), key=lambda item: item[1].release_date, reverse=True))
    supersedes = {k: r.supersedes for k, r in records.items() if r.supersedes}
    supersedes.update({"cu0": ("cu-absent",)} if "cu0" in records else {})
    return CatalogSnapshot("/nowhere", 1, records, kinds, {PRODUCT_WS2022: "Product", OTHER_PRODUCT: "Product"},
                           {k: _parse_rule(v) for k, v in RULES.items()}, supersedes)


CHAIN = {"cu1": {"date": "2026-01-13"}, "cu2": {"date": "2026-02-10", "supersedes": ["cu1"]},
         "cu3": {"date": "2026-03-10", "supersedes": ["cu2"]}}


@pytest.mark.parametrize("case, specs, installed, hidden, as_of, expect_installed, expect_needed", [
    ("nothing installed: only the newest of a chain", CHAIN, [], [], None, [], ["cu3"]),
    ("superseded by an installed update: left out", CHAIN, ["cu3"], [], None, ["cu3"], []),
    ("transitively superseded by installed", CHAIN, ["cu3"], [], None, ["cu3"], []),
    ("older installed, newer needed", CHAIN, ["cu1"], [], None, ["cu1"], ["cu3"]),
    ("installed is reported even when superseded", CHAIN, ["cu1", "cu3"], [], None, ["cu3", "cu1"], []),
    ("superseded only by a hidden update shows up", CHAIN, [], ["cu3"], None, [], ["cu3", "cu2"]),
    ("hidden updates are reported, flagged", CHAIN, [], ["cu2"], None, [], ["cu3"]),
    ("catalog as of a date", CHAIN, [], [], "2026-02-28", [], ["cu2"]),
    ("other product: not applicable",
     {"a": {"products": [OTHER_PRODUCT]}, "b": {}}, [], [], None, [], ["b"]),
    ("false detectoid prerequisite: not applicable",
     {"arm": {"prereqs": [[DET_WS2022], [DET_ARM]]}, "x64": {}}, [], [], None, [], ["x64"]),
    ("a clause is an OR: one true id is enough",
     {"either": {"prereqs": [[DET_ARM, DET_X64]]}}, [], [], None, [], ["either"]),
    ("unknown prerequisite id: not applicable",
     {"dangling": {"prereqs": [["not-in-the-store"]]}}, [], [], None, [], []),
    ("update prerequisite: blocked until installed",
     {"ssu": {"date": "2026-03-09"}, "cu": {"date": "2026-03-10", "prereqs": [[DET_X64], ["ssu"]]}},
     [], [], None, [], ["ssu"]),
    ("update prerequisite installed: offered",
     {"ssu": {"date": "2026-03-09"}, "cu": {"date": "2026-03-10", "prereqs": [[DET_X64], ["ssu"]]}},
     ["ssu"], [], None, ["ssu"], ["cu"]),
    ("category prerequisite: the host's product",
     {"c": {"prereqs": [[PRODUCT_WS2022]]}, "d": {"prereqs": [[OTHER_PRODUCT]]}}, [], [], None, [], ["c"]),
    ("an optional preview does not hide the update it supersedes",
     {"cu": {"date": "2026-03-10"}, "pv": {"date": "2026-03-24", "supersedes": ["cu"], "title": "Update Preview"}},
     [], [], None, [], ["pv", "cu"]),
    ("an installed preview supersedes like any update",
     {"cu": {"date": "2026-03-10"}, "pv": {"date": "2026-03-24", "supersedes": ["cu"], "title": "Update Preview"}},
     ["pv"], [], None, ["pv"], []),
    ("installed ids unknown to the catalog are ignored", CHAIN, ["not-in-the-store"], [], None, [], ["cu3"]),
    ("supersedence through ids missing from the catalog",
     {"cu0": {"date": "2026-01-01"}, "cu9": {"date": "2026-02-01", "supersedes": ["cu-absent"]}},
     [], [], None, [], ["cu9", "cu0"]),
])
def test_search_rules(case, specs, installed, hidden, as_of, expect_installed, expect_needed):
    snapshot = tiny_snapshot(specs)
    host = WuaHost(PLATFORMS["ws2022-x64"])
    outcome = search_updates(snapshot, host, frozenset(installed), frozenset(hidden), as_of)
    assert [r.update_id for r in outcome.installed] == expect_installed, case
    assert [r.update_id for r in outcome.needed] == expect_needed, case


def test_patch_through_follows_prerequisites_round_after_round():
    snapshot = tiny_snapshot({"ssu": {"date": "2026-03-09"}, "pv": {"date": "2026-03-24", "title": "Preview"},
                              "cu": {"date": "2026-03-10", "prereqs": [[DET_X64], ["ssu"]]}})
    host = WuaHost(PLATFORMS["ws2022-x64"])
    assert patch_through(snapshot, host) == {"ssu", "cu"}
    assert patch_through(snapshot, host, include_optional=True) == {"ssu", "cu", "pv"}
    assert patch_through(snapshot, host, as_of="2026-03-10") == {"ssu"}
    assert host.installed == set()  # the host itself is not changed


def variant_hosts(manifest):
    """(platform key, latest CU entry) for every generated variant the lab has a platform for."""
    return [(key, entry) for key, entry in manifest["latest_cu_by_variant"].items() if key in PLATFORMS]


def test_catalog_applicability_per_platform(catalog, snapshot):
    manifest = catalog["manifest"]
    latest = {key: entry["update_id"] for key, entry in variant_hosts(manifest)}
    assert {"ws2016-x64", "ws2019-x64", "ws2022-x64", "win11-24h2-x64", "win11-24h2-arm64"} <= set(latest)
    for key, cu in latest.items():
        platform = PLATFORMS[key]
        host = WuaHost(platform)
        outcome = snapshot.search(host)
        needed = {r.update_id for r in outcome.needed}
        assert not outcome.installed
        assert all(r.products & host.products for r in outcome.needed)
        others = set(latest.values()) - {cu}
        assert not needed & others, key  # never another variant's CU (architecture, build, product type)
        for record in outcome.needed:
            assert ("ARM64" in record.title) == (platform.architecture == "arm64") or ".NET" in record.title \
                or "Defender" in record.title, record.title
        patched = patch_through(snapshot, host)
        if snapshot.records[cu].prerequisites and any(
                snapshot.kinds.get(p) == "software" for c in snapshot.records[cu].prerequisites for p in c):
            assert cu not in needed  # the CU waits for this month's servicing stack update
        else:
            assert cu in needed
        assert cu in patched
        after = snapshot.search(host, installed=patched)
        assert all(r.optional for r in after.needed), [r.title for r in after.needed]


def test_expired_updates_leave_and_the_cache_reloads(tmp_path):
    path, manifest = build_store(str(tmp_path), updates=300, fmt="catalog_file", seed=5)
    cache = CatalogCache()
    first = cache.get(path)
    assert cache.get(path) is first
    cu = manifest["latest_cu_by_variant"]["ws2022-x64"]["update_id"]
    host = WuaHost(PLATFORMS["ws2022-x64"])
    assert cu in {r.update_id for r in first.search(host).needed}
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO catalog_versions (version, created_at, source, format, source_path, source_sha256, "
                   "package_created, updates_added, updates_modified, updates_expired, updates_total) "
                   "SELECT version + 1, created_at, source, format, source_path, "
                   "source_sha256, package_created, 0, 0, 1, updates_total FROM catalog_versions")
        db.execute("UPDATE updates SET expired_version = 2 WHERE update_id = ?", (cu,))
    second = cache.get(path)
    assert second is not first and second.version == 2
    needed = {r.update_id for r in second.search(host).needed}
    assert cu not in needed
    previous = manifest["supersedence_chain"]["update_ids"][-2]  # the CU before it is offered again
    assert manifest["supersedence_chain"]["variant"] == "ws2022-x64" and previous in needed


def test_catalog_formats_give_the_same_answers(tmp_path):
    """The same generated catalog synced from a WSUS offline scan cab and from a catalog file."""
    cab = build_store(str(tmp_path / "cab"), updates=300, seed=3)[0]
    doc = build_store(str(tmp_path / "doc"), updates=300, fmt="catalog_file", seed=3)[0]
    cache = CatalogCache()
    for key in ("ws2019-x64", "win11-24h2-arm64"):
        host = WuaHost(PLATFORMS[key])
        found = [[r.update_id for r in cache.get(path).search(host).updates] for path in (cab, doc)]
        assert found[0] == found[1] and found[0]


# Host state and file system view ------------------------------------------------------------------

@pytest.mark.parametrize("path, expected", [
    ("C:\\Patchwave\\wsusscn2.cab", "local/wsusscn2.cab"),
    ("c:/patchwave/Scan/wsusscn2.cab", "local/Scan/wsusscn2.cab"),
    ("C:\\Patchwave", "local"),
    ("C:\\Patchwave\\cache\\x.cab", "cache/x.cab"),  # longest prefix wins
    ("\\\\FS01\\WSUS\\wsusscn2.cab", "share/wsusscn2.cab"),
    ("\\\\fs01\\wsus\\..\\..\\etc\\passwd", None),
    ("C:\\Patchwave\\..\\Windows\\win.ini", None),
    ("D:\\Patchwave\\wsusscn2.cab", None),
    ("C:\\PatchwaveOther\\x", None),
    ("", None),
])
def test_file_system_view_resolves(tmp_path, path, expected):
    view = FileSystemView({"C:\\Patchwave": tmp_path / "local", "C:\\Patchwave\\Cache": tmp_path / "cache",
                           "\\\\fs01\\wsus": tmp_path / "share"})
    resolved = view.resolve(path)
    assert resolved == (str(tmp_path / expected) if expected else None)


def test_file_system_view_refuses_relative_prefixes(tmp_path):
    with pytest.raises(ValueError, match="neither a drive path"):
        FileSystemView().mount("Patchwave", tmp_path)


def test_reboot_sources_and_facts_stay_in_step():
    model = HostModel(name="win001", index=1)
    state = attach(model, WuaHost(PLATFORMS["ws2019-x64"]))
    assert model.os_product == "Microsoft Windows Server 2019 Datacenter" and model.os_version == "10.0.17763.0"
    assert model.reboot_pending is False
    state.set_reboot_pending("component_based_servicing")
    assert model.reboot_pending is True and state.reboot_pending
    state.set_reboot_pending("component_based_servicing", False)
    assert model.reboot_pending is False
    with pytest.raises(ValueError, match="unknown reboot source"):
        state.set_reboot_pending("registry")
    with pytest.raises(ValueError, match="unknown reboot source"):
        WuaHost(PLATFORMS["ws2019-x64"], reboot_sources={"nope"})


def test_plain_host_models_get_a_default_platform():
    model = HostModel(name="win001", index=1, reboot_pending=True)
    state = wua_host(model)
    assert state.platform.key == "ws2022-x64" and state.installed == set()
    assert state.reboot_sources == {"windows_update"} and wua_host(model) is state
    with pytest.raises(ValueError, match="no WUA platform"):
        wua_host(HostModel(name="x", index=2, os_product="Microsoft Windows XP"))


# Fleet profiles -----------------------------------------------------------------------------------

def test_profile_variety(catalog):
    profile = FleetProfile(catalog["store"], seed=11, cache=catalog["cache"])
    counts = profile.describe(200)
    assert {"ws2016-x64", "ws2019-x64", "ws2022-x64", "win11-24h2-x64"} <= set(counts["platforms"])
    assert set(counts["profiles"]) == {"current", "behind", "never_patched"}
    assert all(n >= 20 for n in counts["profiles"].values()), counts
    for key in ("hidden", "downloaded", "reboot_pending", "never_scanned"):
        assert 3 <= counts[key] <= 100, (key, counts)
    snapshot = profile.snapshot
    behind = set()
    for index in range(1, 201):
        state = profile.host_state(index)
        outcome = snapshot.search(state)
        needed = [r for r in outcome.needed if not r.optional and r.update_id not in state.hidden]
        if state.profile == "current":
            assert state.installed and not needed
        elif state.profile == "never_patched":
            assert not state.installed and needed and state.patched_through is None
        else:
            assert state.profile.startswith("behind_") and state.installed and needed
            behind.add(state.profile)
        assert state.hidden <= {r.update_id for r in outcome.needed}
        assert state.downloaded <= {r.update_id for r in outcome.needed}
        assert state.reboot_sources <= set(REBOOT_SOURCES)
        assert (state.last_scan is None) or state.last_scan["result_code"] == 2
    assert len(behind) >= 2  # several months behind, not one


def test_profile_is_deterministic(catalog):
    def summaries(seed, n):
        profile = FleetProfile(catalog["store"], seed=seed, cache=catalog["cache"], now=T0)
        return [dict(profile.host_state(i).summary(), installed=sorted(profile.host_state(i).installed),
                     hidden=sorted(profile.host_state(i).hidden), boot=profile.host_factory(i, "h").boot_time)
                for i in range(1, n + 1)]

    assert summaries(4, 30) == summaries(4, 30)
    assert summaries(4, 30)[:10] == summaries(4, 10)  # a host does not depend on the fleet size
    assert summaries(4, 30) != summaries(5, 30)


def test_profile_skips_platforms_the_catalog_lacks(catalog):
    profile = FleetProfile(catalog["store"], cache=catalog["cache"])
    assert "ws2025-x64" not in profile.platforms  # a 400-update catalog has no Windows Server 2025 yet
    with pytest.raises(ValueError, match="updates for none of the platforms"):
        FleetProfile(catalog["store"], cache=catalog["cache"], platforms={"ws2025-x64": 1})


def test_profile_builds_a_fleet(catalog):
    profile = FleetProfile(catalog["store"], seed=2, cache=catalog["cache"], search_seconds=(0, 0),
                           shares={"\\\\fs01\\wsus": "/srv/wsus"})
    with Fleet(4, auth="basic", **profile.fleet_kwargs()) as fleet:
        for host in fleet.hosts:
            state = wua_host(host.model)
            assert state is profile.host_state(host.index)
            assert host.model.os_product == state.platform.os_product
            assert isinstance(host.backend, WuaBackend)
            assert state.fs.resolve("\\\\FS01\\wsus\\a.cab") == "/srv/wsus/a.cab"


# start / poll / cancel ----------------------------------------------------------------------------

def test_start_poll_cancel_rounds(catalog):
    model, backend = make_backend(catalog, search_seconds=2.0)
    start = run(backend, T0, _operation="start", server_selection="windows_update")
    assert start["worker"] == "scheduled_task" and start["changed"] is False
    scan_id = start["scan_id"]
    running = run(backend, T0 + 1, _operation="poll", scan_id=scan_id)
    assert running["state"] == "running"
    assert running["progress"] == {"phase": "searching", "updated": "2027-01-15T08:00:00Z"}
    assert "scan" not in running
    done = run(backend, T0 + 2.5, _operation="poll", scan_id=scan_id)
    assert done["state"] == "done"
    scan = done["scan"]
    assert (scan["scan_id"], scan["mode"], scan["server_selection"]) == (scan_id, "online", "windows_update")
    assert (scan["started"], scan["finished"]) == ("2027-01-15T08:00:00Z", "2027-01-15T08:00:02Z")
    assert (scan["result_code"], scan["hresult"], scan["error"], scan["warnings"]) == (2, None, None, [])
    assert scan["last_boot"] == "2027-01-14T08:00:00Z" and scan["worker"] == "scheduled_task"
    again = run(backend, T0 + 60, _operation="poll", _operation_options={"scan_id": scan_id, "wait_seconds": 5})
    assert again.pop("invocation")["module_args"]["_operation_options"]["wait_seconds"] == 5
    done.pop("invocation")
    assert again == done  # re-sent until acknowledged, unchanged
    assert model.extra["wua"].last_scan["scan_id"] == scan_id
    cancel = run(backend, T0 + 61, _operation="cancel", scan_id=scan_id)
    assert (cancel["cleaned"], cancel["aborted"], cancel.get("failed")) == (True, False, None)
    lost = run(backend, T0 + 62, _operation="poll", scan_id=scan_id)
    assert lost["state"] == "lost" and "already cleaned up" in lost["msg"]
    assert run(backend, T0 + 63, _operation="cancel", scan_id=scan_id)["cleaned"] is True  # idempotent


def test_unknown_scan_ids(catalog):
    """As scan.ps1: a GUID with no scan folder polls as lost and cancels as cleaned (nothing is left)."""
    model, backend = make_backend(catalog)
    lost = run(backend, _operation="poll", scan_id="0b6e4c7e-0000-4000-8000-000000000000")
    assert lost["state"] == "lost" and "never started here, or already cleaned up" in lost["msg"]
    assert not lost.get("failed")
    cancel = run(backend, _operation="cancel", scan_id="0b6e4c7e-0000-4000-8000-000000000000")
    assert cancel["cleaned"] is True and not cancel.get("failed") and cancel["aborted"] is False
    for operation in ("poll", "cancel"):
        bad = backend.run_module(SCAN, {"_operation": operation, "_operation_options": {"scan_id": "../x"}},
                                 context(model))
        assert bad.pop("invocation")["module_args"]["_operation_options"] == {"scan_id": "../x", "wait_seconds": 0,
                                                                              "give_up_seconds": 0}
        assert bad == {"failed": True, "changed": False, "operation": operation,
                       "msg": "The scan id '../x' is not a GUID."}
        missing = backend.run_module(SCAN, {"_operation": operation}, context(model))
        assert missing["failed"] and missing["msg"] == "_operation_options.scan_id is required for %s." % operation


@pytest.mark.parametrize("args, message", [
    ({"_operation": "install"}, "value of _operation must be one of: start, poll, cancel. Got no match for: install"),
    ({"_operation": "start", "scan_id": "x"}, "Unsupported parameters for (patchwave.windows.scan) module: scan_id. "
     "Supported parameters include: _operation, _operation_options, include_hidden, offline_scan_file, "
     "search_criteria, server_selection"),
    ({"_operation": "poll", "_operation_options": {"id": "x"}}, "Unsupported parameters for "
     "(patchwave.windows.scan) module: id found in _operation_options. Supported parameters include: "
     "give_up_seconds, scan_id, wait_seconds"),
    ({"_operation": "start", "server_selection": "sccm"},
     "value of server_selection must be one of: default, managed_server, windows_update, offline. "
     "Got no match for: sccm"),
    ({"_operation": "start", "server_selection": "offline"},
     "server_selection is offline but all of the following are missing: offline_scan_file"),
    ({"_operation": "start", "include_hidden": "maybe"}, "The value 'maybe' is not a valid boolean."),
])
def test_arguments_are_checked_like_ansible_basic(catalog, args, message):
    model, backend = make_backend(catalog)
    result = backend.run_module(SCAN, dict(args, _ansible_check_mode=False, _ansible_verbosity=0), context(model))
    assert result["failed"] is True and result["msg"].startswith(message), result["msg"]


def test_spec_mirrors_scan_ps1():
    """The lab checks arguments against a copy of scan.ps1's $spec; the copy must not drift. The $spec
    is read from the .ps1's syntax tree (tests/psast.py), so a missing or renamed module fails here."""
    from tests.lab.wua import OPERATION_OPTIONS, SPEC
    from tests.psast import Source, assigned_literal

    spec = assigned_literal(Source.load(os.path.join(REPO, "plugins", "modules", "scan.ps1")), "$spec")

    def as_lab(options):
        return {name: (option.get("type", "str"), option.get("default"),
                       tuple(option["choices"]) if option.get("choices") else None)
                for name, option in options.items()}

    options = spec["options"]
    assert as_lab(options) == {name: (kind, default, tuple(choices) if choices else None)
                               for name, (kind, default, choices) in SPEC.items()}
    assert as_lab(options["_operation_options"]["options"]) == {
        name: (kind, default, tuple(choices) if choices else None) for name, (kind, default, choices) in OPERATION_OPTIONS.items()}
    assert options["_operation"]["default"] == "start" and "required" not in options["_operation"]
    assert spec["required_if"] == [["server_selection", "offline", ["offline_scan_file"]]]


def test_cancel_while_running_aborts(catalog):
    model, backend = make_backend(catalog, search_seconds=30)
    scan_id = run(backend, T0, _operation="start")["scan_id"]
    cancel = run(backend, T0 + 5, _operation="cancel", scan_id=scan_id)
    assert cancel["cleaned"] is True and cancel["aborted"] is True
    assert run(backend, T0 + 40, _operation="poll", scan_id=scan_id)["state"] == "lost"
    assert model.extra["wua"].last_scan is None  # an aborted search leaves no result


def test_time_scale(catalog):
    model, backend = make_backend(catalog, search_seconds=100, time_scale=0.01)
    scan_id = run(backend, T0, _operation="start")["scan_id"]
    assert run(backend, T0 + 0.5, _operation="poll", scan_id=scan_id)["state"] == "running"
    assert run(backend, T0 + 1.0, _operation="poll", scan_id=scan_id)["state"] == "done"
    model, instant = make_backend(catalog, search_seconds=100, time_scale=0)
    scan_id = run(instant, T0, _operation="start")["scan_id"]
    assert run(instant, T0, _operation="poll", scan_id=scan_id)["state"] == "done"


def test_scan_result_is_true_to_catalog_and_host(catalog, snapshot):
    manifest = catalog["manifest"]
    host = WuaHost(PLATFORMS["ws2022-x64"])
    installed = patch_through(snapshot, host, as_of="2026-10-01")
    needed = {r.update_id for r in snapshot.search(host, installed=installed).needed}
    hidden = sorted(needed)[:1]
    needed = {r.update_id for r in snapshot.search(host, installed=installed, hidden=hidden).needed}
    downloaded = sorted(needed - set(hidden))[:1]
    model, backend = make_backend(catalog, installed=set(installed), hidden=set(hidden), downloaded=set(downloaded),
                                  reboot_sources={"wua", "pending_file_rename"}, wua_version="10.0.20348.3000")
    scan = scan_now(backend)
    assert scan["wua_version"] == "10.0.20348.3000"
    assert scan["reboot_pending"] is True and scan["reboot_sources"] == ["wua", "pending_file_rename"]
    updates = {u["update_id"]: u for u in scan["updates"]}
    assert {u for u, e in updates.items() if e["is_installed"]} <= installed
    assert {u for u, e in updates.items() if not e["is_installed"]} == needed
    assert manifest["latest_cu_by_variant"]["ws2022-x64"]["update_id"] in needed
    store = open_store(catalog["store"], create=False)
    try:
        described = {d["update_id"]: d for d in describe_updates(store, list(updates))}
    finally:
        store.close()
    reboot = {"NeverReboots": 0, "AlwaysRequiresReboot": 1, "CanRequestReboot": 2}
    for uid, entry in updates.items():
        info = described[uid]
        assert not info["expired"] and not info["bundled_by"] and info["kind"] == "software"
        assert entry["title"] == info["title"] and entry["revision_number"] == info["revision_number"]
        assert entry["kb_article_ids"] == info["kbs"]
        assert entry["msrc_severity"] == info["msrc_severity"]
        assert entry["reboot_behavior"] == reboot[info["reboot_behavior"]]
        assert entry["superseded_update_ids"] == sorted(s["update_id"] for s in info["supersedes"])
        wanted = [{"id": c["id"], "name": c["title"], "type": "Product"} for c in info["products"]]
        wanted += [{"id": c["id"], "name": c["title"], "type": "UpdateClassification"}
                   for c in info["classifications"]]
        assert sorted(entry["categories"], key=str) == sorted(wanted, key=str)
        assert entry["max_download_size"] == (info["max_download_size"] or sum(f["size"] for f in info["files"]))
        assert entry["max_download_size"] > 0
        assert entry["is_hidden"] == (uid in hidden)
        assert entry["is_downloaded"] == (uid in downloaded or uid in installed)
    assert {"Security Updates", "Definition Updates"} <= {c["name"] for e in updates.values() for c in e["categories"]}
    assert PRODUCT_DEFENDER in {c["id"] for e in updates.values() for c in e["categories"]}


def test_offline_scans_resolve_the_file_through_the_host_view(catalog, tmp_path):
    (tmp_path / "share").mkdir()
    (tmp_path / "share" / "wsusscn2.cab").write_bytes(b"MSCF")
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "wsusscn2.cab").write_bytes(b"MSCF")
    model, backend = make_backend(catalog, fs=FileSystemView({"\\\\fs01\\wsus": tmp_path / "share",
                                                              "C:\\Patchwave": tmp_path / "local"}))
    online = scan_now(backend)
    for path in ("\\\\FS01\\wsus\\wsusscn2.cab", "c:\\patchwave\\WSUSSCN2.cab"):
        offline = scan_now(backend, server_selection="offline", offline_scan_file=path)
        assert (offline["mode"], offline["server_selection"], offline["result_code"]) == ("offline", "offline", 2)
        assert offline["updates"] == online["updates"]
    # A local file is checked by start (as scan.ps1 does); a share is staged by start, then by the worker.
    refused = run(backend, _operation="start", server_selection="offline", offline_scan_file="C:\\Patchwave\\x.cab")
    assert refused["failed"] and refused["msg"] == "The offline scan file 'C:\\Patchwave\\x.cab' does not exist on the host."
    assert "worker_start_failed" not in refused  # the request was refused, not the worker
    missing = scan_now(backend, server_selection="offline", offline_scan_file="\\\\fs01\\wsus\\x.cab")
    assert (missing["result_code"], missing["hresult"], missing["updates"]) == (4, 0x80070002, [])
    assert missing["error"].startswith("Could not copy the offline scan file '\\\\fs01\\wsus\\x.cab' to the host: "
                                       "Cannot find path")
    escape = scan_now(backend, server_selection="offline", offline_scan_file="\\\\fs01\\wsus\\..\\wsusscn2.cab")
    assert escape["hresult"] == 0x80070002
    unmapped = scan_now(backend, server_selection="offline", offline_scan_file="\\\\other\\share\\wsusscn2.cab")
    assert unmapped["hresult"] == 0x80070002


# faults -------------------------------------------------------------------------------------------

def test_search_hresult_fault(catalog):
    model, backend = make_backend(catalog)
    backend.set_faults(search_hresult="0x8024402C")
    failed = scan_now(backend)
    assert (failed["result_code"], failed["hresult"], failed["updates"]) == (4, 0x8024402C, [])
    assert failed["error"] == "Exception from HRESULT: 0x8024402C"
    assert model.extra["wua"].last_scan["result_code"] == 4
    model.extra["wua"].fs.mount("C:\\", os.path.dirname(os.path.abspath(__file__)))
    offline = scan_now(backend, server_selection="offline", offline_scan_file="C:\\test_lab_wua.py")
    assert offline["result_code"] == 2  # online faults do not touch offline scans
    backend.set_faults(search_hresult=None, offline_search_hresult=0x8024000B)
    assert scan_now(backend)["result_code"] == 2
    offline = scan_now(backend, server_selection="offline", offline_scan_file="C:\\test_lab_wua.py")
    assert (offline["result_code"], offline["hresult"]) == (4, 0x8024000B)


def test_search_warnings_make_succeeded_with_errors(catalog):
    model, backend = make_backend(catalog)
    backend.set_faults(search_warnings=[{"context": 4, "hresult": 0x80240438}])
    scan = scan_now(backend)
    assert scan["result_code"] == 3 and scan["warnings"] == [{"context": 4, "hresult": 0x80240438}]
    assert scan["updates"]


def test_scheduled_task_blocked_is_access_denied(catalog):
    model, backend = make_backend(catalog)
    backend.set_faults(scheduled_task_blocked=True)
    start = run(backend, _operation="start")
    assert start["failed"] is True and start["hresult"] == 0x80070005 and start["worker"] == "scheduled_task"
    assert start["worker_start_failed"] is True  # the host refused the worker, not the request
    assert validate_result("start", start) == []
    denied = "Access is denied. (Exception from HRESULT: 0x80070005 (E_ACCESSDENIED))"
    assert start["msg"] == ("Failed to start the scan worker (scheduled_task): Could not start the task "
                            "patchwave-scan-%s as S-1-5-21-1000000001-2000000000-300000000-500 (S4U): %s; "
                            "as S-1-5-18 (SYSTEM): %s" % (start["scan_id"], denied, denied))
    assert run(backend, _operation="poll", scan_id=start["scan_id"])["state"] == "lost"
    # With become the module's own logon may use WUA: no task needed. The worker is started detached
    # (Win32_Process.Create, §3.5): start returns at once, the search takes its time, polls see it run.
    start = run(backend, T0, _operation="start", become={"user": "SYSTEM", "params": {}, "has_password": False})
    assert start["worker"] == "in_process" and not start.get("failed")
    assert run(backend, T0 + 1, _operation="poll", scan_id=start["scan_id"])["state"] == "running"
    done = run(backend, T0 + 3, _operation="poll", scan_id=start["scan_id"])
    assert done["state"] == "done" and done["scan"]["worker"] == "in_process"
    assert (done["scan"]["started"], done["scan"]["finished"]) == ("2027-01-15T08:00:00Z", "2027-01-15T08:00:02Z")


def test_slow_search_and_lost_worker(catalog):
    model, backend = make_backend(catalog)
    backend.set_faults(search_seconds=600)
    scan_id = run(backend, T0, _operation="start")["scan_id"]
    assert run(backend, T0 + 599, _operation="poll", scan_id=scan_id)["state"] == "running"
    backend.set_faults(worker_lost=True)
    lost = run(backend, T0 + 700, _operation="poll", scan_id=scan_id)
    assert lost["state"] == "lost" and "the worker ended without a result" in lost["msg"]
    assert lost["worker_error"] is None and lost["last_task_result"] is None
    with pytest.raises(KeyError, match="unknown WUA fault"):
        backend.set_faults(latency=1)


def test_reboot_during_a_scan_loses_it(catalog):
    model, backend = make_backend(catalog, search_seconds=10)
    scan_id = run(backend, T0, _operation="start")["scan_id"]
    model.boot_time = T0 + 5  # the host restarted before the search ended: the worker is gone
    lost = run(backend, T0 + 20, _operation="poll", scan_id=scan_id)
    assert lost["state"] == "lost" and "restarted" in lost["msg"]
    assert run(backend, T0 + 21, _operation="cancel", scan_id=scan_id)["cleaned"] is True
    assert scan_now(backend, T0 + 30)["last_boot"] == "2027-01-15T08:00:05Z"
    # A result written before the restart is still in the scan folder afterwards.
    scan_id = run(backend, T0 + 100, _operation="start")["scan_id"]
    model.boot_time = T0 + 200
    done = run(backend, T0 + 300, _operation="poll", scan_id=scan_id)
    assert done["state"] == "done" and done["scan"]["last_boot"] == "2027-01-15T08:00:05Z"  # as the worker saw it


def test_check_mode_starts_nothing(catalog):
    model, backend = make_backend(catalog)
    start = run(backend, _operation="start", check_mode=True)
    assert start["scan_id"] and start["worker"] == "scheduled_task"
    assert run(backend, _operation="poll", scan_id=start["scan_id"])["state"] == "lost"
    scan_id = run(backend, _operation="start")["scan_id"]
    assert run(backend, _operation="cancel", scan_id=scan_id, check_mode=True)["cleaned"] is False
    assert run(backend, T0 + 10, _operation="poll", scan_id=scan_id)["state"] == "done"


def test_long_poll_waits_on_the_lab_clock(catalog):
    model, backend = make_backend(catalog, search_seconds=0.3)
    scan_id = run(backend, time.time(), _operation="start")["scan_id"]

    class Runtime:
        clock = staticmethod(time.time)

    ctx = context(model, time.time())
    ctx.runtime = Runtime()
    started = time.monotonic()
    result = backend.run_module(SCAN, {"_operation": "poll", "_operation_options": {"scan_id": scan_id,
                                                                                    "wait_seconds": 5}}, ctx)
    assert result["state"] == "done" and time.monotonic() - started < 2
    backend.set_faults(search_seconds=60)
    scan_id = run(backend, time.time(), _operation="start")["scan_id"]
    ctx = context(model, time.time())
    ctx.runtime = Runtime()
    started = time.monotonic()
    result = backend.run_module(SCAN, {"_operation": "poll", "_operation_options": {"scan_id": scan_id,
                                                                                    "wait_seconds": 1}}, ctx)
    assert result["state"] == "running" and 0.9 < time.monotonic() - started < 3


@pytest.mark.parametrize("criteria, expect", [
    ("IsInstalled=0 or IsInstalled=1", "all"),
    ("IsInstalled=0", "needed"),
    ("IsInstalled=1", "installed"),
    ("IsInstalled=0 and IsHidden=0", "needed-visible"),
    ("IsHidden=1", "hidden"),
    ("(IsInstalled=0 and Type='Software') or (IsInstalled=1 and Type='Software')", "all"),
    ("Type='Driver'", "none"),
    ("Type!='Driver' and IsInstalled=1", "installed"),
    ("BrowseOnly=1", "optional"),
    ("CategoryIDs contains 'E0789628-CE08-4437-BE74-2495B842F43B'", "definitions"),
    ("DeploymentAction='Uninstallation'", "none"),
])
def test_search_criteria(catalog, snapshot, criteria, expect):
    host = WuaHost(PLATFORMS["ws2022-x64"])
    installed = patch_through(snapshot, host, as_of="2026-10-01")
    outcome = snapshot.search(host, installed=installed)
    hidden = {outcome.needed[0].update_id}
    outcome = snapshot.search(host, installed=installed, hidden=hidden)
    model, backend = make_backend(catalog, installed=set(installed), hidden=hidden)
    found = [u["update_id"] for u in scan_now(backend, search_criteria=criteria)["updates"]]
    records = outcome.updates
    wanted = {
        "all": records, "needed": outcome.needed, "installed": outcome.installed, "none": [],
        "needed-visible": [r for r in outcome.needed if r.update_id not in hidden],
        "hidden": [r for r in records if r.update_id in hidden],
        "optional": [r for r in records if r.optional],
        "definitions": [r for r in records if "Definition Updates" in [c[1] for c in r.categories]],
    }[expect]
    assert found == [r.update_id for r in wanted] and (found or expect in ("none",))
    hidden_out = scan_now(backend, include_hidden=False, search_criteria=criteria)["updates"]
    assert [u["update_id"] for u in hidden_out] == [u for u in found if u not in hidden]


@pytest.mark.parametrize("criteria", [
    "IsInstalled=0 and (IsHidden=0 or IsHidden=1)", "IsInstalled != 0", "RevisionNumber=200", "Foo=1",
    "IsInstalled=2", "IsInstalled=0 and", "(IsInstalled=0", "CategoryIDs = 'x'", "IsInstalled='0' or",
])
def test_invalid_criteria_fail_the_search(catalog, criteria):
    model, backend = make_backend(catalog)
    scan = scan_now(backend, search_criteria=criteria)
    assert (scan["result_code"], scan["hresult"], scan["updates"]) == (4, 0x80240032, [])
    assert scan["error"] == "Exception from HRESULT: 0x80240032"


def test_update_id_criteria_pin_revisions(catalog, snapshot):
    model, backend = make_backend(catalog)
    first = scan_now(backend)["updates"][0]
    pinned = "UpdateID='%s' and RevisionNumber=%d" % (first["update_id"].upper(), first["revision_number"])
    assert [u["update_id"] for u in scan_now(backend, search_criteria=pinned)["updates"]] == [first["update_id"]]
    wrong = "UpdateID='%s' and RevisionNumber=%d" % (first["update_id"], first["revision_number"] + 1)
    assert scan_now(backend, search_criteria=wrong)["updates"] == []


def test_missing_catalog_is_a_clear_failure(tmp_path, catalog):
    model = HostModel(name="win001", index=1)
    for store, message in ((None, "needs a store"), (str(tmp_path / "nope.db"), "does not exist")):
        backend = WuaBackend(model, store=store, cache=CatalogCache())
        backend.store = store  # not PATCHWAVE_STORE from the environment
        result = run(backend, _operation="start")
        assert result["failed"] and message in result["msg"]
    empty = str(tmp_path / "empty.db")
    open_store(empty).close()
    result = run(WuaBackend(model, store=empty, cache=CatalogCache()), _operation="start")
    assert result["failed"] and "holds no catalog" in result["msg"]


def test_other_modules_fall_back_to_the_default_backend(catalog):
    model, backend = make_backend(catalog)
    assert backend.run_module("ansible.windows.win_ping", {}, context(model)) == {"changed": False, "ping": "pong"}
    facts = backend.run_module("ansible.windows.setup", {"gather_subset": ["min"]}, context(model))["ansible_facts"]
    assert facts["ansible_distribution"] == "Microsoft Windows Server 2022 Datacenter"
    assert "not emulated" in backend.run_module("ansible.windows.win_updates", {}, context(model))["msg"]


def test_concurrent_scans_on_one_host(catalog):
    model, backend = make_backend(catalog, time_scale=0)
    results, errors = [], []

    def worker():
        try:
            results.append(scan_now(backend)["updates"])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for dummy in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(results) == 8 and all(r == results[0] for r in results)


# figures ------------------------------------------------------------------------------------------

def test_fleet_of_200_in_process_and_catalog_memory(tmp_path):
    """Figures for the report: 200 hosts' start + poll on a 6,000-update catalog, cache memory."""
    path, manifest = build_store(str(tmp_path), updates=6000)
    tracemalloc.start()
    started = time.perf_counter()
    snapshot = CatalogSnapshot.load(path)
    load_seconds = time.perf_counter() - started
    memory = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    cache = CatalogCache()
    started = time.perf_counter()
    profile = FleetProfile(path, seed=1, cache=cache, search_seconds=(0, 0), now=T0)
    models = [profile.host_factory(i, "win%03d" % i) for i in range(1, 201)]
    backends = [profile.backend_factory(m) for m in models]
    build_seconds = time.perf_counter() - started
    started = time.perf_counter()
    total = 0
    for model, backend in zip(models, backends):
        scan_id = run(backend, T0, _operation="start")["scan_id"]
        done = run(backend, T0, _operation="poll", scan_id=scan_id)
        assert done["state"] == "done" and done["scan"]["result_code"] == 2
        total += len(done["scan"]["updates"])
    answer_seconds = time.perf_counter() - started
    print("\n6,000-update catalog: %d searchable updates; load %.2fs, %.1f MiB; 200-host profile %.2fs; "
          "200 x (start + poll, validated) %.2fs; %d update entries" % (
              len(snapshot), load_seconds, memory / 2 ** 20, build_seconds, answer_seconds, total))
    assert manifest["total_updates"] >= 5900
    assert memory < 64 * 2 ** 20 and answer_seconds < 30


def test_s4u_that_never_runs_falls_back_to_system_with_a_warning(catalog):
    """scan.ps1 §3.2: an S4U task that registers but stays 'has not run' runs as SYSTEM, and start says so."""
    model, backend = make_backend(catalog)
    backend.set_faults(s4u_blocked=True)
    start = run(backend, T0, _operation="start")
    assert not start.get("failed") and start["worker"] == "scheduled_task"
    (warning,) = start["warnings"]
    assert "S-1-5-21-1000000001-2000000000-300000000-500 (S4U)" in warning and "0x00041303" in warning
    assert "runs as SYSTEM" in warning
    done = run(backend, T0 + 10, _operation="poll", scan_id=start["scan_id"])
    assert done["state"] == "done" and done["scan"]["result_code"] == 2
    backend.set_faults(s4u_blocked=False)
    assert "warnings" not in run(backend, T0, _operation="start")


def test_worker_that_dies_early_is_lost_with_its_bootstrap_error(catalog):
    """scan.ps1 §3.4: the bootstrap's error comes back with state lost."""
    model, backend = make_backend(catalog, search_seconds=30)
    scan_id = run(backend, T0, _operation="start")["scan_id"]
    text = "The scan worker stopped before writing its result: Cannot invoke method. Method invocation is " \
           "supported only on core types in this language mode."
    backend.set_faults(worker_bootstrap_error=text)
    lost = run(backend, T0 + 1, _operation="poll", scan_id=scan_id)
    # The task was deleted once the worker ran (§3.3), so there is no LastTaskResult left to read.
    assert (lost["state"], lost["worker_error"], lost["last_task_result"]) == ("lost", text, None)
    assert lost["msg"] == "scan %s is lost: %s" % (scan_id, text)
    assert run(backend, T0 + 2, _operation="cancel", scan_id=scan_id)["cleaned"] is True


def test_empty_search_criteria_is_refused_at_start(catalog):
    """scan.ps1 §3.9: '' is a clear message, not a parameter-binding error in the worker."""
    model, backend = make_backend(catalog)
    for criteria in ("", "   "):
        start = run(backend, _operation="start", search_criteria=criteria)
        assert start["failed"] is True and start["msg"].startswith("search_criteria is empty")
    assert not backend.status()["scans"]


def test_progress_moves_through_the_worker_phases(catalog):
    """progress.json is rewritten as the worker goes (the File.Replace fix, §3.1): starting, searching, collecting."""
    model, backend = make_backend(catalog, search_seconds=100)
    scan_id = run(backend, T0, _operation="start")["scan_id"]
    phases = []
    for at in (0.5, 2, 50, 95):
        polled = run(backend, T0 + at, _operation="poll", scan_id=scan_id)
        assert polled["state"] == "running"
        phases.append((polled["progress"]["phase"], polled["progress"]["updated"]))
    assert [p for p, _u in phases] == ["starting", "searching", "searching", "collecting"]
    assert phases[0][1] == "2027-01-15T08:00:00Z" and phases[3][1] == "2027-01-15T08:01:30Z"


def test_host_with_a_wrong_clock_stamps_its_scans_with_it(catalog):
    """§4: a host whose clock is 3 hours behind reports started/finished/last_boot and progress by it."""
    model, backend = make_backend(catalog, search_seconds=100)
    model.clock_offset = -3 * 3600.0
    scan_id = run(backend, T0, _operation="start")["scan_id"]
    running = run(backend, T0 + 50, _operation="poll", scan_id=scan_id)
    assert running["progress"] == {"phase": "searching", "updated": "2027-01-15T05:00:01Z"}
    scan = run(backend, T0 + 200, _operation="poll", scan_id=scan_id)["scan"]
    assert (scan["started"], scan["finished"]) == ("2027-01-15T05:00:00Z", "2027-01-15T05:01:40Z")
    assert scan["last_boot"] == "2027-01-14T05:00:00Z"
    model.clock_offset = 0.0
    right = scan_now(backend, T0)
    assert right["started"] == "2027-01-15T08:00:00Z"


def test_results_carry_the_invocation_as_ansible_basic_builds_it(catalog):
    model, backend = make_backend(catalog)
    start = run(backend, _operation="start", search_criteria="IsInstalled=0")
    assert start["invocation"]["module_args"] == {
        "_operation": "start", "_operation_options": None, "server_selection": "default", "offline_scan_file": None,
        "include_hidden": True, "search_criteria": "IsInstalled=0"}


def test_stale_scans_are_removed_at_the_next_start(catalog):
    """§3.3: past its give-up time, or its worker gone without a result: removed at any start; a result
    waiting for its acknowledgement stays until the give-up time; another user's live scan is untouched."""
    model, backend = make_backend(catalog, search_seconds=30)
    waiting = run(backend, T0, _operation="start", _operation_options={"give_up_seconds": 600})["scan_id"]
    backend.set_faults(search_seconds=10000)  # the next ones run for hours
    running = run(backend, T0 + 100, _operation="start", _operation_options={"give_up_seconds": 5000})["scan_id"]
    other = backend.run_module(SCAN, {"_operation": "start", "_operation_options": {"give_up_seconds": 500}},
                               ModuleContext(host=model, user="LAB\\operator", now=T0 + 100))["scan_id"]
    start = run(backend, T0 + 200, _operation="start")
    assert start["stale_removed"] == []  # the result waits (done at T0+30), both workers run
    assert set(backend.status()["scans"]) == {waiting, running, other, start["scan_id"]}
    start = run(backend, T0 + 650, _operation="start")
    # the unacknowledged result is past its give-up time; the other user's scan is too, but it runs
    assert start["stale_removed"] == ["patchwave-scan-%s" % waiting]
    assert run(backend, T0 + 651, _operation="poll", scan_id=waiting)["state"] == "lost"
    assert other in backend.status()["scans"]
    backend.set_faults(worker_lost=True)  # every worker still running dies: gone without a result
    start = run(backend, T0 + 660, _operation="start")
    assert {"patchwave-scan-%s" % running, "patchwave-scan-%s" % other} <= set(start["stale_removed"])
    assert "patchwave-scan-%s" % start["scan_id"] not in start["stale_removed"]


def test_a_live_scan_of_another_user_past_its_give_up_is_never_touched(catalog):
    model, backend = make_backend(catalog, search_seconds=10000)
    other = backend.run_module(SCAN, {"_operation": "start", "_operation_options": {"give_up_seconds": 60}},
                               ModuleContext(host=model, user="LAB\\operator", now=T0))["scan_id"]
    mine = run(backend, T0, _operation="start", _operation_options={"give_up_seconds": 60})["scan_id"]
    start = run(backend, T0 + 120, _operation="start")
    assert start["stale_removed"] == ["patchwave-scan-%s" % mine]
    assert other in backend.status()["scans"]


def test_a_poll_renews_the_give_up_time_so_an_abandoned_scan_goes_soon_after_its_last_poll(catalog):
    """Issue 10 §3: a scan whose controller vanished is removed by the next start soon after its last
    poll (the poll's renewal), not only after the start's whole give-up time (timeout + reconnect)."""
    _model, backend = make_backend(catalog, search_seconds=10000)  # it runs for hours
    scan_id = run(backend, T0, _operation="start", _operation_options={"give_up_seconds": 3900})["scan_id"]
    polled = run(backend, T0 + 30, _operation="poll", _operation_options={"scan_id": scan_id, "give_up_seconds": 400})
    assert polled["state"] == "running"
    assert run(backend, T0 + 400, _operation="start")["stale_removed"] == []  # still inside the renewal
    swept = run(backend, T0 + 431, _operation="start")["stale_removed"]  # 30 + 400 s: the controller is gone
    assert swept == ["patchwave-scan-%s" % scan_id]
