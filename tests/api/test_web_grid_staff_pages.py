"""Two pages through the HTTP client, on SQLite and PostgreSQL: a grid worker's list of the
management-type people of their grid (/g/managed: theirs only, with their details; nobody
else's page), and the street page naming each grid worker's grid and flagging a grid worker
who has none (/s/street), so staff can give them one; a street file that would take a grid
worker's grid away is refused; a grid worker reads their messages (/g/inbox), and so does a
family account (/r/inbox)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from api.i18n import use_locale
from api.services.accounts.auth import add_user
from api.services.actor import actor_of
from api.services.errors import Conflict
from api.services.intake import review
from api.services.ledger import managed
from api.services.ledger.models import ManagedIn
from api.services.ledger.street_setup import init_street
from api.services.offers.assign import local_today
from api.services.orders import OrderSpec, place_order
from api.settings import Settings
from api.store.tables import FamilyLinkRow, Grid, ResidentRow, Street, UserRow
from seeds import SEEDS_DIR
from tests.api.conftest import World, actor_named
from tests.api.test_web_resident import as_user

Sessions = sessionmaker[Session]
EXAMPLE = SEEDS_DIR / "example-street.yaml"


def _two_grids(sessions: Sessions, world: World) -> tuple[Grid, Grid]:
    """Two grids of the first community (the world's generator gives each community some)."""
    with sessions() as session:
        grids = session.scalars(
            select(Grid).where(Grid.community_id == world.communities[0]).order_by(Grid.id)
        ).all()
        assert len(grids) >= 2, "the world's first community has two grids"
        return grids[0], grids[1]


def test_a_grid_worker_sees_the_management_type_people_of_their_grid(
    client: TestClient, sessions: Sessions, world: World
) -> None:
    """/g/managed lists the people of the grid worker's own grid with their phone, address
    and why they are looked after, and nobody of the next grid; staff and residents are sent
    to their own pages; the page is in the grid worker's menu."""
    mine, other = _two_grids(sessions, world)
    with sessions() as session:
        staff = actor_named(session, "staff")
        for code, name, grid, note in (("M-1", "郑某", mine, "社区矫正，每月走访"),
                                       ("M-2", "冯某", other, "信访重点")):  # fmt: skip
            spec = ManagedIn(code=code, name=name, community_id=grid.community_id,
                             grid_id=grid.id, phone="13500000001", address="东湖1号楼",
                             note=note)  # fmt: skip
            managed.add_managed(session, staff, spec)
        add_user(session, "gw", "correct-horse-9", "grid_worker", street_id=world.street_id,
                 community_id=mine.community_id, grid_id=mine.id)  # fmt: skip
        session.commit()
    as_user(client, "gw")
    page = client.get("/g/managed")
    assert page.status_code == 200
    assert 'id="managed-M-1"' in page.text and "社区矫正，每月走访" in page.text
    assert "13500000001" in page.text and "东湖1号楼" in page.text
    assert "冯某" not in page.text and "信访重点" not in page.text
    assert 'href="/g/managed"' in client.get("/g/").text
    as_user(client, "staff")
    assert client.get("/g/managed", follow_redirects=False).headers["location"] == "/s/"
    assert client.get("/s/managed").status_code == 200  # staff keep their own list


def test_the_street_page_flags_a_grid_worker_without_a_grid(
    client: TestClient, sessions: Sessions, world: World
) -> None:
    """/s/street names a grid worker's grid; one whose account has no grid (left over from
    before grids, or a hand-made account) is marked 未分配网格 and counted in a warning; with
    none left, the warning is gone."""
    mine, _other = _two_grids(sessions, world)
    with sessions() as session:
        add_user(session, "gw", "correct-horse-9", "grid_worker", street_id=world.street_id,
                 community_id=mine.community_id, grid_id=mine.id)  # fmt: skip
        loose = add_user(session, "gw-loose", "correct-horse-9", "grid_worker",
                         street_id=world.street_id, community_id=mine.community_id,
                         grid_id=mine.id)  # fmt: skip
        loose.grid_id = None  # add_user refuses it: as an account made before grids existed
        session.commit()
        loose_id = loose.id
    as_user(client, "staff")
    page = client.get("/s/street").text
    row = page[page.index('id="account-gw"') :].split("</tr>")[0]
    assert mine.name in row and "未分配网格" not in row
    loose_row = page[page.index('id="account-gw-loose"') :].split("</tr>")[0]
    assert "未分配网格" in loose_row
    assert 'id="grid-workers-without-grid"' in page and "1 名网格员未分配网格" in page
    with sessions() as session:
        session.get_one(UserRow, loose_id).grid_id = mine.id
        session.commit()
    page = client.get("/s/street").text
    assert "未分配网格" not in page and 'id="grid-workers-without-grid"' not in page


def test_a_grid_its_grid_worker_belongs_to_is_not_removed(
    sessions: Sessions, tmp_path: Path
) -> None:
    """A street file that drops a grid (and its grid worker's entry) is refused naming the
    account that still belongs to the grid, as for people, and changes nothing: the grid
    worker keeps their grid (it used to fail on the database's foreign key instead)."""
    init_street(sessions, EXAMPLE)
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    east = data["communities"][0]
    east["grids"] = [g for g in east["grids"] if g["code"] != "G01"]
    data["staff"] = [s for s in data["staff"] if s.get("grid") != "G01"]
    edited = tmp_path / "street.yaml"
    edited.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with use_locale("en"), pytest.raises(Conflict) as refused:
        init_street(sessions, edited)
    assert "'DH/G01'" in refused.value.message and "1 staff accounts" in refused.value.message
    with sessions() as session:
        worker = session.scalars(select(UserRow).where(UserRow.username == "dh-g01")).one()
        assert worker.grid_id is not None and session.get(Grid, worker.grid_id) is not None


def test_a_grid_worker_reads_what_became_of_the_orders_they_entered(
    client: TestClient, sessions: Sessions, settings: Settings, world: World
) -> None:
    """An order the grid worker entered and staff rejected with a reason: /g/inbox tells them,
    with the reason, in their language; another account's messages are not there."""
    mine, _other = _two_grids(sessions, world)
    with sessions() as session:
        worker = add_user(session, "gw", "correct-horse-9", "grid_worker",
                          street_id=world.street_id, community_id=mine.community_id,
                          grid_id=mine.id)  # fmt: skip
        resident = session.scalars(
            select(ResidentRow).where(ResidentRow.grid_id == mine.id).order_by(ResidentRow.id)
        ).first()
        assert resident is not None
        session.execute(update(Street).values(review_orders=True))
        session.commit()
        day = local_today(settings) + dt.timedelta(days=1)
        spec = OrderSpec(item="L01", date=day, resident_id=resident.id)
        placed = place_order(session, settings, actor_of(worker), spec)
        review.reject_order(session, actor_named(session, "staff"), placed.id, "本周已排满")
    as_user(client, "gw")
    page = client.get("/g/inbox")
    assert page.status_code == 200
    assert page.text.count('class="card message') == 1 and "本周已排满" in page.text
    assert 'href="/g/inbox"' in client.get("/g/").text
    as_user(client, "gw", lang="en")
    assert "本周已排满" in client.get("/g/inbox").text  # the reason, as staff wrote it


def test_a_family_account_reads_its_messages(
    client: TestClient, sessions: Sessions, world: World
) -> None:
    """A family account with an approved link opens /r/inbox (it used to be sent to
    /r/family: the inbox did not ask which resident the account acts for)."""
    with sessions() as session:
        resident = session.scalars(select(ResidentRow).order_by(ResidentRow.id)).first()
        assert resident is not None
        daughter = add_user(session, "daughter", "correct-horse-9", "family",
                            street_id=world.street_id)  # fmt: skip
        session.add(FamilyLinkRow(user_id=daughter.id, resident_id=resident.id,
                                  relation="女儿", status="approved"))  # fmt: skip
        session.commit()
    as_user(client, "daughter")
    page = client.get("/r/inbox", follow_redirects=False)
    assert page.status_code == 200 and 'aria-current="page"' in page.text
