"""What the volunteer's and the resident's programme pages share: each programme the person is
enrolled in, with their shortlist to rank and their pair(s), and storing a ranking from the
form (``parse_ranking``, the staff's form too)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from api.i18n import gettext as _
from api.services.actor import Actor
from api.services.errors import BadInput
from api.services.programmes import pairs as pairing
from api.services.programmes import ranking, setup
from api.services.programmes.pairs import PairView
from api.services.programmes.ranking import ShortlistView
from api.services.programmes.setup import ProgrammeView


@dataclass(frozen=True)
class MyProgramme:
    programme: ProgrammeView
    shortlist: ShortlistView | None
    pairs: list[PairView]


def my_programmes(session: Session, actor: Actor) -> list[MyProgramme]:
    """The caller's programmes with their shortlist and pairs."""
    return [
        MyProgramme(
            programme=view,
            shortlist=ranking.own_shortlists(session, actor, view.id),
            pairs=pairing.pairs(session, actor, view.id),
        )
        for view in setup.list_programmes(session, actor)
    ]


def parse_ranking(members: list[str], choices: list[str]) -> tuple[list[int], list[int]]:
    """The ranking form's rows (member id, choice: a rank "1"…, "" for no rank, "no" to
    refuse) → the ranked ids (by the chosen rank, ties in the page's order) and the refused
    ones."""
    if len(members) != len(choices) or not all(m.isdigit() and len(m) < 12 for m in members):
        raise BadInput(_("the form was not complete; please try again"), "choice")
    ranked: list[tuple[int, int, int]] = []
    refused = []
    for position, (other, chosen) in enumerate(zip(members, choices, strict=True)):
        if chosen == "no":
            refused.append(int(other))
        elif chosen.isdigit() and len(chosen) < 4:
            ranked.append((int(chosen), position, int(other)))
        elif chosen:
            raise BadInput(_("unknown choice %(value)s", value=repr(chosen)), "choice")
    return [other for _rank, _position, other in sorted(ranked)], refused
