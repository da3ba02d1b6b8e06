"""The one pre/post-processing path shared by the ROS node, benchmarks and offline evaluation.

camera RGB (any size) --preprocess--> network batch (resize or letterbox, normalise, NCHW)
network depth --postprocess--> depth at camera (or network) resolution, NaN outside range.

numpy + OpenCV only: the node imports this without torch. :class:`FrameTransform` records
the geometry of one mapping so intrinsics can be carried to either resolution exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from disdepth_core.geometry import scale_intrinsics

from .base import InputSpec
from .artifact import LAYOUT_NHWC_UINT8, ModelMetadata
from .normalization import normalize_to_nchw

RESIZE_MODES = ("resize", "letterbox")


@dataclass(frozen=True)
class FrameTransform:
    """Geometry from a camera frame (``src_hw``) to the network input (``dst_hw``).

    ``resize`` stretches the frame to the input size; ``letterbox`` keeps the aspect ratio and
    pads, so ``content`` (top, left, height, width) is the image's region inside the input.
    """

    src_hw: tuple[int, int]
    dst_hw: tuple[int, int]
    mode: str
    content: tuple[int, int, int, int]

    def depth_to_camera(self, depth: np.ndarray) -> np.ndarray:
        """Network-resolution depth ``[h,w]`` -> camera resolution ``[H,W]`` (bilinear)."""
        top, left, height, width = self.content
        region = depth[top:top + height, left:left + width]
        if region.shape == tuple(self.src_hw):
            return np.ascontiguousarray(region, dtype=np.float32)
        return cv2.resize(region.astype(np.float32, copy=False), (self.src_hw[1], self.src_hw[0]), interpolation=cv2.INTER_LINEAR)

    def intrinsics_to_network(self, K: np.ndarray) -> np.ndarray:
        """Camera intrinsics expressed in network-input pixels (content region offset included)."""
        top, left, height, width = self.content
        scaled = scale_intrinsics(K, self.src_hw, (height, width))
        scaled[0, 2] += left
        scaled[1, 2] += top
        return scaled

    def network_pixels(self, rows: np.ndarray, cols: np.ndarray, grid_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """The network pixel (row, col indices, nearest) on the same viewing ray as pixel
        (``rows``, ``cols``) of an image of ``grid_hw`` showing the camera's whole view at any
        resolution (a sparse depth image, the published depth). Pixel centres scale as in
        :func:`disdepth_core.geometry.scale_intrinsics`; resize and letterbox both map exactly."""
        top, left, height, width = self.content
        v = (np.asarray(rows) + 0.5) * (height / grid_hw[0]) - 0.5 + top
        u = (np.asarray(cols) + 0.5) * (width / grid_hw[1]) - 0.5 + left
        v = np.clip(np.rint(v).astype(np.intp), top, top + height - 1)
        u = np.clip(np.rint(u).astype(np.intp), left, left + width - 1)
        return v, u

    @property
    def focal_scale(self) -> float:
        """Horizontal scale from camera to network pixels (focal lengths scale by this)."""
        return self.content[3] / self.src_hw[1]


def choose_input_size(spec: InputSpec, metadata: ModelMetadata, override: tuple[int, int] | None = None) -> tuple[int, int]:
    """Network input size: a fixed-shape model's own size; else the override; else the training size.

    Raises ``ValueError`` when an override contradicts a fixed-shape model (a TensorRT engine
    or static ONNX cannot take another size).
    """
    if not spec.is_dynamic:
        if override and tuple(override) != (spec.height, spec.width):
            raise ValueError(f"model has a fixed input size {spec.height}x{spec.width}; cannot use {override[0]}x{override[1]} "
                             "(re-export with --dynamic or the wanted --input-size)")
        return spec.height, spec.width
    if override:
        return int(override[0]), int(override[1])
    if metadata.input_height and metadata.input_width:
        return metadata.input_height, metadata.input_width
    raise ValueError("model has dynamic input size and no recorded input size; pass an input size")


def make_transform(src_hw: tuple[int, int], dst_hw: tuple[int, int], mode: str = "resize") -> FrameTransform:
    if mode not in RESIZE_MODES:
        raise ValueError(f"resize mode must be one of {RESIZE_MODES}, got {mode!r}")
    src_h, src_w = int(src_hw[0]), int(src_hw[1])
    dst_h, dst_w = int(dst_hw[0]), int(dst_hw[1])
    if min(src_h, src_w, dst_h, dst_w) <= 0:
        raise ValueError(f"image sizes must be positive, got source {src_hw} and target {dst_hw}")
    if mode == "resize":
        return FrameTransform((src_h, src_w), (dst_h, dst_w), mode, (0, 0, dst_h, dst_w))
    scale = min(dst_h / src_h, dst_w / src_w)
    height, width = max(1, round(src_h * scale)), max(1, round(src_w * scale))
    return FrameTransform((src_h, src_w), (dst_h, dst_w), mode, ((dst_h - height) // 2, (dst_w - width) // 2, height, width))


def preprocess_rgb(rgb: np.ndarray, input_hw: tuple[int, int], metadata: ModelMetadata, mode: str = "resize",
                   layout: str | None = None) -> tuple[np.ndarray, FrameTransform]:
    """uint8 RGB ``[H,W,3]`` -> a batch of one in the model's layout, plus the frame transform."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected uint8 RGB image [H,W,3], got {rgb.dtype} {rgb.shape}")
    transform = make_transform(rgb.shape[:2], input_hw, mode)
    top, left, height, width = transform.content
    if (height, width) == rgb.shape[:2]:
        resized = rgb
    else:
        shrinking = height * width < rgb.shape[0] * rgb.shape[1]
        resized = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    if (top, left, height, width) != (0, 0, *transform.dst_hw):
        canvas = np.zeros((*transform.dst_hw, 3), dtype=np.uint8)
        canvas[top:top + height, left:left + width] = resized
        resized = canvas
    if (layout or metadata.input_layout) == LAYOUT_NHWC_UINT8:
        return np.ascontiguousarray(resized[None]), transform
    return normalize_to_nchw(resized, metadata.mean, metadata.std), transform


def mask_out_of_range(depth: np.ndarray, min_depth: float, max_depth: float) -> np.ndarray:
    """Set every depth outside the open interval (min, max) (and NaN) to NaN, in place; returns ``depth``."""
    with np.errstate(invalid="ignore"):
        depth[~((depth > min_depth) & (depth < max_depth))] = np.nan
    return depth


def postprocess_depth(depth: np.ndarray, transform: FrameTransform, min_depth: float, max_depth: float,
                      output: str = "camera") -> np.ndarray:
    """Network output (``[1,1,h,w]`` or ``[h,w]``) -> float32 metres, NaN where out of range.

    ``output="camera"`` maps back to the camera frame size (REP 118 consumers expect depth
    aligned with the image); ``"model"`` keeps the network resolution (cheaper point clouds).
    """
    depth = np.asarray(depth, dtype=np.float32)
    while depth.ndim > 2:
        depth = depth[0]
    if output == "camera":
        depth = transform.depth_to_camera(depth)
    elif output != "model":
        raise ValueError(f"output must be 'camera' or 'model', got {output!r}")
    else:
        depth = np.array(depth, dtype=np.float32, copy=True)
    mask_out_of_range(depth, min_depth, max_depth)
    if output == "model":
        # Letterbox padding is not part of the scene: no depth there.
        top, left, height, width = transform.content
        depth[:top] = np.nan
        depth[top + height:] = np.nan
        depth[:, :left] = np.nan
        depth[:, left + width:] = np.nan
    return depth
