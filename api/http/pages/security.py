"""What every answer gets and every state-changing request must pass, in one ASGI middleware:
security headers (CSP without inline script or style, no framing, ``nosniff``, a referrer
policy, ``no-store`` on everything but the static files, HSTS over HTTPS) and a same-origin
check of ``Origin`` (else ``Referer``) on every unsafe method. Pages add a per-session CSRF
token on top (``api.http.pages.render``); the API takes bearer tokens only, which a foreign site
cannot make a browser send."""

from __future__ import annotations

import json
from html import escape
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import i18n
from api.http.pages.render import FormRefused, LoginRequired, render
from api.i18n import N_
from api.i18n import gettext as _

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# FastAPI's Swagger UI and ReDoc pages load their script and style from a CDN and start with an
# inline script: only these pages get a policy that allows both (the rest stays strict).
DOCS_PATHS = ("/docs", "/redoc")
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https:; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
REFUSED = N_("Request from another site refused.")


def install(app: FastAPI, *, https: bool, site_origin: str = "") -> None:
    """Add the middleware and the pages' answers to a missing login or a refused form."""
    app.add_middleware(SecurityMiddleware, https=https, site_origin=site_origin)

    @app.exception_handler(LoginRequired)
    async def login_required(_request: Request, error: LoginRequired) -> RedirectResponse:
        return RedirectResponse(error.location, status_code=303)

    @app.exception_handler(FormRefused)
    async def form_refused(request: Request, _error: FormRefused) -> HTMLResponse:
        return render(request, "refused.html", None, 403)


class SecurityMiddleware:
    """Security headers on every answer; unsafe methods from another origin answer 403."""

    def __init__(self, app: ASGIApp, *, https: bool = False, site_origin: str = "") -> None:
        self.app = app
        self.https = https
        self.site_host = _netloc(site_origin) if site_origin else ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        extra = self._headers(path)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    headers[name] = value
            await send(message)

        unsafe = scope["method"] not in SAFE_METHODS
        if unsafe and not same_origin(Headers(scope=scope), self.site_host):
            await _refuse(path, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    def _headers(self, path: str) -> dict[str, str]:
        headers = dict(HEADERS)
        docs = path.startswith(DOCS_PATHS)
        headers["Content-Security-Policy"] = DOCS_CSP if docs else CSP
        if not path.startswith("/static/"):
            # Pages and API answers hold personal data: never kept, so Back after a logout
            # shows nothing. Static files (script, stylesheet) may be cached.
            headers["Cache-Control"] = "no-store"
        if self.https:
            headers["Strict-Transport-Security"] = "max-age=31536000"
        return headers


def same_origin(headers: Headers, site_host: str = "") -> bool:
    """Whether a request comes from this site: its ``Origin`` (or, without one, its
    ``Referer``) names the host the request was sent to (or ``site_host``, the public one). A
    request with neither (not from a browser, or a browser that sends neither) passes here;
    pages still need their CSRF token. The scheme is not compared: behind a proxy that
    terminates TLS the app sees plain HTTP."""
    hosts = {headers.get("host", "").lower(), site_host} - {""}
    origin = headers.get("origin")
    if origin is not None:
        return origin != "null" and _netloc(origin) in hosts
    referer = headers.get("referer")
    if referer is not None:
        return _netloc(referer) in hosts
    return True


def _netloc(url: str) -> str:
    try:
        return urlsplit(url).netloc.lower()
    except ValueError:
        return ""


async def _refuse(path: str, send: Send) -> None:
    """403: JSON for the API (``{detail, code, field}``), a short page for the pages."""
    page = not path.startswith("/docs") and path.split("/")[1] in PAGE_ROOTS
    if page:  # in the request's language (``RequestLocale`` runs before this middleware)
        lang = "zh-CN" if i18n.short() == "zh" else i18n.short()
        body = (
            f'<!doctype html><html lang="{escape(lang)}"><meta charset="utf-8"><title>403</title>'
            f'<p>{escape(_(REFUSED))} <a href="/">{escape(_("Back to the home page"))}</a></p>'
            "</html>"
        ).encode()
        content_type = b"text/html; charset=utf-8"
    else:
        body = json.dumps(
            {"detail": _(REFUSED), "code": "forbidden", "field": None}, ensure_ascii=False
        ).encode()
        content_type = b"application/json"
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# The first path segment of the pages (the rest is the JSON API).
PAGE_ROOTS = frozenset({"", "s", "v", "r", "g", "login", "logout", "lang"})
