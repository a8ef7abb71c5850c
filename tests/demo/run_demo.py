"""`make demo`: the monthly patch wave as far as the project has come.

Step 1: build a realistic, signed offline scan package with the test-data generator, sync it into a
fresh store through the real playbook, sync it again (nothing changes), and show what the catalog
holds through catalog_info. Step 2: start a lab fleet of simulated Windows hosts behind a real
WinRM endpoint, scan them all with the scan_compliance playbook over WinRM, scan again (unforced,
inside the TTL: skipped). Step 3: evaluate every host's compliance from the store
(compliance_info), list the groups the compliance inventory plugin builds beside the fleet's own
inventory, and write the HTML/CSV/JSON report with the report_compliance playbook. Step 4: freeze
the month's update list from rules and write a pilot and a broad deployment from one template
(prepare_updates). Step 5: download the list's files from a local content source (nginx on loopback,
through mirror_url) into the content library, stage them on a distribution point (a private Samba
share when this machine can run one, else a folder), attach package and point to the deployments,
and run it all again to show that nothing is downloaded or copied twice. Step 6:
the month's patch wave's install step (the patch_wave playbook) on the lab fleet over WinRM: the pilot
ring, a health gate, the broad ring, content from the distribution point, restarts by policy, one host
whose installs fail, one that does not come back from its restart, three outside their maintenance
windows; a summary per ring, and compliance for the list before and after. Then the report again,
into the same folder, now with its section "Deployments and waves" (checked against wave_info).
"""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, ".build", "collections"))

from tests.catalog_gen import generate  # noqa: E402
from tests.catalog_gen.signing import make_test_ca  # noqa: E402

DEMO = os.path.join(REPO, "demo")
BIN = os.path.dirname(sys.executable)
UPDATES = int(os.environ.get("PATCHWAVE_DEMO_UPDATES", "6000"))
HOSTS = int(os.environ.get("PATCHWAVE_DEMO_HOSTS", "24"))


def ansible(*args, inventory="localhost,", local=True, check=True):
    """Run ansible-playbook; ``inventory`` is one source or a list of sources. ``check``: a failed run ends
    the demo (else its output is returned all the same: a halted wave fails its play)."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".build", "collections"),
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_NOCOLOR="1",
               ANSIBLE_DISPLAY_SKIPPED_HOSTS="0")
    sources = [inventory] if isinstance(inventory, str) else list(inventory)
    done = subprocess.run([os.path.join(BIN, "ansible-playbook")] + [a for s in sources for a in ("-i", s)]
                          + (["-c", "local"] if local else [])
                          + ["-f", "25"] + list(args),
                          env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0 and check:
        sys.stdout.write(done.stdout + done.stderr)
        raise SystemExit("demo: ansible-playbook failed (exit %d)" % done.returncode)
    return done.stdout


def debug_messages(output):
    """The single-line `msg` values that the debug tasks printed."""
    return [json.loads(line.strip()[len('"msg":'):]) for line in output.splitlines()
            if line.strip().startswith('"msg": "')]


def print_summary(answers):
    everything = answers["everything"]["updates"]
    categories = answers["categories"]["updates"]
    current = answers["current"]["updates"]
    products = [c for c in categories if c["category_type"] == "Product"]
    superseded = sum(1 for u in everything if u["superseded_by"])
    print()
    print("catalog version %s holds %d deployable software updates (%d superseded), %d products, %d classifications"
          % (answers["current"]["catalog_version"], len(everything), superseded, len(products),
             sum(1 for c in categories if c["category_type"] == "UpdateClassification")))
    print()
    print("%-46s %8s %8s  %s" % ("product", "updates", "current", "newest current security update"))
    for product in sorted(products, key=lambda p: p["title"]):
        mine = [u for u in everything if any(p["id"] == product["update_id"] for p in u["products"])]
        if not mine:
            continue
        fresh = [u for u in current if any(p["id"] == product["update_id"] for p in u["products"])]
        newest = max(fresh, key=lambda u: u["release_date"] or "", default=None)
        print("%-46s %8d %8d  %s" % (product["title"][:46], len(mine), len(fresh),
                                     "%s (KB%s, %s)" % (newest["release_date"][:10], newest["kb"], newest["msrc_severity"])
                                     if newest else "-"))
    print()


def scan_fleet(store):
    """Step 2: scan a lab fleet over WinRM and show each host's result."""
    from tests.lab.profiles import FleetProfile

    print("== step 2, compliance scan of %d simulated Windows hosts over WinRM (NTLM, message encryption)" % HOSTS)
    spool = os.path.join(DEMO, "spool")
    profile = FleetProfile(store, seed=7, time_scale=0.05)
    with profile.fleet(HOSTS, auth="ntlm") as fleet:
        inventory = fleet.write_inventory(os.path.join(DEMO, "lab-inventory.yml"))
        names = [fleet.host_name(index) for index in range(1, HOSTS + 1)]
        variables = "scan_compliance_store=%s scan_compliance_spool=%s scan_compliance_poll_interval=0.5" % (store, spool)
        started = time.time()
        output = ansible("patchwave.windows.scan_compliance", "-e", variables, inventory=inventory, local=False)
        print("first scan: %s in %.0f s" % (recap(output), time.time() - started))
        output = ansible("patchwave.windows.scan_compliance", "-e", variables, inventory=inventory, local=False)
        print("second scan (unforced, inside the 24 h TTL, same catalog version): %s" % recap(output))
    return inventory, spool, profile, names


