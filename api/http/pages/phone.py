"""What the phone pages share (volunteers' ``/v/…``, residents' ``/r/…``): back to a page with a
message after a form (Post/Redirect/Get), other accounts sent to their own pages, and a chosen
reason stored with the person's own words."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from api import i18n
from api.http.pages.auth_pages import HOMES
from api.http.pages.render import render
from api.i18n import N_
from api.i18n import gettext as _
from api.services.actor import Actor

SHIPPED = ("zh_CN", "en")
NEAR_DAYS = (N_("Yesterday"), N_("Today"), N_("Tomorrow"))


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


def day_namer(today: dt.date, *, near_with_date: bool = False) -> Callable[[dt.date], str]:
    """``day(date)`` for the templates, in the request's language: yesterday, today or tomorrow
    by name (``near_with_date``: followed by the weekday and date), else the weekday and date
    (and the year when it is not this one: 3000-01-01 must not read as this 1 January)."""
    locale = i18n.current()  # the request's (``api.http.locale``), kept for the template

    def day(date: dt.date) -> str:
        with i18n.use_locale(locale):
            ahead = (date - today).days
            near = _(NEAR_DAYS[ahead + 1]) if ahead in (-1, 0, 1) else None
            if near is not None and not near_with_date:
                return near
            names = {
                "weekday": i18n.format_day(date, "EEE"),
                "month": i18n.format_day(date, "MMM"),
                "day": date.day,
            }
            if near is not None:
                return _("%(near)s, %(weekday)s %(day)s %(month)s", near=near, **names)
            if date.year != today.year:
                return _("%(weekday)s %(day)s %(month)s %(year)s", year=date.year, **names)
            return _("%(weekday)s %(day)s %(month)s", **names)

    return day
