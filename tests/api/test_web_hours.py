"""The hours pages through the HTTP client: check-in (with a shared position) and check-out on
the volunteer's home page, my record and the certificate download, my time (pause, leave,
weekday hours), and for staff the order page's check-in part with its correction, a helper's
hours with the printed certificate, the honour roll and its spreadsheet."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.services.closing.visits import confirm_done
from api.services.ledger.sheets import read_rows
from api.services.offers.answers import mark_done
from api.services.offers.assign import create_assignment, local_today
from api.settings import Settings
from api.store.tables import HelperRow, HoursEntry, VisitClockRow
from tests.api.conftest import World
from tests.api.test_orders import HAND_PICKED, actor_for, first_resident, new_order
from tests.api.test_web_staff import web_login


def visit_today(
    sessions: sessionmaker[Session], settings: Settings, world: World
) -> tuple[int, int]:
    """helper1's accepted visit today (street time) at 09:00: (order id, assignment id)."""
    today = local_today(settings)
    with sessions() as session:
        order = new_order(session, settings, first_resident(session, world).id, "L01", today)
        team = world.helper_ids[:1]
        assignment = create_assignment(session, settings, order, team, source="manual",
                                       start_minute=540, accepted=team)  # fmt: skip
        assignment.override_reason = HAND_PICKED
        session.commit()
        return order.id, assignment.id


def test_a_volunteer_checks_in_and_out_and_downloads_the_certificate(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """The home card offers check-in (the position box hidden until the script finds the
    phone offers one); a shared position is kept, an unshared one is not; once staff confirm,
    my record shows the hours and the certificate downloads as a PDF."""
    order_id, assignment_id = visit_today(sessions, settings, world)
    web_login(client, "helper1")
    home = client.get("/v/")
    assert (
        f"/v/assignments/{assignment_id}/check-in" in home.text and "data-geo hidden" in home.text
    )
    form = {"share_position": "on", "lat": "31.23", "lon": "121.47", "accuracy": "12"}
    answer = client.post(f"/v/assignments/{assignment_id}/check-in", data=form)
    assert answer.status_code == 200 and "err=" not in str(answer.url)
    assert f"/v/assignments/{assignment_id}/check-out" in answer.text
    client.post(f"/v/assignments/{assignment_id}/check-out", data={"lat": "1", "lon": "2"})
    with sessions() as session:
        clock = session.scalars(select(VisitClockRow)).one()
        assert (clock.in_lat, clock.in_lon, clock.out_lat) == (31.23, 121.47, None)
        mark_done(session, settings, world.helper_ids[0], assignment_id)
        confirm_done(session, settings, actor_for(session, "staff"), order_id)
        minutes = session.scalars(select(HoursEntry.minutes)).one()
    record = client.get("/v/hours")
    assert record.status_code == 200 and 'id="certificate"' in record.text
    today = local_today(settings).isoformat()
    pdf = client.get(f"/v/certificate.pdf?first={today}&last={today}")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert minutes >= 0
    refused = client.get("/v/certificate.pdf?first=2030-01-01&last=2020-01-01")
    assert refused.status_code == 200 and "/v/hours" in str(refused.url)


def test_my_time_page_pauses_takes_leave_and_sets_weekday_hours(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """Pause, a leave day and weekday hours are saved from the page and shown on it."""
    web_login(client, "helper1")
    assert client.get("/v/time").status_code == 200
    paused = client.post("/v/time/pause")
    assert 'id="paused"' in paused.text
    leave = (local_today(settings) + dt.timedelta(days=10)).isoformat()
    client.post("/v/time/leave", data={"first": leave})
    week = client.post("/v/time/week", data={"day0": "08:00-12:00", "day6": "-"})
    assert "err=" not in str(week.url) and 'value="08:00-12:00"' in week.text
    with sessions() as session:
        helper = session.get_one(HelperRow, world.helper_ids[0])
        assert helper.leave_dates == [leave] and helper.paused_until is not None
        assert helper.week_hours is not None
        assert helper.week_hours[0] == [[480, 720]] and helper.week_hours[6] == []
    bad = client.post("/v/time/week", data={"day0": "nine to five"})
    assert "err=" in str(bad.url)


def test_staff_correct_a_clock_and_read_hours_honour_roll_and_certificate(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, world: World
) -> None:
    """The order page lists the member's check-in with a correction form; a correction after
    confirmation shows on the helper's hours page; the honour roll ranks them and downloads as
    a spreadsheet; the certificate prints as a PDF; volunteers are sent away from staff pages."""
    order_id, assignment_id = visit_today(sessions, settings, world)
    with sessions() as session:
        mark_done(session, settings, world.helper_ids[0], assignment_id)
        confirm_done(session, settings, actor_for(session, "staff"), order_id)
    web_login(client, "staff")
    order = client.get(f"/s/orders/{order_id}")
    assert f"/s/orders/{order_id}/clock/{world.helper_ids[0]}" in order.text
    data = {"in_time": "09:00", "out_time": "11:30", "reason": "补签"}
    corrected = client.post(f"/s/orders/{order_id}/clock/{world.helper_ids[0]}", data=data)
    assert "err=" not in str(corrected.url)
    helper = world.helper_ids[0]
    hours = client.get(f"/s/helpers/{helper}/hours")
    assert hours.status_code == 200 and 'id="total-hours">2.5<' in hours.text
    roll = client.get("/s/honour")
    assert f'id="honour-{helper}"' in roll.text
    sheet = client.get("/s/honour.xlsx")
    book = load_workbook(io.BytesIO(sheet.content)).active
    assert book is not None and all(cell.font.b for cell in book[1])  # a bold header row
    rows = [cells for _, cells in read_rows(sheet.content)]  # as an office's sheet is read
    assert rows[1][5] == "2.5" and book.cell(2, 6).value == 2.5  # a number, not a text
    listed = client.get("/s/honour.csv")  # the same rows as CSV, Excel's UTF-8 with a BOM
    assert (
        listed.content.startswith(codecs.BOM_UTF8) and "text/csv" in listed.headers["content-type"]
    )
    lines = list(csv.reader(io.StringIO(listed.content.decode("utf-8-sig"))))
    assert [line[:3] for line in lines[1:]] == [row[:3] for row in rows[1:]]
    assert float(lines[1][5]) == 2.5
    pdf = client.get(f"/s/helpers/{helper}/certificate.pdf")
    assert pdf.content.startswith(b"%PDF")
    web_login(client, "helper1")
    assert client.get("/s/honour", follow_redirects=False).status_code == 303
