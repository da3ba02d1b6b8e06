"""ROS 2 node ``depth_node``: camera image (+ camera_info) -> metric depth, camera_info, cloud.

Real-time design: the image callback only validates the message cheaply and drops it into a
one-slot mailbox (:mod:`.mailbox`); a dedicated inference thread always takes the NEWEST frame,
so when the camera outruns the model frames are dropped (and counted) instead of queued, and
latency stays one inference long. Every output carries the header of the image it came from.
Works with the rclpy of Humble and newer (no newer-only APIs).
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
import threading
import time
from typing import Any, Optional

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2

from disdepth_core import image_decoding
from disdepth_core.config_parsing import ConfigError  # bad parameters or an unloadable model: exit status 2
from disdepth_core.geometry import as_intrinsics
from disdepth_core.pipeline import FramePipeline, PipelineConfig, camera_info_problem, frame_id_mismatch
from disdepth_core.visualize import colorize_depth

from . import messages
from .anchor_input import AnchorInput
from .diagnostics import OUTSIDE_INFERENCE, LatencyStats, RateMeter, build_report
from .mailbox import LatestMailbox
from .param_checks import check_params_file, depth_range_problems, unknown_parameter_problems, wrong_type_reason
from .parameters import PARAMETERS, SPECS, anchor_settings, validate_all, validate_value


def qos_profile(kind: str, depth: int) -> QoSProfile:
    """sensor_data = best effort keep-last (camera drivers' default); reliable otherwise."""
    reliability = ReliabilityPolicy.BEST_EFFORT if kind == "sensor_data" else ReliabilityPolicy.RELIABLE
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=reliability)


SIM_CLOCK_WAIT_S = 3.0


class DepthNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        # Declaring every override lets the node see names it does not know (a misspelt key in the
        # params file or a -p typo) instead of rcl ignoring them and the node running on defaults.
        kwargs.setdefault("automatically_declare_parameters_from_overrides", True)
        super().__init__("depth_node", **kwargs)
        self.values = self._declare_parameters()
        problems = validate_all(self.values)
        if problems:
            raise ConfigError("invalid parameters: " + "; ".join(problems))
        self.config = PipelineConfig.from_params(self.values)
        self.runtime, self.pipeline = self._load_model()
        self.hardware_id = str(self.runtime.describe().get("device", self.runtime.backend))  # fixed once loaded
        problems = self._depth_range_problems(self.values)
        if problems:
            self.runtime.close()
            raise ConfigError("invalid parameters: " + "; ".join(problems))
        # (K, depth size, camera_info size) of the last frame; formatted only at diagnostics time (~1 Hz)
        self.k_in_use: Optional[tuple[np.ndarray, tuple[int, ...], tuple[int, int]]] = None
        self.cloud_in_use: Optional[tuple[tuple[int, ...], int, int, int]] = None  # (points shape, stride used, asked, dropped)
        self.frame_problems: list[str] = []  # the last frame's frame_id mismatches (a WARN on /diagnostics)
        self.anchor = AnchorInput(anchor_settings(self.values))
        self.latency = LatencyStats()
        self.input_rate, self.output_rate = RateMeter(), RateMeter()
        self.mailbox: LatestMailbox = LatestMailbox()
        self.camera: Optional[tuple[np.ndarray, tuple[int, int], CameraInfo]] = None
        # Written by the executor thread (bad input), the worker (published, errors) and read and
        # reset by the diagnostics timer: every access goes through _counts_lock.
        self._counts_lock = threading.Lock()
        self.published = self.bad = self.bad_recent = self.errors_recent = 0
        self.last_error = ""
        self._closed = False
        self.started = time.monotonic()

        in_qos = qos_profile(self.values["input_qos"], self.values["qos_depth"])
        out_qos = qos_profile(self.values["output_qos"], self.values["qos_depth"])
        if self.values["use_compressed"]:
            self.create_subscription(CompressedImage, "image/compressed", self._on_image, in_qos)
        else:
            self.create_subscription(Image, "image", self._on_image, in_qos)
        self.create_subscription(CameraInfo, "camera_info", self._on_camera_info, in_qos)
        if self.anchor.mode == "sparse_depth":
            self.create_subscription(Image, "sparse_depth", self._on_sparse_depth, in_qos)
        self.depth_pub = self.create_publisher(Image, "depth/image", out_qos)
        self.info_pub = self.create_publisher(CameraInfo, "depth/camera_info", out_qos)
        self.points_pub = self.create_publisher(PointCloud2, "depth/points", out_qos)
        self.color_pub = self.create_publisher(Image, "depth/image_color", out_qos)
        self.confidence_pub = self.create_publisher(Image, "depth/confidence", out_qos)
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(self.values["diagnostics_period"], self._publish_diagnostics)
        self.add_on_set_parameters_callback(self._on_set_parameters)

        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._run_worker, name="depth_inference", daemon=True)
        self._worker.start()
        self._sim_clock_timer: Optional[threading.Timer] = None
        if self.get_parameter("use_sim_time").value:
            self._sim_clock_timer = threading.Timer(SIM_CLOCK_WAIT_S, self._warn_if_no_clock)
            self._sim_clock_timer.daemon = True
            self._sim_clock_timer.start()
        if not self.runtime.has_confidence:
            from disdepth_core.runtime.base import NO_CONFIDENCE_NOTE

            self.get_logger().info(f"model {self.runtime.path} {NO_CONFIDENCE_NOTE}")
        h, w = self.pipeline.input_hw
        anchor = f", scale anchor {self.anchor.mode}" if self.anchor.mode != "none" else ""
        self.get_logger().info(f"ready: {self.runtime.backend} {self.runtime.path} input {h}x{w}, "
                               f"listening on {'image/compressed' if self.values['use_compressed'] else 'image'}{anchor}")

    # ---- start-up -------------------------------------------------------------------------
    def _declare_parameters(self) -> dict[str, Any]:
        # Overrides were declared automatically (see __init__): anything not in our table is a typo.
        overridden = list(self.list_parameters([], 0).names)
        problems = unknown_parameter_problems(overridden)
        if problems:
            raise ConfigError("invalid parameters: " + "; ".join(problems))
        values = {}
        for spec in PARAMETERS:
            if self.has_parameter(spec.name):  # auto-declared from an override: re-declare with type and descriptor
                self.undeclare_parameter(spec.name)
            descriptor = ParameterDescriptor(description=spec.description, read_only=spec.read_only)
            try:
                values[spec.name] = self.declare_parameter(spec.name, spec.default, descriptor).value
            except Exception as err:  # rclpy: InvalidParameterTypeException etc.
                raise ConfigError(f"parameter {spec.name}: expected {spec.a_type} "
                                  f"(e.g. {spec.default!r}); {err}") from None
        return values

    def _load_model(self):
        from disdepth_core.runtime import ModelLoadError, load_runtime

        path = self.values["model_path"]
        if not path:
            from disdepth_core.bundled_models import DEMO_MODEL_FILE, find_demo_dir

            try:
                path = str(find_demo_dir() / DEMO_MODEL_FILE)
            except FileNotFoundError as err:
                raise ConfigError(f"model_path is empty and {err}") from None
        override = (self.values["input_height"], self.values["input_width"]) if self.values["input_height"] else None
        runtime = None
        stage = "load"
        try:
            from disdepth_core.export.cpu_fast_path import fast_cpu_model
            from disdepth_ros.parameters import runtime_options

            def log(line: str) -> None:
                self.get_logger().info(line)

            options = runtime_options(self.values)
            path, backend = fast_cpu_model(path, self.values["backend"], self.values["device"], options, override, log=log)
            runtime = load_runtime(path, backend=backend, device=self.values["device"], log=log, **options)
            pipeline = FramePipeline(runtime, override)
            stage = "warm up"
            runtime.warmup(input_hw=pipeline.input_hw)  # first inferences pay for lazy initialisation
        except (ModelLoadError, ValueError, RuntimeError, OSError, ImportError) as err:
            # CUDA/TensorRT/onnxruntime failures are RuntimeErrors, a missing backend an ImportError,
            # an unreadable file an OSError: all are a config problem, reported in one line.
            if runtime is not None:
                try:
                    runtime.close()
                except Exception:  # already failing: the original reason is the one to report
                    pass
            reason = " ".join(str(err).split()) or "no details"
            if len(reason) > 400:
                reason = reason[:400] + "..."
            raise ConfigError(f"cannot {stage} model {path}: {type(err).__name__}: {reason}") from None
        return runtime, pipeline

    def _depth_range_problems(self, values: dict[str, Any]) -> list[str]:
        meta = self.pipeline.metadata
        return depth_range_problems(float(values["min_depth"]), float(values["max_depth"]),
                                    float(meta.min_depth or 0.0), float(meta.max_depth or 0.0))

    def _warn_if_no_clock(self) -> None:
        """use_sim_time with nobody publishing /clock: ROS time stays 0 and ROS-time timers never fire."""
        if self._closed or self.get_clock().now().nanoseconds != 0:
            return
        self.get_logger().warning(
            f"use_sim_time is true but no /clock message arrived within {SIM_CLOCK_WAIT_S:g} s: ROS time is stopped "
            "at 0, so /diagnostics (a ROS-time timer) stays silent and latencies are meaningless until a clock "
            "publishes (e.g. ros2 bag play --clock); depth is still published per image")

    # ---- callbacks (executor thread) --------------------------------------------------------
    # Nothing may escape these callbacks: an exception raised in a callback ends rclpy.spin.
    def _on_image(self, msg) -> None:
        try:
            self.input_rate.tick()
            if isinstance(msg, Image):
                image_decoding.image_view(msg)  # cheap (no copy) validation; bad frames never take the slot
        except Exception as err:  # BadMessageError, or anything odd numpy/rclpy raise on a strange message
            self._count_bad(err)
            return
        self.mailbox.put(msg)

    def _on_camera_info(self, msg: CameraInfo) -> None:
        try:
            problem = camera_info_problem(msg)
        except Exception as err:  # a field of an unexpected type: the message is bad, the node goes on
            problem = f"{type(err).__name__}: {err}"
        if problem:
            self._count_bad(ValueError(problem), "camera_info")
            return
        self.camera = (as_intrinsics(msg.k), (int(msg.height), int(msg.width)), msg)

    def _on_sparse_depth(self, msg: Image) -> None:
        try:
            problem = self.anchor.on_sparse_depth(msg)
        except Exception as err:  # a field of an unexpected type: the message is bad, the node goes on
            problem = f"{type(err).__name__}: {err}"
        if problem:
            self.get_logger().warning(f"ignoring bad sparse_depth message: {problem}", throttle_duration_sec=5.0)

    def _count_bad(self, err: Exception, kind: str = "image") -> None:
        with self._counts_lock:
            self.bad += 1
            self.bad_recent += 1
        reason = str(err) if isinstance(err, (image_decoding.BadMessageError, ValueError)) else f"{type(err).__name__}: {err}"
        # rclpy throttles per call site: one line per kind so bad camera_info cannot hide bad images
        if kind == "camera_info":
            self.get_logger().warning(f"ignoring bad camera_info: {reason}", throttle_duration_sec=5.0)
        else:
            self.get_logger().warning(f"dropped bad image message: {reason}", throttle_duration_sec=2.0)

    def set_parameters_atomically(self, parameter_list: list) -> SetParametersResult:
        """What ``ros2 param set`` calls: rclpy's type refusal reworded to name both types (param_checks)."""
        result = super().set_parameters_atomically(parameter_list)
        if not result.successful and result.reason.startswith("Wrong parameter type"):
            reasons = [reason for param in parameter_list if (reason := wrong_type_reason(param.name, param.value))]
            result.reason = "; ".join(reasons) or result.reason
        return result

    def _on_set_parameters(self, params: list) -> SetParametersResult:
        updates = {}
        for param in params:
            spec = SPECS.get(param.name)
            if spec is None:
                continue  # e.g. use_sim_time: rclpy's business
            if spec.read_only:
                return SetParametersResult(successful=False, reason=f"{param.name} is read-only after start "
                                                                    "(it needs a model reload or new subscriptions): restart the node")
            reason = validate_value(param.name, param.value)
            if reason:
                return SetParametersResult(successful=False, reason=reason)
            updates[param.name] = param.value
        merged = {**self.values, **updates}
        problems = validate_all(merged) or self._depth_range_problems(merged)
        if problems:
            return SetParametersResult(successful=False, reason="; ".join(problems))
        self.values = merged
        self.config = PipelineConfig.from_params(merged)  # one reference swap: the worker sees old or new
        self.anchor.update_settings(anchor_settings(merged))
        return SetParametersResult(successful=True)

    # ---- inference thread ------------------------------------------------------------------
    def _run_worker(self) -> None:
        while not self._stop.is_set():
            msg = self.mailbox.get(timeout=0.2)
            if msg is None:
                continue
            try:
                self._process(msg)
            except image_decoding.BadMessageError as err:
                self._count_bad(err)
            except Exception as err:  # one bad frame must not kill the thread
                if self._stop.is_set():
                    return
                last_error = f"{type(err).__name__}: {err}"
                with self._counts_lock:
                    self.errors_recent += 1
                    self.last_error = last_error
                self.get_logger().error(f"frame failed: {last_error}", throttle_duration_sec=2.0)

    def _process(self, msg) -> None:
        cpu_start = time.thread_time()
        config, values, camera = self.config, self.values, self.camera
        want_points = config.points and self.points_pub.get_subscription_count() > 0
        want_confidence = config.confidence and self.confidence_pub.get_subscription_count() > 0
        if (want_points, want_confidence) != (config.points, config.confidence):
            config = dataclasses.replace(config, points=want_points, confidence=want_confidence)
        result = self.pipeline.process_message(msg, camera[:2] if camera else None, config, self.anchor.anchor_for(msg.header))
        if result.camera_warning:
            self.get_logger().warning(result.camera_warning, throttle_duration_sec=10.0)
        if self.anchor.mode != "none" and self.anchor.record(result.scale):
            self.get_logger().warning(f"scale anchor: {result.scale.problem}", throttle_duration_sec=5.0)
        if result.depth_K is not None:
            self.k_in_use = (result.depth_K, result.depth.shape, camera[1])
        self.frame_problems = self._frame_id_problems(msg.header.frame_id, camera)
        for problem in self.frame_problems:
            self.get_logger().warning(problem, throttle_duration_sec=10.0)
        start = time.perf_counter()
        header = msg.header
        self.depth_pub.publish(messages.depth_to_image(result.depth, header, values["output_encoding"]))
        if result.depth_K is not None:
            self.info_pub.publish(messages.camera_info_for(camera[2], result.depth_K, result.depth.shape, header))
        if result.points is not None:
            self.points_pub.publish(messages.points_to_cloud(result.points, header, config.points_rgb))
            self.cloud_in_use = (result.points.shape, result.points_stride, config.points_stride, result.points_dropped)
        if want_confidence and result.confidence is not None:
            self.confidence_pub.publish(messages.array_to_image(result.confidence, "32FC1", header))
        if values["publish_color"] and self.color_pub.get_subscription_count() > 0:
            lo, hi = self.pipeline.depth_range(config)
            self.color_pub.publish(messages.array_to_image(colorize_depth(result.depth, lo, hi), "rgb8", header))
        timings = result.timings
        timings["publish"] = time.perf_counter() - start
        # The frame's cost outside the forward pass: on the wall clock, and as this thread's CPU time
        # (the wall figure also counts waiting for a core when the camera driver and consumers share it).
        timings["outside_inference"] = sum(timings.get(stage, 0.0) for stage in OUTSIDE_INFERENCE)
        timings["outside_inference_cpu"] = time.thread_time() - cpu_start - result.inference_cpu
        stamp_ns = header.stamp.sec * 1_000_000_000 + header.stamp.nanosec
        timings["end_to_end"] = (self.get_clock().now().nanoseconds - stamp_ns) * 1e-9
        self.latency.add_many(timings)
        with self._counts_lock:
            self.published += 1
        self.output_rate.tick()

    def _frame_id_problems(self, image_frame: str, camera: Optional[tuple]) -> list[str]:
        """camera_info or sparse depth of another camera than the image (a wrong remap): WARN, not an error."""
        problems = [frame_id_mismatch(image_frame, camera[2].header.frame_id, "camera_info") if camera else None,
                    frame_id_mismatch(image_frame, self.anchor.sparse_frame_id, "sparse_depth")
                    if self.anchor.mode == "sparse_depth" else None]
        return [problem for problem in problems if problem]

    @staticmethod
    def _describe_k(K: np.ndarray, depth_hw: tuple[int, ...], info_hw: tuple[int, int]) -> str:
        source = "as received" if tuple(depth_hw[:2]) == tuple(info_hw) else "scaled"
        return (f"fx {K[0, 0]:.2f} fy {K[1, 1]:.2f} cx {K[0, 2]:.2f} cy {K[1, 2]:.2f} for the {depth_hw[1]}x{depth_hw[0]} "
                f"depth image (camera_info {info_hw[1]}x{info_hw[0]}, {source})")

    @staticmethod
    def _describe_cloud(shape: tuple[int, ...], stride: int, requested: int, dropped: int) -> str:
        how = f"stride {stride}, auto: the network's output resolution" if requested == 0 else f"stride {stride}"
        return f"{shape[1]}x{shape[0]} points ({how}), point_step {4 * shape[2]}, {dropped} dropped by the filters"

    # ---- diagnostics -----------------------------------------------------------------------
    def _take_counts(self) -> dict[str, Any]:
        """Snapshot of the counters, resetting the per-period ones, atomically."""
        with self._counts_lock:
            counts = {"published": self.published, "bad": self.bad, "bad_recent": self.bad_recent,
                      "errors_recent": self.errors_recent, "last_error": self.last_error}
            self.bad_recent = self.errors_recent = 0
        return counts

    def _publish_diagnostics(self) -> None:
        try:
            self._publish_diagnostics_once()
        except Exception as err:  # nothing may escape a callback; the next period tries again
            self.get_logger().error(f"diagnostics failed: {type(err).__name__}: {err}", throttle_duration_sec=10.0)

    def _publish_diagnostics_once(self) -> None:
        h, w = self.pipeline.input_hw
        anchor_values, anchor_warnings = self.anchor.diagnostics() if self.anchor.mode != "none" else ([], [])
        warnings = anchor_warnings + self.frame_problems
        report = build_report(
            backend=self.runtime.backend, model=self.runtime.path, input_size=f"{h}x{w}", input_rate=self.input_rate.rate(),
            output_rate=self.output_rate.rate(), received=self.input_rate.count, dropped=self.mailbox.dropped,
            have_camera_info=self.camera is not None, want_points=self.config.points,
            latency=self.latency, latency_budget_ms=self.values["latency_budget_ms"],
            expected_rate_hz=self.values["expected_rate_hz"], uptime=time.monotonic() - self.started, warnings=warnings,
            **self._take_counts())
        k_in_use = self._describe_k(*self.k_in_use) if self.k_in_use else "none yet (no valid camera_info received)"
        cloud = self._describe_cloud(*self.cloud_in_use) if self.cloud_in_use else "none published yet (needs camera_info and a subscriber)"
        status = DiagnosticStatus(level=bytes([report.level]), name=f"{self.get_name()}: depth",
                                  message=report.message, hardware_id=self.hardware_id,
                                  values=[KeyValue(key=k, value=v) for k, v in report.values]
                                  + [KeyValue(key="intrinsics in use", value=k_in_use), KeyValue(key="point cloud", value=cloud),
                                     KeyValue(key="confidence", value="yes" if self.runtime.has_confidence else "no (older export)")]
                                  + [KeyValue(key=k, value=v) for k, v in anchor_values])
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(array)

    def close(self, join_timeout: float = 10.0) -> None:
        """Stop and join the inference thread, then release the model (safe to call twice).

        If the thread is still inside an inference after ``join_timeout`` the model is NOT
        released (freeing it under a running inference can crash the process); the process is
        exiting anyway, so it is left to the OS.
        """
        if self._closed:
            return
        timer = getattr(self, "_sim_clock_timer", None)  # absent when __init__ failed before creating it
        if timer is not None:
            timer.cancel()
        self._stop.set()
        self.mailbox.close()
        if self._worker is threading.current_thread():
            self.get_logger().warning("close() called from the inference thread: model not released")
            return
        if self._worker.is_alive():
            self._worker.join(timeout=join_timeout)
        if self._worker.is_alive():
            self.get_logger().warning(f"inference thread still running after {join_timeout:g} s: "
                                      "not releasing the model under it")
            return
        self._closed = True
        self.runtime.close()


