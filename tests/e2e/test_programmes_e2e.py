"""A 周末妈妈 (weekend mothers) programme in a real browser: a guardian (family account) ranks the
volunteers for a left-behind child on her phone, a volunteer ranks the children on hers, street
staff compute the stable pairs and confirm them, and both then see the pair."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from api.services.accounts.auth import add_user
from api.services.actor import actor_of
from api.services.offers.assign import local_today
from api.services.programmes import setup
from api.services.programmes.setup import ProgrammeSpec
from api.store.statuses import FamilyLinkStatus, Role
from api.store.tables import (
    FamilyLinkRow,
    HelperRow,
    ItemRow,
    ProgrammeMemberRow,
    ResidentRow,
    UserRow,
)
from tests.e2e.conftest import MOBILE, PASSWORD, Site, login, scroll_width, shot

KM_PER_DEG = 111.2


@dataclass(frozen=True)
class Weekend:
    programme_id: int
    child: int  # resident row id
    mother: int  # the volunteer's helper row id (account ``helper1``)
    other_child: int
    other_mother: int


def weekend_mothers(site: Site) -> Weekend:
    """Two left-behind children and two volunteers near them, all able to serve the programme's
    item; the first child's guardian has a family account ``guardian``; staff made the
    programme and enrolled the four."""
    with site.sessions() as session:
        item = session.scalars(
            select(ItemRow)
            .where(ItemRow.team_size == 1, ItemRow.active, ItemRow.lead_skill.is_(None))
            .where(ItemRow.max_distance_km.is_(None))
            .order_by(ItemRow.duration_min, ItemRow.code)
        ).first()
        assert item is not None
        children = session.scalars(
            select(ResidentRow).where(ResidentRow.street_id == site.street.street_id)
            .order_by(ResidentRow.id).limit(2)
        ).all()  # fmt: skip
        mothers = [site.street.helpers["helper1"], site.street.helpers["helper2"]]
        lat, lon = children[0].lat, children[0].lon
        for n, child in enumerate(children):
            child.category, child.lat, child.lon = "left_behind_child", lat + n / KM_PER_DEG, lon
            child.language, child.preferred_gender = None, None
        for n, helper_id in enumerate(mothers):
            session.execute(
                update(HelperRow).where(HelperRow.id == helper_id)
                .values(lat=lat + (0.5 + n) / KM_PER_DEG, lon=lon,
                        skills=list(item.required_skills), radius_km=10.0,
                        availability=[[0, 1440]], languages=["zh"], blocked_residents=[],
                        active=True)
            )  # fmt: skip
        guardian = add_user(session, "guardian", PASSWORD, Role.FAMILY,
                            street_id=site.street.street_id, display_name="王奶奶")  # fmt: skip
        session.add(FamilyLinkRow(user_id=guardian.id, resident_id=children[0].id,
                                  relation="奶奶", status=FamilyLinkStatus.APPROVED))  # fmt: skip
        session.commit()
        staff = actor_of(session.scalars(select(UserRow).where(UserRow.username == "staff")).one())
        today = local_today(site.settings)
        spec = ProgrammeSpec(name="周末妈妈", item=item.code, start_date=today,
                             end_date=today + dt.timedelta(days=120), weekdays=(5, 6),
                             window_start=9 * 60, window_end=17 * 60)  # fmt: skip
        programme = setup.create_programme(session, staff, spec)
        setup.enrol(session, staff, programme.id, "resident", [c.code for c in children])
        codes = [session.get_one(HelperRow, h).code for h in mothers]
        setup.enrol(session, staff, programme.id, "helper", codes)
        return Weekend(programme.id, children[0].id, mothers[0], children[1].id, mothers[1])


def put_first(page: Any, programme_id: int, member_id: int) -> None:
    """Choose ``member_id`` as first choice in the programme's ranking form and save it."""
    form = page.locator(f"#ranking-{programme_id}")
    form.locator(f"#choice-{member_id}").select_option("1")
    form.get_by_role("button", name="保存我的排序").click()
    page.wait_for_url("**/programmes?msg=*")
    assert "排序已保存" in page.locator("[role=status]").inner_text()


def member_of(site: Site, programme_id: int, *, resident: int = 0, helper: int = 0) -> int:
    """The programme member id of a resident or a helper (row ids)."""
    with site.sessions() as session:
        column = ProgrammeMemberRow.resident_id if resident else ProgrammeMemberRow.helper_id
        return session.scalars(
            select(ProgrammeMemberRow.id).where(
                ProgrammeMemberRow.programme_id == programme_id, column == (resident or helper)
            )
        ).one()


def test_a_guardian_and_a_volunteer_rank_each_other_and_see_the_pair(
    volunteer_page: Any, staff_page: Any, site: Site
) -> None:
    """The guardian puts the farther volunteer first for her grandchild, that volunteer puts
    the child first; staff compute and confirm; the guardian's and the volunteer's phone pages
    both show the confirmed pair (the nearer child and volunteer are paired with each other)."""
    weekend = weekend_mothers(site)
    far_mother = member_of(site, weekend.programme_id, helper=weekend.other_mother)
    child = member_of(site, weekend.programme_id, resident=weekend.child)

    page = volunteer_page
    page.set_default_timeout(8000)
    login(page, "guardian")
    page.goto("/r/programmes")
    assert "周末妈妈" in page.locator("h2").first.inner_text()
    put_first(page, weekend.programme_id, far_mother)
    assert scroll_width(page) <= MOBILE["width"]
    shot(page, "programme-guardian-ranked")

    page.context.clear_cookies()
    login(page, "helper2")
    page.goto("/v/programmes")
    put_first(page, weekend.programme_id, child)
    shot(page, "programme-volunteer-ranked")

    staff_page.set_default_timeout(8000)
    login(staff_page, "staff")
    staff_page.goto(f"/s/programmes/{weekend.programme_id}")
    staff_page.get_by_role("button", name="计算结对").click()
    staff_page.wait_for_url("**#pairs")
    assert "已提出 2 对结对" in staff_page.locator("[role=status]").inner_text()
    for _ in range(2):
        staff_page.locator("#pair-table").get_by_role(
            "button", name="确认", exact=True
        ).first.click()
        staff_page.wait_for_load_state()
    assert staff_page.locator("#pair-table").get_by_text("已确认").count() == 2
    shot(staff_page, "programme-pairs-confirmed")

    page.goto("/v/programmes")
    pair = page.locator(f"#programme-{weekend.programme_id} .pair")
    assert pair.count() == 1 and "已确认" in pair.inner_text()
    page.context.clear_cookies()
    login(page, "guardian")
    page.goto("/r/programmes")
    pair = page.locator(f"#programme-{weekend.programme_id} .pair")
    assert pair.count() == 1 and "已确认" in pair.inner_text()
    with site.sessions() as session:
        far = session.get_one(HelperRow, weekend.other_mother)
        assert far.name[:1] in pair.inner_text()  # the guardian's first choice, named as 王**
    shot(page, "programme-guardian-sees-pair")
