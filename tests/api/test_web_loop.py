"""Closing the loop from the staff pages (五定闭环), through the HTTP client: the order list
(filters, pages, scope), one order's page and its actions (cancel with a reason, confirm done,
feedback a resident phoned in), confirming many at once, the points on a helper's page (bonus,
reversal), and the volunteer's inbox. Every refusal shows on the page in the reader's language:
never a 500, never JSON."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from api.http.locale import LANG_COOKIE
from api.http.pages import staff_orders
from api.services import orders
from api.services.circles.totals import refresh_orders
from api.services.closing import points
from api.services.closing import visits as closing
from api.services.errors import BadInput, ServiceError
from api.services.messages.notify import enqueue
from api.services.offers import dispatch
from api.services.offers.assign import local_today
from api.settings import Settings
from api.store.tables import (
    AuditEntry,
    FeedbackRow,
    FollowUpRow,
    HelperRow,
    OrderRow,
    PointsEntry,
)
from tests.api.conftest import DATE, World
from tests.api.loop_support import staff_actor
from tests.api.test_closing import done_order
from tests.api.test_orders import first_resident, make_other_resident, new_order
from tests.api.test_web_staff import web_login

Sessions = sessionmaker[Session]
H04_POINTS = 25  # H04's base points (a team of two) in seeds/catalogue.yaml


# ----------------------------------------------------------------------------- arranging


def page_of(response: Response) -> str:
    """The page's text, checked to be a page (not JSON, not a server error)."""
    assert response.status_code < 500, response.text[:300]
    assert "text/html" in response.headers["content-type"], response.text[:300]
    return unescape(response.text)


def alert(page: str) -> str:
    """The error the page shows (its role="alert" paragraph), or ""."""
    found = re.search(r'<p class="alert" role="alert">(.*?)</p>', page, re.S)
    return found.group(1) if found else ""


def notice(page: str) -> str:
    """The message the page shows (its role="status" paragraph), or ""."""
    found = re.search(r'<p class="notice" role="status">(.*?)</p>', page, re.S)
    return found.group(1) if found else ""


def listed(page: str) -> list[int]:
    """The order ids of the list's rows, in order."""
    return [int(i) for i in re.findall(r'<tr id="order-(\d+)">', page)]


def status_of(sessions: Sessions, order_id: int) -> str:
    with sessions() as session:
        return session.get_one(OrderRow, order_id).status


def open_order(sessions: Sessions, settings: Settings, world: World) -> int:
    """A new open order of the first resident, dated DATE."""
    with sessions() as session:
        return new_order(session, settings, first_resident(session, world).id).id


def other_community_order(sessions: Sessions, settings: Settings, world: World) -> int:
    """An open order of a resident in a second community (which staff_c1 may not see)."""
    resident_id = make_other_resident(sessions, world)
    with sessions() as session:
        return new_order(session, settings, resident_id).id


def english(client: TestClient) -> None:
    client.cookies.set(LANG_COOKIE, "en")


# ----------------------------------------------------------------------------- the list


def test_the_list_filters_by_date_status_and_community(
    client: TestClient, sessions: Sessions, settings: Settings, world: World
) -> None:
    """The list opens on the orders from a week ago on; dates, status and community narrow it
    to exactly the orders of the database that match; each row links to its order's page."""
    web_login(client, "staff")
    with sessions() as session:
        session.execute(update(OrderRow).values(date=local_today(settings)))
        session.commit()
        old = new_order(session, settings, first_resident(session, world).id, date=DATE).id
        session.execute(
            update(OrderRow)
            .where(OrderRow.id == old)
            .values(date=local_today(settings) - dt.timedelta(days=30))
        )
        session.commit()
        everything = set(session.scalars(select(OrderRow.id)))
    opened = page_of(client.get("/s/orders"))
    week_ago = (local_today(settings) - dt.timedelta(days=7)).isoformat()
    assert f'name="date_from" value="{week_ago}"' in opened
    assert set(listed(opened)) == everything - {old}
    assert f'href="/s/orders/{listed(opened)[0]}"' in opened
    allof = page_of(client.get("/s/orders", params={"date_from": ""}))
    assert set(listed(allof)) == everything
    old_day = (local_today(settings) - dt.timedelta(days=30)).isoformat()
    one_day = page_of(client.get("/s/orders", params={"date_from": old_day, "date_to": old_day}))
    assert listed(one_day) == [old]
    with sessions() as session:
        offered = set(session.scalars(select(OrderRow.id).where(OrderRow.status == "offered")))
    by_status = page_of(client.get("/s/orders", params={"date_from": "", "status": "offered"}))
    assert set(listed(by_status)) == offered
    second = other_community_order(sessions, settings, world)
    mine = {"date_from": "", "community_id": str(world.communities[0])}
    assert second not in listed(page_of(client.get("/s/orders", params=mine)))
    theirs = page_of(client.get("/s/orders", params={"date_from": "", "community_id": "99999"}))
    assert listed(theirs) == []


