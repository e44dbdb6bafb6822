"""The report of a period for the caller's area: a row for the street (street-wide callers), one
for each community in the area and one for each of its grids (and, when some people belong to no
grid, a row for them), each with the figures of ``figures``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.i18n import gettext as _
from api.services.actor import Actor
from api.services.errors import BadInput, NotFound
from api.services.reports.figures import Figures, Place, Scope, figures_by_place, total
from api.services.reports.periods import Period
from api.settings import Settings
from api.store.statuses import Role
from api.store.tables import Community, Grid, Street, utcnow

Level = Literal["street", "community", "grid"]


@dataclass(frozen=True)
class ReportRow:
    """A row: the street, a community, or a grid of it (``id`` None: the community's people
    of no grid)."""

    level: Level
    id: int | None
    code: str
    name: str
    community_id: int | None
    figures: Figures


@dataclass(frozen=True)
class Report:
    street_code: str
    street_name: str
    period: Period
    as_of: dt.datetime  # UTC: what was overdue is counted at this time
    community_id: int | None  # the area: None for the whole street
    rows: list[ReportRow]

    @property
    def top(self) -> ReportRow:
        """The area's own row (the street's, or the community's)."""
        return self.rows[0]


def report_for(
    session: Session,
    settings: Settings,
    actor: Actor,
    period: Period,
    now: dt.datetime | None = None,
) -> Report:
    """The report of ``period`` for the caller: street staff and planners of a street get the
    street, its communities and grids; community staff their community and its grids."""
    if actor.role not in (Role.STAFF, Role.PLANNER):
        raise NotFound(_("not found"))
    if actor.street_id is None:
        raise BadInput(_("this account belongs to no street"), "street_id")
    scope = Scope(actor.street_id, actor.community_id)
    return street_report(session, settings, scope, period, now)


def report_by_code(
    session: Session, settings: Settings, code: str, period: Period, now: dt.datetime | None = None
) -> Report:
    """The whole street's report, by the street's code (the command line)."""
    street_id = session.scalar(select(Street.id).where(Street.code == code))
    if street_id is None:
        raise NotFound(_("unknown street code %(code)s", code=code), "street")
    return street_report(session, settings, Scope(street_id), period, now)


def street_report(
    session: Session,
    settings: Settings,
    scope: Scope,
    period: Period,
    now: dt.datetime | None = None,
) -> Report:
    """The report of ``scope`` for ``period``, overdue orders counted as of ``now``."""
    now = now or utcnow()
    street = session.get(Street, scope.street_id)
    if street is None:
        raise NotFound(_("not found"))
    counted = figures_by_place(session, scope, period.start, period.end, now)
    rows = _community_rows(session, scope, counted)
    if scope.community_id is None:
        street_total = total(r.figures for r in rows if r.level == "community")
        rows.insert(0, ReportRow("street", street.id, street.code, street.name, None, street_total))
    return Report(street.code, street.name, period, now, scope.community_id, rows)


def _community_rows(
    session: Session, scope: Scope, counted: dict[Place, Figures]
) -> list[ReportRow]:
    """Each community of the scope followed by its grids, in code order."""
    communities = select(Community).where(Community.street_id == scope.street_id)
    if scope.community_id is not None:
        communities = communities.where(Community.id == scope.community_id)
    grids: dict[int, list[Grid]] = {}
    grid_rows = select(Grid).join(Community).where(Community.street_id == scope.street_id)
    for grid in session.scalars(grid_rows.order_by(Grid.code, Grid.id)):
        grids.setdefault(grid.community_id, []).append(grid)
    rows: list[ReportRow] = []
    for community in session.scalars(communities.order_by(Community.code, Community.id)):
        own = [
            ReportRow(
                "grid",
                g.id,
                g.code,
                g.name,
                community.id,
                counted.get((community.id, g.id), Figures()),
            )
            for g in grids.get(community.id, [])
        ]
        no_grid = counted.get((community.id, None))
        if no_grid is not None:
            own.append(ReportRow("grid", None, "", "", community.id, no_grid))
        # A place whose grid is not the community's (a moved grid) still counts in its community.
        known = {g.id for g in grids.get(community.id, [])} | {None}
        stray = [f for (c, g), f in counted.items() if c == community.id and g not in known]
        figures = total([*(r.figures for r in own), *stray])
        rows.append(
            ReportRow("community", community.id, community.code, community.name, None, figures)
        )
        rows.extend(own)
    return rows
