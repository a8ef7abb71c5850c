# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Distribution point definitions: checked, stored by name without secrets, turned into targets."""

from __future__ import annotations

import re

from ansible_collections.patchwave.windows.plugins.module_utils._distribution.errors import LayoutError
from ansible_collections.patchwave.windows.plugins.module_utils._distribution.path_target import PathTarget
from ansible_collections.patchwave.windows.plugins.module_utils._distribution.smb_target import SmbTarget
from ansible_collections.patchwave.windows.plugins.module_utils._store import objects

TABLE = "distribution_points"
OBJECT = "distribution_point"
KINDS = ("smb", "path")
# The keys a definition may hold, by kind (host_url and name apart); credentials are never stored.
SETTINGS = {"smb": ("server", "port", "share", "folder", "encrypt"), "path": ("path",)}
SECRET_KEYS = ("username", "password")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_HOST_URL = re.compile(r"^(https?://[^/\s]+(/\S*)?|\\\\[^\\\s]+\\[^\\\s]+(\\\S*)?)$")


class PointError(ValueError):
    """A definition that cannot be used; the message names the distribution point and the cause."""


def check_definition(entry):
    """``(name, kind, settings, host_url)`` from a definition dict (the module's option shape)."""
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise PointError("distribution point name %r: use letters, digits, '.', '_' and '-' (at most 64)" % (name,))
    kind = entry.get("type")
    if kind not in KINDS:
        raise PointError("distribution point '%s': type must be one of %s, not %r" % (name, ", ".join(KINDS), kind))
    other_kinds = {key for keys in SETTINGS.values() for key in keys} - set(SETTINGS[kind])
    unknown = sorted(k for k, v in entry.items() if v not in (None, "", False) and k in other_kinds)
    if unknown:
        raise PointError("distribution point '%s': %s not used by type %s" % (name, ", ".join(unknown), kind))
    host_url = entry.get("host_url")
    if not isinstance(host_url, str) or not _HOST_URL.match(host_url):
        raise PointError("distribution point '%s': host_url must say how Windows hosts reach the content, as "
                         "http(s)://server/path or \\\\server\\share\\folder (got %r)" % (name, host_url))
    if kind == "smb":
        for key in ("server", "share"):
            if not entry.get(key):
                raise PointError("distribution point '%s': type smb needs %s" % (name, key))
        port = entry.get("port") or 445
        if not 1 <= int(port) <= 65535:
            raise PointError("distribution point '%s': port %s is not a TCP port" % (name, port))
        settings = {"server": entry["server"], "port": int(port), "share": entry["share"],
                    "folder": entry.get("folder") or "", "encrypt": bool(entry.get("encrypt"))}
    else:
        if not entry.get("path"):
            raise PointError("distribution point '%s': type path needs path (a local or mounted folder)" % name)
        settings = {"path": entry["path"]}
    target(name, kind, settings)  # names that would escape (a folder with '..', a bad server name) fail here
    return name, kind, settings, host_url


def target(name, kind, settings, username=None, password=None):
    """The staging target of a definition (not connected)."""
    try:
        if kind == "smb":
            return SmbTarget(name, settings["server"], settings["share"], settings.get("folder") or "",
                             port=settings.get("port") or 445, username=username, password=password,
                             encrypt=settings.get("encrypt", False))
        return PathTarget(name, settings["path"])
    except LayoutError as exc:
        raise PointError("distribution point '%s': %s" % (name, exc)) from exc


def read_point(store, name):
    """The stored definition ``{name, kind, settings, host_url, ...}`` or None."""
    return objects.read_object(store, TABLE, name, json_column="settings")


def save_point(cursor, name, kind, settings, host_url, before):
    """Create or update the stored definition; ``"created"``, ``"updated"`` or None."""
    return objects.write_object(cursor, TABLE, OBJECT, name, settings, before, json_column="settings",
                                columns={"kind": kind, "host_url": host_url})


def public(row):
    """A stored definition as the modules return it."""
    return dict(row["settings"], name=row["name"], type=row["kind"], host_url=row["host_url"])
