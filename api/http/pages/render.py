"""What every page shares: templates, the language switch, the logged-in actor from the cookie."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from babel import Locale
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from api import i18n
from api.http.deps import actor_for_token
from api.services.actor import Actor
from api.services.errors import Unauthorized
from api.services.offers.assign import to_local

HERE = Path(__file__).parent
TOKEN_COOKIE = "qb_token"
templates = Jinja2Templates(directory=HERE / "templates")


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class LoginRequired(Exception):
    """No valid login cookie: the app answers with a redirect to the login page, which comes
    back to ``next_url`` (a path of this site) after the login."""

    def __init__(self, next_url: str, *, expired: bool = False) -> None:
        super().__init__(next_url)
        self.next_url = next_url
        self.expired = expired

    @property
    def location(self) -> str:
        query = {"next": self.next_url} | ({"expired": "1"} if self.expired else {})
        return "/login?" + urlencode(query, safe="/")


class FormRefused(Exception):
    """A page's form came without the CSRF token of the login it was sent with (a forged
    request, or a form from before a new login): refused, nothing changed."""


def language(_request: Request | None = None) -> str:
    """The page's language as pages compare it ("zh" or "en"; a pseudo-locale reads as "en"):
    of the locale chosen for the request (``api.http.locale``: the user's own, once the login
    is known, then the cookie and the browser)."""
    return "zh" if i18n.short() == "zh" else "en"


@cache
def _autonym(locale: str) -> tuple[str, str]:
    """A locale's name in its own language and its HTML ``lang`` ("中文", "zh-CN")."""
    tag = "zh-CN" if i18n.short(locale) == "zh" else i18n.short(locale)
    if locale == i18n.PSEUDO:
        return i18n.pseudo("Pseudo"), tag
    return Locale.parse(locale).language_name or locale, tag


def other_languages(request: Request) -> list[tuple[str, str, str]]:
    """The language switch: every other language on offer as (locale, its own name, HTML
    ``lang``); adding a catalog adds one."""
    offered = list(i18n.shipped())
    if request.app.state.settings.pseudo_locale:
        offered.append(i18n.PSEUDO)
    return [(code, *_autonym(code)) for code in offered if code != i18n.current()]


def tr(lang: str, zh: str, en: str) -> str:
    """The text in the page's language."""
    return en if lang == "en" else zh


def in_language(lang: str, message: str) -> str:
    """The half of a service's "中文 / English" message in the page's language (a message
    without the separator as it is)."""
    zh, sep, en = message.partition(" / ")
    return tr(lang, zh, en) if sep else message


def csrf_token(session_token: str) -> str:
    """The CSRF token of a login: keyed by the login's own secret token, so it is the same in
    every worker, changes with every login, and reveals nothing about the login token."""
    return hmac.new(session_token.encode(), b"qunbang-csrf", hashlib.sha256).hexdigest()


async def page_actor(request: Request) -> Actor:
    """The actor behind the login cookie, or a redirect to /login that comes back here (for a
    form sent after the login expired: back to the page the form was on). A form post must
    carry the login's CSRF token (hidden field ``csrf_token`` or header ``X-CSRF-Token``)."""
    token = request.cookies.get(TOKEN_COOKIE)
    unsafe = request.method not in SAFE_METHODS
    next_url = _form_page(request) if unsafe else _path_and_query(request)
    if not token:
        raise LoginRequired(next_url)
    try:
        actor = await actor_for_token(request, token)
    except Unauthorized as error:
        raise LoginRequired(next_url, expired=True) from error
    if unsafe:
        await check_csrf(request, token)
    return actor


async def check_csrf(request: Request, session_token: str) -> None:
    """``FormRefused`` unless the request carries the CSRF token of ``session_token``."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else ""
    if not hmac.compare_digest(sent, csrf_token(session_token)):
        raise FormRefused()


def _path_and_query(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _form_page(request: Request) -> str:
    """The page a form was sent from: the path of a same-site ``Referer``, else the home."""
    referer = urlsplit(request.headers.get("referer", ""))
    site = urlsplit(request.app.state.settings.site_origin).netloc.lower()
    if referer.netloc.lower() not in {request.headers.get("host", "").lower(), site} - {""}:
        return "/"
    return referer.path + (f"?{referer.query}" if referer.query else "") or "/"


@pass_context
def csrf_field(context: Context) -> Markup:
    """The hidden CSRF field every page form carries (empty without a login)."""
    token = context["request"].cookies.get(TOKEN_COOKIE)
    if not token:
        return Markup("")
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        CSRF_FIELD, csrf_token(token)
    )


PageActor = Annotated[Actor, Depends(page_actor)]


def render(
    request: Request, template: str, actor: Actor | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A page: the template with the actor and the page's locale (the catalogs' ``_`` and
    Babel's formats follow it); ``t(zh, en)`` picks one of a text given in both languages as
    data (a catalogue item's names, a stored notification), never a text of the page's own
    (those are catalog messages). The request's locale was set before the route ran
    (``api.http.locale``; the user's own language where the login was resolved)."""
    locale = i18n.current()
    lang = "zh" if i18n.short(locale) == "zh" else "en"
    context.update(
        request=request,
        actor=actor,
        lang=lang,
        html_lang="zh-CN" if lang == "zh" else i18n.short(locale),
        t=lambda zh, en: tr(lang, zh, en),
        languages=other_languages(request),
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


def _gettext(message: str) -> str:
    return i18n.translations(i18n.current()).ugettext(message)


def _ngettext(singular: str, plural: str, n: int) -> str:
    return i18n.translations(i18n.current()).ungettext(singular, plural, n)


def _pgettext(context: str, message: str) -> str:
    return i18n.translations(i18n.current()).upgettext(context, message)


def _npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return i18n.translations(i18n.current()).unpgettext(context, singular, plural, n)


# Every page text is ``_("English")`` (or ``pgettext``) from the catalogs, in the locale ``render``
# sets for the request; newstyle: ``_("Page %(page)s", page=n)`` fills places after translating.
templates.env.add_extension("jinja2.ext.i18n")
templates.env.install_gettext_callables(  # type: ignore[attr-defined]
    _gettext, _ngettext, newstyle=True, pgettext=_pgettext, npgettext=_npgettext
)
templates.env.globals["format_km"] = i18n.format_km
templates.env.globals["format_yuan"] = i18n.format_yuan
templates.env.filters["clock"] = clock
templates.env.filters["local_time"] = local_time
templates.env.globals["csrf_field"] = csrf_field
