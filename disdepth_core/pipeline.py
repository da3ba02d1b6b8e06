"""One frame's straight line: decode -> preprocess -> infer -> postprocess -> point cloud.

ROS-free (messages are decoded by :mod:`disdepth_core.image_decoding`, duck-typed on their
fields), so the node, ``benchmarks/bench_node.py`` and offline evaluation of recorded bags run
exactly the same code; ``disdepth_ros`` only builds and publishes the messages.
Everything that depends on the image size (transform, intrinsics, ray grid, cloud buffer) is
derived per frame from the frame's own size, so a camera that changes resolution mid-stream
just works; the ray grid (``geometry.ray_grid``) and the cloud buffer are cached by size.
"""

from __future__ import annotations

import array
import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, Optional

import cv2
import numpy as np

from disdepth_core import image_decoding
from disdepth_core.cloud_filters import drop_points
from disdepth_core.geometry import as_intrinsics, depth_to_points, focal_rescale_factor, scale_intrinsics
from disdepth_core.runtime.preprocess import FrameTransform, choose_input_size, mask_out_of_range, postprocess_depth, preprocess_rgb
from disdepth_core.scale_anchor import Anchor, ScaleDecision


def pack_rgb(rgb: np.ndarray, out: np.ndarray) -> None:
    """Write ``0x00RRGGBB`` of uint8 ``rgb [H,W,3]`` into the uint32 view ``out [H,W]``."""
    np.left_shift(rgb[..., 0], 16, out=out, dtype=np.uint32)
    out |= rgb[..., 1].astype(np.uint32) << 8
    out |= rgb[..., 2]


def byte_backed_float32(shape: tuple[int, ...]) -> np.ndarray:
    """A zeroed float32 array whose memory is an ``array.array('B')``.

    rclpy's generated setters store an ``array.array('B')`` as a message's ``data`` as is, so a
    cloud computed into this buffer is published without the extra full-size copy a numpy
    array needs (``disdepth_ros.messages.points_to_cloud`` detects it).
    """
    storage = array.array("B", bytes(int(np.prod(shape)) * 4))
    return np.frombuffer(storage, dtype=np.float32).reshape(shape)


@dataclass(frozen=True)
class PipelineConfig:
    """The per-frame options (all changeable while running); 0 depths mean the model's range."""

    resize_mode: str = "resize"
    min_depth: float = 0.0
    max_depth: float = 0.0
    output_resolution: str = "camera"
    points: bool = True
    points_stride: int = 0  # 0 = auto (:func:`auto_points_stride`); N = every Nth row and column
    points_rgb: bool = False
    focal_rescale: bool = False
    mono16_bits: int = 16  # significant bits of 16-bit input images (10/12-bit sensors)
    confidence: bool = False  # also return the confidence image (the model's second output, at the depth's resolution)
    # The cloud's filters (disdepth_core.cloud_filters): 0 turns each off.
    flying_pixel_angle: float = 5.0  # degrees
    max_range: float = 0.0  # metres from the camera centre
    min_confidence: float = 0.3

    @classmethod
    def from_params(cls, values: dict[str, Any]) -> "PipelineConfig":
        return cls(resize_mode=values["resize_mode"], min_depth=float(values["min_depth"]), max_depth=float(values["max_depth"]),
                   output_resolution=values["output_resolution"], points=bool(values["publish_points"]),
                   points_stride=int(values["points_stride"]), points_rgb=bool(values["points_rgb"]),
                   focal_rescale=bool(values["focal_rescale"]), mono16_bits=int(values.get("mono16_bits", 16)),
                   confidence=bool(values.get("publish_confidence", False)),
                   flying_pixel_angle=float(values.get("flying_pixel_angle", cls.flying_pixel_angle)),
                   max_range=float(values.get("max_range", 0.0)), min_confidence=float(values.get("min_confidence", 0.0)))

    @property
    def needs_confidence(self) -> bool:
        """Whether a frame needs the confidence image (published, or filtering the cloud)."""
        return self.confidence or (self.points and self.min_confidence > 0)


