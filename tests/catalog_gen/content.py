# -*- coding: utf-8 -*-
"""Fixed vocabulary of the generated catalogs: categories, OS variants, definition chains, texts.

Category GUIDs are the real ones where catalog_formats.md §2.4 gives them; the others are
deterministic (uuid5 of a fixed namespace) and do not depend on the seed, so catalogs built with
different seeds share their categories, as real catalogs do.
"""

from __future__ import annotations

import uuid
from collections import namedtuple

_NS = uuid.UUID("5b0e4a4e-6f2d-4c57-9a3e-706174636877")  # fixed namespace of generated ids


def fixed_guid(name):
    """A seed-independent GUID for a named catalog object."""
    return str(uuid.uuid5(_NS, name))


PUBLISHER_ID = "395392a0-19c0-48b7-a927-f7c15066d905"
SOURCE_ID = "cc56dcba-9026-4399-8535-7a3c9bed7086"

# ---------------------------------------------------------------------------------------------
# Categories (updates of UpdateType Category). key -> fields. Order = emission order.
# ---------------------------------------------------------------------------------------------
Category = namedtuple("Category", "key guid type titles description parent revision created rule")

COMPANY = "56309036-4c77-4dd9-951a-99ee9c246a94"
FAMILY_WINDOWS = "6964aab4-c5b5-43bd-a17d-ffb4346a8e1d"
FAMILY_DEVTOOLS = fixed_guid("family:Developer Tools, Runtimes, and Redistributables")

PRODUCT_WS2016 = "569e8e8f-c6cd-42c8-92a3-efbb20a0f6f5"
PRODUCT_WS2019 = "f702a48c-919b-45d6-9aef-ca4248d50397"
PRODUCT_WS2022 = "71718f13-7324-4b0f-8f9e-2ca9dc978e53"
PRODUCT_WIN11 = "72e7624a-5b00-45d2-b92f-e561c0a6a160"
PRODUCT_WIN10 = "a3c2375d-0c8a-42f9-bce0-28333e198407"
PRODUCT_WS2012R2 = "d31bd4c3-d872-41c9-a2e7-231f372588cb"
PRODUCT_WS2012 = "a105a108-7c9b-4518-bbbe-73f0fe30012b"
PRODUCT_WS2025 = fixed_guid("product:Microsoft Server operating system-24H2")
PRODUCT_DOTNET = fixed_guid("product:.NET Framework")
PRODUCT_DEFENDER = fixed_guid("product:Microsoft Defender Antivirus")
PRODUCT_SCEP = fixed_guid("product:System Center Endpoint Protection")
PRODUCT_MSE = fixed_guid("product:Microsoft Security Essentials")
PRODUCT_WINDEFENDER = fixed_guid("product:Windows Defender")

CLASS_SECURITY = "0fa1201d-4330-4fa8-8ae9-b877473b6441"
CLASS_CRITICAL = "e6cf1350-c01b-414d-a61f-263d14d133b4"
CLASS_UPDATES = "cd5ffd1e-e932-4e3a-bf74-18bf0b1bbd83"
CLASS_ROLLUPS = "28bc880e-0592-4cbf-8f95-c79b17911d5f"
CLASS_SERVICE_PACKS = "68c5b0a3-d1a6-4553-ae49-01d3a7827828"
CLASS_DEFINITIONS = "e0789628-ce08-4437-be74-2495b842f43b"
CLASS_FEATURE_PACKS = "b54e7d24-7add-428f-8b75-90a396fa584f"
CLASS_TOOLS = "b4832bd8-e735-4761-8daf-37f882276dab"
CLASS_DRIVERS = "ebfc1fc5-71a4-4f7b-9aca-3b9a503104a0"
CLASS_UPGRADES = "3689bdc8-b205-4af4-8d4a-a63924c5e9d5"

# Rules are small tuples interpreted by xmlgen.rule(): (prefix, name, attrs, children).
_TRUE = ("lar", "True", (), ())


