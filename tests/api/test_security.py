"""Abuse resistance: login limits, revocation in every worker, CSRF, security headers, the
scope of community staff and planners, and what a page does when the login has expired."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.http.app import create_app
from api.services.hours import totals
from api.settings import Settings
from api.store.tables import (
    AssignmentRow,
    FollowUpRow,
    OfferRow,
    OrderRow,
    OrderSeries,
    PointsEntry,
    ResidentRow,
    TokenRow,
    UserRow,
    utcnow,
)
from tests.api.conftest import DATE, PASSWORD, World, login
from tests.api.test_ledger import Other, add_community
from tests.api.test_orders import HAND_PICKED

# ----------------------------------------------------------------------------- scope


@dataclass(frozen=True)
class Elsewhere:
    """Objects of another community of the same street: each route with an id is asked for
    one of them by staff of the first community."""

    other: Other
    order_id: int
    assignment_id: int
    offer_id: int
    entry_id: int
    follow_up_id: int
    series_id: int


@pytest.fixture
def elsewhere(sessions: sessionmaker[Session], world: World) -> Elsewhere:
    other = add_community(sessions, world.street_id)
    with sessions() as session:
        order = OrderRow(
            street_id=world.street_id,
            resident_id=other.resident_id,
            item="S01",
            date=DATE,
            status="offered",
        )
        session.add(order)
        session.flush()
        assignment = AssignmentRow(
            order_id=order.id, source="manual", status="active", override_reason=HAND_PICKED
        )
        session.add(assignment)
        session.flush()
        offer = OfferRow(
            assignment_id=assignment.id,
            helper_id=other.helper_id,
            status="pending",
            respond_by=utcnow() + dt.timedelta(hours=12),
        )
        entry = PointsEntry(helper_id=other.helper_id, amount=5, kind="bonus", reason="test")
        follow_up = FollowUpRow(order_id=order.id, due_date=DATE)
        series = OrderSeries(
            resident_id=other.resident_id, item="S01", weekdays=[0], start_date=DATE
        )
        session.add_all([offer, entry, follow_up, series])
        session.flush()
        totals.add_points(session, [entry.id])  # as the ledger's writers keep the roll's totals
        session.commit()
        return Elsewhere(
            other, order.id, assignment.id, offer.id, entry.id, follow_up.id, series.id
        )


def scoped_requests(e: Elsewhere) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Every API route that names a helper, resident, order, points entry, follow-up or
    series (by path or in its body), asked about one of another community."""
    helper, resident, order = e.other.helper_id, e.other.resident_id, e.order_id
    return [
        ("GET", f"/helpers/{helper}", None),
        ("PATCH", f"/helpers/{helper}", {"phone": "13800000000"}),
        ("POST", f"/helpers/{helper}/deactivate", None),
        ("GET", f"/helpers/{helper}/points", None),
        ("POST", "/points/bonus", {"helper_id": helper, "amount": 1, "reason": "x"}),
        ("POST", f"/points/{e.entry_id}/reverse", {"reason": "x"}),
        ("GET", f"/residents/{resident}", None),
        ("PATCH", f"/residents/{resident}", {"phone": "13800000000"}),
        ("POST", f"/residents/{resident}/deactivate", None),
        ("GET", f"/orders/{order}", None),
        ("POST", f"/orders/{order}/confirm", None),
        ("POST", f"/orders/{order}/reassign", {"helper_ids": [helper]}),
        ("POST", f"/orders/{order}/cancel", {"reason": "x"}),
        ("GET", f"/orders/{order}/candidates", None),
        ("POST", f"/orders/{order}/feedback", {"score": 5}),
        ("POST", f"/follow-ups/{e.follow_up_id}/done", None),
        ("POST", f"/order-series/{e.series_id}/end", None),
        ("POST", "/orders", {"resident_id": resident, "item": "S01", "date": str(DATE)}),
        (
            "POST",
            "/order-series",
            {"resident_id": resident, "item": "S01", "weekdays": [0], "start_date": str(DATE)},
        ),
    ]


def test_community_staff_get_404_for_every_object_of_another_community(
    client: TestClient, elsewhere: Elsewhere, sessions: sessionmaker[Session]
) -> None:
    """Staff of one community asking any route about a helper, resident, order, points entry,
    follow-up or series of another community get 404 and change nothing."""
    headers = login(client, "staff_c1")
    answers = {
        (method, path): client.request(method, path, json=body, headers=headers).status_code
        for method, path, body in scoped_requests(elsewhere)
    }
    assert {key: status for key, status in answers.items() if status != 404} == {}
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(PointsEntry)) == 1
        assert session.get_one(OrderRow, elsewhere.order_id).status == "offered"


