"""Staff pages (``/s/…``) for the desk: tonight's run with its uncovered orders and a one-click
manual assignment from a ranked list of candidates, entering an order (one-off or weekly), and the
street map with the helper-load chart. Residents, helpers and the ledger import are in
``staff_people``.

Planners see the run and the map without personal data; helpers and residents are sent to their
own home. Every page calls the services the JSON API calls; a form posts, the service decides,
and the page redirects back with ``?msg=`` or ``?err=`` (or shows the form again with the error
next to the field).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from api import i18n
from api.http.deps import SessionDep
from api.http.pages import labels, svg  # noqa: F401 (labels gives every template label(group, code))
from api.http.pages.auth_pages import HOMES
from api.http.pages.render import PageActor, in_language, language, render
from api.http.params import ID_MAX, IdPath, page_from_query
from api.i18n import N_, ngettext
from api.i18n import gettext as _
from api.services import orders
from api.services.actor import Actor
from api.services.circles import targets
from api.services.errors import BadInput, NotFound, ServiceError
from api.services.ledger import catalogue
from api.services.matching import nightly, runs, street_map
from api.services.matching.runs import RunView, UnmatchedView
from api.services.offers import dispatch
from api.services.offers.assign import local_today
from api.services.offers.dispatch import CandidatesView
from api.services.orders import OrderDetail
from api.settings import Settings

router = APIRouter(prefix="/s", include_in_schema=False)
UNCOVERED_PER_PAGE = 10
CANDIDATES = 8
FormText = Annotated[str, Form()]


# ----------------------------------------------------------------------------- shared


def _gate(*roles: str) -> Callable[..., Any]:
    async def check(actor: PageActor) -> Actor:
        if actor.role not in roles:
            home = "/s/" if actor.role in ("staff", "planner") else HOMES.get(actor.role, "/login")
            raise HTTPException(303, headers={"Location": home})
        return actor

    return check


StaffPage = Annotated[Actor, Depends(_gate("staff"))]
DeskPage = Annotated[Actor, Depends(_gate("staff", "planner"))]


def show(
    request: Request, template: str, actor: Actor, status_code: int = 200, **context: Any
) -> Response:
    """A staff page: ``render`` plus ``say`` (``in_language``) for service messages and the
    staff's scope."""
    lang = language(request)
    error = context.pop("error", None)
    return render(
        request,
        template,
        actor,
        status_code,
        say=lambda text: in_language(lang, text),
        personal=actor.role == "staff",
        street_wide=actor.role == "staff" and actor.community_id is None,
        error=in_language(lang, error) if error else None,
        **context,
    )


def back(request: Request, url: str, **params: str) -> RedirectResponse:
    """303 to a staff page (anything else: /s/) with ``params`` added to its query."""
    parts = urlsplit(url)
    if not parts.path.startswith("/s/") or parts.netloc or parts.scheme:
        parts = urlsplit("/s/")
    lang = language(request)
    extra = urlencode({k: in_language(lang, v) for k, v in params.items()})
    query = "&".join(q for q in (parts.query, extra) if q)
    target = (
        parts.path
        + (f"?{query}" if query else "")
        + (f"#{parts.fragment}" if parts.fragment else "")
    )
    return RedirectResponse(target, status_code=303)


def parse_date(raw: str, field: str = "date") -> dt.date | None:
    if not raw.strip():
        return None
    try:
        return dt.date.fromisoformat(raw.strip())
    except ValueError as error:
        raise BadInput(_("a date is YYYY-MM-DD: %(raw)s", raw=repr(raw)), field) from error


def parse_minute(raw: str, field: str) -> int | None:
    """ "HH:MM" → minutes after midnight ("" → None)."""
    if not raw.strip():
        return None
    hours, sep, minutes = raw.strip().partition(":")
    if sep and hours.isdigit() and minutes.isdigit() and int(minutes) < 60:
        return int(hours) * 60 + int(minutes)
    raise BadInput(_("a time is HH:MM: %(raw)s", raw=repr(raw)), field)


def parse_int(raw: str, field: str) -> int:
    try:
        number = int(raw.strip())
    except ValueError as error:
        raise BadInput(_("a whole number is needed: %(raw)s", raw=repr(raw)), field) from error
    if abs(number) > ID_MAX:  # past every id column: refuse before the database does
        raise BadInput(_("number too large: %(raw)s", raw=repr(raw)), field)
    return number


