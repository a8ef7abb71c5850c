"""SMB distribution points against the tests' own Samba server: seen from outside, and refused clearly."""

import os
import socket

import pytest

from ansible_collections.patchwave.windows.plugins.module_utils._distribution import errors, layout, stage
from ansible_collections.patchwave.windows.plugins.module_utils._distribution.errors import (DistributionError,
                                                                                             LayoutError)

pytestmark = pytest.mark.integration


def _closed_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_staged_files_are_seen_by_the_smbclient_tool_with_their_sizes(samba_server, make_smb_target, library):
    files = [library.add(200000, seed=31), library.add(10, seed=32, extension="exe")]
    target = make_smb_target()
    with target:
        result = stage.stage(target, files)
    for record in result["files"]:
        folder, name = record["path"].split("/")
        shown = samba_server.smbclient(samba_server.share, "cd %s; ls %s/*" % ("\\".join(target.folder), folder)).stdout
        line = next(line for line in shown.splitlines() if name in line)
        assert int(line.split()[-6]) == record["size"], shown
        assert "patchwave-partial" not in shown


def test_an_encrypted_session_stages_too(samba_server, make_smb_target, library):
    record = library.add(3 * 1024 * 1024 + 5, seed=33)
    target = make_smb_target(encrypt=True)
    with target:
        assert target._session.encrypt_data  # pylint: disable=protected-access
        assert stage.stage(target, [record])["copied"] == {"files": 1, "bytes": record["size"]}
        assert target.size(layout.content_parts(record["sha1"], None, "cab")) == record["size"]


def test_a_wrong_password_is_named_as_refused_credentials(samba_server, make_smb_target):
    with pytest.raises(DistributionError) as caught:
        with make_smb_target(password="not-the-password"):
            pass
    assert caught.value.cause == errors.CREDENTIALS
    message = str(caught.value)
    assert "distribution point 'dp-smb'" in message and "refused the user name or password" in message
    assert "not-the-password" not in message


def test_an_unreachable_port_is_named_as_unreachable(samba_server, make_smb_target):
    port = _closed_port()
    with pytest.raises(DistributionError) as caught:
        with make_smb_target(port=port, timeout=5) as target:
            assert target is None
    assert caught.value.cause == errors.UNREACHABLE
    assert "distribution point 'dp-smb'" in str(caught.value) and str(port) in str(caught.value)


def test_a_missing_share_is_named_as_unreachable(samba_server, make_smb_target):
    with pytest.raises(DistributionError) as caught:
        with make_smb_target(share="nosuchshare"):
            pass
    assert caught.value.cause == errors.UNREACHABLE and "no such share" in str(caught.value)


def test_a_folder_that_escapes_the_share_is_refused_before_connecting(samba_server, make_smb_target):
    with pytest.raises(LayoutError, match="refused"):
        make_smb_target(folder="..\\..\\other")


def test_check_mode_plans_a_new_folder_without_creating_it(samba_server, make_smb_target, library):
    files = [library.add(5000, seed=34), library.add(7000, seed=35)]
    target = make_smb_target()
    target.connect(create=False)
    try:
        planned = stage.plan(target, files)
    finally:
        target.close()
    assert planned["copied"] == {"files": 2, "bytes": 12000} and planned["fits"]
    assert not os.path.exists(os.path.join(samba_server.share_dir, target.folder[0]))


def test_content_written_in_many_signed_requests_arrives_bit_exact(samba_server, make_smb_target, library, tmp_path):
    record = library.add(3 * 1024 * 1024 + 12345, seed=36)  # four writes, three of them in flight together
    target = make_smb_target(write_size=1024 * 1024, depth=3)
    with target:
        assert target._requests.SignedWrites.usable(target._tree)  # pylint: disable=protected-access
        assert stage.stage(target, [record])["copied"]["files"] == 1
    folder, name = layout.relative_path(layout.content_parts(record["sha1"], None, "cab")).split("/")
    fetched = tmp_path / "fetched.cab"
    samba_server.smbclient(samba_server.share, 'cd %s\\%s; get %s "%s"' % (target.folder[0], folder, name, fetched))
    with open(record["source_path"], "rb") as handle:
        assert fetched.read_bytes() == handle.read()
