"""Input errors that carry where they are as data, so a reader (a scenario file, an import)
can point at its own row and field without parsing the message."""

from __future__ import annotations

from typing import Any


class ProblemError(ValueError):
    """Input that does not make a valid problem, and where: ``kind`` of entry (``"helper"``,
    ``"resident"``, ``"order"``, ``"item"``, ``"skill"``, ``"category"``, ``"travel leg"``, or
    ``None`` for a street spec's own field), its ``id`` (a travel leg's: its index), the
    ``field`` (None: the entry as a whole), the offending ``value`` within a list field (an
    unknown skill, say), ``what`` is wrong, and whether it is a ``duplicate`` id (then the
    last entry of that id is the odd one out). ``str`` is the message people read, e.g.
    ``helper 'H1': field 'skills': unknown skill 'x'``.

    Raised inside a pydantic validator it reaches the caller inside ``ValidationError``, as
    ``errors()[i]["ctx"]["error"]`` (``ProblemError.of``)."""

    def __init__(
        self,
        kind: str | None,
        id: str | int | None,
        field: str | None,
        what: str,
        *,
        value: str | None = None,
        duplicate: bool = False,
        label: str | None = None,
    ) -> None:
        self.kind, self.id, self.field, self.what = kind, id, field, what
        self.value, self.duplicate, self.label = value, duplicate, label
        where = label or (f"{kind} {id!r}" if kind is not None else None)
        parts = [where] if where else []
        parts += [f"field {field!r}"] if field is not None else []
        super().__init__(": ".join([*parts, what]))

    def __reduce__(self) -> tuple[Any, ...]:
        state = {"value": self.value, "duplicate": self.duplicate, "label": self.label}
        return (_rebuild, (self.kind, self.id, self.field, self.what, state))

    @staticmethod
    def of(error: Exception) -> ProblemError | None:
        """The ``ProblemError`` behind ``error`` (itself, or the first of a ``ValidationError``'s
        errors), if there is one."""
        if isinstance(error, ProblemError):
            return error
        details = getattr(error, "errors", None)
        if details is None:
            return None
        for detail in details(include_url=False):
            found = detail.get("ctx", {}).get("error")
            return found if isinstance(found, ProblemError) else None
        return None


def _rebuild(
    kind: str | None, id: str | int | None, field: str | None, what: str, state: dict[str, Any]
) -> ProblemError:
    return ProblemError(kind, id, field, what, **state)
