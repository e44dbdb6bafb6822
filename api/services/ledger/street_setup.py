"""Setting up a real street from its file (``qunbang street init FILE.yaml``) and what street
staff see of it (``/s/street``).

``init_street`` creates the street, or updates it in place: names, settings, new communities,
grids and buildings, staff accounts, the street's own catalogue settings; all in one
transaction, so a refused file leaves the database as it was. Running the same file twice
changes nothing the second time. People are never deleted: a community, grid or building that
the file no longer names is removed only when nobody (helper, resident, account) belongs to it,
otherwise the file is refused; accounts the file no longer names are left as they are.

New accounts get a random password, returned once (the command prints it) and never stored
in the file or shown again. Catalogue settings are stored per street (``street_items``) and read
through ``api.services.ledger.street_catalogue``. The staff page edits the street through
``apply_street_file`` too (``api.services.ledger.street_edit``)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.i18n import N_
from api.i18n import gettext as _
from api.services.accounts.audit import audit
from api.services.accounts.auth import add_user
from api.services.actor import Actor
from api.services.errors import Conflict, Forbidden, NotFound
from api.services.files import file_errors
from api.services.ledger.seed import load_catalogue_rows
from api.services.ledger.street_catalogue import street_catalogue
from api.services.ledger.street_file import (
    Explain,
    StreetFile,
    StreetFileError,
    _pydantic_text,
    price_fen,
    read_street_file,
)
from api.store.statuses import OPEN_ORDER_STATUSES, OrderStatus, Role
from api.store.tables import (
    Building,
    Community,
    Grid,
    HelperRow,
    ItemRow,
    OrderRow,
    ResidentRow,
    Street,
    StreetItemRow,
    UserRow,
)

PASSWORD_BYTES = 12  # token_urlsafe: 16 characters

# What a change is about (message ids; the command prints them in its language).
STREET = N_("street")
SETTING = N_("setting")
COMMUNITY = N_("community")
GRID = N_("grid")
BUILDING = N_("building")
ACCOUNT = N_("staff account")
ITEM = N_("catalogue item")


@dataclass(frozen=True)
class SetupChange:
    """One thing ``init_street`` changed: ``action`` is added, changed or removed; ``what`` a
    message id above; ``code`` the thing's code; for a change, the field and both values."""

    action: str
    what: str
    code: str
    field: str = ""
    old: Any = None
    new: Any = None

    def text(self) -> str:
        what = _(self.what)
        if self.action == "added":
            return _("%(what)s %(code)s: added", what=what, code=self.code)
        if self.action == "removed":
            return _("%(what)s %(code)s: removed", what=what, code=self.code)
        return _(
            "%(what)s %(code)s: %(field)s %(old)s → %(new)s",
            what=what,
            code=self.code,
            field=self.field,
            old=_value(self.old),
            new=_value(self.new),
        )


def _value(value: Any) -> str:
    return "—" if value is None else str(value)


@dataclass
class StreetInit:
    """What ``init_street`` did: the street, whether it was created, every change (empty: the
    database already matched the file) and the passwords of the accounts it created."""

    street_id: int
    code: str
    created: bool
    changes: list[SetupChange] = field(default_factory=list)
    passwords: list[tuple[str, str]] = field(default_factory=list)  # (username, password)


def init_street(
    sessions: sessionmaker[Session], path: Path, explain: Explain = _pydantic_text
) -> StreetInit:
    """Create or update the street the file at ``path`` describes, in one transaction."""
    street_file = read_street_file(path, explain)
    with sessions() as session:
        try:
            result = apply_street_file(session, street_file, path)
        except Exception:
            session.rollback()
            raise
        session.commit()
        return result


