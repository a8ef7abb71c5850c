"""The integration tests' processes cannot reach beyond loopback (tests/servers/guard_site)."""

import json
import os
import subprocess

from ansible_runs import BIN, ansible_json_env


def test_ansible_and_its_modules_reach_only_loopback(tmp_path):
    playbook = tmp_path / "reach.yml"
    playbook.write_text(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n"
        "    - name: a download host on the internet\n      ansible.builtin.uri:\n"
        "        url: http://192.0.2.10/wsusscn2.cab\n        timeout: 5\n      ignore_errors: true\n")
    done = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", str(playbook)],
                          env=ansible_json_env(tmp_path), capture_output=True, text=True, timeout=300, check=False)
    result = json.loads(done.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert result["failed"] is True
    assert "network guard" in json.dumps(result) and "192.0.2.10" in json.dumps(result), result.get("msg")
