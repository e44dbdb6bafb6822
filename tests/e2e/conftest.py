"""Real-browser tests: Debian's Chromium, driven by Playwright, against the app on loopback.

A tiny street (dated tomorrow, street-local) is seeded, matched by the nightly run and given
accounts ONCE per test process; every test then gets its own copy of that SQLite file served by
its own uvicorn on 127.0.0.1 and a free port (copy + start ≈ 0.1 s), so tests that accept,
decline or re-run matching never see each other's changes, and each xdist worker has its own.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium`` (``.ci/chromium``
installs it; ``QUNBANG_CHROMIUM`` names another). Without it the tests skip, unless
``QUNBANG_REQUIRE_BROWSER=1`` (CI), which makes them fail.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from argon2 import PasswordHasher
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from api.services.accounts import auth
from api.services.accounts.auth import add_user
from api.services.ledger.seed import seed_street
from api.services.matching.nightly import run_nightly
from api.services.offers.assign import local_today
from api.settings import Settings
from api.store.db import make_engine, migrate, session_factory
from api.store.tables import Community, HelperRow, OfferRow, SkillRow
from matcher.generator import preset
from tests.api.conftest import SharedEngines, clear_stamped_caches, kept_engine_app, run_once

CHROMIUM = os.environ.get("QUNBANG_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("QUNBANG_REQUIRE_BROWSER") == "1"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PASSWORD = "correct-horse-9"
MOBILE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}
TIMEOUT_MS = 8000


# ----------------------------------------------------------------------------- the street


@dataclass
class Street:
    """The seeded street: accounts ``staff`` (street-wide), ``staff_c1`` (first community only)
    and ``helper1`` … ``helperN`` for every helper (by id); ``offered`` lists the helper accounts
    holding pending offers, most offers first."""

    street_id: int
    date: dt.date
    communities: list[int]
    helpers: dict[str, int]
    offered: list[str]
    offers: dict[str, int] = field(default_factory=dict)  # username → pending offers

    def helper_with(self, offers: int) -> str:
        """A helper account holding at least ``offers`` pending offers."""
        found = [name for name in self.offered if self.offers[name] >= offers]
        if not found:
            pytest.fail(f"the seeded street has no helper with {offers} pending offers")
        return found[0]

    def idle_helper(self) -> str:
        """A helper account holding no offer."""
        idle = [name for name in self.helpers if name not in self.offers]
        if not idle:
            pytest.fail("the seeded street has no helper without offers")
        return idle[0]


@dataclass
class Site:
    """One test's server: its URL, its database (to look things up) and the street in it."""

    url: str
    sessions: sessionmaker[Session]
    street: Street
    settings: Settings


def make_roomy(site: Site, username: str) -> None:
    """Give the helper every skill, the whole street and the whole day (in this test's copy
    only): orders nobody could take become theirs to claim or to be matched to."""
    with site.sessions() as session:
        session.execute(
            update(HelperRow)
            .where(HelperRow.id == site.street.helpers[username])
            .values(
                skills=sorted(session.scalars(select(SkillRow.code))),
                radius_km=50.0,
                max_orders=6,
                max_minutes=900,
                availability=[[0, 1440]],
                blocked_residents=[],
            )
        )
        session.commit()


def _settings(url: str) -> Settings:
    return Settings(
        database_url=url, tick_seconds=0, nightly_time_limit_s=5, rematch_time_limit_s=2
    )


