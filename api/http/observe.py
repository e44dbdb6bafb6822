"""Each HTTP request's id and latency, in one pure ASGI middleware (no per-request objects beyond
a closure: the answer routes take tens of milliseconds and this adds about 5 microseconds).

The id comes from the client's ``X-Request-ID`` when it is sane (1-128 characters among letters,
digits and ``._:+=/-``: a proxy's or a load balancer's id carries through), else a new random
one; the answer carries it back in ``X-Request-ID`` and every log line of the request has it
(``api.logs``). The latency goes to a histogram labelled by the route's template
(``/offers/{offer_id}/accept``, never the path itself: the label's values stay few and carry no
ids), the method and the status class (``2xx`` …)."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.logs import request_id

HEADER = b"x-request-id"
SANE_ID = re.compile(rb"[A-Za-z0-9._:+=/-]{1,128}")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"  # serve --workers N: every worker's figures there
UNMATCHED = "unmatched"  # no route took the request (404, or a refusal before routing)
disable_created_metrics()  # no *_created series: half the lines, and Prometheus needs none
REQUEST_SECONDS = Histogram(
    "qunbang_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template, method and status class.",
    ["route", "method", "status"],
)


class RequestObservation:
    """Gives each HTTP request an id (``X-Request-ID`` both ways, and on its log records) and
    records its latency. Sits outside the app's error handler, so that a 500 has both too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        rid = incoming_id(scope) or os.urandom(16).hex()  # 32 hex digits; uuid4 is 5x slower
        header = (HEADER, rid.encode())
        status = 500  # unless the app answers: an exception with no answer sent

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        root_path = scope.get("root_path", "")
        token = request_id.set(rid)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)
            method = scope["method"] if scope["method"] in METHODS else "other"
            REQUEST_SECONDS.labels(
                route_label(scope, root_path), method, f"{status // 100}xx"
            ).observe(time.perf_counter() - began)


def incoming_id(scope: Scope) -> str | None:
    """The client's ``X-Request-ID`` if it is sane, else None."""
    for name, value in scope["headers"]:
        if name == HEADER:
            return value.decode("ascii") if SANE_ID.fullmatch(value) else None
    return None


def route_label(scope: Scope, root_path: str) -> str:
    """The template of the route that served the request (FastAPI leaves it in the scope), the
    mount's ``/static/{path}`` for a mounted app, else ``unmatched``."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if isinstance(template, str):
        return template
    mount = scope.get("root_path", "")[len(root_path) :]
    return f"{mount}/{{path}}" if mount else UNMATCHED


def served_figures() -> bytes:
    """The request figures in Prometheus's text format: this process's, or in multiprocess
    mode every worker's added up (from the shared folder)."""
    folder = os.environ.get(MULTIPROCESS_ENV)
    if not folder:
        return generate_latest(REGISTRY)
    served = CollectorRegistry()
    MultiProcessCollector(served, folder)
    return generate_latest(served)


@contextmanager
def shared_across_workers(workers: int) -> Iterator[None]:
    """For ``serve --workers N`` (N > 1): a fresh folder where every worker keeps its request
    figures (prometheus_client's multiprocess mode), removed when the server stops. Workers
    inherit it through the environment and must see it before they import prometheus_client.
    A folder the operator set (``PROMETHEUS_MULTIPROC_DIR``) is used as it is: they empty it
    between runs."""
    if workers <= 1 or os.environ.get(MULTIPROCESS_ENV):
        yield
        return
    folder = tempfile.mkdtemp(prefix="qunbang-metrics-")
    os.environ[MULTIPROCESS_ENV] = folder
    try:
        yield
    finally:
        os.environ.pop(MULTIPROCESS_ENV, None)
        shutil.rmtree(folder, ignore_errors=True)
