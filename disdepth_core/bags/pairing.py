"""Pair each colour image with ground-truth depth by header stamp, streaming through the bag.

A depth message pairs with an image when the stamps are equal (``max_dt = 0``) or the nearest
depth stamp is within ``max_dt``. Messages arrive in recording order and one sensor's stamps
increase, so an image is settled as soon as a depth stamp at or after it (or beyond its
tolerance) has been read; only a small window of depth messages is kept (raw CDR bytes, not
deserialised), whatever the bag's length. Camera intrinsics are the latest *valid* camera_info
read before the image: an unusable one (bad K, zero size; the node's rule,
:func:`disdepth_core.pipeline.camera_info_problem`) is rejected and counted, as the node does.
"""

from __future__ import annotations

import bisect
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any, Iterator, Optional

from disdepth_core.pipeline import camera_info_problem

from .reader import BagError, BagMessage, header_stamp_ns

# Recorders write a message within this long of its stamp; past it a missing depth is missing.
SETTLE_SLACK_NS = 2_000_000_000


@dataclass
class PairedFrame:
    """One image with its ground truth (None: none within tolerance) and camera_info (None: none yet)."""

    index: int
    stamp_ns: int
    image: BagMessage
    depth: Optional[BagMessage]
    depth_dt_ns: Optional[int]
    camera_info: Any
    stamp_error: Optional[str] = None  # unreadable header: the frame is skipped and counted


class StampPairer:
    """Feed messages with :meth:`push`; settled frames come out of :meth:`push` and :meth:`finish`."""

    def __init__(self, image_topic: str, depth_topic: Optional[str], info_topic: Optional[str], max_dt_s: float,
                 info_decoder=None) -> None:
        if max_dt_s < 0:
            raise ValueError(f"--max-dt must be >= 0 seconds, got {max_dt_s}")
        self.image_topic, self.depth_topic, self.info_topic = image_topic, depth_topic, info_topic
        self.max_dt_ns = int(round(max_dt_s * 1e9))
        self.info_decoder = info_decoder
        self._pending: deque[tuple[int, int, BagMessage, Any, Optional[str]]] = deque()
        self._depth_stamps: list[int] = []
        self._depth_msgs: list[BagMessage] = []
        self._info: Any = None
        self._count = 0
        self._latest_log_ns = 0
        self.depth_seen = 0
        self.rejected_info: Counter = Counter()  # reason -> count of camera_info messages not used

    def push(self, message: BagMessage) -> Iterator[PairedFrame]:
        self._latest_log_ns = max(self._latest_log_ns, message.log_time_ns)
        if message.topic == self.info_topic and self.info_decoder is not None:
            try:
                info = self.info_decoder(message)
                problem = camera_info_problem(info)
            except BagError as err:
                problem = f"unreadable: {err}"
            if problem:  # keep the previous intrinsics; a bad camera_info is not a bad frame
                self.rejected_info[problem] += 1
            else:
                self._info = info
            return
        if message.topic == self.image_topic:
            stamp, error = self._stamp(message)
            self._pending.append((self._count, stamp, message, self._info, error))
            self._count += 1
        elif message.topic == self.depth_topic:
            stamp, error = self._stamp(message)
            if error is None:
                position = bisect.bisect_right(self._depth_stamps, stamp)
                self._depth_stamps.insert(position, stamp)
                self._depth_msgs.insert(position, message)
                self.depth_seen += 1
        yield from self._settle(final=False)

    def finish(self) -> Iterator[PairedFrame]:
        yield from self._settle(final=True)

    @staticmethod
    def _stamp(message: BagMessage) -> tuple[int, Optional[str]]:
        try:
            stamp = header_stamp_ns(message.raw)
        except BagError as err:
            return message.log_time_ns, str(err)
        return (stamp if stamp > 0 else message.log_time_ns), None

    def _settle(self, final: bool) -> Iterator[PairedFrame]:
        while self._pending:
            index, stamp, message, info, error = self._pending[0]
            if not final and self.depth_topic and error is None and not self._settled(stamp, message.log_time_ns):
                return  # a closer depth message may still come
            self._pending.popleft()
            depth, dt = (None, None) if error else self._nearest(stamp)
            yield PairedFrame(index, stamp, message, depth, dt, info, error)
            self._prune(self._pending[0][1] if self._pending else stamp)

    def _settled(self, stamp: int, log_time_ns: int) -> bool:
        """True once no later depth message can be nearer: one stamped at/after ``stamp`` was
        read, or the recording (its own clock) has moved well past the image (a stopped stream)."""
        if self._depth_stamps and self._depth_stamps[-1] >= stamp:
            return True
        return self._latest_log_ns > log_time_ns + self.max_dt_ns + SETTLE_SLACK_NS

    def _nearest(self, stamp: int) -> tuple[Optional[BagMessage], Optional[int]]:
        if not self.depth_topic or not self._depth_stamps:
            return None, None
        position = bisect.bisect_left(self._depth_stamps, stamp)
        best = None
        for candidate in (position - 1, position):
            if 0 <= candidate < len(self._depth_stamps):
                dt = abs(self._depth_stamps[candidate] - stamp)
                if best is None or dt < best[1]:
                    best = (candidate, dt)
        if best is None or best[1] > self.max_dt_ns:
            return None, (best[1] if best else None)
        return self._depth_msgs[best[0]], best[1]

    def _prune(self, oldest_pending: int) -> None:
        """Drop depth messages too old to pair with any image still to come (keep one before)."""
        cut = bisect.bisect_left(self._depth_stamps, oldest_pending - self.max_dt_ns) - 1
        if cut > 0:
            del self._depth_stamps[:cut]
            del self._depth_msgs[:cut]
