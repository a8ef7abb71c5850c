"""The execution environment (meta/execution-environment.yml; docs/awx.md) as ansible-builder reads it.

No container is built here (no registry is reachable): ``ansible-builder create`` writes the build
context, and the checks read what the image build would use:

* the Containerfile pins ansible-core to the range of meta/runtime.yml, on Python 3.11;
* the context's Python requirements list every requirement of the collection's requirements.txt
  (same specifiers), plus tzdata and pywinrm; its bindep.txt is the collection's bindep.txt;
  Galaxy gets ansible.windows and the collection's own tarball;
* ansible-builder's own introspection script, run here on the collection installed from that
  tarball, reads the collection's meta/execution-environment.yml as a collection dependency file
  (file names relative to the collection root) and merges both lists; bindep parses the result;
* every third-party module imported under plugins/ belongs to a package the EE installs;
* every EE requirement admits the version the tests run with.
"""

import ast
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml
from ansible_runs import BIN, REPO
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

META = os.path.join(REPO, "meta")
EE_FILES = ("execution-environment.yml", "requirements.txt", "bindep.txt")


def requirement_lines(path):
    """The requirement lines of a pip or bindep file: comments (whole-line and trailing) and blanks dropped."""
    with open(path, encoding="utf-8") as handle:
        lines = [line.split("#", 1)[0].strip() for line in handle]
    return [line for line in lines if line]


def requirements(path):
    """{canonical name: Requirement} of a pip requirements file."""
    found = {}
    for line in requirement_lines(path):
        parsed = Requirement(line)
        found[canonicalize_name(parsed.name)] = parsed
    return found


