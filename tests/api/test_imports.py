"""Ledger import and export: office files in CSV (UTF-8, GB18030) and XLSX, every bad row
reported and nothing imported, upserts by ledger code, exports that re-import unchanged, and the
day's assignment sheet."""

from __future__ import annotations

import codecs
import io
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.services.assign import create_assignment
from api.services.exports import SHEET_HEADERS
from api.services.import_columns import HELPER_COLUMNS, RESIDENT_COLUMNS
from api.services.imports import ImportRejected, import_file
from api.settings import Settings
from api.store.tables import AuditEntry, Grid, HelperRow, OrderRow, ResidentRow, UserRow
from tests.api.conftest import DATE, World, login
from tests.api.test_ledger import Other, add_community
from tests.api.test_orders import HAND_PICKED

DATA = Path(__file__).parent.parent / "data"
HEADER = "编号,姓名,社区,网格,电话,纬度,经度,类型,技能,每日最多单数,可服务时段"
GOOD_ROW = "T-1,好人,青山社区,第1网格,13800000000,40.84,111.75,党员,陪伴聊天,2,08:00-12:00"


@pytest.fixture
def other(sessions: sessionmaker[Session], world: World) -> Other:
    return add_community(sessions, world.street_id)


def upload(
    client: TestClient,
    kind: str,
    content: bytes,
    filename: str = "台账.csv",
    user: str = "staff",
) -> Any:
    files = {"file": (filename, content, "application/octet-stream")}
    return client.post(f"/imports/{kind}", headers=login(client, user), files=files)


def csv_bytes(*lines: str) -> bytes:
    return "\r\n".join(lines).encode("utf-8")


def count(sessions: sessionmaker[Session], table: type[HelperRow] | type[ResidentRow]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def helper(sessions: sessionmaker[Session], code: str) -> HelperRow:
    with sessions() as session:
        return session.scalars(select(HelperRow).where(HelperRow.code == code)).one()


def grid_name(sessions: sessionmaker[Session], grid_id: int | None) -> str | None:
    with sessions() as session:
        return session.get_one(Grid, grid_id).name if grid_id is not None else None


# ----------------------------------------------------------------------------- good files


def test_good_csv_inserts_new_codes_and_updates_known_ones(
    client: TestClient, sessions: sessionmaker[Session], world: World
) -> None:
    """An office CSV (UTF-8 with BOM, Chinese labels, 、/，/space lists, full-width headers)
    inserts two helpers, updates the one whose code exists, and names the column it ignored."""
    response = upload(client, "helpers", (DATA / "ledger_helpers.csv").read_bytes())
    assert response.status_code == 200, response.text
    assert response.json() == {"inserted": 2, "updated": 1, "ignored_columns": ["备注"]}
    doctor = helper(sessions, "T-H01")
    assert (doctor.kind, doctor.gender, doctor.radius_km) == ("doctor", "female", 5.0)
    assert doctor.skills == ["blood_pressure_check", "physician"]
    assert doctor.availability == [[480, 690], [840, 1020]]
    assert grid_name(sessions, doctor.grid_id) == "第1网格"
    fixer = helper(sessions, "T-H02")  # community and grid given by code
    assert fixer.skills == ["electrical", "minor_repairs"] and fixer.languages == ["zh", "mn"]
    assert fixer.availability == [[0, 1440]] and grid_name(sessions, fixer.grid_id) == "第2网格"
    known = helper(sessions, "H0002")
    assert known.availability == [[510, 720]] and known.address == "青山社区第3网格13号楼"
    assert count(sessions, HelperRow) == 32
    with sessions() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "helper.import")
        ).one()
        assert entry.detail == {"filename": "台账.csv", "inserted": 2, "updated": 1}


def test_gb18030_csv_through_the_service_function(
    sessions: sessionmaker[Session], world: World
) -> None:
    """A GB18030 file (as Chinese Excel saves CSV) imports through ``import_file`` given a path
    and a user id; Excel's dropped leading zero of an ID-card tail is put back."""
    with sessions() as session:
        staff = session.scalars(select(UserRow.id).where(UserRow.username == "staff")).one()
        report = import_file(session, staff, "residents", DATA / "ledger_residents_gb18030.csv")
    assert (report.inserted, report.updated) == (2, 0)
    with sessions() as session:
        rows = {
            r.code: r
            for r in session.scalars(select(ResidentRow).where(ResidentRow.code.like("T-%")))
        }
    alone, bereaved = rows["T-R01"], rows["T-R02"]
    assert (alone.name, alone.id_card_tail, alone.phone) == ("张奶奶", "0123", "0471-6660001")
    assert (alone.category, alone.priority_weight, alone.preferred_gender) == (
        "living_alone",
        2.0,
        "female",
    )
    assert alone.circle == ["H0001", "H0002"] and alone.language == "zh"
    assert (bereaved.category, bereaved.id_card_tail) == ("lost_only_child", "456X")
    assert (bereaved.language, bereaved.preferred_gender) == ("mn", None)


