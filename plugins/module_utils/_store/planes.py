# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""What each successful scan returned, as bit planes over stable update numbers.

Every update id a scan has returned gets an ordinal (table ``update_ordinals``): numbered by
ingest, under its lock, in the order ids first arrive, and never reused. For each successful scan
the table ``scan_bits`` keeps four planes, bit n standing for the update with ordinal n:
``returned``, ``installed``, ``hidden`` and ``reboot`` (installed, restart outstanding). A plane is
stored as the little-endian bytes of a Python integer.

The records in ``scan_updates`` stay the source of truth and serve every view that lists updates;
the planes let a per-set summary count a host's states with a few AND and popcount operations
instead of joining millions of records to the set (docs/performance.md). Ingest writes both in the
same transaction; schema migration 4 computes the planes of scans stored before it.
"""

from __future__ import annotations

from itertools import compress

PLANES = ("returned", "installed", "hidden", "reboot")
_CHUNK = 2000  # scans per step when migration 4 computes planes from records
_FLUSH_EVERY = 1000  # planes queued by ingest before they are written (memory stays flat)
# Adding a power of two to an integer costs its length: up to this many ordinals, summing a scan's
# few hundred powers is faster than filling a byte array (measured: 14 µs against 36 µs at 300
# ordinals, equal near 3,000, 120 µs against 41 µs at 10,000).
SUM_UP_TO = 4096


def to_blob(number):
    return number.to_bytes((number.bit_length() + 7) // 8, "little")


def from_blob(blob):
    return int.from_bytes(blob, "little") if blob else 0


def bits_of(ordinals):
    """The integer with exactly the bits ``ordinals`` (any iterable of ordinals) set; linear in
    their number and the highest one."""
    ordinals = list(ordinals)
    if not ordinals:
        return 0
    buffer = bytearray((max(ordinals) >> 3) + 1)
    for ordinal in ordinals:
        buffer[ordinal >> 3] |= 1 << (ordinal & 7)
    return int.from_bytes(buffer, "little")


def _count_ones(number):
    return bin(number).count("1")


popcount = getattr(int, "bit_count", _count_ones)  # int.bit_count: Python 3.10 and later


class Ordinals:
    """The store's update ordinals, read inside a write transaction that holds the ingest lock.

    ``planes`` numbers ids it has not seen; ``add`` queues a scan's planes and writes them (with
    the new numbers) every _FLUSH_EVERY scans; ``flush`` writes the rest before the transaction
    commits.
    """

    def __init__(self, store, cursor):
        self.store = store
        self.cursor = cursor
        self.number = None  # read when the first scan needs it: a run may store only failures
        self.power = {}  # update id -> 1 << its ordinal, kept only up to SUM_UP_TO ordinals
        self.next_ordinal = 0
        self.new = []
        self.rows = []

    def _load(self):
        self.number = dict(self.cursor.execute("SELECT update_id, ordinal FROM update_ordinals").fetchall())
        self.next_ordinal = max(self.number.values(), default=-1) + 1
        # The powers' total size grows with the square of the ordinals: only kept while summing wins.
        self.power = ({uid: 1 << ordinal for uid, ordinal in self.number.items()}
                      if self.next_ordinal <= SUM_UP_TO else None)

    def _number(self, update_ids):
        for uid in sorted(set(update_ids).difference(self.number)):
            ordinal = self.next_ordinal
            self.next_ordinal += 1
            self.number[uid] = ordinal
            self.new.append((ordinal, uid))
            if self.power is not None:
                self.power[uid] = 1 << ordinal
        if self.next_ordinal > SUM_UP_TO:
            self.power = None

    def planes(self, update_ids, installed, hidden, reboot):
        """The four planes of one scan, as integers: ``update_ids`` (distinct) and three sequences
        of truth values in the same order (None counts as false)."""
        if self.number is None:
            self._load()
        try:
            ordinals = list(map(self.number.__getitem__, update_ids))
        except KeyError:
            self._number(update_ids)
            ordinals = list(map(self.number.__getitem__, update_ids))
        if self.power is None:
            return (bits_of(ordinals), bits_of(compress(ordinals, installed)), bits_of(compress(ordinals, hidden)),
                    bits_of(compress(ordinals, reboot)))
        powers = list(map(self.power.__getitem__, update_ids))
        # Distinct powers of two: their sum is their union.
        return sum(powers), sum(compress(powers, installed)), sum(compress(powers, hidden)), sum(compress(powers, reboot))

    def add(self, scan_pk, planes):
        self.rows.append((scan_pk,) + tuple(to_blob(plane) for plane in planes))
        if len(self.rows) >= _FLUSH_EVERY:
            self.flush()

    def flush(self):
        if self.new:
            self.store.copy_rows(self.cursor, "update_ordinals", ("ordinal", "update_id"), self.new)
            self.new = []
        if self.rows:
            self.store.copy_rows(self.cursor, "scan_bits", ("scan_pk",) + PLANES, self.rows)
            self.rows = []


def backfill(store, cursor):
    """Schema migration 4: number every update id already in ``scan_updates`` and store the planes
    of every successful scan, a chunk of scans at a time (the records are never all in memory).

    It runs once, inside the migration's transaction, and reads every record once: on a store of
    millions of records that is the time of one pass over them (other writers wait meanwhile)."""
    ids = [row[0] for row in cursor.execute("SELECT DISTINCT update_id FROM scan_updates ORDER BY update_id")]
    store.copy_rows(cursor, "update_ordinals", ("ordinal", "update_id"), enumerate(ids))
    number = {uid: ordinal for ordinal, uid in enumerate(ids)}
    scans = [row[0] for row in cursor.execute("SELECT scan_pk FROM scans WHERE succeeded = 1 ORDER BY scan_pk")]
    for start in range(0, len(scans), _CHUNK):
        chunk = scans[start:start + _CHUNK]
        planes = {scan_pk: ([], [], [], []) for scan_pk in chunk}
        records = cursor.execute("SELECT scan_pk, update_id, installed, hidden, reboot_required FROM scan_updates "
                                 "WHERE scan_pk BETWEEN ? AND ?", (chunk[0], chunk[-1])).fetchall()
        for scan_pk, uid, installed, hidden, reboot in records:
            entry = planes.get(scan_pk)
            if entry is None:
                continue
            ordinal = number[uid]
            entry[0].append(ordinal)
            if installed:
                entry[1].append(ordinal)
            if hidden:
                entry[2].append(ordinal)
            if reboot:
                entry[3].append(ordinal)
        store.copy_rows(cursor, "scan_bits", ("scan_pk",) + PLANES,
                        ((scan_pk,) + tuple(to_blob(bits_of(p)) for p in entry) for scan_pk, entry in planes.items()))
