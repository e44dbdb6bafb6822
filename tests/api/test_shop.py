"""The points shop (积分兑换超市): redeeming debits the ledger and takes stock, never below 0,
with a receipt the shop checks and uses once; cancelling reverses both; concurrent redemptions
of the last items and of the last points let exactly as many through as there is room for."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.services.closing import points
from api.services.errors import BadInput, Conflict, Forbidden, NotFound
from api.services.matching.invariants import check_database
from api.services.offers.assign import to_local
from api.services.reports.monthly import report_for
from api.services.reports.periods import period_of
from api.services.shop import items, redeem
from api.settings import Settings
from api.store.statuses import PointsKind
from api.store.tables import PointsEntry, RedemptionRow, ShopItemRow, utcnow
from tests.api.conftest import World, actor_named

Sessions = sessionmaker[Session]


def stock_item(sessions: Sessions, price: int = 10, stock: int = 3, name: str = "老花镜") -> int:
    with sessions() as session:
        staff = actor_named(session, "staff")
        return items.add_item(session, staff, name, "goods", price, stock).id


def grant(sessions: Sessions, helper_id: int, amount: int) -> None:
    with sessions() as session:
        points.grant_bonus(session, actor_named(session, "staff"), helper_id, amount, "测试")


def balance_of(sessions: Sessions, helper_id: int) -> int:
    with sessions() as session:
        return points.balance(session, helper_id)


def stock_of(sessions: Sessions, item_id: int) -> int:
    with sessions() as session:
        return session.get_one(ShopItemRow, item_id).stock


def counts(sessions: Sessions) -> tuple[int, int]:
    with sessions() as session:
        receipts = session.scalar(select(func.count(RedemptionRow.id))) or 0
        entries = session.scalar(select(func.count(PointsEntry.id))) or 0
        return receipts, entries


# ----------------------------------------------------------------------------- one at a time


def test_redeeming_debits_points_takes_stock_and_gives_a_receipt(
    sessions: Sessions, world: World
) -> None:
    """Two of an item at 10 points: the balance drops by 20 through one redemption entry, the
    stock by 2, and the receipt carries an 8-character code."""
    helper = world.helper_ids[0]
    item_id = stock_item(sessions)
    grant(sessions, helper, 50)
    with sessions() as session:
        receipt = redeem.redeem(session, actor_named(session, "helper1"), item_id, 2)
    assert (receipt.points, receipt.balance, receipt.status) == (20, 30, "issued")
    assert len(receipt.code) == 9 and receipt.code[4] == "-"
    assert stock_of(sessions, item_id) == 1
    with sessions() as session:
        kinds = session.scalars(
            select(PointsEntry.kind).where(PointsEntry.helper_id == helper).order_by(PointsEntry.id)
        ).all()
    assert kinds == [PointsKind.BONUS, PointsKind.REDEMPTION]


@pytest.mark.parametrize(("granted", "stock", "quantity"), [(15, 5, 2), (100, 1, 2)])
def test_a_short_balance_or_stock_is_refused_and_writes_nothing(
    sessions: Sessions, world: World, granted: int, stock: int, quantity: int
) -> None:
    """Too few points, or too little stock: Conflict, and no receipt, entry or stock change."""
    item_id = stock_item(sessions, stock=stock)
    grant(sessions, world.helper_ids[0], granted)
    before = counts(sessions)
    with sessions() as session, pytest.raises(Conflict):
        redeem.redeem(session, actor_named(session, "helper1"), item_id, quantity)
    assert counts(sessions) == before
    assert stock_of(sessions, item_id) == stock
    assert balance_of(sessions, world.helper_ids[0]) == granted


def test_cancelling_credits_the_points_back_and_restores_the_stock_once(
    sessions: Sessions, world: World
) -> None:
    """A cancelled receipt: balance and stock as before the redemption, the debit reversed; a
    second cancellation is a Conflict."""
    item_id = stock_item(sessions)
    grant(sessions, world.helper_ids[0], 30)
    with sessions() as session:
        helper = actor_named(session, "helper1")
        receipt = redeem.redeem(session, helper, item_id)
        cancelled = redeem.cancel(session, helper, receipt.id)
        assert (cancelled.status, cancelled.balance) == ("cancelled", 30)
        with pytest.raises(Conflict):
            redeem.cancel(session, helper, receipt.id)
    assert stock_of(sessions, item_id) == 3


def test_the_shop_checks_a_receipt_and_uses_it_once(sessions: Sessions, world: World) -> None:
    """Staff find a receipt by its code in any case without the dash, mark it used; using it
    again or cancelling it afterwards is a Conflict; an unknown code is NotFound."""
    item_id = stock_item(sessions)
    grant(sessions, world.helper_ids[0], 30)
    with sessions() as session:
        receipt = redeem.redeem(session, actor_named(session, "helper1"), item_id)
        staff = actor_named(session, "staff")
        typed = receipt.code.replace("-", "").lower()
        assert redeem.find_receipt(session, staff, typed).id == receipt.id
        assert redeem.use_receipt(session, staff, receipt.code).status == "used"
        with pytest.raises(Conflict):
            redeem.use_receipt(session, staff, receipt.code)
        with pytest.raises(Conflict):
            redeem.cancel(session, actor_named(session, "helper1"), receipt.id)
        with pytest.raises(NotFound):
            redeem.find_receipt(session, staff, "ZZZZ-ZZZZ")


def test_staff_redeem_at_the_counter_for_a_helper_and_helpers_only_for_themselves(
    sessions: Sessions, world: World
) -> None:
    """Staff redeem for a named helper of their street; a helper naming another helper is
    refused."""
    item_id = stock_item(sessions)
    grant(sessions, world.helper_ids[1], 20)
    with sessions() as session:
        staff = actor_named(session, "staff")
        receipt = redeem.redeem(session, staff, item_id, helper_id=world.helper_ids[1])
        assert (receipt.helper_id, receipt.balance) == (world.helper_ids[1], 10)
        with pytest.raises(Forbidden):
            redeem.redeem(
                session, actor_named(session, "helper1"), item_id, helper_id=world.helper_ids[1]
            )
        with pytest.raises(BadInput):
            redeem.redeem(session, staff, item_id)


def test_the_points_page_cannot_reverse_a_redemption_or_spent_points(
    sessions: Sessions, world: World
) -> None:
    """A redemption entry is not reversed by hand (the receipt is cancelled instead), and a
    bonus already spent cannot be reversed into a negative balance."""
    item_id = stock_item(sessions, price=20)
    grant(sessions, world.helper_ids[0], 20)
    with sessions() as session:
        redeem.redeem(session, actor_named(session, "helper1"), item_id)
        staff = actor_named(session, "staff")
        bonus, debit = session.scalars(
            select(PointsEntry.id)
            .where(PointsEntry.helper_id == world.helper_ids[0])
            .order_by(PointsEntry.id)
        ).all()
        with pytest.raises(BadInput):
            points.reverse_entry(session, staff, debit, "oops")
        with pytest.raises(Conflict):
            points.reverse_entry(session, staff, bonus, "oops")
    assert balance_of(sessions, world.helper_ids[0]) == 0


def test_staff_keep_items_price_and_stock_never_below_zero(
    sessions: Sessions, world: World
) -> None:
    """Staff add stock and change the price; taking away more stock than there is is refused;
    a retired item cannot be redeemed."""
    item_id = stock_item(sessions, stock=2)
    grant(sessions, world.helper_ids[0], 100)
    with sessions() as session:
        staff = actor_named(session, "staff")
        view = items.edit_item(session, staff, item_id, price=15, add_stock=3)
        assert (view.price, view.stock) == (15, 5)
        with pytest.raises(BadInput):
            items.edit_item(session, staff, item_id, add_stock=-6)
        items.edit_item(session, staff, item_id, active=False)
        with pytest.raises(NotFound):
            redeem.redeem(session, actor_named(session, "helper1"), item_id)


@pytest.mark.broken_db("a redemption entry without its receipt, on purpose")
def test_the_checker_finds_a_debit_without_a_receipt(sessions: Sessions, world: World) -> None:
    """A redemption entry that no receipt names is reported (receipts match debits)."""
    grant(sessions, world.helper_ids[0], 30)
    with sessions() as session:
        session.add(
            PointsEntry(helper_id=world.helper_ids[0], amount=-10, kind=PointsKind.REDEMPTION)
        )
        session.commit()
        codes = {v.code for v in check_database(session)}
    assert "receipt_debit" in codes


# ----------------------------------------------------------------------------- races


def race(sessions: Sessions, calls: list[Callable[[Session], object]]) -> list[object]:
    """Run the calls in threads, each with its own session, released together; every thread
    must end within 60 s."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int, call: Callable[[Session], object]) -> None:
        with sessions() as session:
            barrier.wait()
            try:
                results[index] = call(session)
            except Exception as error:  # any error is a result the test inspects
                results[index] = error

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a redemption hung"
    return results


