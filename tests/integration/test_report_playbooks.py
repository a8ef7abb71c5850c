"""compliance_report through ansible-playbook (check mode, idempotence, diff, new state messages), the
report_compliance role and playbook, and the HTML rendered by a real browser (Debian's chromium)."""

import datetime
import json
import os
import shutil
import struct
import subprocess
import tempfile
import zlib

import pytest
from ansible_runs import BIN, REPO, ansible_env, save

from tests.compliance_data import fleet_in_store

FILES = ("compliance.html", "compliance.csv", "compliance_deployments.csv", "compliance.json")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-quic")


@pytest.fixture
def fleet_store(tmp_path):
    """A SQLite store with a catalog and 40 hosts' scans; returns (store path, spool, fleet, hosts)."""
    path = str(tmp_path / "store" / "patchwave.db")
    spool = str(tmp_path / "store" / "spool")
    with fleet_in_store(path, spool, updates=60, hosts=40, seeds=(7, 8)) as (_store, fleet, hosts, _counts):
        return path, spool, fleet, hosts


def report_task(extra=""):
    return ("    - name: report\n      patchwave.windows.compliance_report:\n        dest: \"{{ dest }}\"\n"
            "        store: \"{{ store }}\"\n        spool: \"{{ spool }}\"\n        hosts: \"{{ hosts }}\"\n"
            "        update_sets:\n          - name: critical\n            severities: [Critical]\n"
            "          - name: everything\n        title: \"{{ title | default('Fleet') }}\"\n" + extra +
            "      register: report\n" + save("report", "report"))


def test_check_mode_idempotence_diff_and_new_messages(runner, tmp_path, fleet_store):
    store, spool, fleet, hosts = fleet_store
    dest = tmp_path / "reports"
    variables = {"dest": str(dest), "store": store, "spool": spool, "hosts": hosts + ["never-seen"],
                 "results_dir": str(runner.results)}

    runner.play(report_task(), variables, check=True)
    predicted = runner.result("report")
    assert predicted["changed"] is True
    assert sorted(os.path.basename(p) for p in predicted["changed_files"]) == sorted(FILES)
    assert not dest.exists(), "check mode writes nothing"

    runner.play(report_task(), variables)
    first = runner.result("report")
    assert first["changed"] is True and len(first["changed_files"]) == 4
    assert sorted(os.listdir(str(dest))) == sorted(FILES), "no temporary files are left"
    assert first["files"] == dict({fmt: str(dest / ("compliance." + fmt)) for fmt in ("html", "csv", "json")},
                                  csv_deployments=str(dest / "compliance_deployments.csv"))
    assert first["deployments"] == {} and first["waves"] == []
    assert first["host_count"] == 41 and first["host_statuses"]["never_scanned"] >= 1
    assert set(first["sets"]) == {"all", "critical", "everything"}
    assert first["sets"]["all"]["updates"] == 60
    assert first["sets"]["everything"]["updates"] == 60
    assert sum(first["overall"]["hosts"].values()) == 41
    assert first["catalog_version"] == 3
    stamps = {name: os.stat(str(dest / name)).st_mtime_ns for name in FILES}

    runner.play(report_task(), variables)
    second = runner.result("report")
    assert second["changed"] is False and second["changed_files"] == []
    assert {name: os.stat(str(dest / name)).st_mtime_ns for name in FILES} == stamps, "nothing rewritten"

    # Diff mode in check mode: another title changes the HTML and the JSON, not the CSV.
    runner.play(report_task("      diff: true\n"), dict(variables, title="Another title"), check=True)
    predicted = runner.result("report")
    assert predicted["changed"] is True
    assert sorted(os.path.basename(p) for p in predicted["changed_files"]) == ["compliance.html", "compliance.json"]
    diffs = sorted(os.path.basename(d["after_header"]) for d in predicted["diff"])
    assert diffs == ["compliance.html", "compliance.json"]
    assert {name: os.stat(str(dest / name)).st_mtime_ns for name in FILES} == stamps

    # A new state message in the spool is ingested first and changes the report.
    fleet.add_scan(spool, "never-seen", datetime.datetime.now(datetime.timezone.utc), 3)
    runner.play(report_task(), variables)
    third = runner.result("report")
    assert third["ingested"]["ingested"] == 1
    assert third["changed"] is True
    assert third["host_statuses"]["never_scanned"] == first["host_statuses"]["never_scanned"] - 1
    assert "never-seen" in (dest / "compliance.csv").read_text()


