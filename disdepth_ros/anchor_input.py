"""The depth node's side of the metric scale anchor: recent sparse_depth messages, counters, diagnostics.

The scale itself is decided by :mod:`disdepth_core.scale_anchor` (the same code ``bag-eval`` runs);
this class only keeps what the node needs between its threads: the executor thread delivers
sparse_depth messages (:meth:`AnchorInput.on_sparse_depth`), the inference thread asks for the
frame's anchor and reports the decision (:meth:`anchor_for`, :meth:`record`), the diagnostics
timer reads the counters (:meth:`diagnostics`). A frame gets the recent sparse message nearest
to it in stamp (the last :data:`KEPT_SPARSE`: a projected scan often arrives after the image it
belongs to, and the frame is not held back for it), as ``bag-eval`` pairs them. Pure python (no
rclpy), so it is unit-tested without ROS.
"""

from __future__ import annotations

import functools
import threading
from collections import deque
from typing import Any, Optional

from disdepth_core.image_decoding import BadMessageError
from disdepth_core.scale_anchor import (AnchorSettings, ScaleDecision, ScaleTracker, SparseSample, anchor_frame,
                                        sparse_from_message)


KEPT_SPARSE = 8


def stamp_ns(header: Any) -> int:
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


class AnchorInput:
    """Thread-safe state of the node's scale anchor (one per node)."""

    def __init__(self, settings: AnchorSettings) -> None:
        self._lock = threading.Lock()
        self.tracker = ScaleTracker(settings)
        self.sparse: deque[SparseSample] = deque(maxlen=KEPT_SPARSE)
        self.decision = ScaleDecision()
        self.bad_messages = 0  # sparse_depth messages refused (encoding, negative values, no valid pixel)
        self.last_bad = ""  # ... and the latest one's reason (the log line is throttled)
        self.problem_frames = 0  # frames without a fresh scale (stale, missing, too few points, no floor)
        self.sparse_frame_id = ""  # of the latest accepted sparse_depth message (checked against the image's)

    @property
    def mode(self) -> str:
        return self.tracker.settings.mode

    def update_settings(self, settings: AnchorSettings) -> None:
        """A live parameter change (time constant, limits, camera height); the smoothed scale is kept."""
        with self._lock:
            self.tracker.settings = settings

    def on_sparse_depth(self, msg: Any) -> Optional[str]:
        """Decode and keep ``msg`` as the latest anchor; returns why it was refused (counted), or None."""
        try:
            sample = SparseSample(sparse_from_message(msg), stamp_ns(msg.header))
        except (BadMessageError, ValueError) as err:
            with self._lock:
                self.bad_messages += 1
                self.last_bad = str(err)
            return str(err)
        with self._lock:
            self.sparse.append(sample)
            self.sparse_frame_id = str(msg.header.frame_id)
        return None

    def anchor_for(self, header: Any) -> Any:
        """The pipeline's ``anchor`` callable for the image with ``header`` (None when the mode is none)."""
        if self.mode == "none":
            return None
        stamp = stamp_ns(header)
        with self._lock:
            sparse = min(self.sparse, key=lambda sample: abs(sample.stamp_ns - stamp), default=None)
        return functools.partial(self._anchor, stamp, sparse)

    def _anchor(self, stamp: int, sparse: Optional[SparseSample], raw: Any, transform: Any, K_cam: Any) -> ScaleDecision:
        with self._lock:  # the tracker's state changes here; settings may change on another thread
            return anchor_frame(self.tracker, stamp, sparse, raw, transform, K_cam)

    def record(self, decision: ScaleDecision) -> str:
        """Keep the frame's decision for diagnostics; returns its problem ('' when the scale is fresh)."""
        with self._lock:
            self.decision = decision
            self.problem_frames += bool(decision.problem)
        return decision.problem

    def diagnostics(self) -> tuple[list[tuple[str, str]], list[str]]:
        """(key/values for /diagnostics, WARN reasons: the latest frame's fallback, if it had one)."""
        with self._lock:
            decision = self.decision
            values = [("scale anchor", self.mode), ("scale", f"{decision.scale:.4f}"), ("scale source", decision.source),
                      ("scale points", str(decision.points)), ("scale problems (frames)", str(self.problem_frames))]
            if self.mode == "sparse_depth":
                values += [("sparse_depth bad messages", str(self.bad_messages)),
                           ("sparse_depth last bad message", self.last_bad or "none")]
        return values, ([f"scale anchor: {decision.problem}"] if decision.problem else [])
