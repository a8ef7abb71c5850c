"""A small catalog_file catalog for the set rules (superseded within a set, previews, exclusions,
unknown names): two months of Windows Server 2022 cumulative updates, each superseded by that
month's optional preview, and a few updates around them. Keys name the updates in tests."""

from __future__ import annotations

import json

PRODUCT_WS2022 = "71718f13-7324-4b0f-8f9e-2ca9dc978e53"
PRODUCT_WS2019 = "f702a48c-919b-45d6-9aef-ca4248d50397"
SECURITY = "0fa1201d-4330-4fa8-8ae9-b877473b6441"
CRITICAL = "e6cf1350-c01b-414d-a61f-263d14d133b4"
UPDATES = "cd5ffd1e-e932-4e3a-bf74-18bf0b1bbd83"

_OS = "Microsoft server operating system version 21H2 for x64-based Systems"

# key: (update id, KB, title(s), classification, severity, release date, products, supersedes)
UPDATES_BY_KEY = {
    "cu10": ("10000000-0000-4000-8000-000000000001", "5044281", "2026-10 Cumulative Update for %s (KB5044281)" % _OS,
             SECURITY, "Critical", "2026-10-13", [PRODUCT_WS2022], []),
    "pv10": ("10000000-0000-4000-8000-000000000002", "5044288", "2026-10 Cumulative Update Preview for %s (KB5044288)" % _OS,
             UPDATES, None, "2026-10-27", [PRODUCT_WS2022], ["cu10"]),
    "cu11": ("10000000-0000-4000-8000-000000000003", "5046616", "2026-11 Cumulative Update for %s (KB5046616)" % _OS,
             SECURITY, "Critical", "2026-11-10", [PRODUCT_WS2022], ["cu10", "pv10"]),
    "pv11": ("10000000-0000-4000-8000-000000000004", "5046617",
             {"en": "2026-11 Cumulative Update Preview for %s (KB5046617)" % _OS,
              "de": "2026-11 Kumulatives Update (Vorschau) für %s (KB5046617)" % _OS},
             UPDATES, None, "2026-11-24", [PRODUCT_WS2022], ["cu11"]),
    "pvde": ("10000000-0000-4000-8000-000000000005", "5046618",
             {"de": "2026-11 Kumulatives Update (Vorschau) für .NET Framework 4.8.1 (KB5046618)"},
             UPDATES, None, "2026-11-25", [PRODUCT_WS2022], []),
    "rollup": ("10000000-0000-4000-8000-000000000006", "5046619",
               "2026-11 Preview of Monthly Quality Rollup for Windows Server 2012 R2 (KB5046619)",
               UPDATES, None, "2026-11-19", [PRODUCT_WS2019], []),
    "net11": ("10000000-0000-4000-8000-000000000007", "5046540",
              "2026-11 Cumulative Update for .NET Framework 3.5 and 4.8.1 for %s (KB5046540)" % _OS,
              SECURITY, "Important", "2026-11-10", [PRODUCT_WS2022], []),
    "oob11": ("10000000-0000-4000-8000-000000000008", "5047000", "2026-11 Out-of-band Update for %s (KB5047000)" % _OS,
              CRITICAL, None, "2026-11-19", [PRODUCT_WS2022], []),
    "insider": ("10000000-0000-4000-8000-000000000009", None,
                "Cumulative Update for Windows Server Insider Preview (10.0.26010.1)",
                UPDATES, None, "2026-11-05", [PRODUCT_WS2022], []),
    "severe": ("10000000-0000-4000-8000-00000000000a", "5046699",
               "2026-11 Cumulative Update Preview for Windows Server 2019 (KB5046699)",
               SECURITY, "Important", "2026-11-26", [PRODUCT_WS2019], []),
    "ws19": ("10000000-0000-4000-8000-00000000000b", "5046615", "2026-11 Cumulative Update for Windows Server 2019 (KB5046615)",
             SECURITY, "Critical", "2026-11-10", [PRODUCT_WS2019], []),
}
ID_TO_KEY = {entry[0]: key for key, entry in UPDATES_BY_KEY.items()}


def catalog():
    """The catalog as a catalog_file document (a dict)."""
    categories = [
        {"id": PRODUCT_WS2022, "type": "Product", "title": "Microsoft Server operating system-21H2",
         "description": "Microsoft Server operating system-21H2 (Windows Server 2022)"},
        {"id": PRODUCT_WS2019, "type": "Product", "title": "Windows Server 2019"},
        {"id": SECURITY, "type": "UpdateClassification", "title": "Security Updates"},
        {"id": CRITICAL, "type": "UpdateClassification", "title": "Critical Updates"},
        {"id": UPDATES, "type": "UpdateClassification", "title": "Updates"},
    ]
    updates = []
    for update_id, kb, title, classification, severity, date, products, supersedes in UPDATES_BY_KEY.values():
        entry = {"id": update_id, "release_date": date, "products": products, "classification": classification,
                 "supersedes": [UPDATES_BY_KEY[key][0] for key in supersedes]}
        entry.update({"titles": title} if isinstance(title, dict) else {"title": title})
        if kb:
            entry["kb"] = kb
        if severity:
            entry["severity"] = severity
        updates.append(entry)
    return {"format_version": 1, "source": "set-rules", "categories": categories, "updates": updates}


def write(path):
    """Write the catalog as JSON to ``path``."""
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(catalog(), handle, ensure_ascii=False, indent=1)
    return path
