"""Two-way pairing programmes (``api.services.programmes``): staff set them up and enrol people,
both sides rank their shortlists (themselves or staff on their behalf), the stable matching is
stored as proposed pairs, confirmed pairs become recurring orders the nightly run keeps with the
pair's helper, and the helper joins the resident's circle. On SQLite and PostgreSQL, with the
database invariants checked after each test."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from api.services.actor import Actor, actor_of
from api.services.circles.members import resident_circle
from api.services.errors import BadInput, Conflict, Forbidden, NotFound
from api.services.matching.invariants import check_database
from api.services.matching.nightly import run_nightly
from api.services.offers.answers import decline
from api.services.programmes import pairs as pairing
from api.services.programmes import ranking, setup
from api.services.programmes.setup import ProgrammeSpec
from api.settings import Settings
from api.store.statuses import PairStatus
from api.store.tables import (
    AssignmentRow,
    Community,
    HelperRow,
    ItemRow,
    OfferRow,
    OrderRow,
    OrderSeries,
    ProgrammePairRow,
    ProgrammeRow,
    ResidentRow,
    UserRow,
)
from matcher.pairing import blocking_pairs
from tests.api.conftest import StateContext, World, actor_named, database_state
from tests.api.test_web_staff import web_login

NOW = dt.datetime(2026, 11, 27, 1, 0)  # Friday 09:00 in Shanghai
SATURDAY = dt.date(2026, 11, 28)
KM_PER_DEG = 111.2


@dataclass(frozen=True)
class Cast:
    """A programme with three residents and three helpers enrolled (the first helper has a
    helper account); a fourth helper, not enrolled, lives next to every resident."""

    programme_id: int
    residents: list[int]
    helpers: list[int]
    outsider: int
    item: str


def _set_up(state: StateContext) -> Cast:
    """Three residents 0.5 km apart, three enrolled helpers 2, 3 and 4 km north of the first
    and an outsider on the first resident's doorstep, all able to serve the programme's item."""
    world: World = state.values["world"]
    with state.sessions() as session:
        item = session.scalars(
            select(ItemRow)
            .where(ItemRow.team_size == 1, ItemRow.active, ItemRow.lead_skill.is_(None))
            .where(ItemRow.max_distance_km.is_(None))
            .order_by(ItemRow.duration_min, ItemRow.code)
        ).first()
        assert item is not None
        residents = list(
            session.scalars(
                select(ResidentRow.id)
                .where(ResidentRow.street_id == world.street_id, ResidentRow.active)
                .order_by(ResidentRow.id)
                .limit(3)
            )
        )
        helpers = world.helper_ids[:4]
        base = session.get_one(ResidentRow, residents[0])
        lat, lon = base.lat, base.lon
        for n, resident_id in enumerate(residents):
            session.execute(
                update(ResidentRow)
                .where(ResidentRow.id == resident_id)
                .values(lat=lat + n * 0.5 / KM_PER_DEG, lon=lon, language=None,
                        preferred_gender=None, circle=[])
            )  # fmt: skip
        # Enrolled helpers 2, 3 and 4 km north; the outsider sits on the first resident.
        for n, helper_id in enumerate(helpers):
            north = (2 + n) / KM_PER_DEG if n < 3 else 0.0
            session.execute(
                update(HelperRow)
                .where(HelperRow.id == helper_id)
                .values(lat=lat + north, lon=lon, skills=list(item.required_skills),
                        radius_km=10.0, availability=[[0, 1440]], max_orders=3,
                        max_minutes=600, languages=["zh"], blocked_residents=[], active=True)
            )  # fmt: skip
        session.commit()
        staff = actor_named(session, "staff")
        view = setup.create_programme(session, staff, spec(item.code))
        codes = [_code(session, ResidentRow, r) for r in residents]
        setup.enrol(session, staff, view.id, "resident", codes)
        codes = [_code(session, HelperRow, h) for h in helpers[:3]]
        setup.enrol(session, staff, view.id, "helper", codes)
    return Cast(view.id, residents, helpers[:3], helpers[3], item.code)


def _code(session: Session, table, row_id: int) -> str:  # type: ignore[no-untyped-def]
    return session.get_one(table, row_id).code


def spec(item: str, **changes: object) -> ProgrammeSpec:
    values: dict[str, object] = {
        "name": "周末妈妈",
        "item": item,
        "start_date": dt.date(2026, 11, 23),
        "end_date": dt.date(2027, 1, 31),
        "weekdays": (5,),
        "window_start": 9 * 60,
        "window_end": 12 * 60,
    }
    return ProgrammeSpec(**(values | changes))  # type: ignore[arg-type]


cast = database_state("cast", _set_up, needs=("world",))


# ----------------------------------------------------------------------------- set-up


def test_programme_settings_are_checked(sessions: sessionmaker[Session], cast: Cast) -> None:
    """A window shorter than the visit, no weekday, an end before the start or a capacity of 0
    is refused; community staff may not create a programme."""
    with sessions() as session:
        staff = actor_named(session, "staff")
        for bad in (
            {"window_end": 9 * 60 + 5},
            {"weekdays": ()},
            {"end_date": dt.date(2026, 1, 1)},
            {"helper_capacity": 0},
            {"favour": "money"},
        ):
            with pytest.raises(BadInput):
                setup.create_programme(session, staff, spec(cast.item, **bad))
            session.rollback()
        with pytest.raises(Forbidden):
            setup.create_programme(session, actor_named(session, "staff_c1"), spec(cast.item))


def test_enrolling_an_unknown_code_is_refused(sessions: sessionmaker[Session], cast: Cast) -> None:
    """A code that names nobody is "not found" and enrols no one."""
    with sessions() as session:
        staff = actor_named(session, "staff")
        with pytest.raises(NotFound):
            setup.enrol(session, staff, cast.programme_id, "helper", ["NOBODY"])
        session.rollback()
        programme = session.get_one(ProgrammeRow, cast.programme_id)
        assert setup.programme_view(session, programme).helpers == 3


# ----------------------------------------------------------------------------- ranking


def test_shortlists_are_mutual_and_nearest_first(
    sessions: sessionmaker[Session], cast: Cast
) -> None:
    """Every resident's shortlist holds the enrolled helpers (never the outsider), nearest first,
    and each helper's shortlist holds the same pairs seen from the other side."""
    with sessions() as session:
        staff = actor_named(session, "staff")
        members = setup.members(session, staff, cast.programme_id)
        residents = [m for m in members if m.side == "resident"]
        helpers = {m.id: m for m in members if m.side == "helper"}
        seen = set()
        for member in residents:
            view = ranking.shortlist(session, staff, member.id)
            assert {e.member_id for e in view.entries} == set(helpers)
            kms = [e.km for e in view.entries]
            assert kms == sorted(kms)
            seen |= {(member.id, e.member_id) for e in view.entries}
        for helper_member in helpers:
            view = ranking.shortlist(session, staff, helper_member)
            assert {(e.member_id, helper_member) for e in view.entries} <= seen


