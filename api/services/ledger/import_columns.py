"""The ledger's columns as street offices keep them: Chinese (or English) headers, values written
as Chinese labels or as codes. One ``Column`` per field serves the importer (``read``: cell text →
value) and the exporter (``format``: value → cell), so an exported sheet re-imports unchanged.

Catalogue names (skills), communities and grids are resolved against the database by the importer;
here a skills cell is only split into names.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from api.i18n import gettext as _
from matcher.model import Gender, HelperKind, ResidentCategory

Cell = str | int | float

KIND_LABELS: dict[str, tuple[str, str]] = {
    HelperKind.RETIRED_CADRE: ("退休干部", "Retired cadre"),
    HelperKind.DOCTOR: ("医生", "Doctor"),
    HelperKind.NURSE: ("护士", "Nurse"),
    HelperKind.SHOPKEEPER: ("店主", "Shopkeeper"),
    HelperKind.TEACHER: ("教师", "Teacher"),
    HelperKind.PARTY_MEMBER: ("党员", "Party member"),
    HelperKind.WARM_HEARTED_RESIDENT: ("热心居民", "Warm-hearted resident"),
    HelperKind.DELIVERY_RIDER: ("快递骑手", "Delivery rider"),
    HelperKind.LAWYER: ("律师", "Lawyer"),
    HelperKind.TRADESPERSON: ("技工", "Tradesperson"),
    HelperKind.STUDENT_VOLUNTEER: ("学生志愿者", "Student volunteer"),
}
KIND_SYNONYMS = {
    "热心人": HelperKind.WARM_HEARTED_RESIDENT,
    "外卖骑手": HelperKind.DELIVERY_RIDER,
    "骑手": HelperKind.DELIVERY_RIDER,
    "商户": HelperKind.SHOPKEEPER,
    "老师": HelperKind.TEACHER,
    "共产党员": HelperKind.PARTY_MEMBER,
    "大学生志愿者": HelperKind.STUDENT_VOLUNTEER,
}
CATEGORY_LABELS: dict[str, tuple[str, str]] = {
    ResidentCategory.LIVING_ALONE: ("独居老人", "Elderly living alone"),
    ResidentCategory.POOR_HOUSEHOLD: ("困难家庭", "Poor household"),
    ResidentCategory.LOST_ONLY_CHILD: ("失独家庭", "Family who lost their only child"),
    ResidentCategory.DISABILITY: ("残疾人", "Person with a disability"),
    ResidentCategory.LEFT_BEHIND_CHILD: ("留守儿童", "Left-behind child"),
    ResidentCategory.EMPTY_NEST_ELDERLY: ("空巢老人", "Empty-nest elderly"),
    ResidentCategory.VETERAN: ("退役军人", "Veteran"),
}
CATEGORY_SYNONYMS = {
    "低保户": ResidentCategory.POOR_HOUSEHOLD,
    "残障人士": ResidentCategory.DISABILITY,
}
GENDER_LABELS = {Gender.MALE: "男", Gender.FEMALE: "女"}
LANGUAGE_LABELS = {"zh": "汉语", "mn": "蒙古语", "en": "英语"}
LANGUAGE_SYNONYMS = {"中文": "zh", "普通话": "zh", "汉": "zh", "蒙语": "mn", "蒙古文": "mn"}
NO_PREFERENCE = ("不限", "无", "any", "none", "-")
ALL_DAY_WORDS = ("全天", "all day")
# Full-width ，； become , ; under NFKC. Spaces separate too, so English skill names (with spaces)
# are not accepted: codes or Chinese names are.
LIST_SEPARATORS = re.compile(r"[、,;|\s]+")
RANGE = re.compile(r"^(\d{1,2})(?::(\d{2}))?\s*[-~至到—–]\s*(\d{1,2})(?::(\d{2}))?$")


class CellError(ValueError):
    """A cell the importer cannot read; ``reason`` in the reader's language."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def fold(text: str) -> str:
    """Compatibility-normalised (full-width → ASCII), trimmed and lower-case."""
    return unicodedata.normalize("NFKC", text).strip().lower()


def header_key(header: str) -> str:
    """How headers compare: ``服务半径（公里）``, ``服务半径(km)`` and ``服务半径`` alike."""
    key = re.sub(r"\s+|\*", "", fold(header))
    return re.sub(r"\(.*\)$", "", key) or key


def _labels(labels: Mapping[str, tuple[str, str]], synonyms: Mapping[str, str]) -> dict[str, str]:
    found = {fold(code): code for code in labels}
    for code, (zh, en) in labels.items():
        found[fold(zh)] = found[fold(en)] = code
    found.update({fold(word): code for word, code in synonyms.items()})
    return found


_KINDS = _labels(KIND_LABELS, KIND_SYNONYMS)
_CATEGORIES = _labels(CATEGORY_LABELS, CATEGORY_SYNONYMS)


