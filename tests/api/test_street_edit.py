"""The street edited on its page (``/s/street``) through the rules of ``qunbang street init``,
its file downloaded, and the street's catalogue applied where items are read (ordering, the
matcher's problem and its cache, the resident's order page, the day's sheet), on SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.http.pages.render import csrf_token
from api.i18n import use_locale
from api.services.accounts.auth import add_user
from api.services.actor import Actor
from api.services.errors import BadInput, Forbidden
from api.services.ledger import street_edit
from api.services.ledger.street_catalogue import street_catalogue
from api.services.ledger.street_file import StreetFileError
from api.services.ledger.street_setup import init_street
from api.services.matching.problem import build_problem
from api.services.orders import OrderSpec, place_order
from api.settings import Settings
from api.store.tables import AuditEntry, Grid, OrderRow, ResidentRow, StreetItemRow, UserRow
from seeds import SEEDS_DIR
from tests.api.conftest import (
    PASSWORD,
    SharedEngines,
    World,
    actor_named,
    kept_engine_app,
    login,
)

Sessions = sessionmaker[Session]
EXAMPLE = SEEDS_DIR / "example-street.yaml"


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with use_locale("en"):
        yield


def web_login(client: TestClient, username: str, password: str = PASSWORD) -> None:
    client.cookies.clear()
    response = client.post(
        "/login", data={"username": username, "password": password}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    client.headers["X-CSRF-Token"] = csrf_token(client.cookies["qb_token"])
    client.cookies.set("qb_lang", "en")


def test_the_downloaded_file_sets_up_the_same_street(sessions: Sessions, tmp_path: Path) -> None:
    """The street read back as a file (the download) is the example file's street: running
    init on it changes nothing."""
    result = init_street(sessions, EXAMPLE)
    with sessions() as session:
        admin = actor_named(session, "qs-admin")
        name, text = street_edit.export_street(session, admin)
    assert name == "qingshan.yaml" and "东湖第一网格" in text
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    again = init_street(sessions, path)
    assert again.street_id == result.street_id and again.changes == []
    data = yaml.safe_load(text)
    assert data["catalogue"]["P20"] == {"duration_min": 240, "price_yuan": 80.5}
    workers = [s for s in data["staff"] if s.get("role") == "grid_worker"]
    assert workers and all(w["community"] and w["grid"] for w in workers)  # a grid worker's grid
    assert data["settings"] == yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))["settings"]


def test_edits_go_through_the_street_init_rules(sessions: Sessions) -> None:
    """Renaming a grid, adding a building, changing a setting and an item are applied and
    audited as street.edit by the editor; a code used twice is refused with the same message
    init gives (field and value), and nothing is written; community staff may not edit."""
    init_street(sessions, EXAMPLE)
    with sessions() as session:
        admin = actor_named(session, "qs-admin")
        place = street_edit.StructurePlace("dh", "g01")  # codes are found whatever their case
        done = street_edit.edit_street(session, admin, street_edit.rename_place(place, "东湖一格"))
        assert [c.field for c in done.changes] == ["name"]
        street_edit.edit_street(session, admin, street_edit.add_place(place, "B04", "4号楼"))
        street_edit.edit_street(
            session, admin, street_edit.set_settings({"order_horizon_days": 14})
        )
        values = {"enabled": True, "duration_min": None, "team_size": None, "price_yuan": 12.5}
        street_edit.edit_street(session, admin, street_edit.set_item("P02", values))
        with pytest.raises(StreetFileError) as twice:
            street_edit.edit_street(
                session,
                admin,
                street_edit.add_place(street_edit.StructurePlace("DH"), "G01", "again"),
            )
        assert "communities[0].grids[2].code" in twice.value.message
        assert "'G01'" in twice.value.message and "/s/street" in twice.value.message
        with pytest.raises(StreetFileError) as free:
            values = {**values, "price_yuan": 3.0}
            street_edit.edit_street(session, admin, street_edit.set_item("L01", values))
        assert "catalogue.L01.price_yuan" in free.value.message
        with pytest.raises(Forbidden):
            street_edit.edit_street(
                session, actor_named(session, "dh-staff"), street_edit.set_names("x", "UTC")
            )
    with sessions() as session:
        names = [g.name for g in session.scalars(select(Grid))]
        assert "东湖一格" in names and "again" not in names
        own = session.get_one(StreetItemRow, (done.street_id, "P02"))
        assert own.price_fen == 1250
        admin_id = session.scalars(select(UserRow.id).where(UserRow.username == "qs-admin")).one()
        edits = session.scalars(select(AuditEntry).where(AuditEntry.action == "street.edit")).all()
        assert len(edits) == 4 and {e.user_id for e in edits} == {admin_id}


def test_settings_form_follows_the_settings_model() -> None:
    """Every field of the settings model has a form field of its type and bounds; a form's
    text becomes the model's types (a missing check box: off; not a number: refused)."""
    from api.services.ledger.street_file import SettingsEntry

    fields = street_edit.setting_fields(
        street_edit.StreetFile.model_validate(
            {"code": "s", "name": "S", "communities": [{"code": "c", "name": "C"}]}
        )
    )
    assert [f.name for f in fields] == list(SettingsEntry.model_fields)
    horizon = next(f for f in fields if f.name == "order_horizon_days")
    assert (horizon.kind, horizon.low, horizon.high) == ("number", 1, 366)
    values = street_edit.settings_from_form({"order_horizon_days": "7"})
    assert values["order_horizon_days"] == 7 and values["review_orders"] is False
    with pytest.raises(BadInput):
        street_edit.settings_from_form({"order_horizon_days": "seven"})
    kinds = {  # a setting added to the model later comes to the page by its type
        bool: "check",
        int: "number",
        float | None: "decimal",
        str: "text",
        list[str]: "list",
        dict[str, int]: "fixed",
    }
    assert {t: street_edit._kind(t) for t in kinds} == kinds


