"""``disdepth bag-eval``: score one or two models on a recorded rosbag2, frame by frame.

One streaming pass: read (recording order) -> pair image with ground truth by stamp ->
deserialise and decode (the node's decoders) -> predict (the node's pipeline via
:class:`~disdepth_core.evaluation.Predictor`) -> per-frame metrics (the core protocol). A bad
frame (undecodable, wrong size, unreadable header) is skipped and counted with its reason; the
run goes on. Stage times are kept so the report (and ``benchmarks/bench_bag_eval.py``) can show
that evaluation is bounded by inference.

With a scale anchor (``--sparse-depth-topic`` or ``--camera-height``) every model gets its own
:class:`~disdepth_core.scale_anchor.ScaleTracker` driven exactly as the node drives its own (the
node's default settings, image stamps, the latest sparse message recorded before each image), so
the metrics are what the node would publish; the unanchored metrics of the same inferences are
kept beside them (the evaluation depth is unbounded, so dividing by the frame's scale is exact).
Models with a confidence output also get the confidence sparsification curve.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import cv2
import numpy as np
from tqdm import tqdm

from disdepth_core import image_decoding
from disdepth_core.evaluation import EvalProtocol, Predictor
from disdepth_core.geometry import as_intrinsics
from disdepth_core.pipeline import FramePipeline, FrameResult, PipelineConfig
from disdepth_core.scale_anchor import AnchorSettings, ScaleTracker, SparseSample, anchor_frame, sparse_from_message
from disdepth_core.sparsification import SparsificationAccumulator, frame_sparsification

from .pairing import PairedFrame, StampPairer
from .prefetch import prefetched
from .reader import CAMERA_INFO_TYPE, COLOR_TYPES, IMAGE_TYPE, BagError, BagReader

SAMPLE_WIDTH = 320  # sample grid thumbnails (keeps report.html small)
OUTPUT_TOPICS = {"depth": "/depth/image", "info": "/depth/camera_info", "points": "/depth/points"}
# --write-bag writes what the node publishes with its default parameters (config/depth.yaml):
# the model's range, camera resolution, a cloud at the network's resolution, 32FC1 metres.
NODE_OUTPUTS = PipelineConfig()
NODE_OUTPUTS_ENCODING = "32FC1"


@dataclass
class BagEvalOptions:
    image_topic: str
    depth_topic: Optional[str] = None
    info_topic: Optional[str] = None
    max_dt: float = 0.0
    min_depth: Optional[float] = None  # None: the (first) model's range
    max_depth: Optional[float] = None
    crop: Optional[str] = None
    max_frames: int = 0
    samples: int = 6
    write_bag: Optional[str] = None
    write_storage: Optional[str] = None  # None: the input bag's storage
    progress: bool = True
    sparse_topic: Optional[str] = None  # the scale anchor's sparse depth (sensor_msgs/Image, 32FC1 m / 16UC1 mm)
    anchor: AnchorSettings = field(default_factory=AnchorSettings)  # mode none unless a sparse topic or camera height


@dataclass
class ModelResult:
    """One model's per-frame rows (aligned with :attr:`BagEvalResult.frames`) and its accumulator."""

    label: str
    predictor: Predictor
    accumulator: Any
    metrics: list[Optional[dict[str, float]]] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    inference_ms: list[float] = field(default_factory=list)
    median_depth: list[float] = field(default_factory=list)
    valid_fraction: list[float] = field(default_factory=list)
    tracker: Optional[ScaleTracker] = None  # the model's scale anchor (None: no anchor)
    unanchored: Any = None  # accumulator of the same predictions without the anchor's scale
    scales: list[tuple[float, str]] = field(default_factory=list)  # per frame: (scale, source)
    scale_problems: Counter = field(default_factory=Counter)
    sparsification: SparsificationAccumulator = field(default_factory=SparsificationAccumulator)


