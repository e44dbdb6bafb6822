"""The street's points shop (积分兑换超市).

- ``items``: goods and services with a points price and a stock, offered by the street or a
  partner unit, at the street's counter or one community's; kept by staff.
- ``redeem``: a helper (on the phone, or staff at the counter for them) redeems points for an
  item: balance and stock are checked and changed under the street's write lock, never below
  0; the points leave as an append-only ``redemption`` entry of the points ledger and the
  helper gets a receipt code the shop checks and marks used. Cancelling an unused receipt
  appends the entry's reversal (the points come back) and restores the stock.
- ``checks``: the shop's and the wish board's invariants, which ``qunbang db check`` runs with
  the others (``api.services.matching.invariants``).
"""
