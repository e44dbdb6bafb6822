"""The login page, the cookie it sets, the language switch (pages through the HTTP client)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import PASSWORD


def test_login_page_is_chinese_first_with_an_english_switch(client: TestClient) -> None:
    """The login page speaks Chinese by default and English after /lang/en."""
    page = client.get("/login")
    assert page.status_code == 200 and "登录" in page.text and 'lang="zh-CN"' in page.text
    client.get("/lang/en", headers={"referer": "http://testserver/login"})
    english = client.get("/login")
    assert "Log in" in english.text and 'lang="en"' in english.text


def test_login_sets_a_cookie_and_sends_each_role_home(client: TestClient) -> None:
    """A right password sets an HttpOnly cookie and redirects a helper to /v/, staff to /s/."""
    for username, home in (("helper1", "/v/"), ("staff", "/s/")):
        client.cookies.clear()
        response = client.post(
            "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False
        )
        assert response.status_code == 303 and response.headers["location"] == home
        assert "httponly" in response.headers["set-cookie"].lower()


def test_wrong_password_shows_the_error_and_no_cookie(client: TestClient) -> None:
    """A wrong password re-shows the form with the error and sets no cookie."""
    response = client.post("/login", data={"username": "staff", "password": "wrong-pass-1"})
    assert response.status_code == 401
    assert "用户名或密码错误" in response.text
    assert "qb_token" not in response.headers.get("set-cookie", "")


def test_login_never_redirects_off_site(client: TestClient) -> None:
    """A next= pointing to another site is ignored (no open redirect)."""
    response = client.post(
        "/login",
        data={"username": "staff", "password": PASSWORD, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/s/"