@dataclass
class BagEvalResult:
    bag: str
    storage: str
    options: BagEvalOptions
    protocol: EvalProtocol
    models: list[ModelResult]
    frames: list[dict[str, Any]] = field(default_factory=list)  # index, stamp_ns, gt_dt_ms, decode_ms
    skipped: Counter = field(default_factory=Counter)
    images_read: int = 0
    without_gt: int = 0
    read_error: Optional[str] = None
    samples: list[dict[str, Any]] = field(default_factory=list)
    # read/decode: work in the reader (a thread ahead of inference unless writing a bag); wait:
    # time the evaluation loop waited for it; predict: the pipeline (inference is a part of it).
    stage_s: dict[str, float] = field(default_factory=lambda: {"read": 0.0, "decode": 0.0, "wait": 0.0, "predict": 0.0,
                                                               "inference": 0.0, "metrics": 0.0, "write": 0.0})
    wall_s: float = 0.0
    warnings: list[str] = field(default_factory=list)
    written: int = 0  # frames whose /depth/image --write-bag wrote
    written_with_camera: int = 0  # ... and also /depth/camera_info and /depth/points (a valid camera_info was known)
    rejected_info: Counter = field(default_factory=Counter)  # camera_info messages not used, by reason
    without_camera: int = 0  # evaluated frames with no valid camera_info before them (no focal rescale, no cloud)
    gt_without_valid_pixels: int = 0  # paired ground truth with no pixel the protocol scores (all NaN/inf/0/out of range)
    rejected_sparse: Counter = field(default_factory=Counter)  # sparse depth messages not used, by reason


def _depth_stats(depth: np.ndarray) -> tuple[float, float]:
    """Median predicted depth (of every 4th pixel each way: a statistic, 16x cheaper) and valid fraction."""
    sub = depth[::4, ::4]
    valid = np.isfinite(sub) & (sub > 0)
    fraction = float(valid.mean()) if sub.size else 0.0
    return (float(np.median(sub[valid])) if valid.any() else float("nan")), fraction


def _camera(info: Any) -> tuple[Optional[np.ndarray], Optional[tuple[int, int]]]:
    """K and the image size it belongs to, from a camera_info the pairer accepted (or None, None)."""
    if info is None:
        return None, None
    return as_intrinsics(info.k), (int(info.height), int(info.width))


def check_topics(bag: BagReader, options: BagEvalOptions) -> str:
    """Each topic the options name: one role each, present in ``bag`` with a type that role takes;
    returns the image topic's type. BagError (one line) otherwise: cheap, so run before any model loads."""
    roles = [("--image-topic", options.image_topic), ("--depth-topic", options.depth_topic),
             ("--camera-info-topic", options.info_topic), ("--sparse-depth-topic", options.sparse_topic)]
    named: dict[str, str] = {}
    for option, topic in roles:
        if topic is None:
            continue
        if not topic.strip():
            raise BagError(f"{option} is empty: give a topic name; the bag's topics: {bag.describe_topics() or 'none'}")
        if topic in named:
            raise BagError(f"{named[topic]} and {option} are both {topic}: one topic cannot play two roles "
                           "(image, ground truth, camera_info, scale anchor); give each its own topic")
        named[topic] = option
    image_type = bag.require_topic(options.image_topic, COLOR_TYPES, "image")
    if options.depth_topic:
        bag.require_topic(options.depth_topic, (IMAGE_TYPE,), "ground-truth depth")
    if options.info_topic:
        bag.require_topic(options.info_topic, (CAMERA_INFO_TYPE,), "camera_info")
    if options.sparse_topic:
        bag.require_topic(options.sparse_topic, (IMAGE_TYPE,), "sparse depth")
    return image_type


