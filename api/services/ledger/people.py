"""The ledger (台账): helpers and residents, listed, read, added, changed and deactivated by staff
within their scope; planners list them without personal data; a helper keeps their own profile.

Every change writes an audit entry, and so does every staff read of residents' personal data (a
list page as one entry naming the residents shown, a detail as ``resident.read``). People are
never deleted: deactivation keeps their history. A deactivated helper's live offers from today on
are withdrawn and each order goes straight back to matching, as after a decline (a replacement
is offered at once when one fits; otherwise the order waits, ``open`` if nobody is left). A
deactivated resident's orders from today on are cancelled, their live assignments withdrawn and
their recurring orders ended.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, cast

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.i18n import gettext as _
from api.services.accounts.audit import audit
from api.services.accounts.auth import revoke_tokens
from api.services.actor import Actor
from api.services.errors import BadInput, Conflict, Forbidden, NotFound
from api.services.ledger.models import (
    CategoryCounts,
    HelperIn,
    HelperOut,
    HelperPage,
    HelperPatch,
    HelperPublic,
    HelperSelfPatch,
    ResidentIn,
    ResidentOut,
    ResidentPage,
    ResidentPatch,
    ResidentPublic,
)
from api.services.ledger.views import (
    LedgerFilters,
    PersonTable,
    fetch_page,
    filtered,
    helper_view,
    resident_view,
    scoped_row,
    sees_personal_data,
    views,
)
from api.services.matching.problem import team_violations
from api.services.offers.assign import (
    live_assignment,
    live_offers,
    local_today,
    refresh_order_status,
    team_size,
    withdraw_assignment,
    withdraw_offer,
)
from api.services.offers.rematch import rematch, rematch_or_release
from api.settings import Settings
from api.store.db import begin_write
from api.store.statuses import CANCELLABLE_ORDER_STATUSES, OfferStatus
from api.store.tables import (
    LIVE_OFFER_STATUSES,
    AssignmentRow,
    Building,
    Community,
    Grid,
    HelperRow,
    OfferRow,
    OrderRow,
    OrderSeries,
    ResidentRow,
    SkillRow,
    utcnow,
)
from matcher.model import ResidentCategory
from matcher.verify import COMPLETE_TEAM_RULES

log = logging.getLogger("qunbang.ledger")


# ----------------------------------------------------------------------------- reads


def list_helpers(
    session: Session, actor: Actor, filters: LedgerFilters, page: int = 1, page_size: int = 50
) -> HelperPage:
    """The caller's helpers, filtered and paginated (full view for staff, public for planners)."""
    rows, total = fetch_page(session, filtered(HelperRow, actor, filters), page, page_size)
    items = cast(list[HelperOut | HelperPublic], views(session, actor, rows))
    return HelperPage(items=items, total=total, page=page, page_size=page_size)


def list_residents(
    session: Session, actor: Actor, filters: LedgerFilters, page: int = 1, page_size: int = 50
) -> ResidentPage:
    """The caller's residents, filtered and paginated. A staff page shows personal data, so the
    residents on it are written to the audit log. Planners may not filter by category (that
    would list who is in it): they get counts per category (``category_counts``)."""
    if filters.kind is not None and not sees_personal_data(actor):
        raise Forbidden(
            _("planners see counts per category, not who is in it"),
            "category",
        )
    rows, total = fetch_page(session, filtered(ResidentRow, actor, filters), page, page_size)
    items = cast(list[ResidentOut | ResidentPublic], views(session, actor, rows))
    if rows and sees_personal_data(actor):
        begin_write(session)
        shown = {"ids": [row.id for row in rows]}
        audit(session, actor.user_id, "resident.list", "resident", "", shown)
        session.commit()
    return ResidentPage(items=items, total=total, page=page, page_size=page_size)


def category_counts(session: Session, actor: Actor, filters: LedgerFilters) -> CategoryCounts:
    """How many residents of each category the caller's scope (and the place and active
    filters) holds: what planners see instead of each resident's category."""
    place = LedgerFilters(filters.community_id, filters.grid_id, None, None, filters.active)
    ids = filtered(ResidentRow, actor, place).with_only_columns(ResidentRow.id).order_by(None)
    found = session.execute(
        select(ResidentRow.category, func.count())
        .where(ResidentRow.id.in_(ids))
        .group_by(ResidentRow.category)
    ).all()
    counts = {ResidentCategory(category): int(count) for category, count in found}
    return CategoryCounts(counts=counts, total=sum(counts.values()))


