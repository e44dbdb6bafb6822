"""``qunbang circles plan --street CODE``: the weekly circle planner (``api.services.circles``)
as a table: how many residents meet the street's circle target and, for each resident short of
it, the helpers proposed with why (distance, skills covered, circles they stand in now). Reads
only: staff add members on the circle planner page. Exit 0 done, 2 bad input (an unknown street).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from api.cli.printing import console
from api.cli.service import _database, exits
from api.i18n import current, format_km, lazy
from api.i18n import gettext as _
from api.logs import configure_cli_logging
from api.services.circles.targets import CirclePlanView, plan_by_code
from api.services.offers.assign import local_today
from api.settings import get_settings

WIDE = 140  # characters the table may take
circles_app = typer.Typer(help=lazy("Care circles: the weekly planner."), no_args_is_help=True)


@circles_app.command("plan", help=lazy("Propose helpers for the circles short of the target."))
def plan(
    street: Annotated[str, typer.Option(help=lazy("street code"), show_default=False)],
) -> None:
    """Propose helpers for the circles short of the street's target."""
    settings = get_settings()
    configure_cli_logging(settings.log_format)
    with exits(), _database(settings)() as session:
        found = plan_by_code(session, street, local_today(settings))
    count = found.count
    console.print(
        _(
            "%(meeting)s of %(total)s residents meet the circle target (%(size)s members)",
            meeting=count.meeting,
            total=count.total,
            size=count.size,
        )
    )
    Console(width=max(console.width, WIDE)).print(_table(found))  # a narrow table wraps every name


def _table(found: CirclePlanView) -> Table:
    table = Table(title=escape(_("Helpers proposed")))
    for heading in (_("Resident"), _("Members"), _("Missing skills"), _("Helper"),
                    _("Distance"), _("Covers"), _("Circles now")):  # fmt: skip
        table.add_column(heading)
    for resident in found.residents:
        first = [
            escape(f"{resident.name} ({resident.code})"),
            str(resident.members),
            escape(_names(found, resident.missing_skills)),
        ]
        if not resident.proposals:
            table.add_row(*first, "—", "", "", "")
        for p in resident.proposals:
            helper = escape(f"{p.name} ({p.code})")
            covers = escape(_names(found, p.covers))
            table.add_row(*first, helper, format_km(p.km_one_way), covers, str(p.load))
            first = ["", "", ""]
    return table


def _names(found: CirclePlanView, codes: tuple[str, ...]) -> str:
    """Skills by their names in the command's language."""
    english = current().startswith("en")
    names = [found.skill_names.get(c, (c, c))[1 if english else 0] for c in codes]
    return _(", ").join(names) or "—"
