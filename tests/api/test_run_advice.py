"""The run page helps decide: each uncovered order's next step (stored by the run with the
helpers it names by row id, shown as a sentence), candidates with their day's load and past
scores, and a community's staff reading their community's figures."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from api import i18n
from api.http.locale import LANG_COOKIE
from api.services.closing.visits import confirm_done, give_feedback
from api.services.matching.explain_text import NamedHelper, suggest_in
from api.services.matching.nightly import run_nightly
from api.services.matching.runs import get_run
from api.services.offers.answers import mark_done
from api.services.offers.assign import create_assignment, to_utc
from api.services.offers.dispatch import candidates_for
from api.settings import Settings
from api.store.tables import HelperRow, ItemRow, OrderRow, ResidentRow, RunUnmatched
from matcher.catalogue import load_catalogue
from matcher.result import Reason, Step, StepKind, WhyParams, Window
from tests.api.conftest import World, actor_named
from tests.api.loop_support import make_roomy, move_orders, tomorrow
from tests.api.test_ledger import add_community
from tests.api.test_web_staff import card, web_login

RAW = re.compile(r"%\(|\b(raise_limit|move_window|find_helper|assign_now|at_limit|not_free)\b")


def tighten(sessions: sessionmaker[Session], settings: Settings, world: World) -> dt.date:
    """Tomorrow on the tiny street where every helper could serve every order but takes one
    order a day: more orders than helpers, so some are left with a step to take."""
    day = tomorrow(settings)
    move_orders(sessions, day)
    make_roomy(sessions)
    with sessions() as session:
        session.execute(update(HelperRow).values(max_orders=1))
        session.commit()
    return day


@pytest.fixture
def tight(sessions: sessionmaker[Session], world: World, settings: Settings) -> dt.date:
    """``tighten``, and that day's run."""
    day = tighten(sessions, settings, world)
    run_nightly(sessions, settings, world.street_id, day)
    return day


def latest(session: Session, settings: Settings, username: str) -> object:
    run_id = session.scalar(select(RunUnmatched.run_id).order_by(RunUnmatched.id.desc()))
    assert run_id is not None
    return get_run(session, settings, actor_named(session, username), run_id)


def test_a_run_keeps_each_steps_helpers_by_row_id_and_says_whom_to_ask(
    sessions: sessionmaker[Session], settings: Settings, world: World, tight: dt.date
) -> None:
    """Every uncovered order of the run has a step; the helpers it names are the street's
    helpers by row id; a raised limit names the helper (name and ledger number) with their
    visits that day and limit, in Chinese and in English."""
    with sessions() as session:
        rows = session.scalars(select(RunUnmatched)).all()
        assert rows
        helpers = {h.id: h for h in session.scalars(select(HelperRow))}
        kinds = set()
        for row in rows:
            step = (row.params or {}).get("step")
            assert step is not None, row.order_id
            kinds.add(step["kind"])
            for helper in [step["helper"], *step["team"]]:
                if helper is not None:
                    assert helpers[int(helper)].street_id == world.street_id
        assert StepKind.RAISE_LIMIT in kinds
        run = latest(session, settings, "staff")
        for view in run.unmatched:  # type: ignore[attr-defined]
            assert view.suggestion and view.suggestion_zh and view.suggestion_en, view
            assert not RAW.search(view.suggestion_en + view.suggestion_zh), view
            step = view.params["step"]
            if step["kind"] == StepKind.RAISE_LIMIT:
                asked = helpers[int(step["helper"])]
                named = f"{asked.name} ({asked.code})"
                assert f"ask {named}, who has 1 of 1 visits that day" in view.suggestion_en
                assert f"请当天已接1单（上限1单）的{named}再接一单" in view.suggestion_zh


def test_planners_read_the_steps_without_names(
    sessions: sessionmaker[Session], settings: Settings, tight: dt.date
) -> None:
    """A planner's run names no helper in a step: "a helper" instead."""
    with sessions() as session:
        names = set(session.scalars(select(HelperRow.name)))
        run = latest(session, settings, "planner")
    texts = [u.suggestion_en + u.suggestion_zh for u in run.unmatched]  # type: ignore[attr-defined]
    assert any("ask a helper, who has" in t for t in texts)
    assert not any(name in text for name in names for text in texts)


