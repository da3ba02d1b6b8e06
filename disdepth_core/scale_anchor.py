"""Metric scale anchoring: one number per frame that ties monocular depth to a metric signal.

Most of a monocular model's error on a new camera is one factor per frame (on 28 real indoor
frames: abs_rel 0.55 as predicted, 0.23 once each frame's scale is corrected), and robots often
have *some* metric signal: a 2D LiDAR or ToF projected into the camera, an RGB-D camera on part
of the fleet, or at least a camera mounted at a known height above the floor. This module turns
such a signal into a scale for each frame, ROS-free, so the node and ``bag-eval`` run the very
same code:

* :func:`sparse_scale`: the median of ``measured / predicted`` over the sparse pixels (mapped
  into the network's output grid), after rejecting outliers in log space (median absolute
  deviation); fewer than ``min_points`` inliers is no estimate;
* :func:`disdepth_core.floor_fit.floor_scale`: ``camera_height / distance`` of the floor plane
  fitted in the predicted cloud;
* :class:`ScaleTracker`: smooths fresh estimates over time (exponentially in log scale, time
  constant in seconds of message stamps; 0 = per frame), holds the last good scale for
  ``hold`` seconds when the anchor is stale, missing or unusable, then falls back to no
  correction (scale 1); every fallback carries a one-line reason for a WARN;
* :func:`anchor_frame`: one frame's decision from the settings, the stamps and the inputs.

Sparse depth is ``32FC1`` metres or ``16UC1`` millimetres registered to the camera image (same
optical frame, any resolution of the same aspect); 0 and NaN are "no measurement", +inf is "no
return" (REP 117). A message that cannot be an anchor (unknown encoding, negative or -inf depths,
not a single valid pixel) is refused by :func:`sparse_from_message` with the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

from disdepth_core.image_decoding import BadMessageError, image_to_depth
from disdepth_core.scale_estimate import ScaleEstimate

ANCHOR_MODES = ("none", "sparse_depth", "camera_height")
SPARSE_ENCODINGS = ("32FC1", "16UC1", "mono16")
OUTLIER_MADS = 3.0  # inliers: |log ratio - median| <= 3 scaled MADs ...
MIN_LOG_TOLERANCE = 0.05  # ... or 5 % (a MAD of almost 0 must not reject honest points)
ASPECT_TOLERANCE = 0.01
# A correction beyond this factor is a wrong input, not a model's scale error (those stay within
# about 3x on real frames): millimetres published as 32FC1 give 1000x, a tiny floor distance 50x.
PLAUSIBLE_SCALE = 20.0
IMPLAUSIBLE_HINTS = {"sparse_depth": "wrong units (millimetres published as 32FC1?) or a sparse topic of another camera",
                     "camera_height": "camera_height wrong, or no floor in view"}


@dataclass(frozen=True)
class AnchorSettings:
    """The node's ``scale_*`` and ``camera_height`` parameters (``bag-eval``: its options, node defaults)."""

    mode: str = "none"
    time_constant: float = 0.0  # seconds; 0 = every frame's own estimate
    max_age: float = 0.5  # a sparse message stamped further than this from the image is stale
    hold: float = 2.0  # seconds the last good scale stays in use without a fresh estimate
    min_points: int = 20
    camera_height: float = 0.0  # metres above the floor (mode camera_height)

    def __post_init__(self) -> None:
        if self.mode not in ANCHOR_MODES:
            raise ValueError(f"scale anchor must be one of {', '.join(ANCHOR_MODES)}, got {self.mode!r}")


@dataclass(frozen=True)
class ScaleDecision:
    """The scale a frame is multiplied by, where it came from, and a reason to WARN (empty: fine).

    ``source``: ``sparse_depth`` or ``camera_height`` (a fresh estimate), ``held`` (the last good
    scale, anchor stale or unusable), ``none`` (no correction: scale 1). ``measured`` is this
    frame's own estimate before smoothing (NaN without one).
    """

    scale: float = 1.0
    source: str = "none"
    points: int = 0
    problem: str = ""
    measured: float = float("nan")


@dataclass(frozen=True)
class SparseSample:
    """A decoded sparse depth message: float32 metres (NaN = no measurement) and its header stamp.

    Its measured pixels are listed once, when the message arrives (``rows``, ``cols``, ``values``):
    a LiDAR message serves several camera frames, and finding a few hundred returns in a
    camera-sized image costs more than everything else the anchor does per frame.
    """

    depth: np.ndarray
    stamp_ns: int
    rows: np.ndarray = field(init=False, repr=False, compare=False)
    cols: np.ndarray = field(init=False, repr=False, compare=False)
    values: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rows, cols = np.nonzero(np.isfinite(self.depth))
        object.__setattr__(self, "rows", rows)
        object.__setattr__(self, "cols", cols)
        object.__setattr__(self, "values", self.depth[rows, cols])


