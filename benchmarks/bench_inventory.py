"""Benchmark: the compliance inventory plugin at 50,000 hosts.

``ansible-inventory -i fleet.compliance.yml --list`` over a store of 50,000 hosts (a cold read of
the store: no inventory cache, the spool already ingested and empty), against, in the same run:

(a) **script floor** -- the same hosts, groups and host variables served as precomputed JSON by a
    script inventory (a shell script that ``cat``s the plugin's own ``--list`` output with the
    ``{"__ansible_unsafe": ...}`` markers turned into plain values): Ansible's own floor.
    Goal: plugin <= 1.3 x (a).
(b) **fact cache + constructed** -- what users do today: a ``jsonfile`` fact cache holding each
    host's scan results (the plugin's host variables, plus the severities of its missing updates
    and its per-set pending restart, so every group can be built), written through Ansible's own
    cache plugin, and the ``constructed`` inventory plugin (``keyed_groups``/``groups``) producing
    the same groups over a plain YAML host list. Goal: plugin >= 3 x faster than (b).
(c) **static YAML** -- the same inventory (hosts, groups, host variables) as one YAML file, for
    reference only (no goal).

Each side runs as its own ``ansible-inventory`` process under ``/usr/bin/time -v`` (peak RSS);
sides alternate (the order rotates per round); best of N rounds (3; the slow sides (b) and (c) in the first 2). Checks, printed: the plugin's
output equals the script floor's (same groups and members, same host variables once the unsafe
markers are converted), and (b) and (c) give the same group membership.

The data are built here with a fixed seed, in ``.build/bench/inventory`` (deleted and made again
every run), through the real path: ``tests.compliance_data.add_catalog`` (300 updates, catalog
versions 1..3), one state message per host written by ``write_message`` and moved into the store by
``ingest``. That build is timed separately and is not part of any ratio.

Usage: bench_inventory.py [--hosts N] [--rounds N] [--slow-rounds N] [--no-profile] [--keep]
"""

import argparse
import datetime
import json
import multiprocessing
import os
import pstats
import random
import re
import shutil
import stat
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(REPO, ".build", "collections")
sys.path.insert(0, COLLECTIONS)
sys.path.insert(0, REPO)
BIN = os.path.dirname(sys.executable)
WORK = os.path.join(REPO, ".build", "bench", "inventory")

SEED = 50000
CATALOG_UPDATES = 300
CATALOG_VERSIONS = 3
RECENT_POOL = 30          # missing updates are drawn from the newest updates of the catalog
PREFIX = "patchwave_"
STATES = ("compliant", "non_compliant", "unknown", "pending_reboot", "stale_scan", "never_scanned")
FACT_PREFIX = "ansible_facts"
GOAL_FLOOR = 1.3
SLOW = ("fact_cache_constructed", "static_yaml")   # run in the first slow_rounds rounds only
GOAL_CONSTRUCTED = 3.0


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def host_name(index):
    return "win%05d" % index


