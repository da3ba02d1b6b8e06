"""Where the bundled demo model lives, whether run from a checkout, a pip install or colcon.

The demo model ships in ``models/demo/`` of the repository; ``setup.py`` also installs it to
``share/disdepth_ros/models/demo`` so the ROS package finds it after ``colcon build``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DEMO_MODEL_FILE = "model.pt"
DEMO_DIR_ENV = "DISDEPTH_DEMO_DIR"


def demo_dir_candidates() -> list[Path]:
    candidates = []
    if os.environ.get(DEMO_DIR_ENV):
        candidates.append(Path(os.environ[DEMO_DIR_ENV]))
    candidates.append(Path(__file__).resolve().parents[1] / "models" / "demo")
    candidates.append(Path(sys.prefix) / "share" / "disdepth_ros" / "models" / "demo")
    try:
        from ament_index_python.packages import get_package_share_directory

        candidates.append(Path(get_package_share_directory("disdepth_ros")) / "models" / "demo")
    except Exception:  # noqa: BLE001 - no ROS, or package not in the ament index
        pass
    return candidates


def find_demo_dir() -> Path:
    """The first folder holding the demo model; FileNotFoundError lists where it looked."""
    candidates = demo_dir_candidates()
    for folder in candidates:
        if (folder / DEMO_MODEL_FILE).is_file():
            return folder
    raise FileNotFoundError("demo model not found; looked in: " + ", ".join(str(c) for c in candidates)
                            + f" (set {DEMO_DIR_ENV} to its folder)")
