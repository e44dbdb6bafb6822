"""Staff pages through the HTTP client: tonight's run with uncovered orders and manual assignment,
entering orders, the ledger lists and import, the street map, and who sees what."""

from __future__ import annotations

import datetime as dt
import re
import threading
import xml.etree.ElementTree as ET
from html import unescape

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from api import i18n
from api.http.pages.render import csrf_token
from api.http.pages.svg import Dot, DotStyle, bar_chart_svg, map_svg
from api.services.matching import street_map
from api.services.matching.explain_text import explain, reason_label
from api.services.matching.nightly import run_nightly
from api.services.matching.problem import catalogue_from_db
from api.services.matching.runs import get_run
from api.services.offers.assign import live_assignment, local_today
from api.settings import Settings
from api.store.tables import (
    AuditEntry,
    HelperRow,
    ItemRow,
    OrderRow,
    ResidentRow,
    RunUnmatched,
)
from matcher.result import WhyParams
from tests.api.conftest import PASSWORD, World, actor_named, make_settings
from tests.api.loop_support import make_roomy, move_orders, tomorrow
from tests.api.test_imports import GOOD_ROW, HEADER, csv_bytes
from tests.api.test_ledger import Other, add_community

SVG = "{http://www.w3.org/2000/svg}"


def web_login(client: TestClient, username: str) -> None:
    """Log in through the login form (the cookie stays in the client)."""
    client.cookies.clear()
    response = client.post(
        "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    client.headers["X-CSRF-Token"] = csrf_token(client.cookies["qb_token"])  # as the forms do


@pytest.fixture
def day(sessions: sessionmaker[Session], world: World, settings: Settings) -> dt.date:
    """Tomorrow (street time), with every seeded order moved to it."""
    day = tomorrow(settings)
    move_orders(sessions, day)
    return day


def card(page: str, order_id: int) -> str:
    """The HTML of one uncovered order's card on the run page."""
    start = page.index(f'<li class="card uncovered" id="order-{order_id}">')
    ends = [page.find(mark, start + 1) for mark in ('<li class="card uncovered"', "</section>")]
    return page[start : min(e for e in ends if e > 0)]


def svgs(page: str) -> list[ET.Element]:
    """Every inline SVG of the page, parsed as XML."""
    return [ET.fromstring(s) for s in re.findall(r"<svg .*?</svg>", page, re.S)]


def unmatched_ids(sessions: sessionmaker[Session]) -> list[int]:
    """The latest run's uncovered orders in the order the run page lists them (``get_run``)."""
    with sessions() as session:
        run_id = session.scalar(select(func.max(RunUnmatched.run_id)))
        if run_id is None:
            return []
        staff = actor_named(session, "staff")
        run = get_run(session, make_settings("sqlite://"), staff, run_id)
        return [u.order_id for u in run.unmatched]


def team_of(sessions: sessionmaker[Session], order_id: int) -> int:
    with sessions() as session:
        order = session.get_one(OrderRow, order_id)
        return session.get_one(ItemRow, order.item).team_size


# ----------------------------------------------------------------------------- tonight's run


def test_run_button_runs_matching_and_the_page_shows_figures_and_reasons(
    client: TestClient, sessions: sessionmaker[Session], day: dt.date, world: World
) -> None:
    """Run matching from the page: the browser is back on the run page at once, which shows the
    run being matched (its progress, reloading itself) until it is done; then the figures
    (coverage against the hand rule, orders matched, travel) and every uncovered order with
    its reason."""
    web_login(client, "staff")
    background = client.app.state.background  # type: ignore[attr-defined]
    hold = threading.Event()
    background.submit(hold.wait, 30)  # the run waits behind this until released
    response = client.post("/s/runs", data={"date": day.isoformat()})
    assert response.status_code == 200 and "已开始" in response.text
    running = response.text
    assert "正在匹配" in running and "<progress" in running
    assert '<meta http-equiv="refresh"' in running and "覆盖率" not in running
    hold.set()
    background.submit(lambda: None).result(timeout=60)  # the run before it is done
    page = client.get(f"/s/?date={day.isoformat()}").text
    assert "正在匹配" not in page and '<meta http-equiv="refresh"' not in page
    assert "覆盖率" in page and "手工规则" in page and "公里" in page
    missing = unmatched_ids(sessions)
    assert missing, "the tiny street leaves some orders uncovered"
    assert f"未匹配的订单 ({len(missing)})" in page
    with sessions() as session:
        first = session.scalars(
            select(RunUnmatched).where(RunUnmatched.order_id == missing[0])
        ).first()
        assert first is not None
        assert first.params is not None
        with i18n.use_locale("zh_CN"):
            reason = reason_label(first.reason)
            catalogue = catalogue_from_db(session, world.street_id)
            sentence = explain(
                first.reason, WhyParams.model_validate(first.params), catalogue,
                first.outranked_by,
            )  # fmt: skip
    assert reason in card(page, first.order_id)
    assert sentence in unescape(card(page, first.order_id))


def test_uncovered_orders_list_ranked_candidates_with_why(
    client: TestClient,
    sessions: sessionmaker[Session],
    settings: Settings,
    world: World,
    day: dt.date,
) -> None:
    """Once helpers have room, each open uncovered order lists candidates, best first, each with
    distance and a one-click button (a checkbox per helper for a team)."""
    run_nightly(sessions, settings, world.street_id, day)
    make_roomy(sessions)
    web_login(client, "staff")
    page = client.get(f"/s/?date={day.isoformat()}").text
    shown = [int(i) for i in re.findall(r'id="order-(\d+)"', page)]
    assert shown == unmatched_ids(sessions)[:10]
    single = next(o for o in shown if team_of(sessions, o) == 1)
    html = card(page, single)
    assert "派给" in html and "公里" in html and 'name="helper_ids"' in html
    km = [float(k) for k in re.findall(r"相距 ([\d.]+) 公里", html)]
    assert km and len(km) == html.count('type="hidden" name="helper_ids"')
    team = next((o for o in shown if team_of(sessions, o) > 1), None)
    if team is not None:
        assert re.search(r'type="checkbox" id="[^"]+" name="helper_ids"', card(page, team))


def test_manual_assignment_makes_the_order_offered(
    client: TestClient,
    sessions: sessionmaker[Session],
    settings: Settings,
    world: World,
    day: dt.date,
) -> None:
    """The button of the first candidate offers them the order: it shows as offered with the
    helper on its team, and the offer is a manual one."""
    run_nightly(sessions, settings, world.street_id, day)
    make_roomy(sessions)
    web_login(client, "staff")
    page = client.get(f"/s/?date={day.isoformat()}").text
    order_id = next(o for o in unmatched_ids(sessions) if team_of(sessions, o) == 1)
    html = card(page, order_id)
    helper_id = int(re.search(r'name="helper_ids" value="(\d+)"', html).group(1))  # type: ignore[union-attr]
    back = unescape(re.search(r'name="next" value="([^"]+)"', html).group(1))  # type: ignore[union-attr]
    response = client.post(
        f"/s/orders/{order_id}/assign", data={"helper_ids": [str(helper_id)], "next": back}
    )
    assert response.status_code == 200 and "已派给" in response.text
    after = card(response.text, order_id)
    assert "已派单，待回复" in after and "派给" not in after.replace("已派给", "")
    with sessions() as session:
        order = session.get_one(OrderRow, order_id)
        assignment = live_assignment(session, order_id)
        assert order.status == "offered" and assignment is not None
        assert assignment.source == "manual"
        assert [o.helper_id for o in assignment.offers] == [helper_id]
        assert session.get_one(HelperRow, helper_id).name in after


def test_a_team_order_needs_the_whole_team_picked(
    client: TestClient,
    sessions: sessionmaker[Session],
    settings: Settings,
    world: World,
    day: dt.date,
) -> None:
    """Picking too few helpers for a team item shows the service's refusal and offers nothing;
    picking the whole team offers it to every one of them."""
    with sessions() as session:  # a team order nobody is free for: in the small hours
        order_id = session.scalars(
            select(OrderRow.id).join(ItemRow, ItemRow.code == OrderRow.item)
            .where(ItemRow.team_size == 2).order_by(OrderRow.id)
        ).first()  # fmt: skip
        session.execute(
            update(OrderRow).where(OrderRow.id == order_id).values(window_start=60, window_end=240)
        )
        session.commit()
    assert order_id is not None
    run_nightly(sessions, settings, world.street_id, day)
    assert order_id in unmatched_ids(sessions)
    make_roomy(sessions)
    web_login(client, "staff")
    page = client.get(f"/s/?date={day.isoformat()}", params={"page": "1"}).text
    if f'id="order-{order_id}"' not in page:
        page = client.get(f"/s/?date={day.isoformat()}&page=2").text
    html = card(page, order_id)
    picks = [
        int(h)
        for h in re.findall(r'type="checkbox" id="[^"]+" name="helper_ids" value="(\d+)"', html)
    ]
    assert len(picks) >= 2
    back = f"/s/?date={day.isoformat()}#order-{order_id}"
    one = {"helper_ids": [str(picks[0])], "next": back}
    refused = client.post(f"/s/orders/{order_id}/assign", data=one)
    assert "需要 2 位不同的志愿者" in refused.text
    with sessions() as session:
        assert session.get_one(OrderRow, order_id).status == "open"
    both = {"helper_ids": [str(h) for h in picks[:2]], "next": back}
    client.post(f"/s/orders/{order_id}/assign", data=both)
    with sessions() as session:
        assignment = live_assignment(session, order_id)
        assert assignment is not None
        assert sorted(o.helper_id for o in assignment.offers) == sorted(picks[:2])


def test_no_run_yet_says_so(client: TestClient, day: dt.date) -> None:
    """A date without a run says so and offers the run button to street-wide staff."""
    web_login(client, "staff")
    page = client.get(f"/s/?date={day.isoformat()}").text
    assert "还没有运行过匹配" in page and 'action="/s/runs"' in page


# ----------------------------------------------------------------------------- entering orders


def resident_row(sessions: sessionmaker[Session], resident_id: int = 1) -> ResidentRow:
    with sessions() as session:
        row = session.get_one(ResidentRow, resident_id)
        session.expunge(row)
        return row


def test_resident_search_by_name_and_by_id_card_tail(
    client: TestClient, sessions: sessionmaker[Session], world: World
) -> None:
    """The order page finds a resident by part of the name and by the ID-card tail."""
    resident = resident_row(sessions)
    web_login(client, "staff")
    for q in (resident.name[1:], resident.id_card_tail):
        page = client.get("/s/orders/new", params={"q": q}).text
        assert resident.name in page and f"/s/orders/new?resident_id={resident.id}" in page
    nobody = client.get("/s/orders/new", params={"q": "没有这个人"}).text
    assert "没有找到这位居民" in nobody


def test_enter_a_one_off_order_and_see_it_listed(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """A one-off order entered on the form is placed and listed under the form."""
    resident = resident_row(sessions)
    web_login(client, "staff")
    day = tomorrow(settings) + dt.timedelta(days=2)
    form = {
        "resident_id": str(resident.id),
        "item": "L01",
        "date": day.isoformat(),
        "window_start": "09:00",
        "window_end": "11:00",
        "priority": "2",
    }
    response = client.post("/s/orders/new", data=form, follow_redirects=False)
    assert response.status_code == 303
    page = client.get(response.headers["location"]).text
    assert "已录入订单" in page
    with sessions() as session:
        order = session.scalars(
            select(OrderRow).where(OrderRow.resident_id == resident.id, OrderRow.date == day)
        ).one()
        assert (order.item, order.window_start, order.window_end, order.priority) == (
            "L01", 540, 660, 2)  # fmt: skip
    placed = page.split('id="placed"')[1]
    assert (
        f"<td>{order.id}</td>" in placed and day.isoformat() in placed and "09:00–11:00" in placed
    )


def test_enter_a_weekly_order_and_see_its_visits_listed(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """ "Repeat weekly" on two weekdays starts a series; its visits of the coming week are listed
    as weekly orders."""
    resident = resident_row(sessions, 2)
    web_login(client, "staff")
    start = tomorrow(settings)
    days = [start.weekday(), (start.weekday() + 2) % 7]
    form = {
        "resident_id": str(resident.id),
        "item": "L01",
        "date": start.isoformat(),
        "repeat": "1",
        "weekdays": [str(d) for d in days],
    }
    page = client.post("/s/orders/new", data=form).text
    assert "已录入每周重复订单" in page
    with sessions() as session:
        series = OrderRow.resident_id == resident.id, OrderRow.series_id.is_not(None)
        dates = sorted(session.scalars(select(OrderRow.date).where(*series)))
    assert dates == [start, start + dt.timedelta(days=2)]  # the series shows a week ahead
    placed = page.split('id="placed"')[1]
    assert all(d.isoformat() in placed for d in dates) and placed.count("每周") == len(dates)


def test_a_bad_order_shows_the_error_next_to_its_field(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """A window shorter than the visit, or a weekly order without a weekday, comes back as the
    form with the message by the field and nothing placed."""
    resident = resident_row(sessions, 3)
    web_login(client, "staff")
    before = count_orders(sessions)
    form = {
        "resident_id": str(resident.id),
        "item": "L01",
        "date": tomorrow(settings).isoformat(),
        "window_start": "09:00",
        "window_end": "09:05",
    }
    short = client.post("/s/orders/new", data=form)
    assert short.status_code == 422
    assert re.search(r'id="window_end-error">时间窗短于服务时长', short.text)
    assert 'value="09:05"' in short.text  # what was typed stays
    weekly = client.post(
        "/s/orders/new", data={**form, "window_end": "", "window_start": "", "repeat": "1"}
    )
    assert weekly.status_code == 422 and 'id="weekdays-error"' in weekly.text
    assert count_orders(sessions) == before


def test_an_order_beyond_the_horizon_is_refused_by_its_date_field(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """The date field offers today … today + 90 days; 3000-01-01 comes back as the form with
    the message by the date field, in one language, and nothing is placed."""
    resident = resident_row(sessions, 3)
    web_login(client, "staff")
    today = local_today(settings)
    page = client.get("/s/orders/new", params={"resident_id": resident.id}).text
    last = (today + dt.timedelta(days=90)).isoformat()
    assert f'min="{today.isoformat()}" max="{last}"' in page
    before = count_orders(sessions)
    form = {"resident_id": str(resident.id), "item": "L01", "date": "3000-01-01"}
    refused = client.post("/s/orders/new", data=form)
    assert refused.status_code == 422
    assert re.search(rf'id="date-error">日期最晚为 {last}（今天起 90 天内）<', refused.text)
    series = {"date": today.isoformat(), "repeat": "1", "weekdays": ["0"], "end_date": "3000-01-01"}
    weekly = client.post("/s/orders/new", data=form | series)
    assert re.search(r'id="end_date-error">结束日期最晚为', weekly.text)
    assert count_orders(sessions) == before


def test_staff_see_the_orders_note_on_the_order_and_run_pages(
    client: TestClient,
    sessions: sessionmaker[Session],
    settings: Settings,
    world: World,
    day: dt.date,
) -> None:
    """A note entered with an order is listed with it on the order form and the resident's
    page, and an uncovered order's card on the run page shows its note."""
    resident = resident_row(sessions, 4)
    web_login(client, "staff")
    form = {"resident_id": str(resident.id), "item": "L01", "date": day.isoformat(),
            "note": "请先打电话，老人听力不好"}  # fmt: skip
    placed = client.post("/s/orders/new", data=form).text.split('id="placed"')[1]
    assert '<td class="note">请先打电话，老人听力不好</td>' in placed
    assert "请先打电话，老人听力不好" in client.get(f"/s/residents/{resident.id}").text
    run_nightly(sessions, settings, world.street_id, day)
    uncovered = unmatched_ids(sessions)[0]
    with sessions() as session:
        session.get_one(OrderRow, uncovered).note = "楼道灯坏了，带手电"
        session.commit()
    page = client.get(f"/s/?date={day.isoformat()}").text
    assert "备注：楼道灯坏了，带手电" in card(page, uncovered)


def count_orders(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count(OrderRow.id))) or 0


# ----------------------------------------------------------------------------- residents, helpers


def test_resident_list_searches_filters_and_pages(
    client: TestClient, sessions: sessionmaker[Session], world: World
) -> None:
    """The list finds by name and ID tail, filters by category, and pages 25 at a time."""
    resident = resident_row(sessions, 5)
    web_login(client, "staff")
    page = client.get("/s/residents").text
    assert "共 30 位" in page and page.count('href="/s/residents/') == 25
    assert 'href="/s/residents?page=2"' in page
    second = client.get("/s/residents", params={"page": "2"}).text
    assert second.count('href="/s/residents/') == 5
    by_tail = client.get("/s/residents", params={"q": resident.id_card_tail}).text
    assert resident.name in by_tail
    by_category = client.get("/s/residents", params={"category": resident.category}).text
    with sessions() as session:
        same = session.scalar(
            select(func.count(ResidentRow.id)).where(ResidentRow.category == resident.category)
        )
    assert f"共 {same} 位" in by_category


def test_resident_detail_is_audited_and_helper_detail_shows_the_record(
    client: TestClient, sessions: sessionmaker[Session], world: World
) -> None:
    """A resident's page shows their record and is written to the audit log; a helper's page
    shows theirs; the helper list filters by skill."""
    resident = resident_row(sessions, 4)
    web_login(client, "staff")
    page = client.get(f"/s/residents/{resident.id}").text
    assert resident.name in page and resident.address in page
    with sessions() as session:
        reads = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "resident.read")
        ).all()
        assert [r.entity_id for r in reads] == [str(resident.id)]
        helper = session.get_one(HelperRow, world.helper_ids[0])
        skill = helper.skills[0]
    assert helper.name in client.get(f"/s/helpers/{helper.id}").text
    listed = client.get("/s/helpers", params={"skill": skill}).text
    assert helper.name in listed


def test_import_with_a_bad_row_shows_every_bad_cell_and_imports_nothing(
    client: TestClient, sessions: sessionmaker[Session], world: World
) -> None:
    """A file with a bad row comes back as a table of row, column and reason; nothing is
    imported. The good file alone imports and says what was inserted and updated."""
    web_login(client, "staff")
    bad = csv_bytes(
        HEADER,
        GOOD_ROW,
        "T-2,甲,火星社区,第1网格,13800000000,95,111.75,党员,陪伴聊天,2,08:00-12:00",
    )
    response = client.post("/s/import/helpers", files={"file": ("台账.csv", bad, "text/csv")})
    assert response.status_code == 422
    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]+)</td><td>([^<]+)</td></tr>", response.text)
    assert [(r, c) for r, c, _ in rows] == [("3", "社区"), ("3", "纬度")]
    assert rows[0][2].startswith("未知社区") and " / " not in rows[0][2]
    with sessions() as session:
        assert session.scalar(select(func.count()).where(HelperRow.code.in_(["T-1", "T-2"]))) == 0
    good = client.post(
        "/s/import/helpers", files={"file": ("台账.csv", csv_bytes(HEADER, GOOD_ROW), "text/csv")}
    )
    assert good.status_code == 200 and "导入完成：新增 1 条，更新 0 条" in good.text