def tomorrow(settings: Settings) -> dt.date:
    return local_today(settings) + dt.timedelta(days=1)


def the_day(request: Request, raw: str) -> tuple[dt.date, str | None]:
    """The date asked for, else tomorrow (street time), with the error of a bad one."""
    try:
        return parse_date(raw) or tomorrow(request.app.state.settings), None
    except BadInput as error:
        return tomorrow(request.app.state.settings), error.message


def community_names(session: Session, actor: Actor) -> dict[int, str]:
    return {c.id: c.name for c in catalogue.communities(session, actor)}


# ----------------------------------------------------------------------------- tonight's run


@dataclass(frozen=True)
class Uncovered:
    """An order the run left unmatched: why, the order as it is now, and who could take it."""

    unmatched: UnmatchedView
    detail: OrderDetail | None
    candidates: CandidatesView | None


def latest_run(session: Session, settings: Settings, actor: Actor, day: dt.date) -> RunView | None:
    found = runs.list_runs(session, settings, actor, date=day, kind="nightly", page_size=1)
    return runs.get_run(session, settings, actor, found.items[0].id) if found.items else None


def uncovered(session: Session, actor: Actor, run: RunView, number: int) -> list[Uncovered]:
    """One page of the run's unmatched orders; for staff each with its order and, while it is
    still open, the ranked candidates."""
    shown = run.unmatched[(number - 1) * UNCOVERED_PER_PAGE : number * UNCOVERED_PER_PAGE]
    if actor.role != "staff":
        return [Uncovered(row, None, None) for row in shown]
    details = orders.get_orders(session, actor, [row.order_id for row in shown])
    still_open = [i for i, detail in details.items() if detail.order.status == "open"]
    candidates = dispatch.candidates_for_many(session, actor, still_open, CANDIDATES)
    return [Uncovered(row, details[row.order_id], candidates.get(row.order_id)) for row in shown]


