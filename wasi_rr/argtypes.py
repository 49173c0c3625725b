"""Argument types for every numeric command-line option, defined once.

Why one module: each command used to parse its numbers its own way, so
``record --snapshot-every 0`` silently meant "never" while ``replay --timeout
0`` was refused, and a negative ``--hash-inputs-over`` went through to the
journal writer. Every numeric option now takes one of these ``type=``
callables: 0, negative values, non-finite values and non-numbers are an
argparse usage error (exit status 2, one line, see ``cli.OneLineParser``).
"""

from __future__ import annotations

import argparse
import math

__all__ = ["jobs", "non_negative_int", "positive_int", "positive_seconds"]


def _whole_number(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number >= {minimum}, not {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
    return value


def positive_int(text: str) -> int:
    """A whole number >= 1 (counts, sizes, snapshot ids)."""
    return _whole_number(text, 1)


def non_negative_int(text: str) -> int:
    """A whole number >= 0 (syscall sequence numbers)."""
    return _whole_number(text, 0)


def positive_seconds(text: str) -> float:
    """A finite number of seconds > 0 (timeouts)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, not {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds > 0, not {text!r}")
    return value


def jobs(text: str) -> int | None:
    """``auto`` (None: one worker per core) or a worker count >= 1."""
    if text == "auto":
        return None
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number >= 1 or 'auto', not {text!r}") from None
