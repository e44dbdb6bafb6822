"""Who may see whom: ``Actor.may_see_person`` (a row in hand) and ``Actor.person_scope`` (the
same rule as a query's condition) agree for every role and scope."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select

from api.services.actor import Actor
from api.store.statuses import Role

PEOPLE = Table(
    "people",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("street_id", Integer, nullable=False),
    Column("community_id", Integer, nullable=False),
    Column("grid_id", Integer, nullable=True),
)
# Every person of two streets × two communities × (no grid, two grids).
PLACES: list[tuple[int, int, int | None]] = list(
    itertools.product((1, 2), (1, 2), (None, 1, 2))
)  # (street, community, grid) of person 1, 2, …
ROWS = [
    {"id": n, "street_id": s, "community_id": c, "grid_id": g}
    for n, (s, c, g) in enumerate(PLACES, start=1)
]
ENGINE = create_engine("sqlite://")
PEOPLE.metadata.create_all(ENGINE)
with ENGINE.begin() as conn:
    conn.execute(insert(PEOPLE), ROWS)

maybe_id = st.one_of(st.none(), st.integers(1, 2))
actors = st.builds(
    Actor,
    user_id=st.just(1),
    username=st.just("someone"),
    role=st.sampled_from(list(Role)),
    street_id=maybe_id,
    community_id=maybe_id,
    helper_id=st.none(),
    resident_id=st.none(),
    grid_id=maybe_id,
)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(actor=actors)
def test_the_query_condition_selects_exactly_whom_the_actor_may_see(actor: Actor) -> None:
    """For every role and scope, the people ``person_scope`` selects are exactly those
    ``may_see_person`` allows."""
    where = actor.person_scope(PEOPLE.c.street_id, PEOPLE.c.community_id, PEOPLE.c.grid_id)
    with ENGINE.connect() as conn:
        selected = set(conn.scalars(select(PEOPLE.c.id).where(where)))
    allowed = {n for n, place in enumerate(PLACES, start=1) if actor.may_see_person(*place)}
    assert selected == allowed


def test_a_grid_worker_sees_their_grid_only_and_a_helper_nobody() -> None:
    """A grid worker of grid 1 in street 1 sees that grid's people of street 1 (none of street
    2's grid 1); a helper account sees nobody."""
    worker = Actor(1, "gw", Role.GRID_WORKER, 1, None, None, None, grid_id=1)
    seen = {(s, g) for s, c, g in PLACES if worker.may_see_person(s, c, g)}
    assert seen == {(1, 1)}
    helper = Actor(2, "h", Role.HELPER, 1, None, 5, None)
    assert not any(helper.may_see_person(*place) for place in PLACES)
