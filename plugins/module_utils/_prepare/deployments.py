# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Deployments: a frozen update list version, to whom (inventory groups), when (available, deadline),
how (a template's settings with overrides) and from where (a package and distribution points).

A deployment is stored resolved (``deployments.definition``): the list version it names, absolute
times and the settings as they were when it was written, so a later change to its template or a
newer list version never changes a deployment that is not written again. What the install step asks
of a deployment is here too: ``read_deployment``, ``targeted``, ``host_deadline`` and
``deployment_updates`` (with each update's maximum run time).
"""

from __future__ import annotations

import datetime

from ansible_collections.patchwave.windows.plugins.module_utils._prepare.lists import (
    ListError,
    read_version,
    version_members,
)
from ansible_collections.patchwave.windows.plugins.module_utils._prepare.templates import (
    DEFAULTS,
    OFFSETS,
    TemplateError,
    check_settings,
    max_run_time,
    parse_offset,
    randomized_offset,
    read_template,
)
from ansible_collections.patchwave.windows.plugins.module_utils._store.objects import (
    delete_object,
    object_history,
    read_object,
    write_object,
)
from ansible_collections.patchwave.windows.plugins.module_utils._store.timestamps import (
    format_time,
    parse_time,
    utc_now,
)

TABLE = "deployments"
OBJECT_TYPE = "deployment"
TYPES = ("required", "available")
NOT_TARGETED = "not_targeted"


class DeploymentError(ValueError):
    """A deployment cannot be written as asked; the message names the deployment and the cause."""


# -- the list version a deployment takes ----------------------------------------------------------

def list_members(store, list_name, version):
    """The members of a frozen list version: ``[{update_id, revision_number, max_run_time_minutes}]``
    (``max_run_time_minutes``: the list's override, or None)."""
    return version_members(store, list_name, version)


def _frozen_version(store, owner, list_name, version):
    try:
        return read_version(store, list_name, version)
    except ListError as exc:
        raise DeploymentError("%s: %s" % (owner, exc))


# -- resolving what the module was given ----------------------------------------------------------

def owner_name(name):
    return "deployment '%s'" % name


def _when(value, base, owner, option):
    """An option that is an offset from ``base`` (``+2d``) or an absolute ISO 8601 time, as a datetime."""
    try:
        return base + parse_offset(value)
    except ValueError:
        pass
    try:
        return parse_time(str(value), what="time")
    except ValueError:
        raise DeploymentError("%s: %s: %r is neither an ISO 8601 time nor an offset such as +2d or +4h"
                              % (owner, option, value))


def resolve_definition(store, name, params, before=None, now=None):
    """The definition to store for ``params`` (the module's options), checked against the store.

    ``before`` is the stored definition (its ``start`` is kept when ``start`` is not given, so a
    second identical run resolves the same times). Returns ``(definition, warnings)``; raises
    DeploymentError naming the deployment and the cause.
    """
    owner = owner_name(name)
    warnings = []
    if not params.get("update_list"):
        raise DeploymentError("%s: update_list is required" % owner)
    targets = []
    for target in params.get("targets") or ():
        if not isinstance(target, str) or not target.strip() or any(c.isspace() for c in target.strip()):
            raise DeploymentError("%s: targets: %r is not an inventory group name" % (owner, target))
        if target.strip() not in targets:
            targets.append(target.strip())
    if not targets:
        raise DeploymentError("%s: targets must name at least one inventory group" % owner)
    kind = params.get("type") or "required"
    if kind not in TYPES:
        raise DeploymentError("%s: type: %r is not one of %s" % (owner, kind, ", ".join(TYPES)))

    version = _frozen_version(store, owner, params["update_list"], params.get("version"))

    template_name = params.get("template")
    settings = dict(DEFAULTS)
    if template_name:
        template = read_template(store, template_name)
        if template is None:
            raise DeploymentError("%s: deployment template '%s' does not exist" % (owner, template_name))
        settings.update(template)
    overrides = params.get("settings") or {}
    offsets = sorted(set(overrides) & set(OFFSETS))
    if offsets:
        raise DeploymentError("%s: settings: %s is given by the options available and deadline"
                              % (owner, ", ".join(offsets)))
    try:
        overrides = check_settings(overrides, owner + " settings", partial=True)
    except TemplateError as exc:
        raise DeploymentError(str(exc))
    settings.update(overrides)

    start = params.get("start")
    if start:
        try:
            start = parse_time(str(start), what="time")
        except ValueError as exc:
            raise DeploymentError("%s: start: %s" % (owner, exc))
    elif before is not None:
        start = parse_time(before["start"])
    else:
        start = (now or utc_now()).replace(microsecond=0)
    available = _when(params.get("available") or settings["available_offset"], start, owner, "available")
    deadline = None
    if kind == "required":
        deadline = _when(params.get("deadline") or settings["deadline_offset"], available, owner, "deadline")
        if deadline <= available:
            raise DeploymentError("%s: the deadline %s is not after the available time %s"
                                  % (owner, format_time(deadline), format_time(available)))
    elif params.get("deadline"):
        raise DeploymentError("%s: deadline: an available (optional) deployment has no deadline" % owner)

    package = params.get("package")
    if package:
        rows = store.query("SELECT list_name, list_version FROM deployment_packages WHERE name = ?", (package,))
        if not rows:
            raise DeploymentError("%s: deployment package '%s' does not exist" % (owner, package))
        if (rows[0]["list_name"], rows[0]["list_version"]) != (params["update_list"], version["version"]):
            raise DeploymentError("%s: deployment package '%s' holds update list '%s' version %d, not version %d of '%s'"
                                  % (owner, package, rows[0]["list_name"], rows[0]["list_version"],
                                     version["version"], params["update_list"]))
    points = []
    for point in params.get("distribution_points") or ():
        if point not in points:
            points.append(point)
    if points:
        known = {r["name"] for r in store.query("SELECT name FROM distribution_points")}
        missing = [p for p in points if p not in known]
        if missing:
            raise DeploymentError("%s: distribution point(s) %s do not exist" % (owner, ", ".join(repr(p) for p in missing)))
    if settings["content_source"] == "distribution_point" and not (package and points):
        warnings.append("%s: content_source is distribution_point but the deployment names no %s yet; install "
                        "cannot fetch its content until it does" % (owner, " and no ".join(
                            [w for w, given in (("package", package), ("distribution_points", points)) if not given])))
    if settings["scan_source"] == "offline" and not points:
        warnings.append("%s: scan_source is offline but the deployment names no distribution_points to take the "
                        "offline scan file from" % owner)

    definition = {
        "update_list": params["update_list"],
        "list_version": version["version"],
        "catalog_version": version["catalog_version"],
        "content_hash": version["content_hash"],
        "targets": targets,
        "type": kind,
        "start": format_time(start),
        "available": format_time(available),
        "deadline": None if deadline is None else format_time(deadline),
        "template": template_name or None,
        "overrides": overrides,
        "settings": {k: v for k, v in settings.items() if k not in OFFSETS},
        "package": package or None,
        "distribution_points": points,
    }
    return definition, warnings


# -- the store ----------------------------------------------------------------------------------

def read_deployment(store, name):
    """The stored definition of ``name`` with ``name``, ``created_at`` and ``updated_at``, or None."""
    row = read_object(store, TABLE, name)
    if row is None:
        return None
    return dict(row["definition"], name=name, created_at=row["created_at"], updated_at=row["updated_at"])


def list_deployments(store):
    """The names of every deployment, sorted."""
    return [r["name"] for r in store.query("SELECT name FROM deployments ORDER BY name")]


def apply_deployment(store, name, state, params=None, check_mode=False, now=None):
    """Plan and, unless ``check_mode``, write the deployment in one transaction.

    Returns ``(action, before, after, warnings)``: ``action`` is ``created``, ``updated``,
    ``deleted`` or None; ``before``/``after`` the definitions (None for no deployment).
    """
    with store.transaction() as cursor:
        row = read_object(store, TABLE, name)
        before = None if row is None else row["definition"]
        if state == "absent":
            if row is not None and not check_mode:
                delete_object(cursor, TABLE, OBJECT_TYPE, name, row)
            return ("deleted" if row is not None else None), before, None, []
        after, warnings = resolve_definition(store, name, params or {}, before, now)
        if before == after:
            return None, before, after, warnings
        if not check_mode:
            write_object(cursor, TABLE, OBJECT_TYPE, name, after, before=row, now=now)
        return ("created" if before is None else "updated"), before, after, warnings


# -- what the install step asks -------------------------------------------------------------------

def targeted(deployment, group_names):
    """True when a host in ``group_names`` (its ``group_names``) is targeted, else the reason ``not_targeted``."""
    if set(deployment["targets"]) & set(group_names or ()):
        return True
    return NOT_TARGETED


def host_deadline(deployment, host):
    """The host's own deadline (ISO 8601 UTC): the deployment's deadline plus the host's randomized
    offset (``randomized_offset``); None for an available (optional) deployment."""
    if not deployment.get("deadline"):
        return None
    moment = parse_time(deployment["deadline"]) + datetime.timedelta(
        minutes=randomized_offset(deployment["settings"], host))
    return format_time(moment)


def deployment_updates(store, deployment):
    """The updates of the deployment's list version with their catalog facts and maximum run time:
    ``[{update_id, revision_number, kb, title, classification, max_run_time_minutes}]``."""
    members = list_members(store, deployment["update_list"], deployment["list_version"])
    facts = {}
    ids = [m["update_id"] for m in members]
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ", ".join("?" * len(chunk))
        for row in store.query("SELECT u.update_id, u.kb, u.title FROM updates u WHERE u.update_id IN (%s)" % marks,
                               chunk):
            facts[row["update_id"]] = dict(row, classification=None)
        for row in store.query("SELECT c.update_id, k.title FROM update_categories c JOIN updates k "
                               "ON k.update_id = c.category_id WHERE k.category_type = 'UpdateClassification' "
                               "AND c.update_id IN (%s) ORDER BY k.title" % marks, chunk):
            entry = facts.setdefault(row["update_id"], {"kb": None, "title": None, "classification": None})
            entry["classification"] = entry.get("classification") or row["title"]
    updates = []
    for member in members:
        fact = facts.get(member["update_id"], {})
        update = {"update_id": member["update_id"], "revision_number": member["revision_number"],
                  "kb": fact.get("kb"), "title": fact.get("title"), "classification": fact.get("classification")}
        update["max_run_time_minutes"] = max_run_time(update, deployment["settings"], member["max_run_time_minutes"])
        updates.append(update)
    return updates


def history_entries(store, name):
    """The deployment's changes, oldest first (``objects.object_history``)."""
    return object_history(store, OBJECT_TYPE, name)