# -- data ------------------------------------------------------------------------------------------
def _link_collection():
    link = os.path.join(COLLECTIONS, "ansible_collections", "patchwave", "windows")
    if not os.path.islink(link) and not os.path.isdir(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(REPO, link)


def build_store(work, hosts, seed=SEED):
    """The store: catalog, one state message per scanned host, ingested. Returns facts about it."""
    from ansible_collections.patchwave.windows.plugins.module_utils._scan.ingest import ingest
    from ansible_collections.patchwave.windows.plugins.module_utils._scan.spool import pending_files, write_message
    from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store

    from tests.compliance_data import add_catalog, scan_body

    store_path = os.path.join(work, "store", "patchwave.db")
    spool = os.path.join(work, "store", "spool")
    os.makedirs(spool)
    store = open_store(store_path)
    started = time.perf_counter()
    catalog = add_catalog(store, CATALOG_UPDATES, versions=CATALOG_VERSIONS, seed=seed)
    ids = list(catalog)
    by_version = {v: [u for u in ids if catalog[u]["first_version"] <= v] for v in range(1, CATALOG_VERSIONS + 1)}
    recent = ids[-RECENT_POOL:]
    rng = random.Random("inventory|%s" % seed)
    now = datetime.datetime.now(datetime.timezone.utc)
    mix = {"usable": 0, "stale": 0, "scan_failed": 0, "never_scanned": 0, "older_catalog": 0,
           "with_missing": 0, "reboot_pending": 0}
    never = []
    returned = 0
    for index in range(hosts):
        host = host_name(index)
        kind = rng.random()
        if kind < 0.01:
            never.append(host)   # the store knows the host, no scan of it is kept
            mix["never_scanned"] += 1
            continue
        if kind < 0.04:
            finished = now - datetime.timedelta(hours=rng.uniform(1, 48))
            write_message(spool, host, "scan", scan_body({}, _iso(finished), catalog, result_code=4),
                          catalog_version=CATALOG_VERSIONS, created=_iso(finished))
            mix["scan_failed"] += 1
            continue
        stale = kind < 0.10
        if stale:
            finished = now - datetime.timedelta(days=rng.uniform(9, 30))
            mix["stale"] += 1
        else:
            finished = now - datetime.timedelta(hours=rng.uniform(1, 72))
            mix["usable"] += 1
        version = CATALOG_VERSIONS if rng.random() < 0.9 else CATALOG_VERSIONS - 1
        if version != CATALOG_VERSIONS:
            mix["older_catalog"] += 1
        pool = by_version[version]
        results = {uid: (True, False, False) for uid in rng.sample(pool, rng.randint(20, 40))}
        candidates = [u for u in recent if catalog[u]["first_version"] <= version] or by_version[version][-8:]
        if rng.random() < 0.02:
            results[rng.choice(candidates)] = (True, False, True)   # installed, waiting for a restart
        if rng.random() < 0.3:
            mix["with_missing"] += 1
            for uid in rng.sample(candidates, min(len(candidates), rng.randint(1, 4))):
                results[uid] = (False, rng.random() < 0.1, False)
        reboot = rng.random() < 0.03
        mix["reboot_pending"] += reboot
        returned += len(results)
        mode = "online" if rng.random() < 0.8 else "offline"
        # The controller received each result when the scan finished (a scan's age is counted from then).
        write_message(spool, host, "scan", scan_body(results, _iso(finished), catalog, mode=mode,
                                                     reboot_pending=reboot), catalog_version=version, created=_iso(finished))
    written = time.perf_counter() - started
    started = time.perf_counter()
    counts = ingest(store, spool)
    ingested = time.perf_counter() - started
    stamp = _iso(now - datetime.timedelta(days=30))
    with store.transaction() as cursor:
        # A host the store knows without any scan (its messages never arrived): never_scanned.
        cursor.executemany("INSERT INTO hosts (host_name, first_seen, last_message_at) VALUES (?, ?, ?)",
                           [(h, stamp, stamp) for h in never])
    store.close()
    return {"store": store_path, "spool": spool, "spool_empty": not pending_files(spool),
            "ingest": counts, "mix": mix, "updates_per_scan": round(returned / max(1, mix["usable"] + mix["stale"]), 1),
            "write_seconds": round(written, 1), "ingest_seconds": round(ingested, 1),
            "store_mb": round(os.path.getsize(store_path) / 1e6, 1), "catalog": catalog, "recent": recent}


def _write(path, text, mode=None):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    if mode:
        os.chmod(path, mode)
    return path


def plugin_file(work, data):
    kbs = ["KB" + data["catalog"][u]["kb"] for u in data["recent"][-8:]]
    text = ("plugin: patchwave.windows.compliance\nstore: %s\nspool: %s\n"
            "update_sets:\n  - name: critical\n    severities: [Critical]\n"
            "  - name: recent\n    kbs: [%s]\n"
            "kb_groups: true\nseverity_groups: true\n" % (data["store"], data["spool"], ", ".join(kbs)))
    return _write(os.path.join(work, "fleet.compliance.yml"), text)


# -- inventory output --------------------------------------------------------------------------------
def plain(value):
    """``value`` with ``{"__ansible_unsafe": x}`` markers replaced by ``x``."""
    if isinstance(value, dict):
        if len(value) == 1 and "__ansible_unsafe" in value:
            return plain(value["__ansible_unsafe"])
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def load_output(path):
    with open(path, encoding="utf-8") as handle:
        return plain(json.load(handle))


def membership(listing):
    """{group: sorted hosts} for every non-empty group other than all/ungrouped."""
    groups = {}
    for name, entry in listing.items():
        if name in ("_meta", "all", "ungrouped") or not isinstance(entry, dict):
            continue
        if entry.get("hosts"):
            groups[name] = sorted(entry["hosts"])
    return groups


def hosts_of(listing):
    found = set(listing.get("_meta", {}).get("hostvars", {}))
    for name, entry in listing.items():
        if name != "_meta" and isinstance(entry, dict):
            found.update(entry.get("hosts", ()))
    return found


# -- the sides -------------------------------------------------------------------------------------
def script_side(work, listing):
    """(a): a script that cats the plugin's own output, unsafe markers made plain."""
    json_path = os.path.join(work, "floor.json")
    with open(json_path, "w", encoding="utf-8") as handle:
        json.dump(listing, handle)
    return _write(os.path.join(work, "floor_inventory.sh"),
                  "#!/bin/sh\nif [ \"$1\" = \"--list\" ]; then cat '%s'; else echo '{}'; fi\n" % json_path,
                  stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)


def static_side(work, listing):
    """(c): the same inventory as one static YAML file."""
    import yaml
    hostvars = listing["_meta"]["hostvars"]
    children = {group: {"hosts": {h: None for h in members}} for group, members in membership(listing).items()}
    document = {"all": {"hosts": {h: hostvars.get(h) or None for h in sorted(hostvars)}, "children": children}}
    path = os.path.join(work, "static.yml")
    with open(path, "w", encoding="utf-8") as handle:
        yaml.dump(document, handle, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), default_flow_style=False)
    return path