def _server_rule(major, minor, build=None):
    attrs = [("Comparison", "EqualTo"), ("MajorVersion", str(major)), ("MinorVersion", str(minor))]
    if build is not None:
        attrs.append(("BuildNumber", str(build)))
    return ("lar", "And", (), (
        ("lar", "Or", (), (
            ("bar", "WindowsVersion", tuple(attrs + [("ProductType", "2")]), ()),
            ("bar", "WindowsVersion", tuple(attrs + [("ProductType", "3")]), ()),
        )),
        ("bar", "Processor", (("Architecture", "9"),), ()),
    ))


def _client_rule(comparison, build):
    return ("bar", "WindowsVersion", (("Comparison", comparison), ("MajorVersion", "10"), ("MinorVersion", "0"),
                                      ("BuildNumber", str(build)), ("ProductType", "1")), ())


def _reg_exists(subkey):
    return ("bar", "RegKeyExists", (("Key", "HKEY_LOCAL_MACHINE"), ("Subkey", subkey)), ())


def _netfx_rule(release):
    return ("bar", "RegDword", (("Key", "HKEY_LOCAL_MACHINE"), ("Subkey", r"SOFTWARE\Microsoft\NET Framework Setup\NDP\v4\Full"),
                                ("Value", "Release"), ("Comparison", "GreaterThanOrEqualTo"), ("Data", str(release))), ())