def get_helper(session: Session, actor: Actor, helper_id: int) -> HelperOut:
    """One helper with every field (staff of their community or street)."""
    return helper_view(session, scoped_row(session, actor, HelperRow, helper_id))


def get_resident(session: Session, actor: Actor, resident_id: int) -> ResidentOut:
    """One resident with every field; the read is written to the audit log."""
    begin_write(session)
    row = scoped_row(session, actor, ResidentRow, resident_id)
    audit(session, actor.user_id, "resident.read", "resident", row.id)
    session.commit()
    return resident_view(session, row)


# ----------------------------------------------------------------------------- checks


def check_place(
    session: Session,
    actor: Actor,
    community_id: int,
    grid_id: int | None,
    building_id: int | None = None,
) -> int:
    """The street of ``community_id`` if the caller may manage it, ``grid_id`` lies in it and
    ``building_id`` in that grid (a building needs its grid)."""
    community = session.get(Community, community_id)
    if community is None or not actor.may_see_community(community.street_id, community.id):
        raise BadInput(
            _(
                "community %(community_id)s is unknown or outside your scope",
                community_id=community_id,
            ),
            "community_id",
        )
    if grid_id is not None:
        grid = session.get(Grid, grid_id)
        if grid is None or grid.community_id != community.id:
            raise BadInput(
                _(
                    "grid %(grid_id)s is not in community %(community_id)s",
                    grid_id=grid_id,
                    community_id=community_id,
                ),
                "grid_id",
            )
    if building_id is not None:
        building = session.get(Building, building_id)
        if grid_id is None or building is None or building.grid_id != grid_id:
            raise BadInput(
                _(
                    "building %(building_id)s is not in grid %(grid_id)s",
                    building_id=building_id,
                    grid_id=grid_id,
                ),
                "building_id",
            )
    return community.street_id


def check_skills(session: Session, skills: list[str]) -> list[str]:
    """The skills, sorted and without repeats, if the catalogue knows every one."""
    wanted = sorted(set(skills))
    known = set(session.scalars(select(SkillRow.code).where(SkillRow.code.in_(wanted))))
    unknown = [code for code in wanted if code not in known]
    if unknown:
        raise BadInput(_("unknown skills: %(value)s", value=", ".join(unknown)), "skills")
    return wanted


def check_codes(
    session: Session, table: PersonTable, codes: list[str], street_id: int, field: str
) -> list[str]:
    """Ledger codes (a resident's circle, a helper's blocked list) that exist in the street."""
    wanted = list(dict.fromkeys(codes))
    known = set(
        session.scalars(
            select(table.code).where(table.code.in_(wanted), table.street_id == street_id)
        )
    )
    unknown = [code for code in wanted if code not in known]
    if unknown:
        raise BadInput(_("unknown ledger codes: %(value)s", value=", ".join(unknown)), field)
    return wanted


def _checked(
    session: Session, actor: Actor, table: PersonTable, row: Any, values: dict[str, Any]
) -> dict[str, Any]:
    """``values`` (JSON-ready) after checking their references; sets the street of a move."""
    if "community_id" in values or "grid_id" in values or "building_id" in values:
        community_id: int = values.get("community_id", row.community_id if row else 0)
        if "community_id" in values and "grid_id" not in values and row is not None:
            values["grid_id"] = None if community_id != row.community_id else row.grid_id
        grid_id = values.get("grid_id", row.grid_id if row else None)
        if "building_id" not in values and row is not None:  # kept while the grid is
            values["building_id"] = row.building_id if grid_id == row.grid_id else None
        values["street_id"] = check_place(
            session, actor, community_id, grid_id, values.get("building_id")
        )
    street_id: int = values.get("street_id", row.street_id if row else 0)
    if "skills" in values:
        values["skills"] = check_skills(session, values["skills"])
    if "blocked_residents" in values:
        values["blocked_residents"] = check_codes(
            session, ResidentRow, values["blocked_residents"], street_id, "blocked_residents"
        )
    if "circle" in values:
        values["circle"] = check_codes(session, HelperRow, values["circle"], street_id, "circle")
    return values


