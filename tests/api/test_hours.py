"""Volunteer hours: check-in and check-out at a visit, the hours ledger written when staff
confirm (clocked minutes, else the planned duration), staff corrections that append a reversal
and the new minutes, the append-only ledger, the invariant check over it, the certificate PDF,
the honour roll and a helper's history. Every test runs on SQLite and PostgreSQL and ends with
the invariant check (``tests/api/conftest.py``)."""

from __future__ import annotations

import datetime as dt
import io
import random
import re
import threading
from typing import Any

import pytest
from fontTools.cffLib import CFFFontSet
from fontTools.ttLib import TTFont
from pypdf import PdfReader
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from api import i18n
from api.services.closing.points import grant_bonus
from api.services.closing.visits import confirm_done
from api.services.errors import BadInput, Conflict, Forbidden, NotFound
from api.services.hours import certificate as certificates
from api.services.hours import clock, history, honour, totals
from api.services.hours import ledger as hours
from api.services.hours.clock import Position
from api.services.matching.invariants import check_database
from api.services.offers.answers import mark_done
from api.services.offers.assign import create_assignment, item_of, to_utc
from api.services.shop import items as shop_items
from api.services.shop import redeem as shop_redeem
from api.settings import Settings
from api.store.tables import (
    AssignmentRow,
    AuditEntry,
    Community,
    HelperRow,
    HonourDay,
    HoursEntry,
    OrderRow,
    VisitClockRow,
)
from tests.api.conftest import DATE, World
from tests.api.test_orders import (
    HAND_PICKED,
    NOW,
    actor_for,
    first_resident,
    make_other_resident,
    new_order,
)


def accepted_visit(
    sessions: sessionmaker[Session], settings: Settings, world: World, item: str = "H04"
) -> tuple[int, int, list[int]]:
    """An order of ``item`` on DATE at 09:00 given to a team who all accepted: (order id,
    assignment id, team)."""
    team = world.helper_ids[:2] if item == "H04" else world.helper_ids[:1]
    with sessions() as session:
        order = new_order(session, settings, first_resident(session, world).id, item=item)
        assignment = create_assignment(session, settings, order, team, source="manual",
                                       start_minute=540, accepted=team, now=NOW)  # fmt: skip
        assignment.override_reason = HAND_PICKED  # given without the matcher's check
        session.commit()
        return order.id, assignment.id, team


def at(settings: Settings, minute: int, day: dt.date = DATE) -> dt.datetime:
    """UTC of ``minute`` after midnight of ``day``, street time."""
    return to_utc(settings, day, minute)


def helper_actor(session: Session, world: World, n: int):  # type: ignore[no-untyped-def]
    actor = actor_for(session, f"helper{n}")
    assert actor.helper_id == world.helper_ids[n - 1]
    return actor


def confirm(sessions: sessionmaker[Session], settings: Settings, order_id: int,
            assignment_id: int, team: list[int]) -> None:  # fmt: skip
    with sessions() as session:
        mark_done(session, settings, team[0], assignment_id, now=at(settings, 660))
        confirm_done(session, settings, actor_for(session, "staff"), order_id,
                     now=at(settings, 700))  # fmt: skip


def entries(sessions: sessionmaker[Session], order_id: int) -> list[tuple[int, int, str, str]]:
    with sessions() as session:
        rows = session.execute(
            select(HoursEntry.helper_id, HoursEntry.minutes, HoursEntry.kind, HoursEntry.source)
            .where(HoursEntry.order_id == order_id)
            .order_by(HoursEntry.id)
        ).all()
        return [tuple(row) for row in rows]  # type: ignore[misc]


# ----------------------------------------------------------------------------- 签到 / 签退