def apply_street_file(
    session: Session,
    street_file: StreetFile,
    path: Path | str,
    user_id: int | None = None,
    action: str = "street.init",
) -> StreetInit:
    """Write ``street_file`` into the session's transaction (the caller commits or rolls back);
    refusals name ``path`` and the field. The audit entry names ``user_id`` (None: the command
    line) and ``action`` (``street.init``; ``street.edit`` from the staff page)."""
    load_catalogue_rows(session)
    _check_catalogue(session, street_file, path)
    street = session.scalar(select(Street).where(Street.code == street_file.code))
    if street is not None:
        _check_windows(session, street.id, street_file, path)
    created = street is None
    changes: list[SetupChange] = []
    if street is None:
        street = Street(code=street_file.code, name=street_file.name)
        session.add(street)
        session.flush()
        changes.append(SetupChange("added", STREET, street.code))
    result = StreetInit(street.id, street.code, created, changes)
    _update(
        street,
        STREET,
        street.code,
        changes,
        created,
        name=street_file.name,
        time_zone=street_file.time_zone,
    )
    settings = street_file.settings
    _update(
        street,
        SETTING,
        street.code,
        changes,
        created,
        order_horizon_days=settings.order_horizon_days,
        review_orders=settings.review_orders,
        default_deadline_hours=settings.default_deadline_hours,
        follow_up_categories=sorted(set(settings.follow_up_categories)),
        follow_up_sample_percent=settings.follow_up_sample_percent,
        follow_up_days=settings.follow_up_days,
    )
    community_ids = _places(session, street, street_file, path, changes)
    _staff(session, street, street_file, community_ids, path, result)
    _catalogue(session, street, street_file, changes)
    session.flush()
    if changes:
        audit(
            session,
            user_id,
            action,
            "street",
            street.id,
            {
                "file": str(path),
                "changes": len(changes),
                "created": created,
                "what": [[c.action, c.what, c.code, c.field] for c in changes[:50]],
            },
        )
    return result


def _update(
    row: Any, what: str, code: str, changes: list[SetupChange], quiet: bool, **values: Any
) -> bool:
    """Set each field of ``row`` that differs; ``quiet``: a new row (its adding is the change)."""
    changed = False
    for name, value in values.items():
        old = getattr(row, name)
        if old != value:
            setattr(row, name, value)
            changed = True
            if not quiet:
                changes.append(SetupChange("changed", what, code, name, old, value))
    return changed


# ----------------------------------------------------------------------------- places


def _places(
    session: Session,
    street: Street,
    street_file: StreetFile,
    path: Path | str,
    changes: list[SetupChange],
) -> dict[str, int]:
    """Communities, grids and buildings as the file has them; community code -> id."""
    communities = {
        c.code: c
        for c in session.scalars(select(Community).where(Community.street_id == street.id))
    }
    grids = _by_parent(session, Grid, Grid.community_id, [c.id for c in communities.values()])
    buildings = _by_parent(
        session,
        Building,
        Building.grid_id,
        [g.id for rows in grids.values() for g in rows.values()],
    )
    _refuse_removals(session, street_file, communities, grids, buildings, path)
    # Additions and renames, level by level (a level's new rows get their ids in one flush).
    wanted_communities: list[tuple[Community, Any]] = []
    for entry in street_file.communities:
        community = communities.get(entry.code)
        if community is None:
            community = Community(street_id=street.id, code=entry.code, name=entry.name)
            session.add(community)
            changes.append(SetupChange("added", COMMUNITY, entry.code))
        else:
            _update(community, COMMUNITY, entry.code, changes, False, name=entry.name)
        wanted_communities.append((community, entry))
    session.flush()
    wanted_grids: list[tuple[Grid, Any, str]] = []
    for community, entry in wanted_communities:
        known = grids.get(community.id, {})
        for grid_entry in entry.grids:
            code = f"{entry.code}/{grid_entry.code}"
            grid = known.get(grid_entry.code)
            if grid is None:
                grid = Grid(community_id=community.id, code=grid_entry.code, name=grid_entry.name)
                session.add(grid)
                changes.append(SetupChange("added", GRID, code))
            else:
                _update(grid, GRID, code, changes, False, name=grid_entry.name)
            wanted_grids.append((grid, grid_entry, code))
    session.flush()
    for grid, grid_entry, grid_code in wanted_grids:
        known_buildings = buildings.get(grid.id, {})
        for building_entry in grid_entry.buildings:
            code = f"{grid_code}/{building_entry.code}"
            building = known_buildings.get(building_entry.code)
            if building is None:
                session.add(
                    Building(grid_id=grid.id, code=building_entry.code, name=building_entry.name)
                )
                changes.append(SetupChange("added", BUILDING, code))
            else:
                _update(building, BUILDING, code, changes, False, name=building_entry.name)
    _remove_unnamed(session, street_file, communities, grids, buildings, changes)
    session.flush()
    return {community.code: community.id for community, _entry in wanted_communities}


