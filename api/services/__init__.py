"""Services: everything Qunbang does, one package per capability; they read and write the
database and ask ``matcher`` for every rule and plan. They know nothing of HTTP: no FastAPI or
Starlette import (a test checks it); the calling user is ``services.actor.Actor`` and refusals
are ``services.errors`` exceptions, which the HTTP edge and the command line turn into answers.

- ``matching``: nightly runs, a run's record, the matcher's problem from the database, the
  street map, the database's invariants.
- ``offers``: offers and their answers, re-matching, assigning, staff dispatching.
- ``claims``: helpers claiming open orders (single, team, bundle).
- ``orders``: residents' and staff's orders.
- ``intake``: grid workers' residents, family accounts and their links, the review step.
- ``closing``: done, confirmation, feedback and follow-up visits; points and hours.
- ``ledger``: the street's people and catalogue, imports and exports, seeding and the demo.
- ``messages``: the notification outbox, the ticker, leases.
- ``accounts``: users, tokens and logins, the audit log.
- ``circles``: care circles: each pair's facts, staff's choices, the street's target and planner.
- ``reports``: the monthly and quarterly figures for superiors, as a table and an XLSX file.
- ``operations``: the health check and the figures ``/metrics`` shows, read from the database.

May import ``api.store``, ``api.settings`` and ``matcher``; never ``api.http``, ``api.cli`` or
``api.planner``."""
