"""Care circles as a service (issue 12), on SQLite and PostgreSQL, each test followed by the
database's invariant check: a visit joins the circle; a low score takes the helper out and staff
may keep them; a second low score blocks the pair in the one problem every path builds (candidate
lists, hand-picked teams, claims, re-matches and the nightly run); good scores raise the pair's
weight; staff add and remove (audited) within their scope; the street's target and the planner."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from api import i18n
from api.cli.main import app
from api.services.circles import members, targets
from api.services.closing.visits import give_feedback
from api.services.errors import BadInput, Conflict, Forbidden, NotFound
from api.services.matching.keys import helper_key, resident_key
from api.services.matching.problem import build_problem, team_violations
from api.services.offers import dispatch
from api.services.offers.assign import create_assignment
from api.settings import Settings, get_settings
from api.store.db import make_engine, session_factory
from api.store.stamps import circles_name, current
from api.store.tables import AuditEntry, OrderRow, ResidentRow, Street
from matcher.candidates import broken_pins
from matcher.circles import Standing
from tests.api.conftest import DATE, World, actor_named
from tests.api.test_orders import (
    HAND_PICKED,
    NOW,
    finish,
    first_resident,
    make_other_resident,
    new_order,
)
from tests.api.test_web_staff import web_login


def eligible_helper(session: Session, settings: Settings, resident_id: int) -> int:
    """A helper the matcher finds able to serve a new order of the resident (the order stays)."""
    order = new_order(session, settings, resident_id)
    options = dispatch.candidates_for(session, actor_named(session, "staff"), order.id)
    assert options.items, "the tiny street has a helper for the first resident"
    return options.items[0].helper_id


def visit(
    session: Session, settings: Settings, resident_id: int, helper_id: int, score: int | None
) -> int:
    """A done visit of the helper to the resident, scored by staff on the resident's behalf."""
    order = new_order(session, settings, resident_id)
    finish(session, settings, order, [helper_id])
    if score is not None:
        give_feedback(session, settings, actor_named(session, "staff"), order.id, score)
    return order.id


def standing_of(session: Session, resident_id: int, helper_id: int) -> Standing | None:
    circle = members.resident_circle(session, actor_named(session, "staff"), resident_id)
    found = {m.helper_id: m.standing for m in [*circle.members, *circle.others]}
    return found.get(helper_id)


def problem_circle(session: Session, resident_id: int) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """The circle and pair weights the matcher's problem holds for the resident."""
    order = session.scalars(
        select(OrderRow).where(OrderRow.resident_id == resident_id).order_by(OrderRow.id.desc())
    ).first()
    assert order is not None
    street = build_problem(session, order.street_id, order.date, [order])
    resident = street.problem.resident(resident_key(resident_id))
    return resident.circle, resident.circle_weights


def actions(session: Session, resident_id: int) -> list[str]:
    return list(
        session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.entity == "resident", AuditEntry.entity_id == str(resident_id))
            .where(AuditEntry.action.like("circle.%"), AuditEntry.action != "circle.read")
            .order_by(AuditEntry.id)
        )
    )