def _by_parent(
    session: Session, table: Any, parent: Any, ids: list[int]
) -> dict[int, dict[str, Any]]:
    """Rows of ``table`` under the parents ``ids``: parent id -> code -> row."""
    found: dict[int, dict[str, Any]] = {}
    if not ids:
        return found
    for row in session.scalars(select(table).where(parent.in_(ids))):
        found.setdefault(getattr(row, parent.key), {})[row.code] = row
    return found


def _unnamed(
    street_file: StreetFile,
    communities: dict[str, Community],
    grids: dict[int, dict[str, Grid]],
    buildings: dict[int, dict[str, Building]],
) -> tuple[list[Community], list[Grid], list[Building]]:
    """What the database has and the file no longer names: whole communities, grids of kept
    communities and buildings of kept grids."""
    named = {c.code: c for c in street_file.communities}
    gone_communities = [c for code, c in communities.items() if code not in named]
    gone_grids: list[Grid] = []
    gone_buildings: list[Building] = []
    for code, community in communities.items():
        entry = named.get(code)
        rows = grids.get(community.id, {})
        if entry is None:
            gone_grids += rows.values()
            for grid in rows.values():
                gone_buildings += buildings.get(grid.id, {}).values()
            continue
        named_grids = {g.code: g for g in entry.grids}
        for grid_code, grid in rows.items():
            grid_entry = named_grids.get(grid_code)
            building_rows = buildings.get(grid.id, {})
            if grid_entry is None:
                gone_grids.append(grid)
                gone_buildings += building_rows.values()
                continue
            named_buildings = {b.code for b in grid_entry.buildings}
            gone_buildings += [b for c, b in building_rows.items() if c not in named_buildings]
    return gone_communities, gone_grids, gone_buildings


def _refuse_removals(
    session: Session,
    street_file: StreetFile,
    communities: dict[str, Community],
    grids: dict[int, dict[str, Grid]],
    buildings: dict[int, dict[str, Building]],
    path: Path | str,
) -> None:
    """A community, grid or building the file leaves out while people still belong to it:
    refused, naming each with how many people and accounts it holds."""
    gone_communities, gone_grids, gone_buildings = _unnamed(
        street_file, communities, grids, buildings
    )
    lines: list[str] = []
    community_codes = {c.id: c.code for c in communities.values()}
    for community in gone_communities:
        people = _count(session, HelperRow.community_id, ResidentRow.community_id, [community.id])
        accounts = (
            session.scalar(
                select(func.count())
                .select_from(UserRow)
                .where(UserRow.community_id == community.id)
            )
            or 0
        )
        if people or accounts:
            lines.append(_refusal(COMMUNITY, community.code, people, accounts))
    for grid in gone_grids:
        if grid.community_id in {c.id for c in gone_communities}:
            continue  # said with its community
        people = _count(session, HelperRow.grid_id, ResidentRow.grid_id, [grid.id])
        accounts = (  # its grid worker: removing the grid would leave them without one
            session.scalar(
                select(func.count()).select_from(UserRow).where(UserRow.grid_id == grid.id)
            )
            or 0
        )
        if people or accounts:
            where = f"{community_codes[grid.community_id]}/{grid.code}"
            lines.append(_refusal(GRID, where, people, accounts))
    gone_grid_ids = {g.id for g in gone_grids}
    for building in gone_buildings:
        if building.grid_id in gone_grid_ids:
            continue
        people = _count(session, HelperRow.building_id, ResidentRow.building_id, [building.id])
        if people:
            lines.append(_refusal(BUILDING, building.code, people, 0))
    if lines:
        raise Conflict(file_errors(path, lines), "communities")


def _count(session: Session, helper_column: Any, resident_column: Any, ids: list[int]) -> int:
    helpers = session.scalar(select(func.count()).where(helper_column.in_(ids))) or 0
    residents = session.scalar(select(func.count()).where(resident_column.in_(ids))) or 0
    return helpers + residents


