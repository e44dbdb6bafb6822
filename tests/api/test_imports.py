"""Ledger import and export: office files in CSV (UTF-8, GB18030) and XLSX, every bad row
reported and nothing imported, upserts by ledger code, exports that re-import unchanged, and the
day's assignment sheet."""

from __future__ import annotations

import codecs
import io
import random
import zipfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.services.ledger import imports, sheets
from api.services.ledger.import_columns import HELPER_COLUMNS, RESIDENT_COLUMNS
from api.services.ledger.imports import ImportRejected, import_file
from api.services.ledger.sheets import XLSX_MEDIA
from api.services.offers.assign import create_assignment
from api.settings import Settings
from api.store.tables import AuditEntry, Grid, HelperRow, OrderRow, ResidentRow, UserRow
from tests.api.conftest import DATE, World, login
from tests.api.test_ledger import Other, add_community
from tests.api.test_orders import HAND_PICKED

DATA = Path(__file__).parent.parent / "data"
HEADER = "编号,姓名,社区,网格,电话,纬度,经度,类型,技能,每日最多单数,可服务时段"
# The day's sheet's header row as a Chinese office reads it.
SHEET_HEADERS_ZH = (
    "日期",
    "时间",
    "服务项目",
    "社区",
    "居民",
    "地址",
    "电话",
    "志愿者",
    "志愿者电话",
    "状态",
    "备注",
    "价格（元）",
)
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
    language: str = "zh-CN",
) -> Any:
    files = {"file": (filename, content, "application/octet-stream")}
    headers = login(client, user) | {"Accept-Language": language}
    return client.post(f"/imports/{kind}", headers=headers, files=files)


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
    assert reasons[(3, "社区")].startswith("未知社区“火星社区”")
    assert reasons[(5, "类型")].startswith("无法识别“厨师”")
    assert reasons[(7, "每日最多单数")] == "应不大于 50"
    assert reasons[(8, "纬度")] == "应不大于 90"
    assert not [r for r in reasons.values() if " / " in r]  # one language
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
        (4, "编号", "编号与第 2 行重复")
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
    places = ("community", "grid", "building", "helper")  # stored as ids
    fields = [c.field for c in columns if c.field not in places]
    fields += ["community_id", "grid_id", "building_id", "street_id", "active"]
    fields += ["helper_id"] if any(c.field == "helper" for c in columns) else []
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
    member's status, an unmatched order once as 待匹配, and only orders in the caller's scope;
    its words are in the reader's language (zh_CN unless asked otherwise)."""
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
    assert rows[0] == SHEET_HEADERS_ZH
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
    english = client.get(
        "/exports/assignments",
        headers={**login(client, "staff"), "Accept-Language": "en"},
        params={"date": DATE.isoformat()},
    )
    header, *body_en = english.content.decode("utf-8-sig").splitlines()
    assert header.startswith("Date,Time,Service item,") and "Volunteer's phone" in header
    assert sum(line.count(",not matched yet,") for line in body_en) == len(orders)


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


# ----------------------------------------------------------------------------- 4. damaged sheets


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    data = io.BytesIO()
    book.save(data)
    return data.getvalue()


GOOD_XLSX_ROWS = [HEADER.split(","), GOOD_ROW.split(",")]


