"""Bad problem data is rejected with a message naming the offending id and field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from matcher.model import (
    GeoTravel,
    Location,
    MatrixTravel,
    Order,
    TimeWindow,
    TravelLeg,
    replace,
)
from tests.factories import DATE, at, helper, order, problem, resident, window


def base():  # type: ignore[no-untyped-def]
    return problem(
        [helper("h1", "companionship"), helper("h2", "nursing")],
        [resident("r1"), resident("r2")],
        [order("o1", "r1", window=window(9, 11)), order("o2", "r2", item="BP")],
    )


def rejects(match: str, **changes: object) -> None:
    with pytest.raises(ValidationError, match=match):
        replace(base(), **changes)


def test_valid_problem_is_accepted() -> None:
    """The base problem used below is itself valid, so each rejection is due to its one change."""
    assert len(base().orders) == 2


def test_unknown_skill_names_helper_and_field() -> None:
    """A helper skill missing from the catalogue names the helper and 'skills'."""
    helpers = (helper("h1", "juggling"), helper("h2", "nursing"))
    rejects(r"helper 'h1': field 'skills': unknown skill 'juggling'", helpers=helpers)


def test_unknown_item_names_order_and_field() -> None:
    """An order for an item not in the catalogue names the order and 'item'."""
    orders = (order("o1", "r1", item="X99"),)
    rejects(r"order 'o1': field 'item': unknown catalogue item 'X99'", orders=orders)


def test_duplicate_ids_are_named() -> None:
    """Two helpers with one id are rejected, naming the id."""
    helpers = (helper("h1", "companionship"), helper("h1", "nursing"))
    rejects(r"helper 'h1': field 'id': duplicate id", helpers=helpers)


def test_dangling_references_are_named() -> None:
    """Orders, circles, blocks and pins pointing at unknown ids are named with their field."""
    rejects(r"order 'o9': field 'resident': unknown resident 'r9'", orders=(order("o9", "r9"),))
    rejects(
        r"resident 'r1': field 'circle': unknown helper 'h9'",
        residents=(resident("r1", circle=("h9",)), resident("r2")),
    )
    rejects(
        r"helper 'h1': field 'blocked_residents': unknown resident 'r9'",
        helpers=(helper("h1", blocked_residents=frozenset({"r9"})), helper("h2")),
    )
    rejects(
        r"order 'o1': field 'pinned': unknown helper 'h9'",
        orders=(order("o1", "r1", pinned=("h9",)), order("o2", "r2")),
    )


def test_window_that_ends_before_it_starts() -> None:
    """A time window ending before it starts is rejected with both times in the message."""
    with pytest.raises(ValidationError, match=r"window ends \(540\) before it starts \(600\)"):
        TimeWindow(start=600, end=540)


def test_window_shorter_than_service() -> None:
    """A fixed window too short for the service names the order and 'window'."""
    orders = (order("o1", "r1", window=window(9, 9.5)),)  # CHAT lasts 60 minutes
    rejects(r"order 'o1': field 'window': 30 min is shorter than the 60 min service", orders=orders)


def test_negative_duration_is_rejected() -> None:
    """A negative duration override is rejected at the field."""
    with pytest.raises(ValidationError, match="duration_min"):
        Order(id="o1", resident="r1", item="CHAT", date=DATE, duration_min=-5)


def test_coordinates_out_of_range() -> None:
    """Latitudes beyond ±90 and longitudes beyond ±180 are rejected at the field."""
    with pytest.raises(ValidationError, match="lat"):
        Location(lat=91, lon=0)
    with pytest.raises(ValidationError, match="lon"):
        Location(lat=0, lon=-181)


def test_order_on_another_date() -> None:
    """An order for a different day than the problem's names the order and 'date'."""
    other = replace(order("o1", "r1"), date=DATE.replace(day=24))
    rejects(r"order 'o1': field 'date'", orders=(other,))


def test_matrix_legs_must_refer_to_known_pairs() -> None:
    """A matrix leg for an unknown helper, or a pair given twice, is named."""
    leg = TravelLeg(helper="h9", order="o1", km_round_trip=1.0, minutes_round_trip=10)
    rejects(r"travel leg 0 \('h9', 'o1'\): field 'helper'", travel=MatrixTravel(legs=(leg,)))
    twice = TravelLeg(helper="h1", order="o1", km_round_trip=1.0, minutes_round_trip=10)
    rejects(r"duplicate pair", travel=MatrixTravel(legs=(twice, twice)))


def test_overlapping_availability_is_rejected() -> None:
    """A helper whose availability windows overlap names the helper and 'availability'."""
    with pytest.raises(ValidationError, match=r"helper 'h1': field 'availability'"):
        helper("h1", availability=(window(8, 12), window(11, 14)))


def test_replace_revalidates_and_drops_cached_lookups() -> None:
    """replace() builds a validated copy whose id lookups reflect the new data."""
    original = base()
    assert original.order("o1").window == window(9, 11)
    changed = replace(original, orders=(order("o1", "r1", window=window(14, 16)),))
    assert changed.order("o1").window == window(14, 16)
    assert isinstance(changed.travel, GeoTravel)
    assert changed.resident("r1").location == at()
