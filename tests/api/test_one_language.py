"""One language per page: every page of the app, for every role, in Chinese and in English,
after a nightly run (so the pages have content), shows no "中文 / English" pair, no raw status
or code ("OPTIMAL", "zh", "male", "pending" …) on a Chinese page, no Chinese on an English page
(people's names, addresses, notes and other typed data aside) and no pydantic message.

The pages are found by walking the page routers as the app includes them (every GET page under
/, /login, /v, /s), their
path parameters filled with real ids of the seeded world, plus the forms that answer with a
page: a route added later is visited without anyone listing it here."""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from html.parser import HTMLParser

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from api.http import pages as web
from api.http.locale import LANG_COOKIE
from api.http.pages.render import TOKEN_COOKIE, csrf_token
from api.services.accounts.auth import add_user
from api.services.actor import Actor, actor_of
from api.services.closing import points
from api.services.closing.visits import confirm_done
from api.services.intake import review
from api.services.ledger.import_columns import COLUMNS
from api.services.matching.nightly import run_nightly
from api.services.offers.answers import mark_done
from api.services.offers.assign import create_assignment, refresh_order_status, to_utc
from api.services.orders import OrderSpec, first_name, place_order
from api.services.programmes import pairs as programme_pairs
from api.services.programmes import ranking as programme_ranking
from api.services.programmes import setup as programme_setup
from api.services.programmes.setup import ProgrammeSpec
from api.settings import Settings
from api.store import statuses
from api.store.tables import (
    AssignmentRow,
    Community,
    FamilyLinkRow,
    Grid,
    HelperRow,
    HoursEntry,
    ItemRow,
    ManagedPersonRow,
    NotificationRow,
    OfferRow,
    OrderRow,
    PointsEntry,
    ProgrammeRow,
    ResidentRow,
    Street,
    UserRow,
)
from matcher.model import Gender
from matcher.result import Reason, Status
from tests.api.conftest import PASSWORD, SharedEngines, World, kept_engine_app
from tests.api.loop_support import make_roomy, move_orders, staff_actor, tomorrow

Sessions = sessionmaker[Session]
PAGE_PREFIXES = ("/v/", "/s/", "/r/", "/g/", "/login")
# The language switch: a redirect, visited by setting the cookie; the street file: a download
# (YAML, its keys are the file's format), not a page; so are the certificate (PDF, read back in
# tests/api/test_hours.py) and the honour roll's spreadsheet (tests/api/test_web_hours.py).
SKIPPED = {
    "/lang/{code}",
    "/s/street.yaml",
    "/v/certificate.pdf",
    "/s/helpers/{helper_id}/certificate.pdf",
    "/s/honour.xlsx",
    "/s/honour.csv",
}
ROLES = ("visitor", "volunteer", "resident1", "staff", "staff_c1", "planner", "gridworker",
         "family1")  # fmt: skip
# Who also posts the forms and tries wrong addresses.
ACTING = ("visitor", "volunteer", "resident1", "staff")
# … and who posts the intake forms only (more failed logins would throttle the walk's own).
INTAKE_ACTING = ("gridworker", "family1")
CJK = r"\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef"
PAIR = re.compile(rf"[{CJK}]\s*/\s*[A-Za-z]|[A-Za-z.)]\s*/\s*[{CJK}]")
PYDANTIC = ("Field required", "Input should be", "validation error", "value is not a valid")


def _codes() -> list[str]:
    """Every code the database or the matcher stores, which a Chinese page must show as a
    label: statuses, kinds, roles, solver statuses, reasons, genders, languages."""
    enums = [v for v in vars(statuses).values() if isinstance(v, type) and issubclass(v, StrEnum)]
    codes = {str(member) for enum in [*enums, Status, Reason, Gender] for member in enum}
    return sorted(codes | {"zh", "en", "mn", "cli", "page"})


RAW_CODES = _codes()
RAW_WORD = re.compile(rf"(?<![A-Za-z_-])({'|'.join(RAW_CODES)})(?![A-Za-z_-])")
ENGLISH_RUN = re.compile(r"[A-Za-z]{2,}(?:[ ,]+[A-Za-z]{2,}){1,}")
# Latin words a Chinese page may show: units, file formats and encodings by their names.
LATIN_OK = ("CSV", "XLSX", "UTF-8", "GB18030", "km", "tel")