def test_the_list_pages_cover_every_order_once(
    client: TestClient, sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With 15 orders a page, the pages of the list hold every order exactly once; a page
    number past the end or not a number still answers with a page."""
    monkeypatch.setattr(staff_orders, "ORDERS_PER_PAGE", 15)
    web_login(client, "staff")
    with sessions() as session:
        total = session.scalar(select(func.count()).select_from(OrderRow))
    seen: list[int] = []
    for number in range(1, 5):
        page = page_of(client.get("/s/orders", params={"date_from": "", "page": number}))
        seen += listed(page)
    assert sorted(seen) == sorted(set(seen)) and len(seen) == total == 40
    assert 'rel="next"' in page_of(client.get("/s/orders?date_from=&page=1"))
    for odd in ("abc", "99999999999999999999", "-1"):
        assert page_of(client.get(f"/s/orders?date_from=&page={odd}"))


def test_bad_filters_are_named_and_left_out(client: TestClient) -> None:
    """A date that is not one is named on the page (the other filters still apply); an
    unknown status or community number is ignored; nothing answers 500."""
    web_login(client, "staff")
    page = page_of(client.get("/s/orders", params={"date_from": "garbage", "status": "x"}))
    assert "garbage" in alert(page) and "日期" in alert(page)
    assert len(listed(page)) == 40
    page = page_of(client.get("/s/orders", params={"community_id": "1" * 30, "date_from": ""}))
    assert len(listed(page)) == 40


def test_community_staff_see_only_their_community(
    client: TestClient, sessions: Sessions, settings: Settings, world: World
) -> None:
    """Community staff: the list holds their community's orders only (whatever community is
    asked for), another community's order and helper answer 404 as pages, and its actions are
    refused as "not found" without changing anything."""
    second = other_community_order(sessions, settings, world)
    with sessions() as session:
        far = session.get_one(OrderRow, second).resident.community_id
        stranger = session.scalars(select(HelperRow).order_by(HelperRow.id)).first()
        assert stranger is not None
        stranger.community_id = far
        session.commit()
        stranger_id = stranger.id
    web_login(client, "staff_c1")
    page = page_of(client.get("/s/orders", params={"date_from": ""}))
    assert second not in listed(page) and len(listed(page)) == 40
    assert listed(page_of(client.get(f"/s/orders?date_from=&community_id={far}"))) == []
    for path in (f"/s/orders/{second}", f"/s/helpers/{stranger_id}"):
        response = client.get(path)
        assert response.status_code == 404 and "text/html" in response.headers["content-type"]
    refused = page_of(client.post(f"/s/orders/{second}/cancel", data={"reason": "试试"}))
    assert alert(refused) == f"未找到订单（{second}）"
    bonus = page_of(
        client.post(f"/s/helpers/{stranger_id}/bonus", data={"amount": "5", "reason": "x"})
    )
    assert alert(bonus)
    assert status_of(sessions, second) == "open"
    with sessions() as session:
        assert points.balance(session, stranger_id) == 0
    web_login(client, "staff")
    assert client.get(f"/s/orders/{second}").status_code == 200


# ----------------------------------------------------------------------------- one order


def test_the_order_page_shows_the_team_the_result_and_the_steps_its_state_allows(
    client: TestClient, sessions: Sessions, settings: Settings, world: World
) -> None:
    """A done order shows its item, resident, date and window, each member with their answer,
    the time it was marked done, and offers confirm and feedback but not cancel; an open order
    offers only cancel."""
    order_id, team = done_order(sessions, settings, world)
    web_login(client, "staff")
    page = page_of(client.get(f"/s/orders/{order_id}"))
    with sessions() as session:
        order = session.get_one(OrderRow, order_id)
        names = [session.get_one(HelperRow, h).name for h in team]
        resident = order.resident.name
    for text in (*names, resident, DATE.isoformat(), "09:00–10:00", "已接受", "已完成"):
        assert text in page, text
    assert f'action="/s/orders/{order_id}/confirm"' in page
    assert f'action="/s/orders/{order_id}/feedback"' in page
    assert f'action="/s/orders/{order_id}/cancel"' not in page
    fresh = open_order(sessions, settings, world)
    page = page_of(client.get(f"/s/orders/{fresh}"))
    assert f'action="/s/orders/{fresh}/cancel"' in page
    assert "/confirm" not in page and "/feedback" not in page
    assert "还没有团队" in page


def test_cancel_needs_a_reason_and_shows_it(
    client: TestClient, sessions: Sessions, settings: Settings, world: World
) -> None:
    """Cancelling without a reason is refused on the page; with one the order is cancelled,
    the reason shows, and a second cancel is refused with the service's words."""
    order_id = open_order(sessions, settings, world)
    web_login(client, "staff")
    page = page_of(client.post(f"/s/orders/{order_id}/cancel", data={"reason": "  "}))
    assert "原因" in alert(page) and status_of(sessions, order_id) == "open"
    page = page_of(client.post(f"/s/orders/{order_id}/cancel", data={"reason": "x" * 1001}))
    assert "1000" in alert(page) and status_of(sessions, order_id) == "open"
    page = page_of(client.post(f"/s/orders/{order_id}/cancel", data={"reason": "老人住院了"}))
    assert f"订单 {order_id} 已取消" in notice(page)
    assert "老人住院了" in page and status_of(sessions, order_id) == "cancelled"
    again = page_of(client.post(f"/s/orders/{order_id}/cancel", data={"reason": "再来"}))
    assert "不能取消" in alert(again) and "cancelled" not in alert(again)  # the status's label