def _refusal(what: str, code: str, people: int, accounts: int) -> str:
    return _(
        "communities: %(what)s %(code)s is not in the file but %(people)s people and "
        "%(accounts)s staff accounts belong to it; move them first (nobody is deleted)",
        what=_(what),
        code=repr(code),
        people=people,
        accounts=accounts,
    )


def _remove_unnamed(
    session: Session,
    street_file: StreetFile,
    communities: dict[str, Community],
    grids: dict[int, dict[str, Grid]],
    buildings: dict[int, dict[str, Building]],
    changes: list[SetupChange],
) -> None:
    """Delete the empty places the file no longer names (checked empty: ``_refuse_removals``)."""
    gone_communities, gone_grids, gone_buildings = _unnamed(
        street_file, communities, grids, buildings
    )
    for building in gone_buildings:
        session.delete(building)
        changes.append(SetupChange("removed", BUILDING, building.code))
    session.flush()
    for grid in gone_grids:
        session.delete(grid)
        changes.append(SetupChange("removed", GRID, grid.code))
    session.flush()
    for community in gone_communities:
        session.delete(community)
        changes.append(SetupChange("removed", COMMUNITY, community.code))


# ----------------------------------------------------------------------------- accounts


def _staff(
    session: Session,
    street: Street,
    street_file: StreetFile,
    community_ids: dict[str, int],
    path: Path | str,
    result: StreetInit,
) -> None:
    """Create the accounts the file names (a password each, returned once); update the name,
    role and community of the street's own; an account of anyone else is refused."""
    usernames = [entry.username for entry in street_file.staff]
    users = (
        {
            u.username: u
            for u in session.scalars(select(UserRow).where(UserRow.username.in_(usernames)))
        }
        if usernames
        else {}
    )
    grid_ids = _grid_ids(session, community_ids)
    for index, entry in enumerate(street_file.staff):
        community_id = community_ids[entry.community] if entry.community else None
        grid_id = grid_ids[(entry.community or "", entry.grid)] if entry.grid else None
        display = entry.name or entry.username
        user = users.get(entry.username)
        if user is None:
            password = secrets.token_urlsafe(PASSWORD_BYTES)
            add_user(
                session,
                entry.username,
                password,
                entry.role,
                street_id=street.id,
                community_id=community_id,
                display_name=display,
                grid_id=grid_id,
            )
            result.passwords.append((entry.username, password))
            result.changes.append(SetupChange("added", ACCOUNT, entry.username))
            continue
        if user.street_id != street.id or user.role not in STAFF_ROLES:
            raise Conflict(
                file_errors(
                    path,
                    [
                        _(
                            "%(where)s: the username %(value)s is taken by an account of another "
                            "street or role",
                            where=f"staff[{index}].username",
                            value=repr(entry.username),
                        )
                    ],
                ),
                "staff",
            )
        _update(
            user,
            ACCOUNT,
            user.username,
            result.changes,
            False,
            display_name=display,
            role=entry.role,
            community_id=community_id,
            grid_id=grid_id,
        )


STAFF_ROLES = (Role.STAFF, Role.PLANNER, Role.GRID_WORKER)  # the accounts a street file names


def _grid_ids(session: Session, community_ids: dict[str, int]) -> dict[tuple[str, str], int]:
    """(community code, grid code) -> grid id, for the grid workers' grids."""
    codes = {community_id: code for code, community_id in community_ids.items()}
    rows = session.execute(
        select(Grid.community_id, Grid.code, Grid.id).where(
            Grid.community_id.in_(list(codes) or [-1])
        )
    )
    return {(codes[community_id], code): grid_id for community_id, code, grid_id in rows}


# ----------------------------------------------------------------------------- catalogue


