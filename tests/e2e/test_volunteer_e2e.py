"""The volunteer pages in a real browser at phone size (360×740): log in, accept an offer and
see the resident's details, decline another with a reason, claim, points; labels, keyboard use
and no sideways scrolling."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from api.store.tables import AssignmentRow, OfferRow, OrderRow, ResidentRow
from tests.e2e.conftest import (
    MOBILE,
    Site,
    heading_jumps,
    login,
    make_roomy,
    scroll_width,
    shot,
    tab_to,
    unnamed_controls,
)


@dataclass(frozen=True)
class Offer:
    """A pending offer and the resident details its card must hide until it is accepted."""

    offer_id: int
    name: str
    address: str
    phone: str


def offers_of(site: Site, username: str) -> list[Offer]:
    """The helper's pending offers (oldest first) with their residents."""
    helper_id = site.street.helpers[username]
    with site.sessions() as session:
        rows = session.execute(
            select(OfferRow.id, ResidentRow.name, ResidentRow.address, ResidentRow.phone)
            .join(AssignmentRow, OfferRow.assignment_id == AssignmentRow.id)
            .join(OrderRow, AssignmentRow.order_id == OrderRow.id)
            .join(ResidentRow, OrderRow.resident_id == ResidentRow.id)
            .where(OfferRow.helper_id == helper_id, OfferRow.status == "pending")
            .order_by(OfferRow.id)
        ).all()
    return [Offer(*row) for row in rows]


def resident_of(site: Site, order_id: int) -> ResidentRow:
    with site.sessions() as session:
        order = session.get(OrderRow, order_id)
        assert order is not None
        resident = session.get(ResidentRow, order.resident_id)
        assert resident is not None
        return resident


def offer_status(site: Site, offer_id: int) -> tuple[str, str]:
    with site.sessions() as session:
        offer = session.get(OfferRow, offer_id)
        assert offer is not None
        return offer.status, offer.decline_reason


def open_all_details(page: Any) -> None:
    """Unfold every <details> (the decline forms) so that their fields are checked too."""
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")


def test_helper_logs_in_and_lands_on_the_volunteer_home(volunteer_page: Any, site: Site) -> None:
    """The login form is labelled and reachable by Tab; a helper who logs in lands on /v/."""
    page = volunteer_page
    page.goto("/login")
    assert unnamed_controls(page) == [] and heading_jumps(page) == []
    assert tab_to(page, page.get_by_role("button", name="登录"))
    shot(page, "login")
    login(page, site.street.helper_with(1))
    assert re.search(r"/v/$", page.url)
    assert page.get_by_role("heading", level=1).inner_text() == "今天和接下来"


def test_wrong_password_is_shown_on_the_login_page(volunteer_page: Any, site: Site) -> None:
    """A wrong password keeps the person on /login with the error announced as an alert."""
    page = volunteer_page
    page.goto("/login")
    page.get_by_label("用户名").fill("helper1")
    page.get_by_label("密码").fill("not-the-password")
    page.get_by_role("button", name="登录").click()
    assert page.get_by_role("alert").inner_text() == "用户名或密码错误"
    assert "/login" in page.url


def test_accept_shows_the_address_and_decline_removes_the_offer(
    volunteer_page: Any, site: Site
) -> None:
    """Accepting an offer shows that resident's name, address and phone (and no other
    resident's); declining the other offer with a reason takes it off the list."""
    page = volunteer_page
    username = site.street.helper_with(2)
    first, second = offers_of(site, username)[:2]
    login(page, username)
    shot(page, "volunteer-home")
    accepted_card, other_card = (
        page.locator(f"#offer-{first.offer_id}"),
        page.locator(f"#offer-{second.offer_id}"),
    )
    assert first.address not in page.content() and first.phone not in page.content()

    accepted_card.get_by_role("button", name="接受").click()
    page.wait_for_url(re.compile(r"/v/\?msg="))
    assert page.get_by_role("status").inner_text() == "已接受，居民的联系方式已显示"
    for detail in (first.name, first.address, first.phone):
        assert detail in accepted_card.inner_text()
    assert second.address not in page.content()
    assert offer_status(site, first.offer_id)[0] == "accepted"
    shot(page, "volunteer-home-accepted")

    other_card.get_by_text("拒绝（请说明原因）").click()
    other_card.get_by_label("原因").select_option(label="身体不适")
    other_card.get_by_label("补充说明（可不填）").fill("腿疼")
    other_card.get_by_role("button", name="确认拒绝").click()
    page.wait_for_url(re.compile(r"/v/\?msg="))
    assert page.get_by_role("status").inner_text() == "已拒绝，我们会另请志愿者"
    assert other_card.count() == 0
    assert accepted_card.count() == 1
    status, reason = offer_status(site, second.offer_id)
    assert status == "declined" and "身体不适" in reason and "腿疼" in reason


def test_decline_without_a_reason_is_refused_by_the_browser(
    volunteer_page: Any, site: Site
) -> None:
    """The decline form will not send without a reason: the offer stays pending."""
    page = volunteer_page
    username = site.street.helper_with(1)
    offer = offers_of(site, username)[0]
    login(page, username)
    card = page.locator(f"#offer-{offer.offer_id}")
    card.get_by_text("拒绝（请说明原因）").click()
    card.get_by_role("button", name="确认拒绝").click()
    assert card.get_by_label("原因").evaluate("el => !el.validity.valid")
    assert re.search(r"/v/$", page.url)
    assert offer_status(site, offer.offer_id)[0] == "pending"


def test_an_offer_can_be_accepted_with_the_keyboard_only(volunteer_page: Any, site: Site) -> None:
    """Tab reaches an offer's Accept button and Enter accepts it: the address appears."""
    page = volunteer_page
    username = site.street.helper_with(1)
    offer = offers_of(site, username)[0]
    login(page, username)
    accept = page.locator(f"#offer-{offer.offer_id}").get_by_role("button", name="接受")
    assert tab_to(page, accept), "Tab never reached the Accept button"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/v/\?msg="))
    assert offer.address in page.locator(f"#offer-{offer.offer_id}").inner_text()
    assert offer_status(site, offer.offer_id)[0] == "accepted"


def test_a_claimed_order_shows_its_address_at_home(volunteer_page: Any, site: Site) -> None:
    """From the menu's nearby orders, claiming one alone brings it home with the resident's
    address; then the points page opens from the menu too."""
    page = volunteer_page
    username = site.street.idle_helper()
    make_roomy(site, username)
    login(page, username)
    menu = page.get_by_role("navigation", name="主菜单")
    menu.get_by_role("link", name="可认领").click()
    assert page.get_by_role("heading", level=1).inner_text() == "附近可认领"
    shot(page, "volunteer-claim")
    card = page.get_by_role("listitem").filter(
        has=page.get_by_role("button", name="认领", exact=True)
    )
    order_id = int(card.first.get_attribute("id").removeprefix("order-"))
    card.first.get_by_role("button", name="认领", exact=True).click()
    page.wait_for_url(re.compile(r"/v/\?msg="))
    assert page.get_by_role("status").inner_text() == "认领成功，居民的联系方式已显示"
    assert resident_of(site, order_id).address in page.get_by_role("main").inner_text()
    menu.get_by_role("link", name="积分").click()
    assert page.get_by_role("heading", level=1).inner_text() == "我的积分"
    assert page.locator("#balance").inner_text() == "0"
    shot(page, "volunteer-points")


def test_volunteer_pages_are_labelled_and_fit_a_phone(volunteer_page: Any, site: Site) -> None:
    """On /v/, /v/claim (with orders to claim) and /v/points, decline forms unfolded, every
    control has a name, headings go down one level at a time and nothing is wider than the
    360 px screen."""
    page = volunteer_page
    username = site.street.helper_with(2)
    make_roomy(site, username)
    login(page, username)
    problems: dict[str, Any] = {}
    for path in ("/v/", "/v/claim", "/v/points"):
        page.goto(path)
        open_all_details(page)
        unnamed, jumps, width = unnamed_controls(page), heading_jumps(page), scroll_width(page)
        if unnamed or jumps or width > MOBILE["width"]:
            problems[path] = {"unnamed": unnamed, "headings": jumps, "scroll_width": width}
            shot(page, f"FAILED-fit{path.replace('/', '_')}")
    assert problems == {}