def test_a_helper_ranks_only_their_own_list(sessions: sessionmaker[Session], cast: Cast) -> None:
    """A helper account ranks its own shortlist; another member's list is "not found"; an id
    not on the list, or ranked and refused at once, is refused."""
    with sessions() as session:
        staff = actor_named(session, "staff")
        members = setup.members(session, staff, cast.programme_id)
        mine = next(m for m in members if m.side == "helper" and m.person_id == cast.helpers[0])
        other = next(m for m in members if m.side == "helper" and m.id != mine.id)
        residents = [m.id for m in members if m.side == "resident"]
        helper = actor_named(session, "helper1")
        assert helper.helper_id == cast.helpers[0]
        view = ranking.rank(session, helper, mine.id, [residents[2], residents[0]], [residents[1]])
        assert [e.rank for e in view.entries] == [1, 2, None]
        assert [e.member_id for e in view.entries][:2] == [residents[2], residents[0]]
        assert view.entries[2].refused
        with pytest.raises(NotFound):
            ranking.shortlist(session, helper, other.id)
        with pytest.raises(BadInput):
            ranking.rank(session, helper, mine.id, [other.id])
        session.rollback()
        with pytest.raises(BadInput):
            ranking.rank(session, helper, mine.id, [residents[0]], [residents[0]])


