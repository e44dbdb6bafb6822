"""What every API schema shares: ids within the columns' range, timestamps in UTC with ``Z``,
and the error body.

Plain pydantic, no FastAPI: services may use ``UtcDateTime`` in the views they return.
``api.params`` builds the path and query forms of ``Id`` from the same bound."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema

# Ids are INTEGER columns on PostgreSQL (32 bits; SQLite's are 64): the smaller bound holds on both.
ID_MAX = 2**31 - 1
# An id in a body or a query model: 1 … ID_MAX.
Id = Annotated[int, Field(ge=1, le=ID_MAX)]


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


class ErrorOut(BaseModel):
    """Every refusal: a message for people (Chinese / English), a stable code for programs,
    and the input field at fault when there is one."""

    detail: str
    code: str = Field(description="e.g. not_found, forbidden, conflict, bad_input, invalid")
    field: str | None = None


class FieldProblem(BaseModel):
    field: str
    message: str


class InvalidOut(ErrorOut):
    """A request the API could not read (422): ``field`` names the first bad input, ``errors``
    lists them all. Refusals by the service (also 422) come without ``errors``."""

    errors: list[FieldProblem] = []
