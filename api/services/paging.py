"""One page of a list: what list services return, and how they cut it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from api.i18n import gettext as _
from api.services.errors import BadInput

T = TypeVar("T")
# A select of any columns (SQLAlchemy 2.1 types each column of a select).
AnySelect = Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list and the total number of matching rows."""

    items: list[T]
    total: int
    page: int
    page_size: int


def check_page(page: int, page_size: int, most: int) -> None:
    """``BadInput`` naming the field unless page >= 1 and 1 <= page_size <= ``most``."""
    if page < 1:
        raise BadInput(_("page must be 1 or more"), "page")
    if not 1 <= page_size <= most:
        raise BadInput(_("page_size must be 1..%(most)s", most=most), "page_size")


def fetch_page(
    session: Session, stmt: Select[Any], page: int, page_size: int, most: int = 500
) -> tuple[list[Any], int]:
    """The rows of one page of ``stmt`` and the total number of rows."""
    check_page(page, page_size, most)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = list(session.scalars(stmt.limit(page_size).offset((page - 1) * page_size)).unique())
    return rows, total or 0
