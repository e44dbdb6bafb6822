"""The volunteer pages through the HTTP client: today's offers (nothing personal until accepted,
accept, decline with a reason, done), orders nearby (only claimable ones, a single claim, a
bundle refused with the reason), points, and no volunteer data for other roles."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request

from api import i18n
from api.http.locale import LANG_COOKIE, locale_of
from api.http.pages import volunteer
from api.http.pages.render import csrf_token
from api.services import claims
from api.services.accounts.auth import add_user
from api.services.closing import points
from api.services.matching.nightly import run_nightly
from api.services.offers.assign import local_today
from api.settings import Settings
from api.store.tables import (
    AssignmentRow,
    HelperRow,
    ItemRow,
    OfferRow,
    OrderRow,
    ResidentRow,
    UserRow,
    utcnow,
)
from tests.api.conftest import PASSWORD, StateContext, World, database_state, login
from tests.api.loop_support import make_roomy, move_orders, staff_actor, tomorrow

Sessions = sessionmaker[Session]


@dataclass(frozen=True)
class Pending:
    """A pending offer and what its card must hide until it is accepted."""

    offer_id: int
    assignment_id: int
    order_id: int
    item_zh: str
    team_size: int
    name: str
    address: str
    phone: str


# ----------------------------------------------------------------------------- arranging


def _roomy_tomorrow(state: StateContext) -> dt.date:
    """Every seeded order dated tomorrow on a roomy street (the pages run on the real clock)."""
    day = tomorrow(state.settings)
    move_orders(state.sessions, day)
    make_roomy(state.sessions)
    return day


def _offered(state: StateContext) -> None:
    """Tonight's run is made: every matched order has pending offers."""
    world: World = state.values["world"]
    run_nightly(state.sessions, state.settings, world.street_id, state.values["day"])


day = database_state("day", _roomy_tomorrow)
offered = database_state("offered", _offered, needs=("day",))


def pending_offers(sessions: Sessions) -> dict[int, list[Pending]]:
    """Per helper: their pending offers, in offer id order."""
    found: dict[int, list[Pending]] = defaultdict(list)
    with sessions() as session:
        rows = session.execute(
            select(OfferRow, OrderRow, ItemRow, ResidentRow)
            .join(AssignmentRow, OfferRow.assignment_id == AssignmentRow.id)
            .join(OrderRow, AssignmentRow.order_id == OrderRow.id)
            .join(ItemRow, OrderRow.item == ItemRow.code)
            .join(ResidentRow, OrderRow.resident_id == ResidentRow.id)
            .where(OfferRow.status == "pending")
            .order_by(OfferRow.id)
        ).all()
        for offer, order, item, resident in rows:
            found[offer.helper_id].append(
                Pending(
                    offer.id,
                    offer.assignment_id,
                    order.id,
                    item.name_zh,
                    item.team_size,
                    resident.name,
                    resident.address,
                    resident.phone,
                )
            )
    return found


def busiest(sessions: Sessions, team_size: int = 1) -> tuple[int, list[Pending]]:
    """The helper with the most pending offers for items of ``team_size``, and those offers."""
    by_helper = {
        helper_id: [p for p in offers if p.team_size == team_size]
        for helper_id, offers in pending_offers(sessions).items()
    }
    helper_id = max(by_helper, key=lambda h: (len(by_helper[h]), -h))
    assert by_helper[helper_id], f"no pending offer for a team of {team_size}"
    return helper_id, by_helper[helper_id]


def log_in(client: TestClient, sessions: Sessions, helper_id: int) -> None:
    """Log the client in (cookie) as the helper's account, created if the helper has none."""
    with sessions() as session:
        user = session.scalars(select(UserRow).where(UserRow.helper_id == helper_id)).first()
        if user is None:
            user = add_user(session, f"h{helper_id}", PASSWORD, "helper", helper_id=helper_id)
            session.commit()
        username = user.username
    as_user(client, username)


