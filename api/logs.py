"""Logs: the request id on every record, and the text or JSON format (``QUNBANG_LOG_FORMAT``).

A request's id lives in a context variable set by ``api.http.observe``: it follows the
request into the worker threads that run its sync routes (Starlette copies the context), and
``RequestIdFilter``, installed on the handlers, copies it onto each record as ``request_id``
(``-`` outside a request: the ticker, the CLI)."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from contextvars import ContextVar
from typing import Any, Literal

from pythonjsonlogger.json import JsonFormatter

LogFormat = Literal["text", "json"]
NO_REQUEST = "-"
request_id: ContextVar[str] = ContextVar("qunbang_request_id", default=NO_REQUEST)
CLI_TEXT = "%(levelname)s:%(name)s:%(message)s"  # logging.basicConfig's, as the CLI had
# uvicorn's own line shapes, with the request id added; the app's loggers' lines look alike.
SERVER_TEXT = "%(levelprefix)s %(message)s"
SERVER_APP_TEXT = "%(levelprefix)s %(name)s [%(request_id)s] %(message)s"
SERVER_ACCESS_TEXT = (
    '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s [%(request_id)s]'
)
FILTER = "api.logs.RequestIdFilter"
JSON_FORMATTER = "api.logs.JsonLogFormatter"
DROPPED = ("color_message",)  # uvicorn's coloured copy of some messages


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record as ``request_id`` (lets all through)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonLogFormatter(JsonFormatter):
    """One JSON object per line: ``time`` (UTC, ISO 8601 with ``Z``), ``level``, ``logger``,
    ``message``, ``request_id`` while serving a request, ``exception`` (the traceback's text) and
    any fields passed with ``extra=``. Chinese stays readable (no ``\\u`` escapes)."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={
                "asctime": "time",
                "levelname": "level",
                "name": "logger",
                "exc_info": "exception",
                "stack_info": "stack",
            },
            json_ensure_ascii=False,
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = dt.datetime.fromtimestamp(record.created, dt.UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        if log_data.get("request_id") == NO_REQUEST:
            del log_data["request_id"]
        for name in DROPPED:
            log_data.pop(name, None)
        return log_data


def configure_cli_logging(log_format: LogFormat, level: int = logging.WARNING) -> None:
    """The CLI's logging, as ``logging.basicConfig(level=level)`` did (stderr; nothing done if
    the root logger already has a handler), in JSON when ``log_format`` says so."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(
        JsonLogFormatter() if log_format == "json" else logging.Formatter(CLI_TEXT)
    )
    root.addHandler(handler)
    root.setLevel(level)


def server_logging_config(log_format: LogFormat, level: str = "INFO") -> dict[str, Any]:
    """``logging.config.dictConfig`` for ``serve`` (uvicorn applies it in every worker): uvicorn's
    lines and the app's (``qunbang.*``, at ``level``) on stderr, access lines on stdout, each with
    its request id; in JSON, every line on stderr as one object."""
    filters = {"request_id": {"()": FILTER}}
    if log_format == "json":
        return {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": filters,
            "formatters": {"json": {"()": JSON_FORMATTER}},
            "handlers": {"json": _handler("json", "ext://sys.stderr")},
            "loggers": {
                name: {"handlers": [], "level": "INFO", "propagate": True}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
            },
            "root": {"handlers": ["json"], "level": level},
        }
    uvicorn_formatter = "uvicorn.logging.DefaultFormatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": filters,
        "formatters": {
            "default": {"()": uvicorn_formatter, "fmt": SERVER_TEXT, "use_colors": None},
            "app": {"()": uvicorn_formatter, "fmt": SERVER_APP_TEXT, "use_colors": None},
            "access": {"()": "uvicorn.logging.AccessFormatter", "fmt": SERVER_ACCESS_TEXT},
        },
        "handlers": {
            "default": _handler("default", "ext://sys.stderr"),
            "app": _handler("app", "ext://sys.stderr"),
            "access": _handler("access", "ext://sys.stdout"),
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
        "root": {"handlers": ["app"], "level": level},
    }


def _handler(formatter: str, stream: str) -> dict[str, Any]:
    return {
        "class": "logging.StreamHandler",
        "formatter": formatter,
        "stream": stream,
        "filters": ["request_id"],
    }
