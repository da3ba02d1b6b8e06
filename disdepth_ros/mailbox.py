"""A one-slot "newest frame wins" mailbox between the ROS callback and the inference thread.

Why not a queue: when the camera is faster than the model a queue grows and every output gets
older; a one-slot mailbox keeps latency bounded by one inference. The subscription callback
only swaps a reference under a lock (never blocks on inference); a frame replaced before the
worker took it is counted as dropped.
"""

from __future__ import annotations

import threading
from typing import Generic, Optional, TypeVar

T = TypeVar("T")


class LatestMailbox(Generic[T]):
    """Holds at most one item; ``put`` replaces, ``get`` waits for one or for ``close``."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._item: Optional[T] = None
        self._has_item = False
        self._closed = False
        self.dropped = 0
        self.received = 0

    def put(self, item: T) -> bool:
        """Store ``item``; True when it replaced an unprocessed one (that one is dropped)."""
        with self._cond:
            replaced = self._has_item
            if replaced:
                self.dropped += 1
            self._item, self._has_item = item, True
            self.received += 1
            self._cond.notify()
        return replaced

    def get(self, timeout: Optional[float] = None) -> Optional[T]:
        """The newest item (emptying the slot), or None on timeout or once closed."""
        with self._cond:
            if not self._has_item and not self._closed:
                self._cond.wait(timeout)
            if not self._has_item or self._closed:
                return None
            item, self._item, self._has_item = self._item, None, False
            return item

    def close(self) -> None:
        """Wake any waiting ``get`` for shutdown; later ``get`` calls return None at once."""
        with self._cond:
            self._closed = True
            self._item, self._has_item = None, False
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed
