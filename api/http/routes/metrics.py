"""``/metrics`` for Prometheus (``api.http.metrics``): a scraper's token, not a login."""

from __future__ import annotations

from fastapi import Request, Response

from api.http.deps import SessionDep, SettingsDep
from api.http.metrics import CONTENT_TYPE, check_scrape_token, render_metrics
from api.http.openapi import declared_router, error_responses

router = declared_router(tags=["operations"])
TEXT = {"description": "Prometheus text format", "content": {CONTENT_TYPE: {}}}


@router.get("/metrics", response_class=Response, responses={200: TEXT, **error_responses(401)})
def metrics(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """Request latency by route; each street's last nightly run; the outbox backlog. Needs
    ``Authorization: Bearer <QUNBANG_METRICS_TOKEN>`` (401 without, and while none is set)."""
    check_scrape_token(settings, request.headers.get("authorization"))
    return Response(render_metrics(session), media_type=CONTENT_TYPE)
