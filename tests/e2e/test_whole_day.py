"""One whole day at a street, in a real browser (issue 11, "Tests").

The street is set up as an office would: ``qunbang street init`` of the README's example file
(seeds/example-street.yaml: 青山街道, review step on, a 24-hour promise, follow-ups of every
visit rated 2 or lower), then its ledger imported (a few residents, two helpers and one
management-type person of 东湖第一网格), and accounts for a resident, the helpers and a family
member whose link staff approved. Then, through the pages each person uses:

- a resident orders a shopping errand on her phone, a daughter orders a home haircut for her
  mother, the grid worker enters a companionship visit for an old man of the grid;
- community staff approve the first two and reject the third with a reason, which the grid
  worker reads on the grid's order list and in their messages;
- street staff run the nightly matching from the run page: each helper gets one offer;
- one helper accepts, the other declines; nobody else can cut hair, so that order waits;
- a day passes (time travel, below): the helper marks the errand done, staff confirm it, the
  resident rates it 2; the next nightly run (the service, as cron runs it) rolls the haircut
  over with a day waited, still uncovered; then its deadline passes: it is overdue, its owner
  and the daughter are told (the ticker's deadline watch, run as the server's ticker would);
- the low score scheduled a follow-up, owned by the grid worker, who records it on the grid's
  page; staff see it closed; the grid worker also sees the grid's management-type people;
- the monthly report shows the day's figures; the invariant checker finds nothing broken.

Time travel is the only database write after set-up, and says what it simulates: "a day
passes" moves the day's three orders' date, first date and deadline one day back (tomorrow's
visit is today's, and the next nightly run, for tomorrow, may roll yesterday's orders over);
"the deadline passes" moves one order's deadline an hour into the past. Two services stand in
for what runs without a person: the nightly run of cron (``run_nightly``) and the server's
ticker (``watch_deadlines``: the test server runs no ticker). Everything else goes through the
pages; the database is only read, to assert. Screenshots of each step:
tests/artifacts/day-NN-*.png.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select, update

from api.i18n import use_locale
from api.services.accounts.auth import add_user
from api.services.closing import points
from api.services.closing.follow_ups import in_sample
from api.services.ledger.imports import import_file
from api.services.ledger.street_setup import init_street
from api.services.matching.invariants import check_database
from api.services.matching.nightly import run_nightly
from api.services.messages.watch import watch_deadlines
from api.services.offers.assign import local_today
from api.services.reports.periods import period_of
from api.services.reports.sheet import HEADERS, headers
from api.store.statuses import (
    FollowUpReason,
    FollowUpStatus,
    OfferStatus,
    OrderStatus,
    RunStatus,
)
from api.store.tables import (
    AssignmentRow,
    FamilyLinkRow,
    FollowUpRow,
    HelperRow,
    OfferRow,
    OrderRow,
    ResidentRow,
    RunRow,
    Street,
    UserRow,
    utcnow,
)
from seeds import SEEDS_DIR
from tests.e2e.conftest import (
    DESKTOP,
    MOBILE,
    PASSWORD,
    Site,
    _page,
    heading_jumps,
    scroll_width,
    shot,
)

EXAMPLE = SEEDS_DIR / "example-street.yaml"
# Everyone lives within a few hundred metres of 东湖 (Wuhan): every helper reaches everyone.
RESIDENTS = (
    "编号,姓名,社区,网格,楼栋,电话,住址,纬度,经度,人员类别\r\n"
    "QS-R1,刘桂兰,DH,G01,B01,13700000001,东湖1号楼101,30.5601,114.3601,残疾人\r\n"
    "QS-R2,周秀英,DH,G01,B02,13700000002,东湖2号楼202,30.5603,114.3604,独居老人\r\n"
    "QS-R3,吴大爷,DH,G01,B03,13700000003,东湖3号楼303,30.5606,114.3598,空巢老人\r\n"
)
HELPERS = (
    "编号,姓名,社区,网格,电话,纬度,经度,类型,技能,每日最多单数,可服务时段\r\n"
    "QS-H1,陈建国,DH,G01,13600000001,30.5610,114.3610,党员,代买跑腿,3,全天\r\n"
    "QS-H2,孙丽,DH,G02,13600000002,30.5590,114.3590,热心居民,理发,3,全天\r\n"
)
MANAGED = (
    "编号,姓名,社区,网格,楼栋,电话,关注原因\r\n"
    "QS-M1,郑某,DH,G01,B01,13500000001,社区矫正人员，每月走访\r\n"
)
ERRAND, HAIRCUT, CHAT = "L01", "L03", "S01"  # 代买代购 (8 points, 60 min), 上门理发, 陪伴聊天
ERRAND_POINTS, ERRAND_HOURS = 8, 1.0
DAUGHTER = "13900002222"  # the family account's login: her phone number
SAMPLE_PERCENT = 10  # the example file's follow_up_sample_percent


@dataclass
class Day:
    """The example street after set-up: its id, the printed passwords, the people's ids."""

    street_id: int
    passwords: dict[str, str]
    resident: int  # 刘桂兰: orders for herself (account "liu")
    mother: int  # 周秀英: her daughter orders for her (account DAUGHTER)
    old_man: int  # 吴大爷: the grid worker orders for him
    errand_helper: int  # 陈建国 (account "chen"): shopping errands only
    barber: int  # 孙丽 (account "sun"): haircuts only


