"""The layout by responsibility (docs/architecture.md), checked on the imports of every plugin file.

Dependencies point one way: faces (modules, action and inventory plugins) use the core
(``module_utils``, ``plugin_utils``), never the other way; inside the core the store knows no step,
readers never import the sync that writes, and each subpackage's ``__init__.py`` is empty.
"""

from __future__ import annotations

import ast
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLUGINS = os.path.join(REPO, "plugins")
PREFIX = "ansible_collections.patchwave.windows.plugins."


def _python_files():
    for folder, _dirs, files in os.walk(PLUGINS):
        for name in files:
            if name.endswith(".py"):
                yield os.path.relpath(os.path.join(folder, name), PLUGINS)


def imports(relpath, root=PLUGINS):
    """The collection modules a file imports, as dotted paths below ``plugins.`` (``module_utils._store.sql``)."""
    with open(os.path.join(root, relpath), encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PREFIX):
            base = node.module[len(PREFIX):]
            for alias in node.names:
                # "from package import module" names a module; "from module import name" does not
                candidate = os.path.join(root, *(base + "." + alias.name).split(".")) + ".py"
                found.add(base + "." + alias.name if os.path.exists(candidate) else base)
        elif isinstance(node, ast.Import):
            found.update(a.name[len(PREFIX):] for a in node.names if a.name.startswith(PREFIX))
    return found


FILES = sorted(_python_files())
CORE = [f for f in FILES if f.startswith(("module_utils" + os.sep, "plugin_utils" + os.sep))]


def _dotted(relpath):
    return relpath[:-3].replace(os.sep, ".")


# (files whose dotted path starts with ..., may not import anything starting with ...)
RULES = [
    ("module_utils.", ("action.", "inventory.", "modules.", "plugin_utils.")),
    ("plugin_utils.", ("action.", "inventory.", "modules.")),
    ("module_utils._store.", ("module_utils._catalog.", "module_utils._scan.", "module_utils._compliance.",
                              "module_utils._host.", "module_utils._prepare.", "module_utils._content.",
                              "module_utils._distribution.", "module_utils._windows.", "module_utils._install.")),
    ("module_utils._catalog.", ("module_utils._scan.", "module_utils._compliance.", "module_utils._host.",
                                "module_utils._prepare.", "module_utils._content.", "module_utils._distribution.",
                                "module_utils._install.")),
    # the state-message format (enforcement included) lives in _scan: installation writes it, ingest reads it
    ("module_utils._scan.", ("module_utils._compliance.", "module_utils._prepare.", "module_utils._content.",
                             "module_utils._distribution.", "module_utils._install.")),
    # compliance reads stored update lists with its own SQL: preparation builds on compliance, not back
    # compliance applies enforcement states from the store, by the names in _scan/messages.py
    ("module_utils._compliance.", ("module_utils._prepare.", "module_utils._content.", "module_utils._distribution.",
                                   "module_utils._install.")),
    # content (the library, downloads) and distribution (staging) know nothing of lists and deployments
    ("module_utils._content.", ("module_utils._prepare.", "module_utils._distribution.", "module_utils._scan.",
                                "module_utils._compliance.", "module_utils._install.")),
    ("module_utils._distribution.", ("module_utils._prepare.", "module_utils._scan.", "module_utils._compliance.",
                                     "module_utils._install.")),
    # installation builds on every step before it; none of them imports it
    ("module_utils._prepare.", ("module_utils._install.",)),
    ("module_utils._host.", ("module_utils._install.",)),
    # maintenance windows are pure rules over definitions: no step, the store at most
    ("module_utils._windows.", ("module_utils._catalog.", "module_utils._scan.", "module_utils._compliance.",
                                "module_utils._host.", "module_utils._prepare.", "module_utils._content.",
                                "module_utils._distribution.", "module_utils._install.")),
    ("module_utils._catalog.readers.", ("module_utils._catalog.sync", "module_utils._catalog.staging",
                                        "module_utils._catalog.parallel", "module_utils._catalog.source")),
    # the patch wave builds on the store, preparation (deployments) and installation (outcomes) only
    ("module_utils._wave.", ("module_utils._catalog.", "module_utils._scan.", "module_utils._compliance.",
                             "module_utils._host.", "module_utils._content.", "module_utils._distribution.",
                             "module_utils._windows.")),
]
# the report's reads of later steps (_report) may read any step; no step imports them
RULES += [(step, ("module_utils._report.",)) for step in (
    "module_utils._store.", "module_utils._catalog.", "module_utils._scan.", "module_utils._compliance.",
    "module_utils._host.", "module_utils._prepare.", "module_utils._content.", "module_utils._distribution.",
    "module_utils._windows.", "module_utils._install.", "module_utils._wave.")]
# the wave comes last: no step before it imports it
RULES += [(step, ("module_utils._wave.",)) for step in (
    "module_utils._store.", "module_utils._catalog.", "module_utils._scan.", "module_utils._compliance.",
    "module_utils._host.", "module_utils._prepare.", "module_utils._content.", "module_utils._distribution.",
    "module_utils._windows.", "module_utils._install.")]


def violations(relpath, root=PLUGINS):
    dotted = _dotted(relpath)
    return sorted(target for target in imports(relpath, root) for prefix, forbidden in RULES
                  if dotted.startswith(prefix) and target.startswith(forbidden))


@pytest.mark.parametrize("relpath", FILES)
def test_dependencies_point_one_way(relpath):
    wrong = violations(relpath)
    assert not wrong, "%s imports %s" % (relpath, ", ".join(wrong))


def test_the_rules_catch_a_reader_importing_the_sync_and_the_core_importing_a_face(tmp_path):
    readers = tmp_path / "module_utils" / "_catalog" / "readers"
    readers.mkdir(parents=True)
    (tmp_path / "module_utils" / "_catalog" / "sync.py").write_text("")
    (readers / "bad.py").write_text("from %smodule_utils._catalog.sync import FileLocation\n" % PREFIX)
    (tmp_path / "module_utils" / "_store").mkdir()
    (tmp_path / "module_utils" / "_store" / "bad.py").write_text("from %saction.scan import parse_ttl\n" % PREFIX)
    assert violations(os.path.join("module_utils", "_catalog", "readers", "bad.py"), str(tmp_path)) == [
        "module_utils._catalog.sync"]
    assert violations(os.path.join("module_utils", "_store", "bad.py"), str(tmp_path)) == ["action.scan"]


def test_module_utils_holds_only_subpackages():
    folder = os.path.join(PLUGINS, "module_utils")
    flat = sorted(name for name in os.listdir(folder) if os.path.isfile(os.path.join(folder, name)))
    assert flat == [], "module_utils/ should hold one subpackage per responsibility, not %s" % flat


@pytest.mark.parametrize("relpath", [f for f in FILES if f.endswith("__init__.py")])
def test_package_inits_are_empty(relpath):
    with open(os.path.join(PLUGINS, relpath), encoding="utf-8") as handle:
        assert handle.read().strip() == ""
