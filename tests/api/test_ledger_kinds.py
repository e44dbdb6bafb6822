"""The ledger's places and kinds, on SQLite and PostgreSQL: people belong to a community, a
grid and a building (imports resolve the codes in any case and name the row, column and value
of a bad one); management-type people (管理型) are kept, imported and shown to staff of their
scope only (planners see counts, helpers nothing); a resident and a helper may be the same
person (linked on the page and by import, shown on both pages)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.http.pages.render import csrf_token
from api.i18n import use_locale
from api.services.errors import Conflict
from api.services.ledger import managed
from api.services.ledger.import_rows import ImportRejected
from api.services.ledger.imports import import_file
from api.services.ledger.models import ManagedIn
from api.store.tables import (
    Building,
    Community,
    Grid,
    HelperRow,
    ManagedPersonRow,
    ResidentRow,
)
from tests.api.conftest import PASSWORD, World, actor_named

Sessions = sessionmaker[Session]


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with use_locale("en"):
        yield


def _places(sessions: Sessions, world: World) -> tuple[Community, Grid, Building, Community]:
    """The first community and grid of the world with a building B7 added, and another
    community."""
    with sessions() as session:
        communities = [session.get_one(Community, c) for c in world.communities]
        grid = session.scalars(
            select(Grid).where(Grid.community_id == communities[0].id).order_by(Grid.id)
        ).first()
        assert grid is not None
        building = Building(grid_id=grid.id, code="B7", name="7号楼")
        session.add(building)
        other = communities[1] if len(communities) > 1 else communities[0]
        session.commit()
        return communities[0], grid, building, other


def csv(*lines: str) -> bytes:
    return "\r\n".join(lines).encode("utf-8")


def test_imports_resolve_building_codes_and_name_a_bad_one(
    sessions: Sessions, world: World
) -> None:
    """A building column is resolved within the row's grid by code or name in any case; an
    unknown building is refused naming the row, the column as written and the value."""
    community, grid, building, _other = _places(sessions, world)
    header = "编号,姓名,社区,网格,楼栋,电话,纬度,经度,类型,技能"
    row = f"{community.code.lower()},{grid.code.lower()},b7,13800000000,40.84,111.75,党员,陪伴聊天"
    with sessions() as session:
        staff = actor_named(session, "staff")
        import_file(session, staff, "helpers", csv(header, f"K-1,甲,{row}"), "h.csv")
        helper = session.scalars(select(HelperRow).where(HelperRow.code == "K-1")).one()
        assert (helper.grid_id, helper.building_id) == (grid.id, building.id)
        bad = row.replace(",b7,", ",no-such,")
        with pytest.raises(ImportRejected) as refused:
            import_file(session, staff, "helpers", csv(header, f"K-2,乙,{bad}"), "h.csv")
    [error] = refused.value.errors
    assert (error.row, error.column) == (2, "楼栋") and "no-such" in error.reason
    assert refused.value.message.startswith("h.csv")


def test_management_type_people_are_seen_by_their_staff_only(
    sessions: Sessions, world: World
) -> None:
    """Imported and added management-type people are listed for street staff, for community
    staff only in their community; a planner and a helper see nobody (a planner sees counts);
    they never enter the residents or helpers."""
    community, grid, building, other = _places(sessions, world)
    header = "编号,姓名,社区,网格,楼栋,电话,住址,关注原因"
    rows = [f"M-1,丙,{community.name},{grid.name},{building.code},,,独居"]
    with sessions() as session:
        staff = actor_named(session, "staff")
        report = import_file(session, staff, "managed", csv(header, *rows), "m.csv")
        assert report.inserted == 1
        spec = ManagedIn(code="M-2", name="丁", community_id=other.id)
        managed.add_managed(session, staff, spec)
        street_codes = {p.code for p in managed.list_managed(session, staff)}
        assert street_codes == {"M-1", "M-2"}
        own = {p.code for p in managed.list_managed(session, actor_named(session, "staff_c1"))}
        assert own == ({"M-1", "M-2"} if other.id == community.id else {"M-1"})
        planner = actor_named(session, "planner")
        assert managed.list_managed(session, planner) == []
        assert sum(managed.managed_counts(session, planner).values()) == 2
        assert managed.list_managed(session, actor_named(session, "helper1")) == []
        person = session.scalars(
            select(ManagedPersonRow).where(ManagedPersonRow.code == "M-1")
        ).one()
        assert person.building_id == building.id and person.note == "独居"
        names = {r.name for r in session.scalars(select(ResidentRow))} | {
            h.name for h in session.scalars(select(HelperRow))
        }
        assert "丙" not in names and "丁" not in names


def test_pages_show_management_type_people_to_staff_and_counts_to_planners(
    client: TestClient, sessions: Sessions, world: World
) -> None:
    """/s/managed lists the people to staff and adds one; a planner sees the counts but no
    name; a helper is sent to their own pages."""
    community, _grid, _building, _other = _places(sessions, world)
    with sessions() as session:
        spec = ManagedIn(code="M-9", name="戊某", community_id=community.id, note="重点关注")
        managed.add_managed(session, actor_named(session, "staff"), spec)

    def login(username: str) -> None:
        client.cookies.clear()
        data = {"username": username, "password": PASSWORD}
        assert client.post("/login", data=data, follow_redirects=False).status_code == 303
        client.headers["X-CSRF-Token"] = csrf_token(client.cookies["qb_token"])

    login("staff")
    page = client.get("/s/managed").text
    assert "戊某" in page and "重点关注" in page
    added = client.post(
        "/s/managed", data={"code": "M-10", "name": "己某", "place": str(community.id)}
    )
    assert "己某" in added.text
    assert "/s/import/managed" in page and client.get("/s/import/managed").status_code == 200
    form = {"code": "M-11", "name": "庚某", "place": str(community.id), "phone": "call me"}
    refused = client.post("/s/managed", data=form).text
    assert (
        "电话：填写有误" in refused or "Phone: invalid value" in refused
    ) and "庚某" not in refused
    login("planner")
    page = client.get("/s/managed")
    assert page.status_code == 200 and "戊某" not in page.text and "己某" not in page.text
    login("helper1")
    assert client.get("/s/managed", follow_redirects=False).status_code == 303


def test_a_resident_and_a_helper_may_be_the_same_person(
    client: TestClient, sessions: Sessions, world: World
) -> None:
    """A resident import's helper column links the same person's records (any case); a helper
    linked to one resident is refused for another (by import and on the page); both staff
    pages show the link."""
    with sessions() as session:
        residents = session.scalars(
            select(ResidentRow)
            .where(ResidentRow.street_id == world.street_id)
            .order_by(ResidentRow.id)
        ).all()
        helper = session.get_one(HelperRow, world.helper_ids[0])
        first, second = residents[0], residents[1]
        staff = actor_named(session, "staff")
        header = "编号,姓名,社区,纬度,经度,人员类别,同为志愿者(编号)"

        def row(r: ResidentRow, code: str) -> str:
            return f"{r.code},{r.name},{r.community.name},{r.lat},{r.lon},{r.category},{code}"

        import_file(session, staff, "residents", csv(header, row(first, helper.code.lower())))
        session.refresh(first)
        assert first.helper_id == helper.id
        with pytest.raises(ImportRejected) as refused:
            import_file(session, staff, "residents", csv(header, row(second, helper.code)))
        assert "already the same person" in refused.value.errors[0].reason
        with pytest.raises(Conflict):
            managed.link_same_person(session, staff, second.id, helper.code)
        first_id, helper_id, helper_code = first.id, helper.id, helper.code
    client.cookies.clear()
    data = {"username": "staff", "password": PASSWORD}
    assert client.post("/login", data=data, follow_redirects=False).status_code == 303
    assert helper_code in client.get(f"/s/residents/{first_id}").text
    assert f"/s/residents/{first_id}" in client.get(f"/s/helpers/{helper_id}").text


def test_migration_0009_goes_down_and_up(db_url: str, sessions: Sessions) -> None:
    """Migration 0009 is reversible: down to 0007 drops the management-type table and the
    same-person column, up again brings them back."""
    from alembic import command
    from sqlalchemy import inspect

    from api.store.db import alembic_config

    config = alembic_config(db_url)
    command.downgrade(config, "0007")
    with sessions() as session:
        schema = inspect(session.connection())
        assert "managed_people" not in schema.get_table_names()
        assert "helper_id" not in {c["name"] for c in schema.get_columns("residents")}
    command.upgrade(config, "head")
    with sessions() as session:
        schema = inspect(session.connection())
        assert "managed_people" in schema.get_table_names()
        assert "helper_id" in {c["name"] for c in schema.get_columns("residents")}
