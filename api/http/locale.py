"""Each request's locale, chosen in one place (``locale_of``): the signed-in user's own choice,
then the language cookie, then ``Accept-Language``, else Chinese (``api.i18n.choose``), so that
pages, API messages and everything a service translates on the request's behalf speak the
reader's language.

The middleware chooses before any route runs, from the cookie and the header (no database:
an anonymous request costs nothing). Who is signed in is known only when a route's
dependencies resolve the login (``api.http.deps.actor_for_token``); the user's language comes
with that same read of the account, and ``use_user_language`` chooses again there."""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from api import i18n

LANG_COOKIE = "qb_lang"
LANG_COOKIE_AGE = 365 * 86400


def locale_of(connection: HTTPConnection, chosen: str | None = None) -> str:
    """The locale to answer in: the user's own choice (``chosen``, once the login is known),
    then the language cookie (set by the language switch), then the browser's
    ``Accept-Language``, else Chinese (``api.i18n.choose``); the pseudo-locale only where the
    settings offer it."""
    app = connection.scope.get("app")
    pseudo = bool(app is not None and app.state.settings.pseudo_locale)
    return i18n.choose(
        chosen,
        connection.cookies.get(LANG_COOKIE),
        connection.headers.get("accept-language"),
        pseudo=pseudo,
    )


def use_user_language(connection: HTTPConnection, chosen: str | None) -> None:
    """Answer this request in the signed-in user's language (their choice first): called where
    the login is resolved, before the route runs, in the request's own context."""
    if chosen:
        i18n.set_locale(locale_of(connection, chosen))


class RequestLocale:
    """Pure ASGI: reads the cookie and header once per request and sets ``i18n``'s locale (a
    context variable: worker threads running the route inherit it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            i18n.set_locale(locale_of(HTTPConnection(scope)))
        await self.app(scope, receive, send)
