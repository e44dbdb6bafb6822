"""A user's own language: chosen from the pages' header switch (any signed-in role) or the API
(``PUT /auth/me/language``), stored on the account, and first in the request's locale choice:
the user's choice, then the language cookie, then ``Accept-Language``. It comes with the
login's own read: choosing it costs no query."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request

from api.http.locale import LANG_COOKIE, locale_of
from api.http.pages.render import TOKEN_COOKIE, csrf_token
from api.store.tables import UserRow
from tests.api.conftest import PASSWORD, World, login, sql_statements

Sessions = sessionmaker[Session]
SIGNED_IN_ROLES = ("helper1", "staff_c1", "staff", "planner")  # volunteer, staff, planner
HOMES = {"helper1": "/v/", "staff_c1": "/s/", "staff": "/s/", "planner": "/s/"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def web_login(client: TestClient, username: str) -> None:
    """Log in through the login form (the cookie stays in the client; no language cookie)."""
    client.cookies.clear()
    response = client.post(
        "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 303, response.text


def page_lang(client: TestClient, path: str, **headers: str) -> str:
    """The ``<html lang>`` of the page at ``path``."""
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    found = re.search(r'<html lang="([^"]+)">', response.text)
    assert found, response.text[:200]
    return found.group(1)


def stored_language(sessions: Sessions, username: str) -> str | None:
    with sessions() as session:
        return session.scalars(select(UserRow.language).where(UserRow.username == username)).one()


def set_language(sessions: Sessions, username: str, language: str | None) -> None:
    with sessions() as session:
        user = session.scalars(select(UserRow).where(UserRow.username == username)).one()
        user.language = language
        session.commit()


def test_locale_of_puts_the_users_choice_before_the_cookie_and_the_browser() -> None:
    """``locale_of``: the user's choice, then the cookie, then Accept-Language, then Chinese;
    a choice without a catalog falls through to the next."""

    def request(cookie: str | None, accept: str | None) -> Request:
        headers = [(b"cookie", f"{LANG_COOKIE}={cookie}".encode())] if cookie else []
        headers += [(b"accept-language", accept.encode())] if accept else []
        return Request({"type": "http", "headers": headers})

    assert locale_of(request("zh_CN", "zh"), "en") == "en"
    assert locale_of(request("en", "zh"), None) == "en"
    assert locale_of(request(None, "en-GB,en;q=0.9"), None) == "en"
    assert locale_of(request("en", None), "xx") == "en"
    assert locale_of(request(None, None), None) == "zh_CN"


def test_the_users_choice_beats_the_cookie_which_beats_the_browser(
    client: TestClient, sessions: Sessions, world: World
) -> None:
    """A signed-in page speaks the user's stored language whatever the cookie and the
    browser say; without a stored choice the cookie decides, without a cookie the browser."""
    web_login(client, "staff")
    set_language(sessions, "staff", "en")
    client.cookies.set(LANG_COOKIE, "zh_CN")
    assert page_lang(client, "/s/import/residents", **{"Accept-Language": "zh"}) == "en"
    assert "Log out" in client.get("/s/import/residents").text
    set_language(sessions, "staff", None)
    assert page_lang(client, "/s/import/residents", **{"Accept-Language": "en"}) == "zh-CN"
    client.cookies.delete(LANG_COOKIE)
    assert page_lang(client, "/s/import/residents", **{"Accept-Language": "en"}) == "en"
    assert page_lang(client, "/s/import/residents", **{"Accept-Language": "zh"}) == "zh-CN"


@pytest.mark.parametrize("username", SIGNED_IN_ROLES)
def test_every_signed_in_role_switches_from_the_header_and_the_choice_is_kept(
    client: TestClient, sessions: Sessions, world: World, username: str
) -> None:
    """The header's switch of a signed-in page is a form (with the login's CSRF token) that
    stores the choice on the account and sets the cookie, then goes back to the page; the
    pages stay in that language without the cookie (another device), and /auth/me says it."""
    web_login(client, username)
    home = HOMES[username]
    page = client.get(home).text
    switch = re.search(
        r'<form method="post" action="/lang/en"[^>]*>\s*<input type="hidden" '
        r'name="csrf_token" value="([0-9a-f]+)">',
        page,
    )
    assert switch, "no English switch form on the page"
    assert switch.group(1) == csrf_token(client.cookies[TOKEN_COOKIE])
    answer = client.post(
        "/lang/en",
        data={"csrf_token": switch.group(1)},
        headers={"Referer": f"http://testserver{home}"},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == home
    assert client.cookies.get(LANG_COOKIE) == "en"
    assert stored_language(sessions, username) == "en"
    client.cookies.delete(LANG_COOKIE)
    assert page_lang(client, home, **{"Accept-Language": "zh"}) == "en"
    me = client.get("/auth/me", headers=login(client, username)).json()
    assert me["language"] == "en"


def test_a_switch_without_the_csrf_token_changes_nothing(
    client: TestClient, sessions: Sessions, world: World
) -> None:
    """A signed-in switch posted without the login's CSRF token (a forged form) is refused and
    the account's language is left as it was."""
    web_login(client, "staff")
    answer = client.post("/lang/en", data={}, follow_redirects=False)
    assert answer.status_code == 403
    assert stored_language(sessions, "staff") is None


