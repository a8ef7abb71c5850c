"""Fixtures of the content tests (deployment_package, content_stage): a generated catalog with its
payload files, and nginx serving them on loopback (reached through ``mirror_url``). Imported by the
test modules that use them, so each module gets its own world and server."""

import pytest

from tests.content_world import content_world
from tests.servers.http import Nginx, ServerUnavailable


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """``{"store", "payloads", "cab"}``: a new store with a generated catalog and its payload files."""
    return content_world(str(tmp_path_factory.mktemp("content-world")))


@pytest.fixture(scope="module")
def nginx(world):  # pylint: disable=redefined-outer-name
    """nginx on loopback serving the world's payload files under their catalog URL paths."""
    try:
        server = Nginx(world["payloads"]).start()
    except ServerUnavailable as exc:
        pytest.fail("cannot start the tests' nginx: %s" % exc, pytrace=False)
    yield server
    server.stop()
