# -*- coding: utf-8 -*-
"""The logical catalog: a size plan and a stream of update records, shared by every output format.

``Catalog(updates=N, seed=S)`` plans a catalog of about N ``<Update>`` entries (categories,
detectoids, bundles and their payload children) and ``Catalog.groups()`` yields it as lists
``[bundle, child, ...]`` (or ``[category]`` / ``[detectoid]``), oldest first, never holding more
than one group. Every value is derived from a keyed hash of ``(seed, item key)``, so an item does
not depend on the items generated before it, and RevisionIds (which the offline scan needs for
backward links) are computed from the plan by arithmetic instead of being remembered.

After ``groups()`` has been consumed, ``Catalog.manifest()`` returns counts and facts that tests
can assert on (see ``manifest()``).
"""

from __future__ import annotations

import base64
import bisect
import calendar
import datetime
import hashlib
import re

from . import content as C

REV_BASE = 40000001  # first RevisionId (real 2019 packages were near 29,000,000)
KB_BASE = 5000000  # KB of a bundle = KB_BASE + its position; 7 digits while the catalog is < 5M entries
HISTORY_START = (2016, 10)  # earliest month that can be generated (monthly rollup model)
END_MONTH = (2026, 11)
DEF_SHARE = 0.25  # share of N given to definition updates before the monthly updates are sized
DEFS_PER_CHAIN = 8000  # definition chains are added until each holds about this many updates
MIN_DEFS_PER_CHAIN = 2
URL_BASE = "http://download.windowsupdate.com/d/msdownload/update/software"

_MONTHLY_KINDS = ("ssu", "cu", "preview", "dotnet", "oob")
# An out-of-band update carries a language-neutral payload and one language-specific payload child
# per language here, as Microsoft's metadata carries language-specific payloads: updates of their
# own that name their languages (<Languages> in package.xml, <upd:Language> in the update XML).
# Fixed, whatever title languages the catalog has, so the plan does not depend on them.
PAYLOAD_LANGUAGES = (("en", "en-us"), ("de", "de-de"))
OOB_SIZE = 2 + len(PAYLOAD_LANGUAGES)


class GenFile(object):
    """A payload file. ``payload_bytes(file)`` returns its deterministic content."""

    __slots__ = ("name", "size", "sha1", "sha256", "sha1_hex", "url", "modified", "payload_key")

    def __init__(self, name, size, sha1, sha256, sha1_hex, url, modified, payload_key):
        self.name = name
        self.size = size
        self.sha1 = sha1
        self.sha256 = sha256
        self.sha1_hex = sha1_hex
        self.url = url
        self.modified = modified
        self.payload_key = payload_key

    def as_dict(self):
        return {"name": self.name, "size": self.size, "sha1": self.sha1, "sha256": self.sha256, "url": self.url}


class GenUpdate(object):
    """One generated update revision (category, detectoid, bundle or payload child)."""

    __slots__ = (
        "key", "group", "position", "revision_id", "update_id", "revision_number", "kind", "category_type",
        "titles", "descriptions", "kb", "severity", "date", "date_ms", "reboot", "impact", "max_size", "is_bundle",
        "deployable", "support_url", "bulletin", "products", "classification", "families", "parent", "prereqs",
        "bundled", "bundled_by", "bundled_by_id", "supersedes", "superseded_by", "files", "rules", "handler",
        "handler_data", "detectoid_type", "variant", "month", "absent", "languages",
    )

    def __init__(self, **values):
        for name in self.__slots__:
            setattr(self, name, values.pop(name, None))
        if values:
            raise TypeError("unknown fields %s" % sorted(values))

    @property
    def categories(self):
        """Category GUIDs the formats state for this update (products, then classification)."""
        out = list(self.products or ())
        if self.classification:
            out.append(self.classification)
        return out

    def __repr__(self):
        return "GenUpdate(%s %s %r)" % (self.group, self.update_id, (self.titles or {}).get("en"))


def payload_bytes(file):
    """The content of a generated payload file (a GenFile): deterministic pseudo-random bytes."""
    return hashlib.shake_256(file.payload_key).digest(file.size)


def _guid(digest):
    h = bytearray(digest[:16])
    h[6] = (h[6] & 0x0F) | 0x40
    h[8] = (h[8] & 0x3F) | 0x80
    x = h.hex()
    return "%s-%s-%s-%s-%s" % (x[:8], x[8:12], x[12:16], x[16:20], x[20:])


def _abs(year_month):
    return year_month[0] * 12 + year_month[1] - 1


def _ym(absolute):
    return absolute // 12, absolute % 12 + 1


def _tuesday(year, month, nth):
    first = datetime.date(year, month, 1)
    first_tuesday = 1 + (1 - first.weekday()) % 7
    return datetime.datetime(year, month, first_tuesday + 7 * (nth - 1))


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64(raw):
    return base64.b64encode(raw).decode("ascii")