def test_confirm_credits_the_team_once_and_a_second_confirm_is_refused(
    client: TestClient, sessions: Sessions, settings: Settings, world: World
) -> None:
    """Confirm done from the order page: the order is confirmed, each member gets the item's
    points once, the page shows the confirmation; confirming again shows the service's error
    in English after the switch, not a 409 as JSON."""
    order_id, team = done_order(sessions, settings, world)
    web_login(client, "staff")
    page = page_of(client.post(f"/s/orders/{order_id}/confirm"))
    assert f"订单 {order_id} 的上门服务已确认" in notice(page)
    assert status_of(sessions, order_id) == "confirmed"
    with sessions() as session:
        assert [points.balance(session, h) for h in team] == [H04_POINTS, H04_POINTS]
    english(client)
    again = page_of(client.post(f"/s/orders/{order_id}/confirm"))
    assert alert(again) == f"order {order_id} was confirmed already"
    with sessions() as session:
        assert [points.balance(session, h) for h in team] == [H04_POINTS, H04_POINTS]


def test_confirm_before_the_visit_day_shows_the_services_rule(
    client: TestClient, sessions: Sessions, settings: Settings, world: World
) -> None:
    """A done visit dated tomorrow cannot be confirmed yet: the page shows the service's rule
    (naming the day) and the order stays done."""
    order_id, _team = done_order(sessions, settings, world)
    tomorrow = local_today(settings) + dt.timedelta(days=1)
    with sessions() as session:
        session.execute(update(OrderRow).where(OrderRow.id == order_id).values(date=tomorrow))
        refresh_orders(session, [order_id])  # the circle totals follow the history written here
        session.commit()
    web_login(client, "staff")
    page = page_of(client.post(f"/s/orders/{order_id}/confirm"))
    assert "当天起才能确认" in alert(page)
    assert status_of(sessions, order_id) == "done"