# ----------------------------------------------------------------------------- pairs


def _rank_everyone(session: Session, staff: Actor, cast: Cast) -> None:
    """Residents all want the farthest helper first; helpers want the residents in order."""
    members = setup.members(session, staff, cast.programme_id)
    residents = sorted((m for m in members if m.side == "resident"), key=lambda m: m.person_id)
    helpers = sorted((m for m in members if m.side == "helper"), key=lambda m: m.person_id)
    for member in residents:
        ranking.rank(session, staff, member.id, [h.id for h in reversed(helpers)])
    for member in helpers:
        ranking.rank(session, staff, member.id, [r.id for r in residents])


def test_computed_pairs_are_stable_and_favour_residents(
    sessions: sessionmaker[Session], cast: Cast
) -> None:
    """The proposed pairs admit no blocking pair in the programme's market, respect capacities,
    and (residents favoured) give the first resident their first choice."""
    with sessions() as session:
        staff = actor_named(session, "staff")
        _rank_everyone(session, staff, cast)
        summary = pairing.compute_pairs(session, staff, cast.programme_id)
        assert summary.proposed == 3 and summary.optimal
        found = pairing.pairs(session, staff, cast.programme_id)
        programme = setup.scoped_programme(session, staff, cast.programme_id)
        market = pairing.market_of(session, programme)
        chosen = [(str(p.resident_member_id), str(p.helper_member_id)) for p in found]
        assert blocking_pairs(market, chosen) == []
        assert len({p.helper_member_id for p in found}) == 3  # capacity 1 each
        first = min(found, key=lambda p: p.resident_id)
        assert first.resident_rank == 1
        # Computing again replaces the proposed pairs, it does not add to them.
        pairing.compute_pairs(session, staff, cast.programme_id)
        assert len(pairing.pairs(session, staff, cast.programme_id)) == 3


def test_only_street_staff_compute_and_confirm(
    sessions: sessionmaker[Session], settings: Settings, cast: Cast
) -> None:
    """Community staff and helpers may not compute or confirm pairs."""
    with sessions() as session:
        for name in ("staff_c1", "helper1"):
            with pytest.raises(Forbidden):
                pairing.compute_pairs(session, actor_named(session, name), cast.programme_id)


def test_a_confirmed_pair_is_a_recurring_order_kept_with_its_helper(
    sessions: sessionmaker[Session], settings: Settings, cast: Cast
) -> None:
    """Confirming makes the resident's weekly series for the season, puts the helper in the
    resident's circle, and the nightly run offers the Saturday visit to the pair's helper
    although a helper living next door could serve it; the members see their own pair."""
    with sessions() as session:
        staff = actor_named(session, "staff")
        _rank_everyone(session, staff, cast)
        pairing.compute_pairs(session, staff, cast.programme_id)
        found = pairing.pairs(session, staff, cast.programme_id)
        first = min(found, key=lambda p: p.resident_id)
        confirmed = pairing.confirm_pair(session, settings, staff, first.id, now=NOW)
        assert confirmed.status == PairStatus.CONFIRMED
        series = session.get_one(OrderSeries, confirmed.series_id)
        assert (series.weekdays, series.start_date, series.end_date) == (
            [5], SATURDAY, dt.date(2027, 1, 31))  # fmt: skip
        circle = resident_circle(session, staff, first.resident_id)
        assert first.helper_id in {m.helper_id for m in circle.members}
        with pytest.raises(Conflict):
            pairing.confirm_pair(session, settings, staff, first.id, now=NOW)
        session.rollback()
        # The outsider lives on the resident's doorstep and could serve the visit.
        account = session.scalars(select(UserRow).where(UserRow.helper_id == first.helper_id))
        helper = actor_of(account.one())
        mine = pairing.pairs(session, helper, cast.programme_id)
        assert [(p.id, p.status) for p in mine] == [(first.id, PairStatus.CONFIRMED)]
    run_nightly(sessions, settings, _street(sessions, cast), SATURDAY, now=NOW)
    with sessions() as session:
        order = session.scalars(
            select(OrderRow).where(
                OrderRow.series_id == confirmed.series_id, OrderRow.date == SATURDAY
            )
        ).one()
        offered = session.scalars(
            select(OfferRow.helper_id)
            .join(AssignmentRow, AssignmentRow.id == OfferRow.assignment_id)
            .where(AssignmentRow.order_id == order.id)
        ).all()
        assert offered == [first.helper_id]


