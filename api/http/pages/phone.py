"""What the phone pages share (volunteers' ``/v/…``, residents' ``/r/…``): back to a page with a
message after a form (Post/Redirect/Get), other accounts sent to their own pages, and a chosen
reason stored with the person's own words."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from api.http.pages.auth_pages import HOMES
from api.http.pages.render import render
from api.services.actor import Actor

SHIPPED = ("zh_CN", "en")


def back_to(path: str, *, msg: str = "", err: str = "", anchor: str = "") -> RedirectResponse:
    """Post/Redirect/Get: back to ``path`` with a message or an error to show."""
    query = urlencode({key: value for key, value in (("msg", msg), ("err", err)) if value})
    target = f"{path}?{query}" if query else path
    return RedirectResponse(target + (f"#{anchor}" if anchor else ""), status_code=303)


def elsewhere(
    request: Request, actor: Actor, role: str, linked: int | None, prefix: str
) -> Response | None:
    """None for the accounts a phone section is for (``role``, linked to its person); other
    roles go to their own pages, any other account sees the section's "not found" page
    (``{prefix}/not_found.html``: nothing of the section is shown to them)."""
    if actor.role == role and linked is not None:
        return None
    home = HOMES.get(actor.role)
    if home and not home.startswith(f"/{prefix}/"):
        return RedirectResponse(home, status_code=303)
    return render(request, f"{prefix}/not_found.html", actor, 404)


def stated_reason(label_in: Callable[[str], str] | None, note: str) -> str:
    """A reason as stored: the chosen reason's label in each shipped language ("中文 /
    English", for whoever reads it; ``label_in(locale)`` gives it, None: none chosen), then the
    person's own words after a dash."""
    label = " / ".join(label_in(locale) for locale in SHIPPED) if label_in else ""
    return " — ".join(part for part in (label, note) if part)
