"""What every page shares: templates, the language switch, the logged-in actor from the cookie."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context

from api.deps import Actor, actor_for_token
from api.errors import Unauthorized
from api.services.assign import to_local

HERE = Path(__file__).parent
TOKEN_COOKIE = "qb_token"
LANG_COOKIE = "qb_lang"
templates = Jinja2Templates(directory=HERE / "templates")


class LoginRequired(Exception):
    """No valid login cookie: the app answers with a redirect to the login page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def language(request: Request) -> str:
    return "en" if request.cookies.get(LANG_COOKIE) == "en" else "zh"


def tr(lang: str, zh: str, en: str) -> str:
    """The text in the page's language."""
    return en if lang == "en" else zh


def in_language(lang: str, message: str) -> str:
    """The half of a service's "中文 / English" message in the page's language (a message
    without the separator as it is)."""
    zh, sep, en = message.partition(" / ")
    return tr(lang, zh, en) if sep else message


async def page_actor(request: Request) -> Actor:
    """The actor behind the login cookie, or a redirect to /login."""
    token = request.cookies.get(TOKEN_COOKIE)
    next_url = quote(str(request.url.path))
    if not token:
        raise LoginRequired(next_url)
    try:
        return await actor_for_token(request, token)
    except Unauthorized as error:
        raise LoginRequired(next_url) from error


PageActor = Annotated[Actor, Depends(page_actor)]


def render(
    request: Request, template: str, actor: Actor | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A page: the template with the actor, the language and ``t(zh, en)`` for texts."""
    lang = language(request)
    context.update(
        request=request,
        actor=actor,
        lang=lang,
        t=lambda zh, en: tr(lang, zh, en),
        message=request.query_params.get("msg"),
        error=context.get("error") or request.query_params.get("err"),
    )
    return templates.TemplateResponse(request, template, context, status_code=status_code)


def clock(minute: int | None) -> str:
    """Minutes after midnight as HH:MM ("" for None)."""
    if minute is None:
        return ""
    return f"{minute // 60:02d}:{minute % 60:02d}"


@pass_context
def local_time(context: Context, value: dt.datetime | None) -> str:
    """A stored (naive UTC) time as "MM-DD HH:MM" in the street's time zone ("" for None)."""
    if value is None:
        return ""
    settings = context["request"].app.state.settings
    return to_local(settings, value).strftime("%m-%d %H:%M")


templates.env.filters["clock"] = clock
templates.env.filters["local_time"] = local_time
