"""The depth node's parameters, declared in ONE table (name, default, description, validation).

Why one table: the node declares from it, validates start-up and live changes with it, the
docs' parameter table is generated from it (``python -m disdepth_ros.parameters --markdown``)
and the tests check ``config/depth.yaml`` and the launch file against it, so they cannot drift.
Pure python (no rclpy import) so docs and tests can use it without ROS.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Any, Callable, Optional

from disdepth_core.floor_fit import MAX_CAMERA_HEIGHT_M
from disdepth_core.runtime.loader import BACKEND_CHOICES
from disdepth_core.scale_anchor import ANCHOR_MODES, AnchorSettings

PRECISION_CHOICES = ("fp32", "fp16", "bf16")
DEVICE_CHOICES = ("auto", "cpu", "cuda")
QOS_CHOICES = ("sensor_data", "reliable")
RELOAD_NOTE = " Read-only after start (needs a model reload): restart the node to change it."


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: its default fixes the ROS type (bool, int, float or str)."""

    name: str
    default: Any
    description: str
    choices: tuple[str, ...] = ()
    minimum: Optional[float] = None
    read_only: bool = False
    check: Optional[Callable[[Any], Optional[str]]] = None

    @property
    def type_name(self) -> str:
        return {bool: "bool", int: "int", float: "double", str: "string"}[type(self.default)]

    @property
    def a_type(self) -> str:
        """``an int``, ``a double``: the type with its article, for messages."""
        return ("an " if self.type_name[0] in "aeiou" else "a ") + self.type_name


def _device_ok(value: str) -> Optional[str]:
    if value in DEVICE_CHOICES or value.startswith("cuda:"):
        return None
    return f"must be one of {', '.join(DEVICE_CHOICES)} or cuda:N"


def _camera_height_ok(value: float) -> Optional[str]:
    return None if value == 0.0 or 0.0 < value <= MAX_CAMERA_HEIGHT_M else \
        f"must be > 0 and <= {MAX_CAMERA_HEIGHT_M:g} m (the camera's height above the floor; 0 = not set)"


def _fraction_ok(value: float) -> Optional[str]:
    return None if 0.0 <= value <= 1.0 else "must be in [0, 1]"


def _angle_ok(value: float) -> Optional[str]:
    return None if 0.0 <= value < 90.0 else "must be >= 0 and < 90 degrees (0 = off)"


PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec("model_path", "", "Model file (.pt/.onnx/.engine); empty = the bundled demo model." + RELOAD_NOTE, read_only=True),
    ParamSpec("backend", "auto", "Inference backend; auto picks by the model file's extension." + RELOAD_NOTE,
              choices=BACKEND_CHOICES, read_only=True),
    ParamSpec("device", "auto", "auto, cpu, cuda or cuda:N." + RELOAD_NOTE, read_only=True, check=_device_ok),
    # Speed options of the torch backend (GPU fast path without TensorRT); other backends ignore them
    # (a TensorRT engine keeps the precision it was built with).
    ParamSpec("precision", "fp32", "Compute precision of the torch backend: fp16 needs CUDA; bf16 also runs on CPUs. "
              "Depth is always float32." + RELOAD_NOTE, choices=PRECISION_CHOICES, read_only=True),
    ParamSpec("channels_last", False, "torch backend: NHWC memory format (faster Tensor Core convolutions)." + RELOAD_NOTE,
              read_only=True),
    ParamSpec("cuda_graph", False, "torch backend: capture the forward pass as a CUDA graph per input size and replay it "
              "(several times faster at batch 1 on a GPU); falls back to eager with a log line when capture fails."
              + RELOAD_NOTE, read_only=True),
    ParamSpec("threads", 0, "CPU threads of the torch, onnxruntime and openvino backends; 0 = the backend's default (all "
              "cores). On a small computer shared with the camera driver and the consumers, fewer threads than cores "
              "trade some throughput for steadier latency." + RELOAD_NOTE, minimum=0, read_only=True),
    ParamSpec("input_height", 0, "Network input height in pixels; 0 = the model's own size." + RELOAD_NOTE, minimum=0, read_only=True),
    ParamSpec("input_width", 0, "Network input width in pixels; 0 = the model's own size." + RELOAD_NOTE, minimum=0, read_only=True),
    ParamSpec("resize_mode", "resize", "resize stretches the frame to the input size; letterbox keeps the aspect ratio and pads.",
              choices=("resize", "letterbox")),
    ParamSpec("min_depth", 0.0, "Depths at or below this (m) are invalid; 0 = the model's range.", minimum=0.0),
    ParamSpec("max_depth", 0.0, "Depths at or above this (m) are invalid; 0 = the model's range.", minimum=0.0),
    ParamSpec("output_encoding", "32FC1", "32FC1 = metres with NaN invalid (REP 118); 16UC1 = millimetres with 0 invalid.",
              choices=("32FC1", "16UC1")),
    ParamSpec("output_resolution", "camera", "camera = depth at the image's size (aligned with it); model = network size (cheaper).",
              choices=("camera", "model")),
    ParamSpec("publish_points", True, "Publish depth/points (needs camera_info)."),
    ParamSpec("points_stride", 0, "Use every Nth row and column of the depth image for the cloud (K needs no change); "
              "0 = auto: the stride that matches the network's output resolution (denser points would be interpolated, "
              "not predicted); 1 = every pixel.", minimum=0),
    ParamSpec("points_rgb", False, "Add packed rgb to the cloud (x,y,z,rgb: point_step 16) instead of x,y,z (point_step 12)."),
    ParamSpec("flying_pixel_angle", 5.0, "Cloud filter: drop points whose depth jumps towards both neighbours (along a row or "
              "column) as only a surface seen within this many degrees of the viewing ray would: the interpolated points "
              "between a foreground and a background. 0 = off.", check=_angle_ok),
    ParamSpec("max_range", 0.0, "Cloud filter: drop points farther than this from the camera centre (m, Euclidean, like "
              "Nav2's obstacle_max_range); 0 = no limit beyond max_depth.", minimum=0.0),
    ParamSpec("min_confidence", 0.3, "Cloud filter: drop points whose confidence (the model's second output, from the "
              "spread of the bins distributions around the pixel) is below this; 0 = off. Models exported without "
              "confidence ignore it (logged at start).", check=_fraction_ok),
    ParamSpec("publish_confidence", False, "Publish depth/confidence: 32FC1 confidence in [0, 1], same size and header as "
              "depth/image (computed only while someone subscribes)."),
    ParamSpec("publish_color", False, "Publish depth/image_color, a colourised rgb8 depth picture for viewing."),
    ParamSpec("input_qos", "sensor_data", "QoS of the image/camera_info subscriptions: sensor_data (best effort) or reliable. "
              "A reliable subscriber receives NOTHING from a best-effort publisher." + RELOAD_NOTE, choices=QOS_CHOICES, read_only=True),
    ParamSpec("output_qos", "sensor_data", "QoS of the depth publishers: sensor_data (best effort) or reliable." + RELOAD_NOTE,
              choices=QOS_CHOICES, read_only=True),
    ParamSpec("qos_depth", 5, "History depth of all subscriptions and publishers." + RELOAD_NOTE, minimum=1, read_only=True),
    ParamSpec("latency_budget_ms", 200.0, "Diagnostics go WARN when the end-to-end p95 latency (now - image stamp) exceeds this; "
              "0 = no check.", minimum=0.0),
    ParamSpec("focal_rescale", False, "Multiply depth by (camera fx * input scale) / train focal when camera_info and the model's "
              "train_focal are known: a monocular net reads metric depth from apparent size, so a lens unlike the training "
              "camera's biases depth by exactly that ratio. Off by default: only correct if the model was trained at one focal."),
    ParamSpec("mono16_bits", 16, "Significant bits of 16-bit input images (mono16, 16UC1, rgb16, ...): 16 = full range; 10 or "
              "12 for sensors that store 10/12-bit data in 16-bit words, so their white maps to 255 (>> bits-8) instead of "
              "nearly black (>> 8).", minimum=8, check=lambda bits: None if bits <= 16 else "must be 8..16"),
    ParamSpec("scale_anchor", "none", "Metric scale correction per frame: none; sparse_depth = median ratio to the "
              "sparse_depth topic (sensor_msgs/Image 32FC1 m or 16UC1 mm registered to the camera image, any resolution of "
              "the same aspect: a projected 2D LiDAR or ToF, an RGB-D camera); camera_height = fit the floor in the lower "
              "image part and scale it to camera_height." + RELOAD_NOTE, choices=ANCHOR_MODES, read_only=True),
    ParamSpec("camera_height", 0.0, "Camera height above the floor in metres, for scale_anchor camera_height (0 = not set).",
              check=_camera_height_ok),
    ParamSpec("scale_time_constant", 0.0, "Seconds over which the anchor's scale is smoothed (exponentially, in log scale, "
              "by image stamps); 0 = every frame uses its own estimate.", minimum=0.0),
    ParamSpec("scale_max_age", 0.5, "A sparse_depth message stamped further than this many seconds from the image is stale "
              "and not used.", check=lambda v: None if v > 0 else "must be > 0"),
    ParamSpec("scale_hold", 2.0, "Seconds the last good scale stays in use while the anchor is stale, missing or unusable "
              "(WARN on /diagnostics); after that depth is published without correction (scale 1).", minimum=0.0),
    ParamSpec("scale_min_points", 20, "Fewest consistent sparse_depth points (after outlier rejection) for a scale estimate.",
              minimum=1),
    ParamSpec("use_compressed", False, "Subscribe image/compressed (sensor_msgs/CompressedImage, JPEG/PNG) instead of image."
              + RELOAD_NOTE, read_only=True),
    ParamSpec("diagnostics_period", 1.0, "Seconds between /diagnostics messages." + RELOAD_NOTE, minimum=0.05, read_only=True),
    ParamSpec("expected_rate_hz", 0.0, "Expected camera rate; diagnostics WARN when input or output falls below half of it. "
              "0 = do not check rates.", minimum=0.0),
)

