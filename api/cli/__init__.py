"""The ``qunbang`` command line (``main``: typer app), its service commands (``service``:
serve, db check, ticker) and what it prints (``printing``). May import every layer below it
(services, planner, store); never ``api.http`` except to serve the app."""