def test_feedback_for_a_resident_who_phoned(
    client: TestClient, sessions: Sessions, settings: Settings, world: World
) -> None:
    """Staff enter a score of 2 and a comment: stored once, shown on the page, and a follow-up
    visit is scheduled (said on the page); a score out of 1–5, not a number or missing is a
    clear message and stores nothing; a second feedback is refused."""
    order_id, _team = done_order(sessions, settings, world)
    web_login(client, "staff")
    url = f"/s/orders/{order_id}/feedback"
    for score, words in (("9", "1 到 5"), ("abc", "整数"), ("", "1 到 5"), ("0", "1 到 5")):
        page = page_of(client.post(url, data={"score": score, "comment": "x"}))
        assert words in alert(page), (score, alert(page))
    page = page_of(client.post(url, data={"score": "3", "comment": "x" * 2001}))
    assert "2000" in alert(page)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(FeedbackRow)) == 0
    page = page_of(client.post(url, data={"score": "2", "comment": "来晚了一个小时"}))
    assert "回访" in notice(page) and "2 分" in notice(page)
    assert "来晚了一个小时" in page and 'id="score">2 分' in page
    assert f'action="/s/orders/{order_id}/feedback"' not in page
    with sessions() as session:
        given = session.scalars(select(FeedbackRow)).one()
        assert (given.score, given.comment) == (2, "来晚了一个小时")
        assert session.scalar(select(func.count()).select_from(FollowUpRow)) == 1
    again = page_of(client.post(url, data={"score": "5"}))
    assert alert(again) == f"该订单已评价（{order_id}）"


def test_odd_addresses_answer_with_pages(client: TestClient) -> None:
    """An order number that is not one, or past every id, answers a page in the reader's
    language (422), an unknown one "not found" (404); posts to them are refused on a page."""
    web_login(client, "staff")
    for path, status in (
        ("/s/orders/abc", 422),
        ("/s/orders/99999999999999999999", 422),
        ("/s/orders/0", 422),
        ("/s/orders/99999999", 404),
        ("/s/helpers/99999999", 404),
    ):
        response = client.get(path)
        assert response.status_code == status, path
        assert "text/html" in response.headers["content-type"], path
    for path in ("/s/orders/99999999/confirm", "/s/orders/99999999/cancel"):
        page = page_of(client.post(path, data={"reason": "x"}))
        assert alert(page) == "未找到订单（99999999）", path
    response = client.post("/s/orders/99999999999999999999/confirm")
    assert response.status_code == 422 and "无法读取您提交的内容" in page_of(response)


# ----------------------------------------------------------------------------- many at once


def test_confirm_many_confirms_the_done_ones_and_names_the_refused(
    client: TestClient, sessions: Sessions, settings: Settings, world: World
) -> None:
    """Two done orders and an open one ticked together: the done ones are confirmed, each
    through the same service call (base points, audit), the open one is named with its
    resident and the reason; back on the same list."""
    first, team = done_order(sessions, settings, world)
    second, _ = done_order(sessions, settings, world, item="L01")
    fresh = open_order(sessions, settings, world)
    web_login(client, "staff")
    listing = page_of(client.get("/s/orders?date_from=&status=done"))
    assert f'name="order_ids" value="{first}"' in listing
    assert f'name="order_ids" value="{second}"' in listing
    back_to = "/s/orders?date_from=&status=done"
    response = client.post(
        "/s/orders/confirm",
        data={"order_ids": [str(first), str(fresh), str(second)], "next": back_to},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith(back_to)
    page = page_of(client.get(response.headers["location"]))
    assert "2 次上门服务已确认" in notice(page)
    with sessions() as session:
        resident = session.get_one(OrderRow, fresh).resident.name
    assert f"订单 {fresh}" in alert(page) and resident in alert(page)
    assert "未完成" in alert(page)
    assert [status_of(sessions, o) for o in (first, second, fresh)] == [
        "confirmed",
        "confirmed",
        "open",
    ]
    with sessions() as session:
        assert points.balance(session, team[0]) > 0
        confirms = session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "order.confirm")
        )
        assert confirms == 2


def test_confirm_many_takes_each_order_once_and_at_most_a_bounded_number(
    sessions: Sessions, settings: Settings, world: World
) -> None:
    """The service behind the page: an order ticked twice is confirmed once (the second
    mention is not a refusal); an unknown order is refused as not found; too many at once is
    refused before any is confirmed."""
    order_id, _team = done_order(sessions, settings, world)
    staff = staff_actor(sessions, world)
    with sessions() as session:
        too_many = list(range(1, closing.CONFIRM_MANY_MAX + 2))
        with pytest.raises(BadInput):
            closing.confirm_many(session, settings, staff, [order_id, *too_many])
        session.rollback()
        outcome = closing.confirm_many(session, settings, staff, [order_id, 99999999, order_id])
    assert [c.order_id for c in outcome.confirmed] == [order_id]
    assert [(r.order_id, r.order) for r in outcome.refused] == [(99999999, None)]
    assert status_of(sessions, order_id) == "confirmed"