def rezip(data: bytes, change: Any) -> bytes:
    """``data`` (a zip) with every member's bytes passed through ``change(name, bytes)``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info, change(info.filename, source.read(info.filename)))
    return out.getvalue()


def damaged_workbooks() -> dict[str, bytes]:
    """Truncated at several cut points, a sheet whose XML stops half-way, a sheet whose
    compressed bytes are flipped (the zip directory still fine), and random bytes."""
    good = xlsx_bytes(GOOD_XLSX_ROWS * 1 + [GOOD_ROW.split(",")] * 50)
    cases = {f"cut-{cut}": good[: len(good) * cut // 100] for cut in (5, 30, 60, 90, 99)}
    cases["cut-last-byte"] = good[:-1]
    cases["half-sheet-xml"] = rezip(
        good, lambda name, body: body[: len(body) // 2] if "worksheets/sheet" in name else body
    )
    cases["bad-sheet-xml"] = rezip(
        good, lambda name, body: body.replace(b"<row", b"<row <") if "sheet1" in name else body
    )
    laughs = b'<!DOCTYPE x [<!ENTITY a0 "lol">' + b"".join(
        b'<!ENTITY a%d "%s">' % (i, b"&a%d;" % (i - 1) * 10) for i in range(1, 10)
    )
    cases["xml-entity-bomb"] = rezip(
        good,
        lambda name, body: (
            laughs + b"]>" + body.replace(b"<t>", b"<t>&a9;", 1) if "sheet1" in name else body
        ),
    )
    with zipfile.ZipFile(io.BytesIO(good)) as archive:
        sheet = archive.getinfo("xl/worksheets/sheet1.xml")
    flipped = bytearray(good)
    start = sheet.header_offset + 30 + len(sheet.filename) + 40
    flipped[start : start + 40] = bytes(255 - b for b in flipped[start : start + 40])
    cases["flipped-sheet-bytes"] = bytes(flipped)
    rng = random.Random(0)
    cases["zip-magic-then-noise"] = b"PK\x03\x04" + bytes(rng.randrange(256) for _ in range(3000))
    return cases


def test_xlsx_damaged_workbook_is_an_import_error_naming_the_file(
    client: TestClient, sessions: sessionmaker[Session], world: World
) -> None:
    """A truncated or corrupt workbook (the zip cut, the sheet's XML cut or broken, its bytes
    flipped) is a 422 whose message names the file, never a 500; nothing is imported."""
    before = count(sessions, HelperRow)
    damaged = damaged_workbooks()
    for name in ("cut-60", "half-sheet-xml", "bad-sheet-xml", "flipped-sheet-bytes"):
        response = upload(client, "helpers", damaged[name], "坏表.xlsx")
        assert response.status_code == 422, (name, response.text)
        detail = response.json()["detail"]
        assert detail.startswith("坏表.xlsx：无法读取 Excel 文件"), (name, detail)
        english = upload(client, "helpers", damaged[name], "坏表.xlsx", language="en")
        assert english.json()["detail"].startswith("坏表.xlsx: cannot read the Excel file")
    assert count(sessions, HelperRow) == before


def test_xlsx_damaged_workbook_through_the_service_and_the_staff_page(
    client: TestClient, sessions: sessionmaker[Session], world: World
) -> None:
    """The service raises ``ImportRejected`` naming the file; the staff page answers 422 with
    the message in the page's language."""
    damaged = damaged_workbooks()["half-sheet-xml"]
    with sessions() as session:
        staff = session.scalars(select(UserRow.id).where(UserRow.username == "staff")).one()
        with pytest.raises(ImportRejected, match=r"^台账\.xlsx：无法读取 Excel 文件"):
            import_file(session, staff, "helpers", damaged, "台账.xlsx")
    from tests.api.test_web_staff import web_login

    web_login(client, "staff")
    files = {"file": ("台账.xlsx", damaged, XLSX_MEDIA)}
    page = client.post("/s/import/helpers", files=files)
    assert page.status_code == 422
    assert "台账.xlsx：无法读取 Excel 文件，文件可能已损坏" in page.text


def test_xlsx_empty_sheet_is_an_import_error(client: TestClient, world: World) -> None:
    """A workbook whose sheet has no cells is "the file is empty", naming the file."""
    response = upload(client, "helpers", xlsx_bytes([]), "空表.xlsx")
    assert response.status_code == 422
    assert response.json()["detail"] == "空表.xlsx：文件为空"


def test_xlsx_huge_sheet_is_stopped_at_the_row_cap(
    sessions: sessionmaker[Session], world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sheet with more rows than the import allows is refused while it is read (the cap is
    MAX_ROWS plus room for a title and blank rows), naming the limit."""
    monkeypatch.setattr(imports, "MAX_ROWS", 5)
    rows = [HEADER.split(",")] + [GOOD_ROW.replace("T-1", f"T-{n}").split(",") for n in range(200)]
    with sessions() as session:
        staff = session.scalars(select(UserRow.id).where(UserRow.username == "staff")).one()
        with pytest.raises(ImportRejected) as refused:
            import_file(session, staff, "helpers", xlsx_bytes(rows), "大表.xlsx")
    assert refused.value.message == "大表.xlsx：行数过多（上限 115 行）"


def test_xlsx_that_unpacks_too_large_is_refused(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A workbook whose members unpack beyond the limit (a zip bomb) is refused before openpyxl
    reads it."""
    monkeypatch.setattr(sheets, "MAX_UNZIPPED_BYTES", 2000)
    response = upload(client, "helpers", xlsx_bytes(GOOD_XLSX_ROWS), "炸弹.xlsx")
    assert response.status_code == 422
    assert "Excel 文件解压后超过" in response.json()["detail"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x80\x80\x80,\x81\x30\n\x80", "无法识别文件内容"),  # neither UTF-8 nor GB18030
        (codecs.BOM_UTF16_LE + "编号,姓名".encode("utf-16-le")[:-1], "无法识别文件内容"),
        (("编号,姓名\n" + "x" * 200_000 + ",y\n").encode(), "第 2 行 CSV 格式有误"),
    ],
    ids=["not-utf8-nor-gb18030", "odd-utf16", "field-too-large"],
)
def test_csv_with_bad_encoding_is_an_import_error(
    client: TestClient, sessions: sessionmaker[Session], world: World, content: bytes, message: str
) -> None:
    """Bytes that are no text encoding we read, or a CSV the reader refuses, are a 422 naming
    the file; nothing is imported."""
    before = count(sessions, HelperRow)
    response = upload(client, "helpers", content, "乱码.csv")
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(f"乱码.csv：{message}")
    assert count(sessions, HelperRow) == before


