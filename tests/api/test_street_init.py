"""``qunbang street init``: a street set up from its file, on SQLite and PostgreSQL — created,
unchanged by a second run, updated in place, removals of places with people refused, and every
class of bad input refused naming the file, the field and the value with nothing written."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from api.cli.main import app as cli
from api.http.pages.render import TOKEN_COOKIE, csrf_token  # noqa: F401 (the login cookie)
from api.i18n import use_locale
from api.services.accounts.auth import HASHER, add_user
from api.services.actor import actor_of
from api.services.errors import Conflict
from api.services.ledger.street_file import StreetFileError
from api.services.ledger.street_setup import init_street, street_view
from api.settings import Settings
from api.store.tables import (
    AuditEntry,
    Building,
    Community,
    Grid,
    HelperRow,
    ResidentRow,
    Street,
    StreetItemRow,
    UserRow,
)
from seeds import SEEDS_DIR
from tests.api.conftest import SharedEngines, kept_engine_app

Sessions = sessionmaker[Session]
EXAMPLE = SEEDS_DIR / "example-street.yaml"
PLACES = (Street, Community, Grid, Building, StreetItemRow, UserRow)


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """Messages in English, so that the tests can read them."""
    with use_locale("en"):
        yield


def example() -> dict[str, Any]:
    return yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))


def write(tmp_path: Path, data: dict[str, Any] | str, name: str = "street.yaml") -> Path:
    path = tmp_path / name
    text = data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True)
    path.write_text(text, encoding="utf-8")
    return path


def snapshot(sessions: Sessions) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables a street file writes, as plain tuples."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    with sessions() as session:
        for table in (*PLACES, AuditEntry):
            columns = list(table.__table__.columns)
            rows[table.__tablename__] = sorted(
                tuple(str(v) for v in row) for row in session.execute(select(*columns))
            )
    return rows


def test_example_file_creates_the_street(sessions: Sessions, tmp_path: Path) -> None:
    """The shipped example creates its street, 2 communities, their grids and buildings, the
    staff accounts (each password returned once and working) and the catalogue settings."""
    result = init_street(sessions, EXAMPLE)
    assert result.created and result.changes
    with sessions() as session:
        street = session.scalars(select(Street).where(Street.code == "qingshan")).one()
        assert (street.name, street.time_zone) == ("青山街道", "Asia/Shanghai")
        assert (street.order_horizon_days, street.review_orders, street.default_deadline_hours) == (
            30,
            True,
            24,
        )
        communities = session.scalars(
            select(Community).where(Community.street_id == street.id).order_by(Community.code)
        ).all()
        assert [(c.code, c.name) for c in communities] == [("DH", "东湖社区"), ("XY", "新苑社区")]
        grids = session.scalar(
            select(func.count())
            .select_from(Grid)
            .join(Community)
            .where(Community.street_id == street.id)
        )
        assert grids == 4
        assert session.scalar(select(func.count()).select_from(Building)) == 8
        users = {u.username: u for u in session.scalars(select(UserRow))}
        passwords = dict(result.passwords)
        assert set(passwords) == {"qs-admin", "qs-planner", "dh-staff", "xy-staff", "dh-g01"}
        for username, password in passwords.items():
            assert HASHER.verify(users[username].password_hash, password)
            assert password not in EXAMPLE.read_text(encoding="utf-8")
        assert users["dh-staff"].community_id == communities[0].id
        assert users["qs-planner"].role == "planner" and users["qs-admin"].community_id is None
        grid_worker = users["dh-g01"]
        g01 = session.get_one(Grid, grid_worker.grid_id)
        assert grid_worker.role == "grid_worker" and g01.code == "G01"
        assert grid_worker.community_id == communities[0].id == g01.community_id
        items = {r.item: r for r in session.scalars(select(StreetItemRow))}
        assert not items["S05"].active
        assert (items["P20"].duration_min, items["P20"].price_fen) == (240, 8050)
        assert items["P15"].team_size == 2 and items["L02"].price_fen is None


def test_second_run_changes_nothing(sessions: Sessions) -> None:
    """Running the same file twice: the second run reports no changes, prints no password and
    leaves every row (audit log included) as it was."""
    init_street(sessions, EXAMPLE)
    before = snapshot(sessions)
    again = init_street(sessions, EXAMPLE)
    assert not again.created and again.changes == [] and again.passwords == []
    assert snapshot(sessions) == before


def test_changed_file_updates_in_place(sessions: Sessions, tmp_path: Path) -> None:
    """A changed file renames in place (same ids), adds a community, moves a staff account,
    changes settings and item settings, and creates only the new account's password."""
    init_street(sessions, EXAMPLE)
    with sessions() as session:
        dh_id = session.scalars(select(Community.id).where(Community.code == "DH")).one()
        admin_hash = session.scalars(
            select(UserRow.password_hash).where(UserRow.username == "qs-admin")
        ).one()
    data = example()
    data["name"] = "青山街道办事处"
    data["communities"][0]["name"] = "东湖新社区"
    data["communities"].append(
        {"code": "NH", "name": "南湖社区", "grids": [{"code": "G01", "name": "南湖网格"}]}
    )
    data["staff"][2]["community"] = "XY"
    data["staff"].append({"username": "nh-staff", "name": "赵社工", "community": "NH"})
    data["settings"]["review_orders"] = False
    data["catalogue"]["P01"]["price_yuan"] = 35
    del data["catalogue"]["S05"]
    result = init_street(sessions, write(tmp_path, data))
    texts = [c.text() for c in result.changes]
    assert any("南湖" not in t and "NH" in t for t in texts)
    assert [u for u, _ in result.passwords] == ["nh-staff"]
    with sessions() as session:
        dh = session.get_one(Community, dh_id)
        assert dh.name == "东湖新社区"
        street = session.scalars(select(Street).where(Street.code == "qingshan")).one()
        assert street.name == "青山街道办事处" and street.review_orders is False
        assert session.scalar(select(func.count()).select_from(Community)) == 3
        staff = session.scalars(select(UserRow).where(UserRow.username == "dh-staff")).one()
        assert staff.community_id != dh_id
        assert (
            session.scalars(
                select(UserRow.password_hash).where(UserRow.username == "qs-admin")
            ).one()
            == admin_hash
        )
        items = {r.item: r for r in session.scalars(select(StreetItemRow))}
        assert "S05" not in items and items["P01"].price_fen == 3500


