"""package.xml is valid format 3 and declares what the code needs, so ``rosdep install`` gives a
colcon user apt's builds (numpy 1.x on Humble) instead of pip pulling numpy 2.

Validation is catkin_pkg's REP 149 parser (what colcon and rosdep read it with; the XSD at
download.ros.org cannot be fetched here). The declared keys are checked against the code: every
ROS package imported by the node or the launch file, and every ``install_requires`` entry.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.packaging.setup_reader import setup_requirements

catkin_package = pytest.importorskip("catkin_pkg.package")

ROOT = Path(__file__).resolve().parents[2]
# pip distribution -> rosdep key (ros/rosdistro rosdep/python.yaml; apt python3-* on Ubuntu).
ROSDEP_KEY = {"numpy": "python3-numpy", "opencv-python-headless": "python3-opencv", "pyyaml": "python3-yaml", "tqdm": "python3-tqdm"}
# Top-level imports that are ROS packages (the rest is stdlib, our own code or setup.py's deps).
ROS_MODULE_SUFFIXES = ("_msgs", "_interfaces")
ROS_MODULES = {"rclpy", "launch", "launch_ros", "ament_index_python"}


def parsed():
    warnings: list[str] = []
    package = catkin_package.parse_package(str(ROOT / "package.xml"), warnings=warnings)
    return package, warnings


def imported_ros_packages() -> set[str]:
    found = set()
    for path in [*(ROOT / "disdepth_ros").glob("*.py"), *(ROOT / "launch").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in ROS_MODULES or top.endswith(ROS_MODULE_SUFFIXES):
                    found.add(top)
    return found


def test_format3_without_warnings():
    package, warnings = parsed()
    assert package.package_format == 3 and package.name == "disdepth_ros"
    assert warnings == []
    package.validate()  # raises InvalidPackage (name, version, maintainer, license, build type rules)


def test_every_imported_ros_package_is_an_exec_depend():
    package, _ = parsed()
    declared = {d.name for d in package.exec_depends}
    imported = imported_ros_packages()
    assert {"rclpy", "sensor_msgs", "diagnostic_msgs", "launch_ros"} <= imported  # the scan sees the real imports
    assert imported <= declared, f"add to package.xml: {sorted(imported - declared)}"


def test_install_requires_have_rosdep_keys():
    install_requires, _ = setup_requirements()
    names = {Requirement(r).name.lower() for r in install_requires}
    assert names <= set(ROSDEP_KEY), f"map the new dependency to its rosdep key: {sorted(names - set(ROSDEP_KEY))}"
    package, _ = parsed()
    declared = {d.name for d in package.exec_depends}
    assert {ROSDEP_KEY[n] for n in names} <= declared