def test_clocked_minutes_or_planned_duration_are_credited_on_confirmation(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """A member who checked in and out gets the minutes between (position kept only when
    given); one who did not gets the item's planned duration; nothing before confirmation."""
    order_id, assignment_id, team = accepted_visit(sessions, settings, world)
    with sessions() as session:
        first = helper_actor(session, world, 1)
        clock.check_in(session, settings, first, assignment_id, Position(31.2, 121.4, 15.0),
                       now=at(settings, 538))  # fmt: skip
        out = clock.check_out(session, settings, first, assignment_id, None, now=at(settings, 613))
        assert out.minutes == 75 and out.in_located and not out.out_located
        row = session.scalars(select(VisitClockRow)).one()
        assert (row.in_lat, row.in_lon, row.out_lat) == (31.2, 121.4, None)
    assert entries(sessions, order_id) == []
    confirm(sessions, settings, order_id, assignment_id, team)
    with sessions() as session:
        planned = item_of(session, session.get_one(OrderRow, order_id)).duration_min
        assert hours.total_minutes(session, team[0]) == 75
        assert hours.total_minutes(session, team[1]) == planned
    assert entries(sessions, order_id) == [
        (team[0], 75, "visit", "clock"),
        (team[1], planned, "visit", "planned"),
    ]


def test_check_in_rules(sessions: sessionmaker[Session], settings: Settings, world: World) -> None:
    """Check-in only on the visit's day, only by an accepted member, once; check-out only after
    check-in, once; a confirmed visit's clock is closed to the helper."""
    order_id, assignment_id, team = accepted_visit(sessions, settings, world)
    with sessions() as session:
        first, outsider = helper_actor(session, world, 1), helper_actor(session, world, 3)
        day_before = at(settings, 600, DATE - dt.timedelta(days=1))
        with pytest.raises(Conflict):
            clock.check_in(session, settings, first, assignment_id, now=day_before)
        session.rollback()
        with pytest.raises(NotFound):
            clock.check_in(session, settings, outsider, assignment_id, now=at(settings, 540))
        session.rollback()
        with pytest.raises(Conflict):
            clock.check_out(session, settings, first, assignment_id, now=at(settings, 540))
        session.rollback()
        with pytest.raises(BadInput):
            clock.check_in(session, settings, first, assignment_id, Position(95.0, 0.0),
                           now=at(settings, 540))  # fmt: skip
        session.rollback()
        clock.check_in(session, settings, first, assignment_id, now=at(settings, 540))
        with pytest.raises(Conflict):
            clock.check_in(session, settings, first, assignment_id, now=at(settings, 545))
        session.rollback()
    confirm(sessions, settings, order_id, assignment_id, team)
    with sessions() as session, pytest.raises(Conflict):
        clock.check_out(session, settings, helper_actor(session, world, 1), assignment_id,
                        now=at(settings, 720))  # fmt: skip


def test_staff_correction_of_a_confirmed_visit_appends_reversal_and_new_minutes(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """Staff correct a member's times after confirmation: the ledger keeps the old entry, adds
    its reversal and the corrected minutes; the correction is audited with before and after;
    a helper may not correct, nor staff of another community."""
    order_id, assignment_id, team = accepted_visit(sessions, settings, world, item="L01")
    with sessions() as session:
        first = helper_actor(session, world, 1)
        clock.check_in(session, settings, first, assignment_id, now=at(settings, 540))
        clock.check_out(session, settings, first, assignment_id, now=at(settings, 600))
    confirm(sessions, settings, order_id, assignment_id, team)
    with sessions() as session:
        with pytest.raises(Forbidden):
            clock.correct_clock(session, settings, helper_actor(session, world, 1), order_id,
                                team[0], 540, 660, "forgot")  # fmt: skip
        with pytest.raises(BadInput):
            clock.correct_clock(session, settings, actor_for(session, "staff"), order_id,
                                team[0], 660, 540, "wrong way round")  # fmt: skip
        view = clock.correct_clock(session, settings, actor_for(session, "staff"), order_id,
                                   team[0], 540, 660, "忘记签退 / forgot to check out")  # fmt: skip
        assert view.minutes == 120 and view.corrected
        assert hours.total_minutes(session, team[0]) == 120
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "clock.correct")
        ).one()
        assert audit.detail["before"]["out"] is not None and audit.detail["after"]["out"]
    assert [(m, k) for _h, m, k, _s in entries(sessions, order_id)] == [
        (60, "visit"),
        (-60, "reversal"),
        (120, "visit"),
    ]


