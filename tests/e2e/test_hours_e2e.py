"""Volunteer hours in a real browser at phone size: a helper with a visit today checks in
(sharing the phone's position: Chromium is given one), checks out without it, and once staff
confirmed the visit downloads the certificate of service, a PDF that names them and their
hours; the pages pass the CSP (the position is read by static/clock.js) and have no sideways
scrolling."""

from __future__ import annotations

import io
import re
from typing import Any

from pypdf import PdfReader
from sqlalchemy import select

from api import i18n
from api.services.actor import actor_of
from api.services.closing.visits import confirm_done
from api.services.offers.answers import mark_done
from api.services.offers.assign import create_assignment, local_today
from api.services.orders import OrderSpec, place_order
from api.store.tables import HelperRow, HoursEntry, OrderRow, ResidentRow, UserRow, VisitClockRow
from tests.e2e.conftest import MOBILE, Site, login, scroll_width, shot

WHERE = {"latitude": 31.2304, "longitude": 121.4737, "accuracy": 20}


def visit_today(site: Site, username: str) -> int:
    """An order of today (street time) at 09:00 given to ``username``, who accepted: its
    assignment id."""
    helper_id = site.street.helpers[username]
    with site.sessions() as session:
        staff = actor_of(session.scalars(select(UserRow).where(UserRow.username == "staff")).one())
        resident = session.scalars(select(ResidentRow).order_by(ResidentRow.id)).first()
        assert resident is not None
        spec = OrderSpec(item="L01", date=local_today(site.settings), resident_id=resident.id,
                         window_start=540, window_end=600)  # fmt: skip
        order = session.get_one(OrderRow, place_order(session, site.settings, staff, spec).id)
        team = [helper_id]
        assignment = create_assignment(session, site.settings, order, team, source="manual",
                                       start_minute=540, accepted=team)  # fmt: skip
        assignment.override_reason = "e2e: hand-picked"
        session.commit()
        return assignment.id


def confirm(site: Site, username: str, assignment_id: int) -> None:
    """The helper marks the visit done and staff confirm it (as their pages would)."""
    with site.sessions() as session:
        mark_done(session, site.settings, site.street.helpers[username], assignment_id)
        staff = actor_of(session.scalars(select(UserRow).where(UserRow.username == "staff")).one())
        order_id = session.scalars(
            select(OrderRow.id).where(OrderRow.status == "done").order_by(OrderRow.id.desc())
        ).first()
        assert order_id is not None
        confirm_done(session, site.settings, staff, order_id)


def test_a_helper_checks_in_and_out_and_downloads_the_certificate(
    volunteer_page: Any, site: Site, tmp_path: Any
) -> None:
    """签到 with the position box ticked keeps the phone's position, 签退 without it keeps
    none; after confirmation 我的服务记录 shows the hours and the downloaded certificate opens
    as a PDF naming the helper and the hours."""
    page, username = volunteer_page, site.street.idle_helper()
    assignment_id = visit_today(site, username)
    page.context.grant_permissions(["geolocation"])
    page.context.set_geolocation(WHERE)
    login(page, username)
    page.goto("/v/")
    card = page.locator(f"#clock-{assignment_id}")
    card.get_by_label("同时记录我的位置（仅本次）").check()
    card.get_by_role("button", name="签到").click()
    page.wait_for_url(re.compile(r"msg="))
    assert "已签到" in page.locator(".notice").inner_text()
    shot(page, "hours-checked-in")
    page.locator(f"#clock-{assignment_id}").get_by_role("button", name="签退").click()
    page.wait_for_url(re.compile(r"msg="))
    with site.sessions() as session:
        clock = session.scalars(select(VisitClockRow)).one()
        assert clock.in_lat is not None and abs(clock.in_lat - WHERE["latitude"]) < 1e-6
        assert clock.out_at is not None and clock.out_lat is None
    confirm(site, username, assignment_id)
    page.get_by_role("link", name="时长").click()
    page.wait_for_url("**/v/hours")
    assert scroll_width(page) <= MOBILE["width"]
    shot(page, "hours-record")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="下载服务证明（PDF）").click()
    target = tmp_path / "certificate.pdf"
    download_info.value.save_as(target)
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(target.read_bytes())).pages)
    text = re.sub(r"[\s\x00]+", "", text)
    with site.sessions() as session:
        name = session.get_one(HelperRow, site.street.helpers[username]).name
        minutes = sum(session.scalars(select(HoursEntry.minutes)))
    with i18n.use_locale("zh_CN"):
        hours = i18n.format_number(minutes / 60, 1)
    assert "志愿服务记录证明" in text and name.replace(" ", "") in text
    assert f"志愿服务时长（小时）{hours}" in text
