# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Hostile-XML-safe parsing for catalog sources.

Catalog XML never needs a DTD, so any document type declaration (and with it every entity
declaration, the vehicle of XXE and "billion laughs") is refused outright instead of being
parsed with entities disabled. Entities are never resolved and the network is never touched.
"""

from __future__ import annotations

try:
    from lxml import etree

    HAS_LXML = True
    LXML_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module as a missing library
    etree = None
    HAS_LXML = False
    LXML_IMPORT_ERROR = exc

import threading

from ansible_collections.patchwave.windows.plugins.module_utils._catalog.model import CatalogError

_PARSER_OPTIONS = dict(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


def _refuse_dtd(docinfo, where):
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise CatalogError("%s: document type declarations are refused (entity declarations and "
                           "external DTDs are never processed)" % where)


def _syntax_error(where, exc):
    line = getattr(exc, "lineno", None) or getattr(getattr(exc, "position", None), "__getitem__", lambda i: None)(0)
    at = " at line %s" % line if line else ""
    return CatalogError("%s: not well-formed XML%s (%s)" % (where, at, getattr(exc, "msg", None) or exc))


_LOCAL = threading.local()


def _parser():
    """One parser per thread, reused: building a parser costs more than parsing a small fragment."""
    parser = getattr(_LOCAL, "parser", None)
    if parser is None:
        parser = _LOCAL.parser = etree.XMLParser(**_PARSER_OPTIONS)
    return parser


def _named(where):
    """``where`` may be a callable, so hot paths build the message only when there is an error."""
    return where() if callable(where) else where


def parse_bytes(data, where):
    """Parse one whole XML document held in memory and return its root element."""
    # Any declaration (DOCTYPE, ENTITY) starts with "<!"; without one the scan below is skipped.
    declarations = b"<!" in data
    if declarations and (b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper()):
        raise CatalogError("%s: document type declarations are refused (entity declarations and "
                           "external DTDs are never processed)" % _named(where))
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(_named(where), exc)
    if declarations:
        _refuse_dtd(root.getroottree().docinfo, _named(where))
    return root


def parse_fragment(data, where):
    """Parse an XML fragment with no single root (an offline-scan c/ x/ l/ member).

    The members are sequences of sibling elements; they are wrapped in a neutral root first.
    Returns the wrapper element, whose children are the fragment's elements.
    """
    if data[:1] != b"<" or data.startswith(b"<?xml"):
        data = data.lstrip()
        if data.startswith(b"<?xml"):
            end = data.find(b"?>")
            data = data[end + 2:] if end >= 0 else data
    return parse_bytes(b"<fragment>" + data + b"</fragment>", where)


def _check_prolog(path, where):
    """Refuse a DOCTYPE in the prolog of a file before the parser reads the document."""
    with open(path, "rb") as handle:
        head = handle.read(65536)
    if head.startswith(b"\xef\xbb\xbf"):
        text = head[3:].decode("utf-8", "replace")
    elif head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        text = head.decode("utf-16", "replace")
    else:
        text = head.decode("utf-8", "replace")
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if text.startswith("<?", pos):
            end = text.find("?>", pos)
        elif text.startswith("<!--", pos):
            end = text.find("-->", pos)
        else:
            break
        if end < 0:
            break
        pos = end + 2
    if text[pos:pos + 9].upper() == "<!DOCTYPE":
        raise CatalogError("%s: document type declarations are refused (entity declarations and "
                           "external DTDs are never processed)" % where)


def iterparse(path, where, tag=None, events=("end",)):
    """Stream a large XML file: yields ``(event, element)`` as lxml's iterparse does.

    The caller must clear elements it is done with. A DTD is refused before the parser starts.
    """
    _check_prolog(path, where)
    context = etree.iterparse(path, events=events, tag=tag, **_PARSER_OPTIONS)
    checked = False
    try:
        for event, element in context:
            if not checked:
                _refuse_dtd(element.getroottree().docinfo, where)
                checked = True
            yield event, element
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(where, exc)


def local_name(tag):
    """The tag without its namespace: '{urn:x}Update' -> 'Update'."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def to_text(element):
    """Serialize an element (a rule expression) to compact XML text."""
    return etree.tostring(element, encoding="unicode", with_tail=False)
