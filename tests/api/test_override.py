"""Manual assignment asks the matcher's checker: a team breaking a hard rule is refused naming
the rule, unless staff give a reason; an override is audited, shown on the run page, and the
next nightly run keeps it without its solve becoming infeasible."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from api.services.matching.nightly import run_nightly
from api.settings import Settings
from api.store.tables import AssignmentRow, AuditEntry, HelperRow, ItemRow, OfferRow, OrderRow
from tests.api.conftest import StateContext, World, database_state, login
from tests.api.loop_support import live_teams, matched_tomorrow, move_orders, tomorrow


def _matched_tomorrow(state: StateContext) -> dt.date:
    """Tomorrow, with every order of the roomy street matched by a nightly run."""
    return matched_tomorrow(state)


day = database_state("day", _matched_tomorrow)


def unskilled_pick(sessions: sessionmaker[Session], day: dt.date) -> tuple[int, int, int]:
    """A one-person order with a required skill, its current member, and another helper who is
    then stripped of every skill (so sending them breaks the skill rule)."""
    with sessions() as session:
        for order_id, (_, members) in sorted(live_teams(session, day).items()):
            order = session.get_one(OrderRow, order_id)
            item = session.get_one(ItemRow, order.item)
            if item.team_size == 1 and item.required_skills and len(members) == 1:
                pick = session.scalars(
                    select(HelperRow.id).where(HelperRow.id != members[0].helper_id)
                ).first()
                assert pick is not None
                session.execute(update(HelperRow).where(HelperRow.id == pick).values(skills=[]))
                session.commit()
                return order_id, members[0].helper_id, pick
    raise AssertionError("no one-person order with a required skill")


@pytest.mark.broken_db("strips a helper's skills under their live offers (not re-checked)")
def test_team_breaking_a_rule_is_refused_naming_it(
    client: TestClient, sessions: sessionmaker[Session], day: dt.date
) -> None:
    """A pick lacking the item's skill gets 422 ``rule_broken`` naming the skill rule and the
    helper; the order's team is untouched and nothing is audited."""
    order_id, member, pick = unskilled_pick(sessions, day)
    staff = login(client, "staff")
    response = client.post(
        f"/orders/{order_id}/reassign", json={"helper_ids": [pick]}, headers=staff
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "rule_broken" and body["field"] == "helper_ids"
    assert "缺少所需技能" in body["detail"] and f"志愿者 {pick}" in body["detail"]
    with sessions() as session:
        _, members = live_teams(session, day)[order_id]
        assert [o.helper_id for o in members] == [member]
        assert not session.scalars(select(AuditEntry).where(AuditEntry.entity == "order")).all()


def test_override_with_reason_is_recorded_audited_and_kept_by_the_nightly(
    client: TestClient,
    sessions: sessionmaker[Session],
    settings: Settings,
    world: World,
    day: dt.date,
) -> None:
    """With a reason the rule-breaking pick is sent: the assignment holds the reason and who gave
    it, the audit log names the broken rule, and the next nightly run finishes (not failed),
    plans the other orders and leaves the overridden team exactly as it is."""
    order_id, _, pick = unskilled_pick(sessions, day)
    staff = login(client, "staff")
    reason = "老人点名要他，电话确认过"
    response = client.post(
        f"/orders/{order_id}/reassign",
        json={"helper_ids": [pick], "override_reason": reason},
        headers=staff,
    )
    assert response.status_code == 200, response.text
    assignment_id = response.json()["assignment_id"]
    with sessions() as session:
        assignment = session.get_one(AssignmentRow, assignment_id)
        assert assignment.override_reason == reason and assignment.override_by is not None
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "order.override")
        ).one()
        assert entry.detail["rules"] == ["skill"] and entry.detail["override_reason"] == reason
    rerun = run_nightly(sessions, settings, world.street_id, day)
    assert rerun.status == "done" and rerun.figures["deferred"] == 0
    assert rerun.figures["covered"] >= 1
    with sessions() as session:
        assignment, members = live_teams(session, day)[order_id]
        assert assignment.id == assignment_id
        assert [o.helper_id for o in members] == [pick]
        assert session.get_one(OfferRow, members[0].id).status == "pending"


