# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Where a content file lives on a distribution point: WSUS's content layout.

A file keyed by SHA-1 goes to ``<XX>/<SHA1>.<ext>``, XX being the last byte of the SHA-1 in
upper-case hex, which is how WSUS lays out ``WsusContent`` and serves it as
``http://<server>:<port>/Content/<XX>/<SHA1>.<ext>`` ([MS-WSUSSS] 2.1; the folder is the last byte of
the digest: e.g. ``C:\\Wsus\\WsusContent\\23\\...`` served as ``/Content/23/...`` in
nettitude/SharpWSUS issue 3, and WSUSpendu's notes). So a WSUS server's ``WsusContent`` folder can be
a distribution point as it is, and a folder staged here can be published by IIS or nginx without
rewriting. A file with only a SHA-256 goes to ``sha256/<XX>/<SHA256>.<ext>``, which WSUS never uses.

Paths here are tuples of parts relative to the distribution point's root; each target joins them
with its own separator. ``relative_path`` is the ``/``-joined form the store records.
"""

from __future__ import annotations

import base64
import binascii
import re

from ansible_collections.patchwave.windows.plugins.module_utils._distribution.errors import LayoutError

DIGEST_BYTES = {"sha1": 20, "sha256": 32}
SHA256_FOLDER = "sha256"
_HEX = re.compile(r"^[0-9A-Fa-f]+$")
_EXTENSION = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
# <XX>/<SHA1>.<ext> or sha256/<XX>/<SHA256>.<ext>: the only shapes a staged path may have
_STAGED = re.compile(r"^(?:(?P<sha1xx>[0-9A-F]{2})/(?P<sha1>[0-9A-F]{40})"
                     r"|sha256/(?P<sha256xx>[0-9A-F]{2})/(?P<sha256>[0-9A-F]{64}))\.[A-Za-z0-9_-]{1,32}$")


def digest_hex(value, algorithm):
    """A digest given as hex (any case) or base64 (as the catalog's XML gives it), as upper-case hex."""
    expected = DIGEST_BYTES[algorithm]
    text = (value or "").strip()
    if len(text) == expected * 2 and _HEX.match(text):
        return text.upper()
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = None
    if raw is None or len(raw) != expected:
        raise LayoutError("%s digest %r is neither %d hex digits nor the base64 of %d bytes"
                          % (algorithm.upper(), value, expected * 2, expected))
    return binascii.hexlify(raw).decode("ascii").upper()


def check_name(name, what="file name"):
    """Refuse a name that could leave its folder: separators, ``..``, absolute, UNC, drive letters."""
    text = name if isinstance(name, str) else ""
    if (not text or text in (".", "..") or "/" in text or "\\" in text or ":" in text or "\x00" in text
            or text.startswith("..") or text != text.strip()):
        raise LayoutError("%s %r is refused: it must be one plain name (no folder separators, '..', drive letter, "
                          "UNC or absolute path)" % (what, name))
    return text


def extension_of(file_name):
    """The extension WSUS keeps for a catalog file name (``x.cab`` -> ``cab``), the name checked first."""
    name = check_name(file_name)
    if "." not in name.strip("."):
        raise LayoutError("file name %r has no extension" % file_name)
    return check_extension(name.rsplit(".", 1)[1])


def check_extension(extension):
    """An extension as it may appear in a content path (a leading dot is dropped)."""
    text = extension[1:] if isinstance(extension, str) and extension.startswith(".") else extension
    if not isinstance(text, str) or not _EXTENSION.match(text):
        raise LayoutError("extension %r is refused: it must be 1 to 32 letters, digits, '_' or '-' (no dots, "
                          "separators or drive letters)" % (extension,))
    return text


def content_parts(sha1=None, sha256=None, extension=None):
    """The file's place relative to the root: ``(XX, SHA1.ext)`` or ``('sha256', XX, SHA256.ext)``."""
    ext = check_extension(extension)
    if sha1:
        digest = digest_hex(sha1, "sha1")
        return (digest[-2:], "%s.%s" % (digest, ext))
    if sha256:
        digest = digest_hex(sha256, "sha256")
        return (SHA256_FOLDER, digest[-2:], "%s.%s" % (digest, ext))
    raise LayoutError("a content file needs a SHA-1 or a SHA-256 digest")


def relative_path(parts):
    """The ``/``-joined form of a content path, as the store records it."""
    return "/".join(parts)


def parse_relative_path(path):
    """The parts of a staged path, refusing anything that is not a content-layout path (so prune can trust it)."""
    if not isinstance(path, str) or not _STAGED.match(path):
        raise LayoutError("%r is not a content path of this layout (<XX>/<SHA1>.<ext> or sha256/<XX>/<SHA256>.<ext>, "
                          "upper-case hex, XX the digest's last byte)" % (path,))
    parts = tuple(path.split("/"))
    digest = parts[-1].split(".", 1)[0]
    if parts[-2] != digest[-2:]:
        raise LayoutError("%r is not a content path of this layout: its folder is not the digest's last byte" % path)
    return parts


def folder_parts(folder):
    """A distribution point's folder (``a/b`` or ``a\\b``, may be empty) as parts, each checked."""
    if folder is None:
        return ()
    if not isinstance(folder, str) or folder.startswith(("//", "\\\\")) or re.match(r"^[A-Za-z]:", folder):
        raise LayoutError("folder %r is refused: give it relative to the share (no UNC path or drive letter)"
                          % (folder,))
    text = folder.replace("\\", "/").strip("/")
    return tuple(check_name(part, "folder part") for part in text.split("/") if part)