def evaluate_fleet(store, spool, profile, hosts):
    """Step 3: compliance of every host, from the store, through compliance_info."""
    print("== step 3, compliance evaluation (Required / Not Required / Installed / Unknown)")
    answer = os.path.join(DEMO, "compliance.json")
    ansible(os.path.join(REPO, "tests", "demo", "compliance_summary.yml"), "-e",
            json.dumps({"store": store, "spool": spool, "out": answer, "fleet_hosts": hosts + ["win-new01"]}))
    with open(answer, encoding="utf-8") as handle:
        info = json.load(handle)
    print("catalog version %s; a host the store has never seen (win-new01) is Unknown" % info["catalog_version"])
    print()
    columns = ("host", "profile", "platform", "all updates", "required", "installed", "not req.", "unknown",
               "security set")
    print("%-9s %-9s %-18s %-14s %8s %9s %8s %8s  %s" % columns)
    for index, name in enumerate(hosts + ["win-new01"], start=1):
        report = info["hosts"][name]
        counts = report["sets"]["all"]["counts"]
        state = profile.host_state(index) if name != "win-new01" else None
        print("%-9s %-9s %-18s %-14s %8d %9d %8d %8d  %s%s" % (
            name, state.profile[:9] if state else "-", state.platform.key[:18] if state else "-",
            report["compliance"], counts["required"], counts["installed"], counts["not_required"], counts["unknown"],
            report["sets"]["security"]["compliance"], " (reboot pending)" if report["pending_reboot"] else ""))
    print()
    for line in figure_lines(info_figures(info["update_sets"])):
        print(line)
    print()
    print("most required security updates (hosts: required / installed / not required / unknown):")
    for update in info["update_sets"]["security"]["updates"]:
        hosts_by_state = update["hosts"]
        print("  KB%-8s %-60s %3d / %3d / %3d / %3d" % (
            update["kb"], (update["title"] or "")[:60], hosts_by_state["required"], hosts_by_state["installed"],
            hosts_by_state["not_required"], hosts_by_state["unknown"]))
    print()
    return info


def info_figures(update_sets):
    """Per set, the figures compliance_info returns (``update_sets``), in the shape ``figure_lines`` prints."""
    return {name: {"updates": entry["update_count"], "hosts": entry["hosts"],
                   "percent_hosts_compliant": entry["percent_hosts_compliant"], "pairs": entry["pairs"],
                   "percent_pairs_compliant": entry["percent_pairs_compliant"]} for name, entry in update_sets.items()}


def report_figures(data):
    """Per set, the same figures from the report's JSON (``compliance.json``)."""
    return {name: {"updates": entry["updates"], "hosts": entry["summary"],
                   "percent_hosts_compliant": entry["percent_hosts_compliant"], "pairs": entry["state_totals"],
                   "percent_pairs_compliant": entry["percent_pairs_compliant"]} for name, entry in data["sets"].items()}