def _write_facts(cache_dir, items):
    from ansible.plugins.loader import cache_loader
    cache = cache_loader.get("ansible.builtin.jsonfile", _uri=cache_dir, _prefix=FACT_PREFIX, _timeout=0)
    for host, facts in items:
        cache.set(host, facts)


def constructed_side(work, listing, set_names):
    """(b): a jsonfile fact cache written by Ansible's cache plugin, a YAML host list, constructed."""
    from ansible.plugins.loader import init_plugin_loader
    init_plugin_loader([COLLECTIONS])
    hostvars = listing["_meta"]["hostvars"]
    groups = membership(listing)
    severities = {}
    for group, members in groups.items():
        if group.startswith(PREFIX + "severity_"):
            for host in members:
                severities.setdefault(host, []).append(group[len(PREFIX + "severity_"):])
    set_pending = {s: set(groups.get("%s%s_pending_reboot" % (PREFIX, s), ())) for s in set_names}
    cache_dir = os.path.join(work, "facts")
    names = sorted(hostvars)
    # The jsonfile plugin's set() leaves its mkstemp descriptor open (ansible-core 2.19), so a
    # process can set only as many keys as it may open files: write in chunks, a child each.
    context = multiprocessing.get_context("fork")
    for start in range(0, len(names), 5000):
        child = context.Process(target=_write_facts, args=(cache_dir, [
            (host, dict(hostvars[host], patchwave_missing_severities=sorted(severities.get(host, ())),
                        patchwave_set_pending_reboot={s: host in set_pending[s] for s in set_names}))
            for host in names[start:start + 5000]]))
        child.start()
        child.join()
        if child.exitcode:
            raise RuntimeError("writing the fact cache failed")
    hosts_path = os.path.join(work, "hosts.yml")
    with open(hosts_path, "w", encoding="utf-8") as handle:
        handle.write("all:\n  hosts:\n")
        handle.writelines("    %s:\n" % h for h in sorted(hostvars))
    lines = ["plugin: constructed", "strict: false", "keyed_groups:",
             "  - key: patchwave_compliance", "    prefix: patchwave",
             "  - key: patchwave_missing_kbs", "    prefix: patchwave_kb",
             "  - key: patchwave_missing_severities", "    prefix: patchwave_severity"]
    for name in set_names:
        lines += ["  - key: patchwave_set_compliance.%s" % name, "    prefix: patchwave_%s" % name]
    lines += ["groups:", "  patchwave_pending_reboot: patchwave_pending_reboot",
              "  patchwave_stale_scan: patchwave_last_scan.status == 'stale'",
              "  patchwave_never_scanned: patchwave_last_scan.status == 'never_scanned'"]
    for name in set_names:
        lines += ["  patchwave_%s_pending_reboot: patchwave_set_pending_reboot.%s" % (name, name),
                  "  patchwave_%s_stale_scan: patchwave_last_scan.status == 'stale'" % name,
                  "  patchwave_%s_never_scanned: patchwave_last_scan.status == 'never_scanned'" % name]
    constructed_path = _write(os.path.join(work, "constructed.yml"), "\n".join(lines) + "\n")
    return hosts_path, constructed_path, cache_dir


