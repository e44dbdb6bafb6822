"""The certificate of a helper's volunteer service (志愿服务记录证明), as a PDF (fpdf2): name,
ID tail, organisation, period, hours, services, issuing office and date.

The ID tail: helpers' ledger rows hold no ID number; when the helper is also a resident of
the ledger (资源型 and 服务型 at once) that record's ID-card tail is printed, else the helper's
ledger number (台账编号), named as such. The hours are the hours ledger's entries whose visit
falls in the period; the services are the confirmed visits behind them, by item.

Chinese text needs a CJK font: Debian's fonts-noto-cjk (installed by ``.ci/fonts``, which
``make demo`` and ``make test`` run), or any font named by ``QUNBANG_CJK_FONT``
(``path`` or ``path#index`` for a collection). Without one, ``FontMissing`` says what to install.

A CJK font is large (Noto Sans CJK: 65,535 glyphs, 19 MB): fpdf2 parses every glyph's metrics in
``add_font`` and subsets the whole font again when it writes the PDF, most of a second per PDF.
So the font is opened once per process with HarfBuzz (``uharfbuzz``: the face is read from the
file, never changed) and each PDF first cuts from it, in C, a font of only the characters its texts
use; fpdf2 then loads that small font and embeds only the glyphs it prints, as before. The cut is
made under a lock (the face is shared by the server's threads); everything else is the PDF's own."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api import i18n
from api.i18n import gettext as _
from api.services.actor import Actor
from api.services.errors import BadInput, NotFound, ServiceError
from api.services.hours.ledger import total_minutes
from api.services.ledger.street_catalogue import street_catalogue
from api.services.ledger.views import scoped_row
from api.services.offers.assign import local_today
from api.settings import Settings
from api.store.statuses import HoursKind, Role
from api.store.tables import (
    Community,
    HelperRow,
    HoursEntry,
    OrderRow,
    ResidentRow,
    Street,
)

# Debian's CJK fonts, best first: (path, font of the collection). Noto Sans CJK's 3rd is SC.
DEBIAN_FONTS = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
)
FONT_VARIABLE = "QUNBANG_CJK_FONT"
MAX_PERIOD_DAYS = 366 * 10


class FontMissing(ServiceError):
    """No CJK font is installed, so no certificate can be printed (a set-up problem)."""

    code = "font_missing"


@dataclass(frozen=True)
class ServiceLine:
    item_zh: str
    item_en: str
    visits: int
    minutes: int


@dataclass(frozen=True)
class Certificate:
    """What the certificate says."""

    number: str
    name: str
    id_label: str  # "ID card (last digits)" or "Ledger number", in the reader's language
    id_value: str
    organisation: str
    office: str
    first: dt.date
    last: dt.date
    minutes: int
    services: list[ServiceLine]
    issued: dt.date

    @property
    def hours(self) -> str:
        return i18n.format_number(self.minutes / 60, 1)


def default_period(settings: Settings, now: dt.datetime | None = None) -> tuple[dt.date, dt.date]:
    """This year up to today (street time)."""
    today = local_today(settings, now)
    return today.replace(month=1, day=1), today


def certificate(
    session: Session,
    settings: Settings,
    actor: Actor,
    helper_id: int,
    first: dt.date,
    last: dt.date,
    now: dt.datetime | None = None,
) -> Certificate:
    """The certificate of ``helper_id``'s service from ``first`` to ``last`` (visit days):
    a helper asks for their own, staff for a helper of their street (or community)."""
    if last < first:
        raise BadInput(_("the period ends before it starts"), "last")
    if (last - first).days > MAX_PERIOD_DAYS:
        raise BadInput(_("a period is at most ten years"), "first")
    helper = _helper(session, actor, helper_id)
    street = session.get_one(Street, helper.street_id)
    community = session.get_one(Community, helper.community_id)
    tail = session.scalar(
        select(ResidentRow.id_card_tail).where(ResidentRow.helper_id == helper.id)
    )
    if tail:
        id_label, id_value = _("ID card (last digits)"), tail
    else:
        id_label, id_value = _("Ledger number"), helper.code
    issued = local_today(settings, now)
    return Certificate(
        number=f"{helper.code}-{first:%Y%m%d}-{last:%Y%m%d}",
        name=helper.name,
        id_label=id_label,
        id_value=id_value,
        organisation=f"{street.name} {community.name}",
        office=street.name,
        first=first,
        last=last,
        minutes=total_minutes(session, helper.id, first, last),
        services=_services(session, helper, first, last),
        issued=issued,
    )


def _helper(session: Session, actor: Actor, helper_id: int) -> HelperRow:
    if actor.role == Role.HELPER:
        row = session.get(HelperRow, helper_id)
        if row is None or actor.helper_id != helper_id:
            raise NotFound(_("helper %(helper_id)s not found", helper_id=helper_id))
        return row
    try:
        found: HelperRow = scoped_row(session, actor, HelperRow, helper_id)
    except NotFound as error:
        raise NotFound(error.message, "helper_id") from error
    return found


def _services(
    session: Session, helper: HelperRow, first: dt.date, last: dt.date
) -> list[ServiceLine]:
    """The items of the helper's standing hours in the period: visits and minutes each."""
    rows = session.execute(
        select(HoursEntry.kind, HoursEntry.minutes, OrderRow.item)
        .join(OrderRow, OrderRow.id == HoursEntry.order_id)
        .where(
            HoursEntry.helper_id == helper.id,
            HoursEntry.served_on >= first,
            HoursEntry.served_on <= last,
        )
    ).all()
    minutes: dict[str, int] = defaultdict(int)
    orders: dict[str, int] = defaultdict(int)
    for kind, amount, code in rows:  # a reversal takes its visit back
        minutes[code] += amount
        orders[code] += -1 if kind == HoursKind.REVERSAL else 1
    catalogue = street_catalogue(session, helper.street_id)
    lines = []
    for code in sorted(minutes, key=lambda c: (-minutes[c], c)):
        if orders[code] > 0:
            item = catalogue.item(code)
            lines.append(ServiceLine(item.name_zh, item.name_en, orders[code], minutes[code]))
    return lines


