"""Fast DDS transports sized for MB-sized messages, applied to the depth node at start-up.

Measured on one host (benchmarks/bench_node_latency.py): with Fast DDS's default transports a
640x480 RGB image (921 KB), a depth image (1.2 MB) and a cloud (4.9 MB) exceed the 512 KB
shared-memory segment, travel as UDP fragments over loopback, and best-effort readers lost
99 of 100 images at 10 Hz; with ``config/fastdds_large_data.xml`` (64 MB segment, 8 MB socket
buffers) 100 of 100 arrived. The *writer's* participant decides whether a message fits in
shared memory, so the node applies the profile to itself (its outputs); camera drivers and
consumers on the same host should export the same file (docs/ros.md, "Large messages").

The profile is applied only when the RMW is Fast DDS (the ROS 2 default) and the user has not
set a profile file of their own; ``DISDEPTH_DDS_PROFILE=off`` disables it, and
``DISDEPTH_DDS_PROFILE=/path.xml`` picks another file. It must be in the environment before
``rclpy.init`` creates the DDS participant.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Mapping, Optional

PROFILE_FILE = "fastdds_large_data.xml"
PROFILE_VARS = ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE")  # Fast DDS 3.x, 2.x (Humble)

SWITCH_VAR = "DISDEPTH_DDS_PROFILE"
FAST_DDS_RMWS = ("", "rmw_fastrtps_cpp", "rmw_fastrtps_dynamic_cpp")


def profile_var(environ: Mapping[str, str]) -> str:
    """Humble's Fast DDS 2.x reads FASTRTPS_DEFAULT_PROFILES_FILE; newer ones FASTDDS_... (and warn on the old name)."""
    return PROFILE_VARS[1] if environ.get("ROS_DISTRO", "").lower() == "humble" else PROFILE_VARS[0]


def profile_candidates() -> list[Path]:
    """The source tree's config/, the pip/colcon install's share/disdepth_ros/config/, then the ament index."""
    candidates = [Path(__file__).resolve().parents[1] / "config" / PROFILE_FILE,
                  Path(sys.prefix) / "share" / "disdepth_ros" / "config" / PROFILE_FILE]
    try:
        from ament_index_python.packages import get_package_share_directory

        candidates.append(Path(get_package_share_directory("disdepth_ros")) / "config" / PROFILE_FILE)
    except Exception:  # noqa: BLE001 - no ament index (pip install) or package not registered
        pass
    return candidates


def large_data_env(environ: Mapping[str, str] = os.environ) -> tuple[dict[str, str], str]:
    """(variables to set, one-line explanation) for this environment; empty when not applicable."""
    switch = environ.get(SWITCH_VAR, "").strip()
    if switch.lower() in ("0", "off", "false", "no"):
        return {}, f"DDS profile: off ({SWITCH_VAR}={switch})"
    rmw = environ.get("RMW_IMPLEMENTATION", "").strip()
    if rmw not in FAST_DDS_RMWS:
        return {}, f"DDS profile: not applied (RMW_IMPLEMENTATION={rmw} is not Fast DDS)"
    own = [name for name in PROFILE_VARS if environ.get(name)]
    if own:
        problem = profile_problem(Path(environ[own[0]]).expanduser())
        if problem:
            return {}, (f"DDS profile: not applied: your {own[0]}={environ[own[0]]} {problem}; Fast DDS ignores it and "
                        "runs with its defaults")
        return {}, f"DDS profile: using your {own[0]}={environ[own[0]]}"
    if switch:
        path: Optional[Path] = Path(switch).expanduser()
        if not path.is_file():
            return {}, f"DDS profile: not applied: {SWITCH_VAR}={switch} does not exist; running with the DDS defaults"
    else:
        path = next((p for p in profile_candidates() if p.is_file()), None)
        if path is None:
            return {}, f"DDS profile: {PROFILE_FILE} not found; running with the DDS defaults (large messages may be lost)"
    problem = profile_problem(path)
    if problem:  # Fast DDS would log a parse error and run with its defaults: say so, do not claim it applied
        return {}, f"DDS profile: not applied: {path} {problem}; running with the DDS defaults (large messages may be lost)"
    return {profile_var(environ): str(path)}, f"DDS profile: {path} (shared memory sized for large messages)"


# The root elements Fast DDS's XML parser accepts; any other root is "Not found root tag" there.
FAST_DDS_ROOTS = ("dds", "profiles", "types", "log", "library_settings")


def profile_problem(path: Path) -> Optional[str]:
    """Why Fast DDS would not load the profile ``path`` (unreadable, not XML, a foreign root element), or None.

    Fast DDS only logs ``XMLPARSER Error`` and goes on with its defaults, so the node checks the
    file itself first and reports the truth instead of "applied"."""
    import xml.etree.ElementTree as ElementTree

    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as err:
        return f"is not valid XML ({err})"
    except OSError as err:
        return f"cannot be read ({err.strerror or err})"
    tag = root.tag.rpartition("}")[2]  # without the namespace
    if tag not in FAST_DDS_ROOTS:
        return f"is not a Fast DDS profile (root element <{tag}>, expected <dds> or <profiles>)"
    return None


def apply_large_data_profile() -> str:
    """Export the profile variables into this process (before ``rclpy.init``); returns the explanation."""
    updates, message = large_data_env()
    os.environ.update(updates)
    return message