def _env(enabled, cache_dir=None):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ANSIBLE_CACHE_", "ANSIBLE_INVENTORY_", "PATCHWAVE_"))}
    env.update(ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR="1", ANSIBLE_INVENTORY_ENABLED=enabled,
               ANSIBLE_INVENTORY_UNPARSED_FAILED="1", ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED="1")
    if cache_dir:
        # the prefix the facts were written with (cache_loader.get without options has none)
        env.update(ANSIBLE_CACHE_PLUGIN="ansible.builtin.jsonfile", ANSIBLE_CACHE_PLUGIN_CONNECTION=cache_dir,
                   ANSIBLE_CACHE_PLUGIN_PREFIX=FACT_PREFIX)
    return env


_RSS = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")


def run_inventory(sources, env, out_path, prefix=()):
    """One ``ansible-inventory --list`` process; (wall seconds, peak RSS MB or None)."""
    command = list(prefix) + [os.path.join(BIN, "ansible-inventory")]
    for source in sources:
        command += ["-i", source]
    command.append("--list")
    timer = ["/usr/bin/time", "-v"] if os.path.exists("/usr/bin/time") else []
    with open(out_path, "w", encoding="utf-8") as out:
        started = time.perf_counter()
        done = subprocess.run(timer + command, env=env, stdout=out, stderr=subprocess.PIPE, text=True, check=False)
        elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError("%s failed (%s):\n%s" % (" ".join(command), done.returncode, done.stderr[-3000:]))
    found = _RSS.search(done.stderr)
    return elapsed, (round(int(found.group(1)) / 1024.0, 1) if found else None)


