"""Reading the service catalogue (服务清单) from YAML into a validated ``Catalogue``.

The file has three top-level lists, ``skills``, ``categories`` and ``items``, whose entries carry
exactly the fields of ``Skill``, ``Category`` and ``ServiceItem``. Any problem with the file raises
``CatalogueError`` naming the file, the place (``items[3].duration_min`` or a YAML line) and what
is wrong, so that staff editing the catalogue by hand can fix it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from matcher.model import Catalogue
from seeds import CATALOGUE_PATH

# Messages of the cross-reference checks in ``Catalogue`` name an entry by its code, e.g.
# "item 'L01': field 'required_skills': unknown skill 'x'"; we turn that into a list index.
_REFERENCE_MESSAGE = re.compile(r"^(skill|category|item) '(.*?)': field '(\w+)': (.*)$", re.DOTALL)
_SECTIONS = {"skill": "skills", "category": "categories", "item": "items"}


class CatalogueError(ValueError):
    """The catalogue file cannot be read, is not valid YAML, or does not describe a catalogue."""


def load_catalogue(path: Path | None = None) -> Catalogue:
    """The catalogue in ``path``; by default the shipped ``seeds/catalogue.yaml`` (read once)."""
    if path is None:
        return _default_catalogue()
    return _read_catalogue(Path(path))


@lru_cache(maxsize=1)
def _default_catalogue() -> Catalogue:
    return _read_catalogue(CATALOGUE_PATH)


def _read_catalogue(path: Path) -> Catalogue:
    data = read_yaml(path, CatalogueError)
    if not isinstance(data, dict):
        raise CatalogueError(
            f"{path}: expected a mapping with keys 'skills', 'categories' and 'items', "
            f"found {type(data).__name__}"
        )
    try:
        return Catalogue.model_validate(data)
    except ValidationError as error:
        raise CatalogueError(_describe(path, error, data)) from error


def read_yaml(path: Path, error_type: type[ValueError] = ValueError) -> Any:
    """The parsed YAML file; an unreadable file or a syntax error raises ``error_type`` with a
    message naming the file (and the line and column of a syntax error)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise error_type(f"{path}: cannot read the file: {error}") from error
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown place"
        problem = error.problem or error.context or "syntax error"
        raise error_type(f"{path}: {where}: YAML syntax error: {problem}") from error
    except yaml.YAMLError as error:
        raise error_type(f"{path}: YAML syntax error: {error}") from error


def _describe(path: Path, error: ValidationError, data: dict[str, Any]) -> str:
    lines = []
    for detail in error.errors(include_url=False):
        location = field_path(detail["loc"])
        message = detail["msg"]
        if not location:
            location, message = _locate_reference_error(message, data)
        elif "input" in detail and detail["type"] not in ("missing", "extra_forbidden"):
            message = f"{message} (got {detail['input']!r})"
        lines.append(f"{location or '<catalogue>'}: {message}")
    if len(lines) == 1:
        return f"{path}: {lines[0]}"
    return f"{path}: {len(lines)} errors:\n" + "\n".join(f"  {line}" for line in lines)


def field_path(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as a path: ``('items', 3, 'duration_min')`` ->
    ``items[3].duration_min``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _locate_reference_error(message: str, data: dict[str, Any]) -> tuple[str, str]:
    """The field path of a cross-reference error raised by ``Catalogue``'s own validator."""
    message = message.removeprefix("Value error, ")
    match = _REFERENCE_MESSAGE.match(message)
    if match is None:
        return "", message
    kind, code, field, what = match.groups()
    section = _SECTIONS[kind]
    field = "code" if field == "id" else field
    entries = data.get(section)
    if isinstance(entries, list):
        indices = [
            index
            for index, entry in enumerate(entries)
            if isinstance(entry, dict) and str(entry.get("code")) == code
        ]
        if indices:
            # A duplicate is reported where it repeats, not where it first appears.
            index = indices[-1] if what == "duplicate id" else indices[0]
            return f"{section}[{index}].{field}", f"{what} (in {kind} {code!r})"
    return f"{section}.{field}", f"{what} (in {kind} {code!r})"
