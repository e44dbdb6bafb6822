"""Ids between the database and the matcher: one typed mapping per problem, both directions.

The matcher names helpers, residents and orders by strings (it is pure and knows no database);
the database by integer row ids. ``order_key``/``helper_key``/``resident_key`` are the one place
the matcher's ids are spelled; the way back goes only through a ``Keys`` built with the problem
(``StreetProblem.keys``), which looks a matcher id up instead of parsing it, so an id that was
not issued for this problem, or is of another kind, is refused rather than read as a number.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


def order_key(order_id: int) -> str:
    """The matcher's id of an order row."""
    return f"o{order_id}"


def helper_key(helper_id: int) -> str:
    """The matcher's id of a helper row."""
    return f"h{helper_id}"


def resident_key(resident_id: int) -> str:
    """The matcher's id of a resident row."""
    return f"r{resident_id}"


class UnknownId(KeyError):
    """An id this mapping was not built with (either direction)."""

    def __str__(self) -> str:
        kind, value = self.args
        return f"{kind} {value!r} is not part of this problem"


@dataclass(frozen=True)
class IdMap:
    """One kind of id (orders, helpers or residents): database row id ↔ matcher id."""

    kind: str
    to_key: Mapping[int, str]
    to_row: Mapping[str, int] = field(repr=False)

    @classmethod
    def of(cls, kind: str, spell: Callable[[int], str], row_ids: Iterable[int]) -> IdMap:
        to_key = {row_id: spell(row_id) for row_id in row_ids}
        to_row = {key: row_id for row_id, key in to_key.items()}
        return cls(kind, MappingProxyType(to_key), MappingProxyType(to_row))

    def key(self, row_id: int) -> str:
        """The matcher's id of database row ``row_id``; ``UnknownId`` if not in this problem."""
        try:
            return self.to_key[row_id]
        except KeyError:
            raise UnknownId(self.kind, row_id) from None

    def row(self, key: str) -> int:
        """The database row id behind matcher id ``key``; ``UnknownId`` if not in this problem."""
        try:
            return self.to_row[key]
        except KeyError:
            raise UnknownId(self.kind, key) from None

    def keys(self, row_ids: Iterable[int]) -> tuple[str, ...]:
        return tuple(self.key(r) for r in row_ids)

    def rows(self, keys: Iterable[str]) -> list[int]:
        return [self.row(k) for k in keys]

    def __contains__(self, row_id: object) -> bool:
        return row_id in self.to_key

    def __iter__(self) -> Iterator[int]:
        return iter(self.to_key)

    def __len__(self) -> int:
        return len(self.to_key)


@dataclass(frozen=True)
class Keys:
    """The ids of one matcher problem, per kind: ``keys.orders.key(17) == "o17"`` and
    ``keys.orders.row("o17") == 17``."""

    orders: IdMap
    helpers: IdMap
    residents: IdMap

    @classmethod
    def of(
        cls,
        orders: Iterable[int] = (),
        helpers: Iterable[int] = (),
        residents: Iterable[int] = (),
    ) -> Keys:
        return cls(
            IdMap.of("order", order_key, orders),
            IdMap.of("helper", helper_key, helpers),
            IdMap.of("resident", resident_key, residents),
        )