def test_xlsx_with_a_title_row_and_numeric_cells(
    client: TestClient, sessions: sessionmaker[Session], world: World
) -> None:
    """An XLSX whose first row is a title, with English headers and numbers where Excel keeps
    them (codes, phones, coordinates), imports with the row numbers the office sees."""
    book = Workbook()
    sheet = book.active
    sheet.append(["青山社区志愿者台账（2026年）"])
    sheet.append([])
    sheet.append(["Code", "Name", "Community", "Phone", "Latitude", "Longitude", "Kind", "Skills"])
    sheet.append([1001, "赵老师", "青山社区", 13800001001, 40.8401, 111.7401, "教师", "tutoring"])
    sheet.append(
        [1002, "钱大夫", "青山社区", 13800001002, 40.8402, 111.7402, "doctor", "physician"]
    )
    data = io.BytesIO()
    book.save(data)
    response = upload(client, "helpers", data.getvalue(), "台账.xlsx")
    assert response.json() == {"inserted": 2, "updated": 0, "ignored_columns": []}
    teacher = helper(sessions, "1001")
    assert (teacher.phone, teacher.kind, teacher.skills) == ("13800001001", "teacher", ["tutoring"])
    assert teacher.grid_id is None and teacher.radius_km == 3.0  # defaults for absent columns
    sheet.cell(row=5, column=5, value="north")  # a bad latitude in spreadsheet row 5
    data = io.BytesIO()
    book.save(data)
    errors = upload(client, "helpers", data.getvalue(), "台账.xlsx").json()["errors"]
    assert [(e["row"], e["column"]) for e in errors] == [(5, "Latitude")]


# ----------------------------------------------------------------------------- bad files


def test_every_bad_row_is_reported_and_nothing_is_imported(
    client: TestClient, sessions: sessionmaker[Session], world: World
) -> None:
    """Each bad cell comes back as (spreadsheet row, header as written, zh / en reason), all
    of a row's problems together; the good row is not imported either."""
    before = count(sessions, HelperRow)
    content = csv_bytes(
        HEADER,
        GOOD_ROW,
        "T-2,甲,火星社区,第1网格,13800000000,40.84,111.75,党员,陪伴聊天,2,08:00-12:00",
        "T-3,乙,青山社区,第1网格,13800000000,北纬40,111.75,党员,陪伴聊天,2,08:00-12:00",
        "T-4,丙,青山社区,第1网格,13800000000,40.84,111.75,厨师,陪伴聊天,2,8点到9点",
        "T-5,丁,青山社区,第9网格,13800000000,40.84,111.75,党员,杂技,2,08:00-12:00",
        "T-6,戊,青山社区,第1网格,13800000000,40.84,111.75,党员,陪伴聊天,100,08:00-12:00",
        "T-7,,青山社区,第1网格,1380000x000,95,111.75,党员,陪伴聊天,2,08:00-12:00",
    )
    response = upload(client, "helpers", content)
    assert response.status_code == 422
    body = response.json()
    found = [(e["row"], e["column"]) for e in body["errors"]]
    assert found == [
        (3, "社区"),
        (4, "纬度"),
        (5, "类型"),
        (5, "可服务时段"),
        (6, "网格"),
        (6, "技能"),
        (7, "每日最多单数"),
        (8, "姓名"),
        (8, "电话"),
        (8, "纬度"),
    ]
    reasons = {(e["row"], e["column"]): e["reason"] for e in body["errors"]}
    assert reasons[(3, "社区")].startswith("未知社区“火星社区” / ")
    assert reasons[(5, "类型")].startswith("无法识别“厨师”")
    assert reasons[(7, "每日最多单数")] == "应不大于 50 / must be at most 50"
    assert reasons[(8, "纬度")] == "应不大于 90 / must be at most 90"
    assert all(" / " in reason for reason in reasons.values())
    assert "6 行有错误" in body["detail"]
    assert count(sessions, HelperRow) == before