# ----------------------------------------------------------------------------- the PDF


def find_font() -> tuple[Path, int] | None:
    """The CJK font to print with: ``QUNBANG_CJK_FONT`` if set, else the first of Debian's."""
    named = os.environ.get(FONT_VARIABLE, "").strip()
    if named:
        name, _sep, number = named.partition("#")
        return Path(name), int(number) if number.isdigit() else 0
    for path, index in DEBIAN_FONTS:
        if Path(path).is_file():
            return Path(path), index
    return None


@dataclass(frozen=True)
class _Texts:
    """Every text the certificate prints, in the current locale (the font cut for a PDF holds
    exactly their characters)."""

    title: str
    number: str
    facts: tuple[tuple[str, str], ...]
    services: str
    table_head: tuple[str, str, str]
    table_rows: tuple[tuple[str, str, str], ...]
    no_services: str
    statement: str
    issued_by: str
    issued_on: str

    def characters(self) -> set[str]:
        texts = [self.title, self.number, self.services, self.no_services, self.statement,
                 self.issued_by, self.issued_on, *self.table_head]  # fmt: skip
        texts += [text for pair in self.facts for text in pair]
        texts += [text for row in self.table_rows for text in row]
        return set("".join(texts)) | SAFE_CHARACTERS


# Printable ASCII besides: what a line break or a number's formatting may add costs no more.
SAFE_CHARACTERS = frozenset(chr(code) for code in range(0x20, 0x7F))


def _texts(cert: Certificate) -> _Texts:
    period = _("%(first)s to %(last)s", first=i18n.format_day(cert.first, "long"),
               last=i18n.format_day(cert.last, "long"))  # fmt: skip
    return _Texts(
        title=_("Certificate of volunteer service"),
        number=_("No. %(number)s", number=cert.number),
        facts=(
            (_("Name"), cert.name),
            (cert.id_label, cert.id_value),
            (_("Organisation"), cert.organisation),
            (_("Period"), period),
            (_("Volunteer hours"), cert.hours),
        ),
        services=_("Services"),
        table_head=(_("Service"), _("Visits"), _("Hours")),
        table_rows=tuple(
            (
                i18n.pick(line.item_zh, line.item_en),
                str(line.visits),
                i18n.format_number(line.minutes / 60, 1),
            )
            for line in cert.services
        ),
        no_services=_("No confirmed visits in this period."),
        statement=_(
            "This certifies that the volunteer above served the hours shown, as "
            "recorded at each visit and confirmed by the office."
        ),
        issued_by=_("Issued by: %(office)s (seal)", office=cert.office),
        issued_on=_("Date: %(day)s", day=i18n.format_day(cert.issued, "long")),
    )


