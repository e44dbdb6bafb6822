"""The database tables (SQLAlchemy 2). Tables are not API schemas and not matcher models: the
conversions live in ``api.services`` (one place each).

Times are naive UTC (``utcnow``); dates and minutes-after-midnight of a visit are local street time.
History is never hard-deleted: people are deactivated, offers change status, points are reversed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from api.store.statuses import (
    LIVE_ASSIGNMENT_STATUSES,
    LIVE_OFFER_STATUSES,
    OPEN_ORDER_STATUSES,  # noqa: F401  (re-exported: services import the live sets from here)
    AssignmentSource,
    AssignmentStatus,
    ClaimForm,
    FamilyLinkStatus,
    FollowUpReason,
    FollowUpStatus,
    HoursKind,
    HoursSource,
    NotificationKind,
    NotificationStatus,
    OfferStatus,
    OrderStatus,
    PairStatus,
    PartnerKind,
    ProgrammeFavour,
    RedemptionStatus,
    Role,
    RunKind,
    RunStatus,
    ShopItemKind,
    WishKind,
    WishStatus,
    sql_in,
)
from matcher.circles import StaffChoice

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


def _created() -> Mapped[dt.datetime]:
    return mapped_column(DateTime, default=utcnow, nullable=False)


# ----------------------------------------------------------------------------- places


class Street(Base):
    __tablename__ = "streets"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Orders may be placed for today … today + this many days (street-local).
    order_horizon_days: Mapped[int] = mapped_column(Integer, default=90, server_default="90")
    # Set by ``qunbang street init`` (migration 0006): the street's IANA time zone (stored; the
    # service still reads ``Settings.timezone``), whether residents' orders wait for community
    # staff to review them, and the promised deadline of an order when its item sets none.
    time_zone: Mapped[str] = mapped_column(
        String(64), default="Asia/Shanghai", server_default="Asia/Shanghai"
    )
    review_orders: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    default_deadline_hours: Mapped[int] = mapped_column(Integer, default=72, server_default="72")
    # Follow-up visits by rule (migration 0010, ``api.services.closing.follow_ups``): every
    # confirmed order of these resident categories, this share (percent) of the other confirmed
    # orders, drawn by a hash of the order's id, each due this many days after the visit (None:
    # the service's ``follow_up_days``); every low score is followed up in any case.
    follow_up_categories: Mapped[list[Any]] = mapped_column(
        default=list, server_default=text("'[]'")
    )
    follow_up_sample_percent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    follow_up_days: Mapped[int | None] = mapped_column(Integer)
    # The circle target (migration 0012, ``matcher.circle_plan.CircleTarget``): residents of
    # these categories should have at least this many circle members covering their usual skills.
    circle_size: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    circle_categories: Mapped[list[Any]] = mapped_column(
        default=lambda: ["living_alone"], server_default=text("'[\"living_alone\"]'")
    )


class Community(Base):
    __tablename__ = "communities"
    __table_args__ = (UniqueConstraint("street_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))


class Grid(Base):
    __tablename__ = "grids"
    __table_args__ = (UniqueConstraint("community_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))


class Building(Base):
    """A building (楼栋) of a grid."""

    __tablename__ = "buildings"
    __table_args__ = (UniqueConstraint("grid_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))


# ----------------------------------------------------------------------------- catalogue


class SkillRow(Base):
    __tablename__ = "skills"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))


class CategoryRow(Base):
    __tablename__ = "categories"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    paid: Mapped[bool] = mapped_column(Boolean)


class ItemRow(Base):
    __tablename__ = "service_items"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(ForeignKey("categories.code"))
    paid: Mapped[bool] = mapped_column(Boolean)
    required_skills: Mapped[list[Any]] = mapped_column(default=list)
    lead_skill: Mapped[str | None] = mapped_column(String(64))
    duration_min: Mapped[int] = mapped_column(Integer)
    team_size: Mapped[int] = mapped_column(Integer, default=1)
    max_distance_km: Mapped[float | None] = mapped_column(Float)
    points: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class StreetItemRow(Base):
    """A street's own setting of a catalogue item (``qunbang street init``): enabled or not,
    and a duration, team size and price (in fen, for paid items) replacing the shipped
    catalogue's; None keeps the catalogue's. Items a street does not name use the catalogue.
    Read through ``api.services.ledger.street_catalogue`` (the one overlay)."""

    __tablename__ = "street_items"
    __table_args__ = (
        CheckConstraint("duration_min IS NULL OR duration_min > 0", name="duration_min"),
        CheckConstraint("team_size IS NULL OR team_size >= 1", name="team_size"),
        CheckConstraint("price_fen IS NULL OR price_fen >= 0", name="price_fen"),
    )
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), primary_key=True)
    item: Mapped[str] = mapped_column(ForeignKey("service_items.code"), primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    duration_min: Mapped[int | None] = mapped_column(Integer)
    team_size: Mapped[int | None] = mapped_column(Integer)
    price_fen: Mapped[int | None] = mapped_column(Integer)  # 1 yuan = 100 fen


# ----------------------------------------------------------------------------- the ledger (台账)


class HelperRow(Base):
    """A resource-type resident who accepts orders."""

    __tablename__ = "helpers"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)  # the office's ledger number
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id"))
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(32), default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    kind: Mapped[str] = mapped_column(String(32))
    skills: Mapped[list[Any]] = mapped_column(default=list)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    radius_km: Mapped[float] = mapped_column(Float, default=3.0)
    max_orders: Mapped[int] = mapped_column(Integer, default=3)
    max_minutes: Mapped[int] = mapped_column(Integer, default=240)
    # Daily windows [[start, end], ...] in minutes after midnight.
    availability: Mapped[list[Any]] = mapped_column(default=lambda: [[0, 1440]])
    languages: Mapped[list[Any]] = mapped_column(default=lambda: ["zh"])
    gender: Mapped[str | None] = mapped_column(String(8))
    speed_kmh: Mapped[float | None] = mapped_column(Float)
    blocked_residents: Mapped[list[Any]] = mapped_column(default=list)  # resident codes
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = _created()
    deactivated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # The helper's own time (migration 0014, ``api.services.hours.own_time``), binding matching
    # from ``own_time_from`` (street-local, the day after they last changed it) on: per weekday
    # (0 = Monday) None (their usual ``availability``) or windows narrowing it; leave dates
    # (ISO); paused through ``paused_until`` ("pause this week").
    week_hours: Mapped[list[Any] | None] = mapped_column()
    leave_dates: Mapped[list[Any]] = mapped_column(default=list, server_default=text("'[]'"))
    paused_until: Mapped[dt.date | None] = mapped_column(Date)
    own_time_from: Mapped[dt.date | None] = mapped_column(Date)

    community: Mapped[Community] = relationship(lazy="joined")


class ResidentRow(Base):
    """A service-type resident who places orders."""

    __tablename__ = "residents"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id"))
    name: Mapped[str] = mapped_column(String(100))
    id_card_tail: Mapped[str] = mapped_column(String(8), default="")  # last digits of the ID card
    phone: Mapped[str] = mapped_column(String(32), default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    category: Mapped[str] = mapped_column(String(32))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    priority_weight: Mapped[float] = mapped_column(Float, default=1.0)
    language: Mapped[str | None] = mapped_column(String(16))
    preferred_gender: Mapped[str | None] = mapped_column(String(8))
    circle: Mapped[list[Any]] = mapped_column(default=list)  # helper codes from the ledger
    # The same person is also a helper (资源型 and 服务型 at once: an elderly resident who
    # volunteers); migration 0009. At most one resident record per helper record.
    helper_id: Mapped[int | None] = mapped_column(ForeignKey("helpers.id"), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = _created()
    deactivated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    community: Mapped[Community] = relationship(lazy="joined")


class ManagedPersonRow(Base):
    """A management-type person (管理型): someone the office looks after through grid visits
    rather than orders (migration 0009). Never matched and never shown to helpers or planners
    (planners see counts); street staff, staff of the person's community and (with that role)
    the grid's worker see them: ``api.services.ledger.managed``."""

    __tablename__ = "managed_people"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)  # the office's ledger number
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"), index=True)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id"))
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(32), default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    note: Mapped[str] = mapped_column(Text, default="")  # why the office looks after them
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = _created()
    deactivated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