@dataclass
class FrameResult:
    """Arrays of one frame. ``points`` is a reused buffer: valid until the next frame."""

    rgb: np.ndarray
    depth: np.ndarray
    transform: FrameTransform
    depth_K: Optional[np.ndarray] = None
    points: Optional[np.ndarray] = None
    focal_factor: float = 1.0
    timings: dict[str, float] = field(default_factory=dict)
    camera_warning: str = ""  # camera_info that fits the image only approximately (aspect ratio)
    points_stride: int = 0  # the stride the cloud was sampled with (set with ``points``)
    # This thread's CPU time in the forward pass: the node subtracts it to report the CPU it spends
    # outside inference (wall times also count waiting for a core on a busy computer).
    inference_cpu: float = 0.0
    # Confidence in [0, 1] at the depth's resolution (when asked for and the model has it), and the
    # network-resolution one it comes from (the cloud's filter samples it directly when only it needs one).
    confidence: Optional[np.ndarray] = None
    confidence_net: Optional[np.ndarray] = None
    scale: ScaleDecision = field(default_factory=ScaleDecision)  # the metric scale anchor's decision (1 = none)
    points_dropped: int = 0  # valid points the cloud's filters removed (set with ``points``)


def auto_points_stride(depth_hw: tuple[int, int], network_hw: tuple[int, int]) -> int:
    """The cloud stride that matches the network's own output resolution (``points_stride: 0``).

    Depth at camera resolution is the network's output upsampled: a 160x120 network output
    resized to 640x480 has 16 interpolated pixels for each predicted one, so a full-density
    cloud carries no more information, only 16x the bytes to compute, serialise, send and
    voxelise downstream. The largest stride that keeps the cloud at least as dense as the
    network output (per axis) drops only those interpolated points; a network at camera
    resolution (or ``output_resolution: model``) gives stride 1.
    """
    (dh, dw), (nh, nw) = depth_hw, network_hw
    if nh <= 0 or nw <= 0:
        return 1
    return max(1, min(int(dh) // int(nh), int(dw) // int(nw)))


def intrinsics_problem(K: np.ndarray) -> Optional[str]:
    """Why ``K`` cannot be a camera's intrinsics (for a per-message check), or None.

    A negative focal length mirrors the cloud and a zero or non-finite one breaks it, with no
    other sign: such camera_info is rejected (counted as a bad message) instead of used.
    """
    K = np.asarray(K, dtype=np.float64).reshape(3, 3)
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    if not (np.isfinite(fx) and np.isfinite(fy) and fx > 0 and fy > 0):
        return f"invalid focal length fx={fx:g} fy={fy:g} (must be finite and > 0)"
    if not (np.isfinite(cx) and np.isfinite(cy)):
        return f"invalid principal point cx={cx:g} cy={cy:g} (must be finite)"
    return None


def camera_info_problem(info: Any) -> Optional[str]:
    """Why a camera_info message (rclpy or rosbags) cannot be used, or None.

    The node and the bag tools reject such a message the same way: counted as bad, the last
    valid intrinsics kept (a zero size cannot be scaled to the image; a bad K breaks the cloud).
    """
    try:
        K = np.asarray(info.k, dtype=np.float64).reshape(3, 3)
    except (TypeError, ValueError) as err:
        return f"K is not 9 numbers (row-major 3x3): {err}"
    # One wording for every bad focal length (negative, zero, NaN, inf), as the node logs it.
    problem = intrinsics_problem(K)
    if problem:
        return problem
    try:
        as_intrinsics(K)  # the remaining entries (skew, last row) must be finite too
    except ValueError as err:
        return str(err)
    if int(info.height) <= 0 or int(info.width) <= 0:
        return f"zero size {info.width}x{info.height}"
    return None


def frame_id_mismatch(image_frame: str, other_frame: str, what: str) -> Optional[str]:
    """A warning when ``what`` (camera_info, sparse depth) is stamped in another optical frame than
    the image: its K or its depths then belong to another camera. An empty frame_id says nothing
    and is not a mismatch (many drivers and bag tools leave it empty)."""
    if not image_frame or not other_frame or image_frame == other_frame:
        return None
    return (f"{what} frame_id '{other_frame}' is not the image's '{image_frame}': it belongs to another camera, "
            f"so the result may be wrong; remap the topic of the camera that took the image")


def aspect_mismatch(info_hw: tuple[int, int], image_hw: tuple[int, int], tolerance: float = 0.01) -> Optional[str]:
    """A warning when camera_info's size has another aspect ratio than the image (K is stretched unevenly)."""
    (ih, iw), (h, w) = info_hw, image_hw
    if (ih, iw) == (h, w) or ih <= 0 or iw <= 0 or h <= 0 or w <= 0:
        return None
    info_aspect, image_aspect = iw / ih, w / h
    if abs(info_aspect / image_aspect - 1.0) <= tolerance:
        return None
    return (f"camera_info is {iw}x{ih} (aspect {info_aspect:.3f}) but the image is {w}x{h} (aspect {image_aspect:.3f}): "
            "K is scaled unevenly (x by {:.3f}, y by {:.3f}), so the cloud's metres are only as right as that guess; "
            "publish camera_info for the image actually sent (crop/binning)".format(w / iw, h / ih))


class FramePipeline:
    """Wraps a loaded :class:`DepthRuntime`; call :meth:`process_message` or :meth:`process_rgb`."""

    def __init__(self, runtime, input_hw: Optional[tuple[int, int]] = None) -> None:
        self.runtime = runtime
        self.metadata = runtime.metadata
        self.input_hw = choose_input_size(runtime.input_spec, runtime.metadata, input_hw)
        self._cloud_buffer: Optional[np.ndarray] = None

    def depth_range(self, config: PipelineConfig) -> tuple[float, float]:
        return (config.min_depth or self.metadata.min_depth, config.max_depth or self.metadata.max_depth)

    def decode(self, msg, significant_bits: int = 16) -> np.ndarray:
        """Image or CompressedImage -> uint8 RGB; raises :class:`image_decoding.BadMessageError`."""
        if hasattr(msg, "encoding"):
            return image_decoding.image_to_rgb(msg, significant_bits)
        return image_decoding.compressed_to_rgb(msg)

    def process_message(self, msg, camera: Optional[tuple[np.ndarray, tuple[int, int]]], config: PipelineConfig,
                        anchor: Optional[Anchor] = None) -> FrameResult:
        """Decode and process; ``camera`` is (K, (height, width) that K belongs to) or None; ``anchor``: see :meth:`process_rgb`."""
        start = time.perf_counter()
        rgb = self.decode(msg, config.mono16_bits)
        decode_s = time.perf_counter() - start
        result = self.process_rgb(rgb, camera, config, anchor=anchor)
        result.timings = {"decode": decode_s, **result.timings}
        return result

    def process_rgb(self, rgb: np.ndarray, camera: Optional[tuple[np.ndarray, tuple[int, int]]], config: PipelineConfig,
                    input_hw: Optional[tuple[int, int]] = None, anchor: Optional[Anchor] = None) -> FrameResult:
        """``input_hw`` overrides the network input size for this frame (full-resolution evaluation).

        ``anchor`` (:func:`disdepth_core.scale_anchor.anchor_frame` with the frame's stamp and
        inputs bound) sees the network-resolution depth, the transform and the camera's K and
        decides the frame's metric scale, which multiplies the depth before the range mask.
        """
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        # Intrinsics first: a frame with unusable K is refused before it costs an inference.
        K_cam, camera_warning = None, ""
        if camera is not None:
            K, info_hw = camera
            problem = intrinsics_problem(K)
            if problem:
                raise image_decoding.BadMessageError(f"camera_info: {problem}")
            camera_warning = aspect_mismatch(tuple(info_hw), rgb.shape[:2]) or ""
            K_cam = K if tuple(info_hw) == rgb.shape[:2] else scale_intrinsics(K, info_hw, rgb.shape[:2])
        batch, transform = preprocess_rgb(rgb, input_hw or self.input_hw, self.metadata, config.resize_mode)
        t1, cpu1 = time.perf_counter(), time.thread_time()
        raw, raw_confidence = self.runtime.infer_with_confidence(batch)
        t2, cpu2 = time.perf_counter(), time.thread_time()
        factor = self._focal_factor(K_cam, transform, config)
        if factor != 1.0:
            raw = raw * np.float32(factor)
        decision = anchor(raw.reshape(raw.shape[-2:]), transform, K_cam) if anchor is not None else ScaleDecision()
        if decision.scale != 1.0:
            raw = raw * np.float32(decision.scale)
        lo, hi = self.depth_range(config)
        depth = postprocess_depth(raw, transform, lo, hi, config.output_resolution)
        confidence = confidence_net = None
        if raw_confidence is not None and config.needs_confidence:
            confidence_net = raw_confidence.reshape(raw_confidence.shape[-2:])
            if config.confidence:  # the image itself is wanted; the cloud alone samples the network's grid
                confidence = postprocess_depth(raw_confidence, transform, -np.inf, np.inf, config.output_resolution)
        depth_K = K_cam
        if config.output_resolution == "model" and K_cam is not None:
            depth_K = transform.intrinsics_to_network(K_cam)
        t3 = time.perf_counter()
        timings.update(preprocess=t1 - t0, inference=t2 - t1, postprocess=t3 - t2)
        result = FrameResult(rgb, depth, transform, depth_K, None, factor, timings, camera_warning,
                             inference_cpu=cpu2 - cpu1, confidence=confidence, confidence_net=confidence_net, scale=decision)
        if config.points and depth_K is not None:
            result.points = self.make_points(result, config)
            timings["pointcloud"] = time.perf_counter() - t3
        return result

    def publishable(self, result: FrameResult, config: PipelineConfig) -> FrameResult:
        """The frame as the node publishes it with ``config``, from a result computed with a wider range.

        Evaluation predicts with an unbounded range (the protocol, not a NaN mask, clamps), and
        ``bag-eval --write-bag`` then writes what the node would publish for that frame: the same
        resize-then-mask order gives the node's exact depth (``config``'s range) and cloud, without
        running the network again. Both results are at camera resolution.
        """
        if config.output_resolution != "camera":
            raise ValueError("publishable() maps camera-resolution results only")
        lo, hi = self.depth_range(config)
        out = dataclasses.replace(result, depth=mask_out_of_range(result.depth.copy(), lo, hi), points=None, timings={},
                                  confidence=result.confidence if config.confidence else None,
                                  confidence_net=result.confidence_net if config.needs_confidence else None)
        if config.points and out.depth_K is not None:
            out.points = self.make_points(out, config).copy()  # the reused buffer belongs to the next frame
        return out

    def _focal_factor(self, K_cam: Optional[np.ndarray], transform: FrameTransform, config: PipelineConfig) -> float:
        """(camera fx in network pixels) / train focal: apparent size scales with focal length."""
        train_focal = self.metadata.train_focal
        if not config.focal_rescale or K_cam is None or not train_focal:
            return 1.0
        return focal_rescale_factor(float(K_cam[0, 0]) * transform.focal_scale, float(train_focal))

    def make_points(self, result: FrameResult, config: PipelineConfig) -> np.ndarray:
        """Packed float32 ``[H',W',3]`` (x,y,z: 12 bytes a point) or ``[H',W',4]`` (x,y,z,rgb: 16 bytes).

        No padding: depth_image_proc pads points to 16/32 bytes, which only makes every copy on
        the way to a consumer (message, serialisation, transport) 33-100% larger; PointCloud2
        readers follow the fields and ``point_step``. The buffer is byte-backed
        (:func:`byte_backed_float32`) so the message takes it without a copy. The stride used is
        recorded in ``result.points_stride``.
        """
        depth = result.depth
        stride = result.points_stride = self.points_stride(result, config)
        shape = (-(-depth.shape[0] // stride), -(-depth.shape[1] // stride), 4 if config.points_rgb else 3)
        if self._cloud_buffer is None or self._cloud_buffer.shape != shape:
            self._cloud_buffer = byte_backed_float32(shape)
        packed = self._cloud_buffer
        depth_to_points(depth, result.depth_K, stride, out=packed[..., :3])
        confidence = self._cloud_confidence(result, stride) if config.min_confidence > 0 else None
        if config.flying_pixel_angle > 0 or config.max_range > 0 or (confidence is not None and config.min_confidence > 0):
            result.points_dropped = drop_points(packed, stride, result.depth_K, config.flying_pixel_angle, config.max_range,
                                                confidence, config.min_confidence)
        if config.points_rgb:
            colors = self._colors_at_depth_size(result, config)
            pack_rgb(colors[::stride, ::stride], packed[..., 3].view(np.uint32))
        return packed

    @staticmethod
    def _cloud_confidence(result: FrameResult, stride: int) -> Optional[np.ndarray]:
        """Confidence at the cloud's points: the network's own pixel under each point (nearest).

        A fraction of the cost of resizing to the camera's resolution first, and the same whether or
        not someone subscribes to the confidence image, so the cloud never depends on it.
        """
        if result.confidence_net is None:
            return None
        rows, cols = result.depth.shape[:2]
        if (rows, cols) == result.confidence_net.shape:  # output_resolution model: the same grid
            return result.confidence_net[::stride, ::stride]
        v, u = result.transform.network_pixels(np.arange(0, rows, stride), np.arange(0, cols, stride), (rows, cols))
        return result.confidence_net[v[:, None], u[None, :]]

    @staticmethod
    def points_stride(result: FrameResult, config: PipelineConfig) -> int:
        """``config.points_stride``, or for 0 (auto) the stride matching the network's output resolution."""
        if config.points_stride > 0:
            return config.points_stride
        _, _, height, width = result.transform.content
        return auto_points_stride(result.depth.shape[:2], (height, width))

    @staticmethod
    def _colors_at_depth_size(result: FrameResult, config: PipelineConfig) -> np.ndarray:
        if result.depth.shape == result.rgb.shape[:2]:
            return result.rgb
        top, left, height, width = result.transform.content
        canvas = np.zeros((*result.depth.shape, 3), dtype=np.uint8)
        canvas[top:top + height, left:left + width] = cv2.resize(np.ascontiguousarray(result.rgb), (width, height),
                                                                 interpolation=cv2.INTER_AREA)
        return canvas
