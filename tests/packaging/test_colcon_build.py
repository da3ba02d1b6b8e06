"""A real ``colcon build`` of the repository (an ament_python package) into a temporary workspace."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COLCON = Path(sys.executable).with_name("colcon")


def _copy_sources(dst: Path) -> None:
    """Copy only what git would ship (no .venv, outputs, caches) so the build sees a clean tree."""
    ignore = shutil.ignore_patterns(".venv", ".git", "outputs", "runs", "data", "build", "install", "log", "__pycache__", "*.egg-info", ".pytest_cache")
    shutil.copytree(REPO, dst, ignore=ignore)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    if not COLCON.exists():
        pytest.fail(f"colcon not found next to {sys.executable}; install the test extra (colcon-common-extensions)")
    ws = tmp_path_factory.mktemp("colcon_ws")
    _copy_sources(ws / "src" / "disdepth_ros")
    result = subprocess.run([str(COLCON), "build", "--event-handlers", "console_direct-"], cwd=ws, capture_output=True, text=True,
                            timeout=600, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert result.returncode == 0, f"colcon build failed:\n{result.stdout}\n{result.stderr}"
    return ws / "install" / "disdepth_ros"


def test_ament_index_and_package_xml_installed(installed):
    assert (installed / "share" / "ament_index" / "resource_index" / "packages" / "disdepth_ros").is_file()
    root = ET.parse(installed / "share" / "disdepth_ros" / "package.xml").getroot()
    assert root.get("format") == "3"
    assert root.findtext("name") == "disdepth_ros"
    assert root.find("export/build_type").text == "ament_python"
    deps = {e.text for e in root.findall("exec_depend")}
    assert {"rclpy", "sensor_msgs", "std_msgs", "diagnostic_msgs", "geometry_msgs"} <= deps


def test_launch_and_config_files_installed(installed):
    for folder, pattern in (("launch", "*.launch.py"), ("config", "*.yaml")):
        source = sorted(p.name for p in (REPO / folder).glob(pattern))
        target = sorted(p.name for p in (installed / "share" / "disdepth_ros" / folder).glob(pattern))
        assert source == target, f"{folder}: installed {target} != source {source}"


def test_executables_in_lib_package_dir_and_runnable(installed):
    exe = installed / "lib" / "disdepth_ros" / "disdepth"
    assert exe.is_file() and os.access(exe, os.X_OK)
    site = next((installed / "lib").glob("python3*/site-packages"))
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    out = subprocess.run([sys.executable, str(exe), "--help"], capture_output=True, text=True, env=env, cwd=installed, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "info" in out.stdout and "synth" in out.stdout
    # The installed copy (not the source tree) is what ran.
    probe = subprocess.run([sys.executable, "-c", "import disdepth_core, sys; print(disdepth_core.__file__)"],
                           capture_output=True, text=True, env=env, cwd=installed, timeout=60)
    assert str(site) in probe.stdout, probe.stdout + probe.stderr
