"""Matching: the one ``Plan`` (``plan.py``: solved with no lock held, written under the street's
write lock only if its basis has not moved, else ``Stale``), the nightly run of a street and date,
the runs' record and what a re-run changed, building the matcher's ``Problem`` from the database
(kept per worker while stamps hold), the street map, and the database's invariants
(``qunbang db check``)."""
