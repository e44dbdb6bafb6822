"""Service settings, read from the environment (``QUNBANG_*``) in one place."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the service reads from its environment; defaults suit ``make demo``."""

    model_config = SettingsConfigDict(env_prefix="QUNBANG_", extra="ignore")

    # The embedded default: a SQLite file under var/ (WAL mode). PostgreSQL when a URL is given,
    # e.g. postgresql+psycopg://qunbang@127.0.0.1:5432/qunbang.
    database_url: str = "sqlite:///var/qunbang.db"
    timezone: str = "Asia/Shanghai"
    token_ttl_minutes: int = Field(default=12 * 60, gt=0)
    # Failed logins allowed per username and per client address within the window; past
    # either, logins are refused with 429 until enough failures leave the window.
    login_failures_per_account: int = Field(default=5, ge=1)
    login_failures_per_client: int = Field(default=20, ge=1)
    login_window_minutes: float = Field(default=15.0, gt=0)
    # The site is served over HTTPS (behind a proxy that terminates TLS): the login cookie is
    # then sent only over HTTPS (``Secure``) and browsers are told to stay on HTTPS (HSTS).
    https: bool = False
    # The site's public origin (e.g. https://qunbang.example.org) if a proxy in front of the
    # service changes the Host header; unsafe requests must come from the Host or from this.
    site_origin: str = ""
    # An offer must be answered within this many hours, and at least an hour before the visit.
    offer_response_hours: float = Field(default=12.0, gt=0)
    reminder_before_minutes: int = Field(default=120, ge=0)
    nightly_time_limit_s: float = Field(default=20.0, gt=0)
    rematch_time_limit_s: float = Field(default=2.0, gt=0)
    # The nightly run's reads, preparation and solve run at this CPU niceness (0-19, Linux: per
    # thread, inherited by the solver's threads), and `qunbang nightly` (its whole process and,
    # where allowed, its PostgreSQL backends) too: answers to helpers and pages keep the CPU
    # while a street is matched. Default: the lowest priority.
    nightly_nice: int = Field(default=19, ge=0, le=19)
    # ... and under Linux's SCHED_IDLE policy: only CPU time nothing else wants (a woken request
    # thread takes the CPU from it at once); the solve's time limit is wall time.
    nightly_idle: bool = True
    # CP-SAT workers (threads) of a street's nightly solve. Two use both cores of a small server;
    # one leaves a core to the service while another street is matched during the day.
    nightly_workers: int = Field(default=2, ge=1, le=64)
    # A re-run keeps every pending member where they are unless re-planning them too covers at
    # least this many more plain orders' worth of priority-weighted demand (see README).
    rerun_margin_orders: float = Field(default=1.0, ge=0)
    # Requests served at once per server process (the rest wait their turn), and how often
    # Python lets another thread run (ms): measured with bench/loop_bench.py (bench/README).
    request_threads: int = Field(default=2, ge=1, le=200)
    switch_interval_ms: float = Field(default=0.5, gt=0, le=100)
    # How often the server expires overdue offers, sends reminders and drains the outbox.
    tick_seconds: float = Field(default=30.0, ge=0)
    notify_sender: Literal["log", "webhook"] = "log"
    webhook_url: str | None = None
    low_score_threshold: int = Field(default=2, ge=1, le=5)  # feedback at or below: follow-up visit
    follow_up_days: int = Field(default=3, ge=0)
    # Offer the pseudo-locale "qps" (every catalog text marked ⟦…⟧): for tests and translators.
    pseudo_locale: bool = False
    # The command line's language (zh_CN, en; "zh" and "en_US" do too); empty: the system's
    # LC_ALL / LC_MESSAGES / LANG, else Chinese. ``--lang`` overrides it (api.cli.language).
    lang: str = ""
    # Log lines as text (uvicorn's shape, with the request id) or one JSON object per line.
    log_format: Literal["text", "json"] = "text"
    # What a scraper sends to read /metrics (Authorization: Bearer …); empty: nobody may.
    metrics_token: SecretStr = SecretStr("")


@lru_cache
def get_settings() -> Settings:
    return Settings()