# ----------------------------------------------------------------------------- orders


class OrderSeries(Base):
    """A recurring order, e.g. every Tuesday 9-10; it produces dated occurrences (orders)."""

    __tablename__ = "order_series"
    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    item: Mapped[str] = mapped_column(ForeignKey("service_items.code"))
    weekdays: Mapped[list[Any]] = mapped_column()  # 0 = Monday … 6 = Sunday
    window_start: Mapped[int | None] = mapped_column(Integer)
    window_end: Mapped[int | None] = mapped_column(Integer)
    flexible: Mapped[bool] = mapped_column(Boolean, default=False)
    priority: Mapped[int] = mapped_column(Integer, default=1)
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = _created()


class OrderRow(Base):
    """One dated order (点单). ``status`` follows the loop:
    open → offered → assigned (every member accepted) → done (a helper) → confirmed (staff);
    or cancelled. A decline or expiry takes an offered/assigned order back to matching. Where the
    street reviews orders, one a resident, family member or grid worker entered starts in
    review and goes to open (approved) or rejected."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("series_id", "date"),
        CheckConstraint(sql_in("status", OrderStatus), name="status"),
        Index("ix_orders_street_date_status", "street_id", "date", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    item: Mapped[str] = mapped_column(ForeignKey("service_items.code"))
    date: Mapped[dt.date] = mapped_column(Date)
    window_start: Mapped[int | None] = mapped_column(Integer)
    window_end: Mapped[int | None] = mapped_column(Integer)
    flexible: Mapped[bool] = mapped_column(Boolean, default=False)
    priority: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="open")
    series_id: Mapped[int | None] = mapped_column(ForeignKey("order_series.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    placed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    placed_at: Mapped[dt.datetime] = _created()
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
    # Bumped on every status change: claims and offers use it for compare-and-set updates.
    version: Mapped[int] = mapped_column(Integer, default=0)
    # The closed loop (五定): who answers for the order (首接负责: the staff member who entered
    # it; None until one takes it), when its result is promised (定时限), and the date first
    # asked for (``date`` moves on while an order nobody could take rolls over to later runs).
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_at: Mapped[dt.datetime | None] = mapped_column(DateTime, index=True)
    first_date: Mapped[dt.date | None] = mapped_column(Date)
    # The review step (社区下单, migration 0008): who approved or rejected the order and when,
    # and why it was rejected (the requester reads it). ``placed_by`` is who entered it.
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    reject_reason: Mapped[str] = mapped_column(Text, default="", server_default="")

    resident: Mapped[ResidentRow] = relationship(lazy="joined")


# ----------------------------------------------------------------------------- matching


class RunRow(Base):
    """One matching run. Written as ``running`` first (its own commit); the offers and the final
    figures land together in one transaction, so a run that dies leaves only this record."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_street_date", "street_id", "date"),
        CheckConstraint(sql_in("status", RunStatus), name="status"),
        CheckConstraint(sql_in("kind", RunKind), name="kind"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"))
    date: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16), default="nightly")  # nightly | rematch
    status: Mapped[str] = mapped_column(String(16), default="running")  # running|done|failed
    trigger: Mapped[str] = mapped_column(String(32), default="cli")
    started_at: Mapped[dt.datetime] = _created()
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    figures: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    started_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class RunUnmatched(Base):
    """Why a run could not match an order, as data: the matcher's reason and its facts
    (``params``: ``matcher.result.WhyParams`` as JSON), and the outranking order; sentences are
    made from them where they are shown (``api.services.matching.explain_text``).

    Rows written before migration 0004 have no ``params``: their stored sentences
    (``explanation_zh``/``explanation_en``, no longer written) are shown as they are."""

    __tablename__ = "run_unmatched"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any] | None] = mapped_column()
    explanation_zh: Mapped[str | None] = mapped_column(Text)
    explanation_en: Mapped[str | None] = mapped_column(Text)
    outranked_by: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))


