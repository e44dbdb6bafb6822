"""Orders (点单): placing one-off and recurring orders, listing and reading them, and staff
confirming a visit a helper marked done. Staff and resident accounts only; helpers get 404."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from api.http.deps import SessionDep, SettingsDep, StaffActor, StaffOrResident
from api.http.openapi import declared_router
from api.http.params import Id, IdPath, PageNumber, PageSize
from api.services import orders
from api.services.closing import visits as closing
from api.services.closing.visits import Confirmation
from api.services.orders import (
    OrderDetail,
    OrderFilters,
    OrderSpec,
    OrderView,
    Page,
    SeriesSpec,
    SeriesView,
)
from api.services.types import Day

router = declared_router(tags=["orders"])

Minute = Annotated[int, Field(ge=0, le=1440, description="minutes after local midnight")]


class OrderIn(BaseModel):
    """A one-off order; a resident account may leave ``resident_id`` out (itself)."""

    model_config = ConfigDict(extra="forbid")
    resident_id: Id | None = None
    item: str = Field(min_length=1, max_length=64)
    date: Day
    window_start: Minute | None = None
    window_end: Minute | None = None
    flexible: bool = Field(default=False, description="start anywhere that ends by window_end")
    priority: int = Field(default=1, ge=1, le=5)
    note: str = Field(default="", max_length=2000)


class SeriesIn(BaseModel):
    """A recurring order, e.g. every Tuesday 9-10: weekdays 0 = Monday … 6 = Sunday."""

    model_config = ConfigDict(extra="forbid")
    resident_id: Id | None = None
    item: str = Field(min_length=1, max_length=64)
    weekdays: list[Annotated[int, Field(ge=0, le=6)]] = Field(min_length=1, max_length=7)
    start_date: Day
    end_date: Day | None = None
    window_start: Minute | None = None
    window_end: Minute | None = None
    flexible: bool = False
    priority: int = Field(default=1, ge=1, le=5)
    note: str = Field(default="", max_length=2000)


class OrderQuery(BaseModel):
    """Filters of the order list; every one optional."""

    date: Day | None = None
    date_from: Day | None = None
    date_to: Day | None = None
    status: (
        Literal[
            "open", "offered", "assigned", "done", "confirmed", "cancelled", "review", "rejected"
        ]
        | None
    ) = None
    community_id: Id | None = None
    item: str | None = Field(default=None, max_length=64)
    resident_id: Id | None = None
    overdue: bool | None = Field(
        default=None, description="true: only orders past their promised deadline; false: none"
    )

    def filters(self) -> OrderFilters:
        return OrderFilters(**self.model_dump())


@router.post("/orders", status_code=201)
def place_order(
    body: OrderIn, session: SessionDep, settings: SettingsDep, actor: StaffOrResident
) -> OrderView:
    """Place an order for a resident in your scope (staff) or for yourself (resident account)."""
    return orders.place_order(session, settings, actor, OrderSpec(**body.model_dump()))


@router.get("/orders")
def list_orders(
    query: Annotated[OrderQuery, Query()],
    session: SessionDep,
    actor: StaffOrResident,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> Page[OrderView]:
    """Orders in your scope, filtered and paginated, by date and start time."""
    return orders.list_orders(session, actor, query.filters(), page, page_size)


@router.get("/orders/{order_id}")
def get_order(order_id: IdPath, session: SessionDep, actor: StaffOrResident) -> OrderDetail:
    """One order with its live assignment: the team and each member's offer status."""
    return orders.get_order(session, actor, order_id)


@router.post("/orders/{order_id}/confirm")
def confirm_order(
    order_id: IdPath, session: SessionDep, settings: SettingsDep, actor: StaffActor
) -> Confirmation:
    """Confirm a visit a helper marked done (from the visit's day on); every member who
    accepted gets the base points."""
    return closing.confirm_done(session, settings, actor, order_id)


@router.post("/order-series", status_code=201)
def place_series(
    body: SeriesIn, session: SessionDep, settings: SettingsDep, actor: StaffOrResident
) -> SeriesView:
    """Start a recurring order; its occurrences for the coming week are created at once."""
    return orders.place_series(session, settings, actor, SeriesSpec(**body.model_dump()))


@router.get("/order-series")
def list_series(
    session: SessionDep,
    actor: StaffOrResident,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> Page[SeriesView]:
    """Recurring orders in your scope, newest first."""
    return orders.list_series(session, actor, page, page_size)


@router.post("/order-series/{series_id}/end")
def end_series(series_id: IdPath, session: SessionDep, actor: StaffOrResident) -> SeriesView:
    """Stop a recurring order; occurrences already created stay."""
    return orders.end_series(session, actor, series_id)
