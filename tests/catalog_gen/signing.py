# -*- coding: utf-8 -*-
"""A throwaway Authenticode PKI for tests: a root CA, code-signing leaves and a timestamp authority.

Everything is made offline with the ``openssl`` command and used with ``osslsigncode``:

* ``make_test_ca(directory)`` creates (once; later calls reuse it) a root CA valid 2019-2046, a
  code-signing leaf (extendedKeyUsage codeSigning) valid 2020-2045, an already-EXPIRED
  code-signing leaf valid only during 2020, a timestamp authority (critical extendedKeyUsage
  timeStamping) valid 2019-2045, and a leaf whose CRL distribution point is unreachable (to show
  that verification never goes to the network).
* ``sign_cab(src, dst, ca_dir)`` signs a cabinet with one of those leaves; with
  ``timestamp=True`` it adds an RFC 3161 timestamp made locally by osslsigncode 2.9
  (``-TSA-certs``/``-TSA-key``/``-TSA-time``), so no timestamp server is needed.

The root certificate (``ca_dir/root.pem``) is what a test passes as ``trusted_ca_file``.
"""

from __future__ import annotations

import calendar
import os
import shutil
import subprocess

ROOT_VALIDITY = ("20190101000000Z", "20460101000000Z")
LEAF_VALIDITY = ("20200101000000Z", "20450101000000Z")
EXPIRED_VALIDITY = ("20200101000000Z", "20210101000000Z")
TSA_VALIDITY = ("20190601000000Z", "20450101000000Z")
#: When the expired leaf "signed": inside its validity, and the time its timestamp certifies.
PAST_SIGNING_TIME = calendar.timegm((2020, 6, 1, 12, 0, 0))
UNREACHABLE_CRL = "http://192.0.2.1/patchwave-test.crl"  # TEST-NET-1: never routed

#: The extensions of a code-signing leaf; the "cdp" leaf adds an unreachable CRL distribution point.
_CODESIGN_EXTENSIONS = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""

