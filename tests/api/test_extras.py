"""Optional extras (``[postgres]``, ``[report]``): a missing one is one clear line naming it, the
rest runs without it; constraints.txt pins everything pyproject.toml installs."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from typer.testing import CliRunner, Result

from api.cli.main import app
from api.extras import MissingExtra, require
from api.settings import get_settings
from api.store.db import make_engine

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _one_line(result: Result) -> str:
    """The command's only output line; it exited on purpose (no exception escaped)."""
    assert isinstance(result.exception, SystemExit), result.exception
    output = result.output
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


def test_report_without_matplotlib_names_the_report_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without matplotlib, ``scenario report`` fails with one line naming ``qunbang[report]``."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    out = tmp_path / "report"
    result = runner.invoke(
        app, ["scenario", "report", str(ROOT / "scenarios/health-gap.yaml"), "--out", str(out)]
    )
    assert result.exit_code == 1
    line = _one_line(result)
    assert "matplotlib" in line
    assert "pip install 'qunbang[report]'" in line
    assert not out.exists()


def test_postgres_url_without_psycopg_names_the_postgres_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without psycopg, a command on a PostgreSQL URL fails with one line naming the extra."""
    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.setenv("QUNBANG_DATABASE_URL", "postgresql://qunbang@127.0.0.1:1/nowhere")
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["db", "upgrade"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    line = _one_line(result)
    assert "psycopg" in line
    assert "pip install 'qunbang[postgres]'" in line


@pytest.mark.parametrize(
    "url", ["postgresql://qunbang@127.0.0.1:1/x", "postgresql+psycopg://qunbang@127.0.0.1:1/x"]
)
def test_make_engine_without_psycopg_raises_missing_extra(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    """make_engine on PostgreSQL without psycopg raises MissingExtra, not an ImportError."""
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(MissingExtra, match=r"qunbang\[postgres\]"):
        make_engine(url)


def test_bare_postgresql_url_means_psycopg() -> None:
    """``postgresql://`` is driven by psycopg (3), which Qunbang installs, not psycopg2."""
    engine = make_engine("postgresql://qunbang@127.0.0.1:1/x")  # makes no connection yet
    try:
        assert engine.dialect.driver == "psycopg"
    finally:
        engine.dispose()


def test_require_passes_when_installed() -> None:
    """``require`` is silent when the extra's module imports (the dev install has both)."""
    require("report")
    require("postgres")
    with pytest.raises(KeyError):
        require("no-such-extra")


def test_app_and_cli_import_without_extras(tmp_path: Path) -> None:
    """The CLI and the app (on SQLite) load with neither matplotlib nor psycopg importable."""
    code = (
        "import sys\n"
        "sys.modules['matplotlib'] = sys.modules['psycopg'] = None\n"
        "import api.cli.main\n"
        "from api.http.app import create_app\n"
        "from api.settings import Settings\n"
        f"create_app(Settings(database_url='sqlite:///{tmp_path}/q.db'), ticker=False)\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=50
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def _pins() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: not a pin: {line!r}"
            pins[canonicalize_name(name)] = Version(version)
    return pins


def _installs(requirement: Requirement, extras: tuple[str, ...]) -> bool:
    """Whether a requirement applies here, for a package installed with ``extras``."""
    marker: Marker | None = requirement.marker
    if marker is None:
        return True
    return any(marker.evaluate({"extra": extra}) for extra in extras or ("",))


def _requirement_tree(project: dict[str, Any], extras: tuple[str, ...]) -> set[str]:
    """The names of every package that installing the project with ``extras`` brings in (as far
    as this environment's packages' metadata tell)."""
    own = canonicalize_name(project["name"])
    todo: list[tuple[Requirement, tuple[str, ...]]]
    todo = [(Requirement(text), ()) for text in project["dependencies"]]
    for extra in extras:
        todo += [(Requirement(text), ()) for text in project["optional-dependencies"][extra]]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    names: set[str] = set()
    while todo:
        requirement, parent_extras = todo.pop()
        if not _installs(requirement, parent_extras):
            continue
        name = canonicalize_name(requirement.name)
        wanted = tuple(sorted(requirement.extras))
        if (name, wanted) in seen:
            continue
        seen.add((name, wanted))
        if name == own:  # qunbang[postgres,report] inside dev
            for extra in wanted:
                todo += [(Requirement(t), ()) for t in project["optional-dependencies"][extra]]
            continue
        names.add(name)
        try:
            requires = metadata.requires(requirement.name) or []
        except metadata.PackageNotFoundError:
            continue  # not installed here (another platform's): its pin is still required
        todo += [(Requirement(text), wanted) for text in requires]
    return names


def test_constraints_pin_every_dependency() -> None:
    """constraints.txt pins every package the dev install brings in (run make lock otherwise),
    and each pin is allowed by pyproject.toml's own version ranges."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = _pins()
    unpinned = _requirement_tree(project, ("dev",)) - set(pins)
    assert not unpinned, f"not in constraints.txt (run make lock): {sorted(unpinned)}"
    for group in [project["dependencies"], *project["optional-dependencies"].values()]:
        for text in group:
            requirement = Requirement(text)
            name = canonicalize_name(requirement.name)
            if name in pins:
                assert requirement.specifier.contains(pins[name], prereleases=True), (
                    f"constraints.txt pins {name}=={pins[name]}, pyproject.toml asks {text}"
                )
