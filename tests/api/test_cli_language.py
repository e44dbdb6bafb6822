"""The command line speaks one language from the catalogs: chosen by ``--lang``, then
``QUNBANG_LANG``, then the system's locale, else Chinese; in the pseudo-locale every line a
command prints is marked ⟦…⟧ except data (paths, ids, names, numbers)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api import i18n
from api.cli import printing
from api.cli.language import UnknownLanguage, cli_locale
from api.cli.main import app
from api.planner import run as scenario_run
from api.planner.report import charts
from api.services.matching.explain_text import explain_in
from api.settings import Settings, get_settings

CJK = r"\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef"
WORD = re.compile(rf"[A-Za-z{CJK}]")
OPEN, CLOSE = i18n.PSEUDO_OPEN, i18n.PSEUDO_CLOSE
MARKED = re.compile(rf"{OPEN}[^{OPEN}{CLOSE}]*{CLOSE}")  # innermost: marks nest (error: ⟦…⟧)
ORDER_ID = re.compile(r"\bO\d{4}\b")
SCENARIO = """\
name: tiny-street
street:
  generated: {preset: tiny, seed: 3, helpers: 20, residents: 20, orders: 15}
solver: {time_limit_s: 2, workers: 1}
variants:
  - name: wider
    changes:
      - scale_radius: {factor: 1.5}
"""
DATA = ["tiny-street", "base", "wider", "greedy", "nowhere"]  # names and option values

runner = CliRunner()


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    return path


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """A console wide enough that table cells are not wrapped (a marked text stays whole)."""
    monkeypatch.setattr(printing.console, "_width", 250)


@pytest.fixture
def pseudo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """The pseudo-locale offered, and a fresh SQLite database for the service commands."""
    monkeypatch.setenv("QUNBANG_PSEUDO_LOCALE", "1")
    monkeypatch.setenv("QUNBANG_DATABASE_URL", f"sqlite:///{tmp_path / 'q.db'}")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _unmarked(output: str, data: list[str]) -> list[str]:
    """The lines of ``output`` with a letter or CJK character outside marked texts and
    ``data``."""
    text, before = output, ""
    while text != before:
        before, text = text, MARKED.sub(" ", text)
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, " ")
    text = ORDER_ID.sub(" ", text)
    return [line for line in text.splitlines() if WORD.search(line)]


def _explanations(path: Path) -> list[str]:
    """The English explanations of the greedy run's unmatched orders (the JSON's
    ``explanation_en``, written whatever the command's language)."""
    scenario = scenario_run.load(path)
    run = scenario_run.run_scenario(path, scenario, None, "greedy", scenario_run.Overrides())
    catalogue = run.problem.catalogue
    return [
        explain_in("en", u.reason, u.params, catalogue, u.outranked_by)
        for u in run.result.unmatched
    ]


# ----------------------------------------------------------------------------- choosing


def test_the_locale_is_the_option_then_the_setting_then_the_system_then_chinese() -> None:
    """--lang wins over QUNBANG_LANG, which wins over LC_ALL/LC_MESSAGES/LANG (the first set
    decides; C says nothing), else zh_CN; "zh", "en_US.UTF-8" and "EN" find their catalog."""
    plain, english = Settings(lang=""), Settings(lang="en")
    assert cli_locale("zh", english, {}) == "zh_CN"
    assert cli_locale(None, english, {"LANG": "zh_CN.UTF-8"}) == "en"
    assert cli_locale(None, plain, {"LC_ALL": "en_US.UTF-8", "LANG": "zh_CN.UTF-8"}) == "en"
    assert cli_locale(None, plain, {"LC_ALL": "C.UTF-8", "LANG": "en_US.UTF-8"}) == "zh_CN"
    assert cli_locale(None, plain, {"LANG": "fr_FR.UTF-8"}) == "zh_CN"
    assert cli_locale(None, plain, {}) == "zh_CN"
    assert cli_locale("EN", plain, {}) == "en"
    with pytest.raises(UnknownLanguage):
        cli_locale("fr", plain, {})
    with pytest.raises(UnknownLanguage):  # the pseudo-locale only where a setting offers it
        cli_locale("qps", plain, {})
    assert cli_locale("qps", Settings(pseudo_locale=True), {}) == "qps"


def test_an_unknown_language_exits_2_naming_the_choices(scenario_file: Path) -> None:
    """--lang fr exits 2 with one line listing the languages there are."""
    result = runner.invoke(app, ["--lang", "fr", "scenario", "run", str(scenario_file)])
    assert result.exit_code == 2
    assert "'fr'" in result.output and "en" in result.output and "zh_CN" in result.output
    assert "Traceback" not in result.output


def test_the_command_leaves_the_locale_as_it_found_it(scenario_file: Path) -> None:
    """A command's language is its own: after it the caller's locale is back."""
    with i18n.use_locale("zh_CN"):
        args = ["--lang", "en", "scenario", "run", str(scenario_file), "--solver", "greedy"]
        assert runner.invoke(app, args).exit_code == 0
        assert i18n.current() == "zh_CN"


# ----------------------------------------------------------------------------- one language


