"""One frame's scale measurement, shared by the scale anchors (sparse depth, floor fit) and the tracker."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ScaleEstimate:
    """``scale`` (NaN when there is none), the number of points behind it, or why there is none."""

    scale: float
    points: int = 0
    problem: str = ""

    @property
    def ok(self) -> bool:
        return math.isfinite(self.scale) and self.scale > 0.0 and not self.problem
