"""Micro-wishes (微心愿) and who fulfils them.

- ``partners``: the street's partner units (共建单位: companies, party branches), registered by
  staff, and its standing volunteer teams (志愿服务队) with their members.
- ``board``: the wish board: a resident (or staff on their behalf) posts a small wish, a thing or
  a service, with the points it is worth; a helper claims it (alone, or for their team), or staff
  record a partner unit's claim; staff confirm it fulfilled and the points are paid once through
  the points ledger (``api.services.closing.points``: a ``wish`` entry per paid helper).

Every change of a wish's status takes the street's write lock (``begin_write``, no solver
inside) and is a compare-and-set on the wish's ``version``: of two claims at once exactly one
wins, the other gets ``Conflict``.
"""