def test_run_prints_english_or_chinese_never_both(scenario_file: Path, wide: None) -> None:
    """The same run printed in en and in zh_CN: different texts, each from its catalog, no
    Chinese in the English output and no English word in the Chinese one (data aside)."""
    args = ["scenario", "run", str(scenario_file), "--solver", "greedy"]
    english = runner.invoke(app, ["--lang", "en", *args])
    chinese = runner.invoke(app, ["--lang", "zh_CN", *args])
    assert english.exit_code == chinese.exit_code == 0, english.output + chinese.output
    assert english.output != chinese.output
    with i18n.use_locale("en"):
        assert i18n.gettext("Matching summary") in english.output
    with i18n.use_locale("zh_CN"):
        assert i18n.gettext("Matching summary") in chinese.output
    assert not re.search(f"[{CJK}]", english.output)
    data = ["tiny-street", "base", "greedy"]
    leftover = ORDER_ID.sub(" ", chinese.output)
    for value in data:
        leftover = leftover.replace(value, " ")
    assert not re.search(r"[A-Za-z]{2,}", leftover), leftover


# ----------------------------------------------------------------------------- pseudo-locale


def test_every_line_the_commands_print_is_marked_in_the_pseudo_locale(
    scenario_file: Path, tmp_path: Path, pseudo: None, wide: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In qps, db upgrade and check (sound and unknown street), scenario run, compare and
    report, an unknown variant and a file pydantic rejects: every letter printed is inside a
    marked text or is data (paths, field paths, names, order ids; the matcher's explanations
    are data given in two languages)."""
    file = str(scenario_file)
    broken = tmp_path / "broken.yaml"  # pydantic's errors too, in the catalogs' words
    broken.write_text(SCENARIO.replace("helpers: 20", "helpers: -5, bogus: 1"), encoding="utf-8")
    commands = [
        (["db", "upgrade"], 0),
        (["db", "check"], 0),
        (["db", "check", "--street", "nowhere"], 2),
        (["scenario", "run", file, "--solver", "greedy"], 0),
        (["scenario", "compare", file, "--solvers", "greedy"], 0),
        (["scenario", "run", file, "--variant", "nowhere"], 2),
        (["scenario", "run", str(broken)], 2),
        (["scenario", "report", file, "--solver", "greedy", "--out", str(tmp_path / "r")], 0),
    ]
    monkeypatch.setattr(charts, "to_png", lambda figure: b"chart")  # the page is not read here
    fields = ["street.generated.helpers", "street.generated.bogus"]
    data = [*DATA, *fields, str(tmp_path), *_explanations(scenario_file)]
    for args, code in commands:
        result = runner.invoke(app, ["--lang", "qps", *args])
        assert result.exit_code == code, (args, result.output)
        assert i18n.PSEUDO_OPEN in result.output, args
        assert _unmarked(result.output, data) == [], args


def _helps(command: object, path: str = "qunbang") -> Iterator[tuple[str, object]]:
    """Every help text of the command line: each group's and command's, and each option's and
    argument's (as the click objects Typer builds hold them)."""
    yield path, getattr(command, "help", None)
    for param in getattr(command, "params", []):
        if param.name not in ("help", "install_completion", "show_completion"):  # click's own
            yield f"{path} {param.name}", getattr(param, "help", None)
    for name, sub in getattr(command, "commands", {}).items():
        yield from _helps(sub, f"{path} {name}")


def test_every_help_text_comes_from_the_catalogs(monkeypatch: pytest.MonkeyPatch) -> None:
    """In the pseudo-locale every group's, command's and option's help is marked: all are
    catalog messages (``i18n.lazy``) read in the locale in force when Typer builds the
    command line, none a fixed English text."""
    import typer.main

    monkeypatch.setenv("QUNBANG_PSEUDO_LOCALE", "1")
    i18n.forget()
    with i18n.use_locale(i18n.PSEUDO):
        helps = [(where, str(text)) for where, text in _helps(typer.main.get_command(app))]
    assert len(helps) >= 40
    assert [(where, text) for where, text in helps if OPEN not in text] == []


@pytest.mark.parametrize(
    ("args", "environ", "expected", "absent"),
    [
        (["--lang", "zh_CN", "nightly", "--help"], {}, "匹配某日的未派订单", "Match the open"),
        (["nightly", "--help"], {"QUNBANG_LANG": "en"}, "Match the open", "匹配"),
        (["--lang=en", "db", "--help"], {"QUNBANG_LANG": "zh_CN"}, "The database:", "数据库"),
        (["--help"], {"LANG": "en_US.UTF-8"}, "volunteer matching", "群帮："),
        (["--help"], {"LANG": "C"}, "群帮：街道志愿者匹配服务", "volunteer matching"),
    ],
)
def test_help_speaks_the_commands_language(
    args: list[str],
    environ: dict[str, str],
    expected: str,
    absent: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The ``qunbang`` command (``run``) shows its help in the language it would print in:
    ``--lang`` wherever it stands, else QUNBANG_LANG, else the system's locale, else Chinese."""
    from api.cli.main import run

    for name in ("QUNBANG_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    monkeypatch.setattr("sys.argv", ["qunbang", *args])
    with pytest.raises(SystemExit) as ended:
        run()
    get_settings.cache_clear()
    output = " ".join(capsys.readouterr().out.split())  # the help's box wraps lines
    assert ended.value.code == 0
    assert expected in output and absent not in output