def test_duplicate_codes_in_a_file_are_refused(
    client: TestClient, sessions: sessionmaker[Session], world: World
) -> None:
    """A code given twice in one file is reported at its second row."""
    content = csv_bytes(
        HEADER, GOOD_ROW, GOOD_ROW.replace("好人", "坏人").replace("T-1", "T-9"), GOOD_ROW
    )
    errors = upload(client, "helpers", content).json()["errors"]
    assert [(e["row"], e["column"], e["reason"]) for e in errors] == [
        (4, "编号", "编号与第 2 行重复 / code repeats row 2")
    ]
    assert count(sessions, HelperRow) == 30


def test_missing_required_columns_are_named(client: TestClient, world: World) -> None:
    """A file without 纬度 and 经度 is refused as a whole, naming both columns on row 1."""
    content = csv_bytes("编号,姓名,社区,类型", "T-1,好人,青山社区,党员")
    body = upload(client, "helpers", content).json()
    assert [(e["row"], e["column"]) for e in body["errors"]] == [(1, "纬度"), (1, "经度")]
    assert "纬度、经度" in body["detail"]


@pytest.mark.parametrize(
    ("content", "filename", "message"),
    [
        (b"", "a.csv", "文件为空"),
        (b"\r\n,,\r\n", "a.csv", "文件为空"),
        (HEADER.encode(), "a.csv", "没有数据行"),
        (bytes(range(256)) * 4, "a.csv", "无法识别文件内容"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "a.xls", ".xls"),
        (b"PK\x03\x04 not really a zip", "a.xlsx", "无法读取 Excel 文件"),
    ],
)
def test_unreadable_files_get_a_clear_message(
    client: TestClient, world: World, content: bytes, filename: str, message: str
) -> None:
    """Empty, header-only, binary, old-Excel and damaged files are 422 with a message, never
    a server error."""
    response = upload(client, "helpers", content, filename)
    assert response.status_code == 422
    assert message in response.json()["detail"] and response.json()["errors"] == []


def test_reimporting_updates_in_place(
    client: TestClient, sessions: sessionmaker[Session], world: World
) -> None:
    """Importing a file again updates the same records (matched by code): no duplicates."""
    assert upload(client, "helpers", csv_bytes(HEADER, GOOD_ROW)).json()["inserted"] == 1
    changed = GOOD_ROW.replace("13800000000", "13999999999")
    assert upload(client, "helpers", csv_bytes(HEADER, changed)).json() == {
        "inserted": 0,
        "updated": 1,
        "ignored_columns": [],
    }
    assert helper(sessions, "T-1").phone == "13999999999"
    assert count(sessions, HelperRow) == 31


def test_imports_respect_the_staff_scope(
    client: TestClient, sessions: sessionmaker[Session], world: World, other: Other
) -> None:
    """Community staff can neither import into another community nor overwrite a record of
    one through its code; helpers get 404 and planners 403."""
    content = csv_bytes(
        HEADER,
        GOOD_ROW.replace("青山社区,第1网格", "白塔社区,第1网格"),
        GOOD_ROW.replace("T-1", "X-H1").replace("好人", "冒名"),
    )
    errors = upload(client, "helpers", content, user="staff_c1").json()["errors"]
    assert [(e["row"], e["column"]) for e in errors] == [(2, "社区"), (3, "编号")]
    assert helper(sessions, "X-H1").name == "白塔志愿者"
    assert upload(client, "helpers", content, user="helper1").status_code == 404
    assert upload(client, "helpers", content, user="planner").status_code == 403


# ----------------------------------------------------------------------------- exports


def ledger_snapshot(sessions: sessionmaker[Session], table: Any, columns: Any) -> list[tuple]:
    fields = [c.field for c in columns if c.field not in ("community", "grid")]
    fields += ["community_id", "grid_id", "street_id", "active"]
    with sessions() as session:
        rows = session.scalars(select(table).order_by(table.id))
        return [tuple(getattr(row, name) for name in fields) for row in rows]


def test_helper_csv_export_reimports_unchanged(
    client: TestClient, sessions: sessionmaker[Session], world: World
) -> None:
    """A CSV export (UTF-8 BOM, the import's headers) re-imports as updates that change
    nothing."""
    before = ledger_snapshot(sessions, HelperRow, HELPER_COLUMNS)
    exported = client.get("/exports/helpers", headers=login(client, "staff"))
    assert exported.status_code == 200
    assert exported.headers["content-disposition"] == 'attachment; filename="helpers.csv"'
    assert exported.content.startswith(codecs.BOM_UTF8)
    first_line = exported.content.decode("utf-8-sig").splitlines()[0]
    assert first_line.split(",") == [c.header for c in HELPER_COLUMNS]
    again = upload(client, "helpers", exported.content)
    assert again.json() == {"inserted": 0, "updated": 30, "ignored_columns": []}
    assert ledger_snapshot(sessions, HelperRow, HELPER_COLUMNS) == before