def certificate_pdf(cert: Certificate) -> bytes:
    """The certificate as a one-page A4 PDF, in the current locale; ``FontMissing`` without a
    CJK font."""
    from fpdf import FPDF  # imported here: only printing a certificate needs it

    font = find_font()
    if font is None or not font[0].is_file():
        raise _font_missing()
    texts = _texts(cert)
    with _font_cut(font, texts.characters()) as small:
        pdf = FPDF(format="A4")
        pdf.set_creator("Qunbang")
        pdf.set_title(texts.title)
        pdf.add_font("cjk", "", str(small))
        _lay_out(pdf, texts)
        return bytes(pdf.output())


def _lay_out(pdf: Any, texts: _Texts) -> None:
    """The page: title, number, the facts' table, the services, the statement, who issued it."""
    pdf.set_margins(22, 24, 22)
    pdf.add_page()
    pdf.set_font("cjk", size=22)
    pdf.cell(0, 16, texts.title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=9)
    pdf.cell(0, 6, texts.number, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("cjk", size=12)
    for label, value in texts.facts:
        pdf.cell(50, 10, label, border=1)
        pdf.cell(0, 10, value, border=1, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.cell(0, 8, texts.services, new_x="LMARGIN", new_y="NEXT")
    _service_table(pdf, texts)
    pdf.ln(8)
    pdf.multi_cell(0, 7, texts.statement)
    pdf.ln(12)
    pdf.cell(0, 8, texts.issued_by, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 8, texts.issued_on, align="R", new_x="LMARGIN", new_y="NEXT")


def _service_table(pdf: Any, texts: _Texts) -> None:
    """The services, one row per item: visits and hours."""
    from fpdf.fonts import FontFace

    pdf.set_font("cjk", size=11)
    if not texts.table_rows:
        pdf.cell(0, 8, texts.no_services, new_x="LMARGIN", new_y="NEXT")
        return
    plain = FontFace(emphasis="")  # one weight of the CJK font is installed
    with pdf.table(
        col_widths=(60, 20, 20), text_align=("LEFT", "RIGHT", "RIGHT"), headings_style=plain
    ) as table:
        for cells in (texts.table_head, *texts.table_rows):
            row = table.row()
            for text in cells:
                row.cell(text)


# ----------------------------------------------------------------------------- the font


def _font_missing() -> FontMissing:
    return FontMissing(
        _(
            "the certificate needs a Chinese font and none is installed: install Debian's "
            "fonts-noto-cjk (as root: .ci/fonts) or set %(variable)s to a font file",
            variable=FONT_VARIABLE,
        )
    )


_CUTTING = threading.Lock()


@lru_cache(maxsize=4)
def _face(path: str, index: int, _changed: float) -> Any:
    """The font file opened once per process (and again if the file changes): HarfBuzz reads
    its tables when a cut needs them and keeps them."""
    import uharfbuzz as hb

    return hb.Face(hb.Blob.from_file_path(path), index)


@contextmanager
def _font_cut(font: tuple[Path, int], characters: set[str]) -> Iterator[Path]:
    """A font file of only ``characters`` (those the font has) cut from ``font``, for one PDF;
    removed afterwards."""
    import uharfbuzz as hb

    path, index = font
    face = _face(str(path), index, path.stat().st_mtime)
    wanted = hb.SubsetInput()
    for character in characters:
        wanted.unicode_set.add(ord(character))
    # No layout closure: fpdf2 neither shapes nor embeds GSUB, so no glyph variant is needed.
    wanted.flags = hb.SubsetFlags.NO_LAYOUT_CLOSURE
    with _CUTTING:
        cut = hb.subset(face, wanted)
    if cut is None:  # not a font HarfBuzz reads
        raise _font_missing()
    data = cut.blob.data
    handle, name = tempfile.mkstemp(prefix="qunbang-font-", suffix=".otf")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        yield Path(name)
    finally:
        os.unlink(name)
