"""Closing an order's loop (五定闭环): done on or after the visit day, staff confirmation,
feedback and follow-up visits (``visits``), and the points and hours helpers earn
(``points``: a ledger whose sums are the balances)."""