def test_formats_basename_and_bad_arguments(runner, tmp_path, fleet_store):
    store, spool, hosts = fleet_store[0], fleet_store[1], fleet_store[3]
    dest = tmp_path / "only-csv"
    variables = {"dest": str(dest), "store": store, "spool": spool, "hosts": hosts,
                 "results_dir": str(runner.results)}
    runner.play(report_task("        formats: [csv]\n        basename: weekly\n        history_days: 0\n"), variables)
    assert sorted(os.listdir(str(dest))) == ["weekly.csv", "weekly_deployments.csv"]
    tasks = ("    - name: bad\n      patchwave.windows.compliance_report:\n        dest: \"{{ dest }}\"\n"
             "        store: \"{{ store }}\"\n        update_sets: [{name: all}]\n"
             "      register: bad\n      ignore_errors: true\n" + save("bad", "bad"))
    not_a_store = tmp_path / "notes.db"
    not_a_store.write_text("shopping list\n" * 200)
    tasks += ("    - name: not a store\n      patchwave.windows.compliance_report:\n        dest: \"{{ dest }}\"\n"
              "        store: %s\n      register: broken\n      ignore_errors: true\n" % not_a_store
              + save("broken", "broken"))
    runner.play(tasks, variables)
    assert "reserved" in runner.result("bad")["msg"]
    broken = runner.result("broken")
    assert broken["failed"] and "store '%s' cannot be opened: file is not a database" % not_a_store in broken["msg"]
    assert sorted(os.listdir(str(dest))) == ["weekly.csv", "weekly_deployments.csv"]  # nothing written


def test_a_set_that_selects_no_update_is_shown_and_never_scanned_hosts_are_unknown(runner, tmp_path):
    store = str(tmp_path / "store" / "patchwave.db")
    spool = str(tmp_path / "store" / "spool")
    # scans placed before the real time, so some hosts have a usable scan today
    with fleet_in_store(store, spool, updates=30, hosts=20, seeds=(7, 8),
                        now=datetime.datetime.now(datetime.timezone.utc)) as (_store, _fleet, hosts, _counts):
        pass
    dest = tmp_path / "reports"
    variables = {"dest": str(dest), "store": store, "spool": spool, "hosts": hosts + ["never-seen"],
                 "results_dir": str(runner.results)}
    tasks = ("    - name: report\n      patchwave.windows.compliance_report:\n        dest: \"{{ dest }}\"\n"
             "        store: \"{{ store }}\"\n        spool: \"{{ spool }}\"\n        hosts: \"{{ hosts }}\"\n"
             "        update_sets: [{name: typo, kbs: [KB9999999]}]\n      register: report\n" + save("report", "report"))
    done = runner.play(tasks, variables)
    report = runner.result("report")
    assert len(report["warnings"]) == 1 and "update set 'typo' selects no update" in report["warnings"][0]
    assert "[WARNING]: update set 'typo' selects no update" in done.stdout + done.stderr
    data = json.loads((dest / "compliance.json").read_text())
    assert data["warnings"] == report["warnings"]
    usable = sorted(h for h, facts in data["hosts"].items() if facts["status"] == "usable")
    assert usable and "never-seen" not in usable
    assert sorted(h for h, v in data["sets"]["typo"]["host_compliance"].items() if v == "compliant") == usable
    assert data["sets"]["typo"]["host_compliance"]["never-seen"] == "unknown"
    assert data["overall"]["host_compliance"]["never-seen"] == "unknown"
    assert report["sets"]["typo"]["hosts"] == {"compliant": len(usable), "non_compliant": 0,
                                               "unknown": len(hosts) + 1 - len(usable)}
    page = (dest / "compliance.html").read_text()
    assert "Warning: update set &#x27;typo&#x27; selects no update" in page
    assert "This set selects no update" in page