def _seed(url: str) -> Street:
    """Seed the tiny street for tomorrow, run the nightly match, add the accounts."""
    settings = _settings(url)
    sessions = session_factory(make_engine(url))
    date = local_today(settings) + dt.timedelta(days=1)
    with sessions() as session:
        street_id = seed_street(session, preset("tiny", seed=1), order_date=date).street.id
        session.commit()
    run_nightly(sessions, settings, street_id, date)
    with sessions() as session:
        communities = list(
            session.scalars(
                select(Community.id).where(Community.street_id == street_id).order_by(Community.id)
            )
        )
        helper_ids = list(
            session.scalars(
                select(HelperRow.id).where(HelperRow.street_id == street_id).order_by(HelperRow.id)
            )
        )
        add_user(session, "staff", PASSWORD, "staff", street_id=street_id)
        add_user(
            session, "staff_c1", PASSWORD, "staff", street_id=street_id, community_id=communities[0]
        )
        helpers = {f"helper{n}": hid for n, hid in enumerate(helper_ids, start=1)}
        for username, helper_id in helpers.items():
            add_user(session, username, PASSWORD, "helper", helper_id=helper_id)
        session.commit()
        pending = dict(
            session.execute(
                select(OfferRow.helper_id, func.count())
                .where(OfferRow.status == "pending")
                .group_by(OfferRow.helper_id)
            ).all()
        )
    sessions.kw["bind"].dispose()
    offers = {name: pending[hid] for name, hid in helpers.items() if hid in pending}
    offered = sorted(offers, key=lambda name: (-offers[name], helpers[name]))
    return Street(street_id, date, communities, helpers, offered, offers)


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    """Argon2id's cheapest settings for every account the browser tests make (the seeded
    street's, and those a test makes through a page: a street file's staff, a family account),
    as the API tests do; production keeps the library's defaults (about half a second each)."""
    original = auth.HASHER
    auth.HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    auth.HASHER = original


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Street]:
    """The seeded, matched SQLite file each test copies (cheap argon2 for the many accounts);
    made once per test run, whichever test process needs it first (``run_once``)."""

    def make(folder: Path | None) -> tuple[Path, Street]:
        path = (folder or tmp_path_factory.mktemp("e2e-template")) / "e2e-street.db"
        url = f"sqlite:///{path}"
        migrate(url)
        street = _seed(url)
        with sqlite3.connect(path) as conn:  # fold the WAL into the file that gets copied
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return path, street

    tomorrow = local_today(_settings("sqlite://")) + dt.timedelta(days=1)
    return run_once(f"e2e street {tomorrow}", make)


# ----------------------------------------------------------------------------- the server


def _free_socket() -> socket.socket:
    """A listening-ready socket on 127.0.0.1 and a port the OS picked (no race for the port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture(scope="session")
def engines() -> Iterator[SharedEngines]:
    """The app's engine kept across tests (its compiled-statement cache with it)."""
    kept = SharedEngines()
    yield kept
    for engine in kept.engines.values():
        engine.dispose()


@pytest.fixture
def site(seeded: tuple[Path, Street], tmp_path: Path, engines: SharedEngines) -> Iterator[Site]:
    """A server of its own on loopback, over a fresh copy of the seeded street."""
    template, street = seeded
    shutil.copy(template, tmp_path / "qunbang.db")
    url = f"sqlite:///{tmp_path / 'qunbang.db'}"
    settings = _settings(url)
    sock = _free_socket()
    port = sock.getsockname()[1]
    app = kept_engine_app(settings, engines)  # one app per process: its route tables stay built
    clear_stamped_caches()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    _wait_healthy(base, server, thread)
    engine = make_engine(url)
    try:
        yield Site(base, session_factory(engine), street, settings)
    finally:
        server.should_exit = True
        thread.join(10)
        engine.dispose()
        engines.release(url)
        sock.close()


