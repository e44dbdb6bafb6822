"""Fill a database: the shipped catalogue, and a generated street (the demo street, test streets)
with made-up but plausible names, phones and addresses. Deterministic for a given spec."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.store.tables import (
    CategoryRow,
    Community,
    Grid,
    HelperRow,
    ItemRow,
    OrderRow,
    ResidentRow,
    SkillRow,
    Street,
)
from matcher.catalogue import load_catalogue
from matcher.generator import StreetSpec, generate_street_with_layout
from matcher.model import Catalogue

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = "建国华明丽芳秀英军伟强敏静磊洋艳勇杰娟涛超霞平刚桂兰玉梅红春燕文华德福生海波志宏淑珍凤荣新民林云琴"  # noqa: E501


@dataclass(frozen=True)
class SeededStreet:
    street: Street
    helpers: int
    residents: int
    orders: int


def load_catalogue_rows(session: Session, catalogue: Catalogue | None = None) -> None:
    """Write the catalogue (the shipped one unless given) if the database has none yet."""
    if session.scalar(select(SkillRow.code).limit(1)) is not None:
        return
    catalogue = catalogue or load_catalogue()
    session.add_all(
        SkillRow(code=s.code, name_zh=s.name_zh, name_en=s.name_en) for s in catalogue.skills
    )
    session.add_all(
        CategoryRow(code=c.code, name_zh=c.name_zh, name_en=c.name_en, paid=c.paid)
        for c in catalogue.categories
    )
    session.flush()
    session.add_all(
        ItemRow(
            code=i.code,
            name_zh=i.name_zh,
            name_en=i.name_en,
            category=i.category,
            paid=i.paid,
            required_skills=sorted(i.required_skills),
            lead_skill=i.lead_skill,
            duration_min=i.duration_min,
            team_size=i.team_size,
            max_distance_km=i.max_distance_km,
            points=i.points,
        )
        for i in catalogue.items
    )
    session.flush()


def seed_street(
    session: Session,
    spec: StreetSpec,
    *,
    code: str = "demo",
    name: str = "示范街道",
    order_date: dt.date | None = None,
    with_orders: bool = True,
) -> SeededStreet:
    """Write a generated street: communities, grids, helpers, residents and (optionally) one
    day's orders, dated ``order_date`` (default: the spec's date). The caller commits."""
    load_catalogue_rows(session)
    problem, layout = generate_street_with_layout(spec)
    rng = random.Random(spec.seed)
    street = Street(code=code, name=name)
    session.add(street)
    session.flush()
    grids: dict[tuple[str, str], Grid] = {}
    communities: dict[str, Community] = {}
    for number, community_layout in enumerate(layout.communities, start=1):
        community = Community(
            street_id=street.id, code=f"C{number:02d}", name=community_layout.name
        )
        session.add(community)
        session.flush()
        communities[community_layout.name] = community
        for grid_number, grid_name in enumerate(community_layout.grids, start=1):
            grid = Grid(community_id=community.id, code=f"G{grid_number:02d}", name=grid_name)
            session.add(grid)
            grids[(community_layout.name, grid_name)] = grid
    session.flush()

    def place(entity_id: str) -> tuple[Community, Grid, str]:
        where = layout.places[entity_id]
        community, grid = communities[where.community], grids[(where.community, where.grid)]
        building, unit = rng.randint(1, 30), rng.randint(1, 6)
        room = f"{rng.randint(1, 18)}{rng.randint(1, 4):02d}"
        address = f"{where.community}{where.grid}{building}号楼{unit}单元{room}室"
        return community, grid, address

    prefix = f"{code}-" if code != "demo" else ""
    for helper in problem.helpers:
        community, grid, address = place(helper.id)
        session.add(
            HelperRow(
                code=f"{prefix}{helper.id}",
                street_id=street.id,
                community_id=community.id,
                grid_id=grid.id,
                name=_name(rng),
                phone=_phone(rng),
                address=address,
                kind=helper.kind.value,
                skills=sorted(helper.skills),
                lat=helper.location.lat,
                lon=helper.location.lon,
                radius_km=helper.radius_km,
                max_orders=helper.max_orders,
                max_minutes=helper.max_minutes,
                availability=[[w.start, w.end] for w in helper.availability],
                languages=sorted(helper.languages),
                gender=helper.gender.value if helper.gender else None,
                speed_kmh=helper.speed_kmh,
                blocked_residents=sorted(f"{prefix}{r}" for r in helper.blocked_residents),
            )
        )
    resident_rows: dict[str, ResidentRow] = {}
    for resident in problem.residents:
        community, grid, address = place(resident.id)
        row = ResidentRow(
            code=f"{prefix}{resident.id}",
            street_id=street.id,
            community_id=community.id,
            grid_id=grid.id,
            name=_name(rng),
            id_card_tail=f"{rng.randint(0, 9999):04d}",
            phone=_phone(rng),
            address=address,
            category=resident.category.value,
            lat=resident.location.lat,
            lon=resident.location.lon,
            priority_weight=resident.priority_weight,
            language=resident.language,
            preferred_gender=resident.preferred_gender.value if resident.preferred_gender else None,
            circle=[f"{prefix}{h}" for h in resident.circle],
        )
        session.add(row)
        resident_rows[resident.id] = row
    session.flush()
    orders = problem.orders if with_orders else ()
    placed_at = dt.datetime.combine((order_date or spec.date) - dt.timedelta(days=1), dt.time(8))
    for order in orders:
        session.add(
            OrderRow(
                street_id=street.id,
                resident_id=resident_rows[order.resident].id,
                item=order.item,
                date=order_date or order.date,
                window_start=order.window.start if order.window else None,
                window_end=order.window.end if order.window else None,
                flexible=order.flexible_start,
                priority=order.priority,
                placed_at=placed_at - dt.timedelta(days=order.days_waited),
            )
        )
    session.flush()
    return SeededStreet(street, len(problem.helpers), len(problem.residents), len(orders))


def _name(rng: random.Random) -> str:
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
    return rng.choice(SURNAMES) + given


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('3578')}{rng.randint(0, 9)}{rng.randint(0, 99999999):08d}"