def profile_plugin(work, source):
    """Profile one plugin run with cProfile; cumulative seconds of the functions that matter."""
    prof = os.path.join(work, "plugin.prof")
    run_inventory([source], _env("patchwave.windows.compliance"), os.path.join(work, "profiled.json"),
                  prefix=[sys.executable, "-m", "cProfile", "-o", prof])
    stats = pstats.Stats(prof)
    wanted = {
        "total (ansible-inventory main)": ("inventory.py", "run"),
        "plugin parse": ("compliance.py", "parse"),
        "read_rows (store queries)": ("_compliance_store.py", "read_rows"),
        "evaluate_rows": ("_compliance_store.py", "evaluate_rows"),
        "_populate (groups + host vars)": ("compliance.py", "_populate"),
        "InventoryData.add_host": ("data.py", "add_host"),
        "InventoryData.add_child": ("data.py", "add_child"),
        "InventoryData.set_variable": ("data.py", "set_variable"),
        "ansible-inventory json_inventory": ("inventory.py", "json_inventory"),
        "VariableManager.get_vars": ("manager.py", "get_vars"),
        "ansible-inventory dump (JSON encode)": ("inventory.py", "dump"),
    }
    found = {}
    for (filename, _line, func), (_cc, calls, _tt, cumulative, _callers) in stats.stats.items():
        for label, (fname, fn) in wanted.items():
            ours = "ansible" in filename or "patchwave" in filename or "windows" in filename
            if func == fn and filename.endswith(fname) and ours:
                if cumulative > found.get(label, {}).get("seconds", -1):
                    found[label] = {"seconds": round(cumulative, 2), "calls": calls}
    wall = max(v for (_f, _l, _n), (_c, _k, _t, v, _r) in stats.stats.items())
    top = sorted(((v[3], "%s:%s(%s)" % (os.path.basename(k[0]), k[1], k[2])) for k, v in stats.stats.items()),
                 reverse=True)[:30]
    return {"profiled_seconds": round(wall, 2), "functions": found,
            "top_cumulative": [[round(s, 2), name] for s, name in top]}


