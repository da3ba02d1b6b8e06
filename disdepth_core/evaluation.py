"""One evaluator: a predictor ``rgb, K -> depth`` backed by the node's pipeline, and one protocol.

Every number the project reports goes through here: ``disdepth eval`` (dataset splits),
``disdepth bag-eval`` (recorded rosbags), ``disdepth demo --offline`` and validation during
training. The predictor runs :class:`~disdepth_core.pipeline.FramePipeline` (the exact
decode/preprocess/infer/postprocess code of the ROS node) on any runtime (PyTorch, ONNX Runtime,
TensorRT, or an in-memory module during training), so what is measured offline is what the
robot runs.

Two resolutions, always named in the output:

* ``model input`` (default): frames are resized to the model's input size and the depth resized
  back, as the node does;
* ``full resolution`` (explicit option): the network sees each frame at its own size (the
  papers' protocol: NYU 480x640, KITTI 352x1216 KB crop); needs a dynamic-shape model.

The protocol (numpy, :mod:`disdepth_core.metrics`): predictions clamped into the evaluation
range, valid ground truth ``min < gt < max``, optional Garg/Eigen/NYU crop, metrics per image
then averaged over images. The predictor returns every positive prediction (no range mask), so
clamping is the protocol's job alone; the node's own range mask (NaN) cannot turn a slightly
out-of-range prediction into the minimum depth.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Optional

import numpy as np

from disdepth_core.metrics import CROPS, DepthMetricsAccumulator, valid_gt_mask
from disdepth_core.pipeline import FramePipeline, FrameResult, PipelineConfig
from disdepth_core.scale_anchor import Anchor

# Keep every positive finite prediction: the protocol clamps (NaN -> min would be wrong).
_UNBOUNDED = dict(min_depth=float(np.finfo(np.float32).tiny), max_depth=float("inf"))


@dataclass(frozen=True)
class EvalProtocol:
    """Depth range and crop of the standard protocol (metrics per image, then averaged)."""

    min_depth: float = 1e-3
    max_depth: float = 10.0
    crop: Optional[str] = None

    def __post_init__(self) -> None:
        if not 0.0 < float(self.min_depth) < float(self.max_depth):
            raise ValueError(f"evaluation range needs 0 < min_depth < max_depth, got {self.min_depth}..{self.max_depth}")
        if self.crop is not None and self.crop not in CROPS:
            raise ValueError(f"unknown evaluation crop {self.crop!r}; expected none or one of {', '.join(CROPS)}")

    def accumulator(self) -> DepthMetricsAccumulator:
        return DepthMetricsAccumulator(min_depth=self.min_depth, max_depth=self.max_depth, crop=self.crop)

    def describe(self) -> str:
        return f"range {self.min_depth:g}..{self.max_depth:g} m, crop {self.crop or 'none'}, per image then averaged"


def set_constant_depth(gts: Iterable[np.ndarray], protocol: EvalProtocol) -> float:
    """The best single constant depth for a set of frames: the median of every pixel the protocol
    scores (:func:`~disdepth_core.metrics.valid_gt_mask`: range and crop) over the whole set.

    The project's one constant baseline ("does the model beat predicting one number?"): the demo,
    the real-frame benchmark and fine-tuning reports all use it. Raises ``ValueError`` when no
    frame has a valid pixel.
    """
    valid = [gt[valid_gt_mask(gt, protocol.min_depth, protocol.max_depth, protocol.crop)] for gt in gts]
    valid = [v for v in valid if v.size]
    if not valid:
        raise ValueError(f"no valid ground-truth pixel in the set ({protocol.describe()})")
    return float(np.median(np.concatenate(valid)))


def constant_baseline(gts: list[np.ndarray], protocol: EvalProtocol) -> tuple[dict[str, float], float]:
    """Metrics of predicting :func:`set_constant_depth` everywhere, and that depth."""
    constant = set_constant_depth(gts, protocol)
    acc = protocol.accumulator()
    for gt in gts:
        acc.update(np.full(gt.shape, constant, dtype=np.float32), gt)
    return acc.compute(), constant


def paste_prediction(pred: np.ndarray, full_shape: tuple[int, int], crop_box: Any) -> np.ndarray:
    """Place a prediction of the crop box's size into a zero map of the full GT size (KITTI KB crop)."""
    top, left, height, width = (int(v) for v in crop_box)
    if pred.shape != (height, width):
        import cv2

        pred = cv2.resize(pred, (width, height), interpolation=cv2.INTER_LINEAR)
    full = np.zeros(full_shape, dtype=np.float32)
    full[top:top + height, left:left + width] = pred
    return full


