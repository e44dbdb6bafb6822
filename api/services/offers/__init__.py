"""Offers: a helper's offers and their answers (``answers``), re-matching an order after a
decline or an expiry (``rematch``; the order's state it plans on and checks: ``state``), the
shared writing of teams and offers (``assign``), and staff dispatching by hand (``dispatch``:
reassign, cancel, ranked candidates)."""
