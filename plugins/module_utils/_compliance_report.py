# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""The compliance report: an Evaluation (``_compliance_store``) as plain data, CSV and a
self-contained HTML dashboard, and the atomic, change-aware writing of the files.

Pure functions of their inputs, except ``write_if_changed``. Everything that comes from the store
(host names, titles, KBs, errors, set names) is escaped for HTML/SVG with ``html.escape`` and
neutralised for spreadsheets in CSV. The HTML has no external references: inline CSS, inline SVG,
no JavaScript, no fonts, no images.

The generation time appears once per HTML/JSON file and is left out when a new report is compared
with the file on disk (``comparable``), so a run that finds nothing new changes nothing.
"""

from __future__ import annotations

import csv
import datetime
import html
import io
import json
import os
import re
import tempfile

from ansible_collections.patchwave.windows.plugins.module_utils._compliance import (
    COMPLIANCE,
    COMPLIANT,
    CORRUPT_MESSAGE,
    INSTALLED,
    NEVER_SCANNED,
    NON_COMPLIANT,
    NOT_REQUIRED,
    REQUIRED,
    SCAN_FAILED,
    STALE,
    STATE_TITLES,
    STATES,
    UNKNOWN,
    USABLE,
    add_counts,
    count_compliance,
    empty_counts,
    parse_time,
    percent_compliant,
    set_compliance,
)

FORMATS = ("html", "csv", "json")
COMPLIANCE_TITLES = {COMPLIANT: "Compliant", NON_COMPLIANT: "Non-compliant", UNKNOWN: "Unknown"}
STATUS_TITLES = {USABLE: "Current", STALE: "Stale", SCAN_FAILED: "Scan failed", CORRUPT_MESSAGE: "Corrupt message",
                 NEVER_SCANNED: "Never scanned"}
HOST_STATUSES = (USABLE, STALE, SCAN_FAILED, CORRUPT_MESSAGE, NEVER_SCANNED)
DETAIL_TITLES = {"missing": "missing", "hidden": "hidden", "pending_reboot": "pending reboot",
                 "install_failed": "install failed", "not_attempted_window": "not attempted"}
COLOURS = {REQUIRED: "#c0392b", NOT_REQUIRED: "#95a5a6", INSTALLED: "#27ae60", UNKNOWN: "#f39c12",
           COMPLIANT: "#27ae60", NON_COMPLIANT: "#c0392b",
           USABLE: "#27ae60", STALE: "#f39c12", SCAN_FAILED: "#c0392b", CORRUPT_MESSAGE: "#8e44ad",
           NEVER_SCANNED: "#7f8c8d"}
# Age of each host's newest good scan: (label, upper bound in days).
AGE_BUCKETS = (("< 1 day", 1), ("1-3 days", 3), ("3-7 days", 7), ("7-30 days", 30), ("> 30 days", None))
GENERATED_RE = re.compile(r"<!--generated-->.*?<!--/generated-->", re.S)
CSV_COLUMNS = ("host", "set", "compliance", "percent_compliant", "required", "not_required", "installed", "unknown",
               "required_kbs", "last_scan", "mode", "catalog_version", "status", "error")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def esc(value):
    """Text for HTML and SVG (XML-safe too): every ``& < > " '`` escaped; None is empty."""
    return html.escape("" if value is None else str(value), quote=True)