STATES = ("open", "done", "done+feedback", "confirmed", "cancelled")


def order_in(sessions: Sessions, settings: Settings, world: World, state: str) -> int:
    """A new order in ``state`` (made through the services, as staff would)."""
    staff = staff_actor(sessions, world)
    if state in ("open", "cancelled"):
        order_id = open_order(sessions, settings, world)
        if state == "cancelled":
            with sessions() as session:
                dispatch.cancel_order(session, settings, staff, order_id, "不需要了")
        return order_id
    order_id, _team = done_order(sessions, settings, world, item="L01")
    with sessions() as session:
        if state == "done+feedback":
            closing.give_feedback(session, settings, staff, order_id, 4)
        if state == "confirmed":
            closing.confirm_done(session, settings, staff, order_id)
    return order_id


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_steps_a_page_offers_are_the_ones_the_services_allow(
    sessions: Sessions, settings: Settings, world: World
) -> None:
    """For an order in each state of the loop, ``next_steps`` offers cancel, confirm and
    feedback exactly when the service doing it succeeds (a page never shows a button the
    service refuses, nor hides one it allows)."""
    staff = staff_actor(sessions, world)
    actions = {
        "cancel": lambda s, o: dispatch.cancel_order(s, settings, staff, o, "测试"),
        "confirm": lambda s, o: closing.confirm_done(s, settings, staff, o),
        "feedback": lambda s, o: closing.give_feedback(s, settings, staff, o, 5),
    }
    for state in STATES:
        for action, run in actions.items():
            order_id = order_in(sessions, settings, world, state)
            with sessions() as session:
                detail = orders.get_order(session, staff, order_id)
                steps = closing.next_steps(detail.order.status, detail.feedback_score is not None)
                try:
                    run(session, order_id)
                    allowed = True
                except ServiceError:
                    session.rollback()
                    allowed = False
            assert getattr(steps, action) == allowed, (state, action)


def test_confirm_many_refuses_nothing_ticked_and_bad_numbers(client: TestClient) -> None:
    """Nothing ticked, or a number that is not one: a message on the list, nothing done."""
    web_login(client, "staff")
    page = page_of(client.post("/s/orders/confirm", data={"next": "/s/orders"}))
    assert "至少" in alert(page)
    page = page_of(client.post("/s/orders/confirm", data={"order_ids": ["1", "x"]}))
    assert "整数" in alert(page)
    page = page_of(client.post("/s/orders/confirm", data={"order_ids": ["9" * 25]}))
    assert "太大" in alert(page)
    away = client.post(
        "/s/orders/confirm", data={"next": "https://evil.example/"}, follow_redirects=False
    )
    assert away.headers["location"].startswith("/s/")


# ----------------------------------------------------------------------------- points


def test_bonus_and_reversal_on_the_helpers_page(
    client: TestClient, sessions: Sessions, world: World
) -> None:
    """Staff grant a bonus with a reason: it shows in the helper's ledger with the balance;
    reversing it (with a reason) brings the balance back and the entry shows as reversed, with
    no second reverse button; both are audited."""
    helper_id = world.helper_ids[0]
    web_login(client, "staff")
    page = page_of(client.get(f"/s/helpers/{helper_id}"))
    assert 'id="balance">0<' in page and "还没有积分" in page
    page = page_of(
        client.post(f"/s/helpers/{helper_id}/bonus", data={"amount": "7", "reason": "带头扫雪"})
    )
    assert "7 积分" in notice(page) and 'id="balance">7<' in page and "带头扫雪" in page
    with sessions() as session:
        entry = session.scalars(select(PointsEntry)).one()
    assert f'action="/s/points/{entry.id}/reverse"' in page
    page = page_of(
        client.post(
            f"/s/points/{entry.id}/reverse",
            data={"reason": "记错人了", "next": f"/s/helpers/{helper_id}"},
        )
    )
    assert 'id="balance">0<' in page and "记错人了" in page
    assert f'action="/s/points/{entry.id}/reverse"' not in page
    with sessions() as session:
        reversal = session.scalars(select(PointsEntry).where(PointsEntry.kind == "reversal")).one()
        actions = set(session.scalars(select(AuditEntry.action)))
    assert f"已由第 {reversal.id} 条冲正" in page
    assert {"points.bonus", "points.reverse"} <= actions
    again = page_of(client.post(f"/s/points/{entry.id}/reverse", data={"reason": "再冲"}))
    assert "已冲正" in alert(again)
    twice = page_of(client.post(f"/s/points/{reversal.id}/reverse", data={"reason": "冲"}))
    assert "不能再冲正" in alert(twice)