def test_page_edits_and_download(
    settings: Settings, shared_engines: SharedEngines, sessions: Sessions
) -> None:
    """Street staff rename a grid, disable an item and set a price on the page, add a staff
    account (its password shown once) and download the file; community staff see no forms
    and may not download."""
    result = init_street(sessions, EXAMPLE)
    passwords = dict(result.passwords)
    with TestClient(kept_engine_app(settings, shared_engines)) as client:
        web_login(client, "qs-admin", passwords["qs-admin"])
        page = client.get("/s/street").text
        assert 'action="/s/street/items"' in page and "/s/street.yaml" in page
        form = {"community": "DH", "grid": "G02", "name": "东湖二格"}
        renamed = client.post("/s/street/places/rename", data=form)
        assert renamed.status_code == 200 and "东湖二格" in renamed.text
        client.post("/s/street/items", data={"code": "P01", "price_yuan": "35.5", "enabled": "1"})
        client.post("/s/street/items", data={"code": "S01"})  # the box unticked: disabled
        added = client.post("/s/street/staff", data={"username": "new-staff", "community": "XY"})
        assert "new-staff" in added.text and 'class="password"' in added.text
        download = client.get("/s/street.yaml")
        assert download.status_code == 200
        data = yaml.safe_load(download.text)
        assert data["catalogue"]["P01"] == {"price_yuan": 35.5}
        assert data["catalogue"]["S01"] == {"enabled": False}
        web_login(client, "dh-staff", passwords["dh-staff"])
        page = client.get("/s/street").text
        assert 'action="/s/street/items"' not in page and "东湖社区" in page
        refused = client.get("/s/street.yaml")
        assert "street-wide staff" in refused.text and "code: qingshan" not in refused.text
        refused = client.post("/s/street/names", data={"name": "x", "time_zone": "UTC"})
        assert "street-wide staff" in refused.text
    with sessions() as session:
        catalogue = street_catalogue(session, result.street_id)
        assert not catalogue.item("S01").active and catalogue.item("P01").price_fen == 3550


