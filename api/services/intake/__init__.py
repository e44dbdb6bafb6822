"""Intake (点单/下单) beyond staff and residents: grid workers' residents (``grid``), family
accounts and their links (``family``) and the review step of the street (``review``)."""
