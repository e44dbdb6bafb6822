"""Small hand-built problems for unit tests: a tiny catalogue and terse constructors.

Locations are given as (east_km, north_km) offsets from a fixed origin, so a test reads in km.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from matcher.model import (
    Catalogue,
    Category,
    Helper,
    HelperKind,
    Location,
    Order,
    Problem,
    Resident,
    ResidentCategory,
    ServiceItem,
    Skill,
    TimeWindow,
)

DATE = dt.date(2026, 11, 23)
ORIGIN_LAT, ORIGIN_LON = 40.8, 111.7  # Hohhot
KM_PER_DEG_LAT = 6371.0088 * math.pi / 180


def at(east_km: float = 0.0, north_km: float = 0.0) -> Location:
    """A location ``east_km`` east and ``north_km`` north of the origin (small offsets)."""
    lat = ORIGIN_LAT + north_km / KM_PER_DEG_LAT
    lon = ORIGIN_LON + east_km / (KM_PER_DEG_LAT * math.cos(math.radians(ORIGIN_LAT)))
    return Location(lat=lat, lon=lon)


def window(start_h: float, end_h: float) -> TimeWindow:
    """A window given in hours, e.g. ``window(9, 11.5)`` is 09:00-11:30."""
    return TimeWindow(start=round(start_h * 60), end=round(end_h * 60))


SKILLS = ("companionship", "cleaning", "nursing", "physician", "repair", "heavy_lifting", "driving")

CATALOGUE = Catalogue(
    skills=tuple(Skill(code=s, name_zh=s, name_en=s) for s in SKILLS),
    categories=(
        Category(code="life", name_zh="生活服务", name_en="Daily life", paid=False),
        Category(code="health", name_zh="医疗保健", name_en="Health care", paid=False),
        Category(code="paid_life", name_zh="家政服务", name_en="Housekeeping", paid=True),
    ),
    items=(
        ServiceItem(
            code="CHAT",
            name_zh="陪伴聊天",
            name_en="Companionship visit",
            category="life",
            paid=False,
            required_skills=frozenset({"companionship"}),
            duration_min=60,
        ),
        ServiceItem(
            code="BP",
            name_zh="测量血压",
            name_en="Blood-pressure check",
            category="health",
            paid=False,
            required_skills=frozenset({"nursing"}),
            duration_min=30,
            max_distance_km=2.0,
        ),
        ServiceItem(
            code="HOMECARE",
            name_zh="上门诊疗",
            name_en="Home medical visit",
            category="health",
            paid=False,
            required_skills=frozenset({"nursing"}),
            lead_skill="physician",
            duration_min=60,
            team_size=2,
        ),
        ServiceItem(
            code="MOVE",
            name_zh="搬运家具",
            name_en="Moving furniture",
            category="paid_life",
            paid=True,
            required_skills=frozenset({"heavy_lifting"}),
            duration_min=90,
            team_size=2,
        ),
        ServiceItem(
            code="CLEAN",
            name_zh="家庭保洁",
            name_en="House cleaning",
            category="paid_life",
            paid=True,
            required_skills=frozenset({"cleaning"}),
            duration_min=120,
        ),
    ),
)


def helper(helper_id: str, *skills: str, where: Location | None = None, **fields: Any) -> Helper:
    return Helper(
        id=helper_id,
        kind=fields.pop("kind", HelperKind.WARM_HEARTED_RESIDENT),
        location=where or at(),
        skills=frozenset(skills),
        **fields,
    )


def resident(resident_id: str, where: Location | None = None, **fields: Any) -> Resident:
    return Resident(
        id=resident_id,
        category=fields.pop("category", ResidentCategory.LIVING_ALONE),
        location=where or at(),
        **fields,
    )


def order(order_id: str, resident_id: str, item: str = "CHAT", **fields: Any) -> Order:
    return Order(id=order_id, resident=resident_id, item=item, date=DATE, **fields)


def problem(
    helpers: list[Helper], residents: list[Resident], orders: list[Order], **fields: Any
) -> Problem:
    return Problem(
        date=DATE,
        catalogue=CATALOGUE,
        helpers=tuple(helpers),
        residents=tuple(residents),
        orders=tuple(orders),
        **fields,
    )
