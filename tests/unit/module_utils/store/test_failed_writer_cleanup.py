"""A writer that fails takes away the SQLite store it made (plugins/module_utils/_store/sqlite.py)."""

import os

from ansible_collections.patchwave.windows.plugins.module_utils._store.connect import open_store
from ansible_collections.patchwave.windows.plugins.module_utils._store.sqlite import not_yet_there, remove_new_store


def test_a_new_store_and_its_new_folders_are_taken_away(tmp_path):
    path = tmp_path / "a" / "b" / "patchwave.db"
    missing = not_yet_there(str(path))
    assert missing == [str(path), str(tmp_path / "a" / "b"), str(tmp_path / "a")]
    open_store(str(path)).close()
    remove_new_store(missing)
    assert os.listdir(str(tmp_path)) == []


def test_an_existing_store_is_never_taken_away(tmp_path):
    path = tmp_path / "patchwave.db"
    open_store(str(path)).close()
    assert not_yet_there(str(path)) == []
    remove_new_store(not_yet_there(str(path)))
    assert path.exists()


def test_a_folder_someone_else_filled_meanwhile_stays(tmp_path):
    path = tmp_path / "a" / "b" / "patchwave.db"
    missing = not_yet_there(str(path))
    open_store(str(path)).close()
    (tmp_path / "a" / "other.txt").write_text("not ours")
    remove_new_store(missing)
    assert sorted(os.listdir(str(tmp_path / "a"))) == ["other.txt"]