def figure_lines(figures):
    """One line per set: the headline (hosts compliant / hosts) first, then the pairs, named as pairs."""
    lines = []
    for name in sorted(figures, key=lambda n: (n != "all", n)):
        entry = figures[name]
        hosts = entry["hosts"]
        share = entry["percent_hosts_compliant"]
        lines.append("set %-9s %5d updates: %s of hosts compliant (%d of %d; non-compliant %d, unknown %d); "
                     "host x update pairs: %.1f%% installed or not required" % (
                         name, entry["updates"], "-" if share is None else "%.1f%%" % share, hosts["compliant"],
                         sum(hosts.values()), hosts["non_compliant"], hosts["unknown"],
                         entry["percent_pairs_compliant"]))
    return lines


def compliance_groups(store, spool, inventory):
    """The compliance inventory plugin beside the fleet's own inventory: groups for the next play."""
    print("== inventory: patchwave.windows.compliance groups the fleet by compliance state")
    source = os.path.join(DEMO, "fleet.compliance.yml")
    with open(source, "w", encoding="utf-8") as handle:
        handle.write("plugin: patchwave.windows.compliance\nstore: %s\nspool: %s\nadd_store_hosts: false\n"
                     "update_sets:\n  - name: security\n    classifications: [Security Updates]\n"
                     "    superseded: false\nkb_groups: true\n" % (store, spool))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".build", "collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_INVENTORY_ENABLED="yaml,ini,patchwave.windows.compliance")
    done = subprocess.run([os.path.join(BIN, "ansible-inventory"), "-i", inventory, "-i", source, "--list"],
                          env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stdout.write(done.stdout + done.stderr)
        raise SystemExit("demo: ansible-inventory failed (exit %d)" % done.returncode)
    listing = json.loads(done.stdout)
    groups = sorted((name, len(value.get("hosts", []))) for name, value in listing.items()
                    if name.startswith("patchwave_") and value.get("hosts"))
    print("ansible-inventory -i %s -i %s:" % (os.path.relpath(inventory, REPO), os.path.relpath(source, REPO)))
    kb_groups = [name for name, _count in groups if name.startswith("patchwave_kb_")]
    for name, count in groups:
        if name not in kb_groups:
            print("  %-40s %3d hosts" % (name, count))
    print("  and %d groups of hosts missing one KB (patchwave_kb_<number>)" % len(kb_groups))
    print("a play can now target e.g. hosts: patchwave_security_non_compliant")
    print()


def report(store, spool, inventory, info):
    """The report: the report_compliance playbook over the fleet's inventory, written on the controller,
    for the hosts compliance_info reported (the fleet and win-new01), so it gives the same figures."""
    print("== report: HTML dashboard, CSV and JSON (report_compliance playbook)")
    dest = os.path.join(DEMO, "report")
    variables = {"report_compliance_store": store, "report_compliance_spool": spool, "report_compliance_dest": dest,
                 "report_compliance_title": "Lab fleet, monthly patch wave",
                 "report_compliance_update_sets": [{"name": "security", "classifications": ["Security Updates"],
                                                    "superseded": False}]}
    variables["report_compliance_hosts"] = sorted(info["hosts"])
    output = ansible("patchwave.windows.report_compliance", "-e", json.dumps(variables), inventory=inventory,
                     local=False)
    print(" ".join(debug_messages(output)))
    with open(os.path.join(dest, "compliance.json"), encoding="utf-8") as handle:
        figures = report_figures(json.load(handle))
    for line in figure_lines(figures):
        print(line)
    expected = info_figures(info["update_sets"])
    if figures != expected:
        raise SystemExit("demo: the report's figures differ from compliance_info's for the same hosts:\n%s\n%s"
                         % ("\n".join(figure_lines(figures)), "\n".join(figure_lines(expected))))
    print("the same figures as compliance_info's above (same store, same %d hosts)" % len(info["hosts"]))
    print("open it: file://%s" % os.path.join(dest, "compliance.html"))
    print()


def report_after_wave(store, spool, inventories, hosts, wave_info):
    """The report again after the wave, into the same folder: its section "Deployments and waves" must show
    the wave as wave_info does; printed per ring and per deployment."""
    print("== report after the wave: the same report, now with its deployments and waves")
    dest = os.path.join(DEMO, "report")
    variables = {"report_compliance_store": store, "report_compliance_spool": spool, "report_compliance_dest": dest,
                 "report_compliance_title": "Lab fleet, monthly patch wave", "report_compliance_hosts": hosts,
                 "report_compliance_update_sets": [{"name": "security", "classifications": ["Security Updates"],
                                                    "superseded": False}]}
    output = ansible("patchwave.windows.report_compliance", "-e", json.dumps(variables), inventory=inventories,
                     local=False)
    print(" ".join(debug_messages(output)))
    with open(os.path.join(dest, "compliance.json"), encoding="utf-8") as handle:
        data = json.load(handle)
    shown = next(w for w in data["waves"] if w["name"] == wave_info["name"])
    figures = [(r["name"], r["state"], r["counts"]) for r in shown["rings"]]
    if figures != [(r["name"], r["state"], r["counts"]) for r in wave_info["rings"]] \
            or (shown["state"], shown["halt_reason"]) != (wave_info["state"], wave_info["halt_reason"]):
        raise SystemExit("demo: the report's wave differs from wave_info's:\n%s\n%s" % (
            json.dumps(figures), json.dumps([(r["name"], r["state"], r["counts"]) for r in wave_info["rings"]])))
    print("wave %s: %s; rings %s (the same as wave_info's)" % (shown["name"], shown["state"], ", ".join(
        "%s %s" % (r["name"], r["state"]) for r in shown["rings"])))
    for deployment in data["deployments"]:
        counts = deployment["counts"]
        reasons = {}
        for entry in deployment["hosts"].values():
            if entry["reason"] and entry["reason"] != "not_targeted":
                key = "%s: %s" % (entry["state"].replace("_", " "), entry["reason"].replace("_", " "))
                reasons[key] = reasons.get(key, 0) + 1
        print("deployment %-8s list %s v%s: %s%s" % (
            deployment["name"], deployment["update_list"], deployment["list_version"],
            ", ".join("%s %d" % (state.replace("_", " "), n) for state, n in counts.items() if n) or "no host",
            " (%s)" % ", ".join("%s %d" % item for item in sorted(reasons.items())) if reasons else ""))
        for host, entry in sorted(deployment["hosts"].items()):
            for failure in entry["failures"][:1]:
                print("  %s: %s %s %s" % (host, failure["kb"] or failure["update_id"], failure["state"],
                                          "%s %s" % (failure["hresult"]["code"], failure["hresult"]["name"])
                                          if failure["hresult"] else failure["message"] or ""))
    print("open it: file://%s (section 'Deployments and waves'); CSV: %s" % (
        os.path.join(dest, "compliance.html"), os.path.join(dest, "compliance_deployments.csv")))
    print()


def debug_lines(output):
    """The lines of every list-valued `msg` the debug tasks printed (ansible's default callback)."""
    lines, inside = [], False
    for line in output.splitlines():
        stripped = line.strip()
        if stripped == '"msg": [':
            inside = True
        elif inside and stripped.startswith("]"):
            inside = False
        elif inside:
            lines.append(json.loads(stripped.rstrip(",")))
    return lines


MONTH = {
    "prepare_updates_lists": [{
        "name": "security-monthly", "description": "security and critical updates required somewhere in the fleet",
        "classifications": ["Security Updates", "Critical Updates"], "released_days_ago_min": 0,
        "required_min_hosts": 1}],
    "prepare_updates_templates": [{"name": "monthly", "deadline_offset": "+7d", "deadline_randomization_minutes": 60,
                                   "reboot": "if_required", "content_source": "distribution_point"}],
    "prepare_updates_deployments": [{"name": "pilot", "targets": ["pilot"], "template": "monthly"},
                                    {"name": "broad", "targets": ["broad"], "template": "monthly", "available": "+2d"},
                                    {"name": "wave", "targets": ["pilot", "broad"], "template": "monthly"}],
}


def rings(hosts):
    """An inventory of the rings beside the lab's: the first four hosts given are the pilot, the rest broad."""
    path = os.path.join(DEMO, "rings.yml")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"all": {"children": {"pilot": {"hosts": {h: {} for h in hosts[:4]}},
                                        "broad": {"hosts": {h: {} for h in hosts[4:]}}}}}, handle)
    return path