def test_community_staff_read_their_communitys_figures(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """Street staff read the street's figures; a community's staff read that community's (half
    the residents moved to a second one): its orders in the run, matched and uncovered (adding
    up, and matching its uncovered list) and its coverage, with no street-wide totals."""
    day = tighten(sessions, settings, world)
    other = add_community(sessions, world.street_id)
    with sessions() as session:
        moved = ResidentRow.id % 2 == 0
        place = {"community_id": other.community_id, "grid_id": other.grid_id}
        session.execute(update(ResidentRow).where(moved).values(**place))
        session.commit()
    run_nightly(sessions, settings, world.street_id, day)
    with sessions() as session:
        street = latest(session, settings, "staff").figures  # type: ignore[attr-defined]
        mine = latest(session, settings, "staff_c1")
        in_c1 = session.scalar(
            select(func.count(OrderRow.id))
            .select_from(OrderRow)
            .join(ResidentRow, OrderRow.resident_id == ResidentRow.id)
            .where(OrderRow.date == day, ResidentRow.community_id == world.communities[0])
        )
    figures = mine.figures  # type: ignore[attr-defined]
    assert "community" not in street and street["orders"] > figures["orders"] > 0
    assert figures["community"] and figures["orders"] == in_c1
    assert figures["covered"] + figures["unmatched"] == figures["orders"]
    assert figures["unmatched"] == len(mine.unmatched)  # type: ignore[attr-defined]
    assert 0 <= figures["coverage_ratio"] <= 1
    assert "travel_km" not in figures and "offers_created" not in figures


def test_candidates_show_their_day_and_past_scores(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """A helper who served a resident (scored 4) joins that resident's circle, listed first
    for the resident's next order with that visit counted in their day and the score from this
    resident and overall, in the reasons too; the others have no scores yet."""
    day = tomorrow(settings)
    move_orders(sessions, day)
    make_roomy(sessions)
    with sessions() as session:
        staff = actor_named(session, "staff")
        first = session.scalars(
            select(OrderRow).join(ItemRow, OrderRow.item == ItemRow.code)
            .where(ItemRow.team_size == 1, OrderRow.window_start.is_(None))
            .order_by(OrderRow.id)
        ).first()  # fmt: skip
        assert first is not None
        helper_id = world.helper_ids[0]
        noon = to_utc(settings, day, 12 * 60)
        assignment = create_assignment(session, settings, first, [helper_id], source="manual",
                                       start_minute=None, accepted=[helper_id])  # fmt: skip
        session.commit()
        mark_done(session, settings, helper_id, assignment.id, now=noon)
        confirm_done(session, settings, staff, first.id, now=noon)
        give_feedback(session, settings, staff, first.id, 4, now=noon)
        again = OrderRow(street_id=first.street_id, resident_id=first.resident_id,
                         item=first.item, date=day, priority=1)  # fmt: skip
        session.add(again)
        session.commit()
        with i18n.use_locale("en"):
            view = candidates_for(session, staff, again.id, limit=100)
    circle = [c.in_circle for c in view.items]
    assert circle == sorted(circle, reverse=True)  # the circle first
    mine = next(c for c in view.items if c.helper_id == helper_id)
    assert (mine.in_circle, mine.visits, mine.max_orders) == (True, 1, 6)
    assert mine.score_from_resident == (4.0, 1) and mine.score_overall == (4.0, 1)
    why = " · ".join(mine.why)
    assert "1 of 6 visits that day" in why and "in the resident's circle" in why
    assert "scored 4 by this resident (1 visit)" in why, why
    others = [c for c in view.items if c is not mine]
    assert others and all(c.score_overall is None and "no scores yet" in c.why for c in others)
    assert all("not in the resident's circle" in c.why for c in others if not c.in_circle)


@pytest.mark.parametrize(("lang", "step", "next_step"), [
    ("zh", "再接一单", "下一步："), ("en", "to take one more", "Next step: ")])  # fmt: skip
def test_the_run_page_shows_each_orders_next_step(
    client: TestClient, sessions: sessionmaker[Session], tight: dt.date, lang: str, step: str,
    next_step: str,
) -> None:  # fmt: skip
    """The run page shows every uncovered order's next step after its reason, in the page's
    language and with no raw code; a community's staff see their community's figures instead of
    the street's travel and offers."""
    with sessions() as session:
        ids = [r.order_id for r in session.scalars(select(RunUnmatched))]
    web_login(client, "staff")
    client.cookies.set(LANG_COOKIE, lang)
    page = unescape(client.get(f"/s/?date={tight.isoformat()}").text)
    shown = [i for i in ids if f'id="order-{i}"' in page]
    assert shown
    for order_id in shown:
        text = card(page, order_id)
        assert next_step in text and not RAW.search(text), text
    assert step in page
    web_login(client, "staff_c1")
    client.cookies.set(LANG_COOKIE, lang)
    mine = unescape(client.get(f"/s/?date={tight.isoformat()}").text)
    assert 'id="community-figures"' in mine
    assert 'id="rerun-changes"' not in mine and 'id="community-figures"' not in page


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
@pytest.mark.parametrize("kind", list(StepKind))
def test_every_step_reads_as_a_sentence(kind: StepKind, locale: str) -> None:
    """Every kind of step (each reason's fallback too) is a whole sentence in each language,
    with its numbers, names and times filled in and no code or placeholder left."""
    catalogue = load_catalogue()
    item = next(i for i in catalogue.items if i.max_distance_km and i.required_skills)
    step = Step(kind=kind, helper="7", team=("7", "8"), start=600, count=3, km=3.5,
                window=Window(start=840, end=900), team_size=1,
                skills=tuple(sorted(item.required_skills)), language="mn")  # fmt: skip
    params = WhyParams(item=item.code, team=2, skills=tuple(sorted(item.required_skills)),
                       nearest_km=4.2, step=step)  # fmt: skip
    named = {
        "7": NamedHelper("王芳 (H0007)", 2, 3, 2.0),
        "8": NamedHelper("李强 (H0008)", 0, 2, 3.0),
    }
    for reason in Reason:
        text = suggest_in(locale, reason, params, catalogue, named)
        assert text and text[-1] in ".。）)" and not RAW.search(text), text
        assert not re.search(r"[a-z]+_[a-z]+|\bNone\b", text), text
        if kind in (StepKind.RAISE_LIMIT, StepKind.EXTEND_RADIUS, StepKind.ADD_SKILL):
            assert "王芳 (H0007)" in text
        if locale == "zh_CN":
            assert re.search(r"[\u4e00-\u9fff]", text) and "helper" not in text, text