def params_files_in(argv: list[str]) -> list[str]:
    """The ``--params-file FILE`` arguments of a ROS command line (what launch files pass)."""
    return [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "--params-file"]


def node_fqn_in(argv: list[str]) -> str:
    """The node's name as rcl will resolve it, from ``__ns:=``/``__node:=`` remappings (defaults otherwise)."""
    namespace, name = "", "depth_node"
    for arg in argv:
        if arg.startswith("__ns:="):
            namespace = arg.split(":=", 1)[1].strip("/")
        elif arg.startswith("__node:=") or arg.startswith("depth_node:__node:="):
            name = arg.split(":=", 1)[1]
    return f"{namespace}/{name}" if namespace else name


def _rcl_reason(err: Exception) -> str:
    """An RCLError's message without rcl's C source locations (``, at /src/parse.c:800``)."""
    return re.sub(r",? at \S+\.c:\d+", "", " ".join(str(err).split()))


def main(args: Optional[list[str]] = None) -> int:
    """Entry point of ``ros2 run disdepth_ros depth_node`` and ``disdepth node``."""
    argv = list(sys.argv if args is None else args)
    logger = rclpy.logging.get_logger("depth_node")
    for path in params_files_in(argv):  # before rcl: its own parse errors are raw RCLErrors
        problem = check_params_file(path, node_fqn_in(argv)) if os.path.isfile(path) else f"params file not found: {path}"
        if problem:
            logger.error(problem)
            return 2
    from .dds_profile import apply_large_data_profile

    dds_message = apply_large_data_profile()  # before rclpy.init creates the DDS participant
    from disdepth_core.malloc_tuning import retain_freed_memory

    malloc_message = retain_freed_memory()  # before the model and the DDS buffers are allocated
    try:
        rclpy.init(args=args)
    except Exception as err:  # RCLError: malformed --ros-args the pre-check cannot know about
        if type(err).__name__ != "RCLError":
            raise
        logger.error(f"ROS rejected the command-line arguments: {_rcl_reason(err)}")
        return 2
    node = None
    code = 0
    try:
        node = DepthNode()
        node.get_logger().info(dds_message)
        node.get_logger().info(malloc_message)
        rclpy.spin(node)
    except ConfigError as err:
        rclpy.logging.get_logger("depth_node").error(str(err))
        code = 2
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.close()
            node.destroy_node()
        rclpy.try_shutdown()
    return code


if __name__ == "__main__":
    sys.exit(main())