# ----------------------------------------------------------------------------- changes


def create_helper(session: Session, actor: Actor, spec: HelperIn) -> HelperOut:
    """Add a helper to a community in the caller's scope; ``Conflict`` if the code is taken."""
    begin_write(session)
    row = _insert(session, actor, HelperRow, spec.model_dump(mode="json"))
    session.commit()
    return helper_view(session, row)


def create_resident(session: Session, actor: Actor, spec: ResidentIn) -> ResidentOut:
    """Add a resident to a community in the caller's scope; ``Conflict`` if the code is taken."""
    begin_write(session)
    row = _insert(session, actor, ResidentRow, spec.model_dump(mode="json"))
    session.commit()
    return resident_view(session, row)


def _insert(session: Session, actor: Actor, table: PersonTable, values: dict[str, Any]) -> Any:
    entity = "helper" if table is HelperRow else "resident"
    if session.scalar(select(table.id).where(table.code == values["code"])) is not None:
        raise Conflict(_("ledger code %(value)s is taken", value=repr(values["code"])), "code")
    row = table(**_checked(session, actor, table, None, values))
    session.add(row)
    try:
        session.flush()
    except IntegrityError as error:  # the same code added at the same moment
        raise Conflict(
            _("ledger code %(value)s is taken", value=repr(values["code"])), "code"
        ) from error
    audit(session, actor.user_id, f"{entity}.create", entity, row.id, {"code": row.code})
    return row


def update_helper(
    session: Session,
    settings: Settings,
    actor: Actor,
    helper_id: int,
    patch: HelperPatch,
    now: dt.datetime | None = None,
) -> HelperOut:
    """Change a helper's fields (staff, in scope); only the fields sent change. Visits from
    today on that the helper can no longer serve by the matcher's rules (skills, reach, time,
    limits) are taken off them, accepted ones too (the ledger is the office's word; the helper
    is told), and the places re-matched at once."""
    now = now or utcnow()
    begin_write(session)
    row = scoped_row(session, actor, HelperRow, helper_id)
    changes = patch.changes()
    return _change_helper(session, settings, actor, row, changes, now, refuse_accepted=False)


def _change_helper(
    session: Session,
    settings: Settings,
    actor: Actor,
    row: HelperRow,
    changes: dict[str, Any],
    now: dt.datetime,
    *,
    refuse_accepted: bool,
) -> HelperOut:
    """Apply ``changes`` to the helper (the caller holds the write lock), take them off the
    visits they can no longer serve (``_release_broken``: an accepted one refuses the change
    when ``refuse_accepted``, else is released too), commit, then re-match those orders."""
    _apply(session, actor, HelperRow, row, changes)
    orders = _release_broken(session, settings, actor, row, now, refuse_accepted=refuse_accepted)
    session.commit()
    for order_id, date in orders:
        rematch_or_release(session, settings, order_id, date, now, "ledger")
    return helper_view(session, row)


def _release_broken(
    session: Session,
    settings: Settings,
    actor: Actor,
    helper: HelperRow,
    now: dt.datetime,
    *,
    refuse_accepted: bool,
) -> list[tuple[int, dt.date]]:
    """After an edit of ``helper`` (flushed here): withdraw their live offers from today on
    whose team the matcher's checker now rejects (``problem.team_violations``: the one rule
    book), or — ``refuse_accepted`` — refuse the edit if one of those they accepted. Returns
    the orders (id, date) to re-match once committed (``rematch_or_release``)."""
    session.flush()
    broken = [o for o in _upcoming_offers(session, settings, helper, now) if _breaks(session, o)]
    accepted = [o for o in broken if o.status == OfferStatus.ACCEPTED]
    if refuse_accepted and accepted:
        days = _(", ").join(sorted({o.assignment.order.date.isoformat() for o in accepted}))
        raise Conflict(
            _(
                "with this change you could no longer do the visits you accepted on %(days)s; "
                "step back from them first",
                days=days,
            )
        )
    for offer in broken:
        withdraw_offer(session, offer, offer.assignment.order, "change", now)
    session.flush()
    orders = sorted({o.assignment.order for o in broken}, key=lambda o: o.id)
    for order in orders:  # as after a decline: the team stays live for the re-match to fill
        refresh_order_status(session, order)
    if broken:
        detail = {"withdrawn_offers": [o.id for o in broken]}
        audit(session, actor.user_id, "helper.offers_released", "helper", helper.id, detail)
        log.info("helper %s edited: %d offers no longer fit, withdrawn", helper.id, len(broken))
    return [(o.id, o.date) for o in orders]


