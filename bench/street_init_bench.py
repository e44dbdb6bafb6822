"""Setting up a big street: ``qunbang street init`` of a generated street file, then the ledger
imports of its people, timed on SQLite and PostgreSQL.

The street file holds the structure and the accounts (8 communities, 60 grids, 600 buildings,
50 staff accounts by default); the people come in by the ledger import, as an office brings
them: helpers, residents (some of them the same person as a helper) and management-type
people, 10,000 in all by default, each with a community, grid and building code. Every
import is checked as a staff member's (all rows or none). A second ``street init`` of the
same file (nothing to change) is timed too. Deterministic (``Random(seed)``).

    .venv/bin/python bench/street_init_bench.py                      # SQLite
    .venv/bin/python bench/street_init_bench.py --pg postgresql+psycopg://qunbang@127.0.0.1:55432/qunbang
    .venv/bin/python bench/street_init_bench.py --write-only bench/out/street  # just the files

``--pg`` names a server the bench may create and drop a throw-away database on."""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.i18n import use_locale
from api.services.accounts import auth
from api.services.actor import actor_of
from api.services.ledger.import_rows import ImportRejected
from api.services.ledger.imports import import_file
from api.services.ledger.street_setup import init_street
from api.store.db import make_engine, migrate, session_factory
from api.store.tables import HelperRow, ManagedPersonRow, ResidentRow, UserRow
from matcher.model import HelperKind, ResidentCategory

CENTRE = (40.84, 111.75)
SKILLS = ("companionship", "cleaning", "cooking", "nursing", "minor_repairs")


@dataclass(frozen=True)
class Sizes:
    communities: int = 8
    grids: int = 60
    buildings: int = 600
    accounts: int = 50
    helpers: int = 3000
    residents: int = 5000
    managed: int = 2000
    same_person: int = 300  # residents who are also helpers


def street_file(sizes: Sizes) -> dict[str, Any]:
    """The street file: grids and buildings spread evenly over the communities."""
    communities: list[dict[str, Any]] = []
    for c in range(sizes.communities):
        communities.append({"code": f"C{c:02d}", "name": f"第{c + 1}社区", "grids": []})
    for g in range(sizes.grids):
        community = communities[g % sizes.communities]
        grid = {"code": f"G{g:03d}", "name": f"第{g + 1}网格", "buildings": []}
        community["grids"].append(grid)
    grids = [grid for c in communities for grid in c["grids"]]
    for b in range(sizes.buildings):
        grids[b % len(grids)]["buildings"].append({"code": f"B{b:04d}", "name": f"{b + 1}号楼"})
    staff = [{"username": "bench-admin", "name": "主任"}]
    for a in range(1, sizes.accounts):
        community = communities[a % sizes.communities]["code"] if a % 5 else None
        entry: dict[str, Any] = {"username": f"bench-staff-{a:03d}"}
        if community is not None:
            entry["community"] = community
        staff.append(entry)
    return {
        "code": "bench",
        "name": "测试街道",
        "settings": {"order_horizon_days": 30, "review_orders": True},
        "communities": communities,
        "staff": staff,
        "catalogue": {"S05": {"enabled": False}, "P01": {"price_yuan": 30}},
    }


def _places(street: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (c["code"].lower(), g["code"].lower(), b["code"].lower())  # codes in any case
        for c in street["communities"]
        for g in c["grids"]
        for b in g["buildings"]
    ]


def _where(rng: random.Random) -> str:
    return f"{CENTRE[0] + rng.uniform(-0.03, 0.03):.5f},{CENTRE[1] + rng.uniform(-0.03, 0.03):.5f}"


def ledgers(street: dict[str, Any], sizes: Sizes, seed: int) -> dict[str, str]:
    """The three ledger files (CSV text) of the street's people."""
    rng = random.Random(seed)
    places = _places(street)
    kinds = list(HelperKind)
    categories = list(ResidentCategory)
    helpers = ["编号,姓名,社区,网格,楼栋,电话,纬度,经度,类型,技能,每日最多单数"]
    for h in range(sizes.helpers):
        c, g, b = rng.choice(places)
        skills = "、".join(rng.sample(SKILLS, 2))
        helpers.append(
            f"H{h:05d},志愿者{h},{c},{g},{b},1380000{h:04d},{_where(rng)},"
            f"{rng.choice(kinds)},{skills},{rng.randint(1, 4)}"
        )
    residents = ["编号,姓名,社区,网格,楼栋,电话,纬度,经度,人员类别,同为志愿者(编号)"]
    for r in range(sizes.residents):
        c, g, b = rng.choice(places)
        same = f"h{r:05d}" if r < sizes.same_person else ""
        residents.append(
            f"R{r:05d},居民{r},{c},{g},{b},1390000{r:04d},{_where(rng)},"
            f"{rng.choice(categories)},{same}"
        )
    managed = ["编号,姓名,社区,网格,楼栋,电话,住址,关注原因"]
    for m in range(sizes.managed):
        c, g, b = rng.choice(places)
        managed.append(f"M{m:05d},关注对象{m},{c},{g},{b},1370000{m:04d},{b}室,定期走访")
    return {
        "helpers": "\n".join(helpers),
        "residents": "\n".join(residents),
        "managed": "\n".join(managed),
    }


