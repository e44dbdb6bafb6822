"""Login, logout, the language switch and the home redirect (by role)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api import i18n
from api.http.errors import status_of
from api.http.locale import LANG_COOKIE, LANG_COOKIE_AGE
from api.http.pages.render import (
    TOKEN_COOKIE,
    PageActor,
    check_csrf,
    page_actor,
    render,
)
from api.i18n import N_
from api.i18n import gettext as _
from api.services.accounts import auth, users
from api.services.actor import Actor
from api.services.errors import TooManyAttempts, Unauthorized
from api.store.db import session_scope

router = APIRouter(include_in_schema=False)
HOMES = {
    "helper": "/v/",
    "staff": "/s/",
    "planner": "/s/",
    "resident": "/r/",
    "family": "/r/",
    "grid_worker": "/g/",
}


@router.get("/")
def home(actor: PageActor) -> RedirectResponse:
    return RedirectResponse(HOMES.get(actor.role, "/login"), status_code=303)


EXPIRED = N_("Your login has expired: please log in again")


@router.get("/login")
def login_page(request: Request, next: str = "", expired: str = "") -> Response:
    """The login form; after an expired login it says so and comes back to ``next``."""
    notice = _(EXPIRED) if expired else None
    return render(request, "login.html", None, next=next if _local(next) else "", notice=notice)


@router.post("/login")
async def login_submit(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "",
) -> Response:
    settings = request.app.state.settings

    client = request.client.host if request.client else ""

    def check() -> auth.IssuedToken:
        with session_scope(request.app.state.sessions) as session:
            limits = auth.login_limits(settings)
            return auth.login(
                session,
                username,
                password,
                settings.token_ttl_minutes,
                client=client,
                limits=limits,
            )

    try:
        issued = await run_in_threadpool(check)
    except (Unauthorized, TooManyAttempts) as error:
        return _login_refused(request, error, next, username)
    target = next if _local(next) else HOMES.get(issued.user.role, "/")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        TOKEN_COOKIE,
        issued.token,
        max_age=settings.token_ttl_minutes * 60,
        httponly=True,
        samesite="strict",
        secure=settings.https,
    )
    if issued.user.language:  # the account's own language: also on this device's pages
        response.set_cookie(LANG_COOKIE, issued.user.language, max_age=LANG_COOKIE_AGE,
                            samesite="lax")  # fmt: skip
    return response


def _login_refused(
    request: Request, error: Unauthorized | TooManyAttempts, next: str, username: str
) -> Response:
    """The form again with the reason: a wrong password (401) or too many failures (429,
    with the minutes to wait)."""
    headers = None
    if isinstance(error, TooManyAttempts):
        minutes = -(-error.retry_after // 60)
        message = _("Too many failed logins: please try again in %(minutes)s min", minutes=minutes)
        headers = {"Retry-After": str(error.retry_after)}
    else:
        message = _("Wrong username or password")
    response = render(
        request,
        "login.html",
        None,
        status_of(error),
        next=next if _local(next) else "",
        login_error=message,
        username=username,
    )
    if headers:
        response.headers.update(headers)
    return response


def _local(url: str) -> bool:
    """Only same-site paths may follow a login (no open redirect)."""
    parsed = urlparse(url)
    return bool(url) and url.startswith("/") and not url.startswith("//") and not parsed.netloc


@router.post("/logout")
async def logout(request: Request) -> RedirectResponse:
    """End the login (in every worker at once). A forged logout (no CSRF token) is refused."""
    token = request.cookies.get(TOKEN_COOKIE)
    if token:
        await check_csrf(request, token)

        def revoke() -> None:
            with session_scope(request.app.state.sessions) as session:
                auth.logout(session, token)

        await run_in_threadpool(revoke)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(TOKEN_COOKIE)
    return response


@router.get("/lang/{code}")
def switch_language(request: Request, code: str) -> RedirectResponse:
    """The language switch of a signed-out page: the language cookie, back to the page. (A
    signed-in user's own choice wins over the cookie: their switch posts, below.)"""
    return _back_in(request, _offered(request, code))


@router.post("/lang/{code}")
async def choose_language(request: Request, code: str) -> RedirectResponse:
    """The language switch of a signed-in page (a form with the login's CSRF token): stores
    the choice on the user, so that it follows them to every device, and sets the cookie too
    (it stays after a logout). Signed out: the cookie only."""
    chosen = _offered(request, code)
    if request.cookies.get(TOKEN_COOKIE):
        actor = await page_actor(request)  # an expired login: to the login page
        if chosen != i18n.PSEUDO:  # the pseudo-locale is for tests: never stored

            def store(actor: Actor = actor) -> None:
                with session_scope(request.app.state.sessions) as session:
                    users.set_language(session, actor, chosen)

            await run_in_threadpool(store)
    return _back_in(request, chosen)


def _offered(request: Request, code: str) -> str:
    """The locale ``code`` names (an unknown code: the default)."""
    return i18n.choose(code, None, None, pseudo=request.app.state.settings.pseudo_locale)


def _back_in(request: Request, locale: str) -> RedirectResponse:
    """303 back to the page the switch was on (a same-site path, else the home), with the
    language cookie set."""
    back = request.headers.get("referer") or "/"
    target = urlparse(back)
    path = target.path + (f"?{target.query}" if target.query else "")
    response = RedirectResponse(path if _local(path) else "/", status_code=303)
    response.set_cookie(LANG_COOKIE, locale, max_age=LANG_COOKIE_AGE, samesite="lax")
    return response
