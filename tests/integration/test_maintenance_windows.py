"""Maintenance windows as users meet them: ``maintenance_window_info`` through ``ansible-playbook`` with the
windows of a host's group variables merged (the module's EXAMPLES expression), check mode, a bad definition
failing with the window and the field named; and the compliance inventory's ``patchwave_in_window`` group
through ``ansible-inventory`` beside a YAML inventory."""

import json
import os
import subprocess

from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_runs import BIN, ansible_env, save
from test_module_returns import ReturnChecker

# Two touching halves of every day: merged, always open; a one-off long past: never open.
ALWAYS = [{"name": "morning", "start": "00:00", "duration_minutes": 720, "recurrence": {"frequency": "daily"}},
          {"name": "evening", "start": "12:00", "duration_minutes": 720, "recurrence": {"frequency": "daily"}}]
PAST_UPDATES = [{"name": "y2020", "start": "01:00", "duration_minutes": 60, "date": "2020-01-01",
                 "applies_to": "software_updates"}]
SAT = {"name": "sat-night", "timezone": "Europe/Berlin", "start": "22:00", "duration_minutes": 240,
       "recurrence": {"frequency": "weekly", "days": ["saturday"]}}
SQL = {"name": "sql-extra", "start": "23:00", "duration_minutes": 300, "date": "2026-12-05"}


def inventory_yaml(tmp_path):
    """win01 in site and sql (two window variables merged), win02 with windows only in the past for updates,
    win03 without windows."""
    path = tmp_path / "hosts.yml"
    path.write_text(json.dumps({"all": {"children": {
        "site": {"hosts": {"win01": None}, "vars": {"patchwave_maintenance_windows_site": [SAT]}},
        "sql": {"hosts": {"win01": None}, "vars": {"patchwave_maintenance_windows_sql": [SQL]}},
        "always": {"hosts": {"win02": None, "win04": None},
                   "vars": {"patchwave_maintenance_windows_always": ALWAYS}},
        "updates_in_the_past": {"hosts": {"win02": None},
                                "vars": {"patchwave_maintenance_windows_updates": PAST_UPDATES}},
        "plain": {"hosts": {"win03": None}}},
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}))
    return str(path)


WINDOWS = "{{ q('ansible.builtin.vars', *q('ansible.builtin.varnames', '^patchwave_maintenance_windows')) | flatten }}"


def play(tmp_path, tasks, check=False, expect_rc=0):
    playbook = tmp_path / "play.yml"
    playbook.write_text("- hosts: win01\n  gather_facts: false\n  tasks:\n" + tasks)
    command = [os.path.join(BIN, "ansible-playbook"), "-i", inventory_yaml(tmp_path), str(playbook),
               "-e", json.dumps({"results_dir": str(tmp_path)})] + (["--check"] if check else [])
    done = subprocess.run(command, env=ansible_env(tmp_path), capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == expect_rc, done.stdout[-6000:] + done.stderr[-3000:]
    return done


def info_task(name, options):
    return ("    - name: %s\n      patchwave.windows.maintenance_window_info:\n%s      delegate_to: localhost\n"
            "      register: %s\n      ignore_errors: true\n" % (
                name, "".join("        %s: %s\n" % (k, v if k == "windows" else json.dumps(v))
                              for k, v in options.items()), name) + save(name, name))


def read(tmp_path, name):
    return json.loads((tmp_path / ("%s.json" % name)).read_text())


def test_the_module_through_ansible_playbook(tmp_path):
    tasks = (info_task("inside", {"windows": json.dumps(WINDOWS), "at": "2026-12-05T23:30:00Z", "count": 2})
             + info_task("outside", {"windows": json.dumps(WINDOWS), "at": "2026-12-06T04:00:00Z", "count": 1})
             + info_task("bad", {"windows": json.dumps([dict(SAT, timezone="Europe/Atlantis")])})
             + info_task("local", {"windows": json.dumps([dict(SAT, timezone="local")])})
             + info_task("no_windows", {"windows": "[]"}))
    for check in (False, True):
        play(tmp_path, tasks, check=check)
        inside = read(tmp_path, "inside")
        assert inside["changed"] is False and inside["in_window"] is True
        assert inside["current"] == {"name": "sat-night", "names": ["sat-night", "sql-extra"],
                                     "start": "2026-12-05T21:00:00Z", "end": "2026-12-06T04:00:00Z",
                                     "remaining_minutes": 270}
        assert inside["next"] == [
            {"name": "sat-night", "names": ["sat-night"], "start": "2026-12-12T21:00:00Z", "end": "2026-12-13T01:00:00Z"},
            {"name": "sat-night", "names": ["sat-night"], "start": "2026-12-19T21:00:00Z", "end": "2026-12-20T01:00:00Z"}]
        outside = read(tmp_path, "outside")
        assert outside["in_window"] is False and outside["current"] is None
        assert [w["start"] for w in outside["next"]] == ["2026-12-12T21:00:00Z"]
        bad = read(tmp_path, "bad")
        assert bad["failed"] is True
        assert bad["msg"].startswith("window 'sat-night': timezone: unknown time zone 'Europe/Atlantis'")
        local = read(tmp_path, "local")
        assert local["failed"] is True and "timezone: 'local' needs the host's zone" in local["msg"]
        none = read(tmp_path, "no_windows")
        assert none["in_window"] is True and none["current"] is None and none["next"] == []

    # every result held to the RETURN docs, and every documented key seen with a value
    checker = ReturnChecker("maintenance_window_info")
    checker.check_samples()
    for name in ("inside", "outside", "bad", "local", "no_windows"):
        checker.check(read(tmp_path, name), name)
    assert not checker.problems, "\n".join(checker.problems)
    assert not checker.unseen()


def test_the_inventory_group(tmp_path):
    address = str(tmp_path / "store.db")
    open_store(address).close()
    source = tmp_path / "fleet.compliance.yml"
    source.write_text("plugin: patchwave.windows.compliance\nstore: %s\nspool: %s\nadd_store_hosts: false\n"
                      % (address, tmp_path / "spool"))
    done = subprocess.run([os.path.join(BIN, "ansible-inventory"), "-i", inventory_yaml(tmp_path), "-i", str(source),
                           "--list"], env=ansible_env(tmp_path), capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    listing = json.loads(done.stdout)
    # win04: always open; win03: no windows; win02: its software-updates window (long past) is the only one
    # that counts for updates; win01: depends on the time of the run, so not asserted
    members = set(listing["patchwave_in_window"].get("hosts", []))
    assert {"win03", "win04"} <= members and "win02" not in members
