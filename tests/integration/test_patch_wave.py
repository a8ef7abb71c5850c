"""The monthly patch wave's rings (issue 13) through patchwave.windows.patch_wave, against lab hosts.

A pilot ring whose failure budget is spent halts the wave: the broad ring never starts and nothing
installs there. Fixed and run again, the wave resumes: the pilot host already compliant is not
installed again, the broad ring runs, the wave finishes. A third run of the finished wave changes
nothing.
"""

from content_fixtures import world  # noqa: F401  pylint: disable=unused-import
from wave_runs import (PILOT_AND_BROAD, copy_store, outcomes, prepare, ring_inventory, starts, wave_events, wave_playbook,
                       wave_state)

from tests.lab.profiles import FleetProfile
from tests.lab.wua import CatalogCache


def test_rings_budget_halt_and_resume(world, runner, tmp_path):  # noqa: F811  pylint: disable=redefined-outer-name
    store = copy_store(world, tmp_path)
    spool = str(tmp_path / "spool")
    profile = FleetProfile.never_patched(store, seed=35, time_scale=0.02, cache=CatalogCache())
    prepare(runner, store, [{"deployment": "wave-dec", "list": "dec", "updates": profile.needed_ids()[:3]}])
    with profile.fleet(6, auth="ntlm") as fleet:
        path = ring_inventory(fleet, tmp_path, {"pilot": [1, 2], "broad": [3, 4, 5, 6]})
        fleet.host(2).backend.set_faults(install_hresult={"*": 0x80240022})

        # a typo in a ring's group fails the plan, naming the ring and what it matched; nothing starts
        typo = wave_playbook(tmp_path, path, store, spool, "typo", patchwave_rings=[
            dict(PILOT_AND_BROAD[0], hosts="pilto"), PILOT_AND_BROAD[1]])
        assert typo.returncode != 0 and "ring 'pilot': hosts 'pilto' matches no host" in typo.stdout, typo.stdout[-3000:]
        assert wave_state(store, "2026-12") is None and sum(starts(fleet).values()) == 0

        # a ring's hosts may be a pattern
        halted = wave_playbook(tmp_path, path, store, spool, "first", patchwave_rings=[
            PILOT_AND_BROAD[0], dict(PILOT_AND_BROAD[1], hosts="broad:&windows:!pilot")])
        assert halted.returncode != 0, halted.stdout[-3000:]
        assert "the wave halts" in halted.stdout and "win002" in halted.stdout, halted.stdout[-3000:]
        counts = starts(fleet)
        assert counts["win001"] == 1 and counts["win002"] == 1, counts
        assert all(counts["win%03d" % n] == 0 for n in range(3, 7)), counts  # the broad ring never started
        info = wave_state(store, "2026-12")
        assert info["state"] == "halted" and "win002" in info["halt_reason"], info
        assert info["list_version"] == 1

        fleet.host(2).backend.set_faults(install_hresult=None)
        # the pilot ring now completes, but its health gate (a URL nobody answers) fails: the wave halts
        # again before the broad ring
        gated = wave_playbook(tmp_path, path, store, spool, "gated",
                              patchwave_health_checks=[{"url": "http://127.0.0.1:9/health", "timeout": 5}])
        assert gated.returncode != 0 and "health gate after ring pilot failed" in gated.stdout, gated.stdout[-3000:]
        counts = starts(fleet)
        assert counts["win002"] == 2 and all(counts["win%03d" % n] == 0 for n in range(3, 7)), counts
        info = wave_state(store, "2026-12")
        assert info["state"] == "halted" and "health gate" in info["halt_reason"], info

        resumed = wave_playbook(tmp_path, path, store, spool, "second")
        assert resumed.returncode == 0, resumed.stdout[-4000:]
        counts = starts(fleet)
        assert counts["win001"] == 1, counts  # compliant in this wave: not installed again
        assert counts["win002"] == 2 and all(counts["win%03d" % n] == 1 for n in range(3, 7)), counts
        info = wave_state(store, "2026-12")
        assert info["state"] == "finished", info
        done = outcomes(info)
        assert set(done.values()) == {"compliant"} and len(done) == 6, done

        again = wave_playbook(tmp_path, path, store, spool, "third")
        assert again.returncode == 0, again.stdout[-3000:]
        assert starts(fleet) == counts  # nothing installs in a finished wave
    events = wave_events(store, "2026-12")
    assert events[0] == "started" and "halted" in events and "resumed" in events and events[-1] == "finished", events
