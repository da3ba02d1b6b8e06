"""A camera and a consumer for a running ``depth_node``: publish frames, record every output.

Runs in its own rclpy context on the node's domain (see :mod:`.node_process`), so a test, the
demo or a benchmark can feed the real node and inspect exactly what it published.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Optional

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.srv import SetParameters
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2
from std_msgs.msg import Header

from disdepth_core.message_layout import camera_info_layout

from .. import messages
from ..depth_node import qos_profile
from .node_process import LOCALHOST_ENV


class CameraClient:
    """A camera + consumer in its own rclpy context: publishes frames, records every output."""

    def __init__(self, domain_id: int, input_qos: str = "sensor_data", output_qos: str = "sensor_data", depth: int = 5,
                 compressed: bool = False, image_topic: str = "image", info_topic: str = "camera_info",
                 record_confidence: bool = False) -> None:
        for key, value in LOCALHOST_ENV.items():
            os.environ.setdefault(key, value)
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node("camera_client", context=self.context)
        in_qos, out_qos = qos_profile(input_qos, depth), qos_profile(output_qos, depth)
        self.image_pub = self.node.create_publisher(CompressedImage if compressed else Image,
                                                    image_topic + ("/compressed" if compressed else ""), in_qos)
        self.info_pub = self.node.create_publisher(CameraInfo, info_topic, in_qos)
        self.received: dict[str, list[tuple[float, Any]]] = {
            k: [] for k in ("depth", "info", "points", "color", "confidence", "diagnostics")}
        outputs = [("depth", Image, "depth/image"), ("info", CameraInfo, "depth/camera_info"), ("points", PointCloud2, "depth/points"),
                   ("color", Image, "depth/image_color")]
        if record_confidence:  # the node computes confidence only while someone subscribes
            outputs.append(("confidence", Image, "depth/confidence"))
        for key, msg_type, topic in outputs:
            self.node.create_subscription(msg_type, topic, self._recorder(key), out_qos)
        self._in_qos = in_qos
        self.sparse_pub: Any = None
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._recorder("diagnostics"), 10)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def _recorder(self, key: str) -> Callable[[Any], None]:
        return lambda msg: self.received[key].append((time.time(), msg))  # wall clock, like stamps

    def spin_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            self.executor.spin_once(timeout_sec=0.02)
        return predicate()

    def spin_for(self, seconds: float) -> None:
        self.spin_until(lambda: False, seconds)

    def wait_for_node(self, timeout: float = 60.0) -> bool:
        """Until the node's subscription matched our image publisher and its depth publisher exists."""
        return self.spin_until(lambda: self.image_pub.get_subscription_count() > 0
                               and self.node.count_publishers("depth/image") > 0, timeout)

    def stamp_now(self):
        return self.node.get_clock().now().to_msg()

    def publish(self, rgb: np.ndarray, K: Optional[np.ndarray], frame_id: str = "camera_optical_frame",
                encoding: str = "rgb8", stamp=None, jpeg: bool = False, info_frame_id: Optional[str] = None):
        """Publish one frame (and camera_info if K is given) with one shared header; returns it.

        ``info_frame_id`` stamps the camera_info in another frame (a camera_info of another camera)."""
        import cv2

        if jpeg:
            msg = CompressedImage(format="jpeg", data=messages.to_byte_array(cv2.imencode(".jpg", rgb[..., ::-1])[1]))
        else:
            pixels = {"rgb8": rgb, "bgr8": rgb[..., ::-1], "mono8": rgb[..., 0]}[encoding]
            msg = messages.array_to_image(pixels, encoding)
        msg.header.stamp = stamp or self.stamp_now()
        msg.header.frame_id = frame_id
        if K is not None:  # the same pinhole camera_info the synthetic bags carry
            header = msg.header
            if info_frame_id is not None:  # a header of its own: the image's keeps its frame
                header = Header(stamp=msg.header.stamp, frame_id=info_frame_id)
            info = messages.camera_info_message(camera_info_layout(K, rgb.shape[:2]), header)
            self.info_pub.publish(info)
        self.image_pub.publish(msg)
        return msg.header

    def publish_sparse(self, depth: np.ndarray, stamp, encoding: str = "16UC1", frame_id: str = "camera_optical_frame") -> None:
        """Publish sparse depth on ``sparse_depth`` (metres in; 16UC1 sends millimetres, 32FC1 metres with NaN)."""
        from disdepth_core.geometry import depth_to_millimetres

        if self.sparse_pub is None:
            self.sparse_pub = self.node.create_publisher(Image, "sparse_depth", self._in_qos)
            # A new publisher's first message is lost until discovery matches it with the node's subscription.
            self.spin_until(lambda: self.sparse_pub.get_subscription_count() > 0, 10.0)
        pixels = depth_to_millimetres(depth) if encoding == "16UC1" else np.asarray(depth, dtype=np.float32)
        msg = messages.array_to_image(pixels, encoding)
        msg.header.stamp = stamp
        msg.header.frame_id = frame_id
        self.sparse_pub.publish(msg)

    def publish_until(self, predicate: Callable[[], bool], rgb: np.ndarray, K: Optional[np.ndarray], timeout: float = 30.0,
                      period: float = 0.25, **kwargs: Any) -> bool:
        """Re-publish a frame every ``period`` s until ``predicate`` holds (discovery takes a moment)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.publish(rgb, K, **kwargs)
            if self.spin_until(predicate, min(period, max(0.0, deadline - time.monotonic()))):
                return True
        return predicate()

    def diagnostics(self) -> dict[str, str]:
        """Key/values (plus 'level' and 'message') of the newest depth_node status."""
        for _, array in reversed(self.received["diagnostics"]):
            for status in array.status:
                if "depth_node" in status.name:
                    return {"level": str(status.level[0] if isinstance(status.level, bytes) else status.level),
                            "message": status.message, **{kv.key: kv.value for kv in status.values}}
        return {}

    def set_parameters(self, values: dict[str, Any], node_name: str = "depth_node", timeout: float = 10.0) -> list:
        """Call ``/<node>/set_parameters``; returns the SetParametersResult list (empty on timeout)."""
        client = self.node.create_client(SetParameters, f"/{node_name}/set_parameters")
        try:
            if not self.spin_until(client.service_is_ready, timeout):
                return []
            request = SetParameters.Request(parameters=[Parameter(k, value=v).to_parameter_msg() for k, v in values.items()])
            future = client.call_async(request)
            self.spin_until(future.done, timeout)
            return list(future.result().results) if future.done() else []
        finally:
            self.node.destroy_client(client)

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


__all__ = ["CameraClient", "ParameterMsg"]