def _check_catalogue(session: Session, street_file: StreetFile, path: Path | str) -> None:
    """Each item the file sets is in the catalogue; a price only for a paid item."""
    items = {row.code: row for row in session.scalars(select(ItemRow))}
    lines: list[str] = []
    for code, entry in street_file.catalogue.items():
        item = items.get(code)
        if item is None:
            lines.append(
                _(
                    "%(where)s: no catalogue item with code %(value)s",
                    where=f"catalogue.{code}",
                    value=repr(code),
                )
            )
        elif entry.price_yuan is not None and not item.paid:
            lines.append(
                _(
                    "%(where)s: item %(code)s is free; only paid items have a price "
                    "(got %(value)s)",
                    where=f"catalogue.{code}.price_yuan",
                    code=code,
                    value=repr(entry.price_yuan),
                )
            )
    if lines:
        raise StreetFileError(file_errors(path, lines), "catalogue")


def _check_windows(
    session: Session, street_id: int, street_file: StreetFile, path: Path | str
) -> None:
    """A longer duration must still fit the window of every order of the item that is not
    over yet (the matcher refuses a window shorter than its visit): refused, naming them."""
    lines: list[str] = []
    for code, entry in sorted(street_file.catalogue.items()):
        duration = entry.duration_min
        if duration is None:
            duration = session.scalar(select(ItemRow.duration_min).where(ItemRow.code == code))
        too_short = session.scalars(
            select(OrderRow.id)
            .where(
                OrderRow.street_id == street_id,
                OrderRow.item == code,
                OrderRow.status.in_((*OPEN_ORDER_STATUSES, OrderStatus.DONE)),
                OrderRow.window_start.is_not(None),
                OrderRow.window_end - OrderRow.window_start < (duration or 0),
            )
            .order_by(OrderRow.id)
        ).all()
        if too_short:
            lines.append(
                _(
                    "%(where)s: %(value)s minutes do not fit the window of %(count)s orders "
                    "not over yet (e.g. order %(order)s); change those orders first",
                    where=f"catalogue.{code}.duration_min",
                    value=duration,
                    count=len(too_short),
                    order=too_short[0],
                )
            )
    if lines:
        raise StreetFileError(file_errors(path, lines), "catalogue")


def _catalogue(
    session: Session, street: Street, street_file: StreetFile, changes: list[SetupChange]
) -> None:
    """The street's item settings as the file has them; items it does not name go back to the
    catalogue's (their row is deleted: it held settings, not people)."""
    rows = {
        r.item: r
        for r in session.scalars(select(StreetItemRow).where(StreetItemRow.street_id == street.id))
    }
    for code, entry in sorted(street_file.catalogue.items()):
        values = {
            "active": entry.enabled,
            "duration_min": entry.duration_min,
            "team_size": entry.team_size,
            "price_fen": price_fen(entry.price_yuan),
        }
        row = rows.pop(code, None)
        if row is None:
            session.add(StreetItemRow(street_id=street.id, item=code, **values))
            changes.append(SetupChange("added", ITEM, code))
        else:
            _update(row, ITEM, code, changes, False, **values)
    for code, row in sorted(rows.items()):
        session.delete(row)
        changes.append(SetupChange("removed", ITEM, code))


# ----------------------------------------------------------------------------- the page


class BuildingView(BaseModel):
    code: str
    name: str
    people: int


class GridView(BaseModel):
    code: str
    name: str
    people: int
    buildings: list[BuildingView]


class CommunityView(BaseModel):
    code: str
    name: str
    people: int
    grids: list[GridView]


class ItemView(BaseModel):
    code: str
    name_zh: str
    name_en: str
    paid: bool
    enabled: bool
    duration_min: int  # as the street has it (its own, else the catalogue's)
    team_size: int
    price_yuan: float | None
    own_duration: bool
    own_team_size: bool
    own: bool = False  # the street has its own setting of this item


class StaffAccountView(BaseModel):
    username: str
    display_name: str
    role: str
    community: str | None
    active: bool
    grid: str | None = None  # a grid worker's grid (its name); None: not assigned one


class StreetView(BaseModel):
    street_id: int
    code: str
    name: str
    time_zone: str
    order_horizon_days: int
    review_orders: bool
    default_deadline_hours: int
    communities: list[CommunityView]
    items: list[ItemView]
    accounts: list[StaffAccountView]
    whole_street: bool  # False: community staff see their own community only


