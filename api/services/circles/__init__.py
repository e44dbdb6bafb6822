"""Care circles (帮扶圈): each resident's lasting group of helpers, made first-class.

- ``facts``: each resident-helper pair's facts from the database (the ledger's circle, visits,
  scores, staff's choice); ``matcher.circles`` says what they mean, and the problem builder reads
  circles, pair weights and blocked pairs through here.
- ``members``: a resident's circle for staff, add / remove / keep (audited); a helper's circles.
- ``targets``: the street's circle target, how many residents meet it, and the weekly planner's
  proposals (``matcher.circle_plan``) with their explanations."""
