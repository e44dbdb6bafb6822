"""A plan: solved with no lock held, written only if what it rests on has not moved.

Every service that solves before it writes (the nightly run, a re-match, a claim) works the same
way. It reads, solves with no transaction open (no lock is held while CP-SAT thinks), then takes
the street's write lock (``api.store.db.begin_write``) and reads again what the plan rests on, its
*basis*: the rows whose change would make the plan wrong. ``Plan.check`` compares the two; when
they differ it raises ``Stale`` and the caller drops the plan and solves again (each caller decides
how often, and what happens when it keeps being overtaken).

A service's plan is a subclass: it adds what it will write and says how its basis is read
(``read_basis``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from sqlalchemy.orm import Session

Basis = tuple[object, ...]


class Stale(Exception):
    """What a plan rests on changed between its solve and its write: solve it again."""


@dataclass(frozen=True, kw_only=True)
class Plan(ABC):
    """A plan solved with no lock held. ``basis``: what it rests on, as read when it was solved;
    ``solve_s``: the wall seconds planning took."""

    basis: Basis
    solve_s: float

    @abstractmethod
    def read_basis(self, session: Session) -> Basis:
        """What the plan rests on, as it stands now (read under the street's write lock; rows
        another writer could still change are locked here)."""

    def check(self, session: Session) -> None:
        """Under the street's write lock: raise ``Stale`` unless the basis read afresh (the
        session's loaded rows expired first) equals the one the plan was solved on."""
        session.expire_all()
        if self.read_basis(session) != self.basis:
            raise Stale
