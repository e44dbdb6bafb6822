"""One name per concept: a class name means one thing across api/ and matcher/, every service
plan is a ``Plan`` checked one way, and the matcher's data has one immutable base."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from api.services.claims import ClaimPlan
from api.services.matching.nightly import NightlyPlan
from api.services.matching.plan import Basis, Plan, Stale
from api.services.offers.rematch import RematchPlan

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("api", "matcher")
# Public class names defined twice on purpose, and why.
KEPT = {
    # A database invariant that does not hold (``qunbang db check``) and a rule a matcher plan
    # breaks: the first reports the second among others, each in its own layer.
    "Violation": {"api/services/matching/invariants.py", "matcher/verify.py"},
}


def _classes(private: bool = False) -> dict[str, set[str]]:
    """Every class name defined under api/ and matcher/ (public ones only unless ``private``),
    with the files defining it."""
    found: dict[str, set[str]] = defaultdict(set)
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and (private or not node.name.startswith("_")):
                    found[node.name].add(path.relative_to(ROOT).as_posix())
    return found


def test_a_class_name_means_one_thing() -> None:
    """No public class name is defined in two places (one ``Plan``, one ``Frozen``, storage's
    ``HelperRow`` apart from the scenario's ``HelperEntry``), except the pairs kept by name."""
    twice = {name: files for name, files in _classes().items() if len(files) > 1}
    assert twice == KEPT


def test_every_plan_class_is_a_plan() -> None:
    """Each class under api/ named ``...Plan`` is a subclass of the one ``Plan`` (the nightly
    run's, a re-match's, a claim's), so all are written after the same basis check."""
    named = {
        name
        for name, files in _classes(private=True).items()
        if name.lower().endswith("plan") and name != "Plan"
    }
    subclasses = {cls.__name__ for cls in Plan.__subclasses__() if cls.__module__[:4] == "api."}
    assert named == subclasses == {"NightlyPlan", "RematchPlan", "ClaimPlan"}
    assert all(issubclass(cls, Plan) for cls in (NightlyPlan, RematchPlan, ClaimPlan))


class _Session:
    """Stands in for a database session: counts ``expire_all`` and serves the basis as it is."""

    def __init__(self, basis: Basis) -> None:
        self.basis, self.expired, self.read_after_expire = basis, 0, False

    def expire_all(self) -> None:
        self.expired += 1


class _Plan(Plan):
    def read_basis(self, session: Any) -> Basis:
        session.read_after_expire = session.expired > 0
        return session.basis  # type: ignore[no-any-return]


def test_a_plan_is_written_only_on_the_basis_it_was_solved_on() -> None:
    """``Plan.check`` passes while the basis read afresh (after expiring loaded rows) equals the
    plan's, and raises ``Stale`` once anything in it moved."""
    plan = _Plan(basis=(("order", 1, "open"),), solve_s=0.1)
    session = _Session((("order", 1, "open"),))
    plan.check(session)  # type: ignore[arg-type]
    assert session.expired == 1 and session.read_after_expire
    session.basis = (("order", 1, "offered"),)
    with pytest.raises(Stale):
        plan.check(session)  # type: ignore[arg-type]


def test_the_matcher_has_one_immutable_base() -> None:
    """Only ``matcher.model.Frozen`` sets a frozen pydantic config; every other immutable model
    (problem, parameters, results, generator, scenario files) derives from it."""
    setters = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "id", None) == "ConfigDict"
                    and any(k.arg == "frozen" for k in node.keywords)
                ):
                    setters.append(path.relative_to(ROOT).as_posix())
    assert setters == ["matcher/model.py"]
