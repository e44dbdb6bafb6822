"""Round-trip travel between a helper's home and an order's resident.

Geo travel: one-way km = great-circle km x detour factor; round trip is twice that; minutes =
ceil(round-trip km / speed x 60), with the helper's own speed when set. Matrix travel: as given;
absent pairs are infeasible. A timed visit occupies ``[start - out, start + duration + back]`` with
``out = ceil(minutes / 2)`` and ``back = minutes - out``; a helper's reach is measured by the
one-way km (half the round trip).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from matcher.model import GeoTravel, Helper, Location, MatrixTravel, Order, Problem

EARTH_RADIUS_KM = 6371.0088


class Leg(NamedTuple):
    km_round_trip: float
    minutes_round_trip: int

    @property
    def km_one_way(self) -> float:
        return self.km_round_trip / 2

    @property
    def minutes_out(self) -> int:
        return (self.minutes_round_trip + 1) // 2

    @property
    def minutes_back(self) -> int:
        return self.minutes_round_trip - self.minutes_out


def great_circle_km(a: Location, b: Location) -> float:
    """Haversine distance in km."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat, dlon = lat2 - lat1, math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def round_trip_minutes(km_round_trip: float, speed_kmh: float) -> int:
    return math.ceil(km_round_trip / speed_kmh * 60 - 1e-9)


class TravelTable:
    """Looks up legs for (helper, order) pairs; vectorised per order for geo travel."""

    def __init__(self, problem: Problem) -> None:
        self._problem = problem
        self._matrix: dict[tuple[str, str], Leg] | None = None
        self._by_order: dict[str, list[tuple[int, Leg]]] | None = None
        if isinstance(problem.travel, MatrixTravel):
            index = {h.id: i for i, h in enumerate(problem.helpers)}
            self._matrix, self._by_order = {}, {}
            for row in problem.travel.legs:
                leg = Leg(row.km_round_trip, row.minutes_round_trip)
                self._matrix[(row.helper, row.order)] = leg
                self._by_order.setdefault(row.order, []).append((index[row.helper], leg))
        else:
            self._geo: GeoTravel = problem.travel
            self._lat = np.radians([h.location.lat for h in problem.helpers])
            self._lon = np.radians([h.location.lon for h in problem.helpers])
            self._cos_lat = np.cos(self._lat)
            self._speed = np.array(
                [h.speed_kmh or problem.travel.speed_kmh for h in problem.helpers]
            )

    def arrays_for_order(self, order: Order) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Round-trip km, round-trip minutes and presence of every helper's leg to ``order``,
        indexed like ``problem.helpers``."""
        if self._by_order is not None:
            count = len(self._problem.helpers)
            km_rt, minutes = np.zeros(count), np.zeros(count, dtype=np.int64)
            present = np.zeros(count, dtype=bool)
            for index, leg in self._by_order.get(order.id, ()):
                km_rt[index], minutes[index], present[index] = leg[0], leg[1], True
            return km_rt, minutes, present
        where = self._problem.resident(order.resident).location
        lat, lon = math.radians(where.lat), math.radians(where.lon)
        h = (
            np.sin((lat - self._lat) / 2) ** 2
            + self._cos_lat * math.cos(lat) * np.sin((lon - self._lon) / 2) ** 2
        )
        km_one_way = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))
        km_rt = 2 * km_one_way * self._geo.detour_factor
        minutes = np.ceil(km_rt / self._speed * 60 - 1e-9).astype(np.int64)
        return km_rt, minutes, np.ones(len(km_rt), dtype=bool)

    def leg(self, helper: Helper, order: Order) -> Leg | None:
        if self._matrix is not None:
            return self._matrix.get((helper.id, order.id))
        where = self._problem.resident(order.resident).location
        km_rt = 2 * great_circle_km(helper.location, where) * self._geo.detour_factor
        return Leg(km_rt, round_trip_minutes(km_rt, helper.speed_kmh or self._geo.speed_kmh))
