"""Each request's locale, set before any route runs (``api.i18n.choose``: the language cookie,
then ``Accept-Language``, else Chinese), so that pages, API messages and everything a service
translates on the request's behalf speak the reader's language."""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from api import i18n

LANG_COOKIE = "qb_lang"


def locale_of(connection: HTTPConnection) -> str:
    """The locale to answer in: the language cookie (set by ``/lang/{code}``), then the
    browser's ``Accept-Language``, else Chinese (``api.i18n.choose``); the pseudo-locale only
    where the settings offer it."""
    app = connection.scope.get("app")
    pseudo = bool(app is not None and app.state.settings.pseudo_locale)
    return i18n.choose(
        None,
        connection.cookies.get(LANG_COOKIE),
        connection.headers.get("accept-language"),
        pseudo=pseudo,
    )


class RequestLocale:
    """Pure ASGI: reads the cookie and header once per request and sets ``i18n``'s locale (a
    context variable: worker threads running the route inherit it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            i18n.set_locale(locale_of(HTTPConnection(scope)))
        await self.app(scope, receive, send)