def prepare(store, inventory, hosts, extra=None):
    """Step 4: the prepare_updates playbook (lists frozen, templates and deployments written)."""
    variables = dict(MONTH, prepare_updates_store=store, **(extra or {}))
    output = ansible("patchwave.windows.prepare_updates", "-e", json.dumps(variables),
                     inventory=[inventory, rings(hosts)], local=False)
    for line in debug_lines(output):
        print("  " + line)
    print("  (%s)" % recap(output))


def distribute(store, payloads, stack):
    """Step 5: the distribute_content playbook against loopback nginx and a Samba share (or a folder).

    Returns the point's name and how the lab hosts reach it: ``{UNC prefix: (server, port, share, user,
    password)}`` for the Samba share (a UNC path carries no port, so the lab maps it), none for the
    folder, which a second nginx publishes as the point's host_url. The servers stay up (``stack``)
    for step 6."""
    from tests.servers import samba
    from tests.servers.http import Nginx

    point = {"name": "branch-dp", "type": "path", "path": os.path.join(DEMO, "distribution-point")}
    variables = {"distribute_content_store": store,
                 "distribute_content_packages": [{"name": "security-2026-12", "update_list": "security-monthly"}],
                 "distribute_content_offline_scan_file": True}
    reason = samba.available()
    mounts = {}
    server = stack.enter_context(Nginx(payloads))
    variables["distribute_content_mirror_url"] = server.url("/")
    print("content source: nginx on %s serving the catalog's files (the catalog names "
          "download.windowsupdate.com; mirror_url points the downloads here)" % server.url("/"))
    if reason is None:
        smb = stack.enter_context(samba.private_server(encrypt="if_required"))
        point = {"name": "branch-dp", "type": "smb", "server": smb.host, "port": smb.port, "share": smb.share,
                 "folder": "WsusContent", "host_url": "\\\\dp.lab.example\\content\\WsusContent"}
        variables.update(distribute_content_username=smb.username, distribute_content_password=smb.password)
        # the lab hosts read the point's UNC host_url from this Samba, with its credentials
        mounts["\\\\dp.lab.example\\content"] = (smb.host, smb.port, smb.share, smb.username, smb.password)
        print("distribution point: a private Samba share on 127.0.0.1:%d (signing required)" % smb.port)
    else:
        os.makedirs(point["path"])
        published = stack.enter_context(Nginx(point["path"]))
        point["host_url"] = published.url("/")
        print("distribution point: the folder %s, published by nginx on %s (no Samba here: %s)"
              % (os.path.relpath(point["path"], REPO), published.url("/"), reason))
    variables["distribute_content_points"] = [point]
    for attempt in ("first run", "second run (nothing new)"):
        output = ansible("patchwave.windows.distribute_content", "-e", json.dumps(variables))
        print(attempt + ":")
        for line in debug_lines(output):
            print("  " + line)
    return point["name"], mounts, server