def set_up(site: Site) -> Day:
    """``street init`` of the example file, the ledger imported (the import service, as its
    street staff), and the accounts a street office makes (a resident's, the helpers', a
    family member's, its link approved by community staff)."""
    with use_locale("en"):
        passwords = dict(init_street(site.sessions, EXAMPLE).passwords)
    with site.sessions() as session:
        street_id = session.scalars(select(Street.id).where(Street.code == "qingshan")).one()
        admin = session.scalars(select(UserRow.id).where(UserRow.username == "qs-admin")).one()
        for kind, text in (("residents", RESIDENTS), ("helpers", HELPERS), ("managed", MANAGED)):
            import_file(session, admin, kind, text.encode("utf-8"), f"{kind}.csv")
        residents = _ids(session, ResidentRow, ("QS-R1", "QS-R2", "QS-R3"))
        helpers = _ids(session, HelperRow, ("QS-H1", "QS-H2"))
        add_user(session, "liu", PASSWORD, "resident", resident_id=residents[0])
        add_user(session, "chen", PASSWORD, "helper", helper_id=helpers[0])
        add_user(session, "sun", PASSWORD, "helper", helper_id=helpers[1])
        daughter = add_user(session, DAUGHTER, PASSWORD, "family", street_id=street_id,
                            display_name="周女儿")  # fmt: skip
        staff = session.scalars(select(UserRow.id).where(UserRow.username == "dh-staff")).one()
        session.add(FamilyLinkRow(user_id=daughter.id, resident_id=residents[1], relation="女儿",
                                  status="approved", decided_by=staff))  # fmt: skip
        session.commit()
    return Day(street_id, passwords, *residents, *helpers)


def _ids(session: Any, table: Any, codes: tuple[str, ...]) -> list[int]:
    found = dict(session.execute(select(table.code, table.id).where(table.code.in_(codes))).all())
    return [found[code] for code in codes]


@pytest.fixture
def people(browser: Any, site: Site, request: pytest.FixtureRequest) -> Iterator[Any]:
    """``people(username, password, phone=True, start=None)``: that person's page, phone- or
    desk-sized, each in a browser context of its own, logged in through the form on first use
    (straight to ``start``, as a bookmarked page would: no detour through the home page).
    JavaScript errors and CSP reports on any of them fail the test."""
    with contextlib.ExitStack() as stack:
        opened: dict[str, Any] = {}

        def page_of(
            username: str, password: str = PASSWORD, phone: bool = True, start: str | None = None
        ) -> Any:
            if username not in opened:
                pages = _page(browser, site, MOBILE if phone else DESKTOP, request)
                page = stack.enter_context(contextlib.contextmanager(lambda: pages)())
                page.on("dialog", lambda dialog: dialog.accept())  # "reject this order?" …
                page.goto(f"/login?next={start}" if start else "/login")
                page.get_by_label("用户名").fill(username)
                page.get_by_label("密码").fill(password)
                page.get_by_role("button", name="登录").click()
                page.wait_for_url(lambda url: "/login" not in url)
                opened[username] = page
            return opened[username]

        yield page_of


class Steps:
    """Numbered screenshots, one per step."""

    def __init__(self) -> None:
        self.number = 0

    def shot(self, page: Any, name: str) -> None:
        self.number += 1
        shot(page, f"day-{self.number:02d}-{name}")


