"""config/depth.yaml, launch/depth.launch.py, the CLI and the node's parameter table agree."""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

import pytest
import yaml

from disdepth_ros.parameters import (PARAMETERS, SPECS, defaults, parameters_markdown, parameters_yaml, validate_all,
                                     validate_value)

pytestmark = pytest.mark.torch_free  # also runs in .venv-humble (Python 3.10, numpy 1.x, no torch)

ROOT = Path(__file__).resolve().parents[2]


def test_yaml_has_every_parameter_with_its_default():
    text = (ROOT / "config" / "depth.yaml").read_text()
    data = yaml.safe_load(text)
    assert list(data) == ["/**"], "key the params by /** so they apply in any namespace"
    params = data["/**"]["ros__parameters"]
    assert params == defaults()
    for name, value in params.items():
        assert type(value) is type(SPECS[name].default), name  # 10 vs 10.0 matters to rclpy
    assert text == parameters_yaml(), "regenerate config/depth.yaml: python -m disdepth_ros.parameters --yaml"


@pytest.mark.parametrize("namespace", ["", "foo"])
def test_yaml_applies_inside_a_namespace(namespace, tmp_path):
    """rcl matches the key against the FULLY qualified node name: /** applies with namespace:=foo."""
    rclpy = pytest.importorskip("rclpy")
    from rclpy.context import Context

    from disdepth_ros.harness.node_process import unique_domain_id

    params_file = tmp_path / "depth.yaml"
    params_file.write_text(parameters_yaml().replace("max_depth: 0.0", "max_depth: 7.5"))
    context = Context()
    rclpy.init(context=context, domain_id=unique_domain_id(6),
               args=["depth_node", "--ros-args", "--params-file", str(params_file)])
    try:
        node = rclpy.create_node("depth_node", namespace=namespace, context=context)
        try:
            assert node.declare_parameter("max_depth", 0.0).value == 7.5
            assert node.declare_parameter("points_stride", 99).value == 0
        finally:
            node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)


def test_launch_file_arguments_and_parameters():
    tree = ast.parse((ROOT / "launch" / "depth.launch.py").read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    declared = {c.args[0].value for c in calls if getattr(c.func, "id", "") == "DeclareLaunchArgument"}
    assert {"model_path", "backend", "image", "camera_info", "namespace", "params_file"} <= declared
    node = next(c for c in calls if getattr(c.func, "id", "") == "Node")
    kw = {k.arg: k.value for k in node.keywords}
    assert (kw["package"].value, kw["executable"].value) == ("disdepth_ros", "depth_node")
    overrides = next(n.value for n in ast.walk(tree) if isinstance(n, ast.Assign)
                     and getattr(n.targets[0], "id", "") == "overrides" and isinstance(n.value, ast.Dict))
    names = {k.value for k in overrides.keys}
    assert names <= set(SPECS) and {"model_path", "backend"} <= names
    # Overrides are applied only when given, so a model set in the user's YAML is kept.
    assert any(isinstance(e, ast.DictComp) for e in kw["parameters"].elts)
    remapped = {pair.elts[0].value for pair in kw["remappings"].elts}
    assert remapped == {"image", "camera_info", "image/compressed", "sparse_depth"}
    assert "depth.yaml" in (ROOT / "launch" / "depth.launch.py").read_text()


def test_cli_passes_yaml_and_remaps():
    from disdepth_cli.node import ros_args

    args = argparse.Namespace(params=None, model="m.pt", backend="torch", image="/cam/img", camera_info="/cam/info")
    out = ros_args(args)
    assert out[1] == "--ros-args" and out[out.index("--params-file") + 1].endswith("config/depth.yaml")
    assert 'model_path:="m.pt"' in out and 'backend:="torch"' in out  # quoted: rcl reads -p values as YAML
    assert "image:=/cam/img" in out and "camera_info:=/cam/info" in out and "image/compressed:=/cam/img/compressed" in out


def test_validation_rules():
    assert validate_all(defaults()) == []
    assert "must be one of" in validate_value("backend", "tflite")
    assert ">= 0" in validate_value("points_stride", -1)
    assert "must be an int" in validate_value("points_stride", 1.5)
    assert validate_value("max_depth", 10) is None  # an int is fine for a double in our own checks
    assert validate_value("device", "cuda:1") is None and validate_value("device", "tpu")
    assert validate_all({**defaults(), "min_depth": 5.0, "max_depth": 2.0})
    assert validate_all({**defaults(), "input_height": 64})


def test_markdown_table_lists_everything():
    table = parameters_markdown()
    assert all(f"`{spec.name}`" in table for spec in PARAMETERS)
    docs = ROOT / "docs" / "ros.md"
    if docs.is_file():
        assert table in docs.read_text(), "regenerate docs/ros.md's table: python -m disdepth_ros.parameters --markdown"


def test_pipeline_defaults_are_the_node_defaults():
    """``bag-eval --write-bag`` writes what the node publishes with its defaults (PipelineConfig())."""
    from disdepth_core.bags.bag_evaluation import NODE_OUTPUTS, NODE_OUTPUTS_ENCODING
    from disdepth_core.pipeline import PipelineConfig

    assert PipelineConfig.from_params(defaults()) == PipelineConfig() == NODE_OUTPUTS
    assert defaults()["output_encoding"] == NODE_OUTPUTS_ENCODING
