"""The resident pages (``/r``) through the HTTP client: the home by role, my orders (upcoming
first, status in plain words, helpers by first name only once arranged), ordering from the
catalogue (the service's checks shown in the page's language, never a 500), cancelling and
rating my own orders only (another's is a 404, nothing changes)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.http.locale import LANG_COOKIE
from api.http.pages.render import csrf_token
from api.services.accounts.auth import add_user
from api.services.offers.assign import create_assignment, local_today, refresh_order_status
from api.services.orders import first_name
from api.settings import Settings
from api.store.statuses import AssignmentStatus, OfferStatus, OrderStatus
from api.store.tables import (
    FeedbackRow,
    FollowUpRow,
    HelperRow,
    ItemRow,
    OfferRow,
    OrderRow,
    ResidentRow,
    UserRow,
    utcnow,
)
from tests.api.conftest import PASSWORD, StateContext, World, database_state
from tests.api.loop_support import make_roomy

Sessions = sessionmaker[Session]


def _residents(state: StateContext) -> tuple[int, int]:
    """Accounts ``resident1`` and ``resident2`` for the two residents with the most orders; all
    their orders dated from tomorrow on (the pages run on the real clock)."""
    with state.sessions() as session:
        rows = session.execute(select(OrderRow.resident_id, OrderRow.id).order_by(OrderRow.id))
        by_resident: dict[int, list[int]] = {}
        for resident_id, order_id in rows:
            by_resident.setdefault(resident_id, []).append(order_id)
        first, second = sorted(by_resident, key=lambda r: (-len(by_resident[r]), r))[:2]
        tomorrow = local_today(state.settings) + dt.timedelta(days=1)
        for n, order_id in enumerate(by_resident[first] + by_resident[second]):
            session.get_one(OrderRow, order_id).date = tomorrow + dt.timedelta(days=n % 3)
        add_user(session, "resident1", PASSWORD, "resident", resident_id=first)
        add_user(session, "resident2", PASSWORD, "resident", resident_id=second)
        session.commit()
    return first, second


residents = database_state("residents", _residents)


def as_user(client: TestClient, username: str, lang: str = "zh") -> Response:
    client.cookies.clear()
    response = client.post(
        "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    client.headers["X-CSRF-Token"] = csrf_token(client.cookies["qb_token"])  # as the forms do
    client.cookies.set(LANG_COOKIE, lang)
    return response


def orders_of(sessions: Sessions, resident_id: int) -> list[OrderRow]:
    with sessions() as session:
        return list(
            session.scalars(
                select(OrderRow).where(OrderRow.resident_id == resident_id).order_by(OrderRow.id)
            )
        )


def card_ids(page: Response) -> list[int]:
    return [int(n) for n in re.findall(r'<li class="card" id="order-(\d+)">', page.text)]


def tomorrow(settings: Settings) -> dt.date:
    return local_today(settings) + dt.timedelta(days=1)


# ----------------------------------------------------------------------------- home and scope


def test_each_role_lands_on_its_home(
    client: TestClient, sessions: Sessions, residents: tuple[int, int]
) -> None:
    """A resident logs in to /r/; staff and helpers asking for /r/ go to their own homes; a
    resident asking for /v/ comes back to /r/; a visitor goes to the login page."""
    assert as_user(client, "resident1").headers["location"] == "/r/"
    assert client.get("/v/", follow_redirects=False).headers["location"] == "/r/"
    for username, home in (("staff", "/s/"), ("planner", "/s/"), ("helper1", "/v/")):
        as_user(client, username)
        for path in ("/r/", "/r/order"):
            response = client.get(path, follow_redirects=False)
            assert response.status_code == 303 and response.headers["location"] == home
    client.cookies.clear()
    assert client.get("/r/", follow_redirects=False).headers["location"] == "/login?next=/r/"


def test_my_orders_are_mine_only_soonest_first(
    client: TestClient, sessions: Sessions, residents: tuple[int, int]
) -> None:
    """The home lists exactly the resident's own orders, upcoming ones by date, each with its
    status in plain words (never the raw code)."""
    mine, theirs = residents
    as_user(client, "resident1")
    page = client.get("/r/")
    assert page.status_code == 200
    own = orders_of(sessions, mine)
    shown = card_ids(page)
    assert sorted(shown) == sorted(o.id for o in own)
    dates = {o.id: o.date for o in own}
    assert [dates[i] for i in shown] == sorted(dates[i] for i in shown)
    assert not set(shown) & {o.id for o in orders_of(sessions, theirs)}
    assert "等待安排志愿者" in page.text or "正在联系志愿者" in page.text
    assert not re.search(r">\s*(open|offered|assigned)\s*<", page.text)


def arrange(
    sessions: Sessions, settings: Settings, world: World, resident_id: int, *,
    accepted: bool, done: bool = False,
) -> tuple[int, str]:  # fmt: skip
    """Give the resident's first one-person order a team of one helper (asked, or accepted,
    or with the visit done today); returns the order's id and the helper's full name."""
    make_roomy(sessions)  # any helper may serve it (the invariant checker looks)
    with sessions() as session:
        order = session.scalars(
            select(OrderRow)
            .join(ItemRow, ItemRow.code == OrderRow.item)
            .where(OrderRow.resident_id == resident_id, ItemRow.team_size == 1)
            .order_by(OrderRow.id)
        ).first()
        assert order is not None
        if done:
            order.date = local_today(settings)
        helper = session.get_one(HelperRow, world.helper_ids[0])
        assignment = create_assignment(
            session, settings, order, [helper.id], source="manual",
            start_minute=order.window_start, accepted=[helper.id] if accepted else [],
        )  # fmt: skip
        if done:
            assignment.status, assignment.done_at = AssignmentStatus.DONE, utcnow()
        session.flush()
        refresh_order_status(session, order)
        session.commit()
        return order.id, helper.name


def test_helpers_are_named_by_first_name_once_arranged(
    client: TestClient, sessions: Sessions, settings: Settings, world: World,
    residents: tuple[int, int],
) -> None:  # fmt: skip
    """While helpers are only asked nobody is named; once the team accepted, the card shows
    each helper's first name (surname, the rest masked) and never the full name."""
    mine, _ = residents
    order_id, name = arrange(sessions, settings, world, mine, accepted=False)
    as_user(client, "resident1")
    card = _card(client.get("/r/"), order_id)
    assert "正在联系志愿者" in card and first_name(name) not in card and name not in card
    with sessions() as session:
        for offer in session.scalars(
            select(OfferRow).where(OfferRow.helper_id == world.helper_ids[0])
        ):
            offer.status = OfferStatus.ACCEPTED
        session.flush()
        refresh_order_status(session, session.get_one(OrderRow, order_id))
        session.commit()
    card = _card(client.get("/r/"), order_id)
    assert "已安排志愿者" in card and first_name(name) in card
    assert name not in card or len(name) == 1