# ----------------------------------------------------------------------------- cell readers


def text(raw: str) -> str:
    return raw


def number(raw: str) -> float:
    try:
        return float(fold(raw).replace(",", ""))
    except ValueError:
        raise CellError(_("must be a number")) from None


def integer(raw: str) -> int:
    value = number(raw)
    if not value.is_integer():
        raise CellError(_("must be a whole number"))
    return int(value)


def kind(raw: str) -> str:
    return _label(raw, _KINDS, KIND_LABELS)


def category(raw: str) -> str:
    return _label(raw, _CATEGORIES, CATEGORY_LABELS)


def _label(raw: str, known: dict[str, str], labels: dict[str, tuple[str, str]]) -> str:
    code = known.get(fold(raw))
    if code is None:
        choices = "、".join(zh for zh, _ in labels.values())
        raise CellError(
            _(
                "unknown value %(raw2)s (%(raw)s) (%(choices)s)",
                raw=raw,
                choices=choices,
                raw2=repr(raw),
            )
        )
    return str(code)


def gender(raw: str) -> str:
    value = fold(raw)
    if value in ("男", "male", "m"):
        return Gender.MALE.value
    if value in ("女", "female", "f"):
        return Gender.FEMALE.value
    raise CellError(_("gender must be 男 (male) or 女 (female)"))


def preferred_gender(raw: str) -> str | None:
    return None if fold(raw) in NO_PREFERENCE else gender(raw)


def names(raw: str) -> list[str]:
    """A list cell: ``护理、烹饪做饭``, ``nursing, cooking`` …"""
    return [part for part in LIST_SEPARATORS.split(unicodedata.normalize("NFKC", raw)) if part]


def language(raw: str) -> str:
    value = fold(raw)
    for code, label in LANGUAGE_LABELS.items():
        if value in (code, fold(label)):
            return code
    code = LANGUAGE_SYNONYMS.get(value, value)
    if not re.fullmatch(r"[a-z]{2,8}", code):
        raise CellError(_("unknown language %(raw2)s (%(raw)s)", raw=raw, raw2=repr(raw)))
    return code


def languages(raw: str) -> list[str]:
    return list(dict.fromkeys(language(part) for part in names(raw)))


def windows(raw: str) -> list[tuple[int, int]]:
    """Service hours: ``08:00-11:30、14:00-17:00`` (or ``全天``) → minutes after midnight."""
    if fold(raw) in ALL_DAY_WORDS:
        return [(0, 1440)]
    tight = re.sub(r"\s*([-~至到—–])\s*", r"\1", fold(raw))
    parts = [part for part in LIST_SEPARATORS.split(tight) if part]
    found = []
    for part in parts:
        match = RANGE.match(part)
        if match is None:
            raise CellError(
                _(
                    "window %(part2)s should read 08:00-11:30 (%(part)s)",
                    part=part,
                    part2=repr(part),
                ),
            )
        start_h, start_m, end_h, end_m = (int(g or 0) for g in match.groups())
        start, end = start_h * 60 + start_m, end_h * 60 + end_m
        if start_m > 59 or end_m > 59 or end > 1440 or end <= start:
            raise CellError(
                _(
                    "window %(part2)s is not a valid time span (%(part)s)",
                    part=part,
                    part2=repr(part),
                )
            )
        found.append((start, end))
    return found


def id_card_tail(raw: str) -> str:
    """The last four characters of an ID card; Excel drops leading zeros, so they are put back."""
    value = fold(raw).upper()
    if value.isdigit() and len(value) < 4:
        value = value.zfill(4)
    if not re.fullmatch(r"[0-9]{3}[0-9X]", value):
        raise CellError(_("ID-card tail: 4 digits (last may be X)"))
    return value


def phone(raw: str) -> str:
    return fold(raw)


# ----------------------------------------------------------------------------- cell writers


def clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def format_windows(value: list[Any]) -> str:
    if [list(w) for w in value] == [[0, 1440]]:
        return "全天"
    return "、".join(f"{clock(start)}-{clock(end)}" for start, end in value)


def format_plain(value: Any) -> Cell:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, int | float) else str(value)


def format_list(value: list[str]) -> str:
    return "、".join(value)


# ----------------------------------------------------------------------------- the columns


@dataclass(frozen=True)
class Column:
    """One ledger column. ``header`` is what exports write; ``aliases`` are other headers that
    imports accept. An empty cell means the field's ``empty`` value (an error when required)."""

    field: str
    header: str
    aliases: tuple[str, ...] = ()
    required: bool = False
    parse: Callable[[str], Any] = text
    format: Callable[[Any], Cell] = format_plain
    empty: Any = ""

    def read(self, raw: str) -> Any:
        raw = raw.strip().removeprefix("'")  # Excel's "this is text" mark; exports add it too
        if raw == "":
            if self.required:
                raise CellError(_("a required value is empty"))
            return list(self.empty) if isinstance(self.empty, list) else self.empty
        return self.parse(raw)