BAD_BONUSES = [  # amount, reason, words of the message
    ("", "x", "正整数"),
    ("abc", "x", "整数"),
    ("0", "x", "正整数"),
    ("-5", "x", "正整数"),
    ("2.5", "x", "整数"),
    ("100001", "x", "100000"),
    ("9" * 30, "x", "太大"),
    ("5", "  ", "原因"),
    ("5", "x" * 2001, "2000"),
]


def test_a_bad_bonus_is_a_clear_message(
    client: TestClient, sessions: Sessions, world: World
) -> None:
    """An amount that is not a whole number from 1 to 100000, or a missing or overlong reason,
    is named on the helper's page and grants nothing."""
    helper_id = world.helper_ids[0]
    web_login(client, "staff")
    for amount, reason, words in BAD_BONUSES:
        response = client.post(
            f"/s/helpers/{helper_id}/bonus", data={"amount": amount, "reason": reason}
        )
        page = page_of(response)
        assert words in alert(page), (amount, reason[:5], alert(page))
        assert response.url.path == f"/s/helpers/{helper_id}"
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(PointsEntry)) == 0


def test_the_helpers_points_page_in_english(
    client: TestClient, sessions: Sessions, world: World
) -> None:
    """After the switch the points part and a refusal are in English."""
    helper_id = world.helper_ids[0]
    staff = staff_actor(sessions, world)
    with sessions() as session:
        points.grant_bonus(session, staff, helper_id, 3, "snow")
    web_login(client, "staff")
    english(client)
    page = page_of(client.get(f"/s/helpers/{helper_id}"))
    assert "Grant the bonus" in page and "Bonus from the organisation" in page
    page = page_of(client.post(f"/s/helpers/{helper_id}/bonus", data={"amount": "0"}))
    assert alert(page) == "amount must be a positive whole number"


# ----------------------------------------------------------------------------- the inbox


def test_the_volunteers_inbox_lists_their_messages_newest_first_in_their_language(
    client: TestClient, sessions: Sessions, world: World
) -> None:
    """helper1's inbox shows their messages (newest first) in Chinese, then in English after
    the switch; another helper's message is not there; the home page links to it."""
    mine, other = world.helper_ids[0], world.helper_ids[1]
    with sessions() as session:
        for n, kind in enumerate(("offer", "reminder", "cancellation")):
            enqueue(session, helper_id=mine, kind=kind, text_zh=f"中文消息{n}",
                    text_en=f"English message {n}")  # fmt: skip
        enqueue(session, helper_id=other, kind="offer", text_zh="别人的", text_en="someone else's")
        session.commit()
    web_login(client, "helper1")
    assert 'href="/v/inbox"' in page_of(client.get("/v/"))
    page = page_of(client.get("/v/inbox"))
    shown = re.findall(r"中文消息(\d)", page)
    assert shown == ["2", "1", "0"]
    assert "别人的" not in page and "English message" not in page
    assert "取消" in page and "提醒" in page
    english(client)
    page = page_of(client.get("/v/inbox"))
    assert re.findall(r"English message (\d)", page) == ["2", "1", "0"]
    assert "中文消息" not in page


def test_the_inbox_is_for_volunteers_only(client: TestClient) -> None:
    """Staff are sent to their own pages; a helper with no messages sees a line saying so."""
    web_login(client, "staff")
    response = client.get("/v/inbox", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/s/")
    web_login(client, "helper2")
    page = page_of(client.get("/v/inbox?page=abc"))
    assert "还没有消息" in page


def test_helpers_and_strangers_cannot_reach_the_loop_pages(
    client: TestClient, sessions: Sessions, settings: Settings, world: World
) -> None:
    """A helper is sent to their own home from the staff order pages and cannot post to them;
    a visitor is sent to the login."""
    order_id, _team = done_order(sessions, settings, world)
    web_login(client, "helper1")
    for path in ("/s/orders", f"/s/orders/{order_id}"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/v/"
    client.post(f"/s/orders/{order_id}/confirm", follow_redirects=False)
    assert status_of(sessions, order_id) == "done"
    client.cookies.clear()
    response = client.get("/s/orders", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