class Predictor:
    """``predict(rgb, K) -> depth`` (float32 metres at the frame's size, NaN = no prediction).

    ``runtime`` is any :class:`~disdepth_core.runtime.base.DepthRuntime`. ``full_resolution``
    feeds each frame at its own size; otherwise frames are resized to ``input_hw`` (default: the
    model's input size) exactly as the node does. ``flip_tta`` averages with the flipped
    prediction of the flipped frame. ``focal_rescale`` applies the node's focal correction
    (needs ``K``). ``confidence`` also returns the model's confidence at the frame's size (in
    :attr:`FrameResult.confidence`, when the model has one).
    """

    def __init__(self, runtime, full_resolution: bool = False, input_hw: Optional[tuple[int, int]] = None,
                 resize_mode: str = "resize", focal_rescale: bool = False, flip_tta: bool = False,
                 confidence: bool = False) -> None:
        if full_resolution and not runtime.input_spec.is_dynamic:
            spec = runtime.input_spec
            raise ValueError(f"full-resolution evaluation needs a dynamic-shape model; {runtime.path} has a fixed input "
                             f"{spec.height}x{spec.width} (re-export with --dynamic, or evaluate at the model input size)")
        self.runtime = runtime
        recorded = runtime.metadata.input_height and runtime.metadata.input_width
        if full_resolution and input_hw is None and not recorded:
            input_hw = (32, 32)  # never used: at full resolution every frame sets its own input size
        self.pipeline = FramePipeline(runtime, input_hw)
        self.full_resolution = bool(full_resolution)
        self.flip_tta = bool(flip_tta)
        self.config = PipelineConfig(resize_mode=resize_mode, points=False, focal_rescale=focal_rescale, confidence=confidence,
                                     **_UNBOUNDED)

    @property
    def resolution(self) -> str:
        """How frames reach the network, for reports: 'full resolution' or 'model input HxW (mode)'."""
        if self.full_resolution:
            return "full resolution"
        height, width = self.pipeline.input_hw
        return f"model input {height}x{width} ({self.config.resize_mode})"

    def describe(self) -> dict[str, Any]:
        return {"model": self.runtime.path, "backend": self.runtime.backend, "resolution": self.resolution,
                "flip_tta": self.flip_tta, "focal_rescale": self.config.focal_rescale}

    def predict_result(self, rgb: np.ndarray, K: Optional[np.ndarray] = None,
                       K_size: Optional[tuple[int, int]] = None, anchor: Optional[Anchor] = None) -> FrameResult:
        """The pipeline's result for one frame (depth unbounded: the protocol clamps).

        ``K`` belongs to an image of ``K_size`` (height, width; default the frame's own size) and
        is scaled to the frame exactly as the node scales camera_info. ``anchor`` is the node's
        metric scale anchor (:func:`disdepth_core.scale_anchor.anchor_frame` bound to the frame's
        stamp and inputs). With flip TTA the depth is the average of both passes (the mirrored
        pass takes the first pass's scale) and the timings are summed.
        """
        K_size = tuple(K_size or rgb.shape[:2])
        camera = (np.asarray(K, dtype=np.float64), K_size) if K is not None else None
        input_hw = rgb.shape[:2] if self.full_resolution else None
        result = self.pipeline.process_rgb(rgb, camera, self.config, input_hw, anchor)
        if self.flip_tta:
            flipped_camera = None
            if camera is not None:
                flipped_K = np.array(camera[0], dtype=np.float64)
                flipped_K[0, 2] = K_size[1] - 1 - flipped_K[0, 2]
                flipped_camera = (flipped_K, K_size)
            decision = result.scale
            same_scale = (lambda raw, transform, K_cam: decision) if anchor is not None else None
            mirror = self.pipeline.process_rgb(np.ascontiguousarray(rgb[:, ::-1]), flipped_camera, self.config, input_hw, same_scale)
            timings = dict(result.timings)
            for key, value in mirror.timings.items():
                timings[key] = timings.get(key, 0.0) + value
            result = dataclasses.replace(result, depth=0.5 * (result.depth + mirror.depth[:, ::-1]), timings=timings)
        return result

    def predict_timed(self, rgb: np.ndarray, K: Optional[np.ndarray] = None) -> tuple[np.ndarray, dict[str, float]]:
        """Depth and the pipeline's per-stage timings (seconds; summed over the flip pass)."""
        result = self.predict_result(rgb, K)
        return result.depth, dict(result.timings)

    def __call__(self, rgb: np.ndarray, K: Optional[np.ndarray] = None) -> np.ndarray:
        return self.predict_timed(rgb, K)[0]


@dataclass
class EvalFrame:
    """One evaluation sample: network-side RGB (possibly a crop of the GT frame) and full GT."""

    rgb: np.ndarray
    gt: Optional[np.ndarray]
    K: Optional[np.ndarray] = None
    crop_box: Optional[tuple[int, int, int, int]] = None  # rgb's place inside gt (None: same frame)
    name: str = ""


def predict_frame(predictor: Predictor, frame: EvalFrame) -> np.ndarray:
    """Prediction aligned with the frame's ground truth (pasted at ``crop_box`` if given)."""
    pred = predictor(frame.rgb, frame.K)
    if frame.crop_box is not None and frame.gt is not None:
        pred = paste_prediction(np.nan_to_num(pred, nan=0.0), frame.gt.shape, frame.crop_box)
    return pred


def evaluate_frames(predictor: Predictor, frames: Iterable[EvalFrame], protocol: EvalProtocol,
                    accumulator: Optional[DepthMetricsAccumulator] = None) -> DepthMetricsAccumulator:
    """Run the protocol over frames; frames without ground truth are skipped. Returns the accumulator."""
    acc = accumulator if accumulator is not None else protocol.accumulator()
    for frame in frames:
        if frame.gt is None:
            continue
        acc.update(predict_frame(predictor, frame), frame.gt)
    return acc


def dataset_frames(dataset, indices: Iterable[int]) -> Iterator[EvalFrame]:
    """:class:`EvalFrame` s of a dataset split in evaluation mode (uint8 RGB at the eval box, full GT)."""
    for index in indices:
        item = dataset.eval_frame(index)
        yield EvalFrame(item["rgb"], item["depth"] if item["has_gt"] else None, item["K"], item["crop_box"], item["path"])


def protocol_for_dataset(data_cfg) -> EvalProtocol:
    """The dataset config's range and crop as an :class:`EvalProtocol`."""
    return EvalProtocol(min_depth=float(data_cfg.min_depth), max_depth=float(data_cfg.max_depth), crop=data_cfg.eval_crop)