# ----------------------------------------------------------------------------- the map


def test_map_and_load_chart_are_well_formed_svg_with_a_point_each(
    client: TestClient,
    sessions: sessionmaker[Session],
    settings: Settings,
    world: World,
    day: dt.date,
) -> None:
    """The map has one point per resident with an order that day and per helper, each with a
    tooltip; the chart has one bar per load, adding up to the active helpers."""
    run_nightly(sessions, settings, world.street_id, day)
    web_login(client, "staff")
    page = client.get(f"/s/map?date={day.isoformat()}").text
    drawing, chart = svgs(page)
    with sessions() as session:
        rows = session.execute(
            select(OrderRow.resident_id, OrderRow.status).where(OrderRow.date == day)
        )
        by_resident: dict[int, set[str]] = {}
        for resident_id, status in rows:
            by_resident.setdefault(resident_id, set()).add(status)
        helpers = session.scalar(select(func.count(HelperRow.id)))
    dots = [e for e in drawing.iter() if "dot" in e.get("class", "").split()]
    kinds = [d.get("class", "").split()[1] for d in dots]
    assert kinds.count("resident-unmatched") == sum("open" in s for s in by_resident.values()) > 0
    assert kinds.count("resident-offered") == sum(
        "offered" in s and "open" not in s for s in by_resident.values()
    )
    assert sum(k.startswith("resident-") for k in kinds) == len(by_resident)
    assert sum(k.startswith("helper-") for k in kinds) == helpers
    assert all(d.find(f"{SVG}title") is not None for d in dots)
    for element in (drawing, chart):
        assert element.get("role") == "img" and element.get("viewBox")
        assert element.find(f"{SVG}title") is not None
    bars = [e for e in chart.iter() if e.get("class") == "bar"]
    values = [int(b.find(f"{SVG}title").text.rsplit(": ", 1)[1]) for b in bars]  # type: ignore[union-attr]
    assert sum(values) == helpers and len(bars) >= 2


