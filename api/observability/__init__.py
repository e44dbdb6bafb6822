"""Operating the service: request ids, logs, metrics and the health check.

- ``logs``: the request id of the request being served (a context variable), the log filter that
  puts it on every record, the JSON log format, and the logging set-up of ``serve`` and the CLI.
- ``requests``: the ASGI middleware that gives each request its id and times it.
- ``metrics``: ``/metrics`` in Prometheus's text format (request latency; nightly runs and the
  outbox read from the database at scrape time) and who may read it.
- ``health``: what ``/health`` checks (the database answers, its schema is this version's).

The HTTP edge's helpers: they may import the store, Starlette and ``prometheus_client``; services
never import them (a service logs through ``logging`` and gets the request id for free).
"""
