"""Optional parts of Qunbang and the packages they need (pyproject.toml's extras).

A plain ``pip install qunbang`` runs the service on SQLite; PostgreSQL and the planners' HTML
report need an extra each. When one is missing, ``require`` raises ``MissingExtra``: one line that
names the extra to install, instead of an ImportError deep inside SQLAlchemy or matplotlib.
"""

from __future__ import annotations

import importlib

# extra → (the module it brings, what needs it: Chinese, English)
EXTRAS = {
    "postgres": ("psycopg", "PostgreSQL 数据库", "a PostgreSQL database"),
    "report": ("matplotlib", "HTML 报告", "the HTML report"),
}


class MissingExtra(RuntimeError):
    """An optional part was asked for, and the package it needs is not installed."""

    def __init__(self, extra: str, reason: str) -> None:
        module, zh, en = EXTRAS[extra]
        super().__init__(
            f"{zh}需要 {module}，但未安装 / {en} needs {module}, which is not installed "
            f"({reason}): pip install 'qunbang[{extra}]'"
        )
        self.extra = extra


def require(extra: str) -> None:
    """Import the module ``extra`` brings; raise ``MissingExtra`` if it cannot be imported."""
    module = EXTRAS[extra][0]
    try:
        importlib.import_module(module)
    except ImportError as error:
        raise MissingExtra(extra, str(error)) from error
