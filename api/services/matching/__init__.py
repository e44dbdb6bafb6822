"""Matching: the nightly run of a street and date (solve with no lock held, then write),
the runs' record and what a re-run changed, building the matcher's ``Problem`` from the database
(kept per worker while stamps hold), the street map, and the database's invariants
(``qunbang db check``)."""
