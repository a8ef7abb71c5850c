"""Fleet profiles: many varied WUA hosts made from a store's catalog, the same for the same seed.

    profile = FleetProfile("/tmp/lab/store.db", seed=7)
    with Fleet(200, **profile.fleet_kwargs()) as fleet:       # or profile.fleet(200)
        ...

Each host is drawn from its own random stream (seed + index), so ``win005`` is the same host in a
fleet of 10 and in one of 200. A host gets:

* a platform (:data:`.hosts.PLATFORMS`) among those the catalog has updates for, by weight;
* a patch level: ``current`` (everything the catalog offers installed), ``behind`` (patched
  through the month 1..``max_months_behind`` before the newest one) or ``never_patched``; the
  installed set is what monthly patching leaves (:func:`.wua.patch_through`), so supersedence
  and update prerequisites are as a real host would have them;
* sometimes: one needed update hidden, the needed updates downloaded but not installed, a
  pending reboot (one or two sources), no previous scan (``last_scan`` None: never scanned);
* a search duration drawn from ``search_seconds``, a boot time, a WUA version, and the
  fleet-wide ``shares`` plus ``mounts`` in its file system view.
"""

import datetime
import random
import uuid

from .backend import HostModel
from .hosts import PLATFORMS, REBOOT_SOURCE_KEYS, FileSystemView, WuaHost, attach
from .wua import CATALOG_CACHE, WuaBackend, iso, patch_through

DEFAULT_PLATFORM_WEIGHTS = {
    "ws2022-x64": 5, "ws2019-x64": 4, "ws2016-x64": 3, "win11-24h2-x64": 3, "win11-23h2-x64": 2,
    "win11-24h2-arm64": 1, "ws2025-x64": 1, "win11-22h2-x64": 1, "win11-23h2-arm64": 0.5,
}
DEFAULT_MIX = {"current": 0.35, "behind": 0.45, "never_patched": 0.2}
_PENDING_REBOOT = [s for s in ("windows_update", "component_based_servicing", "wua", "pending_file_rename",
                               "server_manager") if s in REBOOT_SOURCE_KEYS]
_NAMESPACE = uuid.UUID("8d0f3b7e-4c52-4f0e-9d1e-6c61622d7775")


def _month_start(year, month):
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return "%04d-%02d-01" % (year, month)


