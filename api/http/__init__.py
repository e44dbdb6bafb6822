"""The HTTP edge: the FastAPI app (``app``), API routes (``routes``), server-rendered pages
(``pages``), request and response models (``schemas``), request dependencies (``deps``: sessions,
the calling user from a token or cookie, role gates), the OpenAPI document (``openapi``), each
request's id and latency (``observe``) and the Prometheus figures (``metrics``).

Everything here is thin: validate the request, call a service, render the answer; service errors
become status codes and messages here. May import ``api.services``, ``api.store`` (sessions
only), ``api.settings`` and ``matcher`` models; nothing below imports this package."""