def _upcoming_offers(
    session: Session, settings: Settings, helper: HelperRow, now: dt.datetime
) -> list[OfferRow]:
    """The helper's live offers on active teams from today on (street time)."""
    return list(
        session.scalars(
            select(OfferRow)
            .join(AssignmentRow, OfferRow.assignment_id == AssignmentRow.id)
            .join(OrderRow, AssignmentRow.order_id == OrderRow.id)
            .where(
                OfferRow.helper_id == helper.id,
                OfferRow.status.in_(LIVE_OFFER_STATUSES),
                AssignmentRow.status == "active",
                OrderRow.date >= local_today(settings, now),
            )
            .order_by(OfferRow.id)
        )
    )


def _breaks(session: Session, offer: OfferRow) -> bool:
    """Whether the offer's team, as it stands, breaks a hard rule (a place still to fill may
    lack size, lead or language for now; a team staff sent against a rule is theirs)."""
    assignment = offer.assignment
    if assignment.override_reason:
        return False
    order = assignment.order
    members = [o.helper_id for o in live_offers(assignment)]
    short = len(members) < team_size(session, order)
    return any(
        not (short and v.rule in COMPLETE_TEAM_RULES)
        for v in team_violations(session, order, members, assignment.start_minute)
    )


def update_resident(
    session: Session, actor: Actor, resident_id: int, patch: ResidentPatch
) -> ResidentOut:
    """Change a resident's fields (staff, in scope); only the fields sent change."""
    begin_write(session)
    row = scoped_row(session, actor, ResidentRow, resident_id)
    _apply(session, actor, ResidentRow, row, patch.changes())
    session.commit()
    return resident_view(session, row)


def _apply(
    session: Session, actor: Actor, table: PersonTable, row: Any, values: dict[str, Any]
) -> None:
    """Write ``values`` to ``row`` and audit the names of the fields that changed (not their
    values: the audit log should not become a second copy of personal data)."""
    values = _checked(session, actor, table, row, values)
    changed = sorted(name for name, value in values.items() if getattr(row, name) != value)
    for name in changed:
        setattr(row, name, values[name])
    entity = "helper" if table is HelperRow else "resident"
    audit(session, actor.user_id, f"{entity}.update", entity, row.id, {"fields": changed})


def deactivate_helper(
    session: Session,
    settings: Settings,
    actor: Actor,
    helper_id: int,
    now: dt.datetime | None = None,
) -> HelperOut:
    """Deactivate a helper (kept with their history); their live offers from today on are
    withdrawn. Deactivating twice changes nothing."""
    now = now or utcnow()
    begin_write(session)
    row = scoped_row(session, actor, HelperRow, helper_id)
    # Lock the row: a claim naming this helper waits, then sees them inactive.
    session.execute(select(HelperRow.id).where(HelperRow.id == row.id).with_for_update())
    orders: list[int] = []
    if row.active:
        row.active, row.deactivated_at = False, now
        withdrawn, orders = _withdraw_offers(session, settings, row, now)
        revoked = revoke_tokens(session, helper_id=row.id)  # their logins end at once
        detail = {"withdrawn_offers": withdrawn, "revoked_logins": revoked}
        audit(session, actor.user_id, "helper.deactivate", "helper", row.id, detail)
        log.info("helper %s deactivated, %d offers withdrawn", row.id, len(withdrawn))
    session.commit()
    for order_id in orders:  # fill the places at once, as after a decline (no lock held)
        _rematch(session, settings, order_id, now)
    return helper_view(session, row)


