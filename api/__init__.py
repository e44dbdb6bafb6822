"""Qunbang's service around the matcher, in layers (each package's docstring says what belongs
there and what it may import):

- ``api.http``: the HTTP edge: the app, API routes, server-rendered pages, request dependencies
  and the mapping of service errors to status codes.
- ``api.services``: what the service does, one package per capability; knows nothing of HTTP.
- ``api.store``: tables, engines and sessions, migrations.
- ``api.planner``: planner tools: scenario files and their HTML report.
- ``api.cli``: the ``qunbang`` command line.
- ``api.settings``: configuration (environment variables), read by every layer.
- ``api.logs``: logging set-up (text or JSON) and the request id on every line, for every layer.
- ``api.extras``: the optional extras (``[postgres]``, ``[report]``); a layer that needs one
  calls ``require`` first, which names the extra to install when it is missing.

Imports go downwards only: http and cli → planner → services → store → (matcher, settings).
``matcher`` never imports ``api``."""
