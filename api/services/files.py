"""Reading files that people hand us (scenario YAML, the CSV tables it names): bounded, safe,
and with errors that name the file, the place and the reason, never the file's content.

- ``read_regular_file``: only a regular file (no ``/dev/zero``, FIFO or folder), never more than
  a size limit, opened without blocking.
- ``inside_folder``: a path written in a file, resolved against that file's folder; absolute
  paths, ``..`` and symbolic links leading out are refused.
- ``load_yaml``: safe YAML (plain data only) with duplicate keys refused, bounded nesting depth
  and a bounded number of nodes once aliases are expanded (no "billion laughs").

Every function raises the caller's error type (a ``ValueError`` subclass) with the whole message.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePath
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from api.i18n import gettext as _

MAX_YAML_BYTES = 4 * 1024 * 1024
MAX_YAML_DEPTH = 50
MAX_YAML_NODES = 2_000_000  # nodes after expanding aliases
MERGE_TAG = "tag:yaml.org,2002:merge"
MAX_LISTED = 10  # errors of one file listed in its message; the rest are counted

Refusal = type[ValueError]


class FileRefused(ValueError):
    """A file that cannot be read safely or is not valid; ``str`` is the whole message."""


# ----------------------------------------------------------------------------- bytes


def read_regular_file(path: Path, limit: int, error: Refusal = FileRefused) -> bytes:
    """The bytes of the regular file ``path``, refused above ``limit`` bytes (before reading).

    Devices (``/dev/zero``), FIFOs and folders are refused: the file is opened without blocking
    and checked on the open descriptor, so nothing is swapped in between."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0)
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except OSError as failure:
        raise error(f"{path}: cannot open the file ({failure.strerror})") from None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{path}: not a regular file")
        if info.st_size > limit:
            raise error(f"{path}: the file has {info.st_size:,} bytes; the limit is {limit:,}")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(descriptor, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as failure:
        raise error(f"{path}: cannot read the file ({failure.strerror})") from None
    finally:
        os.close(descriptor)
    if size > limit:  # it grew while we read
        raise error(f"{path}: the file has more than {limit:,} bytes; the limit is {limit:,}")
    return b"".join(chunks)


def decode_utf8(data: bytes, path: Path | str, error: Refusal = FileRefused) -> str:
    """UTF-8 text (a byte-order mark is dropped); a bad byte is named by line, not shown."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as failure:
        line = data[: failure.start].count(b"\n") + 1
        raise error(f"{path}: line {line}: not UTF-8 text; save the file as UTF-8") from None


# ----------------------------------------------------------------------------- paths


def inside_folder(folder: Path, reference: str, where: str, error: Refusal = FileRefused) -> Path:
    """``reference`` (a path written in a file) resolved against ``folder``; ``where`` names the
    field for the message. Absolute paths, ``..`` and links that lead out are refused."""
    rule = "must be a file in the scenario's folder (or below it)"
    if not reference.strip() or "\x00" in reference:
        raise error(f"{where}: {rule}; got an empty or invalid path")
    written = PurePath(reference)
    if written.is_absolute() or reference.startswith("~"):
        raise error(f"{where}: {rule}, given relative to it; absolute paths are refused")
    if ".." in written.parts:
        raise error(f"{where}: {rule}; '..' is refused")
    root = folder.resolve()
    target = (root / written).resolve()  # follows symbolic links
    if not target.is_relative_to(root):
        raise error(f"{where}: {rule}; {reference!r} leads outside it (a symbolic link)")
    return target


# ----------------------------------------------------------------------------- YAML


class _Refused(yaml.MarkedYAMLError):
    """A limit of ours, raised inside the loader with the place it was found."""


class _BoundedLoader(yaml.SafeLoader):
    """``SafeLoader`` that refuses duplicate keys and nesting deeper than ``MAX_YAML_DEPTH``
    (PyYAML's composer recurses per level: a deep file would end in ``RecursionError``)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self.depth += 1
        try:
            if self.depth > MAX_YAML_DEPTH:
                mark = self.peek_event().start_mark
                problem = f"nested more than {MAX_YAML_DEPTH} levels deep"
                raise _Refused(problem=problem, problem_mark=mark)
            return super().compose_node(parent, index)  # type: ignore[no-untyped-call]
        finally:
            self.depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == MERGE_TAG:
                continue
            key = self.construct_object(key_node)  # type: ignore[no-untyped-call]
            if key in seen:
                raise _Refused(
                    problem=f"duplicate key {key!r} (each key may appear once in a mapping)",
                    problem_mark=key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep)  # type: ignore[no-untyped-call,no-any-return]


def load_yaml(path: Path, error: Refusal = FileRefused, limit: int = MAX_YAML_BYTES) -> Any:
    """The plain data in the YAML file ``path`` (a regular file of at most ``limit`` bytes)."""
    return parse_yaml(decode_utf8(read_regular_file(path, limit, error), path, error), path, error)


def parse_yaml(text: str, name: Path | str, error: Refusal = FileRefused) -> Any:
    """The plain data in YAML ``text``; ``name`` is the file for messages. Errors name the line
    and column and what is wrong, never the text around it."""
    try:
        loader = _BoundedLoader(text)
    except yaml.reader.ReaderError as failure:  # checked on the whole text before parsing
        line = text[: failure.position].count("\n") + 1
        raise error(f"{name}: line {line}: a control character is not allowed in YAML") from None
    try:
        node = loader.get_single_node()  # type: ignore[no-untyped-call]
        if node is None:
            return None
        _expanded_size(node, {}, name, error)
        return loader.construct_document(node)  # type: ignore[no-untyped-call]
    except yaml.MarkedYAMLError as failure:
        mark = failure.problem_mark or failure.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown place"
        problem = failure.problem or failure.context or "syntax error"
        kind = "" if isinstance(failure, _Refused) else "YAML syntax error: "
        raise error(f"{name}: {where}: {kind}{problem}") from None
    except yaml.YAMLError:
        raise error(f"{name}: not a readable YAML file") from None
    finally:
        loader.dispose()  # type: ignore[no-untyped-call]


def _expanded_size(node: Node, sizes: dict[int, int | None], name: Path | str, error: Refusal
                   ) -> int:  # fmt: skip
    """Nodes under ``node`` with aliases expanded (each anchor counted once in ``sizes``);
    refuses recursive aliases and more than ``MAX_YAML_NODES``. Depth is bounded already."""
    key = id(node)
    if key in sizes:
        known = sizes[key]
        if known is None:
            line = node.start_mark.line + 1
            raise error(f"{name}: line {line}: an alias refers to the node that contains it")
        return known
    sizes[key] = None
    size = 1
    if isinstance(node, SequenceNode):
        size += sum(_expanded_size(child, sizes, name, error) for child in node.value)
    elif isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            size += _expanded_size(key_node, sizes, name, error)
            size += _expanded_size(value_node, sizes, name, error)
    if size > MAX_YAML_NODES:
        raise error(
            f"{name}: line {node.start_mark.line + 1}: more than {MAX_YAML_NODES:,} values once "
            "aliases (*name) are expanded"
        )
    sizes[key] = size
    return size


def file_errors(path: Path | str, lines: list[str]) -> str:
    """One message for the errors found in a file: ``file: field: reason``, or the first
    ``MAX_LISTED`` of them listed under a count (and how many more)."""
    if len(lines) == 1:
        return f"{path}: {lines[0]}"
    shown = [f"  {line}" for line in lines[:MAX_LISTED]]
    if len(lines) > MAX_LISTED:
        shown.append("  " + _("… and %(count)s more", count=len(lines) - MAX_LISTED))
    head = _("%(path)s: %(count)s errors:", path=path, count=len(lines))  # two or more
    return head + "\n" + "\n".join(shown)