def test_removal_of_a_community_with_people_is_refused(sessions: Sessions, tmp_path: Path) -> None:
    """Leaving out a community that still has a resident is refused (a Conflict naming the
    file and the community), and nothing of the file is written; an empty one is removed."""
    init_street(sessions, EXAMPLE)
    with sessions() as session:
        street = session.scalars(select(Street).where(Street.code == "qingshan")).one()
        xy = session.scalars(select(Community).where(Community.code == "XY")).one()
        session.add(
            ResidentRow(
                code="QS-R1",
                street_id=street.id,
                community_id=xy.id,
                name="刘奶奶",
                category="empty_nest_elderly",
                lat=40.0,
                lon=116.0,
            )
        )
        session.commit()
    before = snapshot(sessions)
    data = example()
    data["name"] = "改名不应写入"
    data["communities"] = data["communities"][:1]
    data["staff"] = [s for s in data["staff"] if s.get("community") != "XY"]
    path = write(tmp_path, data)
    with pytest.raises(Conflict) as refused:
        init_street(sessions, path)
    assert str(path) in refused.value.message and "'XY'" in refused.value.message
    assert snapshot(sessions) == before
    # An empty grid the file leaves out is removed.
    data = example()
    data["communities"][1]["grids"] = data["communities"][1]["grids"][:1]
    result = init_street(sessions, write(tmp_path, data))
    assert [(c.action, c.what) for c in result.changes] == [
        ("removed", "building"),
        ("removed", "grid"),
    ]


def test_a_community_with_staff_is_not_removed(sessions: Sessions, tmp_path: Path) -> None:
    """A community without people but with a staff account (which the file no longer names:
    accounts are never deleted) is not removed either."""
    init_street(sessions, EXAMPLE)
    data = example()
    data["communities"] = data["communities"][:1]
    data["staff"] = [s for s in data["staff"] if s.get("community") != "XY"]
    with pytest.raises(Conflict, match="XY"):
        init_street(sessions, write(tmp_path, data))