def evaluate_bag(bag_path: str | Path, models: list[tuple[str, Predictor]], options: BagEvalOptions) -> BagEvalResult:
    """Run every model on the bag's frames; raises BagError / FileNotFoundError for unusable input."""
    if not models:
        raise ValueError("bag evaluation needs at least one model")
    if options.max_frames < 0:
        raise ValueError(f"--max-frames must be >= 0 (0 = all), got {options.max_frames}")
    metadata = models[0][1].runtime.metadata
    protocol = EvalProtocol(min_depth=options.min_depth if options.min_depth is not None else metadata.min_depth,
                            max_depth=options.max_depth if options.max_depth is not None else metadata.max_depth,
                            crop=options.crop)
    for _, predictor in models:
        predictor.runtime.warmup()  # lazy initialisation must not count as the first frames' latency
    start = time.perf_counter()
    with BagReader(bag_path) as bag:
        image_type = check_topics(bag, options)
        anchored = options.anchor.mode != "none"
        result = BagEvalResult(str(bag_path), bag.storage, options, protocol,
                               [ModelResult(label, predictor, protocol.accumulator(),
                                            tracker=ScaleTracker(options.anchor) if anchored else None,
                                            unanchored=protocol.accumulator() if anchored else None)
                                for label, predictor in models])
        total = bag.counts.get(options.image_topic, 0)
        if total == 0:  # before any output is opened: an empty report would look like a result
            raise BagError(f"nothing to evaluate: image topic {options.image_topic} of bag {bag_path} holds no message")
        if options.max_frames:
            total = min(total, options.max_frames)
        sample_at = set(np.linspace(0, max(total - 1, 0), num=min(options.samples, total)).round().astype(int).tolist()) if total else set()
        writer = _open_output(bag, options) if options.write_bag else None
        try:
            _run(bag, result, image_type, total, sample_at, writer)
        finally:
            if writer is not None:
                writer.close()
    result.wall_s = time.perf_counter() - start
    _add_warnings(result)
    _add_anchor_warnings(result)
    return result


def _open_output(bag: BagReader, options: BagEvalOptions):
    from .writer import BagWriter

    return BagWriter(options.write_bag, options.write_storage or bag.storage)


@dataclass
class _Decoded:
    """A paired frame after decoding (or the reason it cannot be used)."""

    frame: PairedFrame
    msg: Any = None
    rgb: Optional[np.ndarray] = None
    gt: Optional[np.ndarray] = None
    skip: Optional[str] = None
    decode_s: float = 0.0
    sparse: Optional[SparseSample] = None
    sparse_problem: Optional[str] = None  # the paired sparse message could not be used (the frame still is)


def _decode(bag: BagReader, frame: PairedFrame, image_type: str) -> _Decoded:
    if frame.stamp_error:
        return _Decoded(frame, skip=f"unreadable image header: {frame.stamp_error}")
    t0 = time.perf_counter()
    try:
        msg = bag.deserialize(frame.image)
        rgb = image_decoding.image_to_rgb(msg) if image_type == IMAGE_TYPE else image_decoding.compressed_to_rgb(msg)
    except (BagError, image_decoding.BadMessageError) as err:
        return _Decoded(frame, skip=f"bad image: {err}")
    gt = None
    if frame.depth is not None:
        try:
            gt = image_decoding.image_to_depth(bag.deserialize(frame.depth))
        except (BagError, image_decoding.BadMessageError) as err:
            return _Decoded(frame, skip=f"bad ground-truth depth: {err}")
        if gt.shape != rgb.shape[:2]:
            return _Decoded(frame, skip=f"image {rgb.shape[1]}x{rgb.shape[0]} and ground truth {gt.shape[1]}x{gt.shape[0]} "
                                        "differ in size")
    decoded = _Decoded(frame, msg, rgb, gt)
    if frame.sparse is not None:
        try:
            sparse_msg = bag.deserialize(frame.sparse)
            decoded.sparse = SparseSample(sparse_from_message(sparse_msg), int(sparse_msg.header.stamp.sec) * 1_000_000_000
                                          + int(sparse_msg.header.stamp.nanosec))
        except (BagError, image_decoding.BadMessageError) as err:
            decoded.sparse_problem = str(err)
    decoded.decode_s = time.perf_counter() - t0
    return decoded