def test_community_staff_pages_answer_404_for_another_community(
    client: TestClient, elsewhere: Elsewhere, sessions: sessionmaker[Session]
) -> None:
    """The staff pages of a helper or resident of another community are "not found", and
    assigning that community's order is refused with "not found" and changes nothing."""
    page_login(client, "staff_c1")
    for path in (
        f"/s/helpers/{elsewhere.other.helper_id}",
        f"/s/residents/{elsewhere.other.resident_id}",
    ):
        assert client.get(path).status_code == 404, path
    token = form_token(client.get("/s/orders/new").text)
    assigned = client.post(
        f"/s/orders/{elsewhere.order_id}/assign",
        data={"csrf_token": token, "helper_ids": str(elsewhere.other.helper_id)},
        follow_redirects=False,
    )
    assert assigned.status_code == 303 and "err=" in assigned.headers["location"]
    assert "%E6%9C%AA%E6%89%BE%E5%88%B0" in assigned.headers["location"]  # 未找到
    with sessions() as session:
        offers = session.scalars(
            select(OfferRow).where(OfferRow.assignment_id == elsewhere.assignment_id)
        )
        assert [offer.id for offer in offers] == [elsewhere.offer_id]


def test_street_staff_reach_every_community(client: TestClient, elsewhere: Elsewhere) -> None:
    """The same reads by street-wide staff answer 200 (the 404s above are about scope)."""
    headers = login(client, "staff")
    for path in (
        f"/helpers/{elsewhere.other.helper_id}",
        f"/helpers/{elsewhere.other.helper_id}/points",
        f"/residents/{elsewhere.other.resident_id}",
        f"/orders/{elsewhere.order_id}",
    ):
        assert client.get(path, headers=headers).status_code == 200, path


# ----------------------------------------------------------------------------- helpers


