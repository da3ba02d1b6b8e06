"""Declared ranges for numeric config fields, read by the one config parser.

Why: a type check alone lets ``optim.batch_size=0`` reach the DataLoader (a traceback),
``optim.lr=inf`` train garbage and write a ``best.pt``, and ``optim.epochs=-1`` exit 0 having
trained nothing. Each numeric field of a config dataclass therefore declares its range next to
its default::

    lr: float = ranged(1e-4, gt=0)         # a finite number > 0
    batch_size: int = ranged(8, ge=1)      # an integer >= 1

:func:`disdepth_core.config_parsing.load_dataclass` checks every value it reads (YAML, ``--set``,
a checkpoint's record) against it and names the field in the error; a test checks that every
numeric field of the training config has one, so a new field cannot be added without it.
Float fields with a range must also be finite (NaN and infinities are never a useful setting).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Optional

RANGE_KEY = "range"


def format_number(value: float) -> str:
    """``1`` not ``1.0``, ``4294967295`` not ``4.29497e+09``, ``0.001`` as written."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@dataclass(frozen=True)
class Range:
    """``low``/``high`` bounds (None: unbounded); ``*_open`` makes a bound strict (> instead of >=)."""

    low: Optional[float] = None
    high: Optional[float] = None
    low_open: bool = False
    high_open: bool = False

    def describe(self, integer: bool) -> str:
        """``an integer >= 1``, ``a finite number > 0``, ``a finite number from 0 to 1`` ..."""
        kind = "an integer" if integer else "a finite number"
        low = None if self.low is None else f"{'>' if self.low_open else '>='} {format_number(self.low)}"
        high = None if self.high is None else f"{'<' if self.high_open else '<='} {format_number(self.high)}"
        if low and high and not (self.low_open or self.high_open):
            return f"{kind} from {format_number(self.low)} to {format_number(self.high)}"  # type: ignore[arg-type]
        return " ".join([kind, " and ".join(part for part in (low, high) if part)]).strip()

    def contains(self, value: float) -> bool:
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        if self.high is not None and (value >= self.high if self.high_open else value > self.high):
            return False
        return True


def ranged(default: Any, *, ge: Optional[float] = None, gt: Optional[float] = None, le: Optional[float] = None,
           lt: Optional[float] = None) -> Any:
    """A dataclass field with ``default`` and a declared range (``ge``/``gt`` lower, ``le``/``lt`` upper bound;
    none: any finite value)."""
    if ge is not None and gt is not None or le is not None and lt is not None:
        raise ValueError("give one lower bound (ge or gt) and one upper bound (le or lt)")
    bounds = Range(low=gt if gt is not None else ge, high=lt if lt is not None else le, low_open=gt is not None,
                   high_open=lt is not None)
    return dataclasses.field(default=default, metadata={RANGE_KEY: bounds})


def declared_range(field: dataclasses.Field) -> Optional[Range]:
    """The range declared with :func:`ranged`, or None."""
    return field.metadata.get(RANGE_KEY)


def range_problem(path: str, value: Any, bounds: Range) -> Optional[str]:
    """``"optim.lr must be a finite number > 0, got inf"`` when ``value`` (or an item of a list value)
    is outside ``bounds``; None when it is inside (or is None: an optional field left empty)."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            problem = range_problem(f"{path}[{index}]", item, bounds)
            if problem:
                return problem
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None  # not a number: the type check reports it
    if bounds.contains(value):
        return None
    shown = format_number(value) if isinstance(value, int) or math.isfinite(value) else str(value)
    return f"{path} must be {bounds.describe(integer=isinstance(value, int))}, got {shown}"