def sparse_from_message(msg: Any) -> np.ndarray:
    """A sensor_msgs/Image (rclpy or rosbags) of sparse depth -> float32 metres, NaN where no measurement.

    Raises :class:`~disdepth_core.image_decoding.BadMessageError` naming the problem for an
    encoding other than 32FC1/16UC1, a malformed image, negative (or -inf) depths, or a message
    without a single valid pixel.
    """
    if msg.encoding not in SPARSE_ENCODINGS:
        raise BadMessageError(f"sparse_depth encoding {msg.encoding!r} is not a depth encoding; use 32FC1 (metres) "
                              "or 16UC1 (millimetres)")
    depth = image_to_depth(msg)
    with np.errstate(invalid="ignore"):
        negative = int(np.count_nonzero(depth < 0))
        if negative:
            raise BadMessageError(f"sparse_depth has {negative} negative depth value(s): depth must be metres (32FC1) "
                                  "or millimetres (16UC1), 0 or NaN where there is no measurement")
        depth[~(depth > 0) | np.isinf(depth)] = np.nan  # 0, NaN and +inf (no return) are not measurements
    if not np.isfinite(depth).any():
        raise BadMessageError(f"sparse_depth {msg.width}x{msg.height} has no valid depth (every pixel is 0 or NaN)")
    return depth


def aspect_problem(sparse_hw: tuple[int, int], image_hw: tuple[int, int]) -> Optional[str]:
    """Why a sparse image of ``sparse_hw`` cannot be registered to an image of ``image_hw``, or None."""
    (sh, sw), (ih, iw) = sparse_hw, image_hw
    if abs((sw / sh) / (iw / ih) - 1.0) <= ASPECT_TOLERANCE:
        return None
    return (f"sparse_depth is {sw}x{sh} (aspect {sw / sh:.3f}) but the image is {iw}x{ih} (aspect {iw / ih:.3f}): "
            "it must be registered to the camera image (same optical frame, any resolution of the same aspect)")


def sample_network(raw: np.ndarray, transform: Any, sparse: np.ndarray | SparseSample) -> tuple[np.ndarray, np.ndarray]:
    """(predicted, measured) depth at every valid pixel of ``sparse``, the prediction read from the
    network-resolution depth ``raw`` at the same viewing ray (nearest network pixel).

    ``transform`` is the frame's :class:`~disdepth_core.runtime.preprocess.FrameTransform` (camera
    size ``src_hw`` and the image's ``content`` box in the network input), so resize and letterbox
    both map exactly; reading at the network's own resolution costs a few hundred lookups instead
    of an upsampled frame.
    """
    if not isinstance(sparse, SparseSample):
        sparse = SparseSample(sparse, 0)
    v, u = transform.network_pixels(sparse.rows, sparse.cols, sparse.depth.shape[:2])
    return raw[v, u], sparse.values


def robust_scale(predicted: np.ndarray, measured: np.ndarray, min_points: int) -> ScaleEstimate:
    """``exp(median(log(measured / predicted)))`` over the inliers (within 3 MADs, at least 5 %, of the median).

    Ratios, not differences: a monocular model's error on a new camera is multiplicative. Log
    space makes "twice too far" and "half as far" symmetric, the median ignores the wrong returns
    of a LiDAR (glass, edges) and the MAD step removes the tails before the final median.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        good = np.isfinite(predicted) & (predicted > 0) & np.isfinite(measured) & (measured > 0)
        logs = np.log(measured[good].astype(np.float64)) - np.log(predicted[good].astype(np.float64))
    if logs.size < max(1, min_points):
        return ScaleEstimate(float("nan"), int(logs.size), f"sparse_depth has {logs.size} usable point(s) on the prediction "
                                                           f"(scale_min_points {min_points})")
    center = float(np.median(logs))
    mad = 1.4826 * float(np.median(np.abs(logs - center)))
    inliers = logs[np.abs(logs - center) <= max(OUTLIER_MADS * mad, MIN_LOG_TOLERANCE)]
    if inliers.size < max(1, min_points):
        return ScaleEstimate(float("nan"), int(inliers.size), f"sparse_depth has {inliers.size} consistent point(s) of "
                                                              f"{logs.size} (scale_min_points {min_points})")
    return ScaleEstimate(float(np.exp(np.median(inliers))), int(inliers.size))


def sparse_scale(raw: np.ndarray, transform: Any, sparse: np.ndarray | SparseSample, min_points: int) -> ScaleEstimate:
    """The scale that maps the network's depth ``raw`` (2-D, network resolution) onto the sparse depth."""
    shape = sparse.depth.shape if isinstance(sparse, SparseSample) else sparse.shape
    problem = aspect_problem(shape[:2], tuple(transform.src_hw))
    if problem:
        return ScaleEstimate(float("nan"), 0, problem)
    predicted, measured = sample_network(raw, transform, sparse)
    return robust_scale(predicted, measured, min_points)


