"""The FastAPI application: one router per resource (``api/routes``), errors as JSON."""

from __future__ import annotations

import gc
import importlib
import logging
import pkgutil
import sys
import threading
from collections.abc import AsyncIterator, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp

from api.http import pages as web
from api.http import routes
from api.http.errors import status_of
from api.http.locale import RequestLocale
from api.http.observe import RequestObservation
from api.http.pages.page_errors import invalid_input_page, is_page
from api.http.pages.security import install as install_security
from api.i18n import N_
from api.i18n import gettext as _
from api.services.errors import ServiceError, TooManyAttempts
from api.settings import Settings, get_settings
from api.store.db import make_engine, session_factory

log = logging.getLogger("qunbang.api")
YOUNG_COLLECTION_EVERY = 20_000  # a server's allocations between young collections (700)


class QunbangApp(FastAPI):
    """FastAPI with each request's id and latency taken outermost (``RequestObservation``):
    around the framework's error handler too, so that a 500's log line and answer carry the id
    and its latency counts (``add_middleware`` would put it inside)."""

    def build_middleware_stack(self) -> ASGIApp:
        return RequestObservation(RequestLocale(super().build_middleware_stack()))


def serving_app() -> FastAPI:
    """The app a server process runs (``qunbang serve``'s factory): built from the environment,
    with its ticker, and its route tables built before it answers (``_prepare_routes``), what
    it built by then frozen out of the garbage collector's walks, which come less often."""
    return create_app(warm=True)


def create_app(
    settings: Settings | None = None, *, ticker: bool = True, warm: bool = False
) -> FastAPI:
    """The API for one database. ``ticker`` runs offer expiry, reminders and the outbox in the
    background every ``settings.tick_seconds``; ``warm`` builds the route tables at startup
    (a server's workers; an app made for a test builds only what its requests walk)."""
    settings = settings or get_settings()
    engine = make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Requests run in worker threads that share one interpreter lock: a few at a time
        # finish sooner than dozens sliced in turn, and a thread back from the database gets
        # the lock again within half a millisecond rather than five (it holds its write lock
        # for less).
        to_thread.current_default_thread_limiter().total_tokens = settings.request_threads
        sys.setswitchinterval(settings.switch_interval_ms / 1000)
        if warm:
            _prepare_routes(app.router.routes)
            # What a worker has built by now (modules, the app, its route tables: about 140,000
            # objects) lives as long as it does: kept out of the cyclic collector's walks, a full
            # collection in the middle of a request takes a fifth of the time (bench/README.md).
            gc.freeze()
            # A request that builds a big answer (a city street's honour roll: 14,000 rows,
            # about 100,000 containers alive until it is sent) pushed the young generations
            # over their thresholds every few hundred objects and set off a full collection
            # of everything built since start-up in one request out of ten or so: 200-300 ms
            # more. Collected every 20,000 allocations instead, the p95 of the roll's
            # downloads fell from 470-540 ms to 280 ms (bench/README.md, "A city-sized
            # database"); what a worker keeps alive is unchanged.
            gc.set_threshold(YOUNG_COLLECTION_EVERY, *gc.get_threshold()[1:])
        # Work a page starts and does not wait for (a matching run staff start): one at a time.
        app.state.background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qunbang-bg")
        stop = threading.Event()
        thread = None
        if ticker and settings.tick_seconds > 0:
            from api.services.messages.ticker import run_ticker

            thread = threading.Thread(
                target=run_ticker, args=(app.state.sessions, settings, stop), daemon=True
            )
            thread.start()
        yield
        stop.set()
        if thread is not None:
            thread.join(timeout=10)  # it gives the ticker lease up on its way out
        app.state.background.shutdown(wait=True)  # a run being matched finishes first
        engine.dispose()

    app = QunbangApp(
        title="群帮 Qunbang",
        description="志愿者匹配服务 / volunteer matching service",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    _add_error_handlers(app)
    install_security(app, https=settings.https, site_origin=settings.site_origin)
    for package, name in ((routes, "api.http.routes"), (web, "api.http.pages")):
        for module in pkgutil.iter_modules(package.__path__):
            router = getattr(importlib.import_module(f"{name}.{module.name}"), "router", None)
            if router is not None:
                app.include_router(router)
    app.mount("/static", StaticFiles(directory=Path(web.__file__).parent / "static"), "static")
    return app


def _prepare_routes(routes: Iterable[Any]) -> None:
    """Build each included router's table of routes now, not on the first request: FastAPI
    builds them lazily (field validators for every route, about a second of a starting worker's
    CPU, which every request arriving meanwhile would wait for). Asked by name, so that a
    FastAPI without these lazy tables just skips this."""
    for route in routes:
        candidates = getattr(route, "effective_candidates", None)
        if callable(candidates):
            _prepare_routes(candidates())
        low_priority = getattr(route, "effective_low_priority_routes", None)
        if callable(low_priority):
            low_priority()


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def service_error(_request: Request, error: ServiceError) -> JSONResponse:
        body = {"detail": error.message, "code": error.code, "field": error.field}
        status = status_of(error)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        if isinstance(error, TooManyAttempts):
            headers = {"Retry-After": str(error.retry_after)}
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        """The framework's own refusals (unknown path, wrong method, unreadable body) in the
        shared error shape; redirects (pages' role gates) as they are."""
        if error.status_code < 400:
            return await http_exception_handler(request, error)
        detail = _(FRAMEWORK[error.status_code]) if error.status_code in FRAMEWORK else error.detail
        body = {"detail": str(detail), "code": f"http_{error.status_code}", "field": None}
        return JSONResponse(body, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> Response:
        if is_page(request.url.path):  # a page answers in its reader's language, not pydantic's
            return invalid_input_page(request)
        problems = [{"field": _field_name(e["loc"]), "message": e["msg"]} for e in error.errors()]
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        body = {
            # pydantic's own words name each problem (in English: the API's developers read
            # them); the sentence around them is the reader's.
            "detail": _("invalid input: %(problems)s", problems=summary),
            "code": "invalid",
            "field": problems[0]["field"] if problems else None,
            "errors": problems,
        }
        return JSONResponse(body, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=error)
        body = {
            "detail": _("internal error (logged)"),
            "code": "internal",
            "field": None,
        }
        return JSONResponse(body, status_code=500)


# The framework's own refusals, in the reader's language (its English phrase for the rest).
FRAMEWORK = {
    400: N_("the request could not be read (is its body valid?)"),
    404: N_("not found"),
    405: N_("this address does not take that method"),
}
LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})


def _field_name(loc: tuple[int | str, ...]) -> str:
    """A validation error's place as the client wrote it: ``order_ids.1``, ``page``."""
    parts = list(loc[1:] if len(loc) > 1 and loc[0] in LOCATIONS else loc)
    return ".".join(str(part) for part in parts)
