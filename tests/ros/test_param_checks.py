"""Params-file, unknown-name and depth-range checks (pure python: no rclpy needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from disdepth_ros.param_checks import (check_params_file, depth_range_problems, params_file_problems, section_applies,
                                       unknown_parameter_problems)

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return path


def test_the_shipped_params_file_passes():
    assert check_params_file(ROOT / "config" / "depth.yaml") is None


@pytest.mark.parametrize("text, expected", [
    ("depth_node:\n  ros__parameters:\n    max_detph: 5.0\n",
     "line 3: unknown parameter 'max_detph' (did you mean 'max_depth'?) under 'depth_node'"),
    ("/**:\n  ros__parameters:\n    points_strid: 2\n    mono16_bit: 12\n",
     "line 3: unknown parameter 'points_strid' (did you mean 'points_stride'?) under '/**'"),
    ("depth_node:\n  max_depth: 5.0\n", "line 2: 'max_depth' sits directly under 'depth_node' without the 'ros__parameters' level"),
    ("max_depth: 5.0\n", "line 1: 'max_depth: ...' at the top level"),
    ("depth_node:\n  ros__parameters:\n    max_depth: [5.0\n", "malformed YAML at line 4, column 1"),
    ("depth_node:\n  ros__parameters:\n\tmax_depth: 5.0\n", "malformed YAML at line 3"),
    ("", "the file is empty"),
    ("- 1\n- 2\n", "the top level must be a mapping"),
    ("ros__parameters:\n  max_depth: 5.0\n", "'ros__parameters' needs a node name above it"),
])
def test_problems_say_what_and_where(tmp_path, text, expected):
    message = check_params_file(write(tmp_path, text))
    assert message is not None and message.startswith(f"params file {tmp_path / 'params.yaml'}: ")
    assert expected in message and "\n" not in message


def test_every_unknown_key_is_listed_and_other_nodes_sections_are_left_alone(tmp_path):
    text = ("/**:\n  ros__parameters:\n    use_sim_time: true\n    qos_overrides:\n      /image:\n        subscription:\n"
            "          depth: 3\n    max_dpth: 5.0\n"
            "camera_driver:\n  ros__parameters:\n    exposure: 10\n"
            "/robot/depth_node:\n  ros__parameters:\n    min_detph: 1.0\n")
    problems = params_file_problems(write(tmp_path, text))
    assert problems == ["line 8: unknown parameter 'max_dpth' (did you mean 'max_depth'?) under '/**'"]
    # the same file for the node launched in namespace /robot: that section applies too
    problems = params_file_problems(tmp_path / "params.yaml", "robot/depth_node")
    assert len(problems) == 2 and "'min_detph' (did you mean 'min_depth'?) under '/robot/depth_node'" in problems[1]


@pytest.mark.parametrize("key, applies", [("/**", True), ("depth_node", True), ("/depth_node", True), ("/*", True),
                                          ("/**/depth_node", True), ("/ns/depth_node", False), ("camera", False)])
def test_section_matching_follows_rcl(key, applies):
    assert section_applies(key) is applies


def test_unknown_names_ignore_ros_builtins_and_suggest_the_closest():
    assert unknown_parameter_problems(["use_sim_time", "qos_overrides./image.subscription.depth", "max_depth"]) == []
    assert unknown_parameter_problems(["modle_path", "zzz"]) == [
        "unknown parameter 'modle_path' (did you mean 'model_path'?)", "unknown parameter 'zzz' (see docs/ros.md for the list)"]


def test_depth_range_against_the_models():
    assert depth_range_problems(0.0, 0.0, 0.001, 10.0) == []
    assert depth_range_problems(0.5, 8.0, 0.001, 10.0) == []
    assert "at or above the model's maximum depth 10 m" in depth_range_problems(10.0, 0.0, 0.001, 10.0)[0]
    assert "at or above the model's maximum depth 10 m" in depth_range_problems(12.0, 20.0, 0.001, 10.0)[0]
    assert "at or below the model's minimum depth 0.5 m" in depth_range_problems(0.0, 0.4, 0.5, 10.0)[0]
    assert "range 6..5 m is empty" in depth_range_problems(6.0, 5.0, 0.001, 10.0)[0]
