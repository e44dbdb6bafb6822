"""A small hand-built history whose every report figure is known: street ``RPT`` with community
A (grids A1, A2, and one resident of no grid) and community B (grid B1); orders in September and
October 2026, on time and late, rated, followed up, and points with reversals (one across the
time-zone boundary). ``EXPECTED`` holds the figures by hand; the report is read at ``NOW``.

The teams are entered as staff overrides (``override_reason``): the history is about results,
not about who could reach whom, so the matcher's rules are not asked of it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.services.accounts.auth import add_user
from api.services.circles import totals as circle_totals
from api.services.hours import totals as honour_totals
from api.services.hours.ledger import visit_minutes
from api.services.ledger.seed import load_catalogue_rows
from api.services.reports.figures import Figures
from api.store.tables import (
    AssignmentRow,
    Community,
    FeedbackRow,
    FollowUpRow,
    Grid,
    HelperRow,
    HoursEntry,
    ItemRow,
    OfferRow,
    OrderRow,
    PointsEntry,
    ResidentRow,
    Street,
    StreetItemRow,
)

NOW = dt.datetime(2026, 11, 15)  # UTC
PASSWORD = "report-pass-1"
LONG_VISIT = 90  # the street's own duration of the first item


@dataclass(frozen=True)
class History:
    street_id: int
    communities: dict[str, int]  # code -> id
    grids: dict[str, int]
    short_visit: int  # the catalogue's duration of the second item


def utc(month: int, day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour)


def build_history(session: Session) -> History:
    """Write the history and the accounts ``rpt_staff``, ``rpt_staff_a``, ``rpt_planner``,
    ``rpt_helper`` (all with ``PASSWORD``); the caller commits."""
    load_catalogue_rows(session)
    items = list(
        session.scalars(
            select(ItemRow)
            .where(ItemRow.team_size == 1, ItemRow.points > 0)
            .order_by(ItemRow.code)
            .limit(2)
        )
    )
    long_item, short_item = items[0].code, items[1].code
    street = Street(code="RPT", name="报表街道")
    session.add(street)
    session.flush()
    session.add(StreetItemRow(street_id=street.id, item=long_item, duration_min=LONG_VISIT))
    a = Community(street_id=street.id, code="A", name="甲社区")
    b = Community(street_id=street.id, code="B", name="乙社区")
    session.add_all([a, b])
    session.flush()
    a1, a2 = (
        Grid(community_id=a.id, code="A1", name="甲一"),
        Grid(community_id=a.id, code="A2", name="甲二"),
    )
    b1 = Grid(community_id=b.id, code="B1", name="乙一")
    session.add_all([a1, a2, b1])
    session.flush()

    def resident(code: str, community: Community, grid: Grid | None) -> ResidentRow:
        row = ResidentRow(
            code=code,
            street_id=street.id,
            community_id=community.id,
            grid_id=grid.id if grid else None,
            name=code,
            category="elderly",
            lat=40.8,
            lon=111.7,
        )
        session.add(row)
        return row

    def helper(code: str, community: Community, grid: Grid) -> HelperRow:
        row = HelperRow(
            code=code,
            street_id=street.id,
            community_id=community.id,
            grid_id=grid.id,
            name=code,
            kind="volunteer",
            lat=40.8,
            lon=111.7,
        )
        session.add(row)
        return row

    r_a1, r_a2, r_x, r_b = (
        resident("RA1", a, a1),
        resident("RA2", a, a2),
        resident("RX", a, None),
        resident("RB", b, b1),
    )
    h_a, h_b = helper("HA", a, a1), helper("HB", b, b1)
    session.flush()

    def order(
        res: ResidentRow,
        item: str,
        day: dt.date,
        status: str,
        due: dt.datetime | None,
        first: dt.date | None = None,
    ) -> OrderRow:
        row = OrderRow(
            street_id=street.id,
            resident_id=res.id,
            item=item,
            date=day,
            status=status,
            due_at=due,
            first_date=first or day,
        )
        session.add(row)
        session.flush()
        return row

    def team(
        row: OrderRow,
        status: str,
        helpers: list[HelperRow],
        done: dt.datetime | None = None,
        confirmed: dt.datetime | None = None,
    ) -> None:
        assignment = AssignmentRow(
            order_id=row.id,
            source="manual",
            status=status,
            done_at=done,
            confirmed_at=confirmed,
            override_reason="hand-built history",
        )
        session.add(assignment)
        session.flush()
        for h in helpers:
            session.add(
                OfferRow(
                    assignment_id=assignment.id,
                    helper_id=h.id,
                    status="accepted",
                    respond_by=utc(9, 1),
                    responded_at=utc(9, 1),
                )
            )
            if status == "confirmed":  # the hours ledger's entry, as confirming writes it
                minutes, source = visit_minutes(session, row, assignment.id, h.id)
                session.add(HoursEntry(helper_id=h.id, order_id=row.id, served_on=row.date,
                                       minutes=minutes, kind="visit", source=source))  # fmt: skip

    def rated(row: OrderRow, score: int) -> FeedbackRow:
        feedback = FeedbackRow(order_id=row.id, score=score)
        session.add(feedback)
        session.flush()
        return feedback

    def points(
        h: HelperRow,
        amount: int,
        kind: str,
        at: dt.datetime,
        row: OrderRow | None = None,
        reverses: PointsEntry | None = None,
    ) -> PointsEntry:
        entry = PointsEntry(
            helper_id=h.id,
            amount=amount,
            kind=kind,
            order_id=row.id if row else None,
            reverses_id=reverses.id if reverses else None,
            reason="history",
            created_at=at,
        )
        session.add(entry)
        session.flush()
        return entry

    day = dt.date
    # October. A1: on time (team of two, rated 5), late (rated 2, followed up and done).
    o1 = order(r_a1, long_item, day(2026, 10, 5), "confirmed", utc(10, 6))
    team(o1, "confirmed", [h_a, h_b], done=utc(10, 5, 3), confirmed=utc(10, 5, 8))
    rated(o1, 5)
    o2 = order(r_a1, short_item, day(2026, 10, 10), "done", utc(10, 11))
    team(o2, "done", [h_a], done=utc(10, 12, 2))
    low = rated(o2, 2)
    session.add(
        FollowUpRow(
            order_id=o2.id,
            feedback_id=low.id,
            due_date=day(2026, 10, 20),
            status="done",
            done_at=utc(10, 19),
        )
    )
    # A2: still open past its deadline. No grid: no deadline, confirmed, rated 4.
    order(r_a2, short_item, day(2026, 10, 20), "open", utc(10, 21))
    o6 = order(r_x, short_item, day(2026, 10, 8), "confirmed", None)
    team(o6, "confirmed", [h_b], done=utc(10, 8, 4), confirmed=utc(10, 9))
    rated(o6, 4)
    session.add(FollowUpRow(order_id=o6.id, due_date=day(2026, 11, 3)))  # due in November
    # B1: asked for 31 October, rolled over to 2 November, taken, its deadline still ahead;
    # and a cancelled order (in no figure).
    o4 = order(r_b, long_item, day(2026, 11, 2), "assigned", utc(11, 20), first=day(2026, 10, 31))
    team(o4, "active", [h_a])
    order(r_b, short_item, day(2026, 10, 15), "cancelled", utc(10, 16))
    # September. B1: confirmed on time, rated 3; its follow-up is due in October, not done.
    o7 = order(r_b, short_item, day(2026, 9, 28), "confirmed", utc(9, 29))
    team(o7, "confirmed", [h_b], done=utc(9, 28, 2), confirmed=utc(9, 28, 9))
    session.add(FollowUpRow(order_id=o7.id, feedback_id=rated(o7, 3).id, due_date=day(2026, 10, 2)))
    # Points: base per confirmed member; a bonus reversed in its month; September's base
    # reversed in October; a bonus at 01:00 on 1 October Beijing time (17:00 UTC, 30 September).
    points(h_a, 10, "base", utc(10, 5, 10), o1)
    points(h_b, 10, "base", utc(10, 5, 10), o1)
    points(h_b, 10, "base", utc(10, 9, 2), o6)
    bonus = points(h_a, 20, "bonus", utc(10, 12))
    points(h_a, -20, "reversal", utc(10, 20), reverses=bonus)
    september = points(h_b, 10, "base", utc(9, 28, 10), o7)
    points(h_b, -10, "reversal", utc(10, 3), o7, reverses=september)
    points(h_b, 5, "bonus", utc(9, 30, 17))

    add_user(session, "rpt_staff", PASSWORD, "staff", street_id=street.id)
    add_user(session, "rpt_staff_a", PASSWORD, "staff", street_id=street.id, community_id=a.id)
    add_user(session, "rpt_planner", PASSWORD, "planner", street_id=street.id)
    add_user(session, "rpt_helper", PASSWORD, "helper", helper_id=h_a.id)
    session.flush()
    circle_totals.rebuild(
        session, street.id
    )  # the circles' running totals of the history written here
    honour_totals.rebuild(session)  # the ledgers were written past their writers: the roll's totals
    return History(
        street.id,
        {"A": a.id, "B": b.id},
        {"A1": a1.id, "A2": a2.id, "B1": b1.id},
        items[1].duration_min,
    )


def expected(history: History) -> dict[str, dict[tuple[str, str], Figures]]:
    """The figures by hand, per period and row (level, code; "" for A's people of no grid)."""
    short = history.short_visit
    a1 = Figures(
        orders=2,
        matched=2,
        on_time=1,
        overdue=1,
        rated=2,
        satisfied=1,
        follow_ups_due=1,
        follow_ups_done=1,
        volunteer_minutes=LONG_VISIT,
        points=10,
    )
    a2 = Figures(orders=1, overdue=1)
    no_grid = Figures(orders=1, matched=1, on_time=1, rated=1, satisfied=1)
    b1 = Figures(
        orders=1, matched=1, follow_ups_due=1, volunteer_minutes=LONG_VISIT + short, points=15
    )
    community_a = a1 + a2 + no_grid
    october = {
        ("street", "RPT"): community_a + b1,
        ("community", "A"): community_a,
        ("grid", "A1"): a1,
        ("grid", "A2"): a2,
        ("grid", ""): no_grid,
        ("community", "B"): b1,
        ("grid", "B1"): b1,
    }
    b1_september = Figures(
        orders=1, matched=1, on_time=1, rated=1, volunteer_minutes=short, points=10
    )
    september = {
        ("street", "RPT"): b1_september,
        ("community", "A"): Figures(),
        ("grid", "A1"): Figures(),
        ("grid", "A2"): Figures(),
        ("community", "B"): b1_september,
        ("grid", "B1"): b1_september,
    }
    november_follow_up = Figures(follow_ups_due=1)
    q4 = dict(october)
    for key in (("street", "RPT"), ("community", "A"), ("grid", "")):
        q4[key] = october[key] + november_follow_up
    return {"2026-10": october, "2026-09": september, "2026-Q3": september, "2026-Q4": q4}