def _first_resident(session: Session, world: World) -> ResidentRow:
    return session.scalars(
        select(ResidentRow).where(ResidentRow.street_id == world.street_id).order_by(ResidentRow.id)
    ).first()  # type: ignore[return-value]


def test_the_streets_catalogue_is_what_ordering_and_matching_read(
    sessions: Sessions, settings: Settings, world: World
) -> None:
    """A disabled item cannot be ordered (a clear error) and is not orderable; a street's
    duration and team size reach the matcher's problem at once (the kept problem parts are
    refreshed by the catalogue's stamp); another street keeps the shipped values."""
    with sessions() as session:
        staff = actor_named(session, "staff")
        resident = _first_resident(session, world)
        order = session.scalars(
            select(OrderRow).where(OrderRow.street_id == world.street_id)
        ).first()
        assert order is not None
        shipped = street_catalogue(session, world.street_id).item(order.item)
        before = build_problem(session, world.street_id, order.date, [order])
        assert before.problem.catalogue.item(order.item).duration_min == shipped.duration_min
        shorter = shipped.duration_min - 5
        values = {"enabled": False, "duration_min": shorter, "team_size": 2, "price_yuan": None}
        street_edit.edit_street(session, staff, street_edit.set_item(order.item, values))
        after = build_problem(session, world.street_id, order.date, [order])
        item = after.problem.catalogue.item(order.item)
        assert (item.duration_min, item.team_size) == (shorter, 2)
        timed = session.scalars(
            select(OrderRow).where(
                OrderRow.street_id == world.street_id, OrderRow.window_end.is_not(None)
            )
        ).first()
        assert timed is not None and timed.window_start is not None and timed.window_end
        longer = {"duration_min": timed.window_end - timed.window_start + 1}
        with pytest.raises(StreetFileError) as too_long:  # the matcher would refuse its window
            street_edit.edit_street(session, staff, street_edit.set_item(timed.item, longer))
        assert f"catalogue.{timed.item}.duration_min" in too_long.value.message
        assert order.item not in {
            i.code for i in street_catalogue(session, world.street_id).orderable()
        }
        with pytest.raises(BadInput) as refused:
            spec = OrderSpec(item=order.item, date=order.date, resident_id=resident.id)
            place_order(session, settings, staff, spec)
        assert "not offered in this street" in refused.value.message
        assert street_catalogue(session, -1).item(order.item).duration_min == shipped.duration_min
        # the order placed before stays matchable, back to the shipped values for the checker
        street_edit.edit_street(session, staff, street_edit.set_item(order.item, {"enabled": True}))


def test_a_price_shows_on_the_order_page_and_the_residents_orders(
    client: TestClient, sessions: Sessions, settings: Settings, world: World
) -> None:
    """A paid item's street price is shown in yuan on /r/order, on the resident's order and
    in the day's sheet."""
    with sessions() as session:
        staff: Actor = actor_named(session, "staff")
        values = {"enabled": True, "price_yuan": 42.0}
        street_edit.edit_street(session, staff, street_edit.set_item("P01", values))
        resident = _first_resident(session, world)
        add_user(session, "resident-price", PASSWORD, "resident", resident_id=resident.id)
        session.commit()
    web_login(client, "resident-price")
    page = client.get("/r/order").text
    assert 'House cleaning <span class="price">(42.00 yuan)</span>' in page
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    placed = client.post(
        "/r/order", data={"item": "P01", "date": tomorrow.isoformat(), "window": "any", "note": ""}
    )
    assert placed.status_code == 200, placed.text
    assert "Price: 42.00 yuan" in client.get("/r/").text
    client.cookies.clear()
    sheet = client.get(
        "/exports/assignments",
        headers=login(client, "staff"),
        params={"date": tomorrow.isoformat(), "format": "csv"},
    )
    rows = [line.split(",") for line in sheet.content.decode("utf-8-sig").splitlines()]
    assert rows[0][-1] == "Price (yuan)" or rows[0][-1] == "价格（元）"
    assert [row[-1] for row in rows[1:] if row[-1]] == ["42.0"]  # the paid order, priced