# -- main ------------------------------------------------------------------------------------------
def main(hosts=50000, rounds=3, profile=True, keep=False, slow_rounds=2):
    _link_collection()
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    print("building the store: %d hosts ..." % hosts, flush=True)
    data = build_store(WORK, hosts)
    print("  written %.1f s, ingested %.1f s, %s, store %.1f MB, spool empty after ingest: %s"
          % (data["write_seconds"], data["ingest_seconds"], data["ingest"], data["store_mb"], data["spool_empty"]),
          flush=True)
    source = plugin_file(WORK, data)
    set_names = ("critical", "recent")
    plugin_env = _env("patchwave.windows.compliance")

    # A first plugin run (untimed) produces the output every other side is built from.
    first = os.path.join(WORK, "plugin_first.json")
    run_inventory([source], plugin_env, first)
    listing = load_output(first)
    script = script_side(WORK, listing)
    hosts_path, constructed_path, cache_dir = constructed_side(WORK, listing, set_names)
    static = static_side(WORK, listing)
    groups = membership(listing)
    hostvars = listing["_meta"]["hostvars"]
    print("  inventory: %d hosts, %d non-empty groups, %d host vars per host (%d with update sets)"
          % (len(hostvars), len(groups), min(len(v) for v in hostvars.values()),
             max(len(v) for v in hostvars.values())), flush=True)

    sides = {
        "plugin": ([source], plugin_env),
        "script_floor": ([script], _env("script")),
        "fact_cache_constructed": ([hosts_path, constructed_path], _env("yaml,constructed", cache_dir)),
        "static_yaml": ([static], _env("yaml")),
    }
    order = list(sides)
    times = {name: [] for name in sides}
    rss = {name: [] for name in sides}
    outputs = {name: os.path.join(WORK, "%s.json" % name) for name in sides}
    for round_index in range(rounds):
        shift = round_index % len(order)
        for name in order[shift:] + order[:shift]:
            if round_index >= slow_rounds and name in SLOW:
                continue
            sources, env = sides[name]
            seconds, peak = run_inventory(sources, env, outputs[name])
            times[name].append(round(seconds, 2))
            rss[name].append(peak)
            print("  round %d  %-24s %7.2f s  peak %s MB" % (round_index + 1, name, seconds, peak), flush=True)

    # Checks on the last round's outputs.
    plugin_out = load_output(outputs["plugin"])
    floor_out = load_output(outputs["script_floor"])
    static_out = load_output(outputs["static_yaml"])
    constructed_out = load_output(outputs["fact_cache_constructed"])
    plugin_groups = membership(plugin_out)
    checks = {
        "plugin_equals_script_groups": plugin_groups == membership(floor_out),
        "plugin_equals_script_hostvars": plugin_out["_meta"]["hostvars"] == floor_out["_meta"]["hostvars"],
        "plugin_equals_static_groups": plugin_groups == membership(static_out),
        "plugin_equals_static_hostvars": plugin_out["_meta"]["hostvars"] == static_out["_meta"]["hostvars"],
        "constructed_same_hosts": hosts_of(constructed_out) == hosts_of(plugin_out),
    }
    constructed_groups = membership(constructed_out)
    state_groups = [PREFIX + s for s in STATES]
    checks["constructed_six_state_groups_match"] = all(
        plugin_groups.get(g, []) == constructed_groups.get(g, []) for g in state_groups)
    checks["constructed_all_groups_match"] = plugin_groups == constructed_groups
    print("checks: %s" % json.dumps(checks), flush=True)
    print("state groups (plugin / constructed sizes): %s"
          % ", ".join("%s %d/%d" % (g, len(plugin_groups.get(g, [])), len(constructed_groups.get(g, [])))
                      for g in state_groups), flush=True)

    best = {name: min(values) for name, values in times.items()}
    results = {
        "benchmark": "compliance inventory plugin, ansible-inventory --list",
        "hosts": len(hostvars), "rounds": rounds, "rounds_constructed_and_static": min(rounds, slow_rounds),
        "groups_non_empty": len(plugin_groups),
        "groups_by_kind": {"state": len([g for g in plugin_groups if g in state_groups]),
                           "per_set": len([g for g in plugin_groups
                                           if any(g.startswith(PREFIX + s + "_") for s in set_names)]),
                           "kb": len([g for g in plugin_groups if g.startswith(PREFIX + "kb_")]),
                           "severity": len([g for g in plugin_groups if g.startswith(PREFIX + "severity_")])},
        "host_vars_per_host": max(len(v) for v in hostvars.values()),
        "store": {k: data[k] for k in ("store_mb", "ingest", "mix", "updates_per_scan", "write_seconds",
                                       "ingest_seconds", "spool_empty")},
        "catalog_updates": CATALOG_UPDATES,
        "output_mb": round(os.path.getsize(outputs["plugin"]) / 1e6, 1),
        "seconds_best": {k: round(v, 2) for k, v in best.items()},
        "seconds_all": times,
        "peak_rss_mb": {k: max(v for v in values if v is not None) if any(values) else None
                        for k, values in rss.items()},
        "ratio_plugin_vs_script_floor": round(best["plugin"] / best["script_floor"], 3),
        "goal_ratio_vs_floor_max": GOAL_FLOOR,
        "speedup_vs_fact_cache_constructed": round(best["fact_cache_constructed"] / best["plugin"], 2),
        "goal_speedup_vs_constructed_min": GOAL_CONSTRUCTED,
        "ratio_plugin_vs_static_yaml": round(best["plugin"] / best["static_yaml"], 3),
        "checks": checks,
    }
    results["met_floor"] = results["ratio_plugin_vs_script_floor"] <= GOAL_FLOOR
    results["met_constructed"] = results["speedup_vs_fact_cache_constructed"] >= GOAL_CONSTRUCTED
    if profile:
        print("profiling one plugin run (cProfile) ...", flush=True)
        results["profile"] = profile_plugin(WORK, source)
    with open(os.path.join(os.path.dirname(WORK), "inventory.json"), "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2)
    if not keep:
        shutil.rmtree(WORK, ignore_errors=True)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--hosts", type=int, default=50000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--slow-rounds", type=int, default=2, help="rounds for (b) and (c), the slow sides")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep .build/bench/inventory afterwards")
    options = parser.parse_args()
    print(json.dumps(main(options.hosts, options.rounds, not options.no_profile, options.keep, options.slow_rounds), indent=2))
