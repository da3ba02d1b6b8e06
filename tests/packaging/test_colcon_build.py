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


TOP_LEVEL_IGNORED = {".venv", ".venv-humble", ".git", "outputs", "runs", "data", "build", "install", "log", ".pytest_cache"}


def _copy_sources(dst: Path) -> None:
    """Copy the tree without local artefacts so the build sees what a clone has.

    Names like ``data`` are ignored only at the top level: ``disdepth_core/data`` is source.
    """
    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = {n for n in names if n == "__pycache__" or n.endswith(".egg-info")}
        if Path(folder).resolve() == REPO:
            skipped |= TOP_LEVEL_IGNORED & set(names)
        return skipped

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


def test_installed_tree_imports_node_runtime_and_data(installed):
    """The installed copy must hold every subpackage the node and tools import (not only the CLI)."""
    site = next((installed / "lib").glob("python3*/site-packages"))
    env = {**os.environ, "PYTHONPATH": str(site)}
    code = ("import disdepth_ros.depth_node, disdepth_core.runtime, disdepth_core.data.depth_dataset, "
            "disdepth_core.synthetic.render, training.trainer, disdepth_core.models.student; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=installed, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
    assert (installed / "lib" / "disdepth_ros" / "depth_node").is_file()
    assert (installed / "share" / "disdepth_ros" / "config" / "depth.yaml").is_file()