def test_role_and_playbook_report_the_play_hosts(tmp_path, fleet_store):
    store, spool, hosts = fleet_store[0], fleet_store[1], fleet_store[3]
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[windows]\n" + "\n".join(hosts[:25] + ["ghost"]) + "\n")
    dest = tmp_path / "role-reports"
    command = [os.path.join(BIN, "ansible-playbook"), "-i", str(inventory),
               os.path.join(REPO, "playbooks", "report_compliance.yml"),
               "-e", "report_compliance_dest=%s report_compliance_store=%s report_compliance_spool=%s"
               % (dest, store, spool)]
    done = subprocess.run(command, env=ansible_env(tmp_path), capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
    assert sorted(os.listdir(str(dest))) == sorted(FILES)
    assert str(dest / "compliance.html") in done.stdout, "the report path is shown"
    assert "26 hosts" in done.stdout
    csv_hosts = {line.split(",")[0] for line in (dest / "compliance.csv").read_text().splitlines()[1:]}
    assert csv_hosts == set(hosts[:25] + ["ghost"])
    again = subprocess.run(command, env=ansible_env(tmp_path), capture_output=True, text=True, timeout=600, check=False)
    assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout[-3000:]


# -- a real browser ---------------------------------------------------------------------------------

def read_png(path):
    """(width, height, bytes per pixel, rows of pixel bytes) of an 8-bit RGB/RGBA PNG, decoded with zlib."""
    with open(path, "rb") as handle:
        data = handle.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat.append(chunk)
    width, height, depth, colour_type, interlace = header[0], header[1], header[2], header[3], header[6]
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, header
    bpp = 3 if colour_type == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    rows = []
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        line = bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif kind == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif kind == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif kind == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def chromium():
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("chromium is not installed: the report must be checked in a real browser. Install Debian's "
                    "package (apt-get install -y chromium; `make test` does it as root).")
    return found


def screenshot(html_path, png_path, width=1280, height=2400):
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        done = subprocess.run([chromium(), *CHROMIUM_FLAGS, "--user-data-dir=%s" % profile,
                               "--screenshot=%s" % png_path, "--window-size=%d,%d" % (width, height),
                               "file://%s" % os.path.abspath(html_path)],
                              capture_output=True, text=True, timeout=120, check=False)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return done


def test_chromium_renders_the_report(runner, tmp_path, fleet_store):
    store, spool, hosts = fleet_store[0], fleet_store[1], fleet_store[3]
    dest = tmp_path / "reports"
    runner.play(report_task(), {"dest": str(dest), "store": store, "spool": spool, "hosts": hosts,
                                "results_dir": str(runner.results)})
    png = tmp_path / "report.png"
    done = screenshot(str(dest / "compliance.html"), str(png))
    assert png.exists(), "chromium wrote no screenshot (rc %d)\n%s" % (done.returncode, done.stderr[-3000:])
    width, height, bpp, rows = read_png(str(png))
    assert (width, height) == (1280, 2400)
    colours = set()
    for row in rows[::3]:
        for i in range(0, len(row), bpp * 3):
            colours.add(row[i:i + 3])
    assert len(colours) > 50, "the screenshot looks blank (%d colours)" % len(colours)
    # The header and the charts' own colours are on the page: the CSS and the inline SVG rendered.
    for hex_colour in ("2c3e50", "c0392b", "27ae60"):
        assert bytes.fromhex(hex_colour) in colours, hex_colour
    white = sum(1 for row in rows[::3] for i in range(0, len(row), bpp * 3) if row[i:i + 3] == b"\xff\xff\xff")
    assert white < 0.95 * len(rows[::3]) * (width // 3 + 1)
