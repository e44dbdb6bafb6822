"""Problem validation errors carry where they are (kind, id, field, value) as data."""

from __future__ import annotations

import datetime as dt
import pickle

import pytest
from pydantic import ValidationError

from matcher.catalogue import load_catalogue
from matcher.errors import ProblemError
from matcher.generator import generate_street, preset
from matcher.model import Helper, HelperKind, Location, MatrixTravel, Problem, TravelLeg, replace

DAY = dt.date(2026, 3, 2)


def _helper(helper_id: str, *skills: str) -> Helper:
    return Helper(
        id=helper_id,
        kind=HelperKind.NURSE,
        location=Location(lat=40.8, lon=111.7),
        skills=frozenset(skills),
    )


def _error(**fields: object) -> ProblemError:
    data: dict[str, object] = {"date": DAY, "catalogue": load_catalogue(), "residents": ()}
    with pytest.raises(ValidationError) as caught:
        Problem.model_validate({"helpers": (), "orders": (), **data, **fields})
    found = ProblemError.of(caught.value)
    assert found is not None, caught.value
    return found


def test_unknown_skill_error_names_kind_id_field_and_value() -> None:
    """An unknown skill is reported as (helper, its id, 'skills', the skill), with the same
    message as before."""
    error = _error(helpers=(_helper("H1", "nursing", "flying"),))
    assert (error.kind, error.id, error.field, error.value) == ("helper", "H1", "skills", "flying")
    assert str(error) == "helper 'H1': field 'skills': unknown skill 'flying'"
    assert not error.duplicate


def test_duplicate_id_error_is_flagged_as_data() -> None:
    """A duplicate id says so in ``duplicate``, not only in words."""
    error = _error(helpers=(_helper("H1"), _helper("H1")))
    assert (error.kind, error.id, error.field, error.duplicate) == ("helper", "H1", "id", True)


def test_travel_leg_error_names_its_index() -> None:
    """A bad travel leg is located by its index, with its label in the message."""
    problem = generate_street(preset("tiny", seed=1))
    order = problem.orders[0].id
    legs = (TravelLeg(helper="nobody", order=order, km_round_trip=1.0, minutes_round_trip=5),)
    with pytest.raises(ValidationError) as caught:
        replace(problem, travel=MatrixTravel(legs=legs))
    error = ProblemError.of(caught.value)
    assert error is not None
    assert (error.kind, error.id, error.field) == ("travel leg", 0, "helper")
    assert str(error).startswith(f"travel leg 0 ('nobody', {order!r}): field 'helper': ")


def test_problem_error_survives_pickling() -> None:
    """The error keeps its data across processes (pickle), e.g. from a worker."""
    error = ProblemError("order", "O1", "pinned", "unknown helper 'H9'", value="H9")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.kind, copy.id, copy.field, copy.value, str(copy)) == (
        "order",
        "O1",
        "pinned",
        "H9",
        "order 'O1': field 'pinned': unknown helper 'H9'",
    )