_CLASS_DESC = "A broadly released fix for a specific problem."
CATEGORIES = (
    Category("company", COMPANY, "Company", {"en": "Microsoft Corporation"}, {"en": "Microsoft Corporation"},
             None, 200, "2003-10-01T00:00:00Z", _TRUE),
    Category("family-windows", FAMILY_WINDOWS, "ProductFamily", {"en": "Windows"}, {"en": "Microsoft Windows"},
             COMPANY, 200, "2003-10-01T00:00:00Z", _TRUE),
    Category("family-devtools", FAMILY_DEVTOOLS, "ProductFamily",
             {"en": "Developer Tools, Runtimes, and Redistributables",
              "de": "Entwicklertools, Laufzeiten und weitervertreibbare Komponenten"},
             {"en": "Developer Tools, Runtimes, and Redistributables"}, COMPANY, 200, "2009-06-01T00:00:00Z", _TRUE),
    Category("product-ws2016", PRODUCT_WS2016, "Product", {"en": "Windows Server 2016"},
             {"en": "Windows Server 2016"}, FAMILY_WINDOWS, 201, "2016-09-20T18:26:14Z", _server_rule(10, 0, 14393)),
    Category("product-ws2019", PRODUCT_WS2019, "Product", {"en": "Windows Server 2019"},
             {"en": "Windows Server 2019 (RS5 Server) and above"}, FAMILY_WINDOWS, 201, "2018-09-28T23:28:25Z",
             _server_rule(10, 0)),
    Category("product-ws2022", PRODUCT_WS2022, "Product", {"en": "Microsoft Server operating system-21H2"},
             {"en": "Microsoft Server operating system-21H2 (Windows Server 2022)"}, FAMILY_WINDOWS, 200,
             "2021-06-15T17:00:00Z", _server_rule(10, 0, 20348)),
    Category("product-win11", PRODUCT_WIN11, "Product", {"en": "Windows 11"}, {"en": "Windows 11"},
             FAMILY_WINDOWS, 200, "2021-06-28T17:00:00Z", _client_rule("GreaterThanOrEqualTo", 22000)),
    Category("product-win10", PRODUCT_WIN10, "Product", {"en": "Windows 10"}, {"en": "Windows 10"},
             FAMILY_WINDOWS, 200, "2015-04-29T17:00:00Z", _client_rule("LessThan", 22000)),
    Category("product-ws2012r2", PRODUCT_WS2012R2, "Product", {"en": "Windows Server 2012 R2"},
             {"en": "Windows Server 2012 R2"}, FAMILY_WINDOWS, 200, "2013-06-24T17:00:00Z", _server_rule(6, 3)),
    Category("product-ws2012", PRODUCT_WS2012, "Product", {"en": "Windows Server 2012"},
             {"en": "Windows Server 2012"}, FAMILY_WINDOWS, 200, "2012-05-31T17:00:00Z", _server_rule(6, 2)),
    Category("product-ws2025", PRODUCT_WS2025, "Product", {"en": "Microsoft Server operating system-24H2"},
             {"en": "Microsoft Server operating system-24H2 (Windows Server 2025)"}, FAMILY_WINDOWS, 200,
             "2024-06-11T17:00:00Z", _server_rule(10, 0, 26100)),
    Category("product-dotnet", PRODUCT_DOTNET, "Product", {"en": ".NET Framework"},
             {"en": "Microsoft .NET Framework 3.5, 4.8 and 4.8.1"}, FAMILY_DEVTOOLS, 200, "2019-04-18T17:00:00Z",
             _netfx_rule(528040)),
    Category("product-defender", PRODUCT_DEFENDER, "Product", {"en": "Microsoft Defender Antivirus"},
             {"en": "Microsoft Defender Antivirus"}, FAMILY_WINDOWS, 200, "2020-08-13T17:00:00Z",
             _reg_exists(r"SOFTWARE\Microsoft\Windows Defender")),
    Category("product-scep", PRODUCT_SCEP, "Product", {"en": "System Center Endpoint Protection"},
             {"en": "System Center Endpoint Protection"}, FAMILY_WINDOWS, 200, "2012-01-17T17:00:00Z",
             _reg_exists(r"SOFTWARE\Microsoft\Microsoft Antimalware")),
    Category("product-mse", PRODUCT_MSE, "Product", {"en": "Microsoft Security Essentials"},
             {"en": "Microsoft Security Essentials"}, FAMILY_WINDOWS, 200, "2009-09-29T17:00:00Z",
             _reg_exists(r"SOFTWARE\Microsoft\Microsoft Antimalware")),
    Category("product-windefender", PRODUCT_WINDEFENDER, "Product", {"en": "Windows Defender"},
             {"en": "Windows Defender (Windows 8.1)"}, FAMILY_WINDOWS, 200, "2012-10-26T17:00:00Z",
             _reg_exists(r"SOFTWARE\Microsoft\Windows Defender")),
    Category("class-security", CLASS_SECURITY, "UpdateClassification",
             {"en": "Security Updates", "de": "Sicherheitsupdates"},
             {"en": "A broadly released fix for a product-specific security-related vulnerability.",
              "de": "Öffentlich verfügbare Fixes für bestimmte Produkte zum Beseitigen einer Sicherheitslücke."},
             None, 100, "2004-05-15T05:50:00Z", _TRUE),
    Category("class-critical", CLASS_CRITICAL, "UpdateClassification",
             {"en": "Critical Updates", "de": "Kritische Updates"},
             {"en": "A broadly released fix for a specific problem addressing a critical, non-security related bug.",
              "de": "Öffentlich verfügbarer Fix für ein bestimmtes Problem, der einen kritischen, nicht "
                    "sicherheitsrelevanten Fehler behebt."},
             None, 100, "2004-05-15T05:50:00Z", _TRUE),
    Category("class-updates", CLASS_UPDATES, "UpdateClassification", {"en": "Updates", "de": "Updates"},
             {"en": _CLASS_DESC, "de": "Öffentlich verfügbarer Fix für ein bestimmtes Problem."},
             None, 100, "2004-05-15T05:50:00Z", _TRUE),
    Category("class-rollups", CLASS_ROLLUPS, "UpdateClassification",
             {"en": "Update Rollups", "de": "Updaterollups"},
             {"en": "A tested, cumulative set of hotfixes, security updates, critical updates, and updates."},
             None, 100, "2004-05-15T05:50:00Z", _TRUE),
    Category("class-service-packs", CLASS_SERVICE_PACKS, "UpdateClassification",
             {"en": "Service Packs", "de": "Service Packs"},
             {"en": "A tested, cumulative set of all hotfixes, security updates, critical updates, and updates."},
             None, 100, "2004-05-15T05:50:00Z", _TRUE),
    Category("class-definitions", CLASS_DEFINITIONS, "UpdateClassification",
             {"en": "Definition Updates", "de": "Definitionsupdates"},
             {"en": "A broadly released and frequent software update containing additions to a product's "
                    "definition database."},
             None, 100, "2005-08-02T17:00:00Z", _TRUE),
    Category("class-feature-packs", CLASS_FEATURE_PACKS, "UpdateClassification",
             {"en": "Feature Packs", "de": "Feature Packs"},
             {"en": "New product functionality that is first distributed outside the context of a product release."},
             None, 100, "2004-05-15T05:50:00Z", _TRUE),
    Category("class-tools", CLASS_TOOLS, "UpdateClassification", {"en": "Tools", "de": "Tools"},
             {"en": "A utility or feature that helps complete a task or set of tasks."},
             None, 100, "2004-05-15T05:50:00Z", _TRUE),
    Category("class-drivers", CLASS_DRIVERS, "UpdateClassification", {"en": "Drivers", "de": "Treiber"},
             {"en": "A software component necessary to control or support hardware devices."},
             None, 100, "2004-05-15T05:50:00Z", _TRUE),
    Category("class-upgrades", CLASS_UPGRADES, "UpdateClassification", {"en": "Upgrades", "de": "Upgrades"},
             {"en": "A new product release bringing a device to the next version, containing bug fixes, design "
                    "changes and new features."},
             None, 200, "2015-10-20T16:53:24Z", _TRUE),
)

