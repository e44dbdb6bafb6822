"""Tables behind the street generator: names, population mixes, helper profiles, needs.

The figures are plausible guesses from what offices report (see the domain notes), not
measurements: many warm-hearted residents and party members, few doctors and lawyers; retirees
free in the daytime, working people in the evening; the elderly mostly order errands, health
checks and company, left-behind children tutoring, poor households repairs and cleaning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from matcher.model import HelperKind, ResidentCategory

Hours = tuple[tuple[float, float], ...]  # availability windows in hours, e.g. ((8, 11.5),)
HoursTable = tuple[tuple[float, Hours], ...]  # (weight, windows)
IntTable = tuple[tuple[float, int], ...]  # (weight, value)

HOHHOT = (40.84, 111.75)  # a town street in Hohhot (呼和浩特)
XILINHOT = (43.95, 116.05)  # pastoral sumu near Xilinhot (锡林浩特)

TOWN_COMMUNITIES = (
    "青山社区", "新华社区", "光明社区", "和平社区", "团结社区", "友谊社区", "民族社区", "兴安社区",
    "北垣社区", "海拉尔社区", "锡林社区", "通道社区", "东风社区", "建设社区", "文化社区",
    "丁香社区", "滨河社区", "长乐社区", "振华社区", "春晖社区",
)  # fmt: skip
PASTORAL_COMMUNITIES = (
    "巴音嘎查", "额尔敦嘎查", "宝力格嘎查", "乌兰嘎查", "希日塔拉嘎查", "查干淖尔嘎查",
    "哈拉图嘎查", "那仁嘎查", "阿拉坦嘎查", "吉日嘎郎嘎查", "白音锡勒嘎查", "朝克乌拉嘎查",
)  # fmt: skip

TOWN_HELPER_MIX: dict[HelperKind, float] = {
    HelperKind.WARM_HEARTED_RESIDENT: 0.30,
    HelperKind.PARTY_MEMBER: 0.22,
    HelperKind.RETIRED_CADRE: 0.10,
    HelperKind.STUDENT_VOLUNTEER: 0.08,
    HelperKind.SHOPKEEPER: 0.06,
    HelperKind.DELIVERY_RIDER: 0.06,
    HelperKind.TRADESPERSON: 0.06,
    HelperKind.TEACHER: 0.05,
    HelperKind.NURSE: 0.03,
    HelperKind.DOCTOR: 0.02,
    HelperKind.LAWYER: 0.02,
}
PASTORAL_HELPER_MIX: dict[HelperKind, float] = {
    HelperKind.WARM_HEARTED_RESIDENT: 0.38,
    HelperKind.PARTY_MEMBER: 0.27,
    HelperKind.RETIRED_CADRE: 0.08,
    HelperKind.STUDENT_VOLUNTEER: 0.03,
    HelperKind.SHOPKEEPER: 0.05,
    HelperKind.DELIVERY_RIDER: 0.02,
    HelperKind.TRADESPERSON: 0.06,
    HelperKind.TEACHER: 0.05,
    HelperKind.NURSE: 0.03,
    HelperKind.DOCTOR: 0.02,  # 嘎查医生, village doctors
    HelperKind.LAWYER: 0.01,
}

RESIDENT_MIX: dict[ResidentCategory, float] = {
    ResidentCategory.EMPTY_NEST_ELDERLY: 0.30,
    ResidentCategory.LIVING_ALONE: 0.22,
    ResidentCategory.POOR_HOUSEHOLD: 0.15,
    ResidentCategory.DISABILITY: 0.12,
    ResidentCategory.LEFT_BEHIND_CHILD: 0.10,
    ResidentCategory.LOST_ONLY_CHILD: 0.06,
    ResidentCategory.VETERAN: 0.05,
}

# Priority weight of a resident in coverage (1.0-3.0): families who lost their only child, people
# with disabilities and those living alone come first.
PRIORITY_WEIGHT: dict[ResidentCategory, float] = {
    ResidentCategory.LOST_ONLY_CHILD: 3.0,
    ResidentCategory.DISABILITY: 2.5,
    ResidentCategory.LIVING_ALONE: 2.0,
    ResidentCategory.LEFT_BEHIND_CHILD: 2.0,
    ResidentCategory.POOR_HOUSEHOLD: 1.5,
    ResidentCategory.VETERAN: 1.5,
    ResidentCategory.EMPTY_NEST_ELDERLY: 1.0,
}

# How often a resident of a category places an order, relative to the others.
ORDER_RATE: dict[ResidentCategory, float] = {
    ResidentCategory.LOST_ONLY_CHILD: 1.5,
    ResidentCategory.DISABILITY: 1.5,
    ResidentCategory.LIVING_ALONE: 1.5,
    ResidentCategory.LEFT_BEHIND_CHILD: 1.0,
    ResidentCategory.POOR_HOUSEHOLD: 1.0,
    ResidentCategory.VETERAN: 0.8,
    ResidentCategory.EMPTY_NEST_ELDERLY: 1.0,
}

# ----------------------------------------------------------------------------- helpers

RETIREE_HOURS: HoursTable = (
    (3, ((8, 11.5), (14, 17))),
    (2, ((8, 17),)),
    (2, ((8.5, 12),)),
    (2, ((14, 18.5),)),
    (1, ((13, 19),)),
    (1, ((9, 11), (15, 17))),
)
WORKING_HOURS: HoursTable = (
    (3, ((18, 21),)),
    (1, ((17.5, 21),)),
    (2, ((8, 12),)),
    (1, ((13.5, 17.5),)),
    (1, ((12, 13.5), (18.5, 20.5))),
)
MEDICAL_HOURS: HoursTable = ((3, ((18, 20.5),)), (2, ((8, 12),)), (1, ((14, 17),)))
TRADE_HOURS: HoursTable = ((2, ((13, 17),)), (2, ((18, 20.5),)), (1, ((8, 12),)))
SHOP_HOURS: HoursTable = ((2, ((13, 15),)), (1, ((9, 10.5),)), (1, ((19, 21),)))
RIDER_HOURS: HoursTable = (
    (2, ((14, 16.5),)),
    (1, ((9, 10.5),)),
    (1, ((20, 21.5),)),
    (1, ((9.5, 10.5), (14.5, 16))),
)
STUDENT_HOURS: HoursTable = ((3, ((15.5, 19.5),)), (1, ((18.5, 21),)), (1, ((8, 12), (14, 17))))

RETIREE_MINUTES: IntTable = ((2, 90), (3, 120), (2, 180), (1, 240), (1, 300))
WORKING_MINUTES: IntTable = ((2, 60), (2, 90), (2, 120), (1, 180))
RETIREE_ORDERS: IntTable = ((2, 1), (3, 2), (2, 3), (1, 4))
WORKING_ORDERS: IntTable = ((4, 1), (3, 2), (1, 3))
RIDER_ORDERS: IntTable = ((1, 1), (2, 2), (2, 3), (1, 4))


@dataclass(frozen=True)
class HelperProfile:
    """What a kind of helper can do and when: skills always held, skills held with a chance,
    the share of retirees (who get retiree hours and capacity), hours when working."""

    always: tuple[str, ...]
    maybe: dict[str, float] = field(default_factory=dict)
    female_share: float = 0.5
    retiree_share: float = 0.0
    hours: HoursTable = WORKING_HOURS
    minutes: IntTable = WORKING_MINUTES
    orders: IntTable = WORKING_ORDERS
    town_speed_kmh: float | None = None  # None: the street's walking/cycling speed


PROFILES: dict[HelperKind, HelperProfile] = {
    HelperKind.DOCTOR: HelperProfile(
        ("physician", "blood_pressure_check", "nursing"),
        {"companionship": 0.6, "rehabilitation": 0.3, "psychological_counselling": 0.1,
         "driving": 0.4},
        retiree_share=0.3, hours=MEDICAL_HOURS,
    ),
    HelperKind.NURSE: HelperProfile(
        ("nursing", "blood_pressure_check"),
        {"rehabilitation": 0.5, "elderly_care": 0.6, "companionship": 0.7},
        female_share=0.9, retiree_share=0.3, hours=MEDICAL_HOURS,
    ),
    HelperKind.SHOPKEEPER: HelperProfile(
        ("shopping_errands",),
        {"companionship": 0.5, "cooking": 0.3, "haircut": 0.1, "computer_help": 0.2,
         "driving": 0.3},
        hours=SHOP_HOURS,
    ),
    HelperKind.TRADESPERSON: HelperProfile(
        ("minor_repairs",),
        {"electrical": 0.75, "plumbing": 0.7, "heavy_lifting": 0.6, "driving": 0.4},
        female_share=0.05, hours=TRADE_HOURS,
    ),
    HelperKind.TEACHER: HelperProfile(
        ("tutoring",),
        {"companionship": 0.7, "performing_arts": 0.2, "computer_help": 0.3,
         "psychological_counselling": 0.15},
        female_share=0.7, retiree_share=0.3,
    ),
    HelperKind.LAWYER: HelperProfile(
        ("legal_advice", "mediation"), {"companionship": 0.3, "driving": 0.5},
    ),
    HelperKind.DELIVERY_RIDER: HelperProfile(
        ("shopping_errands", "driving"), {"heavy_lifting": 0.4, "companionship": 0.3},
        female_share=0.1, hours=RIDER_HOURS, minutes=((3, 60), (2, 90)), orders=RIDER_ORDERS,
        town_speed_kmh=20.0,
    ),
    HelperKind.RETIRED_CADRE: HelperProfile(
        ("companionship",),
        {"mediation": 0.4, "shopping_errands": 0.4, "legal_advice": 0.05, "performing_arts": 0.15,
         "computer_help": 0.1, "blood_pressure_check": 0.1},
        female_share=0.4, retiree_share=1.0,
    ),
    HelperKind.PARTY_MEMBER: HelperProfile(
        ("companionship",),
        {"shopping_errands": 0.6, "minor_repairs": 0.2, "cleaning": 0.3, "cooking": 0.2,
         "heavy_lifting": 0.2, "computer_help": 0.2, "driving": 0.3, "mediation": 0.1,
         "elderly_care": 0.15, "performing_arts": 0.1, "haircut": 0.05},
        retiree_share=0.5,
    ),
    HelperKind.WARM_HEARTED_RESIDENT: HelperProfile(
        ("companionship",),
        {"shopping_errands": 0.5, "cleaning": 0.4, "cooking": 0.4, "haircut": 0.08,
         "elderly_care": 0.2, "performing_arts": 0.15, "minor_repairs": 0.1,
         "blood_pressure_check": 0.05, "heavy_lifting": 0.1, "psychological_counselling": 0.03},
        female_share=0.7, retiree_share=0.65,
    ),
    HelperKind.STUDENT_VOLUNTEER: HelperProfile(
        ("companionship",),
        {"tutoring": 0.6, "computer_help": 0.6, "heavy_lifting": 0.4, "performing_arts": 0.2,
         "cleaning": 0.2},
        female_share=0.55, hours=STUDENT_HOURS,
    ),
}  # fmt: skip

# ----------------------------------------------------------------------------- residents and orders

_ELDERLY = {
    "L01": 6, "L02": 3, "L03": 3, "L04": 4, "L05": 2, "L06": 2, "L07": 1,
    "H01": 6, "H02": 3, "H03": 2, "H04": 1, "H05": 1, "H06": 2,
    "S01": 5, "S02": 2, "S03": 1, "S04": 2, "S05": 1, "S06": 2,
    "J01": 0.5, "J02": 0.5, "J03": 0.3,
    "P01": 2, "P02": 0.5, "P03": 1, "P04": 0.5, "P05": 0.5, "P06": 0.5, "P07": 0.5,
    "P08": 1, "P09": 1, "P10": 0.5, "P11": 0.5, "P12": 0.8, "P13": 0.3, "P14": 0.3,
    "P15": 1, "P16": 0.5, "P17": 0.5, "P18": 0.5, "P19": 0.3, "P20": 0.5, "P21": 0.8,
}  # fmt: skip

# Relative demand for each catalogue item by resident category.
NEEDS: dict[ResidentCategory, dict[str, float]] = {
    ResidentCategory.EMPTY_NEST_ELDERLY: _ELDERLY,
    ResidentCategory.LIVING_ALONE: {**_ELDERLY, "S01": 8, "L04": 6, "S02": 3, "P15": 1.5},
    ResidentCategory.LOST_ONLY_CHILD: {**_ELDERLY, "S01": 8, "S03": 4, "L02": 5, "J03": 1},
    ResidentCategory.VETERAN: {**_ELDERLY, "L02": 4, "H02": 4, "J01": 1},
    ResidentCategory.DISABILITY: {
        **_ELDERLY, "L02": 6, "L04": 6, "H04": 3, "H05": 4, "P15": 3, "P16": 3, "P17": 2,
        "P18": 2, "P19": 2, "P20": 1, "S06": 3,
    },
    ResidentCategory.POOR_HOUSEHOLD: {
        "L01": 3, "L05": 3, "L06": 5, "L04": 2, "H01": 2, "H02": 2, "S01": 2, "S04": 1,
        "J01": 2, "J02": 1.5, "J03": 1, "E01": 1, "P01": 1.5, "P02": 1, "P06": 1, "P08": 1.5,
        "P09": 1.5, "P10": 1, "P11": 1, "P12": 1.5, "P14": 0.5,
    },
    ResidentCategory.LEFT_BEHIND_CHILD: {
        "E01": 8, "E02": 5, "E03": 2, "E04": 3, "E05": 2, "S05": 1, "S04": 0.5, "L04": 0.5,
    },
}  # fmt: skip

# Items a pair can do when the order says so (a wheelchair user carried downstairs to hospital,
# a cleaning for a hoarder's flat): drawn for team orders at this fraction of their need.
PAIRABLE: dict[str, float] = {"L02": 0.3, "P01": 0.2, "S06": 0.2}
# Paperwork in Mongolian is asked for only by residents who need a Mongolian speaker.
MONGOLIAN_ITEMS: dict[str, float] = {"J04": 3.0}

# Skills that make a helper a natural member of a resident's circle.
CIRCLE_SKILLS: dict[ResidentCategory, frozenset[str]] = {
    category: frozenset({"companionship", "shopping_errands", "elderly_care", "nursing"})
    for category in ResidentCategory
} | {
    ResidentCategory.LEFT_BEHIND_CHILD: frozenset({"tutoring", "companionship"}),
    ResidentCategory.POOR_HOUSEHOLD: frozenset({"minor_repairs", "cleaning", "companionship"}),
}

# When timed orders start (hour of day -> weight): mornings and mid-afternoons are popular.
START_HOURS: IntTable = (
    (1, 8), (3, 9), (3, 10), (1, 11), (0.5, 12), (1, 13), (3, 14), (3, 15), (2, 16), (1, 17),
    (1, 18), (0.5, 19),
)  # fmt: skip
CHILD_START_HOURS: IntTable = ((3, 16), (3, 17), (2, 18), (1, 19))
FLEXIBLE_WINDOW_MINUTES: IntTable = ((1, 120), (1, 150), (2, 180), (1, 240))
PRIORITIES: IntTable = ((80, 1), (15, 2), (5, 3))
DAYS_WAITED: IntTable = ((55, 0), (25, 1), (8, 2), (5, 3), (3, 4), (2, 5), (1, 6), (1, 7))
CHILD_CATEGORY = "children"  # catalogue category whose timed orders start after school

# ----------------------------------------------------------------------------- geography


@dataclass(frozen=True)
class Terrain:
    """How a kind of street is laid out (all distances in km)."""

    centre: tuple[float, float]  # (lat, lon) of the street centre
    community_spacing_km: float  # town: grid spacing; pastoral: side of the area per sqrt(n)
    min_gap_km: float  # least distance between two community centres
    grid_ring_km: float  # grid centres lie on a ring this far from their community centre
    spread_km: float  # people scatter this much (standard deviation) around their grid centre
    radius_km: tuple[float, ...]  # helpers' reach, drawn uniformly from these
    speed_kmh: tuple[float, ...]  # helpers' own speed; empty: the profile's town speed
    detour_factor: float
    extra_minutes: int  # added to helpers' daily minutes: a pastoral visit takes half a day
    names: tuple[str, ...]
    fallback_name: str  # for communities beyond the name table, e.g. "第21社区"


TOWN = Terrain(
    centre=HOHHOT, community_spacing_km=1.4, min_gap_km=0.8, grid_ring_km=0.35, spread_km=0.15,
    radius_km=(1.0, 1.5, 2.0, 2.0, 2.5, 3.0), speed_kmh=(), detour_factor=1.3, extra_minutes=0,
    names=TOWN_COMMUNITIES, fallback_name="第{n}社区",
)  # fmt: skip
PASTORAL = Terrain(
    centre=XILINHOT, community_spacing_km=22.0, min_gap_km=10.0, grid_ring_km=3.0, spread_km=1.2,
    radius_km=(15.0, 20.0, 25.0, 30.0, 40.0, 50.0), speed_kmh=(30.0, 35.0, 40.0, 45.0, 50.0),
    detour_factor=1.5, extra_minutes=90, names=PASTORAL_COMMUNITIES, fallback_name="第{n}嘎查",
)  # fmt: skip
