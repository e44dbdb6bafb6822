"""Long-lived objects left out of Python's cyclic garbage collection while a solve runs.

A solve builds its candidate lists, its relaxation's columns and its helpers' days once and
keeps them to the end; each full pass of the collector walks all of them while holding the
interpreter, which every thread of the search needs. At town 10,000 those passes took 2.7 of a
20 s solve's seconds (bench/README.md, "Plans rounded from the relaxations").
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_open = 0  # blocks of ``long_lived_heap`` running now (solves in threads of one process)


@contextmanager
def long_lived_heap() -> Iterator[None]:
    """The objects alive now, and those ``freeze_heap`` marks later, are left out of the
    collector (``gc.freeze``) until the last block running ends (``gc.unfreeze``): frozen
    objects that became garbage meanwhile are collected after it."""
    global _open
    with _lock:
        _open += 1
        gc.freeze()
    try:
        yield
    finally:
        with _lock:
            _open -= 1
            if _open == 0:
                gc.unfreeze()


def freeze_heap() -> None:
    """Inside ``long_lived_heap``: leave the objects alive now out of the collector too (outside
    one, nothing: they would never be unfrozen)."""
    with _lock:
        if _open:
            gc.freeze()