def test_correction_by_staff_of_another_community_is_not_found(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """Community staff see only their community's orders: another one's clock is "not found"."""
    other = make_other_resident(sessions, world)
    with sessions() as session:
        order = new_order(session, settings, other, item="L01")
        team = world.helper_ids[:1]
        create_assignment(session, settings, order, team, source="manual", start_minute=540,
                          accepted=team, now=NOW).override_reason = HAND_PICKED  # fmt: skip
        session.commit()
        with pytest.raises(NotFound):
            clock.correct_clock(session, settings, actor_for(session, "staff_c1"), order.id,
                                team[0], 540, 600, "x")  # fmt: skip


# ----------------------------------------------------------------------------- the ledger


def test_the_hours_ledger_refuses_update_and_delete(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """The database itself keeps the hours ledger append-only (triggers)."""
    order_id, assignment_id, team = accepted_visit(sessions, settings, world, item="L01")
    confirm(sessions, settings, order_id, assignment_id, team)
    for statement in ("UPDATE hours_entries SET minutes = 999", "DELETE FROM hours_entries"):
        with sessions() as session, pytest.raises(DBAPIError):
            session.execute(text(statement))
            session.commit()
    assert len(entries(sessions, order_id)) == 1


def test_reversing_an_hours_entry_once(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """Staff reverse an entry once (a second time is a conflict; a reversal is not reversed);
    the helper's hours go back to zero."""
    order_id, assignment_id, team = accepted_visit(sessions, settings, world, item="L01")
    confirm(sessions, settings, order_id, assignment_id, team)
    with sessions() as session:
        staff = actor_for(session, "staff")
        entry = session.scalars(select(HoursEntry)).one()
        reversal = hours.reverse_entry(session, staff, entry.id, "没有去 / did not go")
        assert reversal.minutes == -entry.minutes
        with pytest.raises(Conflict):
            hours.reverse_entry(session, staff, entry.id, "again")
        session.rollback()
        with pytest.raises(BadInput):
            hours.reverse_entry(session, staff, reversal.id, "back")
        session.rollback()
        assert hours.total_minutes(session, team[0]) == 0
        with pytest.raises(NotFound):
            hours.reverse_entry(session, helper_actor(session, world, 1), entry.id, "mine")


@pytest.mark.broken_db("an hours entry nobody earned and a clock that disagrees, on purpose")
def test_the_invariant_check_names_a_broken_hours_ledger(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """``check_database`` reports an unearned visit entry and a clocked entry whose minutes
    differ from the clock (as a direct write, bypassing the services, would leave them)."""
    order_id, assignment_id, team = accepted_visit(sessions, settings, world, item="L01")
    with sessions() as session:
        first = helper_actor(session, world, 1)
        clock.check_in(session, settings, first, assignment_id, now=at(settings, 540))
        clock.check_out(session, settings, first, assignment_id, now=at(settings, 600))
    confirm(sessions, settings, order_id, assignment_id, team)
    with sessions() as session:
        assert check_database(session) == []
        session.add(HoursEntry(helper_id=world.helper_ids[4], order_id=order_id, served_on=DATE,
                               minutes=30, kind="visit", source="planned"))  # fmt: skip
        clock_row = session.scalars(select(VisitClockRow)).one()
        clock_row.out_at = at(settings, 630)
        session.commit()
        codes = {v.code for v in check_database(session)}
    assert {"hours_unearned", "hours_clock"} <= codes


# ----------------------------------------------------------------------------- the certificate


def pdf_text(data: bytes) -> str:
    """The PDF's text without white space and the NULs pypdf reads between this font's glyphs."""
    reader = PdfReader(io.BytesIO(data))
    return re.sub(r"[\s\x00]+", "", "".join(page.extract_text() for page in reader.pages))


def test_the_certificate_pdf_opens_and_carries_name_hours_and_services(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """The helper's certificate (their own; staff print any helper of their street) parses as a
    PDF and names the helper, their ledger number (no ID number on file), the hours of the
    period and the service; a visit outside the period does not count."""
    order_id, assignment_id, team = accepted_visit(sessions, settings, world, item="L01")
    with sessions() as session:
        first = helper_actor(session, world, 1)
        clock.check_in(session, settings, first, assignment_id, now=at(settings, 540))
        clock.check_out(session, settings, first, assignment_id, now=at(settings, 630))
    confirm(sessions, settings, order_id, assignment_id, team)
    with sessions() as session, i18n.use_locale("zh_CN"):
        helper = session.get_one(HelperRow, team[0])
        mine = certificates.certificate(session, settings, first, team[0], DATE, DATE)
        assert (mine.minutes, mine.id_value) == (90, helper.code)
        text_zh = pdf_text(certificates.certificate_pdf(mine))
        assert "志愿服务记录证明" in text_zh
        assert helper.name.replace(" ", "") in text_zh and "1.5" in text_zh
        assert mine.services and mine.services[0].item_zh.replace(" ", "") in text_zh
        staff = actor_for(session, "staff")
        after = DATE + dt.timedelta(days=1)
        later = certificates.certificate(session, settings, staff, team[0], after, after)
        assert (later.minutes, later.services) == (0, [])
        with pytest.raises(NotFound):
            certificates.certificate(session, settings, helper_actor(session, world, 2), team[0],
                                     DATE, DATE)  # fmt: skip


def test_the_certificate_speaks_the_readers_language() -> None:
    """In English the certificate's texts are English (names stay as they are written)."""
    cert = certificates.Certificate(
        number="H1-20260101-20261231",
        name="张三",
        id_label="Ledger number",
        id_value="H1",
        organisation="示范街道 青山社区",
        office="示范街道",
        first=dt.date(2026, 1, 1),
        last=dt.date(2026, 12, 31),
        minutes=90,
        services=[certificates.ServiceLine("代买代购", "Shopping errands", 1, 90)],
        issued=dt.date(2026, 12, 31),
    )
    with i18n.use_locale("en"):
        text = pdf_text(certificates.certificate_pdf(cert))
    assert "Certificateofvolunteerservice" in text and "Volunteerhours1.5" in text
    assert "Shoppingerrands" in text and "张三" in text


def a_certificate(name: str, item_zh: str = "代买代购") -> certificates.Certificate:
    """A certificate of ``name`` for a year with one service (no database needed)."""
    return certificates.Certificate(
        number="H1-20260101-20261231",
        name=name,
        id_label="台账编号",
        id_value="H1",
        organisation="示范街道 青山社区",
        office="示范街道",
        first=dt.date(2026, 1, 1),
        last=dt.date(2026, 12, 31),
        minutes=90,
        services=[certificates.ServiceLine(item_zh, "Shopping errands", 1, 90)],
        issued=dt.date(2026, 12, 31),
    )


def embedded_glyphs(data: bytes) -> int:
    """How many glyphs the PDF's one embedded font program holds."""
    page: Any = PdfReader(io.BytesIO(data)).pages[0]  # PDF dictionaries: untyped
    (font,) = [f.get_object() for f in page["/Resources"]["/Font"].values()]
    descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
    if "/FontFile2" in descriptor:  # a TrueType font (e.g. WenQuanYi's)
        program = descriptor["/FontFile2"].get_object().get_data()
        return len(TTFont(io.BytesIO(program)).getGlyphOrder())
    fonts = CFFFontSet()  # a bare CFF font program (Noto CJK's)
    fonts.decompile(io.BytesIO(descriptor["/FontFile3"].get_object().get_data()), None)
    return len(fonts[fonts.fontNames[0]].charset)


def test_the_certificate_embeds_only_the_glyphs_it_prints() -> None:
    """The font kept across PDFs is the whole CJK font, yet each PDF embeds only the glyphs of
    its texts (a few dozen; a few kilobytes, not the font's megabytes), and a second PDF with
    other characters still prints them."""
    with i18n.use_locale("zh_CN"):
        first = certificates.certificate_pdf(a_certificate("张三"))
        second = certificates.certificate_pdf(a_certificate("欧阳娜娜", item_zh="助浴服务"))
    for data, name in ((first, "张三"), (second, "欧阳娜娜")):
        printed = set(re.sub(r"[\s\x00]+", "", PdfReader(io.BytesIO(data)).pages[0].extract_text()))
        assert name in pdf_text(data)
        assert embedded_glyphs(data) <= len(printed) + 3  # .notdef, the space and such
        assert len(data) < 64_000
    assert "助浴服务" in pdf_text(second) and "助浴服务" not in pdf_text(first)


def test_two_threads_print_certificates_at_once() -> None:
    """Two threads printing at the same moment (the font shared between them) each get whole
    PDFs of their own helper: every one names its helper and not the other."""
    names = ("张三", "李四")
    start = threading.Barrier(len(names))
    printed: dict[str, list[bytes]] = {name: [] for name in names}
    failures: list[BaseException] = []

    def work(name: str) -> None:
        try:
            with i18n.use_locale("zh_CN"):
                start.wait()
                for _ in range(2):
                    printed[name].append(certificates.certificate_pdf(a_certificate(name)))
        except BaseException as failure:  # reported by the test below
            failures.append(failure)

    threads = [threading.Thread(target=work, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    for name, other in (names, names[::-1]):
        assert len(printed[name]) == 2
        for data in printed[name]:
            text = pdf_text(data)
            assert name in text and other not in text and "志愿服务记录证明" in text


def test_the_certificate_prints_the_id_tail_of_a_helper_who_is_also_a_resident(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """A helper who is also a resident of the ledger gets that record's ID-card tail."""
    with sessions() as session:
        resident = first_resident(session, world)
        resident.helper_id, resident.id_card_tail = world.helper_ids[0], "1234"
        session.commit()
        cert = certificates.certificate(session, settings, actor_for(session, "staff"),
                                        world.helper_ids[0], DATE, DATE)  # fmt: skip
    assert cert.id_value == "1234"


def test_a_missing_cjk_font_is_a_clear_refusal(
    sessions: sessionmaker[Session],
    settings: Settings,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without a Chinese font the certificate is refused with what to install, never a crash."""
    monkeypatch.setenv(certificates.FONT_VARIABLE, "/nonexistent/font.ttc")
    with sessions() as session:
        cert = certificates.certificate(session, settings, actor_for(session, "staff"),
                                        world.helper_ids[0], DATE, DATE)  # fmt: skip
    with pytest.raises(certificates.FontMissing, match="fonts-noto-cjk"):
        certificates.certificate_pdf(cert)


# ----------------------------------------------------------------------------- honour roll


def test_the_honour_roll_ranks_by_hours_or_points_in_street_and_community(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """Ranks follow hours (then points) or points (then hours); equal figures share a rank;
    community staff see their community only; the period bounds what counts."""
    order_id, assignment_id, team = accepted_visit(sessions, settings, world)  # two helpers
    confirm(sessions, settings, order_id, assignment_id, team)
    with sessions() as session:
        staff = actor_for(session, "staff")
        grant_bonus(session, staff, team[1], 100, "社区活动", now=at(settings, 720))
        grant_bonus(session, staff, world.helper_ids[2], 500, "年度贡献", now=at(settings, 720))
        by_hours = honour.honour_roll(session, staff, DATE, DATE)
        assert [r.helper_id for r in by_hours.rows] == [team[1], team[0], world.helper_ids[2]]
        assert [r.street_rank for r in by_hours.rows] == [1, 2, 3]
        assert by_hours.rows[0].visits == 1 and by_hours.rows[2].minutes == 0
        by_points = honour.honour_roll(session, staff, DATE, DATE, by="points")
        assert next(r.helper_id for r in by_points.rows) == world.helper_ids[2]
        # Points spent in the shop (and a cancelled receipt's refund) are not points earned.
        item = shop_items.add_item(session, staff, "毛巾", "goods", 400, 5).id
        spent = shop_redeem.redeem(session, staff, item, helper_id=world.helper_ids[2],
                                   now=at(settings, 730))  # fmt: skip
        shop_redeem.cancel(session, staff, spent.id, now=at(settings, 740))
        shop_redeem.redeem(session, staff, item, helper_id=world.helper_ids[2],
                           now=at(settings, 750))  # fmt: skip
        after = honour.honour_roll(session, staff, DATE, DATE, by="points")
        assert [(r.helper_id, r.points) for r in after.rows] == [
            (r.helper_id, r.points) for r in by_points.rows
        ]
        later = honour.honour_roll(session, staff, DATE + dt.timedelta(days=1),
                                   DATE + dt.timedelta(days=9))  # fmt: skip
        assert later.rows == []
        local = honour.honour_roll(session, actor_for(session, "staff_c1"), DATE, DATE)
        communities = {
            h.id: h.community_id
            for h in session.scalars(
                select(HelperRow).where(HelperRow.street_id == world.street_id)
            )
        }
        assert {communities[r.helper_id] for r in local.rows} <= {world.communities[0]}
        for row in by_hours.rows:
            same = [r for r in by_hours.rows if r.community_id == row.community_id]
            assert row.community_rank == 1 + sum(
                (r.minutes, r.points) > (row.minutes, row.points) for r in same
            )
        with pytest.raises(Forbidden):
            honour.honour_roll(session, helper_actor(session, world, 1), DATE, DATE)


def test_the_roll_cut_to_its_first_rows_is_the_whole_rolls_head(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """The page shows the roll's first rows, cut in the database: they are the whole roll's
    first rows, equal figures in ledger-number order (code points, whatever the collation), with
    the ranks of the whole street; a community's roll is the street's rows of that community."""
    with sessions() as session:
        staff = actor_for(session, "staff")
        for helper_id in world.helper_ids[:6]:  # six helpers with equal figures
            grant_bonus(session, staff, helper_id, 10, "社区活动", now=at(settings, 720))
        grant_bonus(session, staff, world.helper_ids[6], 30, "年度贡献", now=at(settings, 720))
        whole = honour.honour_roll(session, staff, DATE, DATE, by="points").rows
        codes = [r.code for r in whole[1:7]]
        assert codes == sorted(codes) and [r.street_rank for r in whole[:7]] == [1] + [2] * 6
        for limit in (1, 3, 7, 50):
            cut = honour.honour_roll(session, staff, DATE, DATE, "points", limit=limit)
            assert cut.rows == whole[:limit]
        community = world.communities[0]
        mine = honour.honour_roll(session, staff, DATE, DATE, "points", community)
        assert mine.rows == [r for r in whole if r.community_id == community]


def test_the_rolls_ranks_match_a_count_of_better_rows_on_random_figures(
    sessions: sessionmaker[Session], world: World
) -> None:
    """On random running totals full of ties, every roll (by hours and by points, the street's
    and each community's, whole and cut to its head) is the street's helpers with figures, best
    first, equal figures by ledger number; a street rank is one more than the street's better
    rows, a community rank one more than the community's."""
    chance = random.Random(13)
    with sessions() as session:
        staff = actor_for(session, "staff")
        others = [Community(street_id=world.street_id, code=f"R{n}", name=f"随机{n}社区")
                  for n in range(2)]  # fmt: skip
        session.add_all(others)
        session.flush()
        communities = world.communities + [community.id for community in others]
        for helper_id in world.helper_ids:  # spread over three communities
            session.execute(update(HelperRow).where(HelperRow.id == helper_id)
                            .values(community_id=chance.choice(communities)))  # fmt: skip
        helpers = session.execute(
            select(HelperRow.id, HelperRow.code, HelperRow.community_id).where(
                HelperRow.street_id == world.street_id
            )
        ).all()
        assert len(helpers) >= 10 and len({h.community_id for h in helpers}) >= 2
        for _round in range(3):
            session.execute(delete(HonourDay))
            days = [DATE + dt.timedelta(days=n) for n in range(3)]
            for helper in helpers:
                for day in chance.sample(days, chance.randint(0, 2)):
                    session.add(HonourDay(helper_id=helper.id, day=day, street_id=world.street_id,
                                          minutes=chance.choice([0, 30, 60]), visits=1,
                                          points=chance.choice([0, 5, 10])))  # fmt: skip
            session.flush()
            first, last = days[0], days[chance.randint(0, 2)]
            totals: dict[int, list[int]] = {}
            for day in session.scalars(select(HonourDay).where(HonourDay.day <= last)):
                total = totals.setdefault(day.helper_id, [0, 0])
                total[0] += day.minutes
                total[1] += day.points
            for by in honour.ORDERINGS:
                figures = {
                    h.id: tuple(totals[h.id] if by == "hours" else totals[h.id][::-1])
                    for h in helpers
                    if h.id in totals and any(totals[h.id])
                }
                expected = sorted(
                    (h for h in helpers if h.id in figures),
                    key=lambda h: ((-figures[h.id][0], -figures[h.id][1]), h.code),
                )
                whole = honour.honour_roll(session, staff, first, last, by).rows
                assert [r.helper_id for r in whole] == [h.id for h in expected]
                for row in whole:
                    figures_read = (row.minutes, row.visits, row.points, row.street_rank)
                    assert {type(figure) for figure in figures_read} == {int}
                    mine = figures[row.helper_id]
                    better = [h for h in expected if figures[h.id] > mine]
                    assert row.street_rank == 1 + len(better)
                    assert row.community_rank == 1 + sum(
                        h.community_id == row.community_id for h in better
                    )
                for community in sorted({h.community_id for h in helpers}):
                    theirs = [r for r in whole if r.community_id == community]
                    for limit in (None, 1, chance.randint(1, 8)):
                        cut = honour.honour_roll(session, staff, first, last, by, community,
                                                 limit=limit).rows  # fmt: skip
                        assert cut == theirs[:limit]
                        head = honour.honour_roll(session, staff, first, last, by,
                                                  limit=limit).rows  # fmt: skip
                        assert head == whole[:limit]
        session.rollback()


def test_the_rolls_totals_follow_the_ledgers_by_street_day(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """The roll sums the running totals its writers keep: a bonus credited at 00:30 street time
    counts on that street day (16:30 UTC the day before), a reversed visit takes its minutes and
    its visit back; rebuilding the totals from the ledgers gives the same rows, and a total that
    drifts from its ledgers is reported by the checker."""
    order_id, assignment_id, team = accepted_visit(sessions, settings, world)  # two helpers
    confirm(sessions, settings, order_id, assignment_id, team)
    next_day = DATE + dt.timedelta(days=1)
    with sessions() as session:
        staff = actor_for(session, "staff")
        late = to_utc(settings, next_day, 30)
        assert late.date() == DATE  # UTC's day is still the visit's
        grant_bonus(session, staff, team[0], 7, "夜间值守", now=late)
        entry = session.scalars(select(HoursEntry.id).where(HoursEntry.helper_id == team[1])).one()
        hours.reverse_entry(session, staff, entry, "未到场", now=late)
        rows = honour.honour_roll(session, staff, next_day, next_day).rows
        assert [(r.helper_id, r.points, r.minutes, r.visits) for r in rows] == [(team[0], 7, 0, 0)]
        day = {r.helper_id: r for r in honour.honour_roll(session, staff, DATE, DATE).rows}
        assert day[team[0]].visits == 1 and day[team[0]].minutes > 0
        assert (day[team[1]].visits, day[team[1]].minutes) == (0, 0) and day[team[1]].points > 0
        kept = select(HonourDay.helper_id, HonourDay.day, HonourDay.minutes, HonourDay.visits,
                      HonourDay.points).order_by(HonourDay.helper_id, HonourDay.day)  # fmt: skip
        before = session.execute(kept).all()
        totals.rebuild(session, settings.timezone)
        assert session.execute(kept).all() == before
        assert totals.problems(session, world.street_id, settings.timezone) == []
        session.execute(
            update(HonourDay)
            .where(HonourDay.helper_id == team[0], HonourDay.day == next_day)
            .values(points=8)
        )
        found = totals.problems(session, world.street_id, settings.timezone)
        assert [code for code, _ in found] == ["honour_totals"] and "(0, 0, 8)" in found[0][1]
        session.rollback()


# ----------------------------------------------------------------------------- history


def test_a_helpers_history_lists_visits_with_their_hours_and_points(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """A done visit shows as waiting; once confirmed it shows its hours and base points, and
    the totals add up; another helper's history is not found."""
    order_id, assignment_id, team = accepted_visit(sessions, settings, world, item="L01")
    with sessions() as session:
        mark_done(session, settings, team[0], assignment_id, now=at(settings, 660))
        first = helper_actor(session, world, 1)
        waiting = history.helper_history(session, first, team[0])
        assert [(v.order_id, v.minutes) for v in waiting.items] == [(order_id, None)]
        confirm_done(session, settings, actor_for(session, "staff"), order_id,
                     now=at(settings, 700))  # fmt: skip
        done = history.helper_history(session, first, team[0])
        line = done.items[0]
        planned = item_of(session, session.get_one(OrderRow, order_id)).duration_min
        assert (line.minutes, done.total_minutes) == (planned, planned)
        assert line.points == done.balance and line.points > 0
        with pytest.raises(NotFound):
            history.helper_history(session, helper_actor(session, world, 2), team[0])
        assert session.get_one(AssignmentRow, assignment_id).status == "confirmed"


# ----------------------------------------------------------------------------- the migration


def test_migration_0014_goes_down_and_up_and_counts_visits_confirmed_before(
    db_url: str, sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """Down to 0011 the clocks, the hours ledger and the helpers' own time go; up again, each
    member of a visit confirmed before gets the item's planned duration."""
    from alembic import command
    from sqlalchemy import inspect

    from api.store.db import alembic_config

    order_id, assignment_id, team = accepted_visit(sessions, settings, world)
    confirm(sessions, settings, order_id, assignment_id, team)
    config = alembic_config(db_url)
    command.downgrade(config, "0011")
    with sessions() as session:
        schema = inspect(session.connection())
        assert not {"hours_entries", "visit_clocks"} & set(schema.get_table_names())
        assert "leave_dates" not in {c["name"] for c in schema.get_columns("helpers")}
    command.upgrade(config, "head")
    with sessions() as session:
        planned = item_of(session, session.get_one(OrderRow, order_id)).duration_min
    assert entries(sessions, order_id) == [(h, planned, "visit", "planned") for h in team]