SPECS: dict[str, ParamSpec] = {spec.name: spec for spec in PARAMETERS}


def defaults() -> dict[str, Any]:
    """Every parameter's default value, by name."""
    return {spec.name: spec.default for spec in PARAMETERS}


def validate_value(name: str, value: Any) -> Optional[str]:
    """None if ``value`` is acceptable for ``name``, else a reason a user can act on."""
    spec = SPECS.get(name)
    if spec is None:
        return f"unknown parameter {name!r}"
    expected = type(spec.default)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if type(value) is not expected:
        return f"{name} must be {spec.a_type}, got {type(value).__name__} {value!r}"
    if expected is float and not math.isfinite(value):
        return f"{name} must be finite, got {value}"
    if spec.choices and value not in spec.choices:
        return f"{name} must be one of {', '.join(spec.choices)}, got {value!r}"
    if spec.minimum is not None and value < spec.minimum:
        return f"{name} must be >= {spec.minimum:g}, got {value}"
    if spec.check is not None:
        reason = spec.check(value)
        if reason:
            return f"{name} {reason}, got {value!r}"
    return None


def validate_all(values: dict[str, Any]) -> list[str]:
    """All problems of a full parameter set, including ones between parameters."""
    problems = [reason for name, value in values.items() if (reason := validate_value(name, value))]
    if problems:
        return problems
    lo, hi = values.get("min_depth", 0.0), values.get("max_depth", 0.0)
    if lo and hi and lo >= hi:
        problems.append(f"min_depth ({lo}) must be below max_depth ({hi})")
    if bool(values.get("input_height")) != bool(values.get("input_width")):
        problems.append("input_height and input_width must both be 0 (model default) or both be set")
    if values.get("scale_anchor") == "camera_height" and not values.get("camera_height"):
        problems.append(f"scale_anchor camera_height needs camera_height: the camera's height above the floor in metres "
                        f"(> 0 and <= {MAX_CAMERA_HEIGHT_M:g})")
    return problems


