# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""The compliance report as one self-contained HTML page with inline SVG charts."""

from __future__ import annotations

import html

from ansible_collections.patchwave.windows.plugins.module_utils._compliance.report_data import (
    COMPLIANCE_TITLES,
    DETAIL_TITLES,
    STATUS_TITLES,
    kb_label,
)
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.report_deployments import (
    HOST_STATE_TITLES,
    HOST_STATES,
    INSTALLED as HOST_INSTALLED,
    OUTCOME_ORDER,
    REASON_TITLES,
)
from ansible_collections.patchwave.windows.plugins.module_utils._compliance.rules import (
    COMPLIANCE,
    COMPLIANT,
    CORRUPT_MESSAGE,
    HOST_STATUSES,
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
)

COLOURS = {REQUIRED: "#c0392b", NOT_REQUIRED: "#95a5a6", INSTALLED: "#27ae60", UNKNOWN: "#f39c12",
           COMPLIANT: "#27ae60", NON_COMPLIANT: "#c0392b",
           USABLE: "#27ae60", STALE: "#f39c12", SCAN_FAILED: "#c0392b", CORRUPT_MESSAGE: "#8e44ad",
           NEVER_SCANNED: "#7f8c8d",
           # a host's state in a deployment, and its outcome in a wave
           "pending_restart": "#16a085", "installed_pending_restart": "#16a085", "waiting_for_window": "#2980b9",
           "in_progress": "#5dade2", "failed": "#c0392b", "update_loop": "#922b21", "did_not_return": "#8e44ad",
           "unreachable": "#7f8c8d", "not_attempted": "#95a5a6", "skipped": "#95a5a6", "not_run": "#b2bec3"}

OUTCOME_TITLES = {"compliant": "Compliant", "installed_pending_restart": "Pending restart",
                  "waiting_for_window": "Waiting for window", "skipped": "Skipped", "failed": "Failed",
                  "update_loop": "Update loop", "did_not_return": "Did not return", "unreachable": "Unreachable",
                  "not_run": "Not run"}


def esc(value):
    """Text for HTML and SVG (XML-safe too): every ``& < > " '`` escaped; None is empty."""
    return html.escape("" if value is None else str(value), quote=True)


def _num(value):
    return ("%.1f" % value).rstrip("0").rstrip(".")


def percent_text(value):
    """A share for the page: "92.5%", or "-" when there is nothing to share (no host)."""
    return "-" if value is None else "%s%%" % value