def _fmt_kind(value: str) -> str:
    return KIND_LABELS[value][0] if value in KIND_LABELS else value


def _fmt_category(value: str) -> str:
    return CATEGORY_LABELS[value][0] if value in CATEGORY_LABELS else value


def _fmt_gender(value: str | None) -> str:
    return GENDER_LABELS.get(Gender(value), "") if value else ""


def _fmt_languages(value: list[str]) -> str:
    return "、".join(LANGUAGE_LABELS.get(code, code) for code in value)


def _fmt_language(value: str | None) -> str:
    return LANGUAGE_LABELS.get(value, value) if value else ""


_SHARED_HEAD = (
    Column("code", "编号", ("code", "台账编号", "编码", "id"), required=True),
    Column("name", "姓名", ("name", "名字"), required=True),
    Column("community", "社区", ("community", "所属社区"), required=True),
    Column("grid", "网格", ("grid", "所属网格"), empty=None),
    Column("building", "楼栋", ("building", "所属楼栋", "楼栋号", "楼号"), empty=None),
    Column("phone", "电话", ("phone", "联系电话", "手机", "手机号", "手机号码"), parse=phone),
    Column("address", "住址", ("address", "地址", "家庭住址", "居住地址")),
    Column("lat", "纬度", ("lat", "latitude"), required=True, parse=number),
    Column("lon", "经度", ("lon", "lng", "longitude"), required=True, parse=number),
)

HELPER_COLUMNS: tuple[Column, ...] = (
    *_SHARED_HEAD,
    Column("kind", "类型", ("kind", "人员类别", "类别", "人员类型"), True, kind, _fmt_kind),
    Column(
        "skills", "技能", ("skills", "技能特长", "特长"), parse=names, format=format_list, empty=[]
    ),
    Column("radius_km", "服务半径(公里)", ("radius_km", "radius", "半径"), parse=number, empty=3.0),
    Column("max_orders", "每日最多单数", ("max_orders",), parse=integer, empty=3),
    Column("max_minutes", "每日最多分钟", ("max_minutes",), parse=integer, empty=240),
    Column(
        "availability",
        "可服务时段",
        ("availability", "服务时段", "可服务时间"),
        parse=windows,
        format=format_windows,
        empty=[(0, 1440)],
    ),
    Column(
        "languages",
        "语言",
        ("languages", "language"),
        parse=languages,
        format=_fmt_languages,
        empty=["zh"],
    ),
    Column("gender", "性别", ("gender", "sex"), parse=gender, format=_fmt_gender, empty=None),
    Column("speed_kmh", "出行速度(公里/小时)", ("speed_kmh", "速度"), parse=number, empty=None),
)

RESIDENT_COLUMNS: tuple[Column, ...] = (
    *_SHARED_HEAD[:2],
    Column("id_card_tail", "身份证后四位", ("id_card_tail", "身份证尾号"), parse=id_card_tail),
    *_SHARED_HEAD[2:],
    Column(
        "category",
        "人员类别",
        ("category", "类别", "类型", "困难类型"),
        True,
        category,
        _fmt_category,
    ),
    Column("priority_weight", "优先级", ("priority_weight", "priority"), parse=number, empty=1.0),
    Column("language", "语言", ("language",), parse=language, format=_fmt_language, empty=None),
    Column(
        "preferred_gender",
        "偏好性别",
        ("preferred_gender", "性别偏好", "志愿者性别要求"),
        parse=preferred_gender,
        format=_fmt_gender,
        empty=None,
    ),
    Column(
        "circle",
        "熟悉的志愿者",
        ("circle", "帮扶圈", "结对志愿者"),
        parse=names,
        format=format_list,
        empty=[],
    ),
    # The same person's helper record (an elderly resident who also volunteers): its code.
    Column(
        "helper",
        "同为志愿者(编号)",
        ("helper", "same_helper", "志愿者编号", "同为志愿者", "本人志愿者编号"),
        empty=None,
    ),
)

# Management-type people (管理型): looked after through grid visits; no location, no orders.
MANAGED_COLUMNS: tuple[Column, ...] = (
    *_SHARED_HEAD[:6],
    Column("note", "关注原因", ("note", "备注", "管理原因", "关注事项")),
)

COLUMNS = {
    "helpers": HELPER_COLUMNS,
    "residents": RESIDENT_COLUMNS,
    "managed": MANAGED_COLUMNS,
}


def by_header(columns: tuple[Column, ...]) -> dict[str, Column]:
    """Every accepted header (compared with ``header_key``) → its column."""
    found: dict[str, Column] = {}
    for column in columns:
        for header in (column.header, column.field, *column.aliases):
            found.setdefault(header_key(header), column)
    return found
