"""What every RGB-D recording reader produces: frames, a description, and one-line errors.

A recording is what a robot team has after driving with an RGB-D camera: a rosbag2
(:mod:`disdepth_core.bags.rgbd_frames`) or a folder of colour + depth images
(:mod:`disdepth_core.data.image_sequence`). Both readers check everything a user can get wrong
*before* any frame is decoded (:class:`RecordingError`, one line), then yield
:class:`RgbdFrame` s in recording order and count the frames they had to skip, so the frame
cache (:mod:`disdepth_core.data.frame_cache`) and the fine-tuning report treat both alike.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator, Optional, Protocol, Union

import numpy as np

# Depth and colour images whose aspect ratios differ by more than this cannot be the same view.
ASPECT_TOLERANCE = 0.01
# Colour and depth intrinsics (scaled to one size) that differ by more than this are two cameras.
INTRINSICS_TOLERANCE = 0.03


class RecordingError(ValueError):
    """A recording that cannot be used as given; the message is one line that says what to do."""


@dataclass(frozen=True)
class RgbdFrame:
    """One colour image with depth registered to it.

    ``rgb`` uint8 ``[H,W,3]``; ``depth`` float32 metres ``[H,W]`` at the same size, 0 = no
    measurement; ``K`` the colour camera's intrinsics at this size; ``index`` the frame's
    position among the recording's paired frames (stable between two reads of the recording).
    """

    index: int
    stamp_ns: int
    rgb: np.ndarray
    depth: np.ndarray
    K: np.ndarray


@dataclass(frozen=True)
class SkippedFrame:
    """A frame that could not be used, and why (counted, never fatal)."""

    index: int
    reason: str


@dataclass
class RecordingInfo:
    """What a reader found when it opened a recording (printed before any work starts)."""

    path: str
    kind: str  # "rosbag2 (sqlite3)", "rosbag2 (mcap)", "image folder (3DMatch / SUN3D)", ...
    frames: int  # colour frames in the recording (an upper bound on the usable pairs)
    size_hw: tuple[int, int]  # colour image size
    K: np.ndarray  # colour intrinsics at size_hw
    camera_source: str  # where K came from (a topic, a file, the command line)
    depth_note: str = ""  # e.g. "16UC1 millimetres", "uint16 PNG / 5000"
    notes: list[str] = field(default_factory=list)  # anything worth a line (e.g. depth resized to colour)

    def describe(self) -> str:
        fx, fy, cx, cy = self.K[0, 0], self.K[1, 1], self.K[0, 2], self.K[1, 2]
        return (f"{self.path}: {self.kind}, {self.frames} colour frames of {self.size_hw[1]}x{self.size_hw[0]}, "
                f"depth {self.depth_note}; intrinsics fx {fx:.1f} fy {fy:.1f} cx {cx:.1f} cy {cy:.1f} ({self.camera_source})")


class Recording(Protocol):
    """The reader interface the frame cache and the report use."""

    info: RecordingInfo
    skipped: Counter

    def frames(self, wanted: Optional[set[int]] = None) -> Iterator[Union[RgbdFrame, SkippedFrame]]:
        """Frames in recording order (only the indices in ``wanted`` are decoded, when given)."""
        ...

    def close(self) -> None:
        ...


def intrinsics_matrix(fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    """A 3x3 pinhole matrix; RecordingError for a focal length that is not positive and finite."""
    values = np.array([fx, fy, cx, cy], dtype=np.float64)
    if not (np.isfinite(values).all() and fx > 0 and fy > 0):
        raise RecordingError(f"intrinsics fx {fx:g} fy {fy:g} cx {cx:g} cy {cy:g}: focal lengths must be finite and > 0")
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def same_aspect(a_hw: tuple[int, int], b_hw: tuple[int, int]) -> bool:
    """Whether two image sizes can be the same view scaled (aspect ratios within 1 %)."""
    return abs(a_hw[1] / a_hw[0] - b_hw[1] / b_hw[0]) <= ASPECT_TOLERANCE * (b_hw[1] / b_hw[0])


def scaled_K(K: np.ndarray, from_hw: tuple[int, int], to_hw: tuple[int, int]) -> np.ndarray:
    """``K`` of an image of ``from_hw`` after resizing it to ``to_hw`` (pixel-centre convention)."""
    if tuple(from_hw) == tuple(to_hw):
        return np.array(K, dtype=np.float64)
    from disdepth_core.geometry import scale_intrinsics

    return scale_intrinsics(np.asarray(K, dtype=np.float64), tuple(from_hw), tuple(to_hw))


def intrinsics_differ(a: np.ndarray, b: np.ndarray, width: int) -> bool:
    """True when two K (at the same image size) are not one camera: focal lengths more than 3 %
    apart, or principal points more than 3 % of the width apart."""
    focal = max(abs(a[0, 0] / b[0, 0] - 1.0), abs(a[1, 1] / b[1, 1] - 1.0))
    centre = max(abs(a[0, 2] - b[0, 2]), abs(a[1, 2] - b[1, 2])) / float(width)
    return focal > INTRINSICS_TOLERANCE or centre > INTRINSICS_TOLERANCE


def registered_depth(depth: np.ndarray, rgb_hw: tuple[int, int]) -> np.ndarray:
    """Depth (metres, NaN/inf/negative -> 0) at the colour size; a depth image of the same aspect
    but another size (a driver that aligns at half resolution) is resized with nearest neighbour,
    so no depth is blended across an edge."""
    import cv2

    depth = np.where(np.isfinite(depth) & (depth > 0), depth, 0.0).astype(np.float32)
    if depth.shape != tuple(rgb_hw):
        depth = cv2.resize(depth, (int(rgb_hw[1]), int(rgb_hw[0])), interpolation=cv2.INTER_NEAREST)
    return depth


def registered_frame(index: int, stamp_ns: int, rgb: np.ndarray, depth: np.ndarray,
                     K: np.ndarray) -> Union[RgbdFrame, SkippedFrame]:
    """One decoded colour + depth pair as a frame, or the reason it is skipped.

    Both readers end here, so a bag and an image folder skip the same frames for the same reasons:
    depth that is not the colour view (another aspect ratio), or depth without a single valid pixel.
    """
    if depth.shape != rgb.shape[:2] and not same_aspect(depth.shape, rgb.shape[:2]):
        return SkippedFrame(index, f"depth {depth.shape[1]}x{depth.shape[0]} is not the colour view")
    depth = registered_depth(depth, rgb.shape[:2])
    if not (depth > 0).any():
        return SkippedFrame(index, "depth without a valid pixel (all zero)")
    return RgbdFrame(index, stamp_ns, rgb, depth, K)