class Catalog(object):
    """A planned catalog of about ``updates`` entries. See the module docstring."""

    def __init__(self, updates=500, seed=0, languages=("en", "de"), end_month=END_MONTH,
                 category_prerequisites=False):
        languages = tuple(dict.fromkeys(languages or ("en",)))
        unknown = [lang for lang in languages if lang not in C.LANGUAGES]
        if unknown:
            raise ValueError("unsupported language(s) %s; supported: %s" % (", ".join(unknown), ", ".join(C.LANGUAGES)))
        if "en" not in languages:
            raise ValueError("'en' (the default language) must be among the languages")
        self.requested = int(updates)
        self.seed = seed
        self.languages = languages
        self.category_prerequisites = category_prerequisites
        self._key = hashlib.sha256(("patchwave-catalog-gen|%s" % (seed,)).encode("utf-8")).digest()
        self.end_abs = _abs(end_month)
        self.creation_date = _iso(datetime.datetime(*_ym(self.end_abs + 1), 1, 3, 13, 34))
        self.package_id = _guid(self._hash("package-id"))
        self._plan()
        self._stats = None

    # ------------------------------------------------------------------ hashing helpers
    def _hash(self, key):
        return hashlib.blake2b(key.encode("utf-8"), key=self._key, digest_size=32).digest()

    def update_id(self, key):
        """The UpdateID an item key gets in this catalog (also for deliberately absent items)."""
        return _guid(self._hash(key))

    # ------------------------------------------------------------------ planning
    def _layout(self, vi, i):
        """[(kind, entries)] of variant ``vi`` in month index ``i`` (empty when not yet released)."""
        variant = self.variants[vi]
        absolute = self.start_abs + i
        if absolute < self._ga[vi]:
            return ()
        out = []
        if variant.has_ssu:
            out.append(("ssu", 2))
        out.append(("cu", 2))
        if variant.preview:
            out.append(("preview", 2))
        out.append(("dotnet", 3))
        if (absolute + vi) % 4 == 0:
            out.append(("oob", OOB_SIZE))
        return out

    def _monthly_cost(self, nvariants, months):
        start = self.end_abs - months + 1
        total = 0
        for vi in range(nvariants):
            variant = C.VARIANTS[vi]
            first = max(start, _abs(variant.ga))
            active = self.end_abs - first + 1
            if active <= 0:
                continue
            per = 2 + 3 + (2 if variant.has_ssu else 0) + (2 if variant.preview else 0)
            oob = sum(1 for a in range(first, self.end_abs + 1) if (a + vi) % 4 == 0)
            total += per * active + OOB_SIZE * oob
        return total

    def _detectoid_keys(self, nvariants):
        keys = ["arch-x64", "arch-x86", "arch-arm64", "netfx48", "netfx481"]
        for variant in C.VARIANTS[:nvariants]:
            key = "os-" + C.os_key(variant)
            if key not in keys:
                keys.append(key)
        return keys

    def _plan(self):
        n = self.requested
        max_months = self.end_abs - _abs(HISTORY_START) + 1
        n_categories = len(C.CATEGORIES)
        def_target = max(2 * 3 * MIN_DEFS_PER_CHAIN, int(n * DEF_SHARE))
        budget = n - n_categories - def_target
        configs = [(v, 2) for v in range(2, 6)]
        configs += [(5, m) for m in range(3, max_months + 1)]
        configs += [(v, max_months) for v in range(6, len(C.VARIANTS) + 1)]
        chosen = configs[0]
        for nvariants, months in configs:
            cost = self._monthly_cost(nvariants, months) + len(self._detectoid_keys(nvariants))
            if cost > budget:
                break
            chosen = (nvariants, months)
        nvariants, months = chosen
        self.variants = C.VARIANTS[:nvariants]
        self._ga = [_abs(v.ga) for v in self.variants]
        self.months = months
        self.start_abs = self.end_abs - months + 1
        self.detectoid_keys = self._detectoid_keys(nvariants)
        fixed = n_categories + len(self.detectoid_keys)
        monthly = self._monthly_cost(nvariants, months)
        n_defs = max(3 * MIN_DEFS_PER_CHAIN, (n - fixed - monthly) // 2)
        n_chains = min(len(C.CHAINS), max(3, -(-n_defs // DEFS_PER_CHAIN)))
        self.chains = C.CHAINS[:n_chains]
        self.n_defs = n_defs
        # definitions per chain, then per chain and month (the most recent months get the remainder)
        self.defs_per_chain = [n_defs // n_chains + (1 if c < n_defs % n_chains else 0) for c in range(n_chains)]
        self.def_counts = []  # [chain][month]
        self.def_cum = []  # [chain][month] = definitions of the chain before that month
        for count in self.defs_per_chain:
            base, rest = divmod(count, months)
            row = [base + (1 if i >= months - rest else 0) for i in range(months)]
            cum, running = [], 0
            for value in row:
                cum.append(running)
                running += value
            self.def_counts.append(row)
            self.def_cum.append(cum)
        # positions: categories, detectoids, then per month: monthly blocks of each variant, definitions
        self.month_start = []
        self.variant_offset = []  # [month][variant] -> offset inside the month
        self.def_start = []  # [month] -> offset inside the month of the first definition
        position = fixed
        for i in range(months):
            self.month_start.append(position)
            offsets, inside = [], 0
            for vi in range(nvariants):
                offsets.append(inside)
                inside += sum(size for _kind, size in self._layout(vi, i))
            self.variant_offset.append(offsets)
            self.def_start.append(inside)
            position += inside + 2 * sum(self.def_counts[c][i] for c in range(n_chains))
        self.total = position
        first_ssu = [vi for vi, v in enumerate(self.variants) if v.has_ssu]
        self.first_ssu_variant = first_ssu[0] if first_ssu else None

    # ------------------------------------------------------------------ positions
    def _first_month(self, vi):
        return max(0, self._ga[vi] - self.start_abs)

    def _monthly_position(self, kind, vi, i):
        """Position of the bundle of ``kind`` for variant ``vi`` in month ``i``, or None if absent."""
        if not 0 <= i < self.months or not 0 <= vi < len(self.variants):
            return None
        inside = 0
        for name, size in self._layout(vi, i):
            if name == kind:
                return self.month_start[i] + self.variant_offset[i][vi] + inside
            inside += size
        return None

    def _def_month(self, c, j):
        return bisect.bisect_right(self.def_cum[c], j) - 1

    def _def_position(self, c, j):
        if not 0 <= j < self.defs_per_chain[c]:
            return None
        i = self._def_month(c, j)
        before = sum(self.def_counts[cc][i] for cc in range(c))
        return self.month_start[i] + self.def_start[i] + 2 * (before + j - self.def_cum[c][i])

    # ------------------------------------------------------------------ keys
    def _month_label(self, i):
        year, month = _ym(self.start_abs + i)
        return "%04d-%02d" % (year, month)

    def _monthly_key(self, kind, vi, i):
        year, month = _ym(self.start_abs + i)
        return "%s|%s|%04d-%02d" % (kind, self.variants[vi].key, year, month)

    def _def_key(self, c, j):
        return "def|%s|%d" % (self.chains[c].key, j)

    @staticmethod
    def detectoid_id(key):
        return C.fixed_guid("detectoid:" + key)

    # ------------------------------------------------------------------ generation
    def groups(self):
        """Yield every update as a list ``[bundle, children...]`` or ``[single]``, in RevisionId order."""
        self._stats = _Stats(self)
        stats = self._stats
        position = 0
        for category in C.CATEGORIES:
            update = self._category(category, position)
            position += 1
            stats.add([update])
            yield [update]
        for key in self.detectoid_keys:
            update = self._detectoid(key, position)
            position += 1
            stats.add([update])
            yield [update]
        for i in range(self.months):
            for vi in range(len(self.variants)):
                for kind, _size in self._layout(vi, i):
                    group = self._monthly(kind, vi, i)
                    stats.add(group)
                    yield group
            for c in range(len(self.chains)):
                first = self.def_cum[c][i]
                for j in range(first, first + self.def_counts[c][i]):
                    group = self._definition(c, j)
                    stats.add(group)
                    yield group
        stats.finish()

    def iter_updates(self):
        """Every update record in RevisionId order (bundles before their children)."""
        for group in self.groups():
            yield from group

    def _titles(self, titles):
        return {lang: titles[lang] for lang in self.languages if lang in titles}

    def _category(self, category, position):
        return GenUpdate(
            key="category|" + category.key, group="category", position=position,
            revision_id=REV_BASE + position, update_id=category.guid, revision_number=category.revision,
            kind="category", category_type=category.type, titles=self._titles(category.titles),
            descriptions=self._titles(category.description), date=category.created, date_ms=0,
            parent=category.parent, prereqs=[], rules={"is_installed": category.rule}, handler="cat",
            deployable=False, products=[], supersedes=[], superseded_by=[], files=[], bundled=[], bundled_by=[],
        )

    def _detectoid(self, key, position):
        kind, _sep, name = key.partition("-")
        if kind == "arch":
            arch = C.ARCHES[name]
            title = "%s Processor IsInstalled" % arch.short
            rule = ("bar", "Processor", (("Architecture", arch.processor),), ())
            dtype, created = "Architecture", "2014-07-08T17:00:00Z"
        elif key.startswith("netfx"):
            release = {"netfx48": ("4.8", 528040), "netfx481": ("4.8.1", 533320)}[key]
            title = ".NET Framework %s IsInstalled" % release[0]
            rule = C._netfx_rule(release[1])
            dtype, created = "SKU or Feature", "2019-04-18T17:00:00Z"
        else:
            variant = [v for v in self.variants if C.os_key(v) == name][0]
            title = "%s IsInstalled" % variant.os
            attrs = (("Comparison", "EqualTo"), ("MajorVersion", str(variant.major)),
                     ("MinorVersion", str(variant.minor)), ("BuildNumber", str(variant.build)))
            if variant.server:
                rule = ("lar", "Or", (), (("bar", "WindowsVersion", attrs + (("ProductType", "2"),), ()),
                                          ("bar", "WindowsVersion", attrs + (("ProductType", "3"),), ())))
            else:
                rule = ("bar", "WindowsVersion", attrs + (("ProductType", "1"),), ())
            dtype = "SKU or Feature"
            created = _iso(datetime.datetime(variant.ga[0], variant.ga[1], 1, 17))
        return GenUpdate(
            key="detectoid|" + key, group="detectoid", position=position, revision_id=REV_BASE + position,
            update_id=self.detectoid_id(key), revision_number=200, kind="detectoid", titles={"en": title},
            descriptions={"en": "Detectoid for %s." % title.replace(" IsInstalled", "")}, date=created, date_ms=0,
            prereqs=[], rules={"is_installed": rule}, detectoid_type=dtype, deployable=False, products=[],
            supersedes=[], superseded_by=[], files=[], bundled=[], bundled_by=[],
        )

    def _file(self, key, name_format, url_folder, moment, modified):
        digest = self._hash("file|" + key)
        size = 256 + int.from_bytes(digest[:2], "big") % 3841
        payload_key = b"patchwave-payload|" + self._key + b"|" + key.encode("utf-8")
        data = hashlib.shake_256(payload_key).digest(size)
        sha1 = hashlib.sha1(data).digest()
        sha1_hex = sha1.hex()
        name = name_format.format(sha1=sha1_hex)
        url = "%s/%s/%04d/%02d/%s" % (URL_BASE, url_folder, moment.year, moment.month, name)
        return GenFile(name, size, _b64(sha1), _b64(hashlib.sha256(data).digest()), sha1_hex, url, modified,
                       payload_key)

    def _monthly(self, kind, vi, i):
        variant = self.variants[vi]
        arch = C.ARCHES[variant.arch]
        absolute = self.start_abs + i
        year, month = _ym(absolute)
        ym = "%04d-%02d" % (year, month)
        position = self._monthly_position(kind, vi, i)
        key = self._monthly_key(kind, vi, i)
        digest = self._hash(key)
        kb = str(KB_BASE + position)
        title_kind = "rollup" if (kind == "cu" and variant.rollup) else kind
        fields = dict(ym=ym, os=variant.os, arch=arch.title, arch_de=arch.title_de, short=arch.short, kb=kb)
        titles = {lang: C.TITLES[title_kind][lang].format(**fields) for lang in self.languages}
        last = i == self.months - 1
        if kind == "cu" and vi == 0 and last:
            titles[("de" if "de" in titles else "en")] += C.NON_BMP_SUFFIX
        if kind in ("cu", "dotnet"):
            descriptions = C.SECURITY_DESC
        elif kind == "ssu":
            descriptions = C.SSU_DESC
        else:
            descriptions = C.UPDATE_DESC
        descriptions = self._titles(descriptions)
        if kind == "preview":
            moment = _tuesday(year, month, 4) + datetime.timedelta(hours=18)
        elif kind == "oob":
            moment = _tuesday(year, month, 2) + datetime.timedelta(days=9, hours=20)
        else:
            moment = _tuesday(year, month, 2) + datetime.timedelta(hours=18)
        severity = {"cu": "Critical" if digest[16] < 192 else "Important", "ssu": "Critical",
                    "dotnet": "Important"}.get(kind)
        classification = {"preview": C.CLASS_UPDATES, "oob": C.CLASS_CRITICAL}.get(kind, C.CLASS_SECURITY)
        reboot = {"cu": "AlwaysRequiresReboot" if digest[17] < 205 else "CanRequestReboot",
                  "preview": "AlwaysRequiresReboot", "ssu": "NeverReboots"}.get(kind, "CanRequestReboot")
        impact = "RequiresExclusiveHandling" if kind == "ssu" else "Normal"
        products = [C.PRODUCT_DOTNET, variant.product] if kind == "dotnet" else [variant.product]
        families = [C.FAMILY_DEVTOOLS, C.FAMILY_WINDOWS] if kind == "dotnet" else [C.FAMILY_WINDOWS]
        os_det = self.detectoid_id("os-" + C.os_key(variant))
        arch_det = self.detectoid_id("arch-" + variant.arch)
        base_prereqs = [(os_det,), (arch_det,)]
        prereqs = list(base_prereqs)
        first_month = self._first_month(vi)
        cut = self._ga[vi] < self.start_abs  # the variant's history starts before the catalog's
        if kind == "cu" and variant.has_ssu:
            prereqs.append((self.update_id(self._monthly_key("ssu", vi, i)),))
        if kind == "dotnet":
            prereqs.append((self.detectoid_id("netfx48"), self.detectoid_id("netfx481")))
        absent = []  # ids deliberately left out of the catalog (dangling links)
        if kind == "ssu" and vi == self.first_ssu_variant and i == first_month:
            absent.append(self.update_id("ssu|%s|%s" % (variant.key, "baseline")))
            prereqs.append((absent[-1],))
        supersedes, superseded_by = [], []
        if kind in ("cu", "ssu", "dotnet"):
            if i > first_month:
                supersedes.append(self.update_id(self._monthly_key(kind, vi, i - 1)))
                if kind == "cu" and variant.preview:
                    supersedes.append(self.update_id(self._monthly_key("preview", vi, i - 1)))
            elif cut or kind == "dotnet":
                prev_year, prev_month = _ym(absolute - 1)
                absent.append(self.update_id("%s|%s|%04d-%02d" % (kind, variant.key, prev_year, prev_month)))
                supersedes.append(absent[-1])
            nxt = self._monthly_position(kind, vi, i + 1)
            if nxt is not None:
                superseded_by.append(REV_BASE + nxt)
            if kind == "cu":
                preview = self._monthly_position("preview", vi, i)
                if preview is not None:
                    superseded_by.append(REV_BASE + preview)
                if vi == 0 and i == self.months - 2:
                    superseded_by.append(REV_BASE + self.total + 1000)  # a revision not in this package
        elif kind == "preview":
            supersedes.append(self.update_id(self._monthly_key("cu", vi, i)))
            nxt = self._monthly_position("cu", vi, i + 1)
            if nxt is not None:
                superseded_by.append(REV_BASE + nxt)
        bulletin = None
        if kind == "cu" and absolute < _abs((2017, 4)):
            bulletin = "MS%02d-%03d" % (year % 100, 100 + (absolute % 12) * 7 + vi)
        bundle = GenUpdate(
            key=key, group=kind, position=position, revision_id=REV_BASE + position, update_id=_guid(digest),
            revision_number=200 + digest[18] % 3, kind="software", titles=titles, descriptions=descriptions, kb=kb,
            severity=severity, date=_iso(moment), date_ms=digest[19] * 3, reboot=reboot, impact=impact,
            is_bundle=True, deployable=True, support_url="https://support.microsoft.com/help/%s" % kb,
            bulletin=bulletin, products=products, classification=classification, families=families,
            prereqs=prereqs, supersedes=supersedes, superseded_by=superseded_by, files=[], rules={},
            variant=variant.key, month=ym, bundled=[], absent=absent,
        )
        # payload children
        ubr = 100 + 73 * (absolute - self._ga[vi]) if absolute >= self._ga[vi] else 100
        url_folder = "secu" if classification == C.CLASS_SECURITY else "updt"
        child_moment = moment.replace(hour=2, minute=digest[20] % 60, second=digest[21] % 60)
        modified = _iso(moment - datetime.timedelta(days=6, hours=8, minutes=30))
        installable = ("lar", "And", (), (
            ("bar", "WindowsVersion", (("Comparison", "EqualTo"), ("MajorVersion", str(variant.major)),
                                       ("MinorVersion", str(variant.minor)), ("BuildNumber", str(variant.build))), ()),
            ("bar", "Processor", (("Architecture", arch.processor),), ()),
        ))
        cbs_tail = "~31bf3856ad364e35~%s~~" % arch.cbs
        if kind == "dotnet":
            payloads = [("-ndp48", "Package_for_DotNetRollup_48" + cbs_tail + "10.0.%d.1" % (4000 + ubr)),
                        ("-ndp481", "Package_for_DotNetRollup_481" + cbs_tail + "10.0.%d.1" % (9000 + ubr))]
            installable = ("lar", "And", (), (installable[3][0], C._netfx_rule(528040)))
        elif kind == "ssu":
            payloads = [("", "Package_for_ServicingStack_%d%s%d.%d.1.0" % (ubr, cbs_tail, variant.build, ubr))]
        elif kind == "oob":
            payloads = [("", "Package_for_KB%s%s%d.%d.1.0" % (kb, cbs_tail, variant.build, ubr + 50))]
            payloads += [("-lp-%s" % culture, "Package_for_KB%s%s%s~%d.%d.1.0" % (kb, cbs_tail[:-1], culture,
                                                                                  variant.build, ubr + 50), language)
                         for language, culture in PAYLOAD_LANGUAGES]
        else:
            extra = 37 if kind == "preview" else 0
            payloads = [("", "Package_for_RollupFix%s%d.%d.1.%d" % (cbs_tail, variant.build, ubr + extra,
                                                                    1 + digest[22] % 12))]
        children = []
        total_size = 0
        for n, (suffix, package, *language) in enumerate(payloads):
            child_key = "%s-payload|%s|%s|%d" % (kind, variant.key, ym, n)
            child_digest = self._hash(child_key)
            name = "%s-kb%s-%s%s_{sha1}.msu" % (variant.file_prefix, kb, variant.arch, suffix)
            file = self._file(child_key, name, url_folder, moment, modified)
            total_size += file.size
            child_position = position + 1 + n
            children.append(GenUpdate(
                key=child_key, group=kind + "-payload", position=child_position,
                revision_id=REV_BASE + child_position, update_id=_guid(child_digest),
                revision_number=bundle.revision_number, kind="software", titles={"en": titles["en"]},
                descriptions={"en": descriptions["en"]}, kb=kb, date=_iso(child_moment), date_ms=digest[23],
                reboot=reboot, impact=impact, max_size=file.size, is_bundle=False, deployable=False,
                products=[], prereqs=list(base_prereqs), supersedes=[], superseded_by=[],
                bundled_by=[bundle.revision_id], bundled_by_id=bundle.update_id, bundled=[], files=[file],
                rules={"is_installed": ("cbsar", "CbsPackageInstalledByIdentity", (("PackageIdentity", package),), ()),
                       "is_installable": installable},
                handler="cbs", handler_data=("cbs", "CbsData", (("PackageIdentity", package),), ()),
                variant=variant.key, month=ym, languages=tuple(language),
            ))
        bundle.max_size = total_size
        bundle.bundled = [(child.update_id, child.revision_number) for child in children]
        return [bundle] + children

    def _definition(self, c, j):
        chain = self.chains[c]
        arch = C.ARCHES[chain.arch]
        i = self._def_month(c, j)
        inside = j - self.def_cum[c][i]
        count = self.def_counts[c][i]
        absolute = self.start_abs + i
        year, month = _ym(absolute)
        position = self._def_position(c, j)
        key = self._def_key(c, j)
        digest = self._hash(key)
        kb = str(KB_BASE + position)
        version = "1.%d.%d.0" % (chain.minor_base - (self.months - 1) + i, 3 * inside + 1 + digest[16] % 3)
        title = chain.title_format.format(kb=kb, version=version)
        days = calendar.monthrange(year, month)[1]
        start = datetime.datetime(year, month, 1)
        moment = start + datetime.timedelta(seconds=int((inside + 0.5) * days * 86400 / count))
        supersedes = [self.update_id(self._def_key(c, j - 1))]  # j == 0: the expired predecessor (dangling)
        superseded_by = []
        nxt = self._def_position(c, j + 1)
        if nxt is not None:
            superseded_by.append(REV_BASE + nxt)
        if c == 0 and j == self.defs_per_chain[c] - 2:
            superseded_by.append(REV_BASE - 7)  # a revision not in this package
        arch_det = self.detectoid_id("arch-" + chain.arch)
        bundle = GenUpdate(
            key=key, group="definition", position=position, revision_id=REV_BASE + position,
            update_id=_guid(digest), revision_number=200, kind="software", titles={"en": title},
            descriptions={"en": C.DEFINITION_DESC["en"]}, kb=kb, severity=None, date=_iso(moment),
            date_ms=digest[17] * 3, reboot="NeverReboots", impact="Minor", is_bundle=True, deployable=True,
            support_url="https://go.microsoft.com/fwlink/?LinkId=52661", products=[chain.product],
            classification=C.CLASS_DEFINITIONS, families=[C.FAMILY_WINDOWS], prereqs=[(arch_det,)],
            supersedes=supersedes, superseded_by=superseded_by, files=[], rules={}, variant=chain.key,
            month="%04d-%02d" % (year, month), absent=supersedes if j == 0 else [],
        )
        child_key = "def-payload|%s|%d" % (chain.key, j)
        child_digest = self._hash(child_key)
        file = self._file(child_key, chain.file_format.format(version=version) + "_{sha1}.exe", "defu", moment,
                          _iso(moment - datetime.timedelta(hours=3)))
        program = file.name
        child_position = position + 1
        child = GenUpdate(
            key=child_key, group="definition-payload", position=child_position,
            revision_id=REV_BASE + child_position, update_id=_guid(child_digest), revision_number=200,
            kind="software", titles={"en": title}, descriptions={"en": C.DEFINITION_DESC["en"]}, kb=kb,
            date=_iso(moment - datetime.timedelta(hours=1)), date_ms=0, reboot="NeverReboots", impact="Minor",
            max_size=file.size, is_bundle=False, deployable=False, products=[], prereqs=[(arch_det,)],
            supersedes=[], superseded_by=[], bundled_by=[bundle.revision_id], bundled_by_id=bundle.update_id,
            bundled=[], files=[file],
            rules={"is_installed": ("bar", "RegSzToVersion", (
                ("Key", "HKEY_LOCAL_MACHINE"), ("Subkey", r"SOFTWARE\Microsoft\Windows Defender\Signature Updates"),
                ("Value", "AVSignatureVersion"), ("Comparison", "GreaterThanOrEqualTo"), ("Data", version)), ()),
                "is_installable": ("lar", "And", (), (
                    ("bar", "Processor", (("Architecture", arch.processor),), ()),
                    ("bar", "RegKeyExists", (("Key", "HKEY_LOCAL_MACHINE"),
                                             ("Subkey", r"SOFTWARE\Microsoft\Windows Defender")), ())))},
            handler="cmd",
            handler_data=("cmd", "InstallCommand", (("Arguments", "-q"), ("Program", program),
                                                    ("RebootByDefault", "false"), ("DefaultResult", "Failed")),
                          (("cmd", "ReturnCode", (("Reboot", "false"), ("Result", "Succeeded"), ("Code", "0")), ()),)),
            variant=chain.key, month=bundle.month,
        )
        bundle.max_size = file.size
        bundle.bundled = [(child.update_id, child.revision_number)]
        return [bundle, child]

    # ------------------------------------------------------------------ manifest
    def manifest(self):
        """Counts and facts of the generated catalog (needs ``groups()`` to have been consumed)."""
        if self._stats is None or not self._stats.finished:
            for _group in self.groups():
                pass
        return self._stats.manifest()


class _Stats(object):
    """Collects the manifest while the catalog streams past."""

    def __init__(self, catalog):
        self.catalog = catalog
        self.finished = False
        self.total = 0
        self.by_kind = {}
        self.by_group = {}
        self.by_classification = {}
        self.bundles = 0
        self.children = 0
        self.files = 0
        self.file_bytes = 0
        self.superseded = 0
        self.with_supersedes = 0
        self.multilanguage = 0
        self.language_specific = 0
        self.language_files = {}
        self.language_sample = None
        self.latest_cu = {}
        self.chain = []
        self.chain_variant = catalog.variants[0].key
        self.dangling_supersedes = {}
        self.dangling_superseded_by = {}
        self.dangling_prereqs = {}
        self.non_bmp = None
        self.def_chains = {}
        self.kb_min = None
        self.kb_max = None
        self.sample_bundle = None

    def add(self, group):
        catalog = self.catalog
        for update in group:
            self.total += 1
            self.by_kind[update.kind] = self.by_kind.get(update.kind, 0) + 1
            self.by_group[update.group] = self.by_group.get(update.group, 0) + 1
            if len(update.titles) > 1:
                self.multilanguage += 1
            if update.is_bundle:
                self.bundles += 1
                name = _class_name(update.classification)
                self.by_classification[name] = self.by_classification.get(name, 0) + 1
                kb = int(update.kb)
                self.kb_min = kb if self.kb_min is None else min(self.kb_min, kb)
                self.kb_max = kb if self.kb_max is None else max(self.kb_max, kb)
            elif update.bundled_by:
                self.children += 1
            for file in update.files:
                self.files += 1
                self.file_bytes += file.size
            if update.languages:
                self.language_specific += 1
                for language in update.languages:
                    self.language_files[language] = self.language_files.get(language, 0) + len(update.files)
            present_superseders = [r for r in update.superseded_by if REV_BASE <= r < REV_BASE + catalog.total]
            if present_superseders:
                self.superseded += 1
            missing = [r for r in update.superseded_by if not REV_BASE <= r < REV_BASE + catalog.total]
            if missing:
                self.dangling_superseded_by[update.update_id] = missing
            if update.supersedes:
                self.with_supersedes += 1
            for title_lang, title in update.titles.items():
                if not title.isascii() and _NON_BMP.search(title):
                    self.non_bmp = {"update_id": update.update_id, "language": title_lang, "title": title}
        bundle = group[0]
        if bundle.absent:
            absent = set(bundle.absent)
            missing = [s for s in bundle.supersedes if s in absent]
            if missing:
                self.dangling_supersedes[bundle.update_id] = missing
            missing = [i for clause in bundle.prereqs for i in clause if i in absent]
            if missing:
                self.dangling_prereqs[bundle.update_id] = missing
        if bundle.group == "cu":
            entry = {"update_id": bundle.update_id, "kb": bundle.kb, "title": bundle.titles["en"],
                     "revision_id": bundle.revision_id, "month": bundle.month, "product": bundle.products[0],
                     "children": [c.update_id for c in group[1:]]}
            self.latest_cu[bundle.variant] = entry
            if bundle.variant == self.chain_variant:
                self.chain.append(bundle.update_id)
                self.sample_bundle = {
                    "update_id": bundle.update_id, "revision_id": bundle.revision_id, "kb": bundle.kb,
                    "title": bundle.titles["en"],
                    "children": [{"update_id": c.update_id, "revision_id": c.revision_id,
                                  "files": [f.as_dict() for f in c.files]} for c in group[1:]],
                }
        if bundle.group == "oob" and self.language_sample is None:
            self.language_sample = {
                "update_id": bundle.update_id, "kb": bundle.kb, "title": bundle.titles["en"],
                "children": [{"update_id": c.update_id, "languages": list(c.languages or ()),
                              "files": [f.as_dict() for f in c.files]} for c in group[1:]],
            }
        if bundle.group == "definition":
            info = self.def_chains.setdefault(bundle.variant, {"chain": bundle.variant, "product": bundle.products[0],
                                                               "count": 0, "first": bundle.update_id})
            info["count"] += 1
            info["last"] = bundle.update_id

    def finish(self):
        if self.total != self.catalog.total:
            raise AssertionError("plan said %d updates, generated %d" % (self.catalog.total, self.total))
        self.finished = True

    def manifest(self):
        catalog = self.catalog
        by_product = {}
        for variant_key in sorted(self.latest_cu):
            entry = self.latest_cu[variant_key]
            by_product.setdefault(entry["product"], []).append(entry["update_id"])
        return {
            "generator": "tests.catalog_gen",
            "seed": catalog.seed,
            "requested_updates": catalog.requested,
            "total_updates": self.total,
            "languages": list(catalog.languages),
            "package_id": catalog.package_id,
            "creation_date": catalog.creation_date,
            "months": {"first": catalog._month_label(0), "last": catalog._month_label(catalog.months - 1),
                       "count": catalog.months},
            "variants": [v.key for v in catalog.variants],
            "counts": {
                "by_kind": dict(sorted(self.by_kind.items())),
                "by_group": dict(sorted(self.by_group.items())),
                "bundles_by_classification": dict(sorted(self.by_classification.items())),
                "categories_by_type": _category_counts(),
                "bundles": self.bundles,
                "payload_children": self.children,
                "files": self.files,
                "file_bytes": self.file_bytes,
                "superseded_updates": self.superseded,
                "superseding_updates": self.with_supersedes,
                "multilanguage_updates": self.multilanguage,
                "language_specific_updates": self.language_specific,
                "language_specific_files": dict(sorted(self.language_files.items())),
            },
            "revision_ids": {"first": REV_BASE, "last": REV_BASE + self.total - 1},
            "kb_range": [str(self.kb_min), str(self.kb_max)] if self.kb_min else None,
            "categories": {
                "company": C.COMPANY,
                "product_families": {c.titles["en"]: c.guid for c in C.CATEGORIES if c.type == "ProductFamily"},
                "products": {c.titles["en"]: c.guid for c in C.CATEGORIES if c.type == "Product"},
                "classifications": dict(C.CLASSIFICATIONS),
            },
            "detectoids": {key: Catalog.detectoid_id(key) for key in catalog.detectoid_keys},
            "latest_cu_by_variant": {k: self.latest_cu[k] for k in sorted(self.latest_cu)},
            "latest_cu_by_product": by_product,
            "supersedence_chain": {"variant": self.chain_variant, "group": "cu",
                                   "update_ids": self.chain,
                                   "note": "oldest first; each update supersedes the one before it"},
            "definition_chains": list(self.def_chains.values()),
            "sample_bundle": self.sample_bundle,
            "language_bundle": self.language_sample,
            "dangling": {
                "supersedes": self.dangling_supersedes,
                "superseded_by_revision_ids": self.dangling_superseded_by,
                "prerequisites": self.dangling_prereqs,
            },
            "non_bmp_title": self.non_bmp,
        }


_CLASS_NAMES = {guid: name for name, guid in C.CLASSIFICATIONS.items()}
_NON_BMP = re.compile("[\U00010000-\U0010FFFF]")


def _class_name(guid):
    return _CLASS_NAMES.get(guid, guid)


def _category_counts():
    counts = {}
    for category in C.CATEGORIES:
        counts[category.type] = counts.get(category.type, 0) + 1
    return counts
