"""``qunbang report --street CODE --period 2026-10 [--xlsx FILE]``: the street's report for
superiors (``api.services.reports``) as a table, in the command's language, and optionally the
same table as an XLSX file. Exit 0 done, 2 bad input (an unknown street, a bad period)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from api.cli.printing import console
from api.cli.service import _database, exits
from api.i18n import format_number, lazy
from api.i18n import gettext as _
from api.logs import configure_cli_logging
from api.services.ledger.sheets import Value
from api.services.reports import sheet
from api.services.reports.monthly import Report, report_by_code
from api.services.reports.periods import parse_period
from api.settings import get_settings

WIDE = 200  # characters the table may take


def report(
    street: Annotated[str, typer.Option(help=lazy("street code"), show_default=False)],
    period: Annotated[
        str,
        typer.Option(help=lazy("a month (2026-10) or a quarter (2026-Q4)"), show_default=False),
    ],
    xlsx: Annotated[
        Path | None, typer.Option(help=lazy("also write the table to this XLSX file"))
    ] = None,
) -> None:
    """Print a street's figures for a month or a quarter: the street, each community and grid."""
    settings = get_settings()
    configure_cli_logging(settings.log_format)
    with exits():
        chosen = parse_period(period)
        with _database(settings)() as session:
            found = report_by_code(session, settings, street, chosen)
        if xlsx is not None:
            xlsx.write_bytes(sheet.report_xlsx(found).content)
    # 14 columns: wider than a small terminal, but a table that wraps every word is unreadable
    Console(width=max(console.width, WIDE)).print(_table(found))
    if xlsx is not None:
        console.print(_("written: %(path)s", path=escape(str(xlsx))), soft_wrap=True)


def _table(found: Report) -> Table:
    title = _(
        "%(street)s: report for %(period)s", street=found.street_name, period=found.period.code
    )
    table = Table(title=escape(title))
    for index, header in enumerate(sheet.headers()):
        table.add_column(header, justify="right" if index >= sheet.FIRST_FIGURE else "left")
    for row in found.rows:
        table.add_row(*(_cell(value) for value in sheet.row_cells(row)))
    return table


def _cell(value: Value) -> str:
    if value is None:
        return "—"
    if isinstance(value, int | float):
        return format_number(value, 1)
    return escape(value)