def deployed_compliance(store, spool, hosts):
    """``{host: compliance}`` of the hosts for the wave's list version (compliance_info over the list)."""
    answer = os.path.join(DEMO, "wave-compliance.json")
    ansible(os.path.join(REPO, "tests", "demo", "deployed_compliance.yml"), "-e", json.dumps({
        "store": store, "spool": spool, "fleet_hosts": hosts, "update_list": "security-monthly", "out": answer}))
    with open(answer, encoding="utf-8") as handle:
        info = json.load(handle)
    return {host: info["hosts"][host]["sets"]["wave"]["compliance"] for host in hosts}


def wave(store, spool, profile, names, rings_inventory, mounts, health_url):
    """Step 6: the patch wave's install step on a lab fleet: the pilot ring, its health gate, the broad ring."""
    from tests.lab.hosts import wua_host

    print("== step 6, the patch wave: the pilot ring (%s), a health gate, the broad ring (%d hosts)"
          % (", ".join(names[:4]), len(names) - 4))
    before = deployed_compliance(store, spool, names)
    with profile.fleet(HOSTS, auth="ntlm") as fleet:
        for host in fleet.hosts:
            for prefix, share in mounts.items():
                wua_host(host.model).fs.mount_smb(prefix, *share)
        inventory = fleet.inventory()
        hosts = inventory["all"]["children"]["windows"]["hosts"]
        # the third pilot host and two broad hosts keep Saturday nights only: outside their window now
        saturday = [{"name": "saturday-night", "start": "22:00", "duration_minutes": 240,
                     "recurrence": {"frequency": "weekly", "days": ["saturday"]},
                     "effective": time.strftime("%Y-%m-%d", time.gmtime(time.time() + 2 * 86400))}]
        for name in (names[2], names[10], names[11]):
            hosts[name]["patchwave_maintenance_windows"] = saturday
        path = os.path.join(DEMO, "lab-inventory-wave.yml")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(inventory, handle)
        # the second pilot host's updates fail to install (WU_E_INSTALL_NOT_ALLOWED); a broad host does not
        # come back from its restart
        fleet.host(names[1]).backend.set_faults(install_hresult={"*": 0x80240016})
        fleet.host(names[6]).backend.set_faults(never_returns=True)
        variables = {"patchwave_wave_start_at": "install", "patchwave_wave_report": False,
                     "patchwave_wave": "2026-12", "patchwave_wave_deployment": "wave", "patchwave_store": store,
                     "install_updates_spool": spool, "install_updates_poll_interval": 0.5,
                     "install_updates_reboot_timeout": 20,
                     "patchwave_health_checks": [{"url": health_url, "timeout": 10}],
                     "patchwave_rings": [{"name": "pilot", "hosts": "pilot", "serial": 4, "failure_budget": 1},
                                         {"name": "broad", "hosts": "broad", "serial": "50%",
                                          "failure_budget": "10%"}]}
        extra = os.path.join(DEMO, "wave.json")
        with open(extra, "w", encoding="utf-8") as handle:
            json.dump(variables, handle)
        started = time.time()
        output = ansible("patchwave.windows.patch_wave", "-e", "@" + extra, inventory=[path, rings_inventory],
                         local=False, check=False)
        seconds = time.time() - started
    answer = os.path.join(DEMO, "wave-info.json")
    ansible(os.path.join(REPO, "tests", "demo", "wave_summary.yml"), "-e", json.dumps({
        "store": store, "wave": "2026-12", "out": answer}))
    with open(answer, encoding="utf-8") as handle:
        info = json.load(handle)["waves"][0]
    print("wave %s (list %s version %s): %s in %.0f s (%s)"
          % (info["name"], info["update_list"], info["list_version"], info["state"], seconds, recap(output)))
    if info.get("halt_reason"):
        print("halted: %s" % info["halt_reason"])
    columns = ("compliant", "installed_pending_restart", "waiting_for_window", "failed", "update_loop",
               "did_not_return", "unreachable", "not_run")
    print("  %-6s %-8s %s" % ("ring", "state", "  ".join("%s" % c for c in columns)))
    for ring in info["rings"]:
        counts = ring["counts"]
        print("  %-6s %-8s %s" % (ring["name"], ring["state"], "  ".join(
            "%*d" % (len(c), counts.get(c, 0)) for c in columns)))
    for ring in info["rings"]:
        for host in ring["host_results"]:
            if host["outcome"] not in ("compliant", None):
                print("  %s (%s): %s%s" % (host["host"], ring["name"], host["outcome"],
                                           ": " + host["msg"][:100] if host.get("msg") else ""))
    after = deployed_compliance(store, spool, names)
    for label, states in (("before", before), ("after", after)):
        print("compliance for the wave's list version %s: %d compliant, %d non-compliant, %d unknown of %d hosts"
              % (label, sum(1 for v in states.values() if v == "compliant"),
                 sum(1 for v in states.values() if v == "non_compliant"),
                 sum(1 for v in states.values() if v == "unknown"), len(states)))
    hidden = sorted(h["host"] for ring in info["rings"] for h in ring["host_results"]
                    if h["outcome"] == "compliant" and after.get(h["host"]) != "compliant")
    if hidden:
        print("(%s: compliant for the install, an update of the list hidden on the host stays Required; "
              "docs/install.md)" % ", ".join(hidden))
    print("run it again to resume the wave: the compliant hosts are not installed again")
    print()
    return info, path


