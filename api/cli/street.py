"""``qunbang street init FILE.yaml``: create or update a street from the file its office writes
(``api.services.ledger.street_setup``). Prints what changed ("no changes" on a second run) and
the password of each account it created, once. Exit 0 done, 2 bad input (nothing written)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from api.cli.printing import console
from api.cli.service import _database, exits
from api.i18n import gettext as _
from api.i18n import lazy
from api.logs import configure_cli_logging
from api.planner.scenario.messages import pydantic_message
from api.settings import get_settings

street_app = typer.Typer(help=lazy("Streets: set one up from its file."), no_args_is_help=True)


@street_app.command(
    "init",
    help=lazy("Create or update a street from its file (YAML); see seeds/example-street.yaml."),
)
def init(
    file: Annotated[Path, typer.Argument(help=lazy("street file (YAML)"), show_default=False)],
) -> None:
    """Create or update a street from its file (YAML); see seeds/example-street.yaml."""
    from api.services.ledger.street_setup import init_street

    settings = get_settings()
    configure_cli_logging(settings.log_format)
    with exits():
        result = init_street(_database(settings), file, pydantic_message)
    code = escape(result.code)
    if not result.changes:
        console.print(_("street %(code)s: no changes", code=code))
        return
    if result.created:
        console.print(_("street %(code)s created", code=code))
    else:
        console.print(_("street %(code)s updated", code=code))
    for change in result.changes:
        console.print("  " + escape(change.text()), soft_wrap=True)
    if result.passwords:
        console.print(
            "[bold]"
            + _("Passwords of the new accounts, shown this once (give each to its owner):")
            + "[/bold]"
        )
        for username, password in result.passwords:
            console.print(f"  {escape(username)}  {escape(password)}", soft_wrap=True)
