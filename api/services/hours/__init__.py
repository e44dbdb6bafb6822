"""Volunteer hours and a helper's own time (issue 12): check-in and check-out at a visit
(``clock``), the hours ledger written when staff confirm a visit (``ledger``), the certificate
of a helper's service (``certificate``, a PDF), the honour roll by hours and points
(``honour``), a helper's history (``history``), and the hours per weekday, leave and pauses a
helper sets for themselves (``own_time``; ``days`` turns them into the matcher's data)."""
