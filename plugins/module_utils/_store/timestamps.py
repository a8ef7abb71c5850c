# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Times as the store and the state messages write them: UTC, whole seconds, ``2026-12-03T10:28:05Z``.

The one definition of that text form, and the one parser of ISO 8601 times: the store's own and
the dates catalog sources write (``_catalog.model.normalize_date`` turns those into the store's
form). Text in the store's form sorts in time order, which the SQL relies on (``ORDER BY finished``,
``finished < ?``, ``release_date >= ?``).
"""

from __future__ import annotations

import datetime
import re

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_now():
    """The current time, aware, in UTC."""
    return datetime.datetime.now(datetime.timezone.utc)


def format_time(moment):
    """``moment`` in the store's form; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc)
    text = moment.strftime(TIME_FORMAT)
    if moment.year < 1000:  # %Y does not pad these on glibc; .NET writes DateTime.MinValue as 0001-01-01
        text = "%04d%s" % (moment.year, text[text.index("-"):])
    return text


def now_text():
    """The current time in the store's form."""
    return format_time(utc_now())


# An ISO 8601 date, or date and time: ``T`` (or a space) between them, seconds optional, a
# fraction of a second of any length (.NET writes seven digits), and ``Z``, an offset or no zone.
_ISO_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})"
                       r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
                       r"(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?\Z")


def parse_time(text, what="time"):
    """An ISO 8601 time (``...Z``, an offset, or none meaning UTC) as an aware UTC datetime.

    A date alone is midnight. Fractions of a second beyond microseconds are cut off, never rounded
    (rounding could carry into the next second, minute or day). Raises ValueError naming the text,
    and ``what`` it is, when it is not such a time (``... is not an ISO 8601 time``) or names no
    real moment (``... is not a valid time``: a 31st of June, an offset of 24 hours).
    """
    match = _ISO_TIME.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ValueError("%r is not an ISO 8601 %s" % (text, what))
    year, month, day, hour, minute, second, fraction, _z, sign, offset_hours, offset_minutes = match.groups()
    try:
        zone = datetime.timezone.utc
        if sign:
            if int(offset_minutes or 0) >= 60:
                raise ValueError("offset minutes out of range")
            offset = datetime.timedelta(hours=int(offset_hours), minutes=int(offset_minutes or 0))
            zone = datetime.timezone(-offset if sign == "-" else offset)  # refuses 24 hours or more
        moment = datetime.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
                                   int((fraction or "0")[:6].ljust(6, "0")), tzinfo=zone)
        return moment.astimezone(datetime.timezone.utc) if sign else moment
    except (ValueError, OverflowError):  # no such day, hour or offset; or out of datetime's range in UTC
        raise ValueError("%r is not a valid %s" % (text, what)) from None
