"""Giving freed memory back to the operating system after a checkpoint.

A checkpoint builds the book's whole state (about 13 MiB at its peak for a day of a few thousand
orders) and drops it at once. glibc keeps such freed memory for the next allocation instead of
returning it, so a journal's resident size swung by that much between checkpoints, which made a
flat process look as if it grew. ``malloc_trim`` returns it (under a millisecond, measured);
where the C library has no such call (macOS, Windows, musl) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable


def _find_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
    return trim


_TRIM = _find_trim()


def give_back() -> None:
    """Return the C heap's free memory to the system, where the C library can."""
    if _TRIM is not None:
        _TRIM(0)