def test_a_visit_joins_the_circle_and_good_scores_raise_its_weight(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """A helper who served the resident is a member (since the visit's day, one visit, last
    visit, mean score) on the resident's circle page and lists the resident on their own page;
    two good scores give the pair weight 2 in the matcher's problem."""
    with sessions() as session:
        resident = first_resident(session, world)
        helper = eligible_helper(session, settings, resident.id)
        visit(session, settings, resident.id, helper, 5)
        staff = actor_named(session, "staff")
        (member,) = [
            m
            for m in members.resident_circle(session, staff, resident.id).members
            if m.helper_id == helper
        ]
        assert (member.visits, member.since, member.last_visit) == (1, DATE, DATE)
        assert (member.mean_score, member.weight) == (5.0, 1.5)
        listed = members.helper_circles(session, staff, helper)
        assert [c.resident_id for c in listed] == [resident.id]
        visit(session, settings, resident.id, helper, 4)
        circle, weights = problem_circle(session, resident.id)
        assert (
            dict(zip(circle, weights or (1.0,) * len(circle), strict=True))[helper_key(helper)]
            == 2.0
        )


def test_a_low_score_takes_the_helper_out_and_staff_may_keep_them(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """A score of 2 takes the helper out of the circle (the problem's circle loses them); an
    explicit keep brings them back, audited; keeping a member is refused."""
    with sessions() as session:
        resident = first_resident(session, world)
        helper = eligible_helper(session, settings, resident.id)
        visit(session, settings, resident.id, helper, 2)
        assert standing_of(session, resident.id, helper) == Standing.LOW_SCORE
        assert helper_key(helper) not in problem_circle(session, resident.id)[0]
        staff = actor_named(session, "staff")
        members.keep_member(session, staff, resident.id, helper)
        assert standing_of(session, resident.id, helper) == Standing.MEMBER
        assert helper_key(helper) in problem_circle(session, resident.id)[0]
        assert actions(session, resident.id) == ["circle.keep"]
        with pytest.raises(Conflict):
            members.keep_member(session, staff, resident.id, helper)
        session.rollback()


def test_a_second_low_score_blocks_the_pair_on_every_path(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """Two low scores (even with a keep between them) block the pair: the problem every path
    builds carries the block, the staff candidate list leaves the helper out, a hand-picked team
    or claim with them breaks the "blocked" rule; staff can neither keep nor add them."""
    with sessions() as session:
        resident = first_resident(session, world)
        helper = eligible_helper(session, settings, resident.id)
        staff = actor_named(session, "staff")
        visit(session, settings, resident.id, helper, 1)
        members.keep_member(session, staff, resident.id, helper)
        visit(session, settings, resident.id, helper, 2)
        assert standing_of(session, resident.id, helper) == Standing.BLOCKED
        order = new_order(session, settings, resident.id)
        street = build_problem(session, order.street_id, order.date, [order])
        blocked = street.problem.helper(helper_key(helper)).blocked_residents
        assert resident_key(resident.id) in blocked
        options = dispatch.candidates_for(session, staff, order.id)
        assert helper not in [c.helper_id for c in options.items]
        broken = team_violations(session, order, [helper], order.window_start)
        assert "blocked" in [v.rule for v in broken]  # (their other visits that hour too)
        for refused in (members.keep_member, members.add_member):
            with pytest.raises(Conflict):
                refused(session, staff, resident.id, helper)
            session.rollback()


def test_staff_add_and_remove_members_audited(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """Staff add a helper (a member from then on, in the problem's circle too) and remove them
    (out, though they served); adding a member or removing a non-member is refused; each change
    is in the audit log."""
    with sessions() as session:
        resident = first_resident(session, world)
        helper = world.helper_ids[-1]
        staff = actor_named(session, "staff")
        members.add_member(session, staff, resident.id, helper)
        assert standing_of(session, resident.id, helper) == Standing.MEMBER
        new_order(session, settings, resident.id)
        assert helper_key(helper) in problem_circle(session, resident.id)[0]
        with pytest.raises(Conflict):
            members.add_member(session, staff, resident.id, helper)
        session.rollback()
        members.remove_member(session, staff, resident.id, helper)
        assert standing_of(session, resident.id, helper) == Standing.REMOVED
        assert helper_key(helper) not in problem_circle(session, resident.id)[0]
        with pytest.raises(Conflict):
            members.remove_member(session, staff, resident.id, helper)
        session.rollback()
        assert actions(session, resident.id) == ["circle.add", "circle.remove"]


def test_community_staff_see_only_their_community(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """Staff of the first community cannot open or change the circle of a resident of another
    community; the helper's circles they read list only their community's residents, while
    street-wide staff see both."""
    other = make_other_resident(sessions, world)
    with sessions() as session:
        mine = first_resident(session, world).id
        helper = world.helper_ids[0]
        street_staff, local = actor_named(session, "staff"), actor_named(session, "staff_c1")
        with pytest.raises(NotFound):
            members.resident_circle(session, local, other)
        session.rollback()
        with pytest.raises(NotFound):
            members.add_member(session, local, other, helper)
        session.rollback()
        members.add_member(session, street_staff, other, helper)
        members.add_member(session, local, mine, helper)
        seen = {c.resident_id for c in members.helper_circles(session, street_staff, helper)}
        assert {mine, other} <= seen
        local_seen = {c.resident_id for c in members.helper_circles(session, local, helper)}
        assert mine in local_seen and other not in local_seen


def test_the_target_counts_and_the_planner_proposes(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """With a target of 1 member for every category, the planner lists every resident short of
    it, proposing helpers with distance and load; adding a resident's proposals makes them meet
    it (one more counted, no longer listed); the run page's count agrees with the planner's, for
    the street and for one community; only street-wide staff set the target, within its
    bounds."""
    with sessions() as session:
        staff, local = actor_named(session, "staff"), actor_named(session, "staff_c1")
        everything = ["living_alone", "poor_household", "lost_only_child", "disability",
                      "left_behind_child", "empty_nest_elderly", "veteran"]  # fmt: skip
        targets.set_target(session, staff, 1, everything)
        before = targets.target_count(session, staff, DATE)
        unplanned = targets.circle_plan(session, staff, DATE)
        assert not unplanned.stored and unplanned.count == before and not unplanned.residents
        made = targets.make_plan(session, staff, DATE)
        plan = targets.circle_plan(session, staff, DATE)
        assert plan.stored and not plan.stale and plan.for_date == DATE
        assert plan.shown.total == made == before.total - before.meeting > 0
        assert len(plan.residents) == min(plan.shown.total, targets.PLAN_PAGE_SIZE)
        assert plan.count == before  # the count's own lighter reads agree with the plan's
        mine = targets.target_count(session, local, DATE)
        assert mine == targets.circle_plan(session, local, DATE).count
        assert 0 < mine.total <= before.total
        proposed = [p for r in plan.residents for p in r.proposals]
        assert proposed and all(p.km_one_way >= 0 and p.load >= 0 for p in proposed)
        short = next(r for r in plan.residents if r.proposals)
        for proposal in short.proposals:  # staff take the planner's advice
            members.add_member(session, staff, short.resident_id, proposal.helper_id)
        after = targets.target_count(session, staff, DATE)
        assert (after.total, after.meeting) == (before.total, before.meeting + 1)
        kept = targets.circle_plan(session, staff, DATE)  # the stored plan until made again
        assert kept.count == before and short.resident_id in [r.resident_id for r in kept.residents]
        targets.make_plan(session, local, DATE)  # any staff of the street: the whole street
        again = targets.circle_plan(session, staff, DATE)
        assert again.count == after
        assert short.resident_id not in [r.resident_id for r in again.residents]
        # community staff see their community's residents of the street's plan, in its order
        street_plan = targets.circle_plan(session, staff, DATE, page_size=500)
        theirs = targets.circle_plan(session, local, DATE, page_size=500)
        assert theirs.count == targets.target_count(session, local, DATE)
        community = select(ResidentRow.id).where(ResidentRow.community_id == local.community_id)
        ids = set(session.scalars(community))
        assert theirs.residents == [r for r in street_plan.residents if r.resident_id in ids]
        assert 0 < len(theirs.residents) <= len(street_plan.residents)
        targets.set_target(session, staff, 2, everything)
        assert targets.circle_plan(session, staff, DATE).stale
        with pytest.raises(Forbidden):
            targets.set_target(session, local, 2, ["living_alone"])
        with pytest.raises(BadInput):
            targets.set_target(session, staff, 0, ["living_alone"])
        with pytest.raises(BadInput):
            targets.set_target(session, staff, 3, ["nobody"])
        session.rollback()


def test_a_page_of_the_planner_is_that_slice_of_the_street_plan(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """With pages of two residents, each page of the planner holds the same residents and
    proposals as that slice of the whole street's plan (the command's); a page past the last
    shows the last."""
    with sessions() as session:
        staff = actor_named(session, "staff")
        everything = ["living_alone", "poor_household", "lost_only_child", "disability",
                      "left_behind_child", "empty_nest_elderly", "veteran"]  # fmt: skip
        targets.set_target(session, staff, 2, everything)
        code = session.get_one(Street, world.street_id).code
        whole = targets.plan_by_code(session, code, DATE).residents
        targets.make_plan(session, staff, DATE)
        pages = -(-len(whole) // 2)
        assert pages >= 2
        for page in range(1, pages + 1):
            found = targets.circle_plan(session, staff, DATE, page, page_size=2)
            assert found.shown.total == len(whole) and found.shown.page == page
            assert found.residents == whole[(page - 1) * 2 : page * 2]
        last = targets.circle_plan(session, staff, DATE, pages + 5, page_size=2)
        assert last.shown.page == pages and last.residents == whole[(pages - 1) * 2 :]


def run_page_count(client: TestClient, meeting: int, total: int) -> bool:
    """Whether the run page's care-circle line says ``meeting`` of ``total`` (in Chinese)."""
    with i18n.use_locale("zh_CN"):
        line = i18n.gettext(
            "Care circles: %(meeting)s of %(total)s residents meet the street's target",
            meeting=meeting,
            total=total,
        )
    return line in client.get("/s/").text


def test_the_run_page_counts_afresh_after_a_circle_changes(
    client: TestClient, sessions: sessionmaker[Session], world: World
) -> None:
    """The run page's count of residents meeting the target follows each change at once:
    a new target, then a resident's circle filled with the planner's proposals (one more
    meets it), then a member taken out (one fewer); the planner's pages show the same count."""
    web_login(client, "staff")
    with sessions() as session:
        staff = actor_named(session, "staff")
        targets.set_target(session, staff, 1, ["living_alone", "veteran", "disability"])
        before = targets.target_count(session, staff, DATE)
        targets.make_plan(session, staff, DATE)
        short = next(r for r in targets.circle_plan(session, staff, DATE).residents if r.proposals)
    assert run_page_count(client, before.meeting, before.total)
    with sessions() as session:
        staff = actor_named(session, "staff")
        for proposal in short.proposals:
            members.add_member(session, staff, short.resident_id, proposal.helper_id)
    assert run_page_count(client, before.meeting + 1, before.total)
    made = client.post("/s/circles/plan")  # the plan made again (its message on the page)
    assert made.status_code == 200 and 'id="circle-plan-made"' in made.text
    with i18n.use_locale("zh_CN"):
        told = i18n.ngettext(
            "circle plan made: %(n)s resident short of the target",
            "circle plan made: %(n)s residents short of the target",
            before.total - before.meeting - 1,
        )
    assert told in made.text
    planner = client.get("/s/circles?page=1").text
    assert 'id="circle-target-count"' in planner and f'id="plan-{short.resident_id}"' not in planner
    with sessions() as session:
        staff = actor_named(session, "staff")
        for proposal in short.proposals:
            members.remove_member(session, staff, short.resident_id, proposal.helper_id)
    assert run_page_count(client, before.meeting, before.total)


def test_a_member_who_accepted_before_the_block_stays_on_that_visit(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """A helper who had accepted a later visit of the resident before the second low score keeps
    that visit: a re-run's problem pinning them there holds no broken pin (the street's plan
    stays possible), while any other order of the resident still blocks them."""
    with sessions() as session:
        resident = first_resident(session, world)
        helper = eligible_helper(session, settings, resident.id)
        later = new_order(session, settings, resident.id, date=DATE + dt.timedelta(days=1))
        assignment = create_assignment(
            session,
            settings,
            later,
            [helper],
            source="manual",
            start_minute=later.window_start,
            accepted=[helper],
            now=NOW,
        )
        assignment.override_reason = HAND_PICKED  # given by hand in this test
        session.commit()
        visit(session, settings, resident.id, helper, 1)
        visit(session, settings, resident.id, helper, 1)
        assert standing_of(session, resident.id, helper) == Standing.BLOCKED
        kept = build_problem(
            session, later.street_id, later.date, [later], pins={later.id: [helper]}
        )
        assert (
            resident_key(resident.id)
            not in kept.problem.helper(helper_key(helper)).blocked_residents
        )
        assert broken_pins(kept.problem) == {}
        other = new_order(session, settings, resident.id)
        fresh = build_problem(session, other.street_id, other.date, [other])
        assert (
            resident_key(resident.id) in fresh.problem.helper(helper_key(helper)).blocked_residents
        )


def test_the_planner_command_prints_the_count_and_proposals(
    monkeypatch: pytest.MonkeyPatch, db_url: str, world: World
) -> None:
    """``qunbang circles plan --street CODE`` prints how many meet the target and the proposals
    with their distance (exit 0); an unknown street exits 2."""
    monkeypatch.setenv("QUNBANG_DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        engine = make_engine(db_url)
        with session_factory(engine)() as session:
            code = session.get_one(Street, world.street_id).code
        engine.dispose()
        result = CliRunner().invoke(app, ["--lang", "en", "circles", "plan", "--street", code])
        assert result.exit_code == 0, result.output
        assert re.search(
            r"\d+ of \d+ residents meet the circle target \(3 members\)", result.output
        )
        assert "Helpers proposed" in result.output and " km" in result.output
        bad = CliRunner().invoke(app, ["circles", "plan", "--street", "NOWHERE"])
        assert bad.exit_code == 2
    finally:
        get_settings.cache_clear()


def test_the_kept_count_follows_visits_and_scores(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """The circle count a process keeps between fetches (``targets._COUNTS``) is filed under the
    street's circles stamp, which the writers of what it counts give a new value: a done visit
    (its pair's totals refreshed), a score, a staff choice. After each, the kept count equals
    one counted afresh."""
    with sessions() as session:
        staff = actor_named(session, "staff")
        targets.set_target(session, staff, 1, ["living_alone", "veteran", "disability"])
        resident = first_resident(session, world)
        resident_id, street_id = resident.id, resident.street_id
        helper = eligible_helper(session, settings, resident_id)
        session.commit()
    name = circles_name(street_id)
    order = 0
    for step in ("visit", "low score", "kept by staff"):
        with sessions() as session:
            staff = actor_named(session, "staff")
            targets.target_count(session, staff, DATE)  # kept from here on
            before = current(session, name)
            if step == "visit":
                order = visit(session, settings, resident_id, helper, None)
            elif step == "low score":
                give_feedback(session, settings, staff, order, 1)
            else:
                members.keep_member(session, staff, resident_id, helper)
            session.commit()
        with sessions() as session:
            staff = actor_named(session, "staff")
            assert current(session, name) != before, step
            kept = targets.target_count(session, staff, DATE)
            assert kept == targets.count_afresh(session, staff, DATE), step
