"""Planner tools: scenario files (``scenario``: YAML plus CSV tables, variants), solving them
(``run``) and their HTML report (``report``). May import ``api.services``, ``matcher`` and
``api.settings``; never ``api.http``."""
