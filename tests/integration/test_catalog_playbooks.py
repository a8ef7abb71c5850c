"""catalog_sync and catalog_info through ansible-playbook, the sync_catalog role and playbook, ansible-doc."""

import os
import re
import sqlite3
import subprocess

import yaml
from ansible_runs import BIN, ansible_env, save

DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                   "docs", "catalog_file_format.md")


def doc_example():
    text = open(DOC, encoding="utf-8").read()
    return re.search(r"```yaml\n(.*?)```", text, re.S).group(1)


def sync_tasks(extra=""):
    return ("    - name: sync\n      patchwave.windows.catalog_sync:\n        src: \"{{ src }}\"\n"
            "        store: \"{{ store }}\"\n" + extra +
            "      register: synced\n      ignore_errors: true\n" + save("synced", "synced"))


def test_sync_is_idempotent_and_check_mode_changes_nothing(runner, tmp_path):
    src = tmp_path / "contoso.yml"
    src.write_text(doc_example())
    store = tmp_path / "store" / "patchwave.db"
    variables = {"src": str(src), "store": str(store), "results_dir": str(runner.results)}

    runner.play(sync_tasks(), variables)
    first = runner.result("synced")
    assert first["changed"] is True and first["catalog_version"] == 1
    assert first["format"] == "catalog_file" and first["source"] == "contoso-apps"
    assert first["counts"]["by_kind"]["software"]["added"] == 1

    runner.play(sync_tasks(), variables)
    second = runner.result("synced")
    assert second["changed"] is False and second["catalog_version"] == 1

    src.write_text(doc_example().replace("Contoso Agent 4.2.1 for x64", "Contoso Agent 4.2.2 for x64"))
    runner.play(sync_tasks(), variables, check=True)
    predicted = runner.result("synced")
    assert predicted["changed"] is True and predicted["counts"]["modified"] == 1
    with sqlite3.connect(str(store)) as db:
        assert db.execute("SELECT count(*) FROM catalog_versions").fetchone()[0] == 1
        assert db.execute("SELECT title FROM updates WHERE kind = 'software'").fetchone()[0] == "Contoso Agent 4.2.1 for x64"


def test_catalog_info_returns_files_categories_and_supersedence(runner, tmp_path):
    src = tmp_path / "contoso.yml"
    src.write_text(doc_example().replace("supersedes: []", "supersedes: [11111111-2222-3333-4444-555555555555]"))
    store = tmp_path / "patchwave.db"
    tasks = sync_tasks() + (
        "    - name: query\n      patchwave.windows.catalog_info:\n        store: \"{{ store }}\"\n"
        "        kbs: [KB5031361]\n      register: found\n" + save("found", "found") +
        "    - name: query by product title\n      patchwave.windows.catalog_info:\n        store: \"{{ store }}\"\n"
        "        products: [Contoso Line-of-Business Apps, No Such Product]\n      register: by_product\n"
        + save("by_product", "by_product"))
    runner.play(tasks, {"src": str(src), "store": str(store), "results_dir": str(runner.results)})
    found = runner.result("found")
    assert found["count"] == 1 and found["catalog_version"] == 1
    update = found["updates"][0]
    assert update["kb"] == "5031361" and update["msrc_severity"] == "Important"
    assert update["products"] == [{"id": "6b9e2a8d-3f1c-4c1a-9a77-0d4b3c2e1f10", "title": "Contoso Line-of-Business Apps"}]
    assert update["files"][0]["sha256"] == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    assert update["supersedes"] == [{"update_id": "11111111-2222-3333-4444-555555555555", "title": None,
                                     "kb": None, "in_catalog": False}]
    by_product = runner.result("by_product")
    assert by_product["count"] == 1 and by_product["unknown_categories"] == ["No Such Product"]


def test_bad_catalog_fails_with_clear_message_and_store_unchanged(runner, tmp_path):
    good = tmp_path / "good.yml"
    good.write_text(doc_example())
    bad = tmp_path / "bad.yml"
    bad.write_text(doc_example().replace("severity: Important", "sevrity: Important"))
    store = tmp_path / "patchwave.db"
    runner.play(sync_tasks(), {"src": str(good), "store": str(store), "results_dir": str(runner.results)})
    with sqlite3.connect(str(store)) as db:
        before = db.execute("SELECT * FROM updates ORDER BY update_id").fetchall()
    runner.play(sync_tasks(), {"src": str(bad), "store": str(store), "results_dir": str(runner.results)})
    failed = runner.result("synced")
    assert failed["failed"] is True
    assert str(bad) in failed["msg"] and "sevrity" in failed["msg"]
    with sqlite3.connect(str(store)) as db:
        assert db.execute("SELECT * FROM updates ORDER BY update_id").fetchall() == before


def test_a_failed_sync_into_a_new_store_leaves_no_store_behind(runner, tmp_path):
    src = tmp_path / "not-a-cabinet.cab"
    src.write_text("this is text, not a cabinet\n")
    store = tmp_path / "new" / "deeper" / "patchwave.db"
    tasks = sync_tasks() + (
        "    - name: read\n      patchwave.windows.catalog_info:\n        store: \"{{ store }}\"\n"
        "      register: read\n      ignore_errors: true\n" + save("read", "read"))
    runner.play(tasks, {"src": str(src), "store": str(store), "results_dir": str(runner.results)})
    assert runner.result("synced")["failed"] is True
    assert not (tmp_path / "new").exists()  # neither the store file nor the folders the sync made for it
    assert "store '%s' does not exist" % store in runner.result("read")["msg"]  # not "no catalog version"


def test_missing_source_and_bad_arguments(runner, tmp_path):
    variables = {"src": str(tmp_path / "nope.cab"), "store": str(tmp_path / "s.db"), "results_dir": str(runner.results)}
    runner.play(sync_tasks(), variables)
    assert "does not exist" in runner.result("synced")["msg"]
    runner.play(sync_tasks("        expire_superseded_after_days: -1\n"), variables)
    assert "expire_superseded_after_days must be 0 or more" in runner.result("synced")["msg"]


def test_role_and_playbook_sync_catalog(tmp_path):
    src = tmp_path / "contoso.yml"
    src.write_text(doc_example())
    store = tmp_path / "role.db"
    command = [os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", "patchwave.windows.sync_catalog",
               "-e", "sync_catalog_src=%s sync_catalog_store=%s" % (src, store)]
    done = subprocess.run(command, env=ansible_env(tmp_path), capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    example = yaml.safe_load(doc_example())
    total = len(example["categories"]) + len(example["updates"])
    assert "catalog version 1 (new): %d updates in scope, %d added" % (total, total) in done.stdout
    done = subprocess.run(command, env=ansible_env(tmp_path), capture_output=True, text=True, timeout=600, check=False)
    assert "catalog version 1 (unchanged)" in done.stdout
    assert "changed=0" in done.stdout


def test_role_argument_spec_rejects_missing_src(tmp_path):
    command = [os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", "patchwave.windows.sync_catalog"]
    done = subprocess.run(command, env=ansible_env(tmp_path), capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode != 0
    assert "sync_catalog_src" in done.stdout + done.stderr


def test_ansible_doc_renders_both_modules(tmp_path):
    for module in ("catalog_sync", "catalog_info"):
        done = subprocess.run([os.path.join(BIN, "ansible-doc"), "patchwave.windows." + module],
                              env=ansible_env(tmp_path), capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        assert "store" in done.stdout and "EXAMPLES" in done.stdout
