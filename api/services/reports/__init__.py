"""Figures for superiors (issue 11): the monthly or quarterly report of a street, its communities
and their grids (``figures``: what each figure counts and the few grouped queries that count it;
``periods``: a month ``2026-10`` or a quarter ``2026-Q4``; ``sheet``: the same table as an XLSX
file in the reader's language). The figures are counts, sums and shares, no personal data: street
staff see the street with its communities and grids, community staff their community and its
grids, planners the figures of their street."""