def order_on_phone(page: Any, item: str, note: str) -> int:
    """On the order form (resident, family or grid worker): ``item``, tomorrow morning, a
    note; the new order's id, read from the card the answer shows."""
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    page.locator(f'input[name="item"][value="{item}"]').check()
    page.get_by_label("上午（8:00–12:00）").check()
    page.get_by_label("备注").fill(note)
    page.get_by_role("button", name="提交订单").click()
    page.wait_for_url(re.compile(r"\?msg="))
    card = page.locator(".card", has_text=note).first
    return int((card.get_attribute("id") or "").removeprefix("order-"))


def status_of(site: Site, order_id: int) -> str:
    with site.sessions() as session:
        return session.get_one(OrderRow, order_id).status


def a_day_passes(site: Site, order_ids: list[int]) -> None:
    """Time travel: the orders' day, first day and deadline move one day back, as if they had
    been placed yesterday (tomorrow's visit is today's)."""
    one_day = dt.timedelta(days=1)
    with site.sessions() as session:
        for order in session.scalars(select(OrderRow).where(OrderRow.id.in_(order_ids))):
            assert order.first_date is not None and order.due_at is not None
            order.date -= one_day
            order.first_date -= one_day
            order.due_at -= one_day
        session.commit()


def wait_for_the_run(site: Site, street_id: int) -> None:
    """Until the street's newest run is no longer running (the run page reloads itself every
    3 s while it runs; the test reloads it as soon as the run is in instead)."""
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        with site.sessions() as session:
            status = session.scalars(
                select(RunRow.status)
                .where(RunRow.street_id == street_id)
                .order_by(RunRow.id.desc())
                .limit(1)
            ).first()
        if status not in (None, RunStatus.RUNNING):
            return
        time.sleep(0.05)
    pytest.fail("the nightly run started from the run page did not finish within 45 s")


def report_row(page: Any, area: str) -> dict[str, str]:
    """The report table's row of ``area`` (a street, community or grid name), by header."""
    headers = page.locator("#report thead th").all_inner_texts()
    row = page.locator("#report tbody tr").filter(
        has=page.get_by_role("cell", name=area, exact=True)
    )
    return dict(zip(headers, row.first.locator("td").all_inner_texts(), strict=True))