def test_a_hundred_redemptions_of_the_last_ten_items_let_ten_through(
    sessions: Sessions, world: World
) -> None:
    """10 helpers each try 10 times at once for the last 10 items: exactly 10 succeed, the
    other 90 get Conflict, the stock ends at 0 and every balance is its grant minus 10 per
    item won."""
    helpers = world.helper_ids[:10]
    item_id = stock_item(sessions, stock=10)
    for helper_id in helpers:
        grant(sessions, helper_id, 100)
    with sessions() as session:
        staff = actor_named(session, "staff")

    def attempt(helper_id: int) -> Callable[[Session], object]:
        return lambda s: redeem.redeem(s, staff, item_id, helper_id=helper_id)

    results = race(sessions, [attempt(h) for h in helpers for _ in range(10)])
    won = [r for r in results if isinstance(r, redeem.RedemptionView)]
    lost = [r for r in results if isinstance(r, Conflict)]
    assert (len(won), len(lost)) == (10, 90), [r for r in results if not isinstance(r, Conflict)]
    assert stock_of(sessions, item_id) == 0
    for helper_id in helpers:
        wins = sum(1 for r in won if r.helper_id == helper_id)
        assert balance_of(sessions, helper_id) == 100 - 10 * wins


def test_concurrent_redemptions_never_spend_more_than_the_balance(
    sessions: Sessions, world: World
) -> None:
    """One helper with 30 points tries 20 redemptions of a 10-point item at once: exactly 3
    succeed and the balance ends at 0, never below."""
    item_id = stock_item(sessions, stock=100)
    grant(sessions, world.helper_ids[0], 30)
    with sessions() as session:
        helper = actor_named(session, "helper1")
    results = race(sessions, [lambda s: redeem.redeem(s, helper, item_id) for _ in range(20)])
    won = [r for r in results if isinstance(r, redeem.RedemptionView)]
    assert len(won) == 3 and all(isinstance(r, Conflict) for r in results if r not in won)
    assert balance_of(sessions, world.helper_ids[0]) == 0
    assert stock_of(sessions, item_id) == 97