def csv_cell(value):
    """A CSV cell that a spreadsheet cannot run as a formula: text starting with = + - @ (or a tab
    or carriage return) gets a leading apostrophe. Numbers are left alone."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return value
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def iso(moment):
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _scan_data(scan):
    if scan is None:
        return None
    return {"finished": scan.finished, "succeeded": scan.succeeded, "catalog_version": scan.catalog_version,
            "mode": scan.mode, "server_selection": scan.server_selection, "source": scan.source,
            "forced": scan.forced, "reboot_pending": scan.reboot_pending, "error": scan.error}


def _kb_label(update):
    return ("KB%s" % update["kb"]) if update.get("kb") else update.get("update_id", "")


def report_data(evaluation, histories=None, title="Update compliance", top=20):
    """The whole evaluation as plain data (what JSON holds and HTML/CSV are rendered from).

    ``histories`` maps set name -> the list ``_compliance_store.history`` returns. The generation
    time is ``generated``; nothing else depends on the clock except what the evaluation decided
    with it (staleness, scan ages, the days of the trend).
    """
    histories = histories or {}
    now = evaluation.now
    hosts = {}
    ages = dict.fromkeys([bucket[0] for bucket in AGE_BUCKETS] + ["never"], 0)
    for name, status in evaluation.hosts.items():
        # Only the coarse age bucket is kept: an exact age would change the report on every run.
        age = None
        if status.last_good is not None:
            age = (now - parse_time(status.last_good.finished)).total_seconds() / 86400.0
        ages[_age_bucket(age)] += 1
        hosts[name] = {"status": status.status, "scan": _scan_data(status.scan),
                       "last_good": _scan_data(status.last_good)}
    sets = {}
    for set_name, result in evaluation.sets.items():
        required = {}
        for host, rows in result.host_required.items():
            required[host] = [{"update_id": uid, "kb": result.updates.get(uid, {}).get("kb"), "detail": detail}
                              for uid, detail in rows]
        top_required = _top_required(result, top)
        totals = result.state_totals()
        sets[set_name] = {
            "updates": len(result.update_ids),
            "summary": result.summary(),
            "state_totals": totals,
            "percent_compliant": percent_compliant(totals),
            "host_counts": result.host_counts,
            "host_compliance": result.host_compliance,
            "host_required": required,
            "update_counts": {uid: dict(result.update_counts[uid]) for uid in result.update_ids},
            "update_details": {uid: dict(facts) for uid, facts in result.updates.items()},
            "top_required": top_required,
            "history": histories.get(set_name, []),
        }
    # Overall: a host's pairs summed over the sets, judged by the same set rule.
    overall_counts = {host: add_counts(result.host_counts[host] for result in evaluation.sets.values())
                      for host in evaluation.hosts}
    overall_compliance = {host: set_compliance(counts) for host, counts in overall_counts.items()}
    overall_summary = count_compliance(overall_compliance.values())
    totals = add_counts(overall_counts.values())
    statuses = dict.fromkeys(HOST_STATUSES, 0)
    for host in hosts.values():
        statuses[host["status"]] = statuses.get(host["status"], 0) + 1
    versions = {}
    for host in hosts.values():
        if host["last_good"] is not None:
            key = str(host["last_good"]["catalog_version"])
            versions[key] = versions.get(key, 0) + 1
    return {
        "title": title,
        "generated": iso(now),
        "catalog_version": evaluation.catalog_version,
        "stale_after_days": evaluation.stale_after_days,
        "host_count": len(hosts),
        "host_statuses": statuses,
        "scan_ages": ages,
        "scan_catalog_versions": dict(sorted(versions.items())),
        "hosts": hosts,
        "sets": sets,
        "overall": {"summary": overall_summary, "state_totals": totals, "percent_compliant": percent_compliant(totals),
                    "host_compliance": overall_compliance},
    }


def _top_required(result, top):
    """The ``top`` updates of a set by hosts requiring them, with hosts per state."""
    ranked = sorted((uid for uid in result.update_ids if result.update_counts[uid][REQUIRED]),
                    key=lambda uid: (-result.update_counts[uid][REQUIRED], result.updates[uid].get("kb") or "", uid))
    top_required = []
    for uid in ranked[:max(top, 0)]:
        facts = result.updates[uid]
        top_required.append({"update_id": uid, "kb": facts.get("kb"), "title": facts.get("title"),
                             "msrc_severity": facts.get("msrc_severity"), "counts": dict(result.update_counts[uid])})
    return top_required


def _age_bucket(age):
    if age is None:
        return "never"
    for label, upper in AGE_BUCKETS:
        if upper is None or age < upper:
            return label
    return AGE_BUCKETS[-1][0]


def summaries(data):
    """Per set (and overall): updates, hosts per compliance state, pairs per state, percent."""
    result = {name: {"updates": s["updates"], "hosts": s["summary"], "pairs": s["state_totals"],
                     "percent_compliant": s["percent_compliant"]} for name, s in data["sets"].items()}
    return result


# -- JSON ------------------------------------------------------------------------------------------

def render_json(data):
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


# -- CSV -------------------------------------------------------------------------------------------

def render_csv(data):
    """One row per host and set."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for set_name, result in data["sets"].items():
        for host in sorted(result["host_compliance"]):
            counts = result["host_counts"].get(host, empty_counts())
            facts = data["hosts"].get(host, {})
            scan = facts.get("scan") or facts.get("last_good") or {}
            kbs = " ".join(_kb_label(r) for r in result["host_required"].get(host, []))
            writer.writerow([csv_cell(v) for v in (
                host, set_name, result["host_compliance"][host], percent_compliant(counts),
                counts.get(REQUIRED, 0), counts.get(NOT_REQUIRED, 0), counts.get(INSTALLED, 0), counts.get(UNKNOWN, 0),
                kbs, scan.get("finished"), scan.get("mode"), scan.get("catalog_version"), facts.get("status"),
                (facts.get("scan") or {}).get("error"))])
    return out.getvalue()