def test_signed_out_the_switch_sets_the_cookie_only(client: TestClient) -> None:
    """Signed out, the switch (the header's link, or a post) sets the language cookie and goes
    back; an unknown language sets the default."""
    client.cookies.clear()
    page = client.get("/login").text
    assert '<a href="/lang/en" lang="en">English</a>' in page
    answer = client.get(
        "/lang/en", headers={"Referer": "http://testserver/login"}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert client.cookies.get(LANG_COOKIE) == "en"
    assert page_lang(client, "/login") == "en"
    client.post("/lang/xx", follow_redirects=False)
    assert client.cookies.get(LANG_COOKIE) == "zh_CN"


def test_the_api_sets_and_forgets_the_language_and_speaks_it(
    client: TestClient, sessions: Sessions, world: World
) -> None:
    """``PUT /auth/me/language``: a language with a catalog is stored as its locale ("zh" →
    zh_CN), null forgets it, anything else is 422 naming the field; the API's messages follow
    the stored choice over Accept-Language."""
    headers = login(client, "helper1")
    put = client.put("/auth/me/language", json={"language": "zh"}, headers=headers)
    assert put.status_code == 200 and put.json()["language"] == "zh_CN"
    bad = client.put("/auth/me/language", json={"language": "klingon"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["field"] == "language"
    assert stored_language(sessions, "helper1") == "zh_CN"
    client.put("/auth/me/language", json={"language": "en"}, headers=headers)
    staff_route = client.get("/runs", headers=headers | {"Accept-Language": "zh"})
    assert staff_route.status_code in (403, 404) and not CJK.search(staff_route.json()["detail"])
    forget = client.put("/auth/me/language", json={"language": None}, headers=headers)
    assert forget.status_code == 200 and forget.json()["language"] is None
    staff_route = client.get("/runs", headers=headers | {"Accept-Language": "zh"})
    assert CJK.search(staff_route.json()["detail"])


def test_choosing_the_language_costs_no_query(
    client: TestClient, sessions: Sessions, world: World
) -> None:
    """A signed-out page asks the database nothing to choose its language, and a signed-in
    page asks exactly as much with a stored language as without one (it comes with the
    login's read)."""
    client.cookies.clear()
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with sql_statements(engine) as anonymous:
        assert page_lang(client, "/login", **{"Accept-Language": "en"}) == "en"
    assert anonymous == []
    web_login(client, "staff")
    with sql_statements(engine) as without_choice:
        assert page_lang(client, "/s/import/residents") == "zh-CN"
    set_language(sessions, "staff", "en")
    with sql_statements(engine) as with_choice:
        assert page_lang(client, "/s/import/residents") == "en"
    assert with_choice == without_choice
    assert [q for q in with_choice if q.lstrip().upper().startswith("SELECT")] == with_choice[-1:]


def test_logging_in_brings_the_accounts_language_to_the_device(
    client: TestClient, sessions: Sessions, world: World
) -> None:
    """A login on a new device sets the language cookie to the account's language, so that
    the pages without a login there (the login page after a logout) speak it too."""
    set_language(sessions, "planner", "en")
    web_login(client, "planner")
    assert client.cookies.get(LANG_COOKIE) == "en"
    client.cookies.delete(TOKEN_COOKIE)
    assert page_lang(client, "/login", **{"Accept-Language": "zh"}) == "en"
    web_login(client, "staff")  # no language of its own: the cookie is left alone
    assert LANG_COOKIE not in client.cookies