def test_a_username_of_another_street_is_refused(
    sessions: Sessions, tmp_path: Path, world: Any
) -> None:
    """A staff username taken by an account of another street is refused, naming the field."""
    data = example()
    data["staff"][0]["username"] = "staff"  # the seeded world's street staff
    path = write(tmp_path, data)
    before = snapshot(sessions)
    with pytest.raises(Conflict) as refused:
        init_street(sessions, path)
    assert "staff[0].username" in refused.value.message and "'staff'" in refused.value.message
    assert snapshot(sessions) == before


BAD: list[tuple[str, Any, str, str]] = [  # name, change, field named, value named
    ("duplicate key", "code: a\ncode: b\n", "line 2", "'code'"),
    ("deep nesting", "x: " + "[" * 60 + "]" * 60 + "\n", "line 1", "nested more than"),
    ("not a mapping", "- 1\n- 2\n", "expected a mapping", "list"),
    (
        "wrong type",
        lambda d: d["settings"].update(order_horizon_days="thirty"),
        "settings.order_horizon_days",
        "'thirty'",
    ),
    (
        "unknown field",
        lambda d: d["communities"][1].update(password="x"),
        "communities[1].password",
        "Extra inputs",
    ),
    (
        "bad code",
        lambda d: d["communities"][1]["grids"][0].update(code="第一"),
        "communities[1].grids[0].code",
        "'第一'",
    ),
    (
        "code twice",
        lambda d: d["communities"][0]["grids"][1].update(code="G01"),
        "communities[0].grids[1].code",
        "'G01'",
    ),
    (
        "unknown community",
        lambda d: d["staff"][2].update(community="ZZ"),
        "staff[2].community",
        "'ZZ'",
    ),
    (
        "grid worker's grid not in their community",
        lambda d: d["staff"][4].update(grid="G09"),
        "staff[4].grid",
        "'G09'",
    ),
    (
        "grid of a staff account",
        lambda d: d["staff"][2].update(grid="G01"),
        "staff[2].grid",
        "'G01'",
    ),
    ("grid worker without a grid", lambda d: d["staff"][4].pop("grid"), "staff[4].grid", ""),
    ("time zone", lambda d: d.update(time_zone="Mars/Olympus"), "time_zone", "'Mars/Olympus'"),
    (
        "unknown item",
        lambda d: d["catalogue"].update(ZZ9={"enabled": False}),
        "catalogue.ZZ9",
        "'ZZ9'",
    ),
    (
        "price of a free item",
        lambda d: d["catalogue"].update(L01={"price_yuan": 5}),
        "catalogue.L01.price_yuan",
        "5",
    ),
    (
        "out of range",
        lambda d: d["catalogue"]["P15"].update(team_size=0),
        "catalogue.P15.team_size",
        "0",
    ),
    (
        "fen",
        lambda d: d["catalogue"]["P01"].update(price_yuan=1.234),
        "catalogue.P01.price_yuan",
        "1.234",
    ),
]


@pytest.mark.parametrize(("name", "change", "field", "value"), BAD, ids=[b[0] for b in BAD])
def test_bad_file_is_refused_naming_file_field_value(
    sessions: Sessions, tmp_path: Path, name: str, change: Any, field: str, value: str
) -> None:
    """Each class of bad input is refused with a message naming the file, the field (or line)
    and the value, and writes nothing (the street from an earlier run stays as it was)."""
    init_street(sessions, EXAMPLE)
    before = snapshot(sessions)
    if isinstance(change, str):
        path = write(tmp_path, change)
    else:
        data = copy.deepcopy(example())
        change(data)
        path = write(tmp_path, data)
    with pytest.raises(StreetFileError) as refused:
        init_street(sessions, path)
    message = refused.value.message
    assert str(path) in message and field in message and value in message, message
    assert snapshot(sessions) == before