@dataclass
class ScaleTracker:
    """Temporal smoothing and fallback of the per-frame scale (one per node, one per bag evaluation).

    Stamps are the images' header stamps (nanoseconds), so a bag gives the same decisions as the
    live node did. A stamp that jumps back by more than ``hold`` (a looped bag, a restarted
    clock) starts over.
    """

    settings: AnchorSettings = field(default_factory=AnchorSettings)
    scale: Optional[float] = None  # the last good (smoothed) scale
    good_stamp_ns: Optional[int] = None

    def update(self, stamp_ns: int, estimate: ScaleEstimate, source: str) -> ScaleDecision:
        settings = self.settings
        since_good = None if self.good_stamp_ns is None else (stamp_ns - self.good_stamp_ns) * 1e-9
        if since_good is not None and since_good < -settings.hold:
            self.scale = self.good_stamp_ns = since_good = None  # time went backwards: a new recording
        if estimate.ok and not 1.0 / PLAUSIBLE_SCALE <= estimate.scale <= PLAUSIBLE_SCALE:
            estimate = ScaleEstimate(float("nan"), estimate.points,
                                     f"{source} scale {estimate.scale:.4g} is implausible (beyond {PLAUSIBLE_SCALE:g}x either way): "
                                     f"{IMPLAUSIBLE_HINTS.get(source, 'check the anchor input')}")
        if estimate.ok:
            smoothed = estimate.scale
            if self.scale is not None and settings.time_constant > 0 and since_good is not None and since_good > 0:
                alpha = 1.0 - math.exp(-since_good / settings.time_constant)
                smoothed = math.exp((1.0 - alpha) * math.log(self.scale) + alpha * math.log(estimate.scale))
            self.scale, self.good_stamp_ns = smoothed, stamp_ns
            return ScaleDecision(smoothed, source, estimate.points, "", estimate.scale)
        problem = estimate.problem or f"{source}: no valid scale ({estimate.scale})"
        if self.scale is not None and since_good is not None and since_good <= settings.hold:
            return ScaleDecision(self.scale, "held", estimate.points,
                                 f"{problem}; holding the last scale {self.scale:.3f} from {since_good:.1f} s ago "
                                 f"(scale_hold {settings.hold:g} s)", estimate.scale)
        return ScaleDecision(1.0, "none", estimate.points, f"{problem}; depth is NOT scale-corrected", estimate.scale)


Anchor = Callable[[np.ndarray, Any, Optional[np.ndarray]], ScaleDecision]


def anchor_frame(tracker: ScaleTracker, stamp_ns: int, sparse: Optional[SparseSample], raw: np.ndarray, transform: Any,
                 K_cam: Optional[np.ndarray], sparse_problem: str = "") -> ScaleDecision:
    """One frame's scale: estimate from the anchor the settings name, then smooth or fall back.

    ``raw`` is the network-resolution depth (2-D, the model's metres, focal rescale included),
    ``transform`` the frame's geometry and ``K_cam`` the camera intrinsics at the image's size
    (camera_height needs them). The frame pipeline calls this (through ``functools.partial``)
    between inference and postprocessing, with the sparse message nearest in stamp (the node: of
    the recent ones it received; ``bag-eval``: of the recording); ``sparse_problem`` says why the
    paired message could not be used (``bag-eval`` pairs before decoding).
    """
    settings = tracker.settings
    if settings.mode == "none":
        return ScaleDecision()
    if settings.mode == "sparse_depth":
        if sparse is None:
            why = f"the sparse_depth message was refused: {sparse_problem}" if sparse_problem else \
                "no sparse_depth message received yet"
            estimate = ScaleEstimate(float("nan"), 0, why)
        else:
            age = (stamp_ns - sparse.stamp_ns) * 1e-9
            if abs(age) > settings.max_age:
                when = "older than" if age > 0 else "ahead of"
                estimate = ScaleEstimate(float("nan"), 0, f"the nearest sparse_depth is {abs(age):.2f} s {when} the image "
                                                          f"(scale_max_age {settings.max_age:g} s)")
            else:
                estimate = sparse_scale(raw, transform, sparse, settings.min_points)
    else:
        from disdepth_core.floor_fit import floor_scale

        estimate = floor_scale(raw, transform, K_cam, settings.camera_height)
    return tracker.update(stamp_ns, estimate, settings.mode)