def _card(page: Response, order_id: int) -> str:
    found = re.search(rf'<li class="card" id="order-{order_id}">(.*?)</li>', page.text, re.S)
    assert found, f"no card for order {order_id}"
    return found.group(1)


def test_first_name_hides_the_rest() -> None:
    """A Chinese name keeps its surname and masks the rest; a Western name keeps its first word."""
    assert first_name("王小明") == "王**"
    assert first_name("Anna Smith") == "Anna"
    assert first_name(" 李 ") == "李"


# ----------------------------------------------------------------------------- ordering


def test_the_order_form_offers_the_catalogue_by_category(
    client: TestClient, settings: Settings, residents: tuple[int, int]
) -> None:
    """The form shows categories with their items as radio cards, tomorrow as the default day,
    the time choices and a note, in Chinese."""
    as_user(client, "resident1")
    page = client.get("/r/order")
    assert page.status_code == 200
    assert page.text.count('type="radio" name="item"') >= 5
    assert page.text.count('<details class="group"') >= 2
    assert f'value="{tomorrow(settings).isoformat()}"' in page.text
    assert "任何时间" in page.text and 'name="note"' in page.text


def test_ordering_places_the_order_and_lists_it(
    client: TestClient, sessions: Sessions, settings: Settings, residents: tuple[int, int]
) -> None:
    """A sent form places the order for the resident (item, day, morning window, note) through
    the service and the home lists it with a thank-you."""
    mine, _ = residents
    day = tomorrow(settings) + dt.timedelta(days=4)
    as_user(client, "resident1")
    form = {"item": "L01", "date": day.isoformat(), "window": "morning", "note": "按两次门铃"}
    sent = client.post("/r/order", data=form, follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"].startswith("/r/?msg=")
    placed = orders_of(sessions, mine)[-1]
    assert (placed.item, placed.date, placed.note) == ("L01", day, "按两次门铃")
    assert (placed.window_start, placed.window_end, placed.flexible) == (480, 720, True)
    with sessions() as session:
        user = session.scalars(select(UserRow).where(UserRow.username == "resident1")).one()
        assert placed.placed_by == user.id
    home = client.get(sent.headers["location"])
    assert "已下单" in home.text and placed.id in card_ids(home)
    assert "08:00" in _card(home, placed.id) and "按两次门铃" in _card(home, placed.id)
    any_time = client.post("/r/order", data=form | {"window": "any"}, follow_redirects=False)
    assert any_time.status_code == 303
    last = orders_of(sessions, mine)[-1]
    assert last.window_start is None and last.window_end is None


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_bad_input_is_told_on_the_form(
    client: TestClient, sessions: Sessions, settings: Settings, residents: tuple[int, int],
    lang: str,
) -> None:  # fmt: skip
    """A bad date, a day outside the horizon, an unknown item, no item, a made-up time of day or
    a long note: the form again (422) with a message in the page's language, nothing placed."""
    mine, _ = residents
    before = len(orders_of(sessions, mine))
    as_user(client, "resident1", lang)
    day = tomorrow(settings).isoformat()
    cases = {
        "garbage": ({"item": "L01", "date": "31/02/2026"}, "请选择日期", "Please choose a date"),
        "past": ({"item": "L01", "date": "2000-01-01"}, "不能早于今天", "in the past"),
        "far": ({"item": "L01", "date": "3000-01-01"}, "最晚为", "too far ahead"),
        "unknown": ({"item": "NOPE", "date": day}, "NOPE", "NOPE"),
        "none": ({"date": day}, "请选择服务", "Please choose a service"),
        "window": ({"item": "L01", "date": day, "window": "night"}, "请选择时间", "time of day"),
        "note": ({"item": "L01", "date": day, "note": "x" * 501}, "太长", "too long"),
    }
    for name, (form, zh, en) in cases.items():
        response = client.post("/r/order", data=form)
        assert response.status_code == 422, (name, response.status_code)
        assert (zh if lang == "zh" else en) in response.text, (name, response.text[-2000:])
        assert 'class="alert"' in response.text
    assert len(orders_of(sessions, mine)) == before


# ----------------------------------------------------------------------------- cancel


def test_a_resident_cancels_an_own_order_with_a_reason(
    client: TestClient, sessions: Sessions, residents: tuple[int, int]
) -> None:
    """Cancelling an upcoming order of mine stores the reason in both languages; without a
    reason it is refused; a cancelled order shows as cancelled with no cancel form."""
    mine, _ = residents
    order = orders_of(sessions, mine)[0]
    as_user(client, "resident1")
    path = f"/r/orders/{order.id}/cancel"
    refused = client.post(path, data={"reason": ""}, follow_redirects=False)
    assert "err=" in refused.headers["location"]
    assert orders_of(sessions, mine)[0].status != OrderStatus.CANCELLED
    done = client.post(path, data={"reason": "plans_changed", "note": "住院了"})
    assert done.status_code == 200 and "订单已取消" in done.text
    row = orders_of(sessions, mine)[0]
    assert row.status == OrderStatus.CANCELLED
    assert row.cancel_reason == "我的安排变了 / My plans changed — 住院了"
    card = _card(done, order.id)
    assert "已取消" in card and "/cancel" not in card
    again = client.post(path, data={"reason": "plans_changed"})
    assert again.status_code == 200 and 'class="alert"' in again.text


def test_another_residents_order_is_not_found(
    client: TestClient, sessions: Sessions, residents: tuple[int, int]
) -> None:
    """Cancelling or rating another resident's order, or one that does not exist, is a 404
    page and changes nothing; a number out of range is refused without a server error."""
    _, theirs = residents
    other = orders_of(sessions, theirs)[0]
    as_user(client, "resident1")
    for action, form in (("cancel", {"reason": "not_needed"}), ("rate", {"score": "5"})):
        for order_id in (other.id, 99999999):
            response = client.post(f"/r/orders/{order_id}/{action}", data=form)
            assert response.status_code == 404, (action, order_id)
            assert "未找到" in response.text
        for bad in ("abc", "99999999999999999999", "0"):
            response = client.post(f"/r/orders/{bad}/{action}", data=form)
            assert 400 <= response.status_code < 500, (action, bad)
    assert orders_of(sessions, theirs)[0].status == other.status
    with sessions() as session:
        assert session.scalar(select(FeedbackRow).where(FeedbackRow.order_id == other.id)) is None


# ----------------------------------------------------------------------------- rating


def test_a_done_visit_is_rated_once(
    client: TestClient, sessions: Sessions, settings: Settings, world: World,
    residents: tuple[int, int],
) -> None:  # fmt: skip
    """A done order shows the rating form; a score of 2 with a comment is recorded through the
    feedback service (which schedules a follow-up), shown on the card, and a second rating, a
    bad score or rating an order not done yet is refused with a message."""
    mine, _ = residents
    done_id, _ = arrange(sessions, settings, world, mine, accepted=True, done=True)
    first = next(o for o in orders_of(sessions, mine) if o.id == done_id)
    second = next(o for o in orders_of(sessions, mine) if o.id != done_id)
    as_user(client, "resident1")
    home = client.get("/r/")
    assert f"/r/orders/{first.id}/rate" in home.text
    assert f"/r/orders/{second.id}/rate" not in home.text
    path = f"/r/orders/{first.id}/rate"
    bad = client.post(path, data={"score": "9"}, follow_redirects=False)
    assert "err=" in bad.headers["location"]
    rated = client.post(path, data={"score": "2", "comment": "来晚了"})
    assert rated.status_code == 200 and "谢谢您的评价" in rated.text
    card = _card(rated, first.id)
    assert "2 分" in card and "/rate" not in card
    with sessions() as session:
        feedback = session.scalars(
            select(FeedbackRow).where(FeedbackRow.order_id == first.id)
        ).one()
        assert (feedback.score, feedback.comment) == (2, "来晚了")
        follow_up = session.scalar(select(FollowUpRow).where(FollowUpRow.order_id == first.id))
        assert follow_up is not None
    twice = client.post(path, data={"score": "5"})
    assert 'class="alert"' in twice.text and "该订单已评价" in twice.text
    early = client.post(f"/r/orders/{second.id}/rate", data={"score": "4"})
    assert 'class="alert"' in early.text and "尚未完成" in early.text


def test_a_deactivated_resident_is_told_on_the_form(
    client: TestClient, sessions: Sessions, residents: tuple[int, int]
) -> None:
    """A resident deactivated by staff still sees the form, with the reason, and cannot order."""
    mine, _ = residents
    with sessions() as session:
        session.get_one(ResidentRow, mine).active = False
        session.commit()
    as_user(client, "resident1")
    page = client.get("/r/order")
    assert page.status_code == 200 and 'class="alert"' in page.text
