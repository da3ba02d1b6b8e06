"""RGB-D frames from a rosbag2 recording (colour + registered depth + intrinsics), checked first.

The reader behind ``disdepth finetune`` and the ``bag`` training dataset. Opening a bag checks
what a user can get wrong before any frame is decoded, each as one :class:`RecordingError`
line: missing topics (listing those the bag has), wrong message types, compressed or 8-bit or
otherwise unsupported depth, depth of a size that cannot be the colour view, depth that is not
registered to colour (its own camera_info shows another camera: record the aligned topic
instead), and no intrinsics. Then :meth:`BagRecording.frames` streams paired frames in
recording order with the bag tools' pairing (:mod:`.pairing`: header stamps, nearest within
``max_dt``) and decoders (:mod:`disdepth_core.image_decoding`, the node's); a bad frame is
skipped and counted, never fatal.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterator, Optional, Union

import numpy as np

from disdepth_core import image_decoding
from disdepth_core.rgbd_recording import (
    RecordingError,
    RecordingInfo,
    RgbdFrame,
    SkippedFrame,
    intrinsics_differ,
    intrinsics_matrix,
    registered_frame,
    same_aspect,
    scaled_K,
)

from .pairing import StampPairer
from .reader import CAMERA_INFO_TYPE, COLOR_TYPES, COMPRESSED_TYPE, IMAGE_TYPE, BagError, BagMessage, BagReader

DEPTH_ENCODINGS = ("16UC1", "mono16", "32FC1")
EIGHT_BIT_DEPTH = ("mono8", "8UC1")
PROBE_MESSAGES = 30  # messages per topic read to check encodings and sizes before any work
ALIGNED_HINT = ("record depth registered to colour instead: RealSense /camera/camera/aligned_depth_to_color/image_raw "
                "(align_depth.enable:=true), Orbbec/Azure Kinect depth_to_color or depth_registered, ZED depth/depth_registered")


def sibling_info_topic(image_topic: str) -> str:
    """``/ns/image_raw`` and ``/ns/image_raw/compressed`` -> ``/ns/camera_info`` (the driver convention)."""
    topic = image_topic[: -len("/compressed")] if image_topic.endswith("/compressed") else image_topic
    return topic.rsplit("/", 1)[0] + "/camera_info"


class BagRecording:
    """A rosbag2 opened for RGB-D frames; use as a context manager or call :meth:`close`."""

    def __init__(self, path: str | Path, image_topic: str, depth_topic: str, info_topic: Optional[str] = None,
                 max_dt: float = 0.02, intrinsics: Optional[tuple[float, float, float, float]] = None) -> None:
        if not image_topic or not depth_topic:
            raise RecordingError(f"bag {path}: give --image-topic and --depth-topic (the colour and the registered depth topics)")
        self.image_topic, self.depth_topic, self.max_dt = image_topic, depth_topic, float(max_dt)
        self.bag = BagReader(path)
        self.skipped: Counter = Counter()
        self.read_error: Optional[str] = None
        try:
            self.info = self._inspect(info_topic, intrinsics)
        except BaseException:
            self.bag.close()
            raise

    # ---------------------------------------------------------------- checks before any work
    def _inspect(self, info_topic: Optional[str], intrinsics: Optional[tuple[float, float, float, float]]) -> RecordingInfo:
        bag = self.bag
        self.image_type = bag.require_topic(self.image_topic, COLOR_TYPES, "image")
        if bag.topics.get(self.depth_topic) == COMPRESSED_TYPE:
            raise RecordingError(f"depth topic {self.depth_topic!r} in bag {bag.path} is a CompressedImage; record the raw "
                                 "depth Image topic (16UC1 millimetres or 32FC1 metres)")
        bag.require_topic(self.depth_topic, (IMAGE_TYPE,), "depth")
        info_topic = self._choose_info_topic(info_topic, intrinsics)
        probe = self._probe([t for t in (self.image_topic, self.depth_topic, info_topic) if t])
        rgb = self._first_image(probe[self.image_topic])
        size_hw = rgb.shape[:2]
        depth_msg = self._first_message(probe, self.depth_topic, "depth")
        depth_note = self._check_depth(depth_msg, size_hw)
        if intrinsics is not None:
            K, camera_source = intrinsics_matrix(*intrinsics), "given on the command line"
        else:
            K = self._camera_K(self._first_message(probe, info_topic, "camera_info"), info_topic, size_hw)
            camera_source = f"camera_info {info_topic}"
        self._check_registration(K, size_hw)
        self.K, self.size_hw = K, size_hw
        return RecordingInfo(str(bag.path), f"rosbag2 ({bag.storage})", int(bag.counts.get(self.image_topic, 0)), size_hw, K,
                             camera_source, depth_note)

    def _choose_info_topic(self, info_topic: Optional[str], intrinsics) -> Optional[str]:
        bag = self.bag
        if info_topic:
            bag.require_topic(info_topic, (CAMERA_INFO_TYPE,), "camera_info")
            return info_topic
        if intrinsics is not None:
            return None
        sibling = sibling_info_topic(self.image_topic)
        if bag.topics.get(sibling) == CAMERA_INFO_TYPE:
            return sibling
        infos = sorted(name for name, kind in bag.topics.items() if kind == CAMERA_INFO_TYPE)
        raise RecordingError(f"no camera intrinsics for {self.image_topic!r} in bag {bag.path}: it has no {sibling}; pass "
                             f"--camera-info-topic (camera_info topics in the bag: {', '.join(infos) or 'none'}) or "
                             "--fx --fy --cx --cy")

    def _probe(self, topics: list[str]) -> dict[str, list[BagMessage]]:
        """The first few messages of each topic (stops as soon as every topic has enough)."""
        found: dict[str, list[BagMessage]] = {topic: [] for topic in topics}
        for message in self.bag.messages(topics):
            if len(found[message.topic]) < PROBE_MESSAGES:
                found[message.topic].append(message)
            if all(len(v) >= PROBE_MESSAGES for v in found.values()):
                break
        return found

    def _first_message(self, probe: dict[str, list[BagMessage]], topic: str, role: str) -> BagMessage:
        if not probe.get(topic):
            raise RecordingError(f"{role} topic {topic!r} in bag {self.bag.path} has no messages")
        return probe[topic][0]

    def _first_image(self, messages: list[BagMessage]) -> np.ndarray:
        if not messages:
            raise RecordingError(f"image topic {self.image_topic!r} in bag {self.bag.path} has no messages")
        reasons = []
        for message in messages:
            try:
                return self._decode_rgb(message)
            except (BagError, image_decoding.BadMessageError) as err:
                reasons.append(str(err))
        raise RecordingError(f"none of the first {len(messages)} images on {self.image_topic!r} decodes: {reasons[0]}")

    def _check_depth(self, message: BagMessage, size_hw: tuple[int, int]) -> str:
        msg = self.bag.deserialize(message)
        encoding = str(msg.encoding)
        if encoding in EIGHT_BIT_DEPTH:
            raise RecordingError(f"depth topic {self.depth_topic!r} is 8-bit ({encoding}): 8 bits cannot hold metric depth "
                                 "(a colourised or normalised preview?); record the driver's 16UC1 (millimetres) or 32FC1 "
                                 "(metres) depth")
        if encoding not in DEPTH_ENCODINGS:
            raise RecordingError(f"depth topic {self.depth_topic!r} has encoding {encoding!r}; supported: 16UC1 or mono16 "
                                 "(millimetres), 32FC1 (metres)")
        depth_hw = (int(msg.height), int(msg.width))
        if depth_hw != tuple(size_hw) and not same_aspect(depth_hw, size_hw):
            raise RecordingError(f"depth on {self.depth_topic!r} is {depth_hw[1]}x{depth_hw[0]} but the colour images are "
                                 f"{size_hw[1]}x{size_hw[0]}: not the same view, so it cannot be registered; {ALIGNED_HINT}")
        note = "32FC1 metres" if encoding == "32FC1" else f"{encoding} millimetres"
        if depth_hw != tuple(size_hw):
            note += f" at {depth_hw[1]}x{depth_hw[0]} (resized to the colour size)"
        return note

    def _camera_K(self, message: BagMessage, topic: str, size_hw: tuple[int, int]) -> np.ndarray:
        info = self.bag.deserialize(message)
        k = np.asarray(info.k, dtype=np.float64).reshape(-1)
        if k.size != 9:
            raise RecordingError(f"camera_info on {topic!r} has no 3x3 K")
        K = intrinsics_matrix(k[0], k[4], k[2], k[5])
        info_hw = (int(info.height), int(info.width))
        if min(info_hw) <= 0 or info_hw == tuple(size_hw):
            return K
        if not same_aspect(info_hw, size_hw):
            raise RecordingError(f"camera_info on {topic!r} is for {info_hw[1]}x{info_hw[0]} images but the colour images "
                                 f"are {size_hw[1]}x{size_hw[0]}; give the colour camera's camera_info")
        return scaled_K(K, info_hw, size_hw)

    def _check_registration(self, K: np.ndarray, size_hw: tuple[int, int]) -> None:
        """A depth stream with its own camera_info describing another camera is not registered to colour."""
        depth_info = sibling_info_topic(self.depth_topic)
        if self.bag.topics.get(depth_info) != CAMERA_INFO_TYPE or depth_info == sibling_info_topic(self.image_topic):
            return
        message = next(iter(self.bag.messages([depth_info])), None)
        if message is None:
            return
        info = self.bag.deserialize(message)
        k = np.asarray(info.k, dtype=np.float64).reshape(-1)
        info_hw = (int(info.height), int(info.width))
        if k.size != 9 or k[0] <= 0 or min(info_hw) <= 0:
            return
        depth_K = scaled_K(intrinsics_matrix(k[0], k[4], k[2], k[5]), info_hw, size_hw)
        if intrinsics_differ(depth_K, K, size_hw[1]):
            raise RecordingError(f"depth topic {self.depth_topic!r} is not registered to colour: its camera_info {depth_info} "
                                 f"(fx {k[0]:.1f}, {info_hw[1]}x{info_hw[0]}) is another camera than the colour one "
                                 f"(fx {K[0, 0]:.1f}); {ALIGNED_HINT}")

    # ---------------------------------------------------------------- frames
    def _decode_rgb(self, message: BagMessage) -> np.ndarray:
        msg = self.bag.deserialize(message)
        if self.image_type == IMAGE_TYPE:
            return np.ascontiguousarray(image_decoding.image_to_rgb(msg))
        return image_decoding.compressed_to_rgb(msg)

    def frames(self, wanted: Optional[set[int]] = None) -> Iterator[Union[RgbdFrame, SkippedFrame]]:
        """Paired frames in recording order; ``wanted``: decode only these frame indices."""
        pairer = StampPairer(self.image_topic, self.depth_topic, None, self.max_dt)
        messages = self.bag.messages([self.image_topic, self.depth_topic])
        while True:
            try:
                message = next(messages, None)
            except BagError as err:
                self.read_error = str(err)  # a corrupt tail: keep what was read
                message = None
            settled = pairer.push(message) if message is not None else pairer.finish()
            for paired in settled:
                if wanted is not None and paired.index not in wanted:
                    continue
                item = self._frame(paired)
                if isinstance(item, SkippedFrame):
                    self.skipped[item.reason] += 1
                yield item
            if message is None:
                return

    def _frame(self, paired) -> Union[RgbdFrame, SkippedFrame]:
        index = paired.index
        if paired.stamp_error:
            return SkippedFrame(index, f"unreadable image header: {paired.stamp_error}")
        if paired.depth is None:
            return SkippedFrame(index, f"no depth within --max-dt {self.max_dt:g} s")
        try:
            rgb = self._decode_rgb(paired.image)
        except (BagError, image_decoding.BadMessageError) as err:
            return SkippedFrame(index, f"bad image: {err}")
        if rgb.shape[:2] != tuple(self.size_hw):
            return SkippedFrame(index, f"image size changed to {rgb.shape[1]}x{rgb.shape[0]}")
        try:
            depth = image_decoding.image_to_depth(self.bag.deserialize(paired.depth))
        except (BagError, image_decoding.BadMessageError) as err:
            return SkippedFrame(index, f"bad depth: {err}")
        return registered_frame(index, paired.stamp_ns, rgb, depth, self.K)

    def close(self) -> None:
        self.bag.close()

    def __enter__(self) -> "BagRecording":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
