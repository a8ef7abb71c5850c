"""Named JSON objects and their history (plugins/module_utils/_store/objects.py), on both backends."""

from ansible_collections.patchwave.windows.plugins.module_utils._store import objects
from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store


def test_create_update_nothing_delete_with_history(store_address):
    store = open_store(store_address)
    try:
        with store.transaction() as cursor:
            assert objects.write_object(cursor, "deployment_templates", "template", "pilot", {"b": 1, "a": [1, 2]},
                                        json_column="settings") == "created"
        before = objects.read_object(store, "deployment_templates", "pilot", "settings")
        assert before["settings"] == {"a": [1, 2], "b": 1}
        with store.transaction() as cursor:  # the same value, keys in another order: nothing written
            assert objects.write_object(cursor, "deployment_templates", "template", "pilot", {"a": [1, 2], "b": 1},
                                        before, json_column="settings") is None
        with store.transaction() as cursor:
            assert objects.write_object(cursor, "deployment_templates", "template", "pilot", {"a": [1]}, before,
                                        json_column="settings") == "updated"
        after = objects.read_object(store, "deployment_templates", "pilot", "settings")
        assert after["settings"] == {"a": [1]} and after["created_at"] == before["created_at"]
        with store.transaction() as cursor:
            objects.delete_object(cursor, "deployment_templates", "template", "pilot", after, json_column="settings")
        assert objects.read_object(store, "deployment_templates", "pilot", "settings") is None
        history = objects.object_history(store, "template", "pilot")
        assert [h["action"] for h in history] == ["created", "updated", "deleted"]
        assert history[1]["before"]["settings"] == {"a": [1, 2], "b": 1} and history[1]["after"]["settings"] == {"a": [1]}
        assert history[2]["after"] is None
    finally:
        store.close()


def test_other_columns_count_as_a_change(store_address):
    store = open_store(store_address)
    try:
        with store.transaction() as cursor:
            objects.write_object(cursor, "distribution_points", "distribution_point", "dp1", {"path": "/srv"},
                                 json_column="settings", columns={"kind": "path", "host_url": "http://a/"})
        before = objects.read_object(store, "distribution_points", "dp1", "settings")
        with store.transaction() as cursor:
            assert objects.write_object(cursor, "distribution_points", "distribution_point", "dp1", {"path": "/srv"},
                                        before, json_column="settings",
                                        columns={"kind": "path", "host_url": "http://b/"}) == "updated"
        assert [r["name"] for r in objects.list_objects(store, "distribution_points", "settings")] == ["dp1"]
    finally:
        store.close()
