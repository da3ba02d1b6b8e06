"""``-p name:=value`` command-line parameters that rcl reads back exactly as given.

Why: rcl parses the text after ``:=`` as YAML, so an unquoted model path is cut at `` #``
(a comment), turned into a mapping by ``: ``, into a list by ``[...]``, or into an integer
when it is all digits, and the node cannot start on a file that exists. Strings are therefore
written as YAML double-quoted scalars (JSON string syntax, which YAML shares; tested against
rcl with spaces, ``#``, ``:``, brackets, quotes, backslashes, newlines and non-ASCII text);
other types in the form rcl types them. Used by ``disdepth node`` and the node harness alike.
Pure Python (no rclpy).
"""

from __future__ import annotations

import json
import math
from typing import Any


def yaml_value(value: Any) -> str:
    """``value`` as the YAML text rcl parses back to the same ROS parameter value and type."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)  # always with a '.' or an exponent: stays a double
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(yaml_value(item) for item in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def param_override(name: str, value: Any) -> str:
    """The argument after ``-p``: ``name:=<value as YAML>``."""
    return f"{name}:={yaml_value(value)}"