def test_cancel_and_use_of_one_receipt_at_once_one_wins(sessions: Sessions, world: World) -> None:
    """The helper cancels while the shop uses the same receipt: exactly one succeeds; the
    points come back only if the cancellation won."""
    item_id = stock_item(sessions)
    grant(sessions, world.helper_ids[0], 10)
    with sessions() as session:
        helper, staff = actor_named(session, "helper1"), actor_named(session, "staff")
        receipt = redeem.redeem(session, helper, item_id)
    results = race(
        sessions,
        [
            lambda s: redeem.cancel(s, helper, receipt.id),
            lambda s: redeem.use_receipt(s, staff, receipt.code),
        ],
    )
    won = [r for r in results if isinstance(r, redeem.RedemptionView)]
    assert len(won) == 1 and isinstance(next(r for r in results if r not in won), Conflict)
    assert balance_of(sessions, world.helper_ids[0]) == (10 if won[0].status == "cancelled" else 0)


def test_points_spent_in_the_shop_are_not_counted_as_granted(
    sessions: Sessions, settings: Settings, world: World
) -> None:
    """The monthly report's points granted count the 30 granted, not the 10 spent on a receipt,
    nor the 10 credited back when another receipt is cancelled."""
    item_id = stock_item(sessions)
    grant(sessions, world.helper_ids[0], 30)
    with sessions() as session:
        helper, staff = actor_named(session, "helper1"), actor_named(session, "staff")
        redeem.redeem(session, helper, item_id)
        redeem.cancel(session, helper, redeem.redeem(session, helper, item_id).id)
        period = period_of(to_local(settings, utcnow()).date())
        report = report_for(session, settings, staff, period)
    assert report.rows[0].figures.points == 30