def _database(kind: str, pg: str | None, work: Path) -> tuple[str, Any]:
    """A fresh migrated database (and how to drop it)."""
    if kind == "sqlite":
        url = f"sqlite:///{work / 'bench.db'}"
        migrate(url)
        return url, lambda: None
    assert pg is not None
    name = f"qunbang_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = make_url(pg).set(database=name).render_as_string(hide_password=False)
    migrate(url)

    def drop() -> None:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    return url, drop


def run(kind: str, pg: str | None, sizes: Sizes, seed: int) -> dict[str, float | int]:
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        street = street_file(sizes)
        path = work / "street.yaml"
        path.write_text(yaml.safe_dump(street, allow_unicode=True), encoding="utf-8")
        files = ledgers(street, sizes, seed)
        url, drop = _database(kind, pg, work)
        engine = make_engine(url)
        sessions = session_factory(engine)
        figures: dict[str, float | int] = {}
        try:
            start = time.perf_counter()
            created = init_street(sessions, path)
            figures["init_s"] = time.perf_counter() - start
            start = time.perf_counter()
            auth.HASHER.hash("one password")  # what each new account's password costs
            figures["hash_one_s"] = time.perf_counter() - start
            figures["accounts"] = len(created.passwords)
            start = time.perf_counter()
            again = init_street(sessions, path)
            figures["init_again_s"] = time.perf_counter() - start
            assert again.changes == [], again.changes
            with sessions() as session:
                user = session.scalars(select(UserRow).where(UserRow.username == "bench-admin"))
                actor = actor_of(user.one())
            for ledger in ("helpers", "residents", "managed"):
                start = time.perf_counter()
                with sessions() as session:
                    try:
                        report = import_file(
                            session, actor, ledger, files[ledger].encode("utf-8"), f"{ledger}.csv"
                        )
                    except ImportRejected as rejected:
                        raise SystemExit(f"{rejected.message}: {rejected.errors[:3]}") from None
                figures[f"import_{ledger}_s"] = time.perf_counter() - start
                figures[f"{ledger}"] = report.inserted
            with sessions() as session:
                counted = sum(
                    session.scalar(select(func.count()).select_from(table)) or 0
                    for table in (HelperRow, ResidentRow, ManagedPersonRow)
                )
                linked = session.scalar(
                    select(func.count()).where(ResidentRow.helper_id.is_not(None))
                )
            figures["people"] = counted
            figures["same_person"] = linked or 0
            figures["total_s"] = figures["init_s"] + sum(
                v for k, v in figures.items() if k.startswith("import_")
            )
        finally:
            engine.dispose()
            drop()
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", help="a PostgreSQL server URL (SQLite if not given)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--people", type=int, default=10_000, help="helpers+residents+managed")
    parser.add_argument("--write-only", type=Path, help="write the street file and ledgers here")
    args = parser.parse_args()
    base = Sizes()
    scale = args.people / (base.helpers + base.residents + base.managed)
    sizes = Sizes(
        helpers=round(base.helpers * scale),
        residents=round(base.residents * scale),
        managed=round(base.managed * scale),
        same_person=round(base.same_person * scale),
    )
    if args.write_only:
        args.write_only.mkdir(parents=True, exist_ok=True)
        street = street_file(sizes)
        (args.write_only / "street.yaml").write_text(
            yaml.safe_dump(street, allow_unicode=True), encoding="utf-8"
        )
        for ledger, text in ledgers(street, sizes, args.seed).items():
            (args.write_only / f"{ledger}.csv").write_text(text, encoding="utf-8")
        return
    # The accounts' passwords are hashed with production's settings (argon2id defaults).
    assert auth.HASHER is not None
    with use_locale("en"):
        figures = run("postgresql" if args.pg else "sqlite", args.pg, sizes, args.seed)
    database = "PostgreSQL" if args.pg else "SQLite"
    print(f"{database}: " + ", ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}"
                                      for k, v in figures.items()))  # fmt: skip


if __name__ == "__main__":
    main()
