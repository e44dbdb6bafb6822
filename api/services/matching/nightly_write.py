"""The nightly run's write, batched: the plan's changes to the street's teams in a handful of
statements whatever the street's size.

Row by row (``offers.assign.create_assignment`` per order) a 2,400-order street took 16,000
statements. Here every decision is made in Python on the rows the run already holds (each
order, its live team as read under the street's lock), then written at once: one UPDATE of the
withdrawn offers (compare-and-set: an offer answered meanwhile is a changed state), one of the
emptied teams, the new assignments and offers each one multi-row INSERT ... RETURNING (in plan
order, so their ids come out as row by row), the notifications one INSERT, and the orders'
statuses one executemany. The rows written are exactly those of the row-by-row path: same
offers, notifications and order statuses, each status change bumping the order's version once
(an order moved to a new start goes to open and back to offered: two bumps).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Connection, bindparam, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from api.services.matching.plan import Stale
from api.services.matching.problem import StreetProblem
from api.services.offers.assign import (
    Visit,
    expected_order_status,
    live_offers,
    offer_notice,
    respond_by,
    team_size,
)
from api.services.offers.rematch import helper_km
from api.settings import Settings
from api.store.statuses import (
    AssignmentSource,
    AssignmentStatus,
    NotificationKind,
    OfferStatus,
)
from api.store.tables import AssignmentRow, NotificationRow, OfferRow, OrderRow
from matcher.result import Assignment

CHUNK = 500  # ids per IN list (well under any driver's limit on parameters)

_T = TypeVar("_T")


def chunks(items: Sequence[_T]) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


@dataclass
class _NewTeam:
    """An assignment to insert and its members (offer rows without their assignment's id)."""

    order: OrderRow
    start_minute: int | None
    offers: list[dict[str, Any]]


@dataclass
class _Notice:
    """A notification to queue once its offer has an id: the offer's (existing) id, or its
    place in the offers inserted."""

    order: OrderRow
    helper_id: int
    kind: str
    offer_id: int | None = None
    new_offer: int | None = None


@dataclass
class NightlyWrite:
    """Brings each order's live team in line with the plan, touching only what changes, and
    counts per order what the run did: ``kept`` (same members, same start), ``filled`` (empty
    places given to new members, nobody moved), ``moved`` (a member withdrawn or the start
    changed), ``withdrawn`` (the live team ended, nothing planned), ``new`` (a team where there
    was none). ``plan`` decides order by order; ``write`` sends the batch."""

    session: Session
    settings: Settings
    run_id: int
    problem: StreetProblem
    now: dt.datetime
    counts: Counter[str] = field(default_factory=Counter)
    withdrawn: list[OfferRow] = field(default_factory=list)
    ended: list[AssignmentRow] = field(default_factory=list)
    teams: list[_NewTeam] = field(default_factory=list)
    added: list[tuple[AssignmentRow, dict[str, Any]]] = field(default_factory=list)
    notices: list[_Notice] = field(default_factory=list)
    statuses: dict[int, tuple[OrderRow, str, int]] = field(default_factory=dict)  # status, bumps
    texts: dict[tuple[Any, ...], tuple[str, str]] = field(default_factory=dict)

    # ------------------------------------------------------------------------- deciding

    def plan(self, order: OrderRow, planned: Assignment | None, live: AssignmentRow | None) -> None:
        """What the write does to ``order`` (nothing is written yet)."""
        if live is not None:
            accepted = any(o.status == OfferStatus.ACCEPTED for o in live.offers)
            moved = planned is None or live.start_minute != planned.start
            if moved and not accepted:  # a new time, or no visit: the pending offers go
                members = self._withdraw(order, live, keep=set())
                if not members:  # a team left without live members ends (its order is open)
                    self.ended.append(live)
                self._refresh(order, live if members else None, members)
                if planned is None:
                    self.counts["orders_withdrawn"] += 1
                    return
                self.counts["orders_moved"] += 1
                self._create(order, planned)
                return
            if planned is None:  # accepted members stay; nothing new to plan
                self.counts["orders_kept"] += 1
                return
            self._update(order, live, planned)
            return
        if planned is not None:
            self.counts["orders_new"] += 1
            self._create(order, planned)

    def _create(self, order: OrderRow, planned: Assignment) -> None:
        team = self.problem.keys.helpers.rows(planned.helpers)
        members = list(dict.fromkeys(team))
        deadline = respond_by(self.settings, order, planned.start, self.now)
        offers = [self._offer(order, h, deadline) for h in members]
        for helper_id, offer in zip(members, offers, strict=True):
            self.notices.append(
                _Notice(order, helper_id, NotificationKind.OFFER, new_offer=id(offer))
            )
        self.teams.append(_NewTeam(order, planned.start, offers))
        self._settle(
            order,
            expected_order_status(
                self._status(order), AssignmentStatus.ACTIVE, 0, team_size(self.session, order)
            ),
        )
        self.counts["offers_created"] += len(team)

    def _update(self, order: OrderRow, live: AssignmentRow, planned: Assignment) -> None:
        """Same visit time: drop the pending members the plan no longer has, add new ones. The
        assignment stays live throughout (the plan gives it at least one member)."""
        team = self.problem.keys.helpers.rows(planned.helpers)
        current = {o.helper_id for o in live_offers(live)}
        members = self._withdraw(order, live, keep=set(team))
        added = [h for h in team if h not in current]
        deadline = respond_by(self.settings, order, live.start_minute, self.now)
        for helper_id in added:
            offer = self._offer(order, helper_id, deadline)
            offer["assignment_id"] = live.id
            self.added.append((live, offer))
            self.notices.append(
                _Notice(order, helper_id, NotificationKind.OFFER, new_offer=id(offer))
            )
        self.counts["offers_created"] += len(added)
        self.counts["offers_kept"] += len(current & set(team))
        withdrawn = len(current) - len(members)
        outcome = "orders_moved" if withdrawn else "orders_filled" if added else "orders_kept"
        self.counts[outcome] += 1
        self._refresh(order, live, members)

    def _offer(self, order: OrderRow, helper_id: int, deadline: dt.datetime) -> dict[str, Any]:
        return {
            "helper_id": helper_id,
            "status": OfferStatus.PENDING,
            "offered_at": self.now,
            "respond_by": deadline,
            "responded_at": None,
            "distance_km": helper_km(self.problem, helper_id, order),
        }

    def _withdraw(self, order: OrderRow, live: AssignmentRow, keep: set[int]) -> list[OfferRow]:
        """Withdraw (when written) the pending offers of helpers not in ``keep`` and tell them;
        returns the members left."""
        members = []
        for offer in live_offers(live):
            if offer.status != OfferStatus.PENDING or offer.helper_id in keep:
                members.append(offer)
                continue
            self.withdrawn.append(offer)
            self.notices.append(
                _Notice(order, offer.helper_id, NotificationKind.CHANGE, offer_id=offer.id)
            )
        self.counts["offers_withdrawn"] += len(live_offers(live)) - len(members)
        return members

    def _refresh(
        self, order: OrderRow, live: AssignmentRow | None, members: list[OfferRow]
    ) -> None:
        """``refresh_order_status`` on the team as it will be: ``live`` (None: ended) with
        ``members`` left (new pending members change nothing: they have not accepted)."""
        if live is None:
            status = expected_order_status(self._status(order), None, 0, 0)
        elif live.status == AssignmentStatus.ACTIVE:
            accepted = sum(o.status == OfferStatus.ACCEPTED for o in members)
            size = team_size(self.session, order)
            status = expected_order_status(self._status(order), live.status, accepted, size)
        else:
            status = expected_order_status(self._status(order), live.status, 0, 0)
        self._settle(order, status)

    def _status(self, order: OrderRow) -> str:
        settled = self.statuses.get(order.id)
        return settled[1] if settled else order.status

    def _settle(self, order: OrderRow, status: str) -> None:
        """The order's status once written; each change bumps its version (``_settle``)."""
        _, current, bumps = self.statuses.get(order.id, (order, order.status, 0))
        if status != current:
            self.statuses[order.id] = (order, status, bumps + 1)

    # ------------------------------------------------------------------------- writing

    def write(self) -> None:
        """Send the batch: withdrawals, ended teams, new teams and offers, notifications, the
        orders' statuses; then bring the rows the session holds in line with them."""
        self.session.flush()
        connection = self.session.connection()
        self._write_withdrawals(connection)
        if self.ended:
            ids = [a.id for a in self.ended]
            for chunk in chunks(ids):
                connection.execute(
                    update(AssignmentRow)
                    .where(AssignmentRow.id.in_(chunk))
                    .values(status=AssignmentStatus.WITHDRAWN, ended_at=self.now)
                )
            for assignment in self.ended:
                set_committed_value(assignment, "status", AssignmentStatus.WITHDRAWN)
                set_committed_value(assignment, "ended_at", self.now)
        offer_ids = self._write_teams(connection)
        self._write_notices(connection, offer_ids)
        self._write_statuses(connection)

    def _write_withdrawals(self, connection: Connection) -> None:
        ids = [o.id for o in self.withdrawn]
        for chunk in chunks(ids):
            moved = connection.execute(
                update(OfferRow)
                .where(OfferRow.id.in_(chunk), OfferRow.status == OfferStatus.PENDING)
                .values(status=OfferStatus.WITHDRAWN, responded_at=self.now)
            )
            if moved.rowcount != len(chunk):  # an offer answered meanwhile: a changed state
                raise Stale
        for offer in self.withdrawn:
            set_committed_value(offer, "status", OfferStatus.WITHDRAWN)
            set_committed_value(offer, "responded_at", self.now)

    def _write_teams(self, connection: Connection) -> dict[int, int]:
        """Insert the new assignments, then every new offer (theirs and the ones added to live
        teams, in plan order); returns each new offer's id by its row's ``id()``."""
        if self.teams:
            values = [
                {
                    "order_id": team.order.id,
                    "run_id": self.run_id,
                    "claim_id": None,
                    "source": AssignmentSource.NIGHTLY,
                    "start_minute": team.start_minute,
                }
                for team in self.teams
            ]
            # Multi-row INSERTs; the ids come back by each row's order (live teams: one each).
            statement = insert(AssignmentRow).returning(AssignmentRow.id, AssignmentRow.order_id)
            try:
                made = connection.execute(statement, values).tuples().all()
            except IntegrityError as error:  # an order of the plan was just taken meanwhile
                raise Stale from error
            by_order = {order_id: assignment_id for assignment_id, order_id in made}
            for team in self.teams:
                for offer in team.offers:
                    offer["assignment_id"] = by_order[team.order.id]
        # Offers in the order the row-by-row write made them: order by order.
        offers: dict[int, list[dict[str, Any]]] = {}
        for team in self.teams:
            offers.setdefault(team.order.id, []).extend(team.offers)
        for live, offer in self.added:
            offers.setdefault(live.order_id, []).append(offer)
        rows = [row for order in self.problem.orders.values() for row in offers.get(order.id, [])]
        if not rows:
            return {}
        offered = insert(OfferRow).returning(
            OfferRow.id, OfferRow.assignment_id, OfferRow.helper_id
        )
        ids = {(a, h): i for i, a, h in connection.execute(offered, rows).tuples()}
        for live, _offer in self.added:  # the new members show on the next read
            self.session.expire(live, ["offers"])
        # A live team holds a helper once: (assignment, helper) names each new offer.
        return {id(row): ids[row["assignment_id"], row["helper_id"]] for row in rows}

    def _write_notices(self, connection: Connection, offer_ids: dict[int, int]) -> None:
        """One notification per withdrawn and per new offer, in the row-by-row write's order
        (order by order: its withdrawals, then its new offers)."""
        rows = []
        for notice in self.notices:  # decided order by order, as the row-by-row write queued
            order, offer_id = notice.order, notice.offer_id
            if offer_id is None:
                assert notice.new_offer is not None
                offer_id = offer_ids[notice.new_offer]
            text_zh, text_en = self._texts(order, notice.kind)
            rows.append(
                {
                    "helper_id": notice.helper_id,
                    "user_id": None,
                    "kind": notice.kind,
                    "text_zh": text_zh,
                    "text_en": text_en,
                    "payload": {
                        "offer": offer_id,
                        "order": order.id,
                        "date": order.date.isoformat(),
                    },
                    "dedupe_key": None,
                }
            )
        if rows:
            connection.execute(insert(NotificationRow), rows)

    def _texts(self, order: OrderRow, kind: str) -> tuple[str, str]:
        """``offer_notice``, made once per item, day, window start and kind."""
        key = (order.street_id, order.item, order.date, order.window_start, kind)
        if key not in self.texts:
            visit = Visit(order.id, order.street_id, order.item, order.date, order.window_start)
            self.texts[key] = offer_notice(self.session, visit, kind)
        return self.texts[key]

    def _write_statuses(self, connection: Connection) -> None:
        changed = [
            {"order": order.id, "status": status, "bumps": bumps}
            for order, status, bumps in self.statuses.values()
            if bumps
        ]
        if not changed:
            return
        connection.execute(
            update(OrderRow)
            .where(OrderRow.id == bindparam("order"))
            .values(status=bindparam("status"), version=OrderRow.version + bindparam("bumps")),
            changed,
        )
        for order, status, bumps in self.statuses.values():
            set_committed_value(order, "status", status)
            set_committed_value(order, "version", order.version + bumps)