def anchor_settings(values: dict[str, Any]) -> AnchorSettings:
    """The scale anchor's settings from the node's parameter values (the same dataclass bag-eval fills)."""
    return AnchorSettings(mode=values.get("scale_anchor", "none"), time_constant=float(values.get("scale_time_constant", 0.0)),
                          max_age=float(values.get("scale_max_age", 0.5)), hold=float(values.get("scale_hold", 2.0)),
                          min_points=int(values.get("scale_min_points", 20)), camera_height=float(values.get("camera_height", 0.0)))


def runtime_options(values: dict[str, Any]) -> dict[str, Any]:
    """``load_runtime`` keyword options from the node's parameter values (backends ignore what they do not use)."""
    return {"precision": values.get("precision", "fp32"), "channels_last": bool(values.get("channels_last", False)),
            "cuda_graph": bool(values.get("cuda_graph", False)), "threads": int(values.get("threads", 0))}


def parameters_markdown() -> str:
    """The parameter table for docs/ros.md, generated so it always matches the node."""
    lines = ["| name | type | default | description |", "|---|---|---|---|"]
    for spec in PARAMETERS:
        default = repr(spec.default) if isinstance(spec.default, str) else str(spec.default).lower() if isinstance(spec.default, bool) else spec.default
        text = spec.description + (f" One of: {', '.join(spec.choices)}." if spec.choices else "")
        lines.append(f"| `{spec.name}` | {spec.type_name} | `{default}` | {text.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


YAML_HEADER = (
    "# Parameters of disdepth_ros depth_node (generated by: python -m disdepth_ros.parameters --yaml).\n"
    "# Use with: ros2 launch disdepth_ros depth.launch.py params_file:=this.yaml, or disdepth node --params this.yaml.\n"
    "# Keyed by /** (any node name and namespace) so it also applies with namespace:=NS or a remapped node name;\n"
    "# a depth_node: key would silently NOT apply to /NS/depth_node. Doubles need a decimal point (10.0, not 10).\n"
)


def parameters_yaml(node_name: str = "/**") -> str:
    """A commented ROS params file with every default: exactly config/depth.yaml.

    Keyed by ``/**`` by default: ROS matches the key against the node's fully qualified name,
    so a ``depth_node:`` key does not apply once the node runs in a namespace.
    """
    lines = [YAML_HEADER.rstrip("\n"), f"{node_name}:", "  ros__parameters:"]
    for spec in PARAMETERS:
        value = f'"{spec.default}"' if isinstance(spec.default, str) else str(spec.default).lower() if isinstance(spec.default, bool) else spec.default
        lines.append(f"    # {spec.description}" + (f" One of: {', '.join(spec.choices)}." if spec.choices else ""))
        lines.append(f"    {spec.name}: {value}")
    return "\n".join(lines) + "\n"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Print the depth node's parameters.")
    parser.add_argument("--markdown", action="store_true", help="a Markdown table (for docs/ros.md)")
    parser.add_argument("--yaml", action="store_true", help="a commented params file (config/depth.yaml)")
    args = parser.parse_args(argv)
    if args.yaml:
        print(parameters_yaml(), end="")
    elif args.markdown:
        print(parameters_markdown(), end="")
    else:
        for spec in PARAMETERS:
            print(f"{spec.name} ({spec.type_name}, default {spec.default!r}): {spec.description}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