@pytest.mark.timeout(120)  # about 30 page steps: well under 60 s on a quiet machine
def test_one_whole_day_at_a_street(people: Any, site: Site) -> None:
    """The whole day (see the module's docstring), asserting each outcome as it happens: the
    orders' statuses, what each requester reads, the follow-up's life, the report's figures,
    and no broken invariant at the end."""
    day = set_up(site)
    steps = Steps()
    today = local_today(site.settings)
    tomorrow = today + dt.timedelta(days=1)

    # --- intake: a resident, a daughter and the grid worker order on their phones
    liu = people("liu", start="/r/order")
    errand = order_on_phone(liu, ERRAND, "帮忙买米和油")
    expect(liu.locator(f"#order-{errand}")).to_contain_text("社区审核中")
    steps.shot(liu, "resident-ordered")

    daughter = people(DAUGHTER, start="/r/order")
    haircut = order_on_phone(daughter, HAIRCUT, "妈妈行动不便，请上门理发")
    expect(daughter.locator("#acting-for")).to_contain_text("周秀英")
    expect(daughter.locator(f"#order-{haircut}")).to_contain_text("社区审核中")
    steps.shot(daughter, "family-ordered")

    grid_worker = people(
        "dh-g01", day.passwords["dh-g01"], start=f"/g/order?resident_id={day.old_man}"
    )
    expect(grid_worker.locator("#ordering-for")).to_contain_text("吴大爷")
    chat = order_on_phone(grid_worker, CHAT, "老人想找人聊聊天")
    expect(grid_worker.locator(f"#order-{chat}")).to_contain_text("社区审核中")
    steps.shot(grid_worker, "grid-worker-ordered")
    with site.sessions() as session:
        placed = session.scalars(select(OrderRow).where(OrderRow.id.in_([errand, haircut, chat])))
        by_id = {o.id: (o.resident_id, o.date, o.status) for o in placed}
    assert by_id == {
        errand: (day.resident, tomorrow, OrderStatus.REVIEW),
        haircut: (day.mother, tomorrow, OrderStatus.REVIEW),
        chat: (day.old_man, tomorrow, OrderStatus.REVIEW),
    }

    # --- review: community staff approve two and reject one with a reason
    desk = people("dh-staff", day.passwords["dh-staff"], phone=False, start="/s/review")
    expect(desk.locator(".cards > li")).to_have_count(3)
    for order_id in (errand, haircut):
        desk.locator(f"#order-{order_id}").get_by_role("button", name="通过").click()
        desk.wait_for_url("**/s/review?msg=*")
    card = desk.locator(f"#order-{chat}")
    card.get_by_text("退回", exact=True).click()
    card.get_by_label("退回原因（下单人可见）").fill("本周陪聊志愿者已排满，请下周再约")
    card.get_by_role("button", name="退回订单").click()
    desk.wait_for_url("**/s/review?msg=*")
    expect(desk.locator(".cards > li[id^=order-]")).to_have_count(0)
    steps.shot(desk, "review-done")
    assert [status_of(site, o) for o in (errand, haircut, chat)] == [
        OrderStatus.OPEN, OrderStatus.OPEN, OrderStatus.REJECTED]  # fmt: skip
    grid_worker.get_by_role("link", name="订单").click()
    expect(grid_worker.locator(f"#order-{chat}")).to_contain_text("未通过审核")
    expect(grid_worker.locator(f"#order-{chat}")).to_contain_text("本周陪聊志愿者已排满")
    grid_worker.get_by_role("link", name="我的消息").click()
    expect(grid_worker.locator(".cards")).to_contain_text("未被社区受理")
    steps.shot(grid_worker, "grid-worker-reads-why")

    # --- the nightly matching of tomorrow, started from the run page by street staff
    admin = people("qs-admin", day.passwords["qs-admin"], phone=False)
    admin.get_by_role("button", name="运行匹配").click()
    expect(admin.get_by_role("status").filter(has_text="已开始")).to_have_count(1)
    wait_for_the_run(site, day.street_id)
    admin.reload()
    expect(admin.locator("#figures-heading ~ .figures")).to_contain_text("2 / 2")
    steps.shot(admin, "nightly-run")
    with site.sessions() as session:
        offered = session.execute(
            select(OrderRow.id, OfferRow.helper_id)
            .join(AssignmentRow, AssignmentRow.order_id == OrderRow.id)
            .join(OfferRow, OfferRow.assignment_id == AssignmentRow.id)
            .where(OrderRow.id.in_([errand, haircut]), OfferRow.status == OfferStatus.PENDING)
        ).all()
    assert sorted(offered) == sorted([(errand, day.errand_helper), (haircut, day.barber)])

    # --- the helpers answer on their phones: one accepts, the other declines
    chen = people("chen")
    chen.get_by_role("button", name="接受").click()
    expect(chen.get_by_role("status")).to_have_text("已接受，居民的联系方式已显示")
    expect(chen.locator("main")).to_contain_text("东湖1号楼101")
    steps.shot(chen, "helper-accepts")
    sun = people("sun")
    sun.get_by_text("拒绝（请说明原因）").click()
    sun.get_by_label("原因").select_option(label="身体不适")
    sun.get_by_role("button", name="确认拒绝").click()
    expect(sun.get_by_role("status")).to_have_text("已拒绝，我们会另请志愿者")
    steps.shot(sun, "helper-declines")
    # nobody else cuts hair: the re-match finds no one and the haircut waits for the next run
    assert [status_of(site, o) for o in (errand, haircut)] == [
        OrderStatus.ASSIGNED, OrderStatus.OPEN]  # fmt: skip

    # --- a day passes: the errand is done, confirmed and rated 2
    a_day_passes(site, [errand, haircut, chat])
    chen.reload()
    chen.get_by_role("button", name="完成").click()
    expect(chen.get_by_role("status")).to_be_visible()
    steps.shot(chen, "helper-done")
    assert status_of(site, errand) == OrderStatus.DONE
    desk.goto(f"/s/orders/{errand}")
    desk.get_by_role("button", name="确认服务完成").click()
    expect(desk.get_by_role("status")).to_have_text(f"订单 {errand} 的上门服务已确认")
    steps.shot(desk, "staff-confirm")
    assert status_of(site, errand) == OrderStatus.CONFIRMED
    with site.sessions() as session:
        assert points.balance(session, day.errand_helper) == ERRAND_POINTS
    liu.goto("/r/")
    card = liu.locator(f"#order-{errand}")
    card.get_by_label("不满意", exact=True).check()
    card.get_by_label("补充说明（可不填）").fill("米买错了牌子")
    card.get_by_role("button", name="提交评价").click()
    liu.wait_for_url("**/r/?msg=*")
    expect(liu.locator(f"#order-{errand}")).to_contain_text("2 分")
    liu.get_by_role("link", name="我的消息").click()
    expect(liu.locator(".cards h2")).to_have_text(["已办结", "已接单"])
    steps.shot(liu, "resident-rated-inbox")

    # --- the next nightly run (cron): the haircut rolls over, a day waited, still uncovered
    run_nightly(site.sessions, site.settings, day.street_id, tomorrow)
    with site.sessions() as session:
        rolled = session.get_one(OrderRow, haircut)
        assert (rolled.date, rolled.first_date, rolled.status) == (
            tomorrow, today, OrderStatus.OPEN)  # fmt: skip
    admin.goto("/s/")
    uncovered = admin.locator(f"#order-{haircut}")
    expect(uncovered.locator(".reason")).to_contain_text("原因")
    steps.shot(admin, "rolled-over")

    # --- the deadline passes: overdue; its owner and the daughter are told
    with site.sessions() as session:
        session.execute(
            update(OrderRow)
            .where(OrderRow.id == haircut)
            .values(due_at=utcnow() - dt.timedelta(hours=1))
        )
        session.commit()
        assert watch_deadlines(session, site.settings) >= 2  # the server's ticker would
    admin.reload()
    expect(uncovered.locator(".badge.overdue")).to_be_visible()
    desk.goto("/s/orders")
    expect(desk.locator(f"#order-{haircut} .badge.overdue")).to_have_text("已逾期")
    steps.shot(desk, "staff-overdue")
    desk.goto("/s/inbox")
    expect(desk.locator(".cards")).to_contain_text(f"订单 {haircut}")
    daughter.get_by_role("link", name="我的消息").click()
    expect(daughter.locator(".cards")).to_contain_text("未能在承诺时间内安排")
    steps.shot(daughter, "family-told-overdue")

    # --- the follow-up: scheduled by the score of 2, recorded by the grid worker, closed
    with site.sessions() as session:
        follow_up = session.scalars(
            select(FollowUpRow).where(
                FollowUpRow.order_id == errand, FollowUpRow.reason == FollowUpReason.LOW_SCORE
            )
        ).one()
        owner = session.get_one(UserRow, follow_up.owner_id)
    assert (owner.username, follow_up.due_date) == ("dh-g01", today + dt.timedelta(days=3))
    grid_worker.get_by_role("link", name="回访").click()
    card = grid_worker.locator(f"#follow-up-{follow_up.id}")
    expect(card).to_contain_text("米买错了牌子")
    card.get_by_label("回访情况").fill("已上门致歉，重新买了米")
    card.get_by_role("button", name="记录回访").click()
    expect(grid_worker.get_by_role("status")).to_contain_text("已记录")
    steps.shot(grid_worker, "follow-up-recorded")
    desk.goto("/s/follow-ups?show_=done")
    expect(desk.locator(f"#follow-up-{follow_up.id}")).to_contain_text("已上门致歉")
    steps.shot(desk, "follow-up-closed")
    with site.sessions() as session:
        assert session.get_one(FollowUpRow, follow_up.id).status == FollowUpStatus.DONE

    # --- the grid's management-type people, on the grid worker's page
    grid_worker.get_by_role("link", name="管理对象").click()
    expect(grid_worker.locator("#managed-QS-M1")).to_contain_text("社区矫正人员")
    assert heading_jumps(grid_worker) == [] and scroll_width(grid_worker) <= MOBILE["width"]
    steps.shot(grid_worker, "grid-managed")

    # --- the monthly report: the day's figures, for the street and the grid
    admin.goto(f"/s/report?period={period_of(today).code}")
    due_here = period_of(today + dt.timedelta(days=3)) == period_of(today)
    sampled = in_sample(errand, SAMPLE_PERCENT)  # the street's sample may take the errand too
    expected = {
        "Orders": "3",  # the rejected order counts (a cancelled one would not)
        "Matched": "1",
        "Done on time": "1",
        "Overdue": "1",
        "Completion rate (%)": "50",
        "Rated": "1",
        "Satisfaction (%)": "0",
        "Follow-ups due": str((1 + sampled) * due_here),
        "Follow-ups done": str(1 * due_here),
        "Volunteer hours": f"{ERRAND_HOURS:g}",
        "Points granted": str(ERRAND_POINTS),
    }
    with use_locale("zh_CN"):
        shown = dict(zip(HEADERS, headers(), strict=True))
    expected = {shown[english]: figure for english, figure in expected.items()}
    for area in ("青山街道", "东湖社区", "东湖第一网格"):
        row = report_row(admin, area)
        assert {k: row.get(k) for k in expected} == expected, (area, row)
    steps.shot(admin, "report")

    # --- nothing broken
    with site.sessions() as session:
        assert check_database(session, None, today) == []  # as `qunbang db check` does