# ----------------------------------------------------------------------------- 5. codes


def test_import_codes_compare_case_insensitively(
    client: TestClient, sessions: sessionmaker[Session], world: World
) -> None:
    """``h0002`` updates ``H0002``; community ``c01``, grid ``g02``, kind ``NURSE``, skill
    ``PHYSICIAN`` and language ``MN`` are found; stored codes keep their canonical case."""
    header = "编号,姓名,社区,网格,纬度,经度,类型,技能,语言"
    rows = [
        "h0002,改名,c01,g02,40.84,111.75,NURSE,PHYSICIAN,MN",
        "t-9,新人,c01,G02,40.84,111.75,Nurse,,zh",
    ]
    response = upload(client, "helpers", csv_bytes(header, *rows))
    assert response.json() == {"inserted": 1, "updated": 1, "ignored_columns": []}, response.text
    known = helper(sessions, "H0002")
    assert (known.name, known.kind, known.skills, known.languages) == (
        "改名", "nurse", ["physician"], ["mn"]
    )  # fmt: skip
    assert grid_name(sessions, known.grid_id) == "第2网格"
    assert helper(sessions, "t-9").kind == "nurse"  # a new code is stored as written


def test_import_codes_repeated_in_another_case_are_duplicates(
    client: TestClient, sessions: sessionmaker[Session], world: World
) -> None:
    """``T-9`` and ``t-9`` in one file are the same code: the second row is refused."""
    rows = [GOOD_ROW.replace("T-1", "T-9"), GOOD_ROW.replace("T-1", "t-9")]
    errors = upload(client, "helpers", csv_bytes(HEADER, *rows)).json()["errors"]
    assert [(e["row"], e["column"], e["reason"]) for e in errors] == [
        (3, "编号", "编号与第 2 行重复")
    ]


def test_import_codes_in_a_residents_circle_are_canonical(
    client: TestClient, sessions: sessionmaker[Session], world: World
) -> None:
    """A resident's circle written ``h0001、H0001、h0003`` stores ``["H0001", "H0003"]`` and the
    category ``LIVING_ALONE`` is found."""
    header = "编号,姓名,社区,纬度,经度,人员类别,熟悉的志愿者"
    row = "r0001,居民甲,C01,40.84,111.75,LIVING_ALONE,h0001、H0001、h0003"
    response = upload(client, "residents", csv_bytes(header, row))
    assert response.json()["updated"] == 1, response.text
    with sessions() as session:
        resident = session.scalars(select(ResidentRow).where(ResidentRow.code == "R0001")).one()
    assert (resident.circle, resident.category) == (["H0001", "H0003"], "living_alone")


# ----------------------------------------------------------------------------- 6. fuzz


def test_fuzz_broken_import_files_give_a_clear_error_and_write_nothing(
    client: TestClient, sessions: sessionmaker[Session], world: World
) -> None:
    """Damaged workbooks, random bytes as .csv and .xlsx, and truncated CSV: every upload is a
    422 naming the file with no server error, and neither helpers nor the audit log change."""
    rng = random.Random(1)
    good_csv = (DATA / "ledger_helpers.csv").read_bytes()
    files = {f"{name}.xlsx": content for name, content in damaged_workbooks().items()}
    for number in range(4):
        noise = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4000)))
        files[f"noise-{number}.csv"] = noise
        files[f"noise-{number}.xlsx"] = noise
    for cut in (1, 10, 60):
        files[f"cut-{cut}.csv"] = good_csv[:cut]
    before = (count(sessions, HelperRow), audit_count(sessions))
    for name, content in files.items():
        response = upload(client, "helpers", content, name)
        assert response.status_code == 422, (name, response.text)
        assert response.json()["detail"].startswith(name), (name, response.json())
    assert (count(sessions, HelperRow), audit_count(sessions)) == before


def audit_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


def test_xlsx_with_too_many_columns_is_refused(
    sessions: sessionmaker[Session], world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row wider than the column limit is refused naming the row, before the rest is read."""
    monkeypatch.setattr(sheets, "MAX_COLUMNS", 20)
    rows = [HEADER.split(","), GOOD_ROW.split(",") + ["x"] * 30]
    with sessions() as session:
        staff = session.scalars(select(UserRow.id).where(UserRow.username == "staff")).one()
        with pytest.raises(ImportRejected) as refused:
            import_file(session, staff, "helpers", xlsx_bytes(rows), "宽表.xlsx")
    assert refused.value.message == ("宽表.xlsx：第 2 行超过 20 列")