def street_view(session: Session, actor: Actor) -> StreetView:
    """The street's set-up as its file made it, for its staff: community staff see their own
    community (and the street's settings and catalogue), street staff all of it."""
    if actor.role != Role.STAFF or actor.street_id is None:
        raise Forbidden(_("only staff see the street's set-up"))
    street = session.get(Street, actor.street_id)
    if street is None:
        raise NotFound(_("no such street"))
    query = select(Community).where(Community.street_id == street.id).order_by(Community.code)
    if actor.community_id is not None:
        query = query.where(Community.id == actor.community_id)
    communities = list(session.scalars(query))
    community_ids = [c.id for c in communities]
    grids = _by_parent(session, Grid, Grid.community_id, community_ids)
    grid_ids = [g.id for rows in grids.values() for g in rows.values()]
    buildings = _by_parent(session, Building, Building.grid_id, grid_ids)
    people = _people_by(session, community_ids)
    return StreetView(
        street_id=street.id,
        code=street.code,
        name=street.name,
        time_zone=street.time_zone,
        order_horizon_days=street.order_horizon_days,
        review_orders=street.review_orders,
        default_deadline_hours=street.default_deadline_hours,
        communities=[
            CommunityView(
                code=c.code,
                name=c.name,
                people=people.get(("community", c.id), 0),
                grids=[
                    GridView(
                        code=g.code,
                        name=g.name,
                        people=people.get(("grid", g.id), 0),
                        buildings=[
                            BuildingView(
                                code=b.code, name=b.name, people=people.get(("building", b.id), 0)
                            )
                            for b in sorted(buildings.get(g.id, {}).values(), key=_code)
                        ],
                    )
                    for g in sorted(grids.get(c.id, {}).values(), key=_code)
                ],
            )
            for c in communities
        ],
        items=_items(session, street.id),
        accounts=_accounts(session, street.id, actor.community_id, communities),
        whole_street=actor.community_id is None,
    )


def _code(row: Any) -> str:
    return str(row.code)


def _people_by(session: Session, community_ids: Sequence[int]) -> dict[tuple[str, int], int]:
    """Active helpers and residents per community, grid and building."""
    counts: dict[tuple[str, int], int] = {}
    if not community_ids:
        return counts
    for table in (HelperRow, ResidentRow):
        rows = session.execute(
            select(table.community_id, table.grid_id, table.building_id, func.count())
            .where(table.community_id.in_(community_ids), table.active.is_(True))
            .group_by(table.community_id, table.grid_id, table.building_id)
        )
        for community_id, grid_id, building_id, n in rows:
            places = (("community", community_id), ("grid", grid_id), ("building", building_id))
            for kind, place_id in places:
                if place_id is not None:
                    counts[(kind, place_id)] = counts.get((kind, place_id), 0) + n
    return counts


def _items(session: Session, street_id: int) -> list[ItemView]:
    """Every catalogue item as the street has it (``street_catalogue``), marked where the
    street sets its own value."""
    return [
        ItemView(
            code=item.code,
            name_zh=item.name_zh,
            name_en=item.name_en,
            paid=item.paid,
            enabled=item.active,
            duration_min=item.duration_min,
            team_size=item.team_size,
            price_yuan=item.price_yuan,
            own_duration=item.own_duration,
            own_team_size=item.own_team_size,
            own=item.own_enabled,
        )
        for item in street_catalogue(session, street_id).items.values()
    ]


def _accounts(
    session: Session, street_id: int, community_id: int | None, communities: list[Community]
) -> list[StaffAccountView]:
    codes = {c.id: c.code for c in communities}
    grids: dict[int, str] = {
        grid_id: name
        for grid_id, name in session.execute(
            select(Grid.id, Grid.name).where(Grid.community_id.in_(list(codes) or [-1]))
        )
    }
    query = select(UserRow).where(UserRow.street_id == street_id, UserRow.role.in_(STAFF_ROLES))
    if community_id is not None:
        query = query.where(UserRow.community_id == community_id)
    return [
        StaffAccountView(
            username=u.username,
            display_name=u.display_name,
            role=u.role,
            community=codes.get(u.community_id) if u.community_id else None,
            active=u.active,
            grid=grids.get(u.grid_id) if u.grid_id else None,
        )
        for u in session.scalars(query.order_by(UserRow.username))
    ]
