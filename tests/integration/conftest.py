"""Fixtures of the integration tests; the helpers are in ansible_runs.py."""

import pytest
from ansible_runs import Runner


@pytest.fixture
def runner(tmp_path):
    return Runner(tmp_path)