@router.get("/")
def run_page(
    request: Request, actor: DeskPage, session: SessionDep, date: str = "", page: str = "1"
) -> Response:
    """Tonight's run: its figures and the orders it left uncovered, with candidates."""
    day, error = the_day(request, date)
    settings = request.app.state.settings
    try:
        run = latest_run(session, settings, actor, day)
        pages = max(1, -(-len(run.unmatched) // UNCOVERED_PER_PAGE)) if run else 1
        number = min(page_from_query(page), pages)
        rows = uncovered(session, actor, run, number) if run else []
        names = community_names(session, actor)
    except ServiceError as failure:
        return show(request, "s/run.html", actor, 400, section="run", day=day, run=None,
                    rows=[], pages=1, number=1, names={}, error=failure.message,
                    overrides=[], progress=None)  # fmt: skip
    overrides = dispatch.overrides_on(session, actor, day)
    circle_targets = targets.target_count(session, actor, local_today(settings))
    return show(request, "s/run.html", actor, section="run", day=day, run=run, rows=rows,
                pages=pages, number=number, names=names, error=error,
                overrides=overrides, progress=runs.progress_of(run),
                circle_targets=circle_targets)  # fmt: skip


@router.post("/runs")
def start_run(request: Request, actor: StaffPage, date: FormText = "") -> RedirectResponse:
    """Run the matching for the date now (street-wide staff); back to the run page."""
    day, error = the_day(request, date)
    target = f"/s/?date={day.isoformat()}"
    if error:
        return back(request, target, err=error)
    state = request.app.state
    try:
        run = nightly.begin_run(state.sessions, state.settings, actor, day, state.background.submit)
    except ServiceError as failure:
        return back(request, target, err=failure.message)
    return back(request, target, msg=_("Run %(id)s started: this page follows it.", id=run.id))


@router.post("/orders/{order_id}/assign")
def assign(
    request: Request,
    order_id: IdPath,
    actor: StaffPage,
    session: SessionDep,
    helper_ids: Annotated[list[str] | None, Form()] = None,
    helper_numbers: FormText = "",
    override_reason: FormText = "",
    next_url: Annotated[str, Form(alias="next")] = "/s/",
) -> RedirectResponse:
    """Hand an uncovered order to the picked helper(s): they get pending offers at once. Helpers
    may also be typed by number; a team breaking a rule needs an override reason."""
    try:
        typed = [n for n in helper_numbers.replace("，", ",").split(",") if n.strip()]
        picked = [parse_int(h.strip(), "helper_ids") for h in [*(helper_ids or []), *typed]]
        team = dispatch.reassign(
            session,
            request.app.state.settings,
            actor,
            order_id,
            picked,
            override_reason=override_reason[:500],
        )
    except ServiceError as failure:
        return back(request, next_url, err=failure.message)
    names = _(", ").join(m.name for m in team.members)
    message = _("order %(order_id)s offered to %(names)s", order_id=order_id, names=names)
    return back(request, next_url, msg=message)


# ----------------------------------------------------------------------------- the map


MAP_STYLES: dict[str, tuple[str, str, str]] = {  # colour, shape, legend (a message id)
    "helper-inactive": ("#767676", "square", N_("Helper: inactive")),
    "helper-free": ("#2f8f9d", "square", N_("Helper: free")),
    "helper-busy": ("#0b5cad", "square", N_("Helper: has orders")),
    "resident-matched": ("#1e6b2f", "circle", N_("Resident: matched")),
    "resident-offered": ("#8a4b00", "circle", N_("Resident: offered")),
    "resident-unmatched": ("#a31515", "circle", N_("Resident: unmatched")),
}


def map_dots(view: street_map.StreetMap, names: dict[int, str]) -> list[svg.Dot]:
    """Each point with its tooltip: who (staff only), status, community, orders that day; a
    crowded street's helpers come in groups (``street_map.MOST_HELPERS``): how many, what."""
    dots = []
    # A street has thousands of points and a handful of styles and counts: each of those
    # texts is translated once.
    legends = {key: _(label) for key, (_colour, _shape, label) in MAP_STYLES.items()}
    held: dict[int, str] = {}
    for point in [*view.helpers, *view.residents]:
        key = f"{point.kind}-{point.status}"
        who = _("%(name)s (%(code)s)", name=point.name, code=point.code) if point.name else ""
        if point.orders not in held:
            held[point.orders] = _("%(orders)s order(s) that day", orders=point.orders)
        parts = [who, legends[key], names.get(point.community_id, ""), held[point.orders]]
        dots.append(svg.Dot(point.lat, point.lon, key, " · ".join(p for p in parts if p)))
    for group in view.groups:
        key = f"{group.kind}-{group.status}"
        title = ngettext("%(n)s point here: %(what)s", "%(n)s points here: %(what)s",
                         group.count, what=legends[key])  # fmt: skip
        dots.append(svg.Dot(group.lat, group.lon, key, title, group.count))
    return dots


def map_drawings(view: street_map.StreetMap, names: dict[int, str]) -> dict[str, Any]:
    """The map and the load chart of ``view``, in the request's language."""
    styles = {key: svg.DotStyle(c, s, _(label)) for key, (c, s, label) in MAP_STYLES.items()}
    dots = map_dots(view, names)
    counts = dict.fromkeys(styles, 0)
    for dot in dots:
        counts[dot.style] += dot.count
    day = i18n.format_day(view.date)
    drawing = svg.map_svg(
        dots,
        styles,
        title=_("Street map %(day)s", day=day),
        desc=_(
            "%(residents)s residents with orders that day, %(helpers)s helpers",
            residents=view.resident_count,
            helpers=view.helper_count,
        ),
        km_text=i18n.format_km,
    )
    bars = [(str(n), helpers) for n, helpers in enumerate(view.load)]
    chart = svg.bar_chart_svg(
        bars,
        title=_("Helper load on %(day)s", day=day),
        desc=_("How many helpers hold 0, 1, 2 … orders"),
        x_label=_("orders that day"),
        y_label=_("number of helpers"),
        ident="load-chart",
    )
    return {"drawing": drawing, "chart": chart, "styles": styles, "counts": counts, "bars": bars,
            "crowded": bool(view.groups)}  # fmt: skip


@router.get("/map")
def map_page(request: Request, actor: DeskPage, session: SessionDep, date: str = "") -> Response:
    """The street on a map for the date, and how many orders each helper holds."""
    day, error = the_day(request, date)
    try:
        view = street_map.street_map(session, actor, day)
        names = community_names(session, actor)
    except (BadInput, NotFound) as failure:
        return show(request, "s/map.html", actor, 400, section="map", day=day, view=None,
                    error=failure.message)  # fmt: skip
    return show(request, "s/map.html", actor, section="map", day=day, view=view, error=error,
                **map_drawings(view, names))  # fmt: skip