_CONFIG = """\
[ca]
default_ca = test_ca

[test_ca]
dir = .
database = index.txt
new_certs_dir = issued
serial = serial
default_md = sha256
policy = any_name
unique_subject = no
copy_extensions = none
email_in_dn = no

[any_name]
commonName = supplied
organizationName = optional
countryName = optional

[req]
distinguished_name = req_dn
prompt = no

[req_dn]
CN = unused

[root_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[codesign_ext]
""" + _CODESIGN_EXTENSIONS + """
[codesign_cdp_ext]
""" + _CODESIGN_EXTENSIONS + """\
crlDistributionPoints = URI:%(crl)s

[tsa_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""

#: leaf name -> (extension section in the openssl configuration, validity)
_LEAVES = {
    "leaf": ("codesign_ext", LEAF_VALIDITY),
    "expired": ("codesign_ext", EXPIRED_VALIDITY),
    "tsa": ("tsa_ext", TSA_VALIDITY),
    "cdp": ("codesign_cdp_ext", LEAF_VALIDITY),
}


class SigningToolMissing(RuntimeError):
    """openssl or osslsigncode is not installed."""


def _tool(name):
    path = shutil.which(name)
    if not path:
        raise SigningToolMissing("%s is not installed (Debian package '%s')" % (name, name))
    return path


def _run(argv, cwd):
    proc = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        raise RuntimeError("%s failed (exit %d): %s" % (" ".join(argv), proc.returncode,
                                                        proc.stdout.decode("utf-8", "replace")[-2000:]))
    return proc.stdout.decode("utf-8", "replace")


def _paths(directory):
    paths = {"dir": directory, "root_cert": os.path.join(directory, "root.pem"),
             "root_key": os.path.join(directory, "root.key")}
    for name in _LEAVES:
        paths["%s_cert" % name] = os.path.join(directory, "%s.pem" % name)
        paths["%s_key" % name] = os.path.join(directory, "%s.key" % name)
    paths["ca_file"] = paths["root_cert"]
    return paths


def make_test_ca(directory, organization="patchwave test", leaf_organization=None):
    """Create the test PKI in ``directory`` (reused when already there); return a dict of paths.

    Keys: ``root_cert``/``root_key``, ``leaf_cert``/``leaf_key``, ``expired_cert``/``expired_key``,
    ``tsa_cert``/``tsa_key``, ``cdp_cert``/``cdp_key``, and ``ca_file`` (the root, to trust).
    ``organization`` is the O= of the root and TSA; ``leaf_organization`` (default: the same)
    the O= of the code-signing leaves.
    """
    openssl = _tool("openssl")
    directory = os.path.abspath(directory)
    paths = _paths(directory)
    done = os.path.join(directory, ".complete")
    if os.path.exists(done):
        return paths
    leaf_organization = leaf_organization or organization
    os.makedirs(os.path.join(directory, "issued"), exist_ok=True)
    with open(os.path.join(directory, "ca.cnf"), "w") as handle:
        handle.write(_CONFIG % {"crl": UNREACHABLE_CRL})
    with open(os.path.join(directory, "index.txt"), "w"):
        pass
    with open(os.path.join(directory, "serial"), "w") as handle:
        handle.write("1000\n")

    def request(name, subject):
        _run([openssl, "req", "-new", "-config", "ca.cnf", "-newkey", "rsa:2048", "-nodes", "-keyout",
              "%s.key" % name, "-subj", subject, "-out", "%s.csr" % name], directory)

    def issue(name, extension, validity, selfsign=False):
        argv = [openssl, "ca", "-batch", "-notext", "-config", "ca.cnf", "-in", "%s.csr" % name,
                "-out", "%s.pem" % name, "-extensions", extension, "-startdate", validity[0],
                "-enddate", validity[1], "-keyfile", "root.key"]
        argv += ["-selfsign"] if selfsign else ["-cert", "root.pem"]
        _run(argv, directory)

    request("root", "/O=%s/CN=patchwave test root CA" % organization)
    issue("root", "root_ext", ROOT_VALIDITY, selfsign=True)
    for name, (extension, validity) in _LEAVES.items():
        org = organization if name == "tsa" else leaf_organization
        request(name, "/O=%s/CN=patchwave test %s" % (org, name))
        issue(name, extension, validity)
    with open(done, "w") as handle:
        handle.write("ok\n")
    return paths


def offline_timestamp_supported():
    """True when osslsigncode can make a timestamp itself (``-TSA-certs``, osslsigncode >= 2.6)."""
    try:
        tool = _tool("osslsigncode")
    except SigningToolMissing:
        return False
    proc = subprocess.run([tool, "sign", "--help"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, check=False)
    return b"-TSA-certs" in proc.stdout


def sign_cab(src, dst, ca_dir, signer="leaf", timestamp=False, signing_time=None, digest="sha256"):
    """Sign the cabinet ``src`` into ``dst`` with a leaf of the test PKI in ``ca_dir``; return ``dst``.

    ``signer`` is 'leaf' (valid), 'expired' (valid only in 2020) or 'cdp' (unreachable CRL).
    With ``timestamp`` the signature gets an RFC 3161 timestamp from the test TSA, made offline.
    The expired leaf signs "in the past" (``PAST_SIGNING_TIME``) unless ``signing_time`` says
    otherwise, so that, timestamped, it verifies today.
    """
    tool = _tool("osslsigncode")
    paths = make_test_ca(ca_dir)
    if signer not in ("leaf", "expired", "cdp"):
        raise ValueError("signer %r is not leaf, expired or cdp" % (signer,))
    if signing_time is None and signer == "expired":
        signing_time = PAST_SIGNING_TIME
    argv = [tool, "sign", "-certs", paths["%s_cert" % signer], "-key", paths["%s_key" % signer], "-h", digest]
    if signing_time is not None:
        argv += ["-time", str(int(signing_time))]
    if timestamp:
        if not offline_timestamp_supported():
            raise SigningToolMissing("this osslsigncode cannot timestamp offline (-TSA-certs needs 2.6 or later)")
        argv += ["-TSA-certs", paths["tsa_cert"], "-TSA-key", paths["tsa_key"]]
        if signing_time is not None:
            argv += ["-TSA-time", str(int(signing_time))]
    if os.path.lexists(dst):
        os.unlink(dst)
    argv += ["-in", os.path.abspath(src), "-out", os.path.abspath(dst)]
    _run(argv, os.path.dirname(os.path.abspath(dst)))
    return dst