# -- SVG -------------------------------------------------------------------------------------------

def _num(value):
    return ("%.1f" % value).rstrip("0").rstrip(".")


def svg_stacked_bar(parts, width=560, height=28, label=None):
    """One horizontal bar split into ``parts`` [(key, title, value)], with a legend below.

    An all-zero bar is drawn grey with "no data". Returns well-formed SVG (XML) text.
    """
    total = sum(part[2] for part in parts)
    legend_h = 20
    out = ['<svg class="bar" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">'
           % (width, height + legend_h + 4, width, height + legend_h + 4, esc(label or "distribution"))]
    x = 0.0
    if not total:
        out.append('<rect x="0" y="0" width="%d" height="%d" fill="#ecf0f1"/>' % (width, height))
        out.append('<text x="8" y="%d" font-size="12" fill="#555">no data</text>' % (height // 2 + 4))
    for key, title, value in parts:
        if not total or not value:
            continue
        w = width * value / total
        out.append('<rect x="%s" y="0" width="%s" height="%d" fill="%s"><title>%s: %d (%s%%)</title></rect>'
                   % (_num(x), _num(w), height, COLOURS.get(key, "#888"), esc(title), value, _num(100.0 * value / total)))
        if w > 34:
            out.append('<text x="%s" y="%d" font-size="12" fill="#fff" text-anchor="middle">%d</text>'
                       % (_num(x + w / 2), height // 2 + 4, value))
        x += w
    lx = 0
    for key, title, value in parts:
        out.append('<rect x="%d" y="%d" width="10" height="10" fill="%s"/>' % (lx, height + 8, COLOURS.get(key, "#888")))
        text = "%s %d" % (title, value)
        out.append('<text x="%d" y="%d" font-size="11" fill="#333">%s</text>' % (lx + 14, height + 17, esc(text)))
        lx += 22 + 7 * len(text)
    out.append("</svg>")
    return "".join(out)


def svg_columns(items, width=560, height=170, colour="#2980b9", label=None):
    """Vertical bars for [(label, value)] (a histogram), value on top, label below."""
    peak = max([item[1] for item in items] + [1])
    n = max(len(items), 1)
    slot = (width - 20) / n
    base = height - 24
    out = ['<svg class="columns" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">'
           % (width, height, width, height, esc(label or "histogram"))]
    out.append('<line x1="10" y1="%d" x2="%d" y2="%d" stroke="#999"/>' % (base, width - 10, base))
    for index, (name, value) in enumerate(items):
        h = (base - 20) * value / peak
        x = 10 + index * slot + slot * 0.15
        out.append('<rect x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s: %d</title></rect>'
                   % (_num(x), _num(base - h), _num(slot * 0.7), _num(h), colour, esc(name), value))
        out.append('<text x="%s" y="%s" font-size="11" text-anchor="middle" fill="#333">%d</text>'
                   % (_num(x + slot * 0.35), _num(base - h - 4), value))
        out.append('<text x="%s" y="%d" font-size="11" text-anchor="middle" fill="#333">%s</text>'
                   % (_num(x + slot * 0.35), base + 15, esc(name)))
    out.append("</svg>")
    return "".join(out)


def svg_trend(series, width=560, height=220, label=None):
    """Stacked areas of compliant / non-compliant / unknown hosts per day, from ``history``."""
    left, right, top, bottom = 40, 10, 10, 40
    plot_w = width - left - right
    plot_h = height - top - bottom
    out = ['<svg class="trend" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">'
           % (width, height, width, height, esc(label or "trend"))]
    if not series:
        out.append('<text x="%d" y="%d" font-size="12" fill="#555">no history</text>' % (left, height // 2))
        out.append("</svg>")
        return "".join(out)
    peak = max([sum(p.get(k, 0) for k in COMPLIANCE) for p in series] + [1])
    n = len(series)

    def x_of(index):
        return left + (plot_w * index / (n - 1) if n > 1 else plot_w / 2)

    def y_of(value):
        return top + plot_h - plot_h * value / peak

    for tick in sorted({0, peak // 2, peak}):
        y = y_of(tick)
        out.append('<line x1="%d" y1="%s" x2="%d" y2="%s" stroke="#ddd"/>' % (left, _num(y), width - right, _num(y)))
        out.append('<text x="%d" y="%s" font-size="10" text-anchor="end" fill="#555">%d</text>'
                   % (left - 4, _num(y + 3), tick))
    lower = [0] * n
    for key in (COMPLIANT, UNKNOWN, NON_COMPLIANT):
        upper = [lower[i] + series[i].get(key, 0) for i in range(n)]
        if n == 1:
            points = [(x_of(0) - 4, y_of(upper[0])), (x_of(0) + 4, y_of(upper[0])),
                      (x_of(0) + 4, y_of(lower[0])), (x_of(0) - 4, y_of(lower[0]))]
        else:
            points = [(x_of(i), y_of(upper[i])) for i in range(n)]
            points += [(x_of(i), y_of(lower[i])) for i in range(n - 1, -1, -1)]
        out.append('<polygon points="%s" fill="%s" fill-opacity="0.85"><title>%s</title></polygon>'
                   % (" ".join("%s,%s" % (_num(px), _num(py)) for px, py in points), COLOURS[key],
                      esc(COMPLIANCE_TITLES[key])))
        lower = upper
    out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#999"/>' % (left, top + plot_h, width - right, top + plot_h))
    for index in sorted({0, n // 2, n - 1}):
        anchor = "start" if index == 0 and n > 1 else "end" if index == n - 1 and n > 1 else "middle"
        out.append('<text x="%s" y="%d" font-size="10" text-anchor="%s" fill="#555">%s</text>'
                   % (_num(x_of(index)), top + plot_h + 14, anchor, esc(series[index].get("date"))))
    lx = left
    for key in (COMPLIANT, NON_COMPLIANT, UNKNOWN):
        out.append('<rect x="%d" y="%d" width="10" height="10" fill="%s"/>' % (lx, height - 14, COLOURS[key]))
        out.append('<text x="%d" y="%d" font-size="11" fill="#333">%s</text>'
                   % (lx + 14, height - 5, esc("%s %d" % (COMPLIANCE_TITLES[key], series[-1].get(key, 0)))))
        lx += 130
    out.append("</svg>")
    return "".join(out)


# -- HTML ------------------------------------------------------------------------------------------

_CSS = """
body{font-family:sans-serif;margin:0;background:#f4f6f8;color:#222;font-size:14px}
header{background:#2c3e50;color:#fff;padding:16px 24px}
header h1{margin:0 0 4px 0;font-size:22px}
header p{margin:0;color:#d0d7de}
main{padding:8px 24px 24px 24px}
section{background:#fff;border:1px solid #dde3e8;border-radius:4px;margin:16px 0;padding:12px 16px}
h2{font-size:18px;margin:4px 0 10px 0}
h3{font-size:15px;margin:12px 0 6px 0}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{border:1px solid #dde3e8;border-radius:4px;padding:8px 12px;min-width:120px}
.card b{display:block;font-size:22px}
.grid{display:flex;flex-wrap:wrap;gap:24px}
table{border-collapse:collapse;width:100%;margin:4px 0}
th,td{border-bottom:1px solid #e5e8eb;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f0f3f5}
td.n,th.n{text-align:right}
.badge{display:inline-block;padding:1px 6px;border-radius:3px;color:#fff;font-size:12px}
.compliant{background:#27ae60}.non_compliant{background:#c0392b}.unknown{background:#f39c12}
.kbs{font-family:monospace;font-size:12px}
.muted{color:#666}
"""


def _badge(state):
    return '<span class="badge %s">%s</span>' % (esc(state), esc(COMPLIANCE_TITLES.get(state, state)))


def _pairs_bar(counts, label):
    return svg_stacked_bar([(s, STATE_TITLES[s], counts.get(s, 0)) for s in STATES], label=label)


def _hosts_bar(summary, label):
    return svg_stacked_bar([(k, COMPLIANCE_TITLES[k], summary.get(k, 0)) for k in (COMPLIANT, NON_COMPLIANT, UNKNOWN)],
                           label=label)


def _table(headers, rows, numeric=()):
    head = "".join("<th%s>%s</th>" % (' class="n"' if i in numeric else "", esc(h)) for i, h in enumerate(headers))
    out = ["<table><tr>%s</tr>" % head]
    for row in rows:
        cells = []
        for index, cell in enumerate(row):
            raw = isinstance(cell, tuple)  # (html,) is already markup built from escaped parts
            text = cell[0] if raw else esc(cell)
            cells.append('<td%s>%s</td>' % (' class="n"' if index in numeric else "", text))
        out.append("<tr>%s</tr>" % "".join(cells))
    out.append("</table>")
    return "".join(out)


def render_html(data):
    """The dashboard: one self-contained HTML page (inline CSS and SVG, no scripts, no links)."""
    title = data["title"]
    parts = ['<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             "<title>%s</title><style>%s</style></head><body>" % (esc(title), _CSS)]
    parts.append("<header><h1>%s</h1><p>Generated <!--generated-->%s<!--/generated--> &#183; catalog version %s "
                 "&#183; %d hosts &#183; scans older than %s days are stale</p></header><main>"
                 % (esc(title), esc(data["generated"]), esc(data["catalog_version"] if data["catalog_version"] is not None
                                                            else "none"),
                    data["host_count"], esc(data["stale_after_days"] or "never")))

    overall = data["overall"]
    parts.append('<section id="overview"><h2>Overview</h2><div class="cards">')
    cards = [("Hosts", data["host_count"]), ("Compliant", overall["summary"][COMPLIANT]),
             ("Non-compliant", overall["summary"][NON_COMPLIANT]), ("Unknown", overall["summary"][UNKNOWN]),
             ("Pairs compliant", "%s%%" % overall["percent_compliant"]),
             ("Catalog version", data["catalog_version"] if data["catalog_version"] is not None else "none")]
    parts.extend('<div class="card"><b>%s</b>%s</div>' % (esc(v), esc(k)) for k, v in cards)
    parts.append("</div>")
    parts.append('<p class="muted">Overall: a host is non-compliant when any update of any set is Required, '
                 'unknown when any is Unknown, else compliant; pairs are summed over the sets.</p>')
    parts.append('<div class="grid"><div><h3>Hosts, all sets</h3>%s</div><div><h3>Update states, all sets</h3>%s</div>'
                 '</div>' % (_hosts_bar(overall["summary"], "hosts overall"),
                             _pairs_bar(overall["state_totals"], "pairs overall")))
    rows = [(name, s["updates"], s["summary"][COMPLIANT], s["summary"][NON_COMPLIANT], s["summary"][UNKNOWN],
             "%s%%" % s["percent_compliant"]) for name, s in data["sets"].items()]
    parts.append(_table(("Update set", "Updates", "Compliant", "Non-compliant", "Unknown", "Pairs compliant"), rows,
                        numeric=(1, 2, 3, 4, 5)))
    parts.append("</section>")

    for name, result in data["sets"].items():
        parts.append('<section class="set"><h2>Update set %s <span class="muted">(%d updates)</span></h2>'
                     % (esc(name), result["updates"]))
        parts.append('<div class="grid"><div><h3>Hosts</h3>%s</div><div><h3>Update states (host &#215; update)</h3>%s'
                     '</div></div>' % (_hosts_bar(result["summary"], "hosts " + name),
                                       _pairs_bar(result["state_totals"], "pairs " + name)))
        if result["history"]:
            trend = svg_trend(result["history"], label="trend " + name)
            parts.append("<h3>Trend, last %d days</h3>%s" % (len(result["history"]), trend))
        parts.append("<h3>Most required updates</h3>")
        if result["top_required"]:
            rows = [["KB%s" % u["kb"] if u["kb"] else u["update_id"], u["title"], u["msrc_severity"] or "-"]
                    + [u["counts"][k]
                       for k in (REQUIRED, INSTALLED, NOT_REQUIRED, UNKNOWN)] for u in result["top_required"]]
            parts.append(_table(("KB", "Title", "Severity", "Required", "Installed", "Not Required", "Unknown"), rows,
                                numeric=(3, 4, 5, 6)))
        else:
            parts.append('<p class="muted">No update of this set is required on any host.</p>')
        parts.append("</section>")

    parts.append('<section id="freshness"><h2>Scan freshness</h2><div class="grid">')
    statuses = data["host_statuses"]
    parts.append("<div><h3>Hosts by scan status</h3>%s</div>" % svg_stacked_bar(
        [(k, STATUS_TITLES[k], statuses.get(k, 0)) for k in HOST_STATUSES], label="scan status"))
    parts.append("<div><h3>Age of the newest good scan</h3>%s</div>" % svg_columns(
        list(data["scan_ages"].items()), label="scan age"))
    parts.append("</div>")
    versions = data["scan_catalog_versions"]
    if versions:
        parts.append("<h3>Catalog version of the newest good scan</h3>%s" % _table(
            ("Catalog version", "Hosts"), list(versions.items()), numeric=(1,)))
    failed = [(host, STATUS_TITLES[facts["status"]], (facts["scan"] or {}).get("finished") or "-",
               (facts["scan"] or {}).get("error") or "-")
              for host, facts in sorted(data["hosts"].items()) if facts["status"] in (SCAN_FAILED, CORRUPT_MESSAGE)]
    parts.append("<p>Never scanned: <b>%d</b> &#183; stale: <b>%d</b> &#183; failed: <b>%d</b> &#183; corrupt "
                 "messages: <b>%d</b></p>" % (statuses.get(NEVER_SCANNED, 0), statuses.get(STALE, 0),
                                              statuses.get(SCAN_FAILED, 0), statuses.get(CORRUPT_MESSAGE, 0)))
    if failed:
        parts.append("<h3>Failed scans</h3>%s" % _table(("Host", "Status", "Scan", "Error"), failed))
    parts.append("</section>")

    parts.append('<section id="hosts"><h2>Hosts</h2>')
    order = {NON_COMPLIANT: 0, UNKNOWN: 1, COMPLIANT: 2}
    set_names = list(data["sets"])
    rows = []
    for host in sorted(data["hosts"], key=lambda h: (order[overall["host_compliance"].get(h, UNKNOWN)], h)):
        facts = data["hosts"][host]
        scan = facts["scan"] or facts["last_good"] or {}
        required = {}
        for set_name in set_names:
            for item in data["sets"][set_name]["host_required"].get(host, []):
                required.setdefault(_kb_label(item), item["detail"])
        kbs = ", ".join("%s%s" % (esc(kb), "" if detail == "missing" else " (%s)" % esc(DETAIL_TITLES.get(detail, detail)))
                        for kb, detail in sorted(required.items()))
        row = [host, (_badge(overall["host_compliance"].get(host, UNKNOWN)),), STATUS_TITLES.get(facts["status"]),
               scan.get("finished") or "-", scan.get("catalog_version") if scan else "-"]
        row += [(_badge(data["sets"][s]["host_compliance"].get(host, UNKNOWN)),) for s in set_names]
        row.append(('<span class="kbs">%s</span>' % kbs,))
        rows.append(row)
    parts.append(_table(["Host", "Overall", "Scan status", "Last scan", "Catalog"] + ["Set " + s for s in set_names]
                        + ["Required KBs"], rows))
    parts.append("</section></main></body></html>\n")
    return "".join(parts)


# -- files -----------------------------------------------------------------------------------------

def comparable(fmt, text):
    """The content of a report file without its generation time, for change detection."""
    if text is None:
        return None
    if fmt == "html":
        return GENERATED_RE.sub("<!--generated--><!--/generated-->", text)
    if fmt == "json":
        try:
            value = json.loads(text)
        except ValueError:
            return text
        if isinstance(value, dict):
            value.pop("generated", None)
        return json.dumps(value, sort_keys=True)
    return text


def read_text(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        return ""  # unreadable or not ours: it differs


def write_atomic(path, text, mode=None):
    """Write ``text`` to a temporary file in the same folder, fsync it, rename it over ``path``.

    The file keeps the permissions of the file it replaces; a new one gets ``mode`` (0644).
    """
    if mode is None:
        try:
            mode = os.stat(path).st_mode & 0o7777
        except OSError:
            mode = 0o644
    folder = os.path.dirname(os.path.abspath(path))
    handle, temp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    try:
        directory = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(directory)
    except OSError:
        pass
    finally:
        os.close(directory)


def plan_files(paths, contents):
    """Which files differ from what is on disk: {fmt: (path, old_text or None, changed)}."""
    plan = {}
    for fmt, path in paths.items():
        old = read_text(path)
        plan[fmt] = (path, old, comparable(fmt, old) != comparable(fmt, contents[fmt]))
    return plan