def _decoded_frames(bag: BagReader, result: BagEvalResult, image_type: str, writer) -> Iterator[_Decoded]:
    """Read -> pair -> decode, in recording order (``read`` and ``decode`` stage times recorded)."""
    options = result.options
    pairer = StampPairer(options.image_topic, options.depth_topic, options.info_topic, options.max_dt,
                         info_decoder=bag.deserialize if options.info_topic else None, sparse_topic=options.sparse_topic)
    result.rejected_info = pairer.rejected_info  # filled as the bag is read
    topics = None if writer is not None else [t for t in (options.image_topic, options.depth_topic, options.info_topic,
                                                          options.sparse_topic) if t]
    stage = result.stage_s
    messages = bag.messages(topics)
    produced = 0
    while True:
        t0 = time.perf_counter()
        message = next(messages, None)
        if message is not None and writer is not None:
            writer.add_raw(message.topic, message.msgtype, message.raw, message.log_time_ns,
                           message.connection.msgdef.data or None, message.connection.digest or None)
        settled = list(pairer.push(message)) if message is not None else list(pairer.finish())
        stage["read"] += time.perf_counter() - t0
        for frame in settled:
            if options.max_frames and produced >= options.max_frames:
                return
            produced += 1
            decoded = _decode(bag, frame, image_type)
            stage["decode"] += decoded.decode_s
            yield decoded
        if message is None:
            return


def _run(bag: BagReader, result: BagEvalResult, image_type: str, total: int, sample_at: set[int], writer) -> None:
    options = result.options
    bar = tqdm(total=total, desc="bag-eval", unit="frame", disable=not options.progress, dynamic_ncols=True)
    source = _decoded_frames(bag, result, image_type, writer)
    if writer is None:  # the output writer is not thread-safe: copy and write from one thread
        source = prefetched(source)
    stage = result.stage_s
    try:
        while True:
            t0 = time.perf_counter()
            decoded = next(source, None)
            stage["wait"] += time.perf_counter() - t0
            if decoded is None:
                break
            result.images_read += 1
            _process(result, decoded, decoded.frame.index in sample_at, writer)
            bar.update(1)
            if result.models[0].accumulator.n_images:
                bar.set_postfix(abs_rel=f"{result.models[0].accumulator.compute()['abs_rel']:.3f}", refresh=False)
    except BagError as err:
        if result.images_read == 0:
            raise
        result.read_error = str(err)  # keep what was read: the report covers the readable part
    finally:
        bar.close()


def _skip(result: BagEvalResult, reason: str) -> None:
    result.skipped[reason] += 1


def _process(result: BagEvalResult, decoded: _Decoded, keep_sample: bool, writer) -> None:
    stage = result.stage_s
    if decoded.skip:
        _skip(result, decoded.skip)
        return
    frame, msg, rgb, gt = decoded.frame, decoded.msg, decoded.rgb, decoded.gt
    if result.options.depth_topic and gt is None:
        result.without_gt += 1
    K, K_size = _camera(frame.camera_info)
    result.without_camera += int(K is None)
    row = {"index": frame.index, "stamp_ns": frame.stamp_ns, "gt_dt_ms": None if frame.depth_dt_ns is None else frame.depth_dt_ns / 1e6,
           "decode_ms": decoded.decode_s * 1e3, "has_gt": False}
    if decoded.sparse_problem:
        result.rejected_sparse[decoded.sparse_problem] += 1
    results = score_frame(result, row, rgb, gt, K, K_size, decoded.sparse, decoded.sparse_problem or "")
    if keep_sample:
        result.samples.append(sample_thumbnails(rgb, gt, [r.depth for r in results], frame.index, frame.stamp_ns))
    if writer is not None:
        t3 = time.perf_counter()
        with_camera = _write_outputs(writer, msg, frame, results[0], result.models[0].predictor.pipeline)
        result.written += 1
        result.written_with_camera += int(with_camera)
        stage["write"] += time.perf_counter() - t3


