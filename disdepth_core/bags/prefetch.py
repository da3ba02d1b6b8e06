"""Run an iterator in a thread a few items ahead of its consumer (I/O and decoding overlap compute)."""

from __future__ import annotations

import queue
import threading
from typing import Iterator, TypeVar

T = TypeVar("T")


def prefetched(source: Iterator[T], depth: int = 4) -> Iterator[T]:
    """Run ``source`` in a thread, ``depth`` frames ahead: reading and decoding (sqlite/MCAP I/O,
    JPEG decode, numpy: the GIL is released) overlap inference instead of adding to it."""
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(item: object) -> bool:
        """Queue ``item`` unless the consumer has gone; False when it has."""
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in source:
                if not put(item):
                    return
            put(done)
        except BaseException as err:  # noqa: BLE001 - re-raised in the consumer
            put(err)

    thread = threading.Thread(target=produce, name="bag-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)