def test_a_crowded_map_draws_groups_with_their_counts(
    client: TestClient,
    sessions: sessionmaker[Session],
    settings: Settings,
    world: World,
    day: dt.date,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Over ``MOST_HELPERS`` helpers (and residents) in scope, points of one kind in one cell are
    one mark whose tooltip (from the catalog) gives how many: the marks add up to every helper
    and every resident with an order, no name is shown, and the legend still counts them all."""
    monkeypatch.setattr(street_map, "MOST_HELPERS", 1)
    run_nightly(sessions, settings, world.street_id, day)
    web_login(client, "staff")
    page = client.get(f"/s/map?date={day.isoformat()}").text
    drawing, _chart = svgs(page)
    with sessions() as session:
        ordered = select(OrderRow.resident_id).where(OrderRow.date == day)
        residents = len(set(session.scalars(ordered)))
        helpers = session.scalar(select(func.count(HelperRow.id)))
        names = set(session.scalars(select(HelperRow.name)))
    dots = [e for e in drawing.iter() if "dot" in e.get("class", "").split()]
    counted: dict[str, int] = {"helper": 0, "resident": 0}
    for dot in dots:
        title = dot.findtext(f"{SVG}title") or ""
        found = re.fullmatch(r"此处 (\d+) 个点：(.+)", title)
        assert found is not None, title
        assert not any(name in title for name in names)
        counted[dot.get("class", "").split()[1].split("-")[0]] += int(found.group(1))
    assert counted == {"helper": helpers, "resident": residents}
    assert len(dots) < helpers + residents  # grouped: fewer marks than points
    assert any("grouped" in d.get("class", "").split() for d in dots)
    assert "相邻的同类点合并为一个标记" in page


def test_svg_text_is_escaped_and_parses() -> None:
    """Titles with markup characters are escaped: the drawings still parse as XML."""
    styles = {"a": DotStyle("#000000", "circle", "A"), "b": DotStyle("#111111", "square", "B")}
    dots = [Dot(40.0, 111.0, "a", 'x<y & "z"'), Dot(40.01, 111.02, "b", "</svg>")]
    drawing = ET.fromstring(str(map_svg(dots, styles, title="<map>", desc="&")))
    titles = [e.text for e in drawing.iter(f"{SVG}title")]
    assert titles == ["<map>", 'x<y & "z"', "</svg>"]
    chart = ET.fromstring(
        str(bar_chart_svg([("<0>", 3)], title="t", desc="d", x_label="x", y_label="y"))
    )
    assert chart.get("role") == "img"
    empty = ET.fromstring(str(map_svg([], styles, title="t", desc="d")))
    assert empty.get("viewBox")


# ----------------------------------------------------------------------------- who sees what


@pytest.fixture
def other(sessions: sessionmaker[Session], world: World) -> Other:
    return add_community(sessions, world.street_id)


def test_community_staff_see_only_their_community(
    client: TestClient,
    sessions: sessionmaker[Session],
    settings: Settings,
    world: World,
    day: dt.date,
    other: Other,
) -> None:
    """Staff of one community do not see another community's residents in the list, on the
    map or among the uncovered orders, and may not start a run."""
    with sessions() as session:
        order = OrderRow(
            street_id=world.street_id, resident_id=other.resident_id, item="S05", date=day
        )
        session.add(order)
        session.commit()
    run_nightly(sessions, settings, world.street_id, day)
    missing = unmatched_ids(sessions)
    assert order.id in missing  # nobody in the street can do S05 (a team of 3 performers)
    last = f"/s/?date={day.isoformat()}&page={(len(missing) + 9) // 10}"
    web_login(client, "staff_c1")
    assert "白塔居民" not in client.get(f"/s/residents?community_id={other.community_id}").text
    run_page = client.get(f"/s/?date={day.isoformat()}").text
    assert f"未匹配的订单 ({len(missing) - 1})" in run_page and 'action="/s/runs"' not in run_page
    refused = client.post("/s/runs", data={"date": day.isoformat()})
    assert "只有街道工作人员可以发起匹配" in refused.text
    drawing, _ = svgs(client.get(f"/s/map?date={day.isoformat()}").text)
    assert "白塔" not in ET.tostring(drawing, encoding="unicode")
    assert client.get(f"/s/residents/{other.resident_id}").status_code == 404
    web_login(client, "staff")
    assert "白塔居民" in client.get(f"/s/residents?community_id={other.community_id}").text
    assert f"未匹配的订单 ({len(missing)})" in client.get(f"/s/?date={day.isoformat()}").text
    assert "白塔居民" in client.get(last).text


def test_planner_sees_run_and_map_without_names(
    client: TestClient,
    sessions: sessionmaker[Session],
    settings: Settings,
    world: World,
    day: dt.date,
) -> None:
    """A planner reads the run's figures and reasons and the map, with no resident or helper
    name and no assignment buttons; the ledger pages send them back to the run page."""
    run_nightly(sessions, settings, world.street_id, day)
    with sessions() as session:
        names = list(session.scalars(select(ResidentRow.name))) + list(
            session.scalars(select(HelperRow.name))
        )
    web_login(client, "planner")
    run_page = client.get(f"/s/?date={day.isoformat()}").text
    map_page = client.get(f"/s/map?date={day.isoformat()}").text
    assert "覆盖率" in run_page and "原因" in run_page and "派给" not in run_page
    assert "<svg" in map_page
    for name in names:
        assert name not in run_page and name not in map_page
    for path in ("/s/residents", "/s/helpers", "/s/orders/new"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/s/"


def test_helpers_are_sent_home_and_strangers_to_login(client: TestClient) -> None:
    """A helper opening a staff page lands on the volunteer home; without a login, the login."""
    response = client.get("/s/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    web_login(client, "helper1")
    response = client.get("/s/map", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/v/"


def test_staff_pages_speak_english_after_the_switch(
    client: TestClient,
    sessions: sessionmaker[Session],
    settings: Settings,
    world: World,
    day: dt.date,
) -> None:
    """With English chosen, the run page, its reasons and candidates and the map are English."""
    run_nightly(sessions, settings, world.street_id, day)
    make_roomy(sessions)
    web_login(client, "staff")
    client.cookies.set("qb_lang", "en")
    page = unescape(client.get(f"/s/?date={day.isoformat()}").text)
    assert "Tonight's run" in page and "Hand rule: " in page and "Reason: " in page
    assert "km away" in page and "Assign to" in page and "今晚的匹配" not in page
    drawing, chart = svgs(client.get(f"/s/map?date={day.isoformat()}").text)
    with i18n.use_locale("en"):
        shown = i18n.format_day(day)  # "Nov 27, 2026"
    assert drawing.findtext(f"{SVG}title") == f"Street map {shown}"
    assert chart.findtext(f"{SVG}title") == f"Helper load on {shown}"
    assert "order(s) that day" in ET.tostring(drawing, encoding="unicode")
