"""Unmatched orders' explanations are data (reason and facts) until they are shown; ids cross
between the database and the matcher through one typed mapping."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.i18n import use_locale
from api.services.matching.explain_text import explain
from api.services.matching.keys import Keys, UnknownId
from api.services.matching.runs import INTERRUPTED, get_run, list_runs
from api.services.offers.rematch import unmatched_row
from api.settings import Settings
from api.store.statuses import RunStatus
from api.store.tables import OrderRow, RunRow, RunUnmatched
from matcher.catalogue import load_catalogue
from matcher.result import Reason, Unmatched, WhyParams, Window
from tests.api.conftest import World, actor_named

CATALOGUE = load_catalogue()
DAY = dt.date(2026, 11, 26)
TEAM = WhyParams(item="H04", team=2, skills=("nursing", "physician"), skilled=0, in_reach=0)

# (reason, facts, outranking order) and the sentences the matcher wrote before they were data.
BEFORE = [
    (
        Reason.NO_SKILL,
        WhyParams(item="J04", skills=("mongolian_language",), language="mn", skilled=0),
        None,
        "没有志愿者具备「蒙汉双语代办」所需技能（蒙古语），且会说 mn 语。",
        "No helper has the skills for Mongolian-Chinese paperwork help (Mongolian language) and "
        "speaking mn.",
    ),
    (
        Reason.NO_SKILL,
        TEAM,
        None,
        "没有志愿者具备「上门诊疗」所需技能（护理、执业医师）（需 2 人同去）。",
        "No helper has the skills for Home medical visit (Nursing, Licensed physician) "
        "(needs a team of 2).",
    ),
    (
        Reason.OUT_OF_REACH,
        WhyParams(item="L01", skills=("shopping_errands",), nearest_km=3.14159),
        None,
        "具备技能的志愿者都不在服务范围内，最近的一位相距约 3.1 公里。",
        "Helpers with the skills all live out of reach; the nearest is about 3.1 km away.",
    ),
    (
        Reason.NOT_FREE,
        WhyParams(item="S01", window=Window(start=540, end=630)),
        None,
        "附近合适的志愿者在 09:00–10:30 都没有空。",
        "No suitable helper nearby is free 09:00–10:30.",
    ),
    (
        Reason.NOT_FREE,
        WhyParams(item="S01"),
        None,
        "附近合适的志愿者今天都没有空。",
        "No suitable helper nearby is free today.",
    ),
    (
        Reason.AT_LIMIT,
        WhyParams(item="P06", team=2),
        None,
        "附近合适的志愿者今天的接单数或服务时长已满（需 2 人同去）。",
        "All suitable helpers nearby have reached today's limit of orders or minutes "
        "(needs a team of 2).",
    ),
    (
        Reason.OUTRANKED,
        WhyParams(item="S01", rival_item="S04"),
        17,
        "附近合适的志愿者已被优先级更高的订单 17（智能手机教学）占用。",
        "Lost to higher-priority order 17 (Smartphone lessons), which took the suitable helpers.",
    ),
    (
        Reason.NOT_FREE,
        WhyParams(item="S05", team=3, joining=2),
        None,
        "除已在团队中的志愿者外，找不到能在同一时间到场补位的人。",
        "No other helper can join the members already on the team at that time.",
    ),
]


@pytest.mark.parametrize(("reason", "params", "outranked_by", "zh", "en"), BEFORE)
def test_sentences_are_made_from_reason_and_facts(
    reason: Reason, params: WhyParams, outranked_by: int | None, zh: str, en: str
) -> None:
    """Each reason's facts render, from the catalogs, the very sentence the matcher used to
    write, in zh_CN and en."""
    with use_locale("zh_CN"):
        assert explain(reason, params, CATALOGUE, outranked_by) == zh
    with use_locale("en"):
        assert explain(reason, params, CATALOGUE, outranked_by) == en


def test_keys_map_both_ways_and_refuse_unknown_ids() -> None:
    """A problem's keys map row ids to matcher ids and back by lookup; an id not issued for the
    problem, or of another kind, is refused (no prefix is parsed)."""
    keys = Keys.of(orders=[16, 17], helpers=[3], residents=[9])
    assert (keys.orders.key(17), keys.orders.row("o17")) == ("o17", 17)
    assert (keys.helpers.key(3), keys.helpers.row("h3")) == ("h3", 3)
    assert keys.residents.row(keys.residents.key(9)) == 9
    for lookup, value in [
        (keys.orders.row, "o170"),  # shares the prefix, not issued
        (keys.orders.row, "h3"),  # a helper's key is no order's
        (keys.helpers.row, "o17"),
        (keys.orders.key, 18),
    ]:
        with pytest.raises(UnknownId):
            lookup(value)  # type: ignore[operator]


def _orders(session: Session, world: World) -> list[OrderRow]:
    query = select(OrderRow).where(OrderRow.street_id == world.street_id).order_by(OrderRow.id)
    return list(session.scalars(query.limit(2)))


def test_unmatched_facts_round_trip_through_the_run_record(
    sessions: sessionmaker[Session], world: World, settings: Settings
) -> None:
    """A matcher explanation is stored as reason + params with both orders mapped to row ids;
    the run view renders from them the same sentences, naming the outranking order by its
    number; a row from before the facts were stored shows its stored sentences."""
    reason, params, _, zh, en = BEFORE[-2]  # outranked by "order 17"
    with sessions() as session:
        lost, won = _orders(session, world)
        run = RunRow(street_id=world.street_id, date=lost.date, kind="nightly", status="done")
        session.add(run)
        session.flush()
        keys = Keys.of(orders=[lost.id, won.id])
        matcher_says = Unmatched(
            order=keys.orders.key(lost.id),
            reason=reason,
            params=params,
            outranked_by=keys.orders.key(won.id),
        )
        session.add(unmatched_row(run.id, matcher_says, keys))
        session.add(
            RunUnmatched(
                run_id=run.id,
                order_id=won.id,
                reason="at_limit",
                explanation_zh="旧句子",
                explanation_en="an old sentence",
            )
        )
        session.commit()
        run_id = run.id
    with sessions() as session:
        stored = session.scalars(
            select(RunUnmatched).where(
                RunUnmatched.run_id == run_id, RunUnmatched.params.is_not(None)
            )
        ).one()
        assert (stored.order_id, stored.outranked_by) == (lost.id, won.id)
        assert WhyParams.model_validate(stored.params) == params
        assert stored.explanation_zh is None and stored.explanation_en is None
        view = get_run(session, settings, actor_named(session, "staff"), run_id)
    by_order = {u.order_id: u for u in view.unmatched}
    shown = by_order[lost.id]
    assert shown.explanation_zh == zh.replace("订单 17", f"订单 {won.id}")
    assert shown.explanation_en == en.replace("order 17", f"order {won.id}")
    assert (shown.reason, shown.outranked_by) == ("outranked", won.id)
    old = by_order[won.id]
    assert (old.params, old.explanation_zh, old.explanation_en) == (
        None,
        "旧句子",
        "an old sentence",
    )


def test_no_sentence_is_parsed_or_rewritten() -> None:
    """The modules that carry ids and explanations between the matcher and the database use no
    regular expressions and parse no id prefix."""
    root = Path(__file__).resolve().parents[2]
    for name in [
        "api/services/offers/rematch.py",
        "api/services/matching/invariants.py",
        "api/services/matching/problem.py",
        "api/services/matching/keys.py",
        "api/services/matching/explain_text.py",
        "matcher/explain.py",
    ]:
        text = (root / name).read_text(encoding="utf-8")
        assert "import re\n" not in text and "re.compile" not in text, name
        assert "[1:])" not in text, name


def test_an_interrupted_runs_error_reads_in_the_readers_language(
    sessions: sessionmaker[Session], world: World, settings: Settings
) -> None:
    """An interrupted run's stored error (its message id, or the "中文 / English" pair of rows
    from before the catalogs) reads in the current locale; any other error reads as stored."""
    stored = [INTERRUPTED, "运行中断：进程在完成前结束 / " + INTERRUPTED, "solver crashed"]
    with sessions() as session:
        for error in stored:
            session.add(
                RunRow(street_id=world.street_id, date=DAY, status=RunStatus.FAILED, error=error)
            )
        session.commit()
        staff = actor_named(session, "staff")
        with use_locale("zh_CN"):
            zh = [r.error for r in list_runs(session, settings, staff).items]
        with use_locale("en"):
            en = [r.error for r in list_runs(session, settings, staff).items]
    interrupted_zh = "运行中断：进程在完成前结束"
    assert sorted(zh) == sorted([interrupted_zh, interrupted_zh, "solver crashed"])
    assert sorted(en) == sorted([INTERRUPTED, INTERRUPTED, "solver crashed"])