class FleetProfile:
    """Deterministic varied hosts for a store with a synced catalog (see the module docstring)."""

    def __init__(self, store, seed=0, platforms=None, mix=None, max_months_behind=6, hidden_share=0.08,
                 reboot_share=0.1, downloaded_share=0.2, never_scanned_share=0.25, search_seconds=(1.0, 4.0),
                 shares=None, mounts=None, now=None, time_scale=1.0, cache=None):
        self.store = store
        self.seed = seed
        self.cache = cache or CATALOG_CACHE
        self.snapshot = self.cache.get(store)
        self.mix = dict(mix or DEFAULT_MIX)
        self.max_months_behind = max_months_behind
        self.hidden_share = hidden_share
        self.reboot_share = reboot_share
        self.downloaded_share = downloaded_share
        self.never_scanned_share = never_scanned_share
        self.search_seconds = search_seconds
        self.shares = dict(shares or {})
        self.mounts = dict(mounts or {})
        self.time_scale = time_scale
        latest = self.snapshot.latest_release
        if latest is None:
            raise ValueError("store '%s': the catalog has no dated software updates to build hosts from" % store)
        self.latest_month = (int(latest[:4]), int(latest[5:7]))
        months = sorted({r.release_date[:7] for r in self.snapshot.records.values() if r.release_date})
        self.catalog_months = len(months)
        if now is None:
            now = datetime.datetime.strptime(latest[:10], "%Y-%m-%d").replace(
                tzinfo=datetime.timezone.utc).timestamp() + 2 * 86400
        self.now = now
        weights = platforms or DEFAULT_PLATFORM_WEIGHTS
        self.platforms = {key: weight for key, weight in weights.items() if weight > 0 and self._has_updates(key)}
        if not self.platforms:
            raise ValueError("store '%s': the catalog has updates for none of the platforms %s"
                             % (store, ", ".join(sorted(weights))))
        self._installed = {}
        self._states = {}
        self._boot = {}

    def _has_updates(self, key):
        platform = PLATFORMS[key]
        probe = WuaHost(platform)
        return any(platform.product_id in record.products for record, _pending in self.snapshot.static_for(probe))

    def _cutoff(self, months_behind):
        """ISO date: updates released before it were installed by a host this many months behind."""
        year, month = self.latest_month
        return _month_start(year, month - months_behind + 1)

    def _patched(self, platform, as_of):
        key = (platform.key, as_of)
        if key not in self._installed:
            self._installed[key] = frozenset(patch_through(self.snapshot, WuaHost(platform), as_of=as_of))
        return self._installed[key]

    def host_state(self, index):
        """The WUA state of host number ``index`` (1-based); built once, then the same object."""
        if index in self._states:
            return self._states[index]
        rng = random.Random("patchwave-lab|%s|%d" % (self.seed, index))
        keys = sorted(self.platforms)
        platform = PLATFORMS[rng.choices(keys, weights=[self.platforms[k] for k in keys])[0]]
        kinds = sorted(self.mix)
        kind = rng.choices(kinds, weights=[self.mix[k] for k in kinds])[0]
        low, high = self.search_seconds
        state = WuaHost(platform, search_seconds=round(rng.uniform(low, high), 1),
                        fs=FileSystemView(dict(self.shares, **self.mounts)))
        state.profile = kind
        months_behind = 0
        if kind == "behind":
            months_behind = rng.randint(1, max(1, min(self.max_months_behind, self.catalog_months - 1)))
            state.profile = "behind_%d" % months_behind
        if kind != "never_patched":
            as_of = self._cutoff(months_behind) if months_behind else None
            state.installed = set(self._patched(platform, as_of))
            dates = [self.snapshot.records[u].release_date for u in state.installed if u in self.snapshot.records]
            state.patched_through = max(dates)[:10] if dates else None
        needed = [r.update_id for r in self.snapshot.search(state).needed]
        if needed and rng.random() < self.hidden_share:
            state.hidden = {rng.choice(needed)}
        if needed and rng.random() < self.downloaded_share:
            state.downloaded = set(needed) - state.hidden
        if rng.random() < self.reboot_share:
            state.reboot_sources = set(rng.sample(_PENDING_REBOOT, rng.randint(1, 2)))
            if state.installed and state.reboot_sources & {"windows_update", "wua", "component_based_servicing"}:
                # the newest installed update is the one waiting for the restart
                newest = max(state.installed, key=lambda u: (self.snapshot.records[u].release_date or "", u)
                             if u in self.snapshot.records else ("", u))
                state.reboot_required = {newest}
        age = rng.uniform(3600, 30 * 86400)
        self._boot[index] = self.now - age
        if state.patched_through:
            first = datetime.datetime.strptime(state.patched_through, "%Y-%m-%d")
            state.wua_version = "10.0.%d.%d" % (platform.build, 100 + 73 * (first.year * 12 + first.month - 2015 * 12))
        else:
            state.wua_version = "10.0.%d.1" % platform.build
        if rng.random() >= self.never_scanned_share:
            outcome = self.snapshot.search(state)
            state.last_scan = {
                "scan_id": str(uuid.uuid5(_NAMESPACE, "%s|%d" % (self.seed, index))),
                "finished": iso(self.now - rng.uniform(3600, min(age, 20 * 86400))), "mode": "online",
                "server_selection": "default", "result_code": 2, "hresult": None,
                "installed": len(outcome.installed), "needed": len(outcome.needed)}
        self._states[index] = state
        return state

    # Fleet wiring -----------------------------------------------------------------------------

    @classmethod
    def never_patched(cls, store, seed=0, time_scale=1.0, cache=None):
        """Hosts of one platform (the first, by name, the catalog has updates for) with nothing installed,
        nothing hidden, no pending restart and searches that end at once: every host needs the same updates."""
        cache = cache or CATALOG_CACHE
        plain = dict(mix={"never_patched": 1.0}, hidden_share=0, reboot_share=0, downloaded_share=0,
                     search_seconds=(0.0, 0.0), time_scale=time_scale, cache=cache)
        platform = sorted(cls(store, seed=seed, **plain).platforms)[0]
        return cls(store, seed=seed, platforms={platform: 1}, **plain)

    def needed_ids(self, index=1):
        """The update ids host ``index`` needs now (a search of its state, not installed), sorted."""
        state = self.host_state(index)
        return sorted(r.update_id for r in self.snapshot.search(state, set(state.installed), set(state.hidden)).needed)

    def host_factory(self, index, name):
        """A ``host_factory`` for :class:`.fleet.Fleet`: a HostModel carrying host ``index``'s WUA state."""
        state = self.host_state(index)
        model = HostModel(name=name, index=index, boot_time=self._boot[index])
        attach(model, state)
        return model

    def backend_factory(self, model):
        return WuaBackend(model, store=self.store, time_scale=self.time_scale, cache=self.cache)

    def fleet_kwargs(self):
        return {"host_factory": self.host_factory, "backend_factory": self.backend_factory}

    def fleet(self, n_hosts, **kwargs):
        from .fleet import Fleet

        return Fleet(n_hosts, **dict(self.fleet_kwargs(), **kwargs))

    def describe(self, n_hosts):
        """Counts over hosts 1..n: platforms, profiles, hidden, downloaded, reboot pending, never scanned."""
        counts = {"platforms": {}, "profiles": {}, "hidden": 0, "downloaded": 0, "reboot_pending": 0,
                  "never_scanned": 0}
        for index in range(1, n_hosts + 1):
            state = self.host_state(index)
            counts["platforms"][state.platform.key] = counts["platforms"].get(state.platform.key, 0) + 1
            kind = state.profile.split("_")[0] if state.profile.startswith("behind") else state.profile
            counts["profiles"][kind] = counts["profiles"].get(kind, 0) + 1
            counts["hidden"] += bool(state.hidden)
            counts["downloaded"] += bool(state.downloaded)
            counts["reboot_pending"] += state.reboot_pending
            counts["never_scanned"] += state.last_scan is None
        return counts
