"""The run page in a browser: an uncovered order shows its reason and one next step to take."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect
from sqlalchemy import select

from api.store.tables import RunUnmatched
from tests.e2e.conftest import Site, login, shot


def test_an_uncovered_order_shows_its_next_step(staff_page: Any, site: Site) -> None:
    """Staff landing on the run page read, on the first uncovered order's card, its reason and
    a next step in words (no code), and each candidate's day and scores."""
    with site.sessions() as session:
        assert session.scalars(select(RunUnmatched)).first() is not None
    page = staff_page
    login(page, "staff")
    card = page.locator("li.card.uncovered").first
    expect(card).to_be_visible()
    step = card.locator("p.suggestion")
    expect(step).to_contain_text("下一步：")
    text = step.inner_text()
    assert len(text) > len("下一步：") + 5 and "_" not in text and "%(" not in text, text
    shot(page, "run-next-step")
