"""The planner's HTML report: ``render_report`` draws a page from solved runs;
``write_report`` loads a scenario file, solves its base and variants and writes ``report.html``."""

from api.planner.report.figures import ReportRun
from api.planner.report.page import render_report
from api.planner.report.write import write_report

__all__ = ["ReportRun", "render_report", "write_report"]