def test_a_pair_helper_who_declines_a_day_is_not_held_to_it(
    sessions: sessionmaker[Session], settings: Settings, cast: Cast
) -> None:
    """When the pair's helper declines one Saturday, that visit goes to someone else and a
    re-run does not offer it to them again (kept only while they can serve it)."""
    with sessions() as session:
        staff = actor_named(session, "staff")
        _rank_everyone(session, staff, cast)
        pairing.compute_pairs(session, staff, cast.programme_id)
        first = min(pairing.pairs(session, staff, cast.programme_id), key=lambda p: p.resident_id)
        confirmed = pairing.confirm_pair(session, settings, staff, first.id, now=NOW)
    street = _street(sessions, cast)
    run_nightly(sessions, settings, street, SATURDAY, now=NOW)
    with sessions() as session:
        order_id = session.scalars(
            select(OrderRow.id).where(
                OrderRow.series_id == confirmed.series_id, OrderRow.date == SATURDAY
            )
        ).one()
        offer = session.scalars(
            select(OfferRow)
            .join(AssignmentRow, AssignmentRow.id == OfferRow.assignment_id)
            .where(AssignmentRow.order_id == order_id, OfferRow.status == "pending")
        ).one()
        assert offer.helper_id == first.helper_id
        decline(session, settings, first.helper_id, offer.id, "busy", now=NOW)
    run_nightly(sessions, settings, street, SATURDAY, now=NOW)
    with sessions() as session:
        live = session.scalars(
            select(OfferRow.helper_id)
            .join(AssignmentRow, AssignmentRow.id == OfferRow.assignment_id)
            .where(AssignmentRow.order_id == order_id, OfferRow.status == "pending")
        ).all()
        assert live and first.helper_id not in live


def test_community_staff_see_the_members_of_their_community(
    sessions: sessionmaker[Session], world: World, cast: Cast
) -> None:
    """Community staff list only the members living in their community (one resident moved to
    the second community drops out of their list); street staff all."""
    with sessions() as session:
        other = Community(street_id=world.street_id, code="C-OTHER", name="东湖社区")
        session.add(other)
        session.flush()
        session.get_one(ResidentRow, cast.residents[2]).community_id = other.id
        session.commit()
        everyone = setup.members(session, actor_named(session, "staff"), cast.programme_id)
        mine = setup.members(session, actor_named(session, "staff_c1"), cast.programme_id)
        assert len(everyone) == 6 and len(mine) == 5
        assert {m.id for m in mine} == {
            m.id for m in everyone if m.community_id == world.communities[0]
        }


def _street(sessions: sessionmaker[Session], cast: Cast) -> int:
    with sessions() as session:
        return session.get_one(ResidentRow, cast.residents[0]).street_id


def test_confirmed_pairs_are_kept_out_of_the_next_matching(
    sessions: sessionmaker[Session], settings: Settings, cast: Cast
) -> None:
    """After one pair is confirmed, computing again keeps it, proposes nothing for its helper
    (capacity 1, used) and still finds a stable matching of the rest; a member in a confirmed
    pair cannot be withdrawn until the pair ends, which stops its recurring order."""
    with sessions() as session:
        staff = actor_named(session, "staff")
        _rank_everyone(session, staff, cast)
        pairing.compute_pairs(session, staff, cast.programme_id)
        first = min(pairing.pairs(session, staff, cast.programme_id), key=lambda p: p.resident_id)
        confirmed = pairing.confirm_pair(session, settings, staff, first.id, now=NOW)
        summary = pairing.compute_pairs(session, staff, cast.programme_id)
        assert summary.confirmed == 1 and summary.proposed == 2
        proposed = session.scalars(
            select(ProgrammePairRow).where(ProgrammePairRow.status == PairStatus.PROPOSED)
        ).all()
        assert first.helper_member_id not in {p.helper_member_id for p in proposed}
        with pytest.raises(Conflict):
            setup.withdraw(session, staff, first.helper_member_id)
        session.rollback()
        ended = pairing.end_pair(session, staff, first.id)
        assert ended.status == PairStatus.ENDED
        assert not session.get_one(OrderSeries, confirmed.series_id).active
        setup.withdraw(session, staff, first.helper_member_id)
        assert len(setup.members(session, staff, cast.programme_id)) == 5


