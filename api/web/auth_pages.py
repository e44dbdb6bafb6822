"""Login, logout, the language switch and the home redirect (by role)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.errors import Unauthorized
from api.services import auth
from api.store.db import session_scope
from api.web.render import LANG_COOKIE, TOKEN_COOKIE, PageActor, render

router = APIRouter(include_in_schema=False)
HOMES = {"helper": "/v/", "staff": "/s/", "planner": "/s/", "resident": "/v/"}


@router.get("/")
def home(actor: PageActor) -> RedirectResponse:
    return RedirectResponse(HOMES.get(actor.role, "/login"), status_code=303)


@router.get("/login")
def login_page(request: Request, next: str = "") -> Response:
    return render(request, "login.html", None, next=next)


@router.post("/login")
async def login_submit(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "",
) -> Response:
    settings = request.app.state.settings

    def check() -> auth.IssuedToken:
        with session_scope(request.app.state.sessions) as session:
            return auth.login(session, username, password, settings.token_ttl_minutes)

    try:
        issued = await run_in_threadpool(check)
    except Unauthorized:
        error = ("用户名或密码错误", "Wrong username or password")
        return render(
            request, "login.html", None, 401, next=next, login_error=error, username=username
        )
    target = next if _local(next) else HOMES.get(issued.user.role, "/")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        TOKEN_COOKIE,
        issued.token,
        max_age=settings.token_ttl_minutes * 60,
        httponly=True,
        samesite="strict",
    )
    return response


def _local(url: str) -> bool:
    """Only same-site paths may follow a login (no open redirect)."""
    parsed = urlparse(url)
    return bool(url) and url.startswith("/") and not url.startswith("//") and not parsed.netloc


@router.post("/logout")
async def logout(request: Request) -> RedirectResponse:
    token = request.cookies.get(TOKEN_COOKIE)
    if token:

        def revoke() -> None:
            with session_scope(request.app.state.sessions) as session:
                auth.logout(session, token)

        await run_in_threadpool(revoke)
        request.app.state.actors.drop(auth.hash_token(token))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(TOKEN_COOKIE)
    return response


@router.get("/lang/{code}")
def switch_language(request: Request, code: str) -> RedirectResponse:
    back = request.headers.get("referer") or "/"
    target = urlparse(back)
    path = target.path + (f"?{target.query}" if target.query else "")
    response = RedirectResponse(path if _local(path) else "/", status_code=303)
    response.set_cookie(
        LANG_COOKIE, "en" if code == "en" else "zh", max_age=365 * 86400, samesite="lax"
    )
    return response