PRODUCTS = {c.guid: c.titles["en"] for c in CATEGORIES if c.type == "Product"}
CLASSIFICATIONS = {c.titles["en"]: c.guid for c in CATEGORIES if c.type == "UpdateClassification"}

# ---------------------------------------------------------------------------------------------
# Architectures and detectoids
# ---------------------------------------------------------------------------------------------
Arch = namedtuple("Arch", "key title title_de cbs processor short")
ARCHES = {
    "x64": Arch("x64", "x64-based Systems", "x64-basierte Systeme", "amd64", "9", "x64"),
    "x86": Arch("x86", "x86-based Systems", "x86-basierte Systeme", "x86", "0", "x86"),
    "arm64": Arch("arm64", "ARM64-based Systems", "ARM64-basierte Systeme", "arm64", "12", "arm64"),
}

# OS versions: key -> (title, major, minor, build, server, ga (year, month))
OsVersion = namedtuple("OsVersion", "key title major minor build server")

# ---------------------------------------------------------------------------------------------
# OS variants that receive monthly updates, in the order they are added as the catalog grows.
# ---------------------------------------------------------------------------------------------
Variant = namedtuple("Variant", "key product os arch file_prefix major minor build server ga has_ssu rollup preview")


def _v(key, product, os_title, arch, prefix, major, minor, build, server, ga, has_ssu=False, rollup=False,
       preview=True):
    return Variant(key, product, os_title, arch, prefix, major, minor, build, server, ga, has_ssu, rollup, preview)


_W10 = [("22H2", 19045, (2022, 10)), ("21H2", 19044, (2021, 11)), ("1809", 17763, (2018, 11)),
        ("1607", 14393, (2016, 8)), ("21H1", 19043, (2021, 5)), ("20H2", 19042, (2020, 10)),
        ("2004", 19041, (2020, 5)), ("1909", 18363, (2019, 11)), ("1903", 18362, (2019, 5)),
        ("1803", 17134, (2018, 4)), ("1709", 16299, (2017, 10)), ("1703", 15063, (2017, 4)),
        ("1507", 10240, (2015, 7)), ("1511", 10586, (2015, 11))]
_W11 = [("23H2", 22631, (2023, 10)), ("22H2", 22621, (2022, 9)), ("25H2", 26200, (2025, 9)),
        ("21H2", 22000, (2021, 10))]