def _withdraw_offers(
    session: Session, settings: Settings, helper: HelperRow, now: dt.datetime
) -> tuple[list[int], list[int]]:
    """Withdraw the helper's live offers from today on; returns them and their orders, which
    go back to matching once this is committed."""
    offers = _upcoming_offers(session, settings, helper, now)
    for offer in offers:
        withdraw_offer(session, offer, offer.assignment.order, "cancellation", now)
    session.flush()
    orders = {offer.assignment.order.id: offer.assignment.order for offer in offers}
    for order in orders.values():  # an emptied team ends: the order is open again
        assignment = live_assignment(session, order.id)
        if assignment is not None and assignment.status == "active" and not live_offers(assignment):
            assignment.status, assignment.ended_at = "withdrawn", now
        refresh_order_status(session, order)
    return [offer.id for offer in offers], sorted(orders)


def _rematch(session: Session, settings: Settings, order_id: int, now: dt.datetime) -> None:
    """Fill the place at once (as after a decline). Should that fail, the deactivation stands
    and the nightly run tries later."""
    try:
        rematch(session, settings, order_id, now, trigger="deactivation")
    except Exception:
        session.rollback()
        log.exception("re-match of order %s failed; left for the nightly run", order_id)


def deactivate_resident(
    session: Session,
    settings: Settings,
    actor: Actor,
    resident_id: int,
    now: dt.datetime | None = None,
) -> ResidentOut:
    """Deactivate a resident (kept with their history): their orders from today on are
    cancelled and their recurring orders ended. Deactivating twice changes nothing."""
    now = now or utcnow()
    begin_write(session)
    row = scoped_row(session, actor, ResidentRow, resident_id)
    if row.active:
        row.active, row.deactivated_at = False, now
        cancelled = _cancel_orders(session, row, local_today(settings, now), now)
        revoke_tokens(session, resident_id=row.id)
        session.execute(
            update(OrderSeries).where(OrderSeries.resident_id == row.id).values(active=False)
        )
        detail = {"cancelled_orders": cancelled}
        audit(session, actor.user_id, "resident.deactivate", "resident", row.id, detail)
    session.commit()
    return resident_view(session, row)


def _cancel_orders(
    session: Session, resident: ResidentRow, today: dt.date, now: dt.datetime
) -> list[int]:
    orders = session.scalars(
        select(OrderRow)
        .where(
            OrderRow.resident_id == resident.id,
            OrderRow.date >= today,
            OrderRow.status.in_(CANCELLABLE_ORDER_STATUSES),
        )
        .order_by(OrderRow.id)
    ).all()
    for order in orders:
        assignment = live_assignment(session, order.id)
        if assignment is not None and assignment.status == "active":
            withdraw_assignment(session, assignment, "cancellation", now)
        order.status, order.cancelled_at, order.version = "cancelled", now, order.version + 1
        order.cancel_reason = _("resident deactivated")
    return [order.id for order in orders]


# ----------------------------------------------------------------------------- a helper's own


def my_profile(session: Session, actor: Actor) -> HelperOut:
    """The logged-in helper's own ledger entry."""
    return helper_view(session, _own(session, actor))


def update_my_profile(
    session: Session,
    settings: Settings,
    actor: Actor,
    patch: HelperSelfPatch,
    now: dt.datetime | None = None,
) -> HelperOut:
    """A helper changes their own phone, availability or radius (within the self limit). A
    change that would leave a visit they accepted impossible is refused naming its day (they
    step back from it first); pending offers it rules out are withdrawn and re-matched."""
    now = now or utcnow()
    begin_write(session)
    row = _own(session, actor)
    changes = patch.changes()
    return _change_helper(session, settings, actor, row, changes, now, refuse_accepted=True)


def change_own_time(
    session: Session,
    settings: Settings,
    actor: Actor,
    changes: dict[str, Any],
    now: dt.datetime | None = None,
) -> HelperOut:
    """A helper's change of their own time (``api.services.hours.own_time`` checks it), under
    the rule of ``update_my_profile``: refused naming the day if it rules out a visit they
    accepted; pending offers it rules out are withdrawn and re-matched."""
    now = now or utcnow()
    begin_write(session)
    row = _own(session, actor)
    return _change_helper(session, settings, actor, row, changes, now, refuse_accepted=True)


def _own(session: Session, actor: Actor) -> HelperRow:
    row = session.get(HelperRow, actor.helper_id) if actor.helper_id is not None else None
    if row is None or actor.role != "helper":
        raise NotFound(_("helper not found"))
    return row
