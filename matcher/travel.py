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


def great_circle_km_from(
    place: Location, lats: np.ndarray, lons: np.ndarray, cos_lats: np.ndarray
) -> np.ndarray:
    """``great_circle_km`` from ``place`` to many points at once (radians, and the cosines of
    their latitudes): the same haversine, element by element."""
    lat, lon = math.radians(place.lat), math.radians(place.lon)
    h = np.sin((lat - lats) / 2) ** 2 + cos_lats * math.cos(lat) * np.sin((lon - lons) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))


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
            radius = np.array([h.radius_km for h in problem.helpers], dtype=float)
            self._grid = _HomeIndex(self._lat, self._lon, radius, self._geo.detour_factor)

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
        km_rt, minutes = self._geo_arrays(order, None)
        return km_rt, minutes, np.ones(len(km_rt), dtype=bool)

    def near(
        self, order: Order, cap_km: float | None = None, among: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The helpers with a leg to ``order`` whose one-way km may be within their own radius
        and ``cap_km`` (every such helper, possibly some beyond: callers apply their exact
        test), in no particular order, with round-trip km and minutes: the values
        ``arrays_for_order`` gives at those indices, bit for bit. Geo travel looks only at
        helpers whose homes lie where their radius can reach the order from (``_HomeIndex``), so
        an order costs what its neighbourhood holds, not the whole street. ``among`` (a mask
        over every helper) keeps only those helpers, tested before any distance is computed."""
        if self._by_order is not None:
            km_rt, minutes, present = self.arrays_for_order(order)
            indices = np.flatnonzero(present if among is None else present & among)
            return indices, km_rt[indices], minutes[indices]
        where = self._problem.resident(order.resident).location
        indices = self._grid.around(where, cap_km)
        if among is not None:
            indices = indices[among[indices]]
        km_rt, minutes = self._geo_arrays(order, indices)
        return indices, km_rt, minutes

    def arrays_for_helpers(
        self, order: Order, indices: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``arrays_for_order`` at ``indices`` only (the same values), computed for those alone."""
        if self._by_order is not None:
            km_rt, minutes, present = self.arrays_for_order(order)
            return km_rt[indices], minutes[indices], present[indices]
        km_rt, minutes = self._geo_arrays(order, indices)
        return km_rt, minutes, np.ones(len(km_rt), dtype=bool)

    def _geo_arrays(
        self, order: Order, indices: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Round-trip km and minutes of the helpers at ``indices`` (all when None): the same
        element-wise operations whichever helpers are taken, so the values do not depend on it."""
        where = self._problem.resident(order.resident).location
        if indices is None:
            lats, lons, cos_lat, speed = self._lat, self._lon, self._cos_lat, self._speed
        else:
            lats, lons = self._lat[indices], self._lon[indices]
            cos_lat, speed = self._cos_lat[indices], self._speed[indices]
        km_one_way = great_circle_km_from(where, lats, lons, cos_lat)
        km_rt = 2 * km_one_way * self._geo.detour_factor
        minutes = np.ceil(km_rt / speed * 60 - 1e-9).astype(np.int64)
        return km_rt, minutes

    def leg(self, helper: Helper, order: Order) -> Leg | None:
        if self._matrix is not None:
            return self._matrix.get((helper.id, order.id))
        where = self._problem.resident(order.resident).location
        km_rt = 2 * great_circle_km(helper.location, where) * self._geo.detour_factor
        return Leg(km_rt, round_trip_minutes(km_rt, helper.speed_kmh or self._geo.speed_kmh))


class _HomeIndex:
    """Helpers' homes grouped by radius, each group sorted by (row of latitude, longitude): the
    helpers whose radius may reach a point are, in each group, in the rows its reach spans and,
    in each row, in a span of longitude, found by one vectorised binary search per group (a
    spatial index without another dependency). Groups keep a query from scanning, for helpers of
    1 km, the span of the widest radius.

    The spans are conservative: latitude differs by at most d / R; and since the haversine
    h >= cos(lat1) cos(lat2) sin^2(dlon / 2), longitude by at most 2 asin(sin(d / 2R) /
    sqrt(cos(lat1) cos(lat2_min))); near a pole or the antimeridian every longitude is taken."""

    GROUPS = 3  # radius groups (by quantile of radius)
    MARGIN = 1e-6  # relative and absolute (km): a superset, never a subset
    ROW = 8.0  # key = row x ROW + longitude + pi: longitudes of a row sort within [0, 2 pi]

    def __init__(self, lat: np.ndarray, lon: np.ndarray, radius: np.ndarray, detour: float) -> None:
        self.count, self.detour = len(lat), detour
        self.groups: list[tuple[float, float, np.ndarray, np.ndarray]] = []
        by_radius = np.argsort(radius, kind="stable")
        for members in np.array_split(by_radius, min(self.GROUPS, max(1, len(lat)))):
            if not len(members):
                continue
            widest = float(radius[members].max())
            # Rows as tall as the group's reach: a query looks at two or three rows.
            height = max(1e-7, widest / detour / EARTH_RADIUS_KM)
            keys = np.floor(lat[members] / height) * self.ROW + (lon[members] + math.pi)
            ordering = np.argsort(keys, kind="stable")
            self.groups.append((widest, height, keys[ordering], members[ordering]))

    def around(self, where: Location, cap_km: float | None) -> np.ndarray:
        """Indices (no particular order) of every helper whose one-way km to ``where`` may be
        within their radius and ``cap_km``."""
        lat, lon = math.radians(where.lat), math.radians(where.lon)
        found = []
        for widest, height, keys, members in self.groups:
            reach = widest if cap_km is None else min(widest, cap_km)
            reach = reach * (1 + self.MARGIN) + self.MARGIN
            angle = reach / self.detour / EARTH_RADIUS_KM  # great-circle radians
            if angle >= math.pi / 2:
                found.append(members)
                continue
            low, high = lat - angle, lat + angle
            span = 2 * math.pi
            farthest = max(abs(low), abs(high))
            if farthest < math.pi / 2 - 1e-6:
                s = math.sin(angle / 2) / math.sqrt(math.cos(lat) * math.cos(farthest))
                if s < 1:
                    span = 2 * math.asin(s) * (1 + self.MARGIN) + 1e-9
            rows = np.arange(math.floor(low / height), math.floor(high / height) + 1) * self.ROW
            if span >= math.pi or lon - span < -math.pi or lon + span > math.pi:
                first, last = rows - 0.5, rows + 2 * math.pi + 0.5  # whole rows
            else:
                first, last = rows + (lon - span + math.pi), rows + (lon + span + math.pi)
            starts = np.searchsorted(keys, first, side="left")
            ends = np.searchsorted(keys, last, side="right")
            found.extend(
                members[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True) if b > a
            )
        if not found:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate(found)
