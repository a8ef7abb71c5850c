# -*- coding: utf-8 -*-
"""Render generated updates as Microsoft update XML.

One element tree per update (plain tuples ``(prefix, name, attrs, children[, text])``) is built
after catalog_formats.md §2.2 and serialized two ways:

* ``full_xml(u)`` - the namespaced ``<upd:Update>`` document that WSUS export and server-server
  sync carry;
* ``core_fragment / extended_fragment / localized_fragments`` - the namespace-stripped client
  fragments of the offline scan's detail cabs, derived from the same tree the way Microsoft's
  UpdateXmlTransformer does it: prefixes dropped, BaseApplicabilityRules elements renamed
  ``b.X``, ``xsi:type`` becomes ``type``; core = UpdateIdentity + Properties (UpdateType,
  ExplicitlyDeployable, AutoSelectOnWebSites only) + Relationships + ApplicabilityRules;
  extended = Properties renamed ExtendedProperties (minus the core-only attributes) + Files +
  HandlerSpecificData; localized = one LocalizedProperties per language.
"""

from __future__ import annotations

from . import content as C

NAMESPACES = {
    "upd": "http://schemas.microsoft.com/msus/2002/12/Update",
    "lar": "http://schemas.microsoft.com/msus/2002/12/LogicalApplicabilityRules",
    "bar": "http://schemas.microsoft.com/msus/2002/12/BaseApplicabilityRules",
    "cbsar": "http://schemas.microsoft.com/msus/2002/12/CbsApplicabilityRules",
    "mar": "http://schemas.microsoft.com/msus/2002/12/MsiApplicabilityRules",
    "pub": "http://schemas.microsoft.com/msus/2002/12/Publishing",
    "cat": "http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/Category",
    "cbs": "http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/Cbs",
    "cmd": "http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/CommandLineInstallation",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
HANDLERS = {
    "cat": ("http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/Category", "cat:Category"),
    "cbs": ("http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/Cbs", "cbs:Cbs"),
    "cmd": ("http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/CommandLineInstallation",
            "cmd:CommandLineInstallation"),
}
_FRAGMENT_PREFIX = {"bar": "b.", "mar": "m.", "msiar": "m.", "drv": "d."}
_CORE_PROPERTIES = ("UpdateType", "AutoSelectOnWebSites", "EulaID", "ExplicitlyDeployable", "OSUpgrade")
_NOT_EXTENDED = frozenset(("UpdateType", "ExplicitlyDeployable", "AutoSelectOnWebSites", "EulaID",
                           "PublicationState", "PublisherID", "CreationDate", "IsPublic", "LegacyName",
                           "DetectoidType", "OSUpgrade", "PerUser"))


def esc_attr(value):
    if "&" in value or "<" in value or ">" in value or '"' in value:
        value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return value


def esc_text(value):
    if "&" in value or "<" in value or ">" in value:
        value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value


# ------------------------------------------------------------------------------ serializers
def _serialize(element, out, tag_of, key_of):
    """Append ``element`` and its descendants to ``out``; ``tag_of(prefix, name)`` and ``key_of(key)`` name them."""
    prefix, name, attrs, children = element[0], element[1], element[2], element[3]
    text = element[4] if len(element) > 4 else None
    tag = tag_of(prefix, name)
    out.append("<" + tag)
    for key, value in attrs:
        out.append(' %s="%s"' % (key_of(key), esc_attr(value)))
    if children or text is not None:
        out.append(">")
        if text is not None:
            out.append(esc_text(text))
        for child in children:
            _serialize(child, out, tag_of, key_of)
        out.append("</" + tag + ">")
    else:
        out.append(" />")


def serialize_full(element):
    """Namespaced XML with every used prefix declared on the top element."""
    out, used = [], set()

    def tag_of(prefix, name):
        if not prefix:
            return name
        used.add(prefix)
        return prefix + ":" + name

    def key_of(key):
        if ":" in key:
            used.add(key.split(":", 1)[0])
        return key

    _serialize(element, out, tag_of, key_of)
    if element[2] and any(k == "xsi:type" for k, _v in element[2]):
        used.add("xsi")
    declarations = "".join(' xmlns:%s="%s"' % (p, NAMESPACES[p]) for p in sorted(used))
    first = out[0]
    out[0] = first + declarations
    return "".join(out)


def _fragment_tag(prefix, name):
    return _FRAGMENT_PREFIX.get(prefix, "") + name


def _fragment_key(key):
    return key.split(":", 1)[-1]


def serialize_fragment(elements):
    out = []
    for element in elements:
        _serialize(element, out, _fragment_tag, _fragment_key)
    return "".join(out)


def rule_xml(rule):
    """A rule as standalone namespaced XML text (the catalog_file form)."""
    return serialize_full(rule)


# ------------------------------------------------------------------------------ the tree
def _identity(guid, revision=None):
    attrs = (("UpdateID", guid),) if revision is None else (("UpdateID", guid), ("RevisionNumber", str(revision)))
    return ("upd", "UpdateIdentity", attrs, ())


def _created(update):
    return "%s.%03dZ" % (update.date[:-1], update.date_ms or 0)


def build(update):
    """The parts of an update's tree: dict of identity, properties, localized, relationships, rules,
    files, handler (each an element tuple or None)."""
    kind = update.kind
    xml_id = update.update_id.upper() if update.category_type == "UpdateClassification" else update.update_id
    identity = ("upd", "UpdateIdentity", (("UpdateID", xml_id), ("RevisionNumber", str(update.revision_number))), ())
    attrs = [("DefaultPropertiesLanguage", "en")]
    children = []
    handler = None
    if kind == "category":
        attrs += [("UpdateType", "Category"), ("ExplicitlyDeployable", "false"), ("PerUser", "false"),
                  ("IsPublic", "true"), ("Handler", HANDLERS["cat"][0]), ("PublicationState", "Published"),
                  ("CreationDate", _created(update)), ("PublisherID", C.PUBLISHER_ID)]
        prohibits = "true" if update.category_type == "Product" else "false"
        handler = ("upd", "HandlerSpecificData", (("xsi:type", HANDLERS["cat"][1]),), (
            ("cat", "CategoryInformation", (("CategoryType", update.category_type),
                                            ("ProhibitsSubcategories", prohibits), ("ProhibitsUpdates", "false"),
                                            ("ExcludedByDefault", "false")), ()),))
    elif kind == "detectoid":
        attrs += [("UpdateType", "Detectoid"), ("ExplicitlyDeployable", "false"), ("PerUser", "false"),
                  ("IsPublic", "false"), ("DetectoidType", update.detectoid_type), ("PublicationState", "Published"),
                  ("CreationDate", _created(update)), ("PublisherID", C.PUBLISHER_ID)]
    else:
        bundle = update.is_bundle
        attrs += [("UpdateType", "Software"), ("ExplicitlyDeployable", "true" if bundle else "false"),
                  ("AutoSelectOnWebSites", "true" if bundle else "false"), ("IsPublic", "true" if bundle else "false"),
                  ("IsBeta", "false"), ("PerUser", "false"), ("PublicationState", "Published"),
                  ("CreationDate", _created(update)), ("PublisherID", C.PUBLISHER_ID)]
        if update.severity:
            attrs.append(("MsrcSeverity", update.severity))
        if update.handler:
            attrs.append(("Handler", HANDLERS[update.handler][0]))
        attrs += [("MaxDownloadSize", str(update.max_size or 0)), ("MinDownloadSize", "0")]
        children.append(("upd", "InstallationBehavior", (("RebootBehavior", update.reboot), ("Impact", update.impact)),
                         ()))
        if update.support_url:
            children.append(("upd", "SupportUrl", (), (), update.support_url))
        if update.bulletin:
            children.append(("upd", "SecurityBulletinID", (), (), update.bulletin))
        if update.kb:
            children.append(("upd", "KBArticleID", (), (), update.kb))
        for code in update.languages or ():  # a language-specific payload names its languages
            children.append(("upd", "Language", (), (), code))
        if update.handler_data:
            handler = ("upd", "HandlerSpecificData", (("xsi:type", HANDLERS[update.handler][1]),),
                       (update.handler_data,))
    properties = ("upd", "Properties", tuple(attrs), tuple(children))

    localized = []
    for language in sorted(update.titles):
        parts = [("upd", "Language", (), (), language), ("upd", "Title", (), (), update.titles[language])]
        description = (update.descriptions or {}).get(language)
        if description:
            parts.append(("upd", "Description", (), (), description))
        localized.append(("upd", "LocalizedProperties", (), tuple(parts)))

    groups = []
    prerequisites = []
    for clause in update.prereqs or ():
        if len(clause) == 1:
            prerequisites.append(_identity(clause[0]))
        else:
            prerequisites.append(("upd", "AtLeastOne", (), tuple(_identity(i) for i in clause)))
    if kind == "category":
        if update.parent:
            prerequisites.append(("upd", "AtLeastOne", (("IsCategory", "true"),), (_identity(update.parent),)))
    elif update.is_bundle:
        prerequisites.append(("upd", "AtLeastOne", (("IsCategory", "true"),),
                              tuple(_identity(p) for p in update.products)))
        prerequisites.append(("upd", "AtLeastOne", (("IsCategory", "true"),), (_identity(update.classification),)))
    if prerequisites:
        groups.append(("upd", "Prerequisites", (), tuple(prerequisites)))
    if update.bundled:
        groups.append(("upd", "BundledUpdates", (), tuple(_identity(i, r) for i, r in update.bundled)))
    if update.supersedes:
        groups.append(("upd", "SupersededUpdates", (), tuple(_identity(i) for i in update.supersedes)))
    relationships = ("upd", "Relationships", (), tuple(groups)) if groups else None

    rules = []
    for key, name in (("is_installed", "IsInstalled"), ("is_superseded", "IsSuperseded"),
                      ("is_installable", "IsInstallable")):
        rule = (update.rules or {}).get(key)
        if rule is not None:
            rules.append(("upd", name, (), (rule,)))
    applicability = ("upd", "ApplicabilityRules", (), tuple(rules)) if rules else None

    files = None
    if update.files:
        files = ("upd", "Files", (), tuple(
            ("upd", "File", (("Digest", f.sha1), ("DigestAlgorithm", "SHA1"), ("FileName", f.name),
                             ("Size", str(f.size)), ("Modified", f.modified), ("PatchingType", "SelfContained")),
             (("upd", "AdditionalDigest", (("Algorithm", "SHA256"),), (), f.sha256),))
            for f in update.files))
    return {"identity": identity, "properties": properties, "localized": localized,
            "relationships": relationships, "applicability": applicability, "files": files, "handler": handler}


def _present(parts, names):
    """The built elements named ``names`` that this update has, in that order."""
    return [parts[name] for name in names if parts[name] is not None]


def full_xml(update, parts=None):
    """The ``<upd:Update>`` document (no XML declaration), as WSUS export metadata.txt carries it."""
    parts = parts or build(update)
    children = [parts["identity"], parts["properties"]]
    if parts["localized"]:
        children.append(("upd", "LocalizedPropertiesCollection", (), tuple(parts["localized"])))
    children += _present(parts, ("relationships", "applicability", "files", "handler"))
    return serialize_full(("upd", "Update", (), tuple(children)))


def core_fragment(parts):
    properties = parts["properties"]
    keep = tuple((k, v) for k, v in properties[2] if k in _CORE_PROPERTIES)
    return serialize_fragment([parts["identity"], ("upd", "Properties", keep, ())]
                              + _present(parts, ("relationships", "applicability")))


def extended_fragment(parts):
    properties = parts["properties"]
    keep = tuple((k, v) for k, v in properties[2] if k not in _NOT_EXTENDED)
    return serialize_fragment([("upd", "ExtendedProperties", keep, properties[3])] + _present(parts, ("files", "handler")))


def localized_fragments(parts):
    """{language: fragment text}."""
    out = {}
    for element in parts["localized"]:
        out[element[3][0][4]] = serialize_fragment([element])
    return out
