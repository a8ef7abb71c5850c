"""Run real ansible-playbook and ansible-doc against the collection as users do.

The integration tests import these helpers as ``ansible_runs`` (a name of its own: every folder's
``conftest`` module is called ``conftest``, so importing from one by that name finds whichever was
loaded first).
"""

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(REPO, ".build", "collections")
BIN = os.path.dirname(sys.executable)
# Every Python process ansible starts imports this folder's sitecustomize: loopback only (tests/servers/guard_site).
GUARD_SITE = os.path.join(REPO, "tests", "servers", "guard_site")


def ansible_env(tmp_path, **extra):
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
        "PATH": BIN + os.pathsep + env.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join([GUARD_SITE, COLLECTIONS] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])),
        "PATCHWAVE_NETWORK_GUARD": "1",
    })
    env.pop("PATCHWAVE_STORE", None)
    env.pop("PATCHWAVE_SPOOL", None)
    env.update(extra)
    return env


def ansible_json_env(tmp_path, **extra):
    """ansible_env with the ansible.posix.json stdout callback, for tests that read results as JSON."""
    return ansible_env(tmp_path, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
                       ANSIBLE_HOST_KEY_CHECKING="0", **extra)


class Runner:
    """Runs a playbook whose tasks register results and dumps them to a JSON file per name."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.results = tmp_path / "results"
        self.results.mkdir(exist_ok=True)

    def play(self, tasks_yaml, extra_vars=None, check=False, name="play", expect_rc=0):
        playbook = self.tmp_path / ("%s.yml" % name)
        playbook.write_text(
            "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n" + tasks_yaml)
        command = [os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", str(playbook)]
        if extra_vars:
            command += ["-e", json.dumps(extra_vars)]
        if check:
            command.append("--check")
        done = subprocess.run(command, env=ansible_env(self.tmp_path), capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != expect_rc:
            raise AssertionError("ansible-playbook exited %d (expected %d)\n%s\n%s"
                                 % (done.returncode, expect_rc, done.stdout[-6000:], done.stderr[-3000:]))
        return done

    def result(self, name):
        return json.loads((self.results / ("%s.json" % name)).read_text())

    def module(self, module, args, name, check=False):
        """Run ``patchwave.windows.<module>`` once on localhost with ``args``; its registered result."""
        task = ("    - name: %s\n      patchwave.windows.%s: %s\n      register: %s\n"
                % (name, module, json.dumps(args), name)) + save(name, name)
        self.play(task, extra_vars={"results_dir": str(self.results)}, check=check, name=name)
        return self.result(name)


def save(name, register):
    """YAML for a task that saves a registered result for the test to read."""
    return ("    - name: save %s\n      ansible.builtin.copy:\n        content: \"{{ %s | to_json }}\"\n"
            "        dest: \"{{ results_dir }}/%s.json\"\n        mode: '0644'\n      check_mode: false\n"
            % (name, register, name))