def page_login(client: TestClient, username: str) -> None:
    """Log in through the login form; later form posts carry the page's CSRF token."""
    client.cookies.clear()
    response = client.post(
        "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 303, response.text


def offer_of(sessions: sessionmaker[Session], username: str) -> int:
    """A pending offer made to ``username``'s helper (one is added)."""
    with sessions() as session:
        user = session.scalars(select(UserRow).where(UserRow.username == username)).one()
        order = session.scalars(select(OrderRow).order_by(OrderRow.id)).first()
        assert order is not None and user.helper_id is not None
        order.status = "offered"  # what its new pending offer makes it
        assignment = AssignmentRow(
            order_id=order.id, source="manual", status="active", override_reason=HAND_PICKED
        )
        session.add(assignment)
        session.flush()
        offer = OfferRow(
            assignment_id=assignment.id,
            helper_id=user.helper_id,
            status="pending",
            respond_by=utcnow() + dt.timedelta(hours=12),
        )
        session.add(offer)
        session.commit()
        return offer.id


def offer_status(sessions: sessionmaker[Session], offer_id: int) -> str:
    with sessions() as session:
        return session.get_one(OfferRow, offer_id).status


def form_token(page: str) -> str:
    """The CSRF token of the first form on a page."""
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert found, "no CSRF field on the page"
    return found.group(1)


# ----------------------------------------------------------------------------- CSRF


def test_a_post_from_a_foreign_origin_is_refused_and_changes_nothing(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    """Accepting an offer from another site's page (foreign Origin, or foreign Referer
    without Origin) answers 403, even with the right CSRF token, and the offer stays pending."""
    offer_id = offer_of(sessions, "helper1")
    page_login(client, "helper1")
    token = form_token(client.get("/v/").text)
    for headers in ({"Origin": "https://evil.example"}, {"Referer": "https://evil.example/x"},
                    {"Origin": "null"}):  # fmt: skip
        answer = client.post(
            f"/v/offers/{offer_id}/accept", data={"csrf_token": token}, headers=headers
        )
        assert answer.status_code == 403, headers
        assert "来自其他网站的请求已拒绝" in answer.text
    api = client.post("/auth/token", data={"username": "staff", "password": PASSWORD},
                      headers={"Origin": "https://evil.example"})  # fmt: skip
    assert api.status_code == 403 and api.json()["code"] == "forbidden"
    assert offer_status(sessions, offer_id) == "pending"


def test_the_public_origin_setting_admits_a_proxied_site(settings: Settings, world: World) -> None:
    """Behind a proxy that rewrites Host, posts from QUNBANG_SITE_ORIGIN pass the check and
    posts from elsewhere still do not."""
    proxied = settings.model_copy(update={"site_origin": "https://qunbang.example.org"})
    with TestClient(create_app(proxied, ticker=False)) as client:
        form = {"username": "staff", "password": PASSWORD}
        ours = client.post(
            "/auth/token", data=form, headers={"Origin": "https://qunbang.example.org"}
        )
        theirs = client.post("/auth/token", data=form, headers={"Origin": "https://evil.example"})
        assert ours.status_code == 200 and theirs.status_code == 403


def test_a_form_without_the_right_token_is_refused(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    """A same-site form post without the login's CSRF token, or with another login's, is
    refused with a page saying nothing changed; with the token it goes through."""
    offer_id = offer_of(sessions, "helper1")
    page_login(client, "helper1")
    same_site = {"Origin": "http://testserver"}
    for data in ({}, {"csrf_token": "0" * 64}):
        answer = client.post(f"/v/offers/{offer_id}/accept", data=data, headers=same_site)
        assert answer.status_code == 403 and "什么都没有改变" in answer.text
    assert offer_status(sessions, offer_id) == "pending"
    token = form_token(client.get("/v/").text)
    accepted = client.post(
        f"/v/offers/{offer_id}/accept",
        data={"csrf_token": token},
        headers=same_site,
        follow_redirects=False,
    )
    assert accepted.status_code == 303 and offer_status(sessions, offer_id) == "accepted"


def test_every_page_form_carries_the_token(client: TestClient) -> None:
    """Each form that posts on the main pages has the CSRF field, and the token differs
    from one login to the next."""
    seen = set()
    for username, paths in (("helper1", ("/v/", "/v/claim")), ("staff", ("/s/", "/s/orders/new"))):
        page_login(client, username)
        for path in paths:
            page = client.get(path).text
            posts = re.findall(r'<form method="post".*?</form>', page, re.S)
            assert posts, path
            assert all('name="csrf_token"' in form for form in posts), path
            seen.add(form_token(page))
    assert len(seen) == 2


def test_logout_needs_the_token_and_the_api_ignores_the_cookie(client: TestClient) -> None:
    """A forged logout (no token) is refused; the JSON API never takes the login cookie as a
    login, so a cookie alone cannot call it."""
    page_login(client, "staff")
    assert client.get("/auth/me").status_code == 401  # cookie only: not logged in for the API
    assert client.post("/logout").status_code == 403
    assert client.get("/s/", follow_redirects=False).status_code == 200
    token = form_token(client.get("/s/").text)
    out = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"


# ----------------------------------------------------------------------------- headers


def test_pages_and_api_answers_are_never_stored_and_carry_the_security_headers(
    client: TestClient,
) -> None:
    """Pages and API answers say no-store, a CSP without inline script or style, no framing,
    nosniff and a referrer policy; static files may be cached."""
    headers = login(client, "staff")
    page_login(client, "staff")
    for path, extra in (("/s/residents", {}), ("/residents", headers), ("/login", {})):
        answer = client.get(path, headers=extra)
        assert answer.status_code == 200, path
        csp = answer.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "style-src 'self';" in csp, csp
        assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "same-origin"
        assert "strict-transport-security" not in answer.headers
    static = client.get("/static/app.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("cache-control", "")


def test_no_inline_script_or_style_in_any_template() -> None:
    """The templates hold no <script> body, no <style>, no style= and no on…= handler: the
    CSP would block them."""
    from pathlib import Path

    import api.http.pages

    folder = Path(api.http.pages.__file__).parent / "templates"
    for template in folder.rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=", text), template


def test_every_post_form_in_the_templates_has_the_csrf_field() -> None:
    """Each <form method="post"> of every template (but the login form, which has no login
    yet) carries {{ csrf_field() }}: a form added later without it fails here."""
    from pathlib import Path

    import api.http.pages

    folder = Path(api.http.pages.__file__).parent / "templates"
    for template in folder.rglob("*.html"):
        for form in re.findall(r'<form method="post".*?</form>', template.read_text(), re.S):
            if 'action="/login"' not in form:
                assert "{{ csrf_field() }}" in form, (template.name, form[:80])


def test_map_legend_colours_match_the_map() -> None:
    """The legend's colours in the stylesheet are the map's (MAP_STYLES)."""
    from pathlib import Path

    import api.http.pages
    from api.http.pages.staff import MAP_STYLES

    css = (Path(api.http.pages.__file__).parent / "static" / "app.css").read_text()
    for key, (colour, *_rest) in MAP_STYLES.items():
        assert f".swatch.{key} {{ background: {colour}; }}" in css, key


def test_https_setting_makes_the_cookie_secure(settings: Settings, world: World) -> None:
    """With QUNBANG_HTTPS=1 the login cookie is Secure and HSTS is sent; without, neither."""
    for https in (False, True):
        with TestClient(create_app(settings.model_copy(update={"https": https}), ticker=False),
                        base_url="https://testserver") as client:  # fmt: skip
            answer = client.post(
                "/login",
                data={"username": "staff", "password": PASSWORD},
                follow_redirects=False,
            )
            cookie = answer.headers["set-cookie"].lower()
            assert ("; secure" in cookie) is https
            assert ("strict-transport-security" in answer.headers) is https


# ----------------------------------------------------------------------------- login page


def test_the_login_page_says_when_to_try_again(client: TestClient) -> None:
    """After 5 wrong passwords the login form answers 429 with the wait in minutes, and the
    right password is refused too."""
    for _ in range(5):
        client.post("/login", data={"username": "staff", "password": "wrong-pass-1"})
    answer = client.post("/login", data={"username": "staff", "password": PASSWORD})
    assert answer.status_code == 429 and "登录失败次数过多，请 15 分钟后再试" in answer.text
    assert int(answer.headers["retry-after"]) > 0
    assert "qb_token" not in answer.headers.get("set-cookie", "")


# ----------------------------------------------------------------------------- expired login


def expire_logins(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        for row in session.scalars(select(TokenRow)):
            row.expires_at = dt.datetime(2000, 1, 1)
        session.commit()


def test_a_form_sent_after_the_login_expired_comes_back_to_its_page(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    """A claim sent after the login expired goes to the login page with "登录已过期" and,
    after logging in, back to the page the form was on (never a raw 405 or JSON)."""
    page_login(client, "helper1")
    token = form_token(client.get("/v/claim").text)
    expire_logins(sessions)
    claim = client.post(
        "/v/claim/1",
        data={"csrf_token": token},
        headers={"Referer": "http://testserver/v/claim?page=2"},
        follow_redirects=False,
    )
    assert claim.status_code == 303
    assert claim.headers["location"] == "/login?next=/v/claim%3Fpage%3D2&expired=1"
    login_page = client.get(claim.headers["location"])
    assert "登录已过期，请重新登录" in login_page.text
    assert 'name="next" value="/v/claim?page=2"' in login_page.text
    again = client.post(
        "/login",
        data={"username": "helper1", "password": PASSWORD, "next": "/v/claim?page=2"},
        follow_redirects=False,
    )
    assert again.headers["location"] == "/v/claim?page=2"
    assert client.get("/v/claim?page=2").status_code == 200


def test_an_expired_page_visit_returns_there_and_foreign_referers_are_ignored(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    """A page opened after the login expired comes back to itself (with its query); a form
    post whose Referer names another site (or none) goes to the home after login."""
    page_login(client, "staff")
    expire_logins(sessions)
    page = client.get("/s/residents?q=x", follow_redirects=False)
    assert page.headers["location"] == "/login?next=/s/residents%3Fq%3Dx&expired=1"
    form = client.post("/s/runs", data={"date": str(DATE)}, follow_redirects=False)
    assert form.headers["location"] == "/login?next=/&expired=1"
    client.cookies.clear()
    fresh = client.get("/s/", follow_redirects=False)
    assert fresh.headers["location"] == "/login?next=/s/"  # never logged in: no "expired"
    assert "登录已过期" not in client.get(fresh.headers["location"]).text


# ----------------------------------------------------------------------------- planners


def test_planners_see_counts_per_category_not_each_residents_category(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    """A planner's resident list has no category and may not be filtered by one (403); the
    counts per category add up to the list's total; staff still see each category."""
    planner = login(client, "planner")
    listed = client.get("/residents", headers=planner, params={"page_size": 200}).json()
    assert listed["total"] > 0 and all("category" not in item for item in listed["items"])
    refused = client.get("/residents", headers=planner, params={"category": "living_alone"})
    assert refused.status_code == 403 and refused.json()["field"] == "category"
    counts = client.get("/residents/categories", headers=planner).json()
    assert counts["total"] == listed["total"] == sum(counts["counts"].values())
    with sessions() as session:
        alone = session.scalar(
            select(func.count())
            .select_from(ResidentRow)
            .where(ResidentRow.category == "living_alone")
        )
    assert counts["counts"].get("living_alone", 0) == alone
    staff = client.get("/residents", headers=login(client, "staff")).json()
    assert all("category" in item for item in staff["items"])


def test_community_staff_count_only_their_community(
    client: TestClient, elsewhere: Elsewhere
) -> None:
    """Category counts of community staff leave out the other community's resident."""
    street = client.get("/residents/categories", headers=login(client, "staff")).json()
    community = client.get("/residents/categories", headers=login(client, "staff_c1")).json()
    assert street["total"] == community["total"] + 1
