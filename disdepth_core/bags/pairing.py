"""Pair each colour image with ground-truth depth by header stamp, streaming through the bag.

A depth message pairs with an image when the stamps are equal (``max_dt = 0``) or the nearest
depth stamp is within ``max_dt``. Messages arrive in recording order and one sensor's stamps
increase, so an image is settled as soon as a depth stamp at or after it (or beyond its
tolerance) has been read; only a small window of depth messages is kept (raw CDR bytes, not
deserialised), whatever the bag's length. Camera intrinsics are the latest *valid* camera_info
read before the image: an unusable one (bad K, zero size; the node's rule,
:func:`disdepth_core.pipeline.camera_info_problem`) is rejected and counted, as the node does.
A sparse depth topic (the scale anchor's) pairs like ground truth, by the nearest stamp, without
a tolerance: how old is too old is the anchor's rule (``scale_max_age``), applied later.
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
    sparse: Optional[BagMessage] = None  # the sparse depth message nearest in stamp (raw), if a sparse topic is read


class _StampWindow:
    """Messages of one stamped stream, sorted by stamp, kept only while an image may still pair with them."""

    def __init__(self) -> None:
        self.stamps: list[int] = []
        self.messages: list[BagMessage] = []

    def add(self, stamp: int, message: BagMessage) -> None:
        position = bisect.bisect_right(self.stamps, stamp)
        self.stamps.insert(position, stamp)
        self.messages.insert(position, message)

    def reached(self, stamp: int) -> bool:
        """A message stamped at or after ``stamp`` was read: no later one can be nearer."""
        return bool(self.stamps) and self.stamps[-1] >= stamp

    def nearest(self, stamp: int, max_dt_ns: Optional[int]) -> tuple[Optional[BagMessage], Optional[int]]:
        """The message nearest ``stamp`` and its distance; (None, distance) beyond ``max_dt_ns`` (None: no limit)."""
        position = bisect.bisect_left(self.stamps, stamp)
        best = None
        for candidate in (position - 1, position):
            if 0 <= candidate < len(self.stamps):
                dt = abs(self.stamps[candidate] - stamp)
                if best is None or dt < best[1]:
                    best = (candidate, dt)
        if best is None or (max_dt_ns is not None and best[1] > max_dt_ns):
            return None, (best[1] if best else None)
        return self.messages[best[0]], best[1]

    def prune(self, oldest_stamp: int) -> None:
        """Drop messages older than ``oldest_stamp`` except the last one before it."""
        cut = bisect.bisect_left(self.stamps, oldest_stamp) - 1
        if cut > 0:
            del self.stamps[:cut]
            del self.messages[:cut]


class StampPairer:
    """Feed messages with :meth:`push`; settled frames come out of :meth:`push` and :meth:`finish`."""

    def __init__(self, image_topic: str, depth_topic: Optional[str], info_topic: Optional[str], max_dt_s: float,
                 info_decoder=None, sparse_topic: Optional[str] = None) -> None:
        if max_dt_s < 0:
            raise ValueError(f"--max-dt must be >= 0 seconds, got {max_dt_s}")
        self.image_topic, self.depth_topic, self.info_topic, self.sparse_topic = image_topic, depth_topic, info_topic, sparse_topic
        self.max_dt_ns = int(round(max_dt_s * 1e9))
        self.info_decoder = info_decoder
        self._pending: deque[tuple[int, int, BagMessage, Any, Optional[str]]] = deque()
        self._depth = _StampWindow()
        self._sparse = _StampWindow()
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
        elif message.topic in (self.depth_topic, self.sparse_topic):
            stamp, error = self._stamp(message)
            if error is None and message.topic == self.depth_topic:
                self._depth.add(stamp, message)
                self.depth_seen += 1
            elif error is None:
                self._sparse.add(stamp, message)
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
            if not final and error is None and not self._settled(stamp, message.log_time_ns):
                return  # a closer depth (or sparse depth) message may still come
            self._pending.popleft()
            depth, dt = (None, None) if error or not self.depth_topic else self._depth.nearest(stamp, self.max_dt_ns)
            sparse = None if error or not self.sparse_topic else self._sparse.nearest(stamp, None)[0]
            yield PairedFrame(index, stamp, message, depth, dt, info, error, sparse)
            oldest = self._pending[0][1] if self._pending else stamp
            self._depth.prune(oldest - self.max_dt_ns)  # keep one before: it may be the nearest
            self._sparse.prune(oldest)

    def _settled(self, stamp: int, log_time_ns: int) -> bool:
        """True once no later depth (or sparse depth) message can be nearer: one stamped at/after ``stamp``
        was read on each stream, or the recording (its own clock) has moved well past the image (a
        stopped stream)."""
        streams = [window for topic, window in ((self.depth_topic, self._depth), (self.sparse_topic, self._sparse)) if topic]
        if all(window.reached(stamp) for window in streams):
            return True
        return self._latest_log_ns > log_time_ns + self.max_dt_ns + SETTLE_SLACK_NS
