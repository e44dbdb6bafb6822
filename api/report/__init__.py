"""The planner's HTML report: ``render_report`` draws a page from solved runs;
``write_report`` loads a scenario file, solves its base and variants and writes ``report.html``."""

from api.report.figures import ReportRun
from api.report.page import render_report
from api.report.write import write_report

__all__ = ["ReportRun", "render_report", "write_report"]
