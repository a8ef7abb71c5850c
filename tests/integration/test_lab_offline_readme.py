"""tests/lab/README.md "Trying an offline scan" runs as written: the lab's CLI mounts a folder with a
wsusscn2.cab as a share on every host, an ad-hoc offline scan finds the updates on each, and after
unmount the same scan fails with 0x80070002."""

import json
import os
import re
import subprocess

import pytest
from ansible_runs import REPO, ansible_env

README = os.path.join(REPO, "tests", "lab", "README.md")


def readme_commands():
    text = open(README, encoding="utf-8").read()
    section = text.split("### Trying an offline scan", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def ad_hoc_results(output):
    """{host: (status, result)} from the ad-hoc command's default output ('win001 | CHANGED => {...}')."""
    results = {}
    for match in re.finditer(r"^(\S+) \| (\w+)(?:!)? => (\{.*?^\})", output, re.S | re.M):
        results[match.group(1)] = (match.group(2), json.loads(match.group(3)))
    return results


@pytest.mark.integration
def test_readme_offline_scan_block_runs_as_written(tmp_path):
    lab = str(tmp_path / "lab")
    commands = [line.replace("/tmp/lab", lab) for line in readme_commands()]
    assert any(" mount " in c for c in commands) and any(" unmount " in c for c in commands)
    scan = [c for c in commands if "patchwave.windows.scan" in c]
    assert len(scan) == 1 and "offline_scan_file" in scan[0]
    env = ansible_env(tmp_path, PYTHONPATH=REPO, ANSIBLE_HOST_KEY_CHECKING="0")

    def sh(command):
        done = subprocess.run(["bash", "-c", command], cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=600, check=False)
        return done.returncode, done.stdout + done.stderr

    outputs = []
    try:
        for command in commands:
            if " stop " in command:
                break
            rc, output = sh(command)
            outputs.append((command, rc, output))
            if "patchwave.windows.scan" not in command:
                assert rc == 0, (command, output[-3000:])
        command, rc, output = next(item for item in outputs if item[0] == scan[0])
        results = ad_hoc_results(output)
        assert sorted(results) == ["win%03d" % n for n in range(1, 6)], output[-3000:]
        for name, (status, result) in results.items():
            assert status == "CHANGED" and rc == 0, (name, status, result.get("msg"))
            assert (result["scan"]["mode"], result["scan"]["result"]) == ("offline", "Succeeded"), name
            assert result["scan"]["update_count"] > 0, name
        # after the README's unmount, the same scan fails on every host: the share has no file behind it
        rc, output = sh(scan[0])
        results = ad_hoc_results(output)
        assert rc != 0 and sorted(results) == ["win%03d" % n for n in range(1, 6)], output[-3000:]
        for name, (status, result) in results.items():
            assert status == "FAILED" and result["scan"]["hresult"] == "0x80070002", (name, status, result.get("msg"))
            assert result["changed"] is False, name
    finally:
        rc, output = sh([c for c in commands if " stop " in c][0])
        assert rc == 0, output