# ----------------------------------------------------------------------------- reading a page


class VisibleText(HTMLParser):
    """The text a person reads (or hears) on a page: text nodes and the attributes read out
    (title, aria-label, placeholder, alt, data-confirm), without scripts, styles and elements
    that name their own language (the language switch)."""

    READ_ATTRIBUTES = ("title", "aria-label", "placeholder", "alt", "data-confirm")
    VOID = frozenset(
        {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if self.skipping or tag in ("script", "style") or ("lang" in named and tag != "html"):
            if tag not in self.VOID:
                self.skipping.append(tag)
            return
        self.parts += [v for k, v in attrs if k in self.READ_ATTRIBUTES and v]

    def handle_endtag(self, tag: str) -> None:
        if self.skipping and self.skipping[-1] == tag:
            self.skipping.pop()

    def handle_data(self, data: str) -> None:
        if not self.skipping and data.strip():
            self.parts.append(data.strip())


def visible(html: str) -> list[str]:
    parser = VisibleText()
    parser.feed(html)
    return parser.parts


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)

    def check(
        self, what: str, lang: str, status: int, body: str, kind: str, data: re.Pattern[str]
    ) -> None:
        """Record every way the answer to ``what`` breaks the one-language rule."""
        if status >= 500:
            self.problems.append(f"{what} [{lang}]: status {status}")
        if "text/html" not in kind:
            self.problems.append(f"{what} [{lang}]: a page answered {kind}: {body[:120]}")
            return
        for text in visible(body):
            # people's names, addresses, notes: data, shown as typed in either language
            self._text(what, lang, data.sub(" ", text))

    def _text(self, what: str, lang: str, text: str) -> None:
        where = f"{what} [{lang}]: {text[:160]!r}"
        if PAIR.search(text):
            self.problems.append(f"bilingual pair: {where}")
        if any(message in text for message in PYDANTIC):
            self.problems.append(f"pydantic message: {where}")
        if lang == "en":
            if re.search(f"[{CJK}]", text.replace("·", "")):
                self.problems.append(f"Chinese on an English page: {where}")
            return
        latin = text
        for word in LATIN_OK:
            latin = latin.replace(word, " ")
        if RAW_WORD.search(latin):
            self.problems.append(f"raw code {RAW_WORD.search(latin)[0]!r}: {where}")  # type: ignore[index]
        if ENGLISH_RUN.search(latin):
            self.problems.append(f"English on a Chinese page: {where}")


# ----------------------------------------------------------------------------- the world


@dataclass(frozen=True)
class Ids:
    resident_id: int
    helper_id: int
    offer_id: int  # the volunteer's pending offer
    withdrawn_offer_id: int
    accepted_offer_id: int
    assignment_id: int  # of the accepted offer (tomorrow: Done is refused)
    order_id: int  # an order without a team
    failed_message_id: int  # a message the webhook refused
    pending_message_id: int
    day: dt.date
    confirmed_order_id: int = 0  # the volunteer's visit, done and confirmed (feedback open)
    review_order_id: int = 0  # resident1's order waiting for review
    programme_id: int = 0  # a pairing programme with resident1 and the volunteer, paired
    member_id: int = 0  # resident1's membership of it


@pytest.fixture
def ids(sessions: Sessions, settings: Settings, world: World) -> Ids:
    """Tomorrow's nightly run made; a volunteer accepted one offer (its order has a note) and
    holds another pending one and has points with a reason; a resident account."""
    day = tomorrow(settings)
    move_orders(sessions, day)
    run_nightly(sessions, settings, world.street_id, day)  # leaves orders uncovered, with reasons
    make_roomy(sessions)  # … which now have candidates
    with sessions() as session:
        pending = session.scalars(select(OfferRow).where(OfferRow.status == "pending")).all()
        by_helper = Counter(offer.helper_id for offer in pending)
        helper_id, count = max(by_helper.items(), key=lambda item: (item[1], -item[0]))
        assert count >= 2, "a helper with two pending offers"
        account = session.scalars(select(UserRow).where(UserRow.helper_id == helper_id)).first()
        if account is None:
            add_user(session, "volunteer", PASSWORD, "helper", helper_id=helper_id)
        else:
            account.username = "volunteer"
        offers = sorted((o for o in pending if o.helper_id == helper_id), key=lambda o: o.id)
        accepted, pending = offers[0], offers[1]
        elsewhere = session.scalars(
            select(OfferRow).where(OfferRow.assignment_id != accepted.assignment_id)
        ).first()
        assert elsewhere is not None
        withdrawn = OfferRow(  # answering it is refused, naming its status
            assignment_id=elsewhere.assignment_id,
            helper_id=helper_id,
            status="withdrawn",
            respond_by=elsewhere.respond_by,
        )
        session.add(withdrawn)
        session.flush()
        accepted.status = "accepted"
        accepted.assignment.order.note = "钥匙在门口地垫下"
        session.flush()
        refresh_order_status(session, accepted.assignment.order)
        open_order = session.scalars(select(OrderRow).where(OrderRow.status == "open")).first()
        order_id = open_order.id if open_order else accepted.assignment.order_id
        resident = session.scalars(
            select(ResidentRow)
            .where(ResidentRow.community_id == world.communities[0])
            .order_by(ResidentRow.id)
        ).first()
        assert resident is not None
        add_user(session, "resident1", PASSWORD, "resident", resident_id=resident.id)
        # Codes a page might show raw: a helper speaking Mongolian, a resident's preferences.
        session.execute(
            update(HelperRow)
            .where(HelperRow.id == helper_id)
            .values(languages=["zh", "mn"], gender="male")
        )
        resident.language, resident.preferred_gender = "zh", "female"
        messages = session.scalars(select(NotificationRow).order_by(NotificationRow.id)).all()
        assert len(messages) >= 2, "the run queued messages"
        failed, waiting = messages[0], messages[1]
        failed.status, failed.attempts = "failed", 5
        failed.last_error = "webhook answered 503 Service Unavailable"  # the far end's words
        ids = Ids(
            resident.id,
            helper_id,
            pending.id,
            withdrawn.id,
            accepted.id,
            accepted.assignment_id,
            order_id,
            failed.id,
            waiting.id,
            day,
        )
        session.commit()
    staff = staff_actor(sessions, world)
    with sessions() as session:
        entry = points.grant_bonus(session, staff, helper_id, 5, "帮忙搬桌子")
        points.reverse_entry(session, staff, entry.id, "记错了")
        confirmed = confirmed_visit(session, settings, staff, helper_id, day)
        resident_visit(session, settings, world, day)
        review_id = intake_accounts(session, settings, staff, day)
        programme_id, member_id = pairing_programme(session, staff, ids, day)
    return replace(ids, confirmed_order_id=confirmed, review_order_id=review_id,
                   programme_id=programme_id, member_id=member_id)  # fmt: skip


def pairing_programme(session: Session, staff: Actor, ids: Ids, day: dt.date) -> tuple[int, int]:
    """A 周末妈妈 programme with resident1 and the volunteer enrolled, ranked and paired
    (proposed): its id and resident1's member id."""
    helper = session.get_one(HelperRow, ids.helper_id)
    items = session.scalars(
        select(ItemRow)
        .where(ItemRow.team_size == 1, ItemRow.lead_skill.is_(None), ItemRow.active)
        .order_by(ItemRow.code)
    ).all()
    item = next((i for i in items if set(i.required_skills) <= set(helper.skills)), items[0])
    season = (day, day + dt.timedelta(days=60))
    spec = ProgrammeSpec(name="周末妈妈", item=item.code, start_date=season[0],
                         end_date=season[1], weekdays=(5, 6), note="寄宿生")  # fmt: skip
    programme = programme_setup.create_programme(session, staff, spec)
    resident = session.get_one(ResidentRow, ids.resident_id)
    programme_setup.enrol(session, staff, programme.id, "resident", [resident.code])
    programme_setup.enrol(session, staff, programme.id, "helper", [helper.code])
    members = programme_setup.members(session, staff, programme.id)
    mine = next(m for m in members if m.side == "resident")
    view = programme_ranking.shortlist(session, staff, mine.id)
    programme_ranking.rank(session, staff, mine.id, [e.member_id for e in view.entries])
    programme_pairs.compute_pairs(session, staff, programme.id)
    return programme.id, mine.id


def intake_accounts(session: Session, settings: Settings, staff: Actor, day: dt.date) -> int:
    """A grid worker of resident1's grid (with a management-type person in it), a family
    account linked to resident1 (approved) and asking for another resident (pending); the
    street reviews orders: one order of resident1 waits for review, another was rejected with a
    reason. The waiting order's id."""
    account = session.scalars(select(UserRow).where(UserRow.username == "resident1")).one()
    resident = session.get_one(ResidentRow, account.resident_id)
    add_user(session, "gridworker", PASSWORD, "grid_worker", street_id=resident.street_id,
             community_id=resident.community_id, grid_id=resident.grid_id,
             display_name="赵网格")  # fmt: skip
    relative = add_user(session, "family1", PASSWORD, "family", street_id=resident.street_id,
                        display_name="李女儿")  # fmt: skip
    other = session.scalars(
        select(ResidentRow).where(ResidentRow.id != resident.id).order_by(ResidentRow.id)
    ).first()
    assert other is not None
    session.add_all([
        FamilyLinkRow(user_id=relative.id, resident_id=resident.id, relation="女儿",
                      status="approved", decided_by=staff.user_id),
        FamilyLinkRow(user_id=relative.id, resident_id=other.id, relation="女儿"),
    ])  # fmt: skip
    session.add(ManagedPersonRow(code="M-1", name="郑某", street_id=resident.street_id,
                                 community_id=resident.community_id, grid_id=resident.grid_id,
                                 phone="13500000001", address="东湖1号楼101",
                                 note="社区矫正人员，每月走访"))  # fmt: skip
    gridless = add_user(session, "gridless", PASSWORD, "grid_worker",
                        street_id=resident.street_id, community_id=resident.community_id,
                        grid_id=resident.grid_id, display_name="钱网格")  # fmt: skip
    gridless.grid_id = None  # an account from before grids: /s/street flags it
    session.execute(update(Street).values(review_orders=True))
    session.commit()
    asker = actor_of(account)
    waiting = place_order(session, settings, asker, OrderSpec(item="L01", date=day, note="y"))
    rejected = place_order(session, settings, asker, OrderSpec(item="L01", date=day))
    review.reject_order(session, staff, rejected.id, "本周已排满")
    return waiting.id


def resident_visit(session: Session, settings: Settings, world: World, day: dt.date) -> None:
    """The resident account's own order of ``day``, which a helper took and marked done on the
    day (its card names the helper and offers the rating)."""
    account = session.scalars(select(UserRow).where(UserRow.username == "resident1")).one()
    resident = actor_of(account)
    placed = place_order(session, settings, resident, OrderSpec(item="L01", date=day, note="x"))
    order = session.get_one(OrderRow, placed.id)
    helper_id = world.helper_ids[-1]
    assignment = create_assignment(session, settings, order, [helper_id], source="manual",
                                   start_minute=None, accepted=[helper_id])  # fmt: skip
    session.commit()
    mark_done(session, settings, helper_id, assignment.id, now=to_utc(settings, day, 12 * 60))


def confirmed_visit(
    session: Session, settings: Settings, staff: Actor, helper_id: int, day: dt.date
) -> int:
    """An open order of ``day`` the helper took, marked done and staff confirmed on the day
    (base points, and a confirmed card); its id."""
    order = session.scalars(
        select(OrderRow).where(OrderRow.status == "open").order_by(OrderRow.id.desc())
    ).first()
    assert order is not None and session.get_one(ItemRow, order.item).team_size == 1
    on_the_day = to_utc(settings, day, 12 * 60)
    start = order.window_start
    assignment = create_assignment(session, settings, order, [helper_id], source="manual",
                                   start_minute=start, accepted=[helper_id])  # fmt: skip
    # Given by hand, as staff may with a reason: which order is left open depends on the
    # nightly plan, and it may overlap the helper's other visits (the checker then found
    # rule_overlap after the walk, now and then).
    assignment.override_reason = "walk: given by hand"
    session.commit()
    mark_done(session, settings, helper_id, assignment.id, now=on_the_day)
    confirm_done(session, settings, staff, order.id, now=on_the_day)
    return order.id


def data_strings(sessions: Sessions) -> re.Pattern[str]:
    """What people typed or the ledger holds (names, addresses, notes, reasons…) as one
    pattern, longest first: shown as it is in either language. Catalogue names are data only
    where the catalogue has no English name."""
    columns = [
        ResidentRow.name, ResidentRow.address, ResidentRow.code, HelperRow.name,
        HelperRow.address, HelperRow.code, Community.name, Grid.name, Street.name,
        OrderRow.note, PointsEntry.reason, HoursEntry.reason, UserRow.username,
        NotificationRow.last_error,
        UserRow.display_name, FamilyLinkRow.relation, OrderRow.reject_reason,
        ManagedPersonRow.name, ManagedPersonRow.code, ManagedPersonRow.address,
        ManagedPersonRow.note,
        ProgrammeRow.name, ProgrammeRow.note, AssignmentRow.override_reason,
    ]  # fmt: skip
    found: set[str] = set()
    with sessions() as session:
        for column in columns:
            found |= {v for v in session.scalars(select(column).distinct()) if v}
        found |= {
            zh for zh, en in session.execute(select(ItemRow.name_zh, ItemRow.name_en)) if not en
        }
        # A helper as a resident's page names them (王小明 → 王**): a name, shown as it is.
        found |= {first_name(name) for name in session.scalars(select(HelperRow.name)) if name}
        # … and a resident as a helper's programme page names them.
        found |= {first_name(n) for n in session.scalars(select(ResidentRow.name)) if n}
    # A ledger file's column names are Chinese whatever the page's language: an import error
    # names the header the file must carry, as it must be written.
    found |= {column.header for columns in COLUMNS.values() for column in columns}
    return re.compile("|".join(re.escape(v) for v in sorted(found, key=len, reverse=True)))


# ----------------------------------------------------------------------------- the walk


def web_routes() -> Iterator[APIRoute]:
    """The routes of every page module, found as the app finds them
    (``api.http.pages.*.router``)."""
    for module in pkgutil.iter_modules(web.__path__):
        router = getattr(importlib.import_module(f"api.http.pages.{module.name}"), "router", None)
        for route in router.routes if router is not None else []:
            if isinstance(route, APIRoute):
                yield route


def page_paths(ids: Ids) -> Iterator[str]:
    """Every GET page of the app, path parameters filled with real ids (a parameter nobody
    knows fails the test: add it here when adding the page)."""
    values = {
        "resident_id": str(ids.resident_id),
        "helper_id": str(ids.helper_id),
        "order_id": str(ids.order_id),
        "kind": "residents",
        "programme_id": str(ids.programme_id),
        "member_id": str(ids.member_id),
    }
    for route in web_routes():
        if "GET" not in route.methods:
            continue
        path = route.path
        if path in SKIPPED or not (path == "/" or path.startswith(PAGE_PREFIXES)):
            continue
        for name in re.findall(r"{(\w+)(?::\w+)?}", path):
            assert name in values, f"no id for {{{name}}} in {path}: add one to page_paths"
            path = re.sub(rf"{{{name}(?::\w+)?}}", values[name], path)
        yield path


def more_gets(ids: Ids) -> list[str]:
    """Pages with query strings and wrong ids that answer with a message."""
    day = ids.day.isoformat()
    return [
        "/s/?date=3000-13-45", "/s/?date=2026-01-01&page=abc",
        f"/s/map?date={day}", "/s/map?date=garbage", "/s/orders/new?q=王",
        f"/s/orders/new?resident_id={ids.resident_id}", "/s/orders/new?resident_id=abc",
        "/s/orders/new?resident_id=99999999", "/s/residents?page=abc&active=x",
        "/s/residents/99999999", "/s/helpers/99999999", "/s/helpers/abc", "/s/import/bogus",
        "/v/?page=abc", "/v/claim?page=-3", "/v/points?page=99999999999999999999",
        "/login?next=/s/", "/s/messages?status=all", "/s/messages?status=failed",
        "/s/messages?status=bogus&page=x", "/r/?page=abc", "/r/?page=99999999999",
        "/s/orders?date_from=&status=done", f"/s/orders?date_from={day}&date_to={day}",
        "/s/orders?date_from=garbage&date_to=3000-13-45&status=bogus&community_id=x&page=-1",
        f"/s/orders/{ids.confirmed_order_id}", "/s/orders/99999999", "/s/orders/abc",
        f"/s/helpers/{ids.helper_id}?page=abc", "/v/inbox?page=99999999999999999999",
        "/g/?q=王&page=abc", "/g/order?resident_id=abc", "/g/order?resident_id=99999999",
        f"/g/order?resident_id={ids.resident_id}", "/g/follow-ups?show_=all",
        "/g/orders?page=-1", "/s/review?page=x", "/s/family?show_=approved",
        "/s/family?show_=bogus", f"/s/orders/{ids.review_order_id}",
        f"/s/report?period={day[:7]}", "/s/report?period=2026-Q4", "/s/report?period=2026-13",
        "/s/follow-ups?show_=overdue", "/s/follow-ups?show_=mine", "/s/inbox?page=abc",
        "/r/inbox?page=99999999999999999999",
        "/s/honour?first=garbage", "/s/honour?by=bogus&community_id=x",
        f"/s/honour?first={day}&last=2020-01-01", "/v/hours?page=abc",
        "/v/certificate.pdf?first=garbage", "/v/certificate.pdf?first=2030-01-01&last=2020-01-01",
        "/s/helpers/99999999/hours", f"/s/helpers/{ids.helper_id}/hours?page=abc",
    ]  # fmt: skip


def form_posts(ids: Ids) -> list[tuple[str, dict[str, object]]]:
    """Forms posted to pages, each refused or answered with a message."""
    new = {"resident_id": str(ids.resident_id), "item": "L01"}
    return [
        ("/login", {}),
        ("/login", {"username": "staff", "password": "wrong"}),
        ("/s/orders/new", {}),
        ("/s/orders/new", new | {"date": "3000-01-01", "note": "x"}),
        ("/s/orders/new", new | {"date": "yesterday"}),
        ("/s/orders/new", new | {"date": ids.day.isoformat(), "window_start": "9"}),
        ("/s/orders/new", new | {"date": ids.day.isoformat(), "repeat": "1"}),
        ("/s/orders/new", new | {"date": ids.day.isoformat(), "priority": "9"}),
        ("/s/orders/new", {"resident_id": "abc", "date": ids.day.isoformat()}),
        (f"/s/orders/{ids.order_id}/assign", {"helper_ids": ["abc"]}),
        (f"/s/orders/{ids.order_id}/assign", {"helper_ids": ["99999999"]}),
        ("/s/orders/abc/assign", {}),
        ("/s/runs", {"date": "garbage"}),
        (f"/s/messages/{ids.failed_message_id}/resend", {}),
        (f"/s/messages/{ids.pending_message_id}/resend", {}),
        ("/s/messages/99999999/resend", {}),
        ("/s/messages/abc/resend", {}),
        ("/s/import/residents", {}),
        ("/s/import/residents", {"file": ("ledger.csv", b"\xff\xfe\x00garbage", "text/csv")}),
        (f"/v/offers/{ids.offer_id}/decline", {"reason": ""}),
        (f"/v/offers/{ids.accepted_offer_id}/accept", {}),
        (f"/v/offers/{ids.withdrawn_offer_id}/accept", {}),
        (f"/v/offers/{ids.withdrawn_offer_id}/decline", {"reason": "busy"}),
        ("/v/offers/99999999/accept", {}),
        ("/v/offers/abc/accept", {}),
        (f"/v/assignments/{ids.assignment_id}/done", {}),
        ("/s/orders/confirm", {}),
        ("/s/orders/confirm", {"order_ids": [str(ids.order_id), "99999999"]}),
        ("/s/orders/confirm", {"order_ids": ["abc"]}),
        (f"/s/orders/{ids.order_id}/confirm", {}),
        (f"/s/orders/{ids.confirmed_order_id}/confirm", {}),
        (f"/s/orders/{ids.order_id}/cancel", {"reason": " "}),
        ("/s/orders/99999999/cancel", {"reason": "x"}),
        (f"/s/orders/{ids.confirmed_order_id}/feedback", {"score": "9"}),
        (f"/s/orders/{ids.confirmed_order_id}/feedback", {"score": "abc"}),
        (f"/s/orders/{ids.order_id}/feedback", {"score": "3"}),
        (f"/s/helpers/{ids.helper_id}/bonus", {"amount": "abc", "reason": "x"}),
        (f"/s/helpers/{ids.helper_id}/bonus", {"amount": "999999", "reason": "x"}),
        ("/s/points/99999999/reverse", {"reason": "x"}),
        ("/v/claim/bundle", {"order_ids": ["x"]}),
        ("/s/follow-ups/apply", {"date_from": ids.day.isoformat(), "date_to": "x"}),
        ("/s/follow-ups/apply", {"date_from": ids.day.isoformat(), "date_to": ids.day.isoformat()}),
        ("/r/order", {}),
        ("/r/order", {"item": "L01", "date": "3000-01-01", "note": "x"}),
        ("/r/order", {"item": "L01", "date": "yesterday", "window": "night"}),
        ("/r/order", {"item": "L01", "date": "2000-01-01"}),
        ("/r/order", {"item": "NOPE", "date": ids.day.isoformat(), "window": "morning"}),
        ("/r/order", {"item": "L01", "date": ids.day.isoformat(), "window": "morning"}),
        (f"/r/orders/{ids.order_id}/cancel", {"reason": ""}),
        (f"/r/orders/{ids.order_id}/cancel", {"reason": "not_needed"}),
        (f"/r/orders/{ids.order_id}/rate", {"score": "5", "comment": "x"}),
        (f"/r/orders/{ids.order_id}/rate", {"score": "x"}),
        ("/r/orders/abc/cancel", {}),
        ("/r/orders/99999999/rate", {"score": "3"}),
        (f"/v/claim/{ids.order_id}", {}),
        (f"/v/claim/{ids.order_id}/team", {"teammate": ["1", "abc"]}),
        (f"/v/claim/{ids.order_id}/team", {"teammate": [str(ids.helper_id)]}),
        *hours_posts(ids),
        *intake_posts(ids),
        *circle_posts(ids),
    ]


def circle_posts(ids: Ids) -> list[tuple[str, dict[str, object]]]:
    """The care circle forms, each refused (a bad code or id, a keep of nobody, a bad target)."""
    circle = f"/s/residents/{ids.resident_id}/circle"
    return [
        (f"{circle}/add", {"code": "NOPE"}),
        (f"{circle}/add", {}),
        (f"{circle}/remove", {"helper": "abc"}),
        (f"{circle}/keep", {"helper": str(ids.helper_id)}),
        ("/s/circles/target", {"size": "0", "categories": ["living_alone"]}),
        ("/s/circles/target", {"size": "3"}),
    ]


def hours_posts(ids: Ids) -> list[tuple[str, dict[str, object]]]:
    """Check-in, my time, clock corrections and hours reversals, each refused or answered."""
    clock = f"/s/orders/{ids.confirmed_order_id}/clock/{ids.helper_id}"
    return [
        (f"/v/assignments/{ids.assignment_id}/check-in", {"share_position": "on", "lat": "x"}),
        (f"/v/assignments/{ids.assignment_id}/check-out", {}),
        ("/v/time/leave", {"first": ""}),
        ("/v/time/leave", {"first": "2000-01-01"}),
        ("/v/time/week", {"day0": "25:00-26:00", "day1": "nine"}),
        ("/v/time/leave/2000-01-01/cancel", {}),
        ("/v/time/pause", {}),
        ("/v/time/resume", {}),
        (clock, {"in_time": "9", "out_time": "", "reason": "x"}),
        (clock, {"in_time": "10:00", "out_time": "09:00", "reason": "x"}),
        (clock, {"in_time": "09:00", "out_time": "10:30", "reason": "记错了"}),  # data already
        ("/s/hours/99999999/reverse", {"reason": "x"}),
    ]


def intake_posts(ids: Ids) -> list[tuple[str, dict[str, object]]]:
    """The intake forms (grid worker, family, review), each refused or answered."""
    review = f"/s/review/{ids.review_order_id}"
    return [
        ("/g/order", {}),
        ("/g/order", {"resident_id": "99999999", "item": "L01", "date": ids.day.isoformat()}),
        ("/g/order", {"resident_id": str(ids.resident_id), "item": "NOPE", "date": "x"}),
        ("/g/follow-ups/99999999/done", {"notes": "x"}),
        ("/r/family/link", {"code": "NOPE", "phone_tail": "1234", "relation": "女儿"}),
        ("/r/family/link", {}),
        ("/r/for", {"resident_id": "99999999"}),
        (f"{review}/approve", {"date": "3000-01-01"}),
        (f"{review}/approve", {"window_start": "25:99"}),
        (f"{review}/approve", {"item": "NOPE"}),
        (f"{review}/reject", {"reason": " "}),
        ("/s/review/99999999/reject", {"reason": "x"}),
        ("/s/family/99999999/approve", {}),
        ("/s/family/1/bogus", {}),
        (f"/s/residents/{ids.resident_id}/family", {"name": "", "phone": "x", "relation": ""}),
        ("/s/residents/99999999/family", {"name": "x", "phone": "139", "relation": "x"}),
    ]


def log_in_as(client: TestClient, role: str, lang: str) -> None:
    client.cookies.clear()
    client.headers.pop("X-CSRF-Token", None)
    if role != "visitor":
        response = client.post(
            "/login", data={"username": role, "password": PASSWORD}, follow_redirects=False
        )
        assert response.status_code == 303, response.text
        client.headers["X-CSRF-Token"] = csrf_token(client.cookies[TOKEN_COOKIE])  # as forms do
    client.cookies.set(LANG_COOKIE, lang)


def post(client: TestClient, path: str, form: dict[str, object]):  # type: ignore[no-untyped-def]
    """Post the form; a redirect is followed when it carries a message to show (``msg`` or
    ``err``), else it leads to a page the walk checks anyway."""
    files = {k: v for k, v in form.items() if isinstance(v, tuple)}
    data = {k: v for k, v in form.items() if not isinstance(v, tuple)}
    response = client.post(path, data=data, files=files or None, follow_redirects=False)
    location = response.headers.get("location", "")
    if response.is_redirect and ("msg=" in location or "err=" in location):
        return client.get(location, follow_redirects=False)
    return None if response.is_redirect else response


@pytest.fixture
def pages(settings: Settings, world: World, shared_engines: SharedEngines) -> Iterator[TestClient]:
    """A client that answers a server error as the browser would see it (a 500), not by
    raising it in the test."""
    app = kept_engine_app(settings, shared_engines)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


# One database kind is enough to walk: test_pseudo_pages walks every page on SQLite, this on
# PostgreSQL, so each kind renders every page once (skipped without a PostgreSQL server).
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
@pytest.mark.slow
@pytest.mark.timeout(120)
def test_every_page_speaks_one_language(pages: TestClient, sessions: Sessions, ids: Ids) -> None:
    """Every page for every role, in zh and en (and every form's answer), passes the
    one-language checks; every page route was read as a page by some role in both languages
    (so the walk cannot pass by visiting nothing)."""
    data = data_strings(sessions)
    findings = Findings()
    paths = list(page_paths(ids))
    assert {"/login", "/v/", "/v/claim", "/v/points", "/s/", "/s/map", "/s/residents"} <= set(paths)
    shown: set[tuple[str, str]] = set()  # (language, path) answered with a page
    for lang in ("zh", "en"):
        for role in ROLES:
            log_in_as(pages, role, lang)
            extra = more_gets(ids) if role in (*ACTING, *INTAKE_ACTING) else []
            for path in [*paths, *extra]:
                response = pages.get(path, follow_redirects=False)
                if response.is_redirect:  # to another page of the walk, checked there
                    continue
                kind = response.headers.get("content-type", "")
                findings.check(f"GET {path} as {role}", lang, response.status_code,
                               response.text, kind, data)  # fmt: skip
                shown.add((lang, path))
            posts = form_posts(ids) if role in ACTING else []
            if role in INTAKE_ACTING:
                posts = intake_posts(ids)
            if posts:
                for path, form in posts:
                    response = post(pages, path, form)
                    if response is None:
                        continue
                    kind = response.headers.get("content-type", "")
                    findings.check(f"POST {path} as {role}", lang, response.status_code,
                                   response.text, kind, data)  # fmt: skip
    pages_only = [path for path in paths if path != "/"]  # "/" sends each role to its home
    assert {(lang, path) for lang in ("zh", "en") for path in pages_only} <= shown
    assert not findings.problems, f"{len(findings.problems)} problems:\n" + "\n".join(
        dict.fromkeys(findings.problems)
    )