def galaxy_version():
    with open(os.path.join(REPO, "galaxy.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)["version"]


def run(command, **kwargs):
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False, **kwargs)
    if done.returncode != 0:
        raise AssertionError("%s exited %d\n%s\n%s" % (" ".join(command), done.returncode, done.stdout[-3000:],
                                                       done.stderr[-3000:]))
    return done


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The EE definition copied with its lists into a scratch tree (meta/ beside .build/ee/ holding the
    collection tarball, as in the checkout), and the context ``ansible-builder create`` made from it."""
    root = tmp_path_factory.mktemp("ee")
    os.makedirs(root / "meta")
    for name in EE_FILES:
        shutil.copy(os.path.join(META, name), root / "meta" / name)
    run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--force", "--output-path",
         str(root / ".build" / "ee"), REPO], env=dict(os.environ, ANSIBLE_NOCOLOR="1"))
    context = root / "context"
    run([os.path.join(BIN, "ansible-builder"), "create", "-f", str(root / "meta" / "execution-environment.yml"),
         "--context", str(context), "--output-filename", "Containerfile"])
    return {"root": root, "context": context, "build": context / "_build"}


def test_ansible_builder_is_the_pinned_one():
    with open(os.path.join(REPO, "requirements-dev.txt"), encoding="utf-8") as handle:
        pins = dict(line.split("#", 1)[0].strip().split("==", 1) for line in handle if "==" in line.split("#", 1)[0])
    assert "ansible-builder" in pins, "requirements-dev.txt does not pin ansible-builder (make venv installs it from there)"
    assert importlib.metadata.version("ansible-builder") == pins["ansible-builder"]


def test_containerfile_pins_ansible_core_and_python(built):
    containerfile = (built["context"] / "Containerfile").read_text()
    with open(os.path.join(META, "runtime.yml"), encoding="utf-8") as handle:
        requires = SpecifierSet(yaml.safe_load(handle)["requires_ansible"])
    refs = re.search(r'^ARG ANSIBLE_INSTALL_REFS="([^"]*)"', containerfile, re.M)
    assert refs, containerfile[:2000]
    core = [Requirement(r) for r in refs.group(1).split() if r.startswith("ansible-core")]
    assert len(core) == 1, refs.group(1)
    # the EE's range is the collection's: same bounds as requires_ansible
    assert core[0].specifier == requires, (str(core[0].specifier), str(requires))
    assert importlib.metadata.version("ansible-core") in core[0].specifier  # the version tested here
    assert 'ARG PYCMD="/usr/bin/python3.11"' in containerfile
    assert "ansible-runner" in refs.group(1)
    # the collection's tarball is installed in the galaxy stage, before introspection reads it
    install = containerfile.index("/build/collections/patchwave-windows-*.tar.gz")
    assert containerfile.index("FROM base AS galaxy") < install < containerfile.index("introspect.py introspect")


def test_context_python_requirements_cover_the_collection(built):
    listed = requirements(str(built["build"] / "requirements.txt"))
    own = requirements(os.path.join(REPO, "requirements.txt"))
    missing = sorted(set(own) - set(listed))
    assert not missing, "requirements.txt entries missing from the EE's meta/requirements.txt: %s" % missing
    differ = {name: (str(own[name]), str(listed[name])) for name in own if own[name] != listed[name]}
    assert not differ, "the EE and requirements.txt disagree (collection, EE): %s" % differ
    for name in ("python-dateutil", "tzdata", "smbprotocol", "pywinrm", "psycopg"):
        assert name in listed, name
    assert "credssp" in listed["pywinrm"].extras


def test_context_system_requirements_are_bindep(built):
    assert requirement_lines(str(built["build"] / "bindep.txt")) == requirement_lines(os.path.join(REPO, "bindep.txt"))
    names = {line.split()[0] for line in requirement_lines(str(built["build"] / "bindep.txt"))}
    assert {"cabextract", "osslsigncode", "tzdata"} <= names


def test_context_galaxy_requirements_and_the_collection(built):
    with open(built["build"] / "requirements.yml", encoding="utf-8") as handle:
        galaxy = yaml.safe_load(handle)
    assert [c["name"] for c in galaxy["collections"]] == ["ansible.windows"]
    tarballs = os.listdir(built["build"] / "collections")
    assert tarballs == ["patchwave-windows-%s.tar.gz" % galaxy_version()], tarballs
    with tarfile.open(built["build"] / "collections" / tarballs[0]) as archive:
        names = archive.getnames()
        manifest = json.load(archive.extractfile("MANIFEST.json"))
    assert manifest["collection_info"]["namespace"] == "patchwave" and manifest["collection_info"]["name"] == "windows"
    # galaxy.yml's build_ignore keeps the checkout's own environment out of the image
    leaked = sorted({n.split("/")[0] for n in names if n.split("/")[0] in (".venv", ".build", ".pytest_cache", "demo")})
    assert not leaked, leaked
    for needed in ("meta/execution-environment.yml", "meta/requirements.txt", "meta/bindep.txt", "requirements.txt",
                   "bindep.txt", "playbooks/patch_wave.yml"):
        assert needed in names, needed


def test_introspection_reads_the_installed_collection(built, tmp_path):
    """What the builder stage runs: the installed collection's own lists (relative to its root) and the EE's."""
    collections = tmp_path / "collections"
    tarball = built["build"] / "collections" / ("patchwave-windows-%s.tar.gz" % galaxy_version())
    run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--offline", "--force", "-p", str(collections), str(tarball)],
        env=dict(os.environ, ANSIBLE_NOCOLOR="1"))
    pip_out, bindep_out = tmp_path / "pip.txt", tmp_path / "bindep.txt"
    run([sys.executable, str(built["build"] / "scripts" / "introspect.py"), "introspect",
         "--user-pip=%s" % (built["build"] / "requirements.txt"), "--user-bindep=%s" % (built["build"] / "bindep.txt"),
         "--write-pip=%s" % pip_out, "--write-bindep=%s" % bindep_out, str(collections)])
    merged = pip_out.read_text().splitlines()
    from_collection = {canonicalize_name(Requirement(line.split("#")[0]).name)
                       for line in merged if line.endswith("from collection patchwave.windows")}
    # ansible-builder drops the collection's PyYAML (ansible-core brings it); the EE's own list keeps it
    assert from_collection == set(requirements(os.path.join(REPO, "requirements.txt"))) - {"pyyaml"}, merged
    system = [line for line in bindep_out.read_text().splitlines() if line.endswith("from collection patchwave.windows")]
    assert len(system) == len(requirement_lines(os.path.join(REPO, "bindep.txt"))), system
    # bindep parses the merged list; on this machine (make debs) every package of it is installed
    done = subprocess.run([os.path.join(BIN, "bindep"), "-b", "-f", str(bindep_out)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, "bindep: missing or unparsable: %s %s" % (done.stdout, done.stderr)


def third_party_imports():
    """{top-level module: [files importing it]} for every absolute import under plugins/ that is neither
    the standard library, Ansible, nor this collection."""
    found = {}
    for folder, _dirs, files in os.walk(os.path.join(REPO, "plugins")):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            with open(path, encoding="utf-8") as handle:
                tree = ast.parse(handle.read(), path)
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.split(".")[0]
                    if top in sys.stdlib_module_names or top in ("ansible", "ansible_collections", "__future__"):
                        continue
                    found.setdefault(top, []).append(os.path.relpath(path, REPO))
    return found


def test_every_third_party_import_is_in_the_ee():
    imported = third_party_imports()
    assert {"lxml", "yaml", "dateutil", "psycopg", "smbclient", "winrm", "requests"} <= set(imported), sorted(imported)
    listed = set(requirements(os.path.join(META, "requirements.txt")))
    owners = importlib.metadata.packages_distributions()
    problems = []
    for module, files in sorted(imported.items()):
        dists = {canonicalize_name(d) for d in owners.get(module, [])}
        if not dists:
            problems.append("%s (imported by %s): no installed package provides it, so its EE requirement cannot be "
                            "checked" % (module, files[0]))
        elif not dists & listed:
            problems.append("%s (imported by %s) comes from %s, which meta/requirements.txt does not list"
                            % (module, files[0], ", ".join(sorted(dists))))
    assert not problems, "\n".join(problems)


def test_ee_requirements_admit_the_tested_versions():
    checked = []
    for name, requirement in requirements(os.path.join(META, "requirements.txt")).items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            # tzdata: this machine's zoneinfo reads the system database; nothing to compare
            print("not installed here, range not compared: %s" % requirement)
            continue
        assert requirement.specifier.contains(installed, prereleases=True), (str(requirement), installed)
        checked.append(name)
    assert {"lxml", "python-dateutil", "smbprotocol", "psycopg", "pywinrm", "requests"} <= set(checked), checked
