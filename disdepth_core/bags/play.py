"""``disdepth bag-play``: publish a rosbag2's messages on live ROS 2 topics with their recorded timing.

Messages are published as their recorded CDR bytes (``Publisher.publish(bytes)``, available
since Humble), so nothing is deserialised and any message type installed in the ROS 2
environment plays. Timing follows the recording clock scaled by ``rate``; ``loop`` repeats. Use
it to drive the depth node end to end from a recording (``ros2 bag play`` does the same where
the ROS 2 CLI is installed).
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import Callable, Iterable, Optional

from .reader import BagError, BagReader


def message_class(msgtype: str, topic: str):
    """The rclpy message class of ``pkg/msg/Type``; BagError when this ROS 2 install lacks it."""
    parts = msgtype.split("/")
    if len(parts) != 3:
        raise BagError(f"topic {topic!r} has message type {msgtype!r}, not of the form package/msg/Type")
    try:
        return getattr(importlib.import_module(f"{parts[0]}.{parts[1]}"), parts[2])
    except (ImportError, AttributeError):
        raise BagError(f"message type {msgtype} of topic {topic} is not installed in this ROS 2 environment; "
                       "install its package or leave the topic out with --topics") from None


def play_bag(path: str | Path, rate: float = 1.0, loop: bool = False, topics: Optional[Iterable[str]] = None,
             reliable: bool = True, domain_id: Optional[int] = None, max_loops: int = 0, delay: float = 0.0,
             on_message: Optional[Callable[[str, int], None]] = None, log: Callable[[str], None] = print) -> int:
    """Publish the bag (looping if asked); returns the number of messages published."""
    if not rate > 0:
        raise ValueError(f"--rate must be > 0, got {rate}")
    if delay < 0:
        raise ValueError(f"--delay must be >= 0 seconds, got {delay}")
    import rclpy
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

    with BagReader(path) as bag:
        wanted = list(topics) if topics else sorted(bag.topics)
        for topic in wanted:
            if topic not in bag.topics:
                raise BagError(f"topic {topic!r} is not in bag {path}; its topics: {bag.describe_topics()}")
        if not any(bag.counts.get(topic, 0) for topic in wanted):  # --loop would spin on an empty pass forever
            raise BagError(f"nothing to play: {'topic' if len(wanted) == 1 else 'topics'} {', '.join(wanted)} of bag {path} "
                           "hold no message")
        classes = {topic: message_class(bag.topics[topic], topic) for topic in wanted}
        context = rclpy.Context()
        rclpy.init(context=context, domain_id=domain_id)
        published = 0
        try:
            node = rclpy.create_node("disdepth_bag_play", context=context)
            qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, durability=DurabilityPolicy.VOLATILE,
                             reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT)
            publishers = {topic: node.create_publisher(cls, topic, qos) for topic, cls in classes.items()}
            if delay > 0:
                time.sleep(delay)  # let subscribers discover the publishers (volatile QoS keeps nothing)
            log(f"playing {path} ({bag.storage}) at {rate:g}x: " + ", ".join(f"{t} ({bag.counts.get(t, 0)})" for t in wanted))
            loops = 0
            while True:
                first_log: Optional[int] = None
                wall_start = time.monotonic()
                for message in bag.messages(wanted):
                    if first_log is None:
                        first_log = message.log_time_ns
                    due = wall_start + (message.log_time_ns - first_log) / 1e9 / rate
                    delay = due - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    publishers[message.topic].publish(bytes(message.raw))
                    published += 1
                    if on_message is not None:
                        on_message(message.topic, message.log_time_ns)
                loops += 1
                if not loop or (max_loops and loops >= max_loops) or first_log is None:  # an empty pass: stop
                    break
            node.destroy_node()
        finally:
            rclpy.shutdown(context=context)
    return published