# ----------------------------------------------------------------------------- pages


def test_the_pages_walk_the_whole_flow(
    sessions: sessionmaker[Session], client: TestClient, cast: Cast
) -> None:
    """Through the pages: staff create a programme and enrol people by code, a volunteer ranks
    on the phone, staff rank for the residents, compute and confirm; the volunteer then sees
    the confirmed pair, and a bad ranking form is refused with a message."""
    with sessions() as session:
        codes = {
            side: " ".join(_code(session, table, i) for i in ids)
            for side, table, ids in (
                ("resident", ResidentRow, cast.residents),
                ("helper", HelperRow, cast.helpers),
            )
        }
    web_login(client, "staff")
    form = {"name": "结对帮扶", "item": cast.item, "start_date": "2026-11-23",
            "end_date": "2027-01-31", "weekdays": ["5", "6"], "window_start": "09:00",
            "window_end": "12:00", "favour": "travel"}  # fmt: skip
    created = client.post("/s/programmes", data=form, follow_redirects=False)
    assert created.status_code == 303 and "/s/programmes/" in created.headers["location"]
    here = created.headers["location"].split("?")[0]
    for side, listed in codes.items():
        client.post(f"{here}/enrol", data={"side": side, "codes": listed})
    page = client.get(here).text
    assert page.count('class="badge">') >= 6  # six members, none ranked yet
    web_login(client, "helper1")
    phone = client.get("/v/programmes").text
    programme_id = int(here.rsplit("/", 1)[1])
    assert f'id="ranking-{programme_id}"' in phone
    members = re.findall(
        r'name="member" value="(\d+)"', phone.split(f'id="programme-{programme_id}"')[1]
    )
    assert len(members) == 3
    saved = client.post(f"/v/programmes/{programme_id}/rank",
                        data={"member": members, "choice": ["2", "1", "no"]})  # fmt: skip
    assert saved.status_code == 200 and "alert" not in saved.text
    bad = client.post(
        f"/v/programmes/{programme_id}/rank", data={"member": members, "choice": ["x"]}
    )
    assert 'role="alert"' in bad.text
    web_login(client, "staff")
    client.post(f"{here}/pair")
    page = client.get(here).text
    pair_ids = re.findall(r'action="/s/programme-pairs/(\d+)/confirm"', page)
    assert len(pair_ids) == 3
    for pair_id in pair_ids:
        assert client.post(f"/s/programme-pairs/{pair_id}/confirm").status_code == 200
    web_login(client, "helper1")
    phone = client.get("/v/programmes").text
    assert 'class="badge confirmed"' in phone


@pytest.mark.broken_db("a second confirmed pair beyond the helper's capacity, without its series")
def test_the_checker_finds_a_pair_beyond_capacity(
    sessions: sessionmaker[Session], settings: Settings, cast: Cast
) -> None:
    """A second confirmed pair for a helper of capacity 1, with no recurring order, is reported
    by the database checker (capacity and series); the programme's own pairs are not."""
    with sessions() as session:
        staff = actor_named(session, "staff")
        _rank_everyone(session, staff, cast)
        pairing.compute_pairs(session, staff, cast.programme_id)
        first, second = sorted(
            pairing.pairs(session, staff, cast.programme_id), key=lambda p: p.id
        )[:2]
        pairing.confirm_pair(session, settings, staff, first.id, now=NOW)
        assert check_database(session) == []
        session.add(
            ProgrammePairRow(programme_id=cast.programme_id,
                             resident_member_id=second.resident_member_id,
                             helper_member_id=first.helper_member_id, status=PairStatus.CONFIRMED,
                             resident_rank=1, helper_rank=1)
        )  # fmt: skip
        session.commit()
        codes = sorted(v.code for v in check_database(session))
        assert codes == ["pair_capacity", "pair_series"]