def score_frame(result: BagEvalResult, row: dict[str, Any], rgb: np.ndarray, gt: Optional[np.ndarray],
                K: Optional[np.ndarray] = None, K_size: Optional[tuple[int, int]] = None,
                sparse: Optional[SparseSample] = None, sparse_problem: str = "") -> list[FrameResult]:
    """Run every model of ``result`` on one frame and record it: each model's per-frame entries
    (metrics, or None when the protocol scores no ground-truth pixel; latency; depth statistics;
    the scale anchor's decision and the sparsification), the stage times, and ``row`` (the frame's
    entry in :attr:`BagEvalResult.frames`, ``stamp_ns`` required) with ``has_gt`` set. ``K``
    belongs to an image of ``K_size`` (default: the frame's size); ``sparse`` and
    ``sparse_problem`` feed the models' scale anchors. Returns the models' results in order.

    The one scoring step of ``bag-eval`` and of the fine-tuning report's held-out frames.
    """
    stage = result.stage_s
    results = []
    for model in result.models:
        anchor = None
        if model.tracker is not None:
            anchor = functools.partial(anchor_frame, model.tracker, row["stamp_ns"], sparse, sparse_problem=sparse_problem)
        t1 = time.perf_counter()
        predicted = model.predictor.predict_result(rgb, K, K_size, anchor)
        t2 = time.perf_counter()
        pred, timings = predicted.depth, predicted.timings
        stage["predict"] += t2 - t1
        stage["inference"] += timings.get("inference", 0.0)
        counted = model.accumulator.update(pred, gt) if gt is not None else []  # empty GT mask: skipped, counted
        metrics = counted[0] if counted else None
        _score_extras(result, model, predicted, gt)
        median, fraction = _depth_stats(pred)
        stage["metrics"] += time.perf_counter() - t2
        model.metrics.append(metrics)
        model.latency_ms.append((t2 - t1) * 1e3)
        model.inference_ms.append(timings.get("inference", 0.0) * 1e3)
        model.median_depth.append(median)
        model.valid_fraction.append(fraction)
        results.append(predicted)
    # Ground truth counts once the protocol scored it: one without a valid pixel (all NaN, inf, 0
    # or outside the range) is "no valid ground truth", not a frame with ground truth.
    row["has_gt"] = result.models[0].metrics[-1] is not None
    result.gt_without_valid_pixels += int(gt is not None and not row["has_gt"])
    result.frames.append(row)
    return results


def _score_extras(result: BagEvalResult, model: ModelResult, predicted: FrameResult, gt: Optional[np.ndarray]) -> None:
    """The scale anchor's decision and unanchored metrics, and the confidence sparsification, of one frame."""
    protocol = result.protocol
    if model.tracker is not None:
        decision = predicted.scale
        model.scales.append((decision.scale, decision.source))
        if decision.problem:
            model.scale_problems[decision.problem.split(";")[0]] += 1
        if gt is not None:
            model.unanchored.update(predicted.depth / np.float32(decision.scale), gt)
    if gt is not None and predicted.confidence is not None:
        model.sparsification.add(frame_sparsification(predicted.depth, gt, predicted.confidence, protocol.min_depth,
                                                      protocol.max_depth, protocol.crop))


def sample_thumbnails(rgb: np.ndarray, gt: Optional[np.ndarray], preds: list[np.ndarray], index: int,
                      stamp_ns: int) -> dict[str, Any]:
    """One row of the report's sample grid: thumbnails at most :data:`SAMPLE_WIDTH` wide (area for
    colour, nearest for depth so invalid pixels stay invalid)."""
    scale = min(1.0, SAMPLE_WIDTH / rgb.shape[1])
    size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))

    def shrink(depth):
        return None if depth is None else cv2.resize(depth.astype(np.float32), size, interpolation=cv2.INTER_NEAREST)

    return {"index": index, "stamp_ns": stamp_ns, "rgb": cv2.resize(rgb, size, interpolation=cv2.INTER_AREA),
            "gt": shrink(gt), "preds": [shrink(p) for p in preds]}


