"""A PostgreSQL store address's password never reaches a module's output, not even the returned
``invocation`` at -vvv: the modules give it to Ansible's ``no_log_values``, which masks it.

The store is on a closed port, so each run fails to connect: the failure, its message and the
echoed arguments are all there to leak the password, and none does. ansible-core itself shows a
failed ad hoc task's own text as its origin, so a password typed literally on the command line is
shown back there (the user's own words, before any module runs); from a variable, as a vaulted
password is given, it appears nowhere.
"""

import json
import os
import subprocess

import pytest
from ansible_runs import BIN, ansible_env

PASSWORD = "Pw0rdX"
ADDRESSES = pytest.mark.parametrize("address", ["postgresql://u:%s@127.0.0.1:1/db" % PASSWORD,
                                                "postgresql://u@127.0.0.1:1/db?password=%s" % PASSWORD],
                                    ids=["in-the-user-part", "in-the-query"])
MODULES = pytest.mark.parametrize("module", ["catalog_info", "compliance_info"])


def ad_hoc(tmp_path, module, *args):
    done = subprocess.run([os.path.join(BIN, "ansible"), "localhost", "-i", "localhost,", "-c", "local", "-vvv",
                           "-m", "patchwave.windows.%s" % module] + list(args),
                          env=ansible_env(tmp_path), capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode != 0, done.stdout  # nothing listens on port 1
    return done


@MODULES
@ADDRESSES
def test_the_store_password_is_never_echoed(tmp_path, module, address):
    done = ad_hoc(tmp_path, module, "-a", "store={{ store_address }}", "-e", "store_address=%s" % address)
    assert '"module_args"' in done.stdout  # the arguments were echoed ...
    assert PASSWORD not in done.stdout + done.stderr  # ... without the password
    assert "127.0.0.1:1/db" in done.stdout  # the rest of the address is still there to read


@MODULES
@ADDRESSES
def test_a_literal_store_password_is_masked_in_the_result(tmp_path, module, address):
    done = ad_hoc(tmp_path, module, "-a", "store=%s" % address)
    result = json.loads(done.stdout.split("FAILED! => ", 1)[1])
    assert PASSWORD not in json.dumps(result)
    assert result["invocation"]["module_args"]["store"] == address.replace(PASSWORD, "********")
    assert "cannot be opened" in result["msg"]
