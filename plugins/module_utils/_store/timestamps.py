# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Times as the store and the state messages write them: UTC, whole seconds, ``2026-12-03T10:28:05Z``.

The one definition of that text form and the one parser for it. Text sorts in time order, which
the SQL relies on (``ORDER BY finished``, ``finished < ?``).
"""

from __future__ import annotations

import datetime

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_now():
    """The current time, aware, in UTC."""
    return datetime.datetime.now(datetime.timezone.utc)


def format_time(moment):
    """``moment`` in the store's form; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc)
    return moment.strftime(TIME_FORMAT)


def now_text():
    """The current time in the store's form."""
    return format_time(utc_now())


def parse_time(text):
    """An ISO 8601 time (``...Z``, an offset, or none meaning UTC) as an aware UTC datetime.

    Raises ValueError naming the text when it is not such a time.
    """
    try:
        value = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except (AttributeError, ValueError):
        raise ValueError("%r is not an ISO 8601 time" % (text,)) from None
    if value.tzinfo is None:
        return value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc)
