"""The demo database behind ``make demo``: the demo street from ``seeds/demo_street.yaml``, demo
accounts, and tomorrow's nightly run."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.services.accounts.auth import add_user
from api.services.ledger.seed import seed_street
from api.services.offers.assign import local_today
from api.settings import Settings
from api.store.tables import Community, HelperRow, OfferRow, OrderRow, Street, UserRow
from matcher.catalogue import read_yaml
from matcher.generator import preset
from seeds import DEMO_STREET_PATH

DEMO_FILE = DEMO_STREET_PATH


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StreetEntry(_Strict):
    code: str
    name: str


class GeneratorEntry(_Strict):
    preset: str
    seed: int = 0


class Accounts(_Strict):
    password: str
    staff: str
    community_staff: str
    planner: str
    helper: str


class DemoFile(_Strict):
    street: StreetEntry
    generator: GeneratorEntry
    accounts: Accounts


@dataclass(frozen=True)
class DemoStreet:
    street_id: int
    created: bool
    date: dt.date
    accounts: Accounts


def load_demo_file(path: Path = DEMO_FILE) -> DemoFile:
    return DemoFile.model_validate(read_yaml(path))


def ensure_demo_street(
    sessions: sessionmaker[Session], settings: Settings, path: Path = DEMO_FILE
) -> DemoStreet:
    """Load the demo street with orders for tomorrow (local) unless the database has it, and the
    staff and planner accounts. Tomorrow's orders are added on a later day too."""
    demo = load_demo_file(path)
    tomorrow = local_today(settings) + dt.timedelta(days=1)
    spec = preset(demo.generator.preset, seed=demo.generator.seed)
    with sessions() as session:
        street = session.scalar(select(Street).where(Street.code == demo.street.code))
        created = street is None
        if street is None:
            street = seed_street(
                session, spec, code=demo.street.code, name=demo.street.name, order_date=tomorrow
            ).street
            _add_accounts(session, demo.accounts, street.id)
        elif not session.scalar(
            select(func.count()).where(OrderRow.street_id == street.id, OrderRow.date == tomorrow)
        ):
            _copy_latest_orders(session, street.id, tomorrow)
        session.commit()
        return DemoStreet(street.id, created, tomorrow, demo.accounts)


def _add_accounts(session: Session, accounts: Accounts, street_id: int) -> None:
    first = session.scalar(
        select(Community.id).where(Community.street_id == street_id).order_by(Community.id)
    )
    add_user(session, accounts.staff, accounts.password, "staff", street_id=street_id)
    add_user(
        session,
        accounts.community_staff,
        accounts.password,
        "staff",
        street_id=street_id,
        community_id=first,
    )
    add_user(session, accounts.planner, accounts.password, "planner", street_id=street_id)


def _copy_latest_orders(session: Session, street_id: int, date: dt.date) -> None:
    """A demo database from an earlier day gets the same orders again for ``date``."""
    latest = session.scalar(select(func.max(OrderRow.date)).where(OrderRow.street_id == street_id))
    for order in session.scalars(
        select(OrderRow).where(OrderRow.street_id == street_id, OrderRow.date == latest)
    ):
        session.add(
            OrderRow(
                street_id=street_id,
                resident_id=order.resident_id,
                item=order.item,
                date=date,
                window_start=order.window_start,
                window_end=order.window_end,
                flexible=order.flexible,
                priority=order.priority,
            )
        )


def ensure_demo_helper(sessions: sessionmaker[Session], demo: DemoStreet) -> str | None:
    """Tie the demo helper account to a helper holding pending offers (the most of anyone);
    returns that helper's name, or None when the run made no offers."""
    with sessions() as session:
        user = session.scalar(select(UserRow).where(UserRow.username == demo.accounts.helper))
        if user is not None and user.helper_id is not None:
            return _helper_name(session, user.helper_id)
        busiest = session.execute(
            select(OfferRow.helper_id, func.count().label("n"))
            .where(OfferRow.status == "pending")
            .group_by(OfferRow.helper_id)
            .order_by(func.count().desc(), OfferRow.helper_id)
            .limit(1)
        ).first()
        if busiest is None:
            return None
        add_user(
            session,
            demo.accounts.helper,
            demo.accounts.password,
            "helper",
            helper_id=busiest.helper_id,
        )
        session.commit()
        return _helper_name(session, busiest.helper_id)


def _helper_name(session: Session, helper_id: int) -> str:
    return session.get_one(HelperRow, helper_id).name