def _wait_healthy(base: str, server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if not thread.is_alive():
            pytest.fail("the test server stopped while starting (see the log above)")
        if server.started:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
        time.sleep(0.02)
    pytest.fail(f"the test server at {base} did not answer /health within 15 s")


# ----------------------------------------------------------------------------- the browser


def _no_browser(reason: str) -> None:
    if REQUIRE_BROWSER:
        pytest.fail(f"QUNBANG_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(
        f"{reason}: install Debian's chromium (sudo apt-get install chromium, or run"
        " .ci/chromium as root, as make test does)"
    )


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium from Debian (Playwright gives it a fresh temporary profile)."""
    if not os.access(CHROMIUM, os.X_OK):
        _no_browser(f"no Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _no_browser("the Python package playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


def _page(browser: Any, site: Site, viewport: dict[str, int], request: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=viewport, base_url=site.url, locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Chromium reports each thing the Content-Security-Policy blocked (an inline script or
    # style, a foreign resource) on the console: any of them fails the test.
    page.on(
        "console",
        lambda message: (
            errors.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield page
    if request.node.stash.get(_FAILED, False):
        shot(page, f"FAILED-{request.node.name}", always=True)
    context.close()
    assert not errors, f"JavaScript errors or CSP violations on the page: {errors}"


@pytest.fixture
def volunteer_page(browser: Any, site: Site, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A phone-sized page (360×740) on this test's server, logged out."""
    yield from _page(browser, site, MOBILE, request)


@pytest.fixture
def staff_page(browser: Any, site: Site, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A desk-sized page (1280×900) on this test's server, logged out."""
    yield from _page(browser, site, DESKTOP, request)


# ----------------------------------------------------------------------------- helpers


def shots_wanted() -> bool:
    """Whether ``shot`` takes its screenshots: ``QUNBANG_SHOTS=1`` or ``0`` says; unset, yes when
    the tests run in one process (``pytest tests/e2e``, to look at the pages) and no under
    ``pytest -n`` (make test, CI), where a full-page capture cost Chromium about half a second
    of CPU each (about 70 per run) for pictures nobody opened. A failing
    test's screenshot is always taken."""
    wanted = os.environ.get("QUNBANG_SHOTS")
    if wanted is None:
        return "PYTEST_XDIST_WORKER" not in os.environ
    return wanted == "1"


def shot(page: Any, name: str, always: bool = False) -> Path | None:
    """A full-page PNG of ``page`` in tests/artifacts/ (git-ignored) for a person to look at
    (None: not taken, see ``shots_wanted``; ``always``: taken whatever it says)."""
    if not (always or shots_wanted()):
        return None
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def login(page: Any, username: str, password: str = PASSWORD) -> None:
    """Log in through the form as a person would, and wait to land on the role's home."""
    page.goto("/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda url: "/login" not in url)


UNNAMED_CONTROLS_JS = """
() => {
  const visible = el => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  const named = el => {
    const aria = (el.getAttribute('aria-label') || '').trim();
    const by = (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean)
      .map(id => (document.getElementById(id) || {}).textContent || '').join('').trim();
    const labels = [...(el.labels || [])].map(l => l.textContent).join('').trim();
    const text = el.tagName === 'BUTTON' ? el.textContent.trim() : '';
    const value = ['submit', 'button', 'reset'].includes(el.type) ? (el.value || '').trim() : '';
    const title = (el.getAttribute('title') || '').trim();
    return !!(aria || by || labels || text || value || title);
  };
  return [...document.querySelectorAll('input, select, textarea, button')]
    .filter(el => el.type !== 'hidden' && visible(el) && !named(el))
    .map(el => el.outerHTML.slice(0, 160));
}
"""


def unnamed_controls(page: Any) -> list[str]:
    """Visible inputs, selects, textareas and buttons without an accessible name (a label,
    aria-label/labelledby, title, or a button's own text) — as HTML snippets."""
    return list(page.evaluate(UNNAMED_CONTROLS_JS))


def tab_to(page: Any, target: Any, limit: int = 80) -> bool:
    """Press Tab from the top of the page until ``target`` (a locator) has the focus."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return True
    return False


def heading_jumps(page: Any) -> list[str]:
    """Headings that skip a level going down (h2 → h4), or a first heading that is not h1."""
    levels = page.evaluate(
        "() => [...document.querySelectorAll('main h1, main h2, main h3, main h4, main h5,"
        " main h6')].map(h => [Number(h.tagName[1]), h.textContent.trim().slice(0, 40)])"
    )
    jumps, previous = [], 0
    for level, text in levels:
        if level > previous + 1:
            jumps.append(f"h{previous} → h{level} {text!r}")
        previous = level
    return jumps


def scroll_width(page: Any) -> int:
    """The page's full width in CSS pixels (more than the viewport: horizontal scrolling)."""
    return int(page.evaluate("document.scrollingElement.scrollWidth"))
