"""Data types the services' inputs and views share: ids within the columns' range, days as
"YYYY-MM-DD", moments in UTC with ``Z``. Plain pydantic (no FastAPI); ``api.http.params`` builds
the path and query forms of ``Id`` from the same bound."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import BeforeValidator, Field, PlainSerializer, WithJsonSchema

from api.i18n import gettext as _

# Ids are INTEGER columns on PostgreSQL (32 bits; SQLite's are 64): the smaller bound holds on both.
ID_MAX = 2**31 - 1
# An id in a body or a query model: 1 … ID_MAX.
Id = Annotated[int, Field(ge=1, le=ID_MAX)]


ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def iso_date(value: object) -> object:
    """A day as the schema says it (``format: date``, "2026-11-23"): pydantic alone would also
    read a number, or a string of digits, as seconds since 1970."""
    readable = isinstance(value, str) and ISO_DAY.fullmatch(value.strip())
    if isinstance(value, int | float | str) and not readable:
        raise ValueError(_("a date is YYYY-MM-DD"))
    return value


# A day in a request (body, query or query model): "2026-11-23" only.
Day = Annotated[dt.date, BeforeValidator(iso_date)]


def utc_text(value: dt.datetime) -> str:
    """A stored time as RFC 3339 text in UTC: the database keeps naive UTC, so a naive value is
    UTC; an aware one is converted."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat() + "Z"


# A moment in an API answer: "2026-11-23T08:30:00Z".
UtcDateTime = Annotated[
    dt.datetime,
    PlainSerializer(utc_text, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