def test_an_override_past_a_helpers_daily_limit_does_not_stop_the_nightly(
    client: TestClient,
    sessions: sessionmaker[Session],
    settings: Settings,
    world: World,
    day: dt.date,
) -> None:
    """Staff send, with a reason, a helper whose day the visit overfills: the next nightly run
    is done (not refused by the plan check for work the plan did not give), gives that helper
    nothing more that day and keeps the overridden team."""
    staff = login(client, "staff")
    with sessions() as session:
        teams = live_teams(session, day)
        busy = {o.helper_id for _, members in teams.values() for o in members}
        order_id = next(k for k, v in sorted(teams.items()) if len(v[1]) == 1)
    ranked = client.get(f"/orders/{order_id}/candidates?limit=50", headers=staff).json()["items"]
    pick = next(i["helper_id"] for i in ranked if i["helper_id"] not in busy)
    with sessions() as session:  # no live offer that day: lowering the limit breaks nothing else
        session.execute(update(HelperRow).where(HelperRow.id == pick).values(max_minutes=5))
        session.commit()
    response = client.post(
        f"/orders/{order_id}/reassign",
        json={"helper_ids": [pick], "override_reason": "她自己要求的"},
        headers=staff,
    )
    assert response.status_code == 200, response.text
    rerun = run_nightly(sessions, settings, world.street_id, day)
    assert rerun.status == "done"
    with sessions() as session:
        teams = live_teams(session, day)
        assert [o.helper_id for o in teams[order_id][1]] == [pick]
        given = [k for k, (_, members) in teams.items() if pick in {o.helper_id for o in members}]
        assert given == [order_id]


def test_reason_without_a_broken_rule_is_no_override(
    client: TestClient, sessions: sessionmaker[Session], day: dt.date
) -> None:
    """A pick that keeps every rule is a plain reassignment even if a reason is typed: no
    override is recorded."""
    with sessions() as session:
        order_id, (_, (member,)) = next(
            (k, v) for k, v in sorted(live_teams(session, day).items()) if len(v[1]) == 1
        )
    staff = login(client, "staff")
    ranked = client.get(f"/orders/{order_id}/candidates?limit=5", headers=staff).json()["items"]
    pick = next(i["helper_id"] for i in ranked if i["helper_id"] != member.helper_id)
    response = client.post(
        f"/orders/{order_id}/reassign",
        json={"helper_ids": [pick], "override_reason": "just because"},
        headers=staff,
    )
    assert response.status_code == 200, response.text
    with sessions() as session:
        assignment = session.get_one(AssignmentRow, response.json()["assignment_id"])
        assert assignment.override_reason == ""


@pytest.mark.broken_db("strips a helper's skills under their live offers (not re-checked)")
def test_run_page_shows_changes_and_overrides_and_assigns_by_number(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """The staff run page shows what a run changed; an uncovered order can be sent to a helper
    typed by number — refused on the page naming the rule, then sent with a reason, after which
    the page lists the override with its reason."""
    from api.store.tables import RunUnmatched
    from tests.api.test_web_staff import web_login

    day = tomorrow(settings)
    move_orders(sessions, day)
    run_nightly(sessions, settings, world.street_id, day)
    with sessions() as session:
        order_id = next(
            order_id
            for order_id, skills in session.execute(
                select(RunUnmatched.order_id, ItemRow.required_skills)
                .join(OrderRow, RunUnmatched.order_id == OrderRow.id)
                .join(ItemRow, OrderRow.item == ItemRow.code)
                .where(ItemRow.team_size == 1)
                .order_by(RunUnmatched.order_id)
            )
            if skills
        )
        assert order_id is not None
        pick = session.scalars(select(HelperRow.id).order_by(HelperRow.id)).first()
        session.execute(update(HelperRow).where(HelperRow.id == pick).values(skills=[]))
        session.commit()
    web_login(client, "staff")
    page = client.get(f"/s/?date={day.isoformat()}&lang=en").text
    assert 'id="rerun-changes"' in page and 'name="helper_numbers"' in page
    target = f"/s/orders/{order_id}/assign"
    form = {"helper_numbers": str(pick), "next": f"/s/?date={day.isoformat()}"}
    refused = client.post(target, data=form, follow_redirects=False)
    assert refused.status_code == 303
    assert "err=" in refused.headers["location"], refused.headers["location"]
    assert "违反规则" in client.get(refused.headers["location"]).text
    with sessions() as session:
        assert not session.scalars(
            select(AssignmentRow).where(AssignmentRow.order_id == order_id)
        ).all() or all(
            a.status == "withdrawn"
            for a in session.scalars(
                select(AssignmentRow).where(AssignmentRow.order_id == order_id)
            )
        )
    sent = client.post(target, data=form | {"override_reason": "家属指定"}, follow_redirects=True)
    assert sent.status_code == 200
    assert f'id="override-{order_id}"' in sent.text and "家属指定" in sent.text