def svg_stacked_bar(parts, width=560, height=28, label=None):
    """One horizontal bar split into ``parts`` [(key, title, value)], with a legend below (on more
    lines when it is wider than the bar).

    An all-zero bar is drawn grey with "no data". Returns well-formed SVG (XML) text.
    """
    total = sum(part[2] for part in parts)
    legend = []  # (x, line, key, text)
    lx, line = 0, 0
    for key, title, value in parts:
        text = "%s %d" % (title, value)
        step = 22 + 7 * len(text)
        if lx and lx + step - 8 > width:
            lx, line = 0, line + 1
        legend.append((lx, line, key, text))
        lx += step
    legend_h = 20 * (line + 1)
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
    for lx, line, key, text in legend:
        top = height + 20 * line
        out.append('<rect x="%d" y="%d" width="10" height="10" fill="%s"/>' % (lx, top + 8, COLOURS.get(key, "#888")))
        out.append('<text x="%d" y="%d" font-size="11" fill="#333">%s</text>' % (lx + 14, top + 17, esc(text)))
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
.card.headline{border:2px solid #2c3e50}
.card.headline b{font-size:28px}
p.headline{font-size:16px;margin:4px 0 8px 0}
.grid{display:flex;flex-wrap:wrap;gap:24px}
table{border-collapse:collapse;width:100%;margin:4px 0}
th,td{border-bottom:1px solid #e5e8eb;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f0f3f5}
td.n,th.n{text-align:right}
.badge{display:inline-block;padding:1px 6px;border-radius:3px;color:#fff;font-size:12px}
.compliant{background:#27ae60}.non_compliant{background:#c0392b}.unknown{background:#f39c12}
.kbs{font-family:monospace;font-size:12px}
.muted{color:#666}
.warning{background:#fff4d6;border-left:4px solid #e0a800;padding:8px 12px;margin:8px 0}
.halt{background:#fdecea;border-left:4px solid #c0392b;padding:8px 12px;margin:8px 0}
tr.halted td{background:#fdecea}
.rollout{border-top:1px solid #dde3e8;margin-top:14px;padding-top:4px}
.st-finished,.st-done,.st-installed{background:#27ae60}.st-running,.st-waiting_for_window{background:#2980b9}
.st-halted,.st-failed{background:#c0392b}.st-pending,.st-not_attempted{background:#7f8c8d}
.st-pending_restart{background:#16a085}.st-in_progress{background:#5dade2}
td svg.bar{display:block}
.hosts td{white-space:nowrap}.hosts td:nth-child(3){white-space:normal}
.wavehosts td{white-space:nowrap}.wavehosts td:last-child{white-space:normal}
"""


def _badge(state):
    return '<span class="badge %s">%s</span>' % (esc(state), esc(COMPLIANCE_TITLES.get(state, state)))


def _pairs_bar(counts, label):
    return svg_stacked_bar([(s, STATE_TITLES[s], counts.get(s, 0)) for s in STATES], label=label)


def _hosts_bar(summary, label):
    return svg_stacked_bar([(k, COMPLIANCE_TITLES[k], summary.get(k, 0)) for k in (COMPLIANT, NON_COMPLIANT, UNKNOWN)],
                           label=label)


def _table(headers, rows, numeric=(), row_classes=None):
    """An HTML table; ``row_classes`` gives a CSS class per row (None for none)."""
    head = "".join("<th%s>%s</th>" % (' class="n"' if i in numeric else "", esc(h)) for i, h in enumerate(headers))
    out = ["<table><tr>%s</tr>" % head]
    for number, row in enumerate(rows):
        cells = []
        for index, cell in enumerate(row):
            raw = isinstance(cell, tuple)  # (html,) is already markup built from escaped parts
            text = cell[0] if raw else esc(cell)
            cells.append('<td%s>%s</td>' % (' class="n"' if index in numeric else "", text))
        css = row_classes[number] if row_classes else None
        out.append("<tr%s>%s</tr>" % (' class="%s"' % esc(css) if css else "", "".join(cells)))
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
    parts.append('<section id="overview"><h2>Overview</h2>')
    parts.extend('<p class="warning">Warning: %s</p>' % esc(text) for text in data.get("warnings", ()))
    parts.append('<div class="cards">')
    # The headline is hosts compliant / hosts; the share of (host, update) pairs comes after, named as pairs.
    cards = [("Hosts compliant", percent_text(overall["percent_hosts_compliant"])),
             ("Hosts", data["host_count"]), ("Compliant", overall["summary"][COMPLIANT]),
             ("Non-compliant", overall["summary"][NON_COMPLIANT]), ("Unknown", overall["summary"][UNKNOWN]),
             ("Host \u00d7 update pairs compliant", percent_text(overall["percent_pairs_compliant"])),
             ("Catalog version", data["catalog_version"] if data["catalog_version"] is not None else "none")]
    parts.extend('<div class="card%s"><b>%s</b>%s</div>' % (" headline" if not index else "", esc(v), esc(k))
                 for index, (k, v) in enumerate(cards))
    parts.append("</div>")
    parts.append('<p class="muted">Hosts compliant: compliant hosts as a share of all %d hosts, over all sets (a host is '
                 'non-compliant when any update of any set is Required, unknown when any is Unknown or it has no usable '
                 'scan, else compliant). Pairs: Installed and Not Required (host, update) pairs as a share of all pairs, '
                 'summed over the sets.</p>' % data["host_count"])
    parts.append('<div class="grid"><div><h3>Hosts, all sets</h3>%s</div><div><h3>Update states, all sets</h3>%s</div>'
                 '</div>' % (_hosts_bar(overall["summary"], "hosts overall"),
                             _pairs_bar(overall["state_totals"], "pairs overall")))
    rows = [(name, s["updates"], percent_text(s["percent_hosts_compliant"]), s["summary"][COMPLIANT],
             s["summary"][NON_COMPLIANT], s["summary"][UNKNOWN], percent_text(s["percent_pairs_compliant"]))
            for name, s in data["sets"].items()]
    parts.append(_table(("Update set", "Updates", "Hosts compliant", "Compliant", "Non-compliant", "Unknown",
                         "Pairs compliant"), rows, numeric=(1, 2, 3, 4, 5, 6)))
    parts.append("</section>")

    for name, result in data["sets"].items():
        parts.append('<section class="set"><h2>Update set %s <span class="muted">(%d updates)</span></h2>'
                     % (esc(name), result["updates"]))
        if not result["updates"]:
            parts.append('<p class="warning">This set selects no update: only hosts with a usable scan are compliant '
                         'against it, every other host is Unknown.</p>')
        summary = result["summary"]
        parts.append('<p class="headline"><b>%s</b> of hosts compliant (%d of %d) &#183; %s of host &#215; update pairs '
                     'compliant</p>' % (esc(percent_text(result["percent_hosts_compliant"])), summary[COMPLIANT],
                                        sum(summary.get(k, 0) for k in COMPLIANCE),
                                        esc(percent_text(result["percent_pairs_compliant"]))))
        parts.append('<div class="grid"><div><h3>Hosts</h3>%s</div><div><h3>Update states (host &#215; update)</h3>%s'
                     '</div></div>' % (_hosts_bar(result["summary"], "hosts " + name),
                                       _pairs_bar(result["state_totals"], "pairs " + name)))
        if result["history"]:
            trend = svg_trend(result["history"], label="trend " + name)
            days = result["history"]
            span = days[0]["date"] if len(days) == 1 else "%s to %s" % (days[0]["date"], days[-1]["date"])
            parts.append("<h3>Trend, %s (%d day%s)</h3>%s" % (esc(span), len(days), "" if len(days) == 1 else "s", trend))
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

    parts.append(render_rollout(data))
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
    attempts = []
    for host, facts in sorted(data["hosts"].items()):
        attempt = facts.get("last_attempt") or {}
        if attempt.get("failed") and attempt["failure"] not in (SCAN_FAILED, CORRUPT_MESSAGE):
            attempts.append((host, attempt["failure"], attempt["time"], attempt["reason"] or "-"))
    if attempts:
        parts.append("<h3>Last attempt failed (the host keeps its state)</h3>%s"
                     % _table(("Host", "Failure", "Attempt", "Reason"), attempts))
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
                required.setdefault(kb_label(item), item["detail"])
        kbs = ", ".join("%s%s" % (esc(kb), "" if detail == "missing" else " (%s)" % esc(DETAIL_TITLES.get(detail, detail)))
                        for kb, detail in sorted(required.items()))
        row = [host, (_badge(overall["host_compliance"].get(host, UNKNOWN)),), STATUS_TITLES.get(facts["status"]),
               scan.get("finished") or "-", scan.get("catalog_version") if scan else "-"]
        row += [(_badge(data["sets"][s]["host_compliance"].get(host, UNKNOWN)),) for s in set_names]
        row.append(len(required))
        row.append(('<span class="kbs">%s</span>' % kbs,))
        rows.append(row)
    parts.append(_table(["Host", "Overall", "Scan status", "Last scan", "Catalog"] + ["Set " + s for s in set_names]
                        + ["Required updates", "Required KBs"], rows, numeric=(5 + len(set_names),)))
    parts.append("</section></main></body></html>\n")
    return "".join(parts)


def _state_badge(state, title=None):
    return '<span class="badge st-%s">%s</span>' % (esc(state), esc(title or state))


def _duration(seconds):
    """"2 h 05 min", "4 min 10 s", or "-"."""
    if seconds is None:
        return "-"
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return "%d h %02d min" % (hours, minutes)
    return "%d min %02d s" % (minutes, secs) if minutes else "%d s" % secs


def _outcome_bar(counts, label, width=380):
    parts = [(key, OUTCOME_TITLES.get(key, key), counts.get(key, 0)) for key in OUTCOME_ORDER if counts.get(key, 0)]
    return svg_stacked_bar(parts, width=width, height=20, label=label)


def _reason_text(reason):
    return REASON_TITLES.get(reason, (reason or "").replace("_", " "))


def _grouped(items, key):
    """[(key, [labels])] of ``items`` by ``key(item)``, in first-seen order: one line per cause, not per update."""
    groups = {}
    for item in items:
        groups.setdefault(key(item), []).append(item["kb"] or item["update_id"])
    return list(groups.items())


def _host_detail(entry):
    """What explains a host's state: failed updates with their HRESULT, the window waited for, the reason."""
    items = []
    for (state, code, message), labels in _grouped(entry["failures"], lambda f: (
            f["state"], (f["hresult"]["name"], f["hresult"]["code"]) if f["hresult"] else None, f["message"])):
        cause = ": <b>%s</b> %s" % (esc(code[0]), esc(code[1])) if code else (": %s" % esc(message) if message else "")
        items.append("%s %s%s" % (esc(", ".join(labels)), esc(state.replace("_", " ")), cause))
    for (reason, would_start, needs, ends, next_window), labels in _grouped(entry["waiting"], lambda w: (
            w["reason"], w.get("would_start"), w.get("needs_minutes"), w.get("window_ends"), w.get("next_window"))):
        if reason == "longer_than_every_window":
            items.append("%s need%s %s min, longer than every window" % (
                esc(", ".join(labels)), "" if len(labels) > 1 else "s", esc(needs)))
        else:
            items.append("%s would start %s, need%s %s min, window ends %s%s" % (
                esc(", ".join(labels)), esc(would_start or "-"), "" if len(labels) > 1 else "s",
                esc(needs if needs is not None else "?"), esc(ends or "-"),
                "; next window %s" % esc(next_window) if next_window else ""))
    if entry["reason"] and not entry["failures"]:
        items.insert(0, esc(_reason_text(entry["reason"])))
    wave = entry["wave"] or {}
    if wave.get("msg") and entry["state"] != HOST_INSTALLED and not entry["failures"]:
        items.append('<span class="muted">%s</span>' % esc(wave["msg"][:200]))
    return "<br>".join(items) or "-"


def _render_wave(wave):
    out = ['<div class="rollout"><h3>Wave %s %s</h3>' % (esc(wave["name"]), _state_badge(wave["state"]))]
    out.append('<p>Deployment <b>%s</b> &#183; update list %s version %s &#183; started %s &#183; %s %s &#183; '
               '%s &#183; %d hosts</p>'
               % (esc(wave["deployment"]), esc(wave["update_list"]), esc(wave["list_version"]), esc(wave["started_at"]),
                  "finished" if wave["finished_at"] else "last change",
                  esc(wave["finished_at"] or wave["updated_at"]), esc(_duration(wave["seconds"])), wave["host_count"]))
    if wave["state"] == "halted":
        halt = wave["halts"][-1] if wave["halts"] else {}
        out.append('<p class="halt"><b>Halted</b>%s%s: %s</p>' % (
            " in ring %s" % esc(halt["ring"]) if halt.get("ring") else "",
            " at %s" % esc(halt["at"]) if halt.get("at") else "", esc(wave["halt_reason"])))
    earlier = wave["halts"][:-1] if wave["state"] == "halted" else wave["halts"]
    if earlier:
        out.append("<p class=\"muted\">Earlier halts, resumed since:</p>")
        out.append(_table(("At", "Ring", "Reason"), [(h["at"], h["ring"] or "-", h["reason"] or "-") for h in earlier]))
    rows = []
    for ring in wave["rings"]:
        budget = ring["failure_budget"]
        rows.append([ring["name"], ring["hosts"], (_state_badge(ring["state"]),), ring["serial"], budget,
                     ring["host_count"], ring["started_at"] or "-", ring["finished_at"] or "-",
                     _duration(ring["seconds"]),
                     (_outcome_bar(ring["counts"], "wave %s ring %s" % (wave["name"], ring["name"])),)])
    out.append(_table(("Ring", "Group", "State", "Serial", "Failure budget", "Hosts", "Started", "Finished", "Took",
                       "Outcomes"), rows, numeric=(5,),
                      row_classes=["halted" if ring["state"] == "halted" else None for ring in wave["rings"]]))
    problems = [(ring["name"], h["host"], OUTCOME_TITLES.get(h["outcome"] or "not_run", h["outcome"]), h["attempts"],
                 h["reason"] or "-", (h["msg"] or "-")[:240])
                for ring in wave["rings"] for h in ring["host_results"] if h["outcome"] not in ("compliant", None)]
    if problems:
        out.append("<h3>Hosts not compliant in the wave</h3>")
        out.append('<div class="wavehosts">%s</div>' % _table(("Ring", "Host", "Outcome", "Attempts", "Reason", "Message"),
                                                              problems, numeric=(3,)))
    out.append("</div>")
    return "".join(out)


def _names(hosts, shown=40):
    """Host names for a line of text: the first ``shown``, then how many more."""
    text = ", ".join(hosts[:shown])
    if len(hosts) > shown:
        text += " and %d more" % (len(hosts) - shown)
    return esc(text)


# the hosts of a deployment, the worst first
FAILED_FIRST = ("failed", "pending_restart", "waiting_for_window", "in_progress", "not_attempted", HOST_INSTALLED)


def _render_deployment(deployment):
    out = ['<div class="rollout"><h3>Deployment %s</h3>' % esc(deployment["name"])]
    out.append('<p>Update list %s version %s (%d updates) &#183; targets %s &#183; %s%s &#183; %d hosts</p>'
               % (esc(deployment["update_list"]), esc(deployment["list_version"]), deployment["update_count"],
                  esc(", ".join(deployment["targets"]) or "none"), esc(deployment["type"] or "-"),
                  " &#183; deadline %s" % esc(deployment["deadline"]) if deployment["deadline"] else "",
                  deployment["host_count"] - deployment["not_targeted"]))
    counts = deployment["counts"]
    out.append(svg_stacked_bar([(s, HOST_STATE_TITLES[s], counts.get(s, 0)) for s in HOST_STATES], width=760,
                               label="deployment %s" % deployment["name"]))
    order = {state: index for index, state in enumerate(FAILED_FIRST)}
    rows = []
    installed, outside, silent = [], [], []
    for host, entry in sorted(deployment["hosts"].items(), key=lambda item: (order.get(item[1]["state"], 9), item[0])):
        if entry["state"] == HOST_INSTALLED:
            installed.append(host)
            continue
        if entry["reason"] == "not_targeted":
            outside.append(host)
            continue
        if entry["reason"] == "never_reported":
            silent.append(host)
            continue
        wave = entry["wave"]
        rows.append([host, (_state_badge(entry["state"], HOST_STATE_TITLES.get(entry["state"])),),
                     (_host_detail(entry),), "%s / %s" % (wave["wave"], wave["ring"]) if wave else "-",
                     entry["reported"] or "-"])
    if rows:
        out.append('<div class="hosts">%s</div>' % _table(("Host", "State", "Why", "Wave / ring", "Last report"), rows))
    if silent:
        out.append('<p>Not attempted, never reported (%d): <span class="kbs">%s</span></p>' % (len(silent), _names(silent)))
    if installed:
        out.append('<p class="muted">Installed (%d): <span class="kbs">%s</span></p>' % (len(installed), _names(installed)))
    if outside:
        out.append('<p class="muted">Not targeted, not counted (%d): <span class="kbs">%s</span></p>'
                   % (len(outside), _names(outside)))
    out.append("</div>")
    return "".join(out)


def render_rollout(data):
    """The "Deployments and waves" section: each wave's rings with their outcomes and halts, then each
    deployment's hosts by enforcement state; nothing when the store has neither."""
    deployments, waves = data.get("deployments") or [], data.get("waves") or []
    if not deployments and not waves:
        return ""  # a store before preparation: nothing to show, no empty section
    out = ['<section id="rollout"><h2>Deployments and waves</h2>']
    if waves:
        out.append('<p class="muted">Waves, newest first: each ring with its outcome per host (the failure budget '
                   'counts failed, update loop, did not return and unreachable).</p>')
        out.extend(_render_wave(wave) for wave in waves)
    if deployments:
        out.append('<p class="muted" style="margin-top:16px">Deployments: each host\'s state from its newest enforcement '
                   'state messages and wave result; a host that never reported is not attempted, never installed.</p>')
        out.extend(_render_deployment(deployment) for deployment in deployments)
    out.append("</section>")
    return "".join(out)
