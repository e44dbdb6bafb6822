"""Run explanations name orders by the numbers staff see, not the matcher's keys."""

from __future__ import annotations

from api.services.offers.rematch import unmatched_row
from matcher.result import Reason, Unmatched


def test_outranking_order_is_named_by_its_order_number() -> None:
    """ "o17" in both sentences becomes "17"; a longer key sharing the prefix stays untouched."""
    unmatched = Unmatched(
        order="o16",
        reason=Reason.OUTRANKED,
        explanation_zh="附近合适的志愿者已被优先级更高的订单 o17（智能手机教学）占用。",
        explanation_en="Helpers nearby are taken by order o17 (phone lessons), not o170.",
        outranked_by="o17",
    )
    row = unmatched_row(3, unmatched)
    assert (row.order_id, row.outranked_by) == (16, 17)
    assert "订单 17（" in row.explanation_zh and "o17" not in row.explanation_zh
    assert "order 17 (" in row.explanation_en and "not o170." in row.explanation_en