def as_user(client: TestClient, username: str) -> None:
    client.cookies.clear()
    response = client.post(
        "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    client.headers["X-CSRF-Token"] = csrf_token(client.cookies["qb_token"])  # as the forms do


def card(page: Response, anchor: str) -> str | None:
    """The HTML of the card ``id=anchor`` on the page (None when it is not there)."""
    found = re.search(rf'<li class="card" id="{anchor}">(.*?)</li>', page.text, re.S)
    return found.group(1) if found else None


def listed(page: Response, prefix: str) -> set[int]:
    return {int(n) for n in re.findall(rf'<li class="card" id="{prefix}-(\d+)">', page.text)}


def offer_status(sessions: Sessions, offer_id: int) -> tuple[str, str | None]:
    with sessions() as session:
        offer = session.get_one(OfferRow, offer_id)
        return offer.status, offer.decline_reason


def shows_contact(html: str, pending: Pending) -> bool:
    return any(value in html for value in (pending.name, pending.address, pending.phone))


# ----------------------------------------------------------------------------- today


def test_home_lists_pending_offers_without_the_residents_details(
    client: TestClient, sessions: Sessions, offered: None
) -> None:
    """Each pending offer is a card with item, time, distance, deadline and Accept/Decline;
    no resident's name, address or phone is anywhere on the page; English on request."""
    helper_id, mine = busiest(sessions)
    log_in(client, sessions, helper_id)
    page = client.get("/v/")
    assert page.status_code == 200 and "今天和接下来" in page.text
    assert listed(page, "offer") == {p.offer_id for p in pending_offers(sessions)[helper_id]}
    for pending in mine:
        html = card(page, f"offer-{pending.offer_id}")
        assert html is not None and pending.item_zh in html
        assert "明天" in html and "公里" in html and "请在" in html and "0 / 1 人已接受" in html
        assert f'action="/v/offers/{pending.offer_id}/accept"' in html
        assert f'action="/v/offers/{pending.offer_id}/decline"' in html
        assert not shows_contact(page.text, pending)
    client.get("/lang/en", headers={"referer": "http://testserver/v/"})
    english = client.get("/v/")
    assert "Today and upcoming" in english.text and ">Accept<" in english.text


def test_accepting_shows_that_residents_details_only(
    client: TestClient, sessions: Sessions, offered: None
) -> None:
    """After Accept the card shows the resident's name, address and phone; the other pending
    cards still hide theirs."""
    helper_id, mine = busiest(sessions)
    first = mine[0]
    log_in(client, sessions, helper_id)
    page = client.post(f"/v/offers/{first.offer_id}/accept")
    assert page.status_code == 200 and "已接受" in page.text
    html = card(page, f"offer-{first.offer_id}")
    assert html is not None
    assert first.name in html and first.address in html and f"tel:{first.phone}" in html
    assert offer_status(sessions, first.offer_id)[0] == "accepted"
    for other in mine[1:]:
        other_card = card(page, f"offer-{other.offer_id}")
        assert other_card is not None and not shows_contact(other_card, other)


def test_declining_with_a_reason_removes_the_card(
    client: TestClient, sessions: Sessions, offered: None
) -> None:
    """Decline needs a reason; with one, the offer is declined with that reason stored and its
    card leaves the list."""
    helper_id, mine = busiest(sessions)
    offer_id = mine[0].offer_id
    log_in(client, sessions, helper_id)
    refused = client.post(f"/v/offers/{offer_id}/decline", data={"reason": "", "note": " "})
    assert "请选择拒绝的原因" in refused.text and card(refused, f"offer-{offer_id}") is not None
    assert offer_status(sessions, offer_id)[0] == "pending"
    page = client.post(f"/v/offers/{offer_id}/decline", data={"reason": "unwell", "note": "膝盖疼"})
    assert page.status_code == 200 and "已拒绝" in page.text
    assert card(page, f"offer-{offer_id}") is None
    status, reason = offer_status(sessions, offer_id)
    assert status == "declined" and reason is not None
    assert "身体不适" in reason and "膝盖疼" in reason


def test_done_once_accepted_marks_the_visit_done(
    client: TestClient, sessions: Sessions, settings: Settings, offered: None
) -> None:
    """An accepted one-person visit of tomorrow says from when it can be marked done, without
    a Done button, and posting Done is refused; on the visit's day the button is there, pressing
    it marks the assignment done and the card then says so, without the button."""
    helper_id, mine = busiest(sessions)
    pending = mine[0]
    log_in(client, sessions, helper_id)
    before = card(client.get("/v/"), f"offer-{pending.offer_id}")
    assert before is not None and "/done" not in before
    accepted = client.post(f"/v/offers/{pending.offer_id}/accept")
    done_action = f'action="/v/assignments/{pending.assignment_id}/done"'
    waiting = card(accepted, f"offer-{pending.offer_id}") or ""
    assert done_action not in waiting and "服务当天（明天）起可以标记完成" in waiting
    early = client.post(f"/v/assignments/{pending.assignment_id}/done")
    assert "当天起才能标记完成" in early.text and "the visit is on" not in early.text
    with sessions() as session:
        assert session.get_one(AssignmentRow, pending.assignment_id).status == "active"
        session.get_one(OrderRow, pending.order_id).date = local_today(settings)
        session.commit()
    assert done_action in (card(client.get("/v/"), f"offer-{pending.offer_id}") or "")
    page = client.post(f"/v/assignments/{pending.assignment_id}/done")
    assert "已标记完成" in page.text
    html = card(page, f"offer-{pending.offer_id}")
    assert html is not None and "已完成" in html and done_action not in html
    with sessions() as session:
        assert session.get_one(AssignmentRow, pending.assignment_id).status == "done"


def test_a_team_visit_cannot_be_done_before_the_team_accepted(
    client: TestClient, sessions: Sessions, offered: None
) -> None:
    """After accepting a team offer alone the card waits for teammates with no Done button, and
    posting Done anyway shows the service's refusal."""
    helper_id, mine = busiest(sessions, team_size=2)
    pending = mine[0]
    log_in(client, sessions, helper_id)
    page = client.post(f"/v/offers/{pending.offer_id}/accept")
    html = card(page, f"offer-{pending.offer_id}")
    assert html is not None and "等队友接受" in html and "/done" not in html
    refused = client.post(f"/v/assignments/{pending.assignment_id}/done")
    assert "团队成员尚未全部接单" in refused.text
    with sessions() as session:
        assert session.get_one(AssignmentRow, pending.assignment_id).status == "active"


def test_errors_show_the_service_message(
    client: TestClient, sessions: Sessions, offered: None
) -> None:
    """Accepting past the deadline shows the service's refusal (in the page's language), and
    another helper's offer is not found; neither offer changes."""
    helper_id, mine = busiest(sessions)
    late = mine[0]
    with sessions() as session:
        past = utcnow() - dt.timedelta(minutes=1)
        session.execute(
            update(OfferRow).where(OfferRow.id == late.offer_id).values(respond_by=past)
        )
        session.commit()
    log_in(client, sessions, helper_id)
    page = client.post(f"/v/offers/{late.offer_id}/accept")
    assert 'role="alert">回复期限已过<' in page.text
    someone_else = next(
        p for h, ps in pending_offers(sessions).items() if h != helper_id for p in ps
    )
    page = client.post(f"/v/offers/{someone_else.offer_id}/accept")
    assert "未找到邀请" in page.text
    assert offer_status(sessions, late.offer_id)[0] == "pending"
    assert offer_status(sessions, someone_else.offer_id)[0] == "pending"


# ----------------------------------------------------------------------------- nearby


def add_order(session: Session, resident: ResidentRow, item: str, window: tuple[int, int]) -> int:
    """A fixed-time order for ``resident`` on the day the seeded orders have."""
    date = session.scalars(select(OrderRow.date)).first()
    order = OrderRow(
        street_id=resident.street_id,
        resident_id=resident.id,
        item=item,
        date=date,
        window_start=window[0],
        window_end=window[1],
        flexible=False,
        placed_at=utcnow(),
    )
    session.add(order)
    session.flush()
    return order.id


def test_claim_page_lists_only_claimable_orders_and_a_single_claim_works(
    client: TestClient, sessions: Sessions, settings: Settings, world: World, day: dt.date
) -> None:
    """Only open, untaken orders whose skills the helper holds are listed, with nothing
    personal; Claim takes one, which then shows on the home page with the resident's details."""
    me, other = world.helper_ids[0], world.helper_ids[1]
    with sessions() as session:
        session.get_one(HelperRow, me).skills = ["companionship"]
        session.commit()
        fits = claims.claimable_orders(session, settings, me, page_size=100)
        theirs = claims.claimable_orders(session, settings, other, page_size=100)
        both = {c.order_id for c in theirs.items} & {c.order_id for c in fits.items}
        taken = next(c.order_id for c in fits.items if c.order_id in both and c.team_size == 1)
        claims.claim_single(session, settings, other, taken)
        orders = session.scalars(select(OrderRow)).all()
        skills = {i.code: set(i.required_skills) for i in session.scalars(select(ItemRow))}
        unfit = {o.id for o in orders if not skills[o.item] <= {"companionship"}}
        people = [(o.resident.name, o.resident.address, o.resident.phone) for o in orders]
    log_in(client, sessions, me)
    page = client.get("/v/claim")
    shown = listed(page, "order")
    assert shown == {c.order_id for c in fits.items} - {taken}
    assert taken not in shown and unfit and not unfit & shown
    assert not any(v in page.text for person in people for v in person)
    single = next(c for c in fits.items if c.order_id in shown and not c.needs_teammates)
    home = client.post(f"/v/claim/{single.order_id}")
    assert home.url.path == "/v/" and "认领成功" in home.text
    with sessions() as session:
        order = session.get_one(OrderRow, single.order_id)
        assert order.status == "assigned"
        offer = session.scalars(
            select(OfferRow).where(OfferRow.helper_id == me, OfferRow.status == "accepted")
        ).one()
        assert offer.assignment.order_id == order.id
        name = order.resident.name
    html = card(home, f"offer-{offer.id}")
    assert html is not None and name in html
    assert single.order_id not in listed(client.get("/v/claim"), "order")


def test_a_clashing_bundle_is_refused_with_the_reason(
    client: TestClient, sessions: Sessions, world: World, day: dt.date
) -> None:
    """Two ticked fixed visits that overlap are refused together with the service's reason
    naming both; both stay open."""
    me = world.helper_ids[0]
    with sessions() as session:
        resident = session.scalars(select(ResidentRow).order_by(ResidentRow.id)).first()
        assert resident is not None
        session.get_one(HelperRow, me).skills = ["companionship"]
        first = add_order(session, resident, "S06", (600, 660))
        second = add_order(session, resident, "S06", (615, 675))
        session.commit()
    log_in(client, sessions, me)
    page = client.get("/v/claim")
    for order_id in (first, second):
        html = card(page, f"order-{order_id}")
        assert html is not None and f'value="{order_id}" form="bundle"' in html
    refused = client.post("/v/claim/bundle", data={"order_ids": [str(first), str(second)]})
    assert refused.url.path == "/v/claim"
    assert "打包的订单时间冲突" in refused.text and f"订单 {first} 与 {second}" in refused.text
    with sessions() as session:
        assert {session.get_one(OrderRow, o).status for o in (first, second)} == {"open"}


# ----------------------------------------------------------------------------- points


def test_points_page_shows_the_balance_and_history(
    client: TestClient, sessions: Sessions, world: World
) -> None:
    """The balance is the sum of the helper's entries; each entry shows its amount and reason."""
    me = world.helper_ids[0]
    staff = staff_actor(sessions, world)
    with sessions() as session:
        points.grant_bonus(session, staff, me, 7, "帮忙搬桌子")
        points.grant_bonus(session, staff, me, 3, "社区活动")
        points.grant_bonus(session, staff, world.helper_ids[1], 50, "别人的积分")
    as_user(client, "helper1")
    page = client.get("/v/points")
    assert page.status_code == 200
    assert re.search(r'<strong id="balance">\s*10\s*</strong>', page.text)
    assert "帮忙搬桌子" in page.text and "+7" in page.text and "+3" in page.text
    assert "别人的积分" not in page.text


# ----------------------------------------------------------------------------- other roles


def test_other_roles_see_no_volunteer_data(
    client: TestClient, sessions: Sessions, world: World, offered: None
) -> None:
    """Staff, planners and residents are sent to their own pages, a visitor the login page;
    none of them can answer an offer."""
    _, mine = busiest(sessions)
    offer_id = mine[0].offer_id
    for username in ("staff", "planner"):
        as_user(client, username)
        for path in ("/v/", "/v/claim", "/v/points"):
            response = client.get(path, follow_redirects=False)
            assert response.status_code == 303 and response.headers["location"] == "/s/"
        answer = client.post(f"/v/offers/{offer_id}/accept", follow_redirects=False)
        assert answer.headers["location"] == "/s/"
    with sessions() as session:
        resident_id = session.scalars(select(ResidentRow.id)).first()
        add_user(session, "resident1", PASSWORD, "resident", resident_id=resident_id)
        session.commit()
    as_user(client, "resident1")
    for path in ("/v/", "/v/claim", "/v/points"):  # a resident's home is /r/
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/r/"
    answer = client.post(f"/v/offers/{offer_id}/accept", follow_redirects=False)
    assert answer.headers["location"] == "/r/"
    client.cookies.clear()
    visitor = client.get("/v/", follow_redirects=False)
    assert visitor.headers["location"] == "/login?next=/v/"
    assert offer_status(sessions, offer_id)[0] == "pending"


# ----------------------------------------------------------------------------- dates


def test_a_date_of_another_year_shows_its_year(settings: Settings) -> None:
    """A card's day names the year when it is not this year (3000-01-01 never reads as
    "1月1日"), and leaves it out for this year's dates, in both languages."""
    today = local_today(settings)
    far, near = dt.date(3000, 1, 1), today + dt.timedelta(days=3)
    for lang, wanted in (("zh", "3000年1月1日 周三"), ("en", "Wed 1 Jan 3000")):
        cookie = f"{LANG_COOKIE}={lang}".encode()
        request = Request({"type": "http", "headers": [(b"cookie", cookie)]})
        with i18n.use_locale(locale_of(request)):  # as the middleware sets it
            day = volunteer._calendar(request, settings)["day"]
        assert day(far) == wanted
        if near.year == today.year:
            assert str(near.year) not in day(near)


# ----------------------------------------------------------------------------- the order's note


def test_the_orders_note_reaches_the_helper_only_after_accepting(
    client: TestClient, sessions: Sessions, offered: None
) -> None:
    """The order's note (it may hold private details) is on neither the card nor
    ``GET /me/offers/{id}`` while the offer is pending; once accepted both show it, and the
    other pending cards still hide their notes."""
    helper_id, mine = busiest(sessions)
    first, others = mine[0], mine[1:]
    notes = {p.offer_id: f"钥匙在门口地垫下 {p.order_id}" for p in mine}
    with sessions() as session:
        for pending in mine:
            session.get_one(OrderRow, pending.order_id).note = notes[pending.offer_id]
        session.commit()
    log_in(client, sessions, helper_id)
    with sessions() as session:
        username = session.scalars(select(UserRow.username).where(UserRow.helper_id == helper_id))
        headers = login(client, username.one())
    before = client.get(f"/me/offers/{first.offer_id}", headers=headers)
    assert before.json()["note"] is None and notes[first.offer_id] not in before.text
    page = client.get("/v/")
    assert not any(note in page.text for note in notes.values())
    accepted = client.post(f"/v/offers/{first.offer_id}/accept")
    assert notes[first.offer_id] in (card(accepted, f"offer-{first.offer_id}") or "")
    assert not any(notes[p.offer_id] in accepted.text for p in others)
    after = client.get(f"/me/offers/{first.offer_id}", headers=headers).json()
    assert after["note"] == notes[first.offer_id]
    listing = client.get("/me/offers", headers=headers).json()["items"]
    assert {o["id"]: o["note"] for o in listing if o["status"] == "pending"} == {
        p.offer_id: None for p in others
    }