def _write_outputs(writer, image_msg: Any, frame: PairedFrame, predicted: FrameResult, pipeline: FramePipeline) -> bool:
    """What the node publishes for this frame with its default parameters, through the node's own
    steps (:meth:`FramePipeline.publishable`: range mask and cloud) and message layouts. Returns
    whether camera_info and the cloud were written too (they need a valid camera_info, as in the node)."""
    from disdepth_core.message_layout import cloud_layout, depth_camera_info_layout

    from .reader import POINTCLOUD_TYPE

    factory = writer.factory
    published = pipeline.publishable(predicted, NODE_OUTPUTS)
    header = factory.header(frame.stamp_ns, str(image_msg.header.frame_id))
    time_ns = frame.image.log_time_ns
    writer.add(OUTPUT_TOPICS["depth"], IMAGE_TYPE, factory.depth_image(published.depth, header, NODE_OUTPUTS_ENCODING), time_ns)
    if published.depth_K is not None:
        info = depth_camera_info_layout(frame.camera_info, published.depth_K, published.depth.shape)
        writer.add(OUTPUT_TOPICS["info"], CAMERA_INFO_TYPE, factory.camera_info_message(info, header), time_ns)
        writer.add(OUTPUT_TOPICS["points"], POINTCLOUD_TYPE,
                   factory.cloud_message(cloud_layout(published.points, NODE_OUTPUTS.points_rgb), header), time_ns)
        return True
    return False


def _add_anchor_warnings(result: BagEvalResult) -> None:
    """The scale anchor's fallbacks and refused sparse messages, and models without confidence, one line each."""
    topic = result.options.sparse_topic
    for reason, count in result.rejected_sparse.most_common():
        result.warnings.append(f"ignored {count} sparse depth message(s) on {topic}: {reason}")
    for model in result.models:
        for reason, count in model.scale_problems.most_common(5):
            result.warnings.append(f"{model.label}: scale anchor fell back on {count} frame(s): {reason}")
        if not model.predictor.runtime.has_confidence:
            from disdepth_core.runtime.base import NO_CONFIDENCE_NOTE

            result.warnings.append(f"{model.label} {NO_CONFIDENCE_NOTE}")


def _add_warnings(result: BagEvalResult) -> None:
    """One line per problem worth a user's attention (also shown in the report)."""
    evaluated = len(result.frames)
    if result.images_read == 0:
        result.warnings.append(f"no image on {result.options.image_topic} (the topic is empty)")
    if result.options.depth_topic and evaluated and result.without_gt == evaluated:
        result.warnings.append(f"no ground truth within --max-dt {result.options.max_dt:g} s for any of {evaluated} images "
                               f"on {result.options.depth_topic}; raise --max-dt if the depth stream is stamped separately")
    elif result.without_gt:
        result.warnings.append(f"{result.without_gt} of {evaluated} images had no ground truth within --max-dt "
                               f"{result.options.max_dt:g} s (latency and depth statistics only)")
    if result.gt_without_valid_pixels:
        protocol = result.protocol
        where = (f"no pixel inside the evaluation range {protocol.min_depth:g}..{protocol.max_depth:g} m "
                 "(every value non-finite, 0 or out of range)")
        if result.gt_without_valid_pixels == evaluated:
            result.warnings.append(f"no frame had valid ground truth: all {evaluated} ground-truth images on "
                                   f"{result.options.depth_topic} have {where}; no accuracy metrics")
        else:
            result.warnings.append(f"{result.gt_without_valid_pixels} of {evaluated} ground-truth images on "
                                   f"{result.options.depth_topic} have {where} and were not scored")
    for reason, count in result.rejected_info.most_common():
        result.warnings.append(f"ignored {count} camera_info message(s) on {result.options.info_topic}: {reason} "
                               "(rejected as the node does: the last valid camera_info, if any, stays in use)")
    if result.options.info_topic and result.without_camera:
        consequences = []
        if any(model.predictor.config.focal_rescale for model in result.models):
            consequences.append("--focal-rescale left their depth unscaled")
        if result.options.write_bag:
            consequences.append("--write-bag wrote no /depth/camera_info or /depth/points for them")
        result.warnings.append(f"{result.without_camera} of {evaluated} frames had no valid camera_info on "
                               f"{result.options.info_topic} before them" + (": " + "; ".join(consequences) if consequences else ""))
    for reason, count in result.skipped.most_common():
        result.warnings.append(f"skipped {count} frame(s): {reason}")
    if result.read_error:
        result.warnings.append(f"stopped early: {result.read_error}")