def test_command_prints_passwords_once_and_exits_2_on_bad_input(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command prints the new accounts' passwords on the first run, "no changes" and no
    password on the second, and exits 2 with the file and field on a bad file."""
    monkeypatch.setenv("QUNBANG_DATABASE_URL", settings.database_url)
    from api.settings import get_settings

    get_settings.cache_clear()
    try:
        runner = CliRunner()
        first = runner.invoke(cli, ["--lang", "en", "street", "init", str(EXAMPLE)])
        assert first.exit_code == 0, first.output
        assert "created" in first.output and "qs-admin" in first.output
        second = runner.invoke(cli, ["--lang", "en", "street", "init", str(EXAMPLE)])
        assert second.exit_code == 0 and "no changes" in second.output
        assert "Passwords" not in second.output
        bad = write(tmp_path, "code: x\nname: y\ncommunities: 3\n")
        third = runner.invoke(cli, ["--lang", "en", "street", "init", str(bad)])
        assert third.exit_code == 2 and "communities" in third.output and "3" in third.output
    finally:
        get_settings.cache_clear()


def test_staff_page_shows_the_structure(
    settings: Settings, shared_engines: SharedEngines, sessions: Sessions
) -> None:
    """/s/street shows street staff the communities, grids, buildings, settings and catalogue
    settings; community staff see their own community only; a planner is sent away."""
    result = init_street(sessions, EXAMPLE)
    passwords = dict(result.passwords)
    with sessions() as session:
        admin = actor_of(
            session.scalars(select(UserRow).where(UserRow.username == "qs-admin")).one()
        )
        view = street_view(session, admin)
        assert [c.code for c in view.communities] == ["DH", "XY"]
    with TestClient(kept_engine_app(settings, shared_engines)) as client:
        client.cookies.set("qb_lang", "zh")
        login = {"username": "qs-admin", "password": passwords["qs-admin"]}
        assert client.post("/login", data=login, follow_redirects=False).status_code == 303
        page = client.get("/s/street")
        assert page.status_code == 200
        for text in (
            "青山街道",
            "东湖社区",
            "新苑社区",
            "东湖第一网格",
            "新苑小区A1栋",
            "全程陪诊",
            "80.50",
        ):
            assert text in page.text, text
        client.cookies.clear()
        client.cookies.set("qb_lang", "zh")
        login = {"username": "dh-staff", "password": passwords["dh-staff"]}
        assert client.post("/login", data=login, follow_redirects=False).status_code == 303
        page = client.get("/s/street")
        assert page.status_code == 200 and "东湖社区" in page.text and "新苑社区" not in page.text
        client.cookies.clear()
        login = {"username": "qs-planner", "password": passwords["qs-planner"]}
        assert client.post("/login", data=login, follow_redirects=False).status_code == 303
        assert client.get("/s/street", follow_redirects=False).status_code == 303


def test_people_count_on_the_page(sessions: Sessions) -> None:
    """The view counts a building's people (helpers and residents tied to it)."""
    init_street(sessions, EXAMPLE)
    with sessions() as session:
        street = session.scalars(select(Street).where(Street.code == "qingshan")).one()
        building = session.scalars(select(Building).where(Building.code == "B01")).one()
        grid = session.get_one(Grid, building.grid_id)
        session.add(
            HelperRow(
                code="QS-H1",
                street_id=street.id,
                community_id=grid.community_id,
                grid_id=grid.id,
                building_id=building.id,
                name="周师傅",
                kind="warm_hearted_resident",
                lat=40.0,
                lon=116.0,
            )
        )
        staff = add_user(session, "qs-look", "password-123", "staff", street_id=street.id)
        session.commit()
        view = street_view(session, actor_of(staff))
    dh = view.communities[0]
    assert dh.people == 1 and dh.grids[0].people == 1 and dh.grids[0].buildings[0].people == 1


def test_migration_0006_goes_down_and_up(db_url: str, sessions: Sessions) -> None:
    """Migration 0006 is reversible: down to 0005 drops its tables and columns, up again
    brings them back, and a street file loads afterwards."""
    from alembic import command
    from sqlalchemy import inspect

    from api.store.db import alembic_config

    config = alembic_config(db_url)
    command.downgrade(config, "0005")
    with sessions() as session:
        schema = inspect(session.connection())
        assert "buildings" not in schema.get_table_names()
        assert "street_items" not in schema.get_table_names()
        assert "review_orders" not in {c["name"] for c in schema.get_columns("streets")}
        assert "building_id" not in {c["name"] for c in schema.get_columns("helpers")}
    command.upgrade(config, "head")
    assert init_street(sessions, EXAMPLE).created