class OrderReserve(Base):
    """Per order, the helpers the last nightly run ranked next after its team
    (``matcher.reserve``), cheapest first: a decline's re-match asks them first. A hint,
    replaced by each run; the re-match still solves with each helper's day as it is then."""

    __tablename__ = "order_reserves"
    order_id: Mapped[int] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    helper_ids: Mapped[list[Any]] = mapped_column()
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))


class ClaimRow(Base):
    """A claim by a helper: single (单独认领), team (集体认领) or bundle (打包认领)."""

    __tablename__ = "claims"
    __table_args__ = (CheckConstraint(sql_in("form", ClaimForm), name="form"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    form: Mapped[str] = mapped_column(String(16))  # single | team | bundle
    helper_id: Mapped[int] = mapped_column(ForeignKey("helpers.id"), index=True)
    created_at: Mapped[dt.datetime] = _created()


LIVE_ASSIGNMENT = sql_in("status", LIVE_ASSIGNMENT_STATUSES)
SERVED_ASSIGNMENT = sql_in("status", (AssignmentStatus.DONE, AssignmentStatus.CONFIRMED))


class AssignmentRow(Base):
    """An order given to a team. At most one live assignment per order (a partial unique index),
    which is what makes two simultaneous claims of one order end with exactly one winner."""

    __tablename__ = "assignments"
    __table_args__ = (
        Index(
            "uq_assignments_live_order",
            "order_id",
            unique=True,
            sqlite_where=text(LIVE_ASSIGNMENT),
            postgresql_where=text(LIVE_ASSIGNMENT),
        ),
        # A care circle's visits follow residents' orders into their served assignments
        # (migration 0017): the index alone answers, not a hash of the city's assignments.
        Index(
            "ix_assignments_served_order",
            "order_id",
            "id",
            sqlite_where=text(SERVED_ASSIGNMENT),
            postgresql_where=text(SERVED_ASSIGNMENT),
        ),
        # The run page's overridden teams of a date (``dispatch.overrides_on``): a few rows of
        # the city's assignments (migration 0020), not a scan of them all.
        Index(
            "ix_assignments_override_order",
            "order_id",
            sqlite_where=text("override_reason <> ''"),
            postgresql_where=text("override_reason <> ''"),
        ),
        CheckConstraint(sql_in("status", AssignmentStatus), name="status"),
        CheckConstraint(sql_in("source", AssignmentSource), name="source"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"))
    source: Mapped[str] = mapped_column(String(16))  # nightly | rematch | claim | manual
    start_minute: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[dt.datetime] = _created()
    done_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    done_by: Mapped[int | None] = mapped_column(ForeignKey("helpers.id"))
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # withdrawn or cancelled
    # Staff sent this team although it breaks a hard rule: why (audited, shown on the run page).
    override_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    override_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    order: Mapped[OrderRow] = relationship(lazy="joined")
    offers: Mapped[list[OfferRow]] = relationship(back_populates="assignment", lazy="selectin")


LIVE_OFFER = sql_in("status", LIVE_OFFER_STATUSES)
ACCEPTED_OFFER = sql_in("status", (OfferStatus.ACCEPTED,))


class OfferRow(Base):
    """One team member's offer: pending → accepted | declined | expired | withdrawn."""

    __tablename__ = "offers"
    __table_args__ = (
        Index(
            "uq_offers_live_member",
            "assignment_id",
            "helper_id",
            unique=True,
            sqlite_where=text(LIVE_OFFER),
            postgresql_where=text(LIVE_OFFER),
        ),
        Index("ix_offers_helper_status", "helper_id", "status"),
        # … and from there to the accepted members (migration 0017).
        Index(
            "ix_offers_accepted_assignment",
            "assignment_id",
            "helper_id",
            sqlite_where=text(ACCEPTED_OFFER),
            postgresql_where=text(ACCEPTED_OFFER),
        ),
        CheckConstraint(sql_in("status", OfferStatus), name="status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    helper_id: Mapped[int] = mapped_column(ForeignKey("helpers.id"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    offered_at: Mapped[dt.datetime] = _created()
    respond_by: Mapped[dt.datetime] = mapped_column(DateTime)
    responded_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    decline_reason: Mapped[str] = mapped_column(Text, default="")
    reminded_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    distance_km: Mapped[float | None] = mapped_column(Float)  # one way, as the matcher sees it

    assignment: Mapped[AssignmentRow] = relationship(back_populates="offers", lazy="joined")
    helper: Mapped[HelperRow] = relationship(lazy="joined")


# ----------------------------------------------------------------------------- pairing programmes


class ProgrammeRow(Base):
    """A two-way pairing programme of a street (双向自主选择, e.g. 周末妈妈): a season, a
    rhythm (the weekdays and time window of its visits, of ``item``), each helper's capacity
    (residents) and each resident's (helpers), the shortlist length, the programme's rules on
    top of the matcher's (a distance cap, the resident's gender preference as a hard rule) and
    which stable matching it takes (``favour``). ``api.services.programmes``; migration 0013."""

    __tablename__ = "programmes"
    __table_args__ = (
        CheckConstraint(sql_in("favour", ProgrammeFavour), name="favour"),
        CheckConstraint("helper_capacity >= 1", name="helper_capacity"),
        CheckConstraint("resident_capacity >= 1", name="resident_capacity"),
        CheckConstraint("shortlist_size >= 1", name="shortlist_size"),
        CheckConstraint("end_date >= start_date", name="season"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    item: Mapped[str] = mapped_column(ForeignKey("service_items.code"))
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date] = mapped_column(Date)
    weekdays: Mapped[list[Any]] = mapped_column()  # 0 = Monday … 6 = Sunday
    window_start: Mapped[int | None] = mapped_column(Integer)
    window_end: Mapped[int | None] = mapped_column(Integer)
    helper_capacity: Mapped[int] = mapped_column(Integer, default=1)
    resident_capacity: Mapped[int] = mapped_column(Integer, default=1)
    shortlist_size: Mapped[int] = mapped_column(Integer, default=5)
    max_km: Mapped[float | None] = mapped_column(Float)
    gender_preference: Mapped[bool] = mapped_column(Boolean, default=False)
    favour: Mapped[str] = mapped_column(String(16), default=ProgrammeFavour.RESIDENTS)
    note: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = _created()


class ProgrammeMemberRow(Base):
    """A resident or a helper enrolled in a programme, with their ranking of their shortlist
    (the other side's member ids, first choice first) and the entries they refused."""

    __tablename__ = "programme_members"
    __table_args__ = (
        UniqueConstraint("programme_id", "resident_id"),
        UniqueConstraint("programme_id", "helper_id"),
        CheckConstraint("(resident_id IS NULL) <> (helper_id IS NULL)", name="one_person"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"))
    helper_id: Mapped[int | None] = mapped_column(ForeignKey("helpers.id"))
    ranking: Mapped[list[Any]] = mapped_column(default=list)
    refused: Mapped[list[Any]] = mapped_column(default=list)
    ranked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    ranked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    joined_at: Mapped[dt.datetime] = _created()


class ProgrammePairRow(Base):
    """A pair of a programme: proposed by the stable matching (replaced by the next one),
    confirmed by staff (then ``series_id`` is the recurring order kept with the helper), ended."""

    __tablename__ = "programme_pairs"
    __table_args__ = (CheckConstraint(sql_in("status", PairStatus), name="status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    resident_member_id: Mapped[int] = mapped_column(ForeignKey("programme_members.id"))
    helper_member_id: Mapped[int] = mapped_column(ForeignKey("programme_members.id"))
    status: Mapped[str] = mapped_column(String(16), default=PairStatus.PROPOSED)
    km: Mapped[float] = mapped_column(Float, default=0.0)
    resident_rank: Mapped[int] = mapped_column(Integer)
    helper_rank: Mapped[int] = mapped_column(Integer)
    series_id: Mapped[int | None] = mapped_column(ForeignKey("order_series.id"), index=True)
    proposed_at: Mapped[dt.datetime] = _created()
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


# ----------------------------------------------------------------------------- after the visit


class FeedbackRow(Base):
    __tablename__ = "feedback"
    __table_args__ = (CheckConstraint("score BETWEEN 1 AND 5", name="score"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    given_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = _created()


class FollowUpRow(Base):
    """A follow-up visit (回访), scheduled by a rule of the street (``reason``): a low feedback
    score, the resident's category, or the sample; at most one per order and reason. Its owner
    is the staff member who answers for it (the order's owner when it was scheduled)."""

    __tablename__ = "follow_ups"
    __table_args__ = (
        CheckConstraint(sql_in("status", FollowUpStatus), name="status"),
        CheckConstraint(sql_in("reason", FollowUpReason), name="reason"),
        UniqueConstraint("order_id", "reason"),
        # The lists page soonest due first (migration 0016): a page of a city's follow-ups
        # walks these in order instead of sorting every one of the status.
        Index("ix_follow_ups_status_due_date", "status", "due_date", "id"),
        Index("ix_follow_ups_due_date", "due_date", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    reason: Mapped[str] = mapped_column(
        String(16), default=FollowUpReason.LOW_SCORE, server_default=FollowUpReason.LOW_SCORE
    )
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    feedback_id: Mapped[int | None] = mapped_column(ForeignKey("feedback.id"))
    due_date: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="scheduled")  # scheduled | done
    notes: Mapped[str] = mapped_column(Text, default="")
    done_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    done_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class PointsEntry(Base):
    """The points ledger (积分): append-only, enforced by database triggers. A correction is a
    reversing entry that names the entry it reverses (at most once)."""

    __tablename__ = "points_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    helper_id: Mapped[int] = mapped_column(ForeignKey("helpers.id"), index=True)
    amount: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # base | bonus | reversal
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("points_entries.id"), unique=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = _created()


class CirclePair(Base):
    """Staff's last choice about a helper in a resident's care circle (migration 0012): added or
    removed, and how many low scores they kept the helper through. Membership itself is derived
    (``matcher.circles.standing``: the ledger, visits, scores and this choice); every change is
    also in the audit log."""

    __tablename__ = "circle_pairs"
    __table_args__ = (
        UniqueConstraint("resident_id", "helper_id"),
        CheckConstraint(f"staff IS NULL OR {sql_in('staff', StaffChoice)}", name="staff"),
        CheckConstraint("kept_lows >= 0", name="kept_lows"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    helper_id: Mapped[int] = mapped_column(ForeignKey("helpers.id"), index=True)
    staff: Mapped[str | None] = mapped_column(String(16))  # a StaffChoice
    kept_lows: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    added_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # staff's last addition
    changed_at: Mapped[dt.datetime] = _created()
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class CircleTotal(Base):
    """Running totals of one resident-helper pair's history (migration 0018): the visits the
    helper served the resident (an accepted member of a done or confirmed visit), the first and
    last of their days, and those visits' scores (low and good as ``matcher.circles`` says, how
    many scored and their sum). Written with each change of the history
    (``api.services.circles.totals.refresh_orders``, in the writer's transaction), so a care
    circle reads a few rows per resident instead of aggregating the history; the invariant
    checker compares them with the history's aggregate."""

    __tablename__ = "circle_totals"
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), primary_key=True)
    helper_id: Mapped[int] = mapped_column(ForeignKey("helpers.id"), primary_key=True, index=True)
    visits: Mapped[int] = mapped_column(Integer)
    first_visit: Mapped[dt.date] = mapped_column(Date)
    last_visit: Mapped[dt.date] = mapped_column(Date)
    low_scores: Mapped[int] = mapped_column(Integer)
    good_scores: Mapped[int] = mapped_column(Integer)
    scored: Mapped[int] = mapped_column(Integer)
    score_sum: Mapped[int] = mapped_column(Integer)


class CirclePlanRow(Base):
    """The street's last weekly circle plan (migration 0018), made on demand by staff
    (``circles.targets.make_plan``): the target it was made for, its count (per community) and
    the residents short of the target in the plan's order, each with the proposals (helper id,
    one-way km, skills covered, load). The planner page reads it instead of planning the whole
    street on each fetch."""

    __tablename__ = "circle_plans"
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), primary_key=True)
    made_at: Mapped[dt.datetime] = mapped_column(DateTime)
    made_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    for_date: Mapped[dt.date] = mapped_column(Date)  # the street's day it was made on
    size: Mapped[int] = mapped_column(Integer)
    categories: Mapped[list[Any]] = mapped_column()
    counts: Mapped[list[Any]] = mapped_column()  # [community id, meeting, total] each
    residents: Mapped[list[Any]] = mapped_column()  # [resident, community, members, missing,
    # [[helper, km, covers, load], …]] each, in the plan's order


class VisitClockRow(Base):
    """A team member's check-in and check-out at a visit (签到/签退, migration 0014): when
    (UTC), and where only if their phone offered a position and they agreed. Staff may correct
    the times (audited: ``corrected_by``/``corrected_at`` and the audit log's before and after)."""

    __tablename__ = "visit_clocks"
    __table_args__ = (UniqueConstraint("assignment_id", "helper_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    helper_id: Mapped[int] = mapped_column(ForeignKey("helpers.id"), index=True)
    in_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    in_lat: Mapped[float | None] = mapped_column(Float)
    in_lon: Mapped[float | None] = mapped_column(Float)
    in_accuracy_m: Mapped[float | None] = mapped_column(Float)
    out_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    out_lat: Mapped[float | None] = mapped_column(Float)
    out_lon: Mapped[float | None] = mapped_column(Float)
    out_accuracy_m: Mapped[float | None] = mapped_column(Float)
    corrected_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    corrected_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class HoursEntry(Base):
    """The hours ledger (志愿服务时长, migration 0014): append-only like the points ledger
    (database triggers). One ``visit`` entry per confirmed member and order; a correction is a
    reversal naming the entry it undoes (at most once), then a new visit entry. ``served_on``
    is the visit's date (street time), by which certificates and the honour roll count."""

    __tablename__ = "hours_entries"
    __table_args__ = (
        CheckConstraint(sql_in("kind", HoursKind), name="kind"),
        CheckConstraint(sql_in("source", HoursSource), name="source"),
        Index("ix_hours_entries_helper_served_on", "helper_id", "served_on"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    helper_id: Mapped[int] = mapped_column(ForeignKey("helpers.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    served_on: Mapped[dt.date] = mapped_column(Date)
    minutes: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("hours_entries.id"), unique=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = _created()


class HonourDay(Base):
    """The honour roll's running totals (migration 0019): per helper and street day, the minutes
    and visits of the hours ledger (by the visit's day) and the points that count towards the
    roll (by the day they were credited). Kept by the ledgers' writers in their transaction
    (``api.services.hours.totals``, which also says what counts); the invariant checker compares
    it with the ledgers."""

    __tablename__ = "honour_days"
    __table_args__ = (
        # The roll sums a street's days: one index-only range (PostgreSQL keeps the figures in
        # the index; a year of the city's totals is 800,000 rows, the big street's 86,000).
        Index(
            "ix_honour_days_street_day_figures",
            "street_id",
            "day",
            postgresql_include=["helper_id", "minutes", "visits", "points"],
        ),
    )
    helper_id: Mapped[int] = mapped_column(ForeignKey("helpers.id"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    # The helper's street (the roll reads a street's rows by it; the checker compares it with
    # the helper's).
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"))
    minutes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    visits: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    points: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


# ----------------------------------------------------------------------------- people who log in

ROLES = tuple(Role)


class UserRow(Base):
    """A login. Staff are scoped to a street, or to one community of it when ``community_id`` is
    set; a grid worker (网格员) to one grid (``grid_id``, with its community); a helper account is
    tied to its helper row, a resident account to its resident row; a family account (亲情代理)
    to the residents of its approved ``family_links``."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(sql_in("role", Role), name="role"),
        # A street's staff accounts among its helpers' logins (migration 0016): a city has one
        # login per helper, and the street page lists its staff by role.
        Index("ix_users_street_id_role", "street_id", "role"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str] = mapped_column(String(100), default="")
    street_id: Mapped[int | None] = mapped_column(ForeignKey("streets.id"))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"))
    helper_id: Mapped[int | None] = mapped_column(ForeignKey("helpers.id"), unique=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The user's own language (a shipped locale: "zh_CN", "en"); None: the cookie and the
    # browser decide (``api.http.locale``).
    language: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = _created()


class FamilyLinkRow(Base):
    """A family account's link to a resident it orders for (亲情代理): asked for (pending), then
    approved or rejected by the resident's community staff; only an approved link counts."""

    __tablename__ = "family_links"
    __table_args__ = (
        UniqueConstraint("user_id", "resident_id"),
        CheckConstraint(sql_in("status", FamilyLinkStatus), name="status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    relation: Mapped[str] = mapped_column(String(32), default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    requested_at: Mapped[dt.datetime] = _created()
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    user: Mapped[UserRow] = relationship(lazy="joined", foreign_keys=[user_id])
    resident: Mapped[ResidentRow] = relationship(lazy="joined")


class TokenRow(Base):
    """A bearer token; only its SHA-256 is stored."""

    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = _created()
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[UserRow] = relationship(lazy="joined")


class AuditEntry(Base):
    """Who did or read what: every staff read of a resident's details and every change."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = _created()
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class NotificationRow(Base):
    """The outbox: messages to a helper (``helper_id``) or to any user (``user_id``: a
    resident told their order's result, staff told of an overdue order), never both; sent by
    the configured sender (log or webhook)."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_status", "status"),
        CheckConstraint(sql_in("status", NotificationStatus), name="status"),
        CheckConstraint(sql_in("kind", NotificationKind), name="kind"),
        CheckConstraint("helper_id IS NULL OR user_id IS NULL", name="one_recipient"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    helper_id: Mapped[int | None] = mapped_column(ForeignKey("helpers.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # a NotificationKind
    text_zh: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Stops a second reminder for the same offer, e.g. "reminder:offer:42".
    dedupe_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = _created()
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # When the sender may try again (back-off after a failure); None: at once.
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class LeaseRow(Base):
    """A named lease (e.g. the ticker): one holder at a time across every worker and machine;
    a holder that stops renewing loses it when ``expires_at`` passes."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)


class LoginFailure(Base):
    """A failed login, by account name and client address, for throttling (kept a day)."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_username_at", "username", "at"),
        Index("ix_login_failures_client_at", "client", "at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = _created()


class CacheStamp(Base):
    """A random stamp that changes with every write to what it names (``helpers:<street id>``,
    ``catalogue``): a process keeps what it built from those rows for as long as the stamp
    stays the same (``api.store.stamps``)."""

    __tablename__ = "cache_stamps"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    stamp: Mapped[str] = mapped_column(String(32))


# ----------------------------------------------------------------------------- wishes and the shop
# Migration 0015: partner units (共建单位), standing volunteer teams, micro-wishes (微心愿) and
# the street's points shop (积分兑换超市). Read and written by ``api.services.wishes`` and
# ``api.services.shop``.


class PartnerUnitRow(Base):
    """A partner unit (共建单位) of a street, registered by staff: a company (a partner shop
    among them) or a party branch. It claims micro-wishes and may offer goods in the shop."""

    __tablename__ = "partner_units"
    __table_args__ = (
        UniqueConstraint("street_id", "name"),
        CheckConstraint(sql_in("kind", PartnerKind), name="kind"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    contact: Mapped[str] = mapped_column(String(200), default="", server_default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = _created()


class VolunteerTeamRow(Base):
    """A standing volunteer team (志愿服务队) of a street: named helpers who take micro-wishes
    together. (An order's team claim, 集体认领, names its teammates each time instead.)"""

    __tablename__ = "volunteer_teams"
    __table_args__ = (UniqueConstraint("street_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = _created()


class TeamMemberRow(Base):
    __tablename__ = "team_members"
    team_id: Mapped[int] = mapped_column(ForeignKey("volunteer_teams.id"), primary_key=True)
    helper_id: Mapped[int] = mapped_column(ForeignKey("helpers.id"), primary_key=True, index=True)


CLAIMED_WISH = sql_in("status", (WishStatus.CLAIMED, WishStatus.CONFIRMED))


class WishRow(Base):
    """A micro-wish (微心愿) of a resident, posted by them or by staff on their behalf: a thing
    or a small service, worth ``points`` to whoever fulfils it. Claimed by a helper (alone, or
    for their standing team: ``claim_team_id``) or by a partner unit (``claim_partner_id``,
    recorded by staff); ``version`` is the compare-and-set of every change of status."""

    __tablename__ = "wishes"
    __table_args__ = (
        CheckConstraint(sql_in("kind", WishKind), name="kind"),
        CheckConstraint(sql_in("status", WishStatus), name="status"),
        CheckConstraint("points >= 0", name="points"),
        CheckConstraint(
            f"({CLAIMED_WISH}) = (claim_helper_id IS NOT NULL OR claim_partner_id IS NOT NULL)",
            name="claimant",
        ),
        CheckConstraint(
            "claim_partner_id IS NULL OR (claim_helper_id IS NULL AND claim_team_id IS NULL)",
            name="one_claimant",
        ),
        CheckConstraint("claim_team_id IS NULL OR claim_helper_id IS NOT NULL", name="team_by"),
        Index("ix_wishes_street_id_status", "street_id", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="", server_default="")
    points: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default=WishStatus.OPEN)
    version: Mapped[int] = mapped_column(Integer, default=0)
    posted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = _created()
    claim_helper_id: Mapped[int | None] = mapped_column(ForeignKey("helpers.id"), index=True)
    claim_team_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer_teams.id"))
    claim_partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner_units.id"))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # cancelled

    resident: Mapped[ResidentRow] = relationship(lazy="joined")


class WishPaymentRow(Base):
    """The points a confirmed wish paid one helper: one ``wish`` entry of the points ledger,
    at most one per wish and helper (paid once)."""

    __tablename__ = "wish_payments"
    __table_args__ = (UniqueConstraint("wish_id", "helper_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    wish_id: Mapped[int] = mapped_column(ForeignKey("wishes.id"), index=True)
    helper_id: Mapped[int] = mapped_column(ForeignKey("helpers.id"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("points_entries.id"), unique=True)


class ShopItemRow(Base):
    """Goods or a service in a street's points shop, offered by the street or a partner unit
    (``partner_id``), at a counter of the street or of one community (``community_id``), for
    ``price`` points each. ``stock`` never goes below 0 (a CHECK and every redemption's
    compare-and-set)."""

    __tablename__ = "shop_items"
    __table_args__ = (
        CheckConstraint(sql_in("kind", ShopItemKind), name="kind"),
        CheckConstraint("price > 0", name="price"),
        CheckConstraint("stock >= 0", name="stock"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), index=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner_units.id"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    price: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = _created()


class RedemptionRow(Base):
    """A redemption (积分兑换) and its receipt: ``quantity`` of an item for ``points`` in all,
    debited by the ``redemption`` entry ``debit_entry_id``; the shop checks ``code`` and marks
    it used. A cancelled one names the reversal that credited the points back."""

    __tablename__ = "redemptions"
    __table_args__ = (
        CheckConstraint(sql_in("status", RedemptionStatus), name="status"),
        CheckConstraint("quantity >= 1", name="quantity"),
        CheckConstraint("points > 0", name="points"),
        CheckConstraint("(status = 'cancelled') = (refund_entry_id IS NOT NULL)", name="refund"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("shop_items.id"), index=True)
    helper_id: Mapped[int] = mapped_column(ForeignKey("helpers.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=RedemptionStatus.ISSUED)
    debit_entry_id: Mapped[int] = mapped_column(ForeignKey("points_entries.id"), unique=True)
    refund_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("points_entries.id"), unique=True
    )
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = _created()
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    used_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    cancelled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    item: Mapped[ShopItemRow] = relationship(lazy="joined")
