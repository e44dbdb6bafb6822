"""Two-way long-term pairing programmes (双向自主选择, e.g. 周末妈妈 weekend mothers for
left-behind children, 结对帮扶 for elderly people living alone).

- ``setup``: a street's programmes (season, rhythm, capacities, rules) and who is enrolled.
- ``ranking``: each member's shortlist (asked of ``matcher.pairing``, which asks the matcher's
  eligibility) and their ranking of it, by themselves or by staff on their behalf.
- ``pairs``: the stable matching (``matcher.pairing.stable_matching``), staff confirming pairs
  (each becomes a recurring order and the helper joins the resident's circle), ending them.
- ``keep``: which helper a programme's recurring order is kept with (read by the nightly run).
"""
