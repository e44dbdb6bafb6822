"""``write_report``: scenario file in, ``report.html`` out (loading and solving at the edge)."""

from __future__ import annotations

import logging
from pathlib import Path

from api import i18n
from api.planner.report.figures import ReportRun
from api.planner.report.page import render_report
from matcher.solve import solve, solve_greedy

log = logging.getLogger("qunbang.report")


def write_report(
    path: Path,
    variants: list[str] | None,
    out_dir: Path,
    solver: str = "cpsat",
    time_limit: float | None = None,
    locale: str | None = None,
) -> Path:
    """Solve the scenario in ``path`` (its base, then each of ``variants``; ``None`` means every
    variant in the file) with ``solver`` ("cpsat" or "greedy") and write ``out_dir/report.html``.

    ``time_limit`` overrides the file's time limit; the page is written in ``locale`` (default:
    the current one). Raises ``ScenarioError`` for a bad file or an
    unknown variant and ``ValueError`` for an unknown solver.
    """
    from api.planner.scenario import build, load_scenario, variant_names  # the edge: file reading

    if solver not in ("cpsat", "greedy"):
        raise ValueError(
            i18n.gettext(
                "unknown solver %(solver)s; choose one of: %(choices)s",
                solver=repr(solver),
                choices="cpsat, greedy",
            )
        )
    scenario = load_scenario(Path(path))
    names = variant_names(scenario) if variants is None else list(variants)
    runs = []
    for variant in [None, *names]:
        built = build(scenario, variant)
        params = built.params
        if time_limit is not None:
            params = params.model_copy(update={"time_limit_s": time_limit})
        log.info("solving %s with %s", built.label, solver)
        result = (
            solve(built.problem, params)
            if solver == "cpsat"
            else solve_greedy(built.problem, params)
        )
        runs.append(ReportRun(built.label, built.problem, built.layout, result, params.wait_boost))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "report.html"
    with i18n.use_locale(locale or i18n.current()):
        html = render_report(_title(scenario, path), runs)
    target.write_text(html, encoding="utf-8")
    return target


def _title(scenario: object, path: Path) -> str:
    name = getattr(scenario, "name", None)
    return str(name) if name else Path(path).stem
