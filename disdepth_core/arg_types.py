"""argparse ``type=`` validators for numeric ranges.

Checking ranges at parse time gives the usual ``disdepth CMD: error: argument --x: ...`` line
(exit 2, with the usage) before any heavy import, and keeps the help text and the check in one
place: ``type=int_range(1)`` reads as "an integer >= 1" next to the option it guards.
"""

from __future__ import annotations

import argparse
import math
from typing import Callable

from disdepth_core.value_ranges import format_number


def _describe(low: float | None, high: float | None, kind: str) -> str:
    if low is not None and high is not None:
        return f"{kind} from {format_number(low)} to {format_number(high)}"
    if low is not None:
        return f"{kind} >= {format_number(low)}"
    return f"{kind} <= {format_number(high)}" if high is not None else kind


def int_range(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """An integer in ``[low, high]`` (either bound optional)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{value} is out of range: expected {_describe(low, high, 'an integer')}")
        return value

    parse.__name__ = "integer"  # argparse names the type in its messages
    return parse


def _finite_number(text: str, allow_zero: bool) -> float:
    """``text`` as a finite float above 0 (or at least 0), else argparse's one-line error."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise argparse.ArgumentTypeError(f"{text} is out of range: expected a finite number {'>=' if allow_zero else '>'} 0")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (rates, periods, sizes in metres)."""
    return _finite_number(text, allow_zero=False)


def non_negative_float(text: str) -> float:
    """A finite number >= 0 (tolerances, delays)."""
    return _finite_number(text, allow_zero=True)


positive_int = int_range(1)
non_negative_int = int_range(0)


def parse_size(text: str, max_side: int | None = None) -> tuple[int, int]:
    """``HxW`` (e.g. ``480x640``) as two positive ints, at most ``max_side`` each when given;
    ValueError with the reason otherwise (a range error before anything of that size is allocated)."""
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"{text!r} is not of the form HxW, e.g. 480x640") from None
    if height <= 0 or width <= 0:
        raise ValueError(f"{text!r} must be positive")
    if max_side is not None and max(height, width) > max_side:
        raise ValueError(f"{text!r} is out of range: height and width must be at most {max_side} pixels")
    return height, width


def image_size(max_side: int) -> Callable[[str], tuple[int, int]]:
    """An ``HxW`` option checked at parse time (``argument --size: '100000x100000' is out of range ...``)."""

    def parse(text: str) -> tuple[int, int]:
        try:
            return parse_size(text, max_side)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    parse.__name__ = "size"
    return parse