def _variants():
    out = [
        _v("ws2022-x64", PRODUCT_WS2022, "Windows Server 2022", "x64", "windows10.0", 10, 0, 20348, True, (2021, 8)),
        _v("ws2019-x64", PRODUCT_WS2019, "Windows Server 2019", "x64", "windows10.0", 10, 0, 17763, True, (2018, 11),
           has_ssu=True),
        _v("win11-24h2-x64", PRODUCT_WIN11, "Windows 11 Version 24H2", "x64", "windows11.0", 10, 0, 26100, False,
           (2024, 10)),
        _v("win11-24h2-arm64", PRODUCT_WIN11, "Windows 11 Version 24H2", "arm64", "windows11.0", 10, 0, 26100, False,
           (2024, 10)),
        _v("ws2016-x64", PRODUCT_WS2016, "Windows Server 2016", "x64", "windows10.0", 10, 0, 14393, True, (2016, 10),
           has_ssu=True),
        _v("ws2025-x64", PRODUCT_WS2025, "Windows Server 2025", "x64", "windows11.0", 10, 0, 26100, True, (2024, 11)),
    ]
    w11 = list(_W11)
    w10 = list(_W10)
    # interleave the remaining client versions with the two older servers
    extra_servers = [
        _v("ws2012r2-x64", PRODUCT_WS2012R2, "Windows Server 2012 R2", "x64", "windows8.1", 6, 3, 9600, True,
           (2013, 10), has_ssu=True, rollup=True, preview=False),
        _v("ws2012-x64", PRODUCT_WS2012, "Windows Server 2012", "x64", "windows8-rt", 6, 2, 9200, True,
           (2012, 9), has_ssu=True, rollup=True, preview=False),
    ]
    for label, build, ga in w11[:2]:
        for arch in ("x64", "arm64"):
            out.append(_v("win11-%s-%s" % (label.lower(), arch), PRODUCT_WIN11, "Windows 11 Version %s" % label, arch,
                          "windows11.0", 10, 0, build, False, ga))
    for index, (label, build, ga) in enumerate(w10):
        if index == 2:
            out.extend(extra_servers)
        if index == 3:
            for label11, build11, ga11 in w11[2:]:
                for arch in ("x64", "arm64"):
                    out.append(_v("win11-%s-%s" % (label11.lower(), arch), PRODUCT_WIN11,
                                  "Windows 11 Version %s" % label11, arch, "windows11.0", 10, 0, build11, False, ga11))
        arches = ("x64", "x86", "arm64") if build >= 16299 else ("x64", "x86")
        for arch in arches:
            out.append(_v("win10-%s-%s" % (label.lower(), arch), PRODUCT_WIN10, "Windows 10 Version %s" % label, arch,
                          "windows10.0", 10, 0, build, False, ga, has_ssu=build <= 17763))
    return tuple(out)


VARIANTS = _variants()


def os_key(variant):
    """The OS version (detectoid) a variant belongs to: same for all its architectures."""
    return variant.key.rsplit("-", 1)[0]


# ---------------------------------------------------------------------------------------------
# Definition update chains (each update supersedes the previous one of its chain)
# ---------------------------------------------------------------------------------------------
Chain = namedtuple("Chain", "key product arch title_format file_format minor_base")

_MDAV = "Security Intelligence Update for Microsoft Defender Antivirus - KB{kb} (Version {version}) - {channel}"
_DEF = "Definition Update for {product} - KB{kb} (Definition {version})"


def _chains():
    out = []
    for arch in ("x64", "x86", "arm64"):
        out.append(Chain("mdav-broad-%s" % arch, PRODUCT_DEFENDER, arch,
                         _MDAV.replace("{channel}", "Current Channel (Broad)"), "am_delta_patch_{version}", 421))
    for key, product, title in (("scep", PRODUCT_SCEP, "System Center Endpoint Protection"),
                                ("mse", PRODUCT_MSE, "Microsoft Security Essentials"),
                                ("windefender", PRODUCT_WINDEFENDER, "Windows Defender")):
        for arch in ("x64", "x86"):
            out.append(Chain("%s-%s" % (key, arch), product, arch, _DEF.replace("{product}", title),
                             "mpam-d_{version}", 421))
    for channel, label in (("staged", "Current Channel (Staged)"), ("preview", "Preview Channel"),
                           ("beta", "Beta Channel")):
        for arch in ("x64", "x86", "arm64"):
            out.append(Chain("mdav-%s-%s" % (channel, arch), PRODUCT_DEFENDER, arch, _MDAV.replace("{channel}", label),
                             "am_delta_patch_{version}", 422))
    return tuple(out)


CHAINS = _chains()

