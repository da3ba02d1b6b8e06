"""Stamp pairing: exact, nearest within tolerance, none within tolerance, stamps out of log order."""

from __future__ import annotations

import struct

from disdepth_core.bags.pairing import StampPairer
from disdepth_core.bags.reader import BagMessage, header_stamp_ns


def message(topic: str, stamp_ns: int, log_ns: int | None = None, big_endian: bool = False) -> BagMessage:
    order = ">" if big_endian else "<"
    raw = bytes([0, 0 if big_endian else 1, 0, 0]) + struct.pack(order + "iI", stamp_ns // 10**9, stamp_ns % 10**9) + b"\0" * 8
    return BagMessage(topic, "sensor_msgs/msg/Image", stamp_ns if log_ns is None else log_ns, raw, None)


def pairs(stream, max_dt):
    """(image index, paired depth stamp) for a whole stream, pushed message by message as bag-eval does."""
    pairer = StampPairer("/img", "/depth", None, max_dt)
    frames = [frame for msg in stream for frame in pairer.push(msg)] + list(pairer.finish())
    return [(f.index, None if f.depth is None else header_stamp_ns(f.depth.raw)) for f in frames]


def test_header_stamp_both_byte_orders():
    assert header_stamp_ns(message("/img", 12_345_678_901).raw) == 12_345_678_901
    assert header_stamp_ns(message("/img", 12_345_678_901, big_endian=True).raw) == 12_345_678_901


def test_exact_and_nearest():
    s = 10**9
    stream = [message("/img", 1 * s), message("/depth", 1 * s + 4_000_000), message("/img", 2 * s),
              message("/depth", 2 * s), message("/depth", 3 * s - 30_000_000), message("/img", 3 * s)]
    assert pairs(stream, 0.0) == [(0, None), (1, 2 * s), (2, None)]
    assert pairs(stream, 0.005) == [(0, 1 * s + 4_000_000), (1, 2 * s), (2, None)]
    assert pairs(stream, 0.05) == [(0, 1 * s + 4_000_000), (1, 2 * s), (2, 3 * s - 30_000_000)]


def test_depth_recorded_before_and_after_picks_the_nearest():
    s = 10**9
    # depth at -10 ms and +3 ms around the image, logged after it: the later, nearer one wins
    stream = [message("/depth", s - 10_000_000), message("/img", s), message("/depth", s + 3_000_000)]
    assert pairs(stream, 0.02) == [(0, s + 3_000_000)]


def test_stopped_depth_stream_does_not_hold_images():
    """Images long after the last depth message settle without waiting for the end of the bag."""
    s = 10**9
    pairer = StampPairer("/img", "/depth", None, 0.01)
    settled = []
    for m in [message("/depth", s), message("/img", 5 * s), message("/img", 9 * s)]:
        settled += list(pairer.push(m))
    assert [f.index for f in settled] == [0]  # image 0 settled (no depth) once the log moved past it
