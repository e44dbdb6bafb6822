"""What the OpenAPI document says a route answers when it refuses, derived from what the route
depends on, never listed by hand route by route.

- a route that needs a login (``current_actor``) may answer 401;
- a route behind a role gate (a dependency on the actor) 403 for a role that may not, and 404
  (helpers and residents probing other roles' routes learn nothing);
- a route with a path parameter 404; a route that reads any input 422, one that reads a body
  400 (the body is not JSON at all);
- a route that writes (POST, PUT, PATCH, DELETE) something named in its input, with a login,
  409 (the thing changed under it).

Every router is a ``declared_router(...)``: its routes are ``DeclaredRoute``s. A route adds what its
dependencies cannot tell (``error_responses(429)`` on the login) with ``responses=``.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel

from api.http.deps import current_actor
from api.http.errors import ErrorOut, InvalidOut
from api.i18n import gettext as _

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MEANINGS = {
    400: "请求有误 / bad request",
    401: "未登录或登录已过期 / not logged in, or the login expired",
    403: "无权访问 / your role or scope may not do this",
    404: "未找到（或不在您的范围内）/ not found (or outside your scope)",
    409: "冲突：已被他人改动 / conflict: it changed under you (already claimed, answered …)",
    422: "输入有误 / invalid input; `field` names it",
    429: "尝试过多，请稍后再试 / too many attempts, try again later",
    500: "服务器内部错误 / internal error",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for these statuses, each with the shared error body."""
    return {
        status: {
            "model": InvalidOut if status == 422 else ErrorOut,
            "description": MEANINGS.get(status, "error"),
        }
        for status in sorted(statuses)
    }


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _walk(sub)


def refusals(dependant: Dependant, methods: set[str]) -> set[int]:
    """The error statuses a route with this dependency tree can answer."""
    statuses: set[int] = set()
    parts = list(_walk(dependant))
    logged_in = any(part.call is current_actor for part in parts)
    if logged_in:
        statuses.add(401)
    # A role gate: a dependency (not the route itself) that depends on the actor (StaffActor …).
    gates = [part for part in parts[1:] if part.call is not current_actor]
    if any(sub.call is current_actor for part in gates for sub in part.dependencies):
        statuses |= {403, 404}
    if any(part.path_params for part in parts):
        statuses.add(404)
    if any(part.body_params for part in parts):
        statuses.add(400)  # a body that is not JSON (or not UTF-8) at all
    if any(part.path_params or part.query_params or part.body_params for part in parts):
        statuses.add(422)
        if logged_in and methods & WRITES:
            statuses.add(409)
    return statuses


class DeclaredRoute(APIRoute):
    """An API route whose OpenAPI entry lists the errors it can answer (see the module), and
    that refuses a query parameter given twice where it declares one value (FastAPI would
    silently keep one of them)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        methods = {method.upper() for method in kwargs.get("methods") or ["GET"]}
        dependant = get_dependant(path=path, call=endpoint)
        derived = error_responses(*refusals(dependant, methods))
        kwargs["responses"] = {**derived, **(kwargs.get("responses") or {})}
        self.single_values = frozenset(_single_query_names(dependant))
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        single = self.single_values

        async def checked(request: Request) -> Response:
            names = [name for name, _value in request.query_params.multi_items() if name in single]
            repeated = sorted({name for name in names if names.count(name) > 1})
            if repeated:
                message = _("give one value only")
                raise RequestValidationError(
                    [
                        {"loc": ("query", name), "msg": message, "type": "repeated"}
                        for name in repeated
                    ]
                )
            return await handler(request)

        return checked


def _single_query_names(dependant: Dependant) -> Iterator[str]:
    """The query parameters that take one value (not a list), query models' fields included."""
    for part in _walk(dependant):
        for param in part.query_params:
            annotation = param.field_info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                for name, field in annotation.model_fields.items():
                    if not _is_list(field.annotation):
                        yield field.alias or name
            elif not _is_list(annotation):
                yield param.alias


def _is_list(annotation: Any) -> bool:
    if typing.get_origin(annotation) in (list, set, tuple, frozenset):
        return True
    return any(_is_list(arg) for arg in typing.get_args(annotation))


def declared_router(**kwargs: Any) -> APIRouter:
    """An ``APIRouter`` of ``DeclaredRoute``s."""
    return APIRouter(route_class=DeclaredRoute, **kwargs)