# ---------------------------------------------------------------------------------------------
# Texts
# ---------------------------------------------------------------------------------------------
SECURITY_DESC = {
    "en": "A security issue has been identified in a Microsoft software product that could affect your system. "
          "You can help protect your system by installing this update from Microsoft.\n"
          "For a complete listing of the issues that are included in this update, see the associated Microsoft "
          "Knowledge Base article. After you install this update, you may have to restart your system.",
    "de": "In einem Microsoft-Softwareprodukt wurde ein Sicherheitsproblem festgestellt, das Auswirkungen auf Ihr "
          "System haben könnte. Sie können zum Schutz Ihres Systems beitragen, indem Sie dieses Update von "
          "Microsoft installieren.\nEine vollständige Liste der in diesem Update behobenen Probleme finden Sie im "
          "zugehörigen Microsoft Knowledge Base-Artikel. Nach der Installation dieses Updates müssen Sie das System "
          "gegebenenfalls neu starten.",
}
UPDATE_DESC = {
    "en": "Install this update to resolve issues in Windows. For a complete listing of the issues that are included "
          "in this update, see the associated Microsoft Knowledge Base article for more information.\n"
          "After you install this item, you may have to restart your computer.",
    "de": "Installieren Sie dieses Update, um Probleme in Windows zu beheben. Eine vollständige Liste der in diesem "
          "Update enthaltenen Probleme finden Sie im zugehörigen Microsoft Knowledge Base-Artikel.\n"
          "Nach der Installation dieses Elements müssen Sie den Computer möglicherweise neu starten.",
}
SSU_DESC = {
    "en": "This update makes quality improvements to the servicing stack, which is the component that installs "
          "Windows updates.",
    "de": "Dieses Update enthält Qualitätsverbesserungen für den Wartungsstapel, also die Komponente, die "
          "Windows-Updates installiert.",
}
DEFINITION_DESC = {
    "en": "Install this update to revise the files that are used to detect viruses, spyware, and other potentially "
          "unwanted software. Once you have installed this item, it cannot be removed.",
}

TITLES = {
    "cu": {"en": "{ym} Cumulative Update for {os} for {arch} (KB{kb})",
           "de": "{ym} Kumulatives Update für {os} für {arch_de} (KB{kb})"},
    "rollup": {"en": "{ym} Security Monthly Quality Rollup for {os} for {arch} (KB{kb})",
               "de": "{ym} Monatliches Sicherheitsqualitätsrollup für {os} für {arch_de} (KB{kb})"},
    "preview": {"en": "{ym} Cumulative Update Preview for {os} for {arch} (KB{kb})",
                "de": "{ym} Kumulatives Update (Vorschau) für {os} für {arch_de} (KB{kb})"},
    "ssu": {"en": "{ym} Servicing Stack Update for {os} for {arch} (KB{kb})",
            "de": "{ym} Wartungsstapelupdate für {os} für {arch_de} (KB{kb})"},
    "dotnet": {"en": "{ym} Cumulative Update for .NET Framework 3.5, 4.8 and 4.8.1 for {os} for {short} (KB{kb})",
               "de": "{ym} Kumulatives Update für .NET Framework 3.5, 4.8 und 4.8.1 für {os} für {short} (KB{kb})"},
    "oob": {"en": "{ym} Out-of-band Update for {os} for {arch} (KB{kb})",
            "de": "{ym} Außerplanmäßiges Update für {os} für {arch_de} (KB{kb})"},
}

# The one title that carries a character outside the Basic Multilingual Plane (exercises the
# UTF-16 length of WSUS metadata.txt records): appended to the newest CU of the first variant.
NON_BMP_SUFFIX = " \U0001F6E1"

LANGUAGES = {"en": (1033, "English"), "de": (1031, "German")}
EXPORT_LANGUAGES = (("0", "all", "all"), ("1031", "de", "German"), ("1033", "en", "English"),
                    ("1036", "fr", "French"), ("1040", "it", "Italian"), ("1041", "ja", "Japanese"),
                    ("1034", "es", "Spanish"), ("2052", "zh-cn", "Chinese (Simplified)"))