def test_resident_xlsx_export_reimports_unchanged(
    client: TestClient, sessions: sessionmaker[Session], world: World
) -> None:
    """An XLSX export of residents re-imports unchanged, and the export is audited."""
    before = ledger_snapshot(sessions, ResidentRow, RESIDENT_COLUMNS)
    exported = client.get(
        "/exports/residents", headers=login(client, "staff"), params={"format": "xlsx"}
    )
    sheet = load_workbook(io.BytesIO(exported.content)).worksheets[0]
    assert [cell.value for cell in sheet[1]] == [c.header for c in RESIDENT_COLUMNS]
    assert sheet.max_row == 31
    again = upload(client, "residents", exported.content, "居民.xlsx")
    assert again.json() == {"inserted": 0, "updated": 30, "ignored_columns": []}
    assert ledger_snapshot(sessions, ResidentRow, RESIDENT_COLUMNS) == before
    with sessions() as session:
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-2:] == ["resident.export", "resident.import"]


def test_assignment_sheet_has_one_row_per_member(
    client: TestClient,
    sessions: sessionmaker[Session],
    settings: Settings,
    world: World,
    other: Other,
) -> None:
    """The day's sheet lists each team member with the resident's contact details and the
    member's status, an unmatched order once as 待匹配, and only orders in the caller's scope."""
    with sessions() as session:
        orders = list(session.scalars(select(OrderRow).order_by(OrderRow.id)))
        first = orders[0]
        team = world.helper_ids[:2]
        create_assignment(
            session, settings, first, team, source="manual", start_minute=600, accepted=team[:1]
        ).override_reason = HAND_PICKED
        session.add(
            OrderRow(
                street_id=world.street_id, resident_id=other.resident_id, item="L01", date=DATE
            )
        )
        session.commit()
        resident = first.resident
        helpers = [session.get_one(HelperRow, h) for h in team]
    exported = client.get(
        "/exports/assignments",
        headers=login(client, "staff"),
        params={"date": DATE.isoformat(), "format": "xlsx"},
    )
    assert exported.status_code == 200, exported.text
    rows = list(
        load_workbook(io.BytesIO(exported.content)).worksheets[0].iter_rows(values_only=True)
    )
    assert rows[0] == SHEET_HEADERS
    body = rows[1:]
    assert len(body) == len(orders) + 2  # one order has two members; the other community's order
    mine = [r for r in body if r[4] == resident.name and r[7] in {h.name for h in helpers}]
    assert sorted((r[7], r[8], r[9]) for r in mine) == sorted(
        [
            (helpers[0].name, helpers[0].phone, "已接受"),
            (helpers[1].name, helpers[1].phone, "待接受"),
        ]
    )
    assert {(r[0], r[1][:6], r[5], r[6]) for r in mine} == {
        (DATE.isoformat(), "10:00-", resident.address, resident.phone)
    }
    assert sum(r[9] == "待匹配" for r in body) == len(orders)  # the rest, and 白塔's order
    scoped = client.get(
        "/exports/assignments", headers=login(client, "staff_c1"), params={"date": DATE.isoformat()}
    )
    assert scoped.content.startswith(codecs.BOM_UTF8)
    lines = scoped.content.decode("utf-8-sig").splitlines()
    assert len(lines) == 1 + len(orders) + 1 and "白塔居民" not in scoped.content.decode(
        "utf-8-sig"
    )
    with sessions() as session:
        exports = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "assignments.export")
        ).all()
    assert [e.detail["rows"] for e in exports] == [len(orders) + 2, len(orders) + 1]


def test_exports_are_for_staff_only(client: TestClient, world: World) -> None:
    """Exports hold personal data: helpers get 404 and planners 403."""
    for path in ("/exports/helpers", "/exports/residents", f"/exports/assignments?date={DATE}"):
        assert client.get(path, headers=login(client, "helper1")).status_code == 404
        assert client.get(path, headers=login(client, "planner")).status_code == 403


def test_import_rejected_carries_every_error(sessions: sessionmaker[Session], world: World) -> None:
    """The service raises ``ImportRejected`` with the same (row, column, reason) list."""
    with sessions() as session:
        staff = session.scalars(select(UserRow.id).where(UserRow.username == "staff")).one()
        with pytest.raises(ImportRejected) as refused:
            import_file(
                session, staff, "helpers", csv_bytes(HEADER, GOOD_ROW.replace("党员", "?")), "x.csv"
            )
    assert [(e.row, e.column) for e in refused.value.errors] == [(2, "类型")]
