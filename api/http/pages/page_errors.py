"""What a page shows when a request to it cannot even be read (a form without its fields, a
number in the address that is not one): a page in the reader's language, never pydantic's
English text as JSON. The JSON API keeps its ``{detail, code, errors}`` answer."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from api.http.pages.render import render
from api.http.pages.security import PAGE_ROOTS


def is_page(path: str) -> bool:
    """Whether ``path`` belongs to the pages (not the JSON API)."""
    return path.split("/")[1] in PAGE_ROOTS if path.startswith("/") else False


def invalid_input_page(request: Request) -> Response:
    """422 as a page: what was sent could not be read; the reader goes back and tries again."""
    return render(request, "input_error.html", None, 422)
