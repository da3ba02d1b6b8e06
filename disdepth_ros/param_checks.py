"""Checks of the node's parameters that need more than one value: params files, unknown names,
the depth range against the model's.

Why here and not left to rcl: rcl reports a malformed params file as a raw ``RCLError`` (with C
source locations) and silently ignores a misspelt name (``max_detph: 5.0``), so the node would
run on defaults. These checks say what is wrong and where. Pure python (yaml + difflib, no
rclpy) so ``disdepth node`` runs them before rcl sees the file and the tests run them without ROS.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Iterable, Optional

import yaml

from .parameters import SPECS

NODE_NAME = "depth_node"
# Parameters every rclpy node has (use_sim_time), newer distros' built-ins, and QoS overrides.
ROS_BUILTIN_PARAMETERS = ("use_sim_time", "start_type_description_service")
ROS_BUILTIN_PREFIXES = ("qos_overrides.",)


def is_known_parameter(name: str) -> bool:
    return name in SPECS or name in ROS_BUILTIN_PARAMETERS or name.startswith(ROS_BUILTIN_PREFIXES)


def unknown_parameter_message(name: str) -> str:
    """``unknown parameter 'max_detph' (did you mean 'max_depth'?)`` (closest valid name, if any)."""
    close = difflib.get_close_matches(name, list(SPECS), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else "see docs/ros.md for the list"
    return f"unknown parameter {name!r} ({hint})"


def unknown_parameter_problems(names: Iterable[str]) -> list[str]:
    return [unknown_parameter_message(name) for name in sorted(names) if not is_known_parameter(name)]


def depth_range_problems(min_depth: float, max_depth: float, model_min: float, model_max: float) -> list[str]:
    """Why ``min_depth``/``max_depth`` (0 = the model's own) would make every pixel invalid, if they would.

    The model can only predict depths in ``[model_min, model_max]`` (its bins head's range,
    recorded in its metadata); a range outside it gives an all-NaN image with no other sign.
    """
    problems = []
    if min_depth and model_max and min_depth >= model_max:
        problems.append(f"min_depth {min_depth:g} m is at or above the model's maximum depth {model_max:g} m (from its "
                        f"metadata): every pixel would be invalid; use a value below {model_max:g} or 0 for the model's range")
    if max_depth and model_min and max_depth <= model_min:
        problems.append(f"max_depth {max_depth:g} m is at or below the model's minimum depth {model_min:g} m (from its "
                        "metadata): every pixel would be invalid; use 0 for the model's range")
    low, high = (min_depth or model_min), (max_depth or model_max)
    if not problems and low and high and low >= high:
        problems.append(f"the depth range {low:g}..{high:g} m is empty (min_depth {min_depth:g}, max_depth {max_depth:g}, "
                        f"model range {model_min:g}..{model_max:g} m): every pixel would be invalid")
    return problems


# ---- params files --------------------------------------------------------------------------
def _key_pattern(key: str) -> re.Pattern:
    """rcl's node-name matching: ``*`` is one name token, ``**`` any number; the leading / is optional."""
    parts = []
    for token in key.strip("/").split("/"):
        parts.append(".*" if token == "**" else "[^/]+" if token == "*" else re.escape(token))
    return re.compile("/".join(parts).replace(".*/", "(?:.*/)?") + r"\Z")


def section_applies(key: str, node_fqn: str = NODE_NAME) -> bool:
    """True if a params-file section keyed ``key`` (e.g. ``/**``, ``depth_node``, ``/ns/*``) applies to the node."""
    return bool(_key_pattern(key).match(node_fqn.strip("/")))


def _flatten(node: yaml.Node, prefix: str = "") -> Iterable[tuple[str, int]]:
    """(dotted parameter name, 1-based line) of every leaf under a ``ros__parameters`` mapping."""
    for key_node, value_node in node.value:
        name = f"{prefix}{key_node.value}"
        if isinstance(value_node, yaml.MappingNode):
            yield from _flatten(value_node, name + ".")
        else:
            yield name, key_node.start_mark.line + 1


def params_file_problems(path: str | Path, node_fqn: str = NODE_NAME) -> list[str]:
    """Everything wrong with a ROS 2 params file for this node, each with its line; [] if fine."""
    path = Path(path)
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "somewhere"
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        context, context_mark = getattr(err, "context", None), getattr(err, "context_mark", None)
        if context and context_mark is not None:
            problem += f" ({context} started at line {context_mark.line + 1})"
        return [f"malformed YAML at {where}: {problem}"]
    if root is None:
        return ["the file is empty; it needs <node name or /**>: ros__parameters: <name>: <value>"]
    if not isinstance(root, yaml.MappingNode):
        return [f"line {root.start_mark.line + 1}: the top level must be a mapping '<node name or /**>: ros__parameters: ...'"]
    problems: list[str] = []
    _walk(root, [], node_fqn, problems)
    return problems


def _walk(mapping: yaml.MappingNode, names: list[str], node_fqn: str, problems: list[str]) -> None:
    """Namespaces and node names nest until ``ros__parameters``; a plain value before it is the classic mistake."""
    for key_node, value_node in mapping.value:
        key, line = str(key_node.value), key_node.start_mark.line + 1
        owner = "/".join(names) or "the top level"
        if key == "ros__parameters":
            if not names:
                problems.append(f"line {line}: 'ros__parameters' needs a node name above it, e.g. '/**:' or '{NODE_NAME}:'")
            elif not isinstance(value_node, yaml.MappingNode):
                problems.append(f"line {line}: 'ros__parameters' under '{owner}' must hold 'name: value' lines")
            elif section_applies("/".join(names), node_fqn):
                for name, name_line in _flatten(value_node):
                    if not is_known_parameter(name):
                        problems.append(f"line {name_line}: {unknown_parameter_message(name)} under '{owner}'")
        elif isinstance(value_node, yaml.MappingNode):
            _walk(value_node, [*names, key], node_fqn, problems)
        elif names:
            problems.append(f"line {line}: '{key}' sits directly under '{owner}' without the 'ros__parameters' level; "
                            f"write '{owner}:' / '  ros__parameters:' / '    {key}: ...'")
        else:
            problems.append(f"line {line}: '{key}: ...' at the top level; parameters go under "
                            f"'<node name or /**>:' / '  ros__parameters:'")


def check_params_file(path: str | Path, node_fqn: str = NODE_NAME) -> Optional[str]:
    """One line naming the file and every problem, or None when rcl and the node will accept it."""
    problems = params_file_problems(path, node_fqn)
    return f"params file {path}: " + "; ".join(problems) if problems else None


def ros_type_name(value: object) -> str:
    """The ROS parameter type of a Python value, in the words ``ros2 param`` uses."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "nothing (unset)"
    return "array"


def wrong_type_reason(name: str, value: object) -> Optional[str]:
    """``min_depth must be a double, got int 5 (write 5.0: ROS does not turn an int into a double)``
    when ``value`` has another ROS type than parameter ``name``; None when the type is right or the
    name is not the node's.

    rclpy's own refusal of a live change names the types by their enum numbers on Python 3.11
    (``Wrong parameter type, expected '3' got '2'``); the node answers with this instead."""
    spec = SPECS.get(name)
    got = ros_type_name(value)
    if spec is None or got == spec.type_name:
        return None
    hint = f" (write {float(value)!r}: ROS does not turn an int into a double)" if (spec.type_name, got) == ("double", "int") else ""
    return f"{name} must be {spec.a_type}, got {got} {value!r}{hint}"
