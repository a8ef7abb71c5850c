"""Rows the deployment tests need from other parts of preparation and distribution, written directly:
frozen update list versions with their members, deployment packages and distribution points."""

import hashlib
import json

from tests.compliance_data import SECURITY


def freeze_rows(store, list_name, version, update_ids, catalog_version=3, overrides=None,
                created_at="2026-12-01T00:00:00Z", with_list=True):
    """A frozen version of ``list_name`` holding ``update_ids`` (revision 100; ``overrides``: update id ->
    max run time), and the list's own row when ``with_list`` and it is not there yet."""
    overrides = overrides or {}
    digest = hashlib.sha256(json.dumps(sorted(update_ids)).encode()).hexdigest()
    with store.transaction() as cursor:
        if with_list and not cursor.execute("SELECT 1 FROM update_lists WHERE name = ?", (list_name,)).fetchall():
            cursor.execute("INSERT INTO update_lists (name, description, definition, created_at, updated_at) "
                           "VALUES (?, NULL, '{}', ?, ?)", (list_name, created_at, created_at))
        cursor.execute("INSERT INTO update_list_versions (list_name, version, catalog_version, content_hash, definition, "
                       "added, removed, created_at) VALUES (?, ?, ?, ?, '{}', '[]', '[]', ?)",
                       (list_name, version, catalog_version, digest, created_at))
        for uid in update_ids:
            cursor.execute("INSERT INTO update_list_members (list_name, version, update_id, revision_number, "
                           "max_run_time_minutes) VALUES (?, ?, ?, 100, ?)", (list_name, version, uid, overrides.get(uid)))
    return digest


def unfrozen_list(store, list_name, created_at="2026-12-01T00:00:00Z"):
    """A list that exists but has no frozen version."""
    with store.transaction() as cursor:
        cursor.execute("INSERT INTO update_lists (name, description, definition, created_at, updated_at) "
                       "VALUES (?, NULL, '{}', ?, ?)", (list_name, created_at, created_at))


def add_package(store, name, list_name, list_version, created_at="2026-12-01T00:00:00Z"):
    with store.transaction() as cursor:
        cursor.execute("INSERT INTO deployment_packages (name, list_name, list_version, content_version, library, "
                       "languages, size, created_at, updated_at) VALUES (?, ?, ?, 2, '/lib', '[\"en\"]', 0, ?, ?)",
                       (name, list_name, list_version, created_at, created_at))


def add_point(store, name, created_at="2026-12-01T00:00:00Z"):
    with store.transaction() as cursor:
        cursor.execute("INSERT INTO distribution_points (name, kind, settings, host_url, created_at, updated_at) "
                       "VALUES (?, 'path', '{\"path\": \"/srv/dp\"}', 'http://dp/', ?, ?)", (name, created_at, created_at))


CLASSIFICATION = SECURITY[1]
