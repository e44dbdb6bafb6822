"""Ids and page numbers as the API takes them, typed once: in a path, a query or a body, a value
outside the columns' range is refused with 422 naming the field before the database sees it.

The bound and the body form (``Id``) live in ``api.services.types`` (plain pydantic, for the
schemas too); this module adds the path and query forms. Page numbers share the bound:
(page - 1) * page_size then stays far inside a 64-bit OFFSET. Pages (``api/web``) parse their
forms by hand and use ``id_in_range`` and ``page_in_range`` for the same bounds.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from api.services.types import ID_MAX, Id

PAGE_MAX = ID_MAX
PAGE_SIZE_MAX = 200  # the lists' usual bound; a service may allow fewer
__all__ = ["ID_MAX", "PAGE_MAX", "Id", "IdFilter", "IdPath", "PageNumber", "PageSize"]

# A path segment: /orders/{order_id}.
IdPath = Annotated[int, Path(ge=1, le=ID_MAX)]
# An optional filter in the query: /notifications?helper_id=….
IdFilter = Annotated[int | None, Query(ge=1, le=ID_MAX)]
PageNumber = Annotated[int, Query(ge=1, le=PAGE_MAX, description="1 = the first page")]
PageSize = Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX)]


def id_in_range(value: int) -> bool:
    """Whether ``value`` can be an id in every supported database."""
    return 1 <= value <= ID_MAX


def page_in_range(value: int) -> int:
    """A page number typed into a page's query, clamped to 1 … PAGE_MAX."""
    return min(max(value, 1), PAGE_MAX)


def page_from_query(raw: str) -> int:
    """A page number from a page's query: "" or nonsense is the first page, a huge one the last
    possible (never parsed past 12 digits)."""
    raw = raw.strip()
    return page_in_range(int(raw)) if raw.isdigit() and len(raw) <= 12 else 1
