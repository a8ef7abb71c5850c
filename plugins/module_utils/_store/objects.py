# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Named objects kept as JSON (update lists, templates, deployments, distribution points, ...) and
their history: one way to read, write and delete them, each change recorded in ``object_history``.

Each object table has ``name`` as its key, one JSON text column (``definition`` or ``settings``)
and ``created_at`` / ``updated_at``; other columns are passed as ``columns``. Writes run inside the
caller's transaction (``store.transaction()``), so an object and its history change together.
"""

from __future__ import annotations

import json

from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import format_time, utc_now


def dumps(value):
    """The one JSON form of stored objects: sorted keys, no spaces (equal values give equal text)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def read_object(store, table, name, json_column="definition"):
    """The row of ``name`` with its JSON column decoded, or None."""
    rows = store.query("SELECT * FROM %s WHERE name = ?" % table, (name,))
    if not rows:
        return None
    row = dict(rows[0])
    row[json_column] = json.loads(row[json_column])
    return row


def list_objects(store, table, json_column="definition"):
    """Every row of ``table`` by name, JSON decoded."""
    rows = []
    for row in store.query("SELECT * FROM %s ORDER BY name" % table):
        row = dict(row)
        row[json_column] = json.loads(row[json_column])
        rows.append(row)
    return rows


def record_history(cursor, object_type, name, action, before, after, now=None):
    """One line of ``object_history`` (``before``/``after``: plain data or None), numbered in order."""
    entry = (cursor.execute("SELECT max(entry) FROM object_history").fetchone()[0] or 0) + 1
    cursor.execute("INSERT INTO object_history (entry, object_type, name, changed_at, action, before_json, after_json) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (entry, object_type, name, format_time(now or utc_now()), action,
                    None if before is None else dumps(before), None if after is None else dumps(after)))


def write_object(cursor, table, object_type, name, value, before=None, json_column="definition", columns=None,
                 now=None):
    """Create or replace ``name`` with ``value`` (its JSON column) and ``columns`` (other columns).

    ``before`` is what ``read_object`` returned (None: the object is new). Returns ``"created"``,
    ``"updated"`` or None when nothing differs (nothing is written then).
    """
    columns = dict(columns or {})
    stamp = format_time(now or utc_now())
    if before is not None:
        same = dumps(before[json_column]) == dumps(value) and all(before.get(k) == v for k, v in columns.items())
        if same:
            return None
        assignments = ", ".join("%s = ?" % k for k in [json_column, "updated_at"] + list(columns))
        cursor.execute("UPDATE %s SET %s WHERE name = ?" % (table, assignments),
                       [dumps(value), stamp] + list(columns.values()) + [name])
        record_history(cursor, object_type, name, "updated", _plain(before, json_column),
                       dict(columns, **{json_column: value}), now)
        return "updated"
    names = ["name", json_column, "created_at", "updated_at"] + list(columns)
    cursor.execute("INSERT INTO %s (%s) VALUES (%s)" % (table, ", ".join(names), ", ".join("?" * len(names))),
                   [name, dumps(value), stamp, stamp] + list(columns.values()))
    record_history(cursor, object_type, name, "created", None, dict(columns, **{json_column: value}), now)
    return "created"


def delete_object(cursor, table, object_type, name, before, json_column="definition", now=None):
    """Delete ``name`` (``before``: its row as read); recorded in the history."""
    cursor.execute("DELETE FROM %s WHERE name = ?" % table, (name,))
    record_history(cursor, object_type, name, "deleted", _plain(before, json_column), None, now)


def object_history(store, object_type, name):
    """The changes of one object, oldest first: ``[{"changed_at", "action", "before", "after"}]``."""
    return [{"changed_at": r["changed_at"], "action": r["action"],
             "before": None if r["before_json"] is None else json.loads(r["before_json"]),
             "after": None if r["after_json"] is None else json.loads(r["after_json"])}
            for r in store.query("SELECT changed_at, action, before_json, after_json FROM object_history "
                                 "WHERE object_type = ? AND name = ? ORDER BY entry", (object_type, name))]


def _plain(row, json_column):
    return {k: v for k, v in row.items() if k not in ("name", "created_at", "updated_at")} if row else None
