"""Pydantic's validation errors in the reader's language: the common error types (a missing or
unknown field, a bound, a wrong type) have catalog messages, their facts taken from pydantic's
context; our own validators' messages are translated where they are raised; any other type
keeps pydantic's (English) text. The English ids are pydantic's own wording."""

from __future__ import annotations

from typing import Any

from api.i18n import N_
from api.i18n import gettext as _

# pydantic error type -> message id (its places name keys of the error's context)
MESSAGES: dict[str, str] = {
    "missing": N_("Field required"),
    "extra_forbidden": N_("Extra inputs are not permitted"),
    "greater_than_equal": N_("Input should be greater than or equal to %(ge)s"),
    "greater_than": N_("Input should be greater than %(gt)s"),
    "less_than_equal": N_("Input should be less than or equal to %(le)s"),
    "less_than": N_("Input should be less than %(lt)s"),
    "enum": N_("Input should be %(expected)s"),
    "literal_error": N_("Input should be %(expected)s"),
    "int_type": N_("Input should be a valid integer"),
    "int_parsing": N_("Input should be a valid integer, unable to parse string as an integer"),
    "int_from_float": N_("Input should be a valid integer, got a number with a fractional part"),
    "float_type": N_("Input should be a valid number"),
    "float_parsing": N_("Input should be a valid number, unable to parse string as a number"),
    "bool_type": N_("Input should be a valid boolean"),
    "bool_parsing": N_("Input should be a valid boolean, unable to interpret input"),
    "string_type": N_("Input should be a valid string"),
    "list_type": N_("Input should be a valid list"),
    "dict_type": N_("Input should be a mapping"),
    "model_type": N_("Input should be a mapping"),
    "model_attributes_type": N_("Input should be a mapping"),
    "date_type": N_("Input should be a valid date (YYYY-MM-DD)"),
    "date_parsing": N_("Input should be a valid date (YYYY-MM-DD)"),
    "date_from_datetime_parsing": N_("Input should be a valid date (YYYY-MM-DD)"),
    "too_long": N_("Input should have at most %(max_length)s items, not %(actual_length)s"),
    "too_short": N_("Input should have at least %(min_length)s items, not %(actual_length)s"),
}


def pydantic_message(detail: Any) -> str:
    """The message of one of pydantic's errors (an item of ``ValidationError.errors()``)."""
    kind = str(detail.get("type", ""))
    message = MESSAGES.get(kind)
    if message is None:  # our validators' ValueErrors (translated when raised), or another type
        return str(detail["msg"]).removeprefix("Value error, ")
    facts = {key: _fact(value) for key, value in (detail.get("ctx") or {}).items()}
    if "expected" in facts:  # pydantic lists choices as "'a', 'b' or 'c'"
        facts["expected"] = facts["expected"].replace(" or ", _(" or "))
    return _(message, **facts) if facts else _(message)


def _fact(value: object) -> str:
    """A context value as pydantic writes it (``0.0`` as ``0``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