def recap(output):
    """ok/changed/failed/unreachable totals of a playbook run."""
    totals = {"ok": 0, "changed": 0, "unreachable": 0, "failed": 0, "skipped": 0}
    hosts = 0
    for line in output.splitlines():
        if ": ok=" in line:
            hosts += 1
            for part in line.split(":", 1)[1].split():
                key, _sep, value = part.partition("=")
                if key in totals:
                    totals[key] += int(value)
    return "%d host%s, %d changed, %d failed, %d unreachable" % (
        hosts, "" if hosts == 1 else "s", totals["changed"], totals["failed"], totals["unreachable"])


def main():
    shutil.rmtree(DEMO, ignore_errors=True)
    os.makedirs(DEMO)
    store = os.path.join(DEMO, "patchwave.db")
    cab = os.path.join(DEMO, "wsusscn2.cab")
    print("== patchwave.windows demo: step 1, catalog sync")
    ca = make_test_ca(os.path.join(DEMO, "test-ca"))
    payloads = os.path.join(DEMO, "payloads")
    manifest = generate("offline_scan", cab, updates=UPDATES, sign_ca_dir=ca["dir"], payloads_dir=payloads,
                        payload_layout="url", manifest_path=os.path.join(DEMO, "manifest.json"))
    print("generated %s: %d updates, %d MB, signed by the demo's test CA"
          % (os.path.relpath(cab, REPO), manifest["total_updates"], os.path.getsize(cab) // (1 << 20)))

    variables = "sync_catalog_src=%s sync_catalog_store=%s sync_catalog_trusted_ca_file=%s" % (cab, store, ca["ca_file"])
    for attempt in ("first sync", "second sync (nothing new: no catalog version, changed=0)"):
        output = ansible("patchwave.windows.sync_catalog", "-e", variables)
        print("%s: %s" % (attempt, " ".join(debug_messages(output))))

    answers = os.path.join(DEMO, "catalog_summary.json")
    ansible(os.path.join(REPO, "tests", "demo", "catalog_summary.yml"), "-e", "store=%s out=%s" % (store, answers))
    with open(answers, encoding="utf-8") as handle:
        print_summary(json.load(handle))
    print("store: %s" % os.path.relpath(store, REPO))
    inventory, spool, profile, names = scan_fleet(store)
    info = evaluate_fleet(store, spool, profile, names)
    compliance_groups(store, spool, inventory)
    report(store, spool, inventory, info)
    print("== step 4, preparation: the month's update list frozen from rules, a pilot and a broad deployment")
    # the pilot ring: four hosts that are behind (a ring of fully patched hosts would show nothing)
    behind = [name for index, name in enumerate(names, 1) if profile.host_state(index).profile != "current"]
    names = behind[:4] + [name for name in names if name not in behind[:4]]
    prepare(store, inventory, names)
    print()
    print("== step 5, content: the package downloaded, verified and staged on a distribution point")
    with contextlib.ExitStack() as stack:
        point, mounts, content_server = distribute(store, payloads, stack)
        print("the deployments now name the package and the distribution point (the list is not frozen again):")
        prepare(store, inventory, names, {"prepare_updates_package": "security-2026-12",
                                          "prepare_updates_distribution_points": [point]})
        print()
        health = os.path.join(payloads, "health.txt")
        with open(health, "w", encoding="utf-8") as handle:
            handle.write("ok\n")
        wave_info, wave_inventory = wave(store, spool, profile, names, os.path.join(DEMO, "rings.yml"), mounts,
                                         content_server.url("/health.txt"))
    report_after_wave(store, spool, [wave_inventory, os.path.join(DEMO, "rings.yml")], sorted(info["hosts"]), wave_info)
    print("query it: ANSIBLE_COLLECTIONS_PATH=.build/collections .venv/bin/ansible localhost -m "
          "patchwave.windows.catalog_info -a 'store=%s kbs=%s'" % (os.path.relpath(store, REPO),
                                                                   manifest["kb_range"][1]))


if __name__ == "__main__":
    main()
