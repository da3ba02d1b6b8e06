"""pip's real resolver, against PyPI, for the Python 3.10 installs the README and docs/jetson.md give.

- ``constraints-humble.txt`` (ROS 2 Humble / JetPack 6) resolves on x86_64 and aarch64 with
  numpy 1.x, to exactly its pins, and brings no torch or tensorrt (JetPack's are kept).
- ``constraints.txt`` (the ``make`` route) resolves ``.[all,test]`` on Python 3.10 (x86_64: the
  ROS wheels on PyPI are x86_64 only).

pip evaluates environment markers (``python_version``) with the interpreter it runs in, not with
``--python-version``, so these run only under a real Python 3.10: ``make test`` runs them in
``.venv-humble``. ``--platform`` does select aarch64 wheels, but markers on ``platform_machine``
are still read from this machine (none of our pins has one). Needs the network (PyPI).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.packaging.setup_reader import setup_requirements

pytestmark = [
    pytest.mark.torch_free,
    pytest.mark.skipif(sys.version_info[:2] != (3, 10),
                       reason="needs a Python 3.10 interpreter (runs in make test's .venv-humble pass)"),
]

ROOT = Path(__file__).resolve().parents[2]


def exact_pins(constraints: Path) -> dict[str, str]:
    """``name -> version`` for the ``==`` lines whose marker holds here."""
    pins = {}
    for line in constraints.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        specs = list(req.specifier)
        if (req.marker is None or req.marker.evaluate()) and len(specs) == 1 and specs[0].operator == "==":
            pins[canonicalize_name(req.name)] = specs[0].version
    return pins


class Resolution:
    """One ``pip install --dry-run --report`` started in the background (pip is network-latency
    bound: the four resolutions run side by side in ~60 s instead of ~105 s one after another)."""

    def __init__(self, folder: Path, constraints: str, requirements: list[str], pip_args: list[str]) -> None:
        folder.mkdir(parents=True)
        self.report = folder / "report.json"
        self.cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--report", str(self.report),
                    "--target", str(folder / "target"), "-c", str(ROOT / constraints), *pip_args, *requirements]
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)

    def versions(self) -> dict[str, str]:
        """``name -> version`` of everything pip would install; fails with pip's error."""
        _, err = self.proc.communicate(timeout=600)
        assert self.proc.returncode == 0, f"{' '.join(self.cmd)}\n{err[-4000:]}"
        items = json.loads(self.report.read_text())["install"]
        return {canonicalize_name(i["metadata"]["name"]): i["metadata"]["version"] for i in items}


def humble_platform_args(arch: str) -> list[str]:
    return ["--only-binary=:all:"] + [f"--platform={tag}_{arch}" for tag in ("manylinux2014", "manylinux_2_28", "manylinux_2_35")]


# torch's own tree (the CUDA wheels, ~1 GB that pip reads for their metadata) is checked for
# files only (--no-deps), which saves a minute; everything else resolves fully.
TORCH_TREE = {"torch", "torchvision", "timm"}


@pytest.fixture(scope="module")
def resolutions(tmp_path_factory) -> Iterator[dict[str, Resolution]]:
    core, extras = setup_requirements()
    folder = tmp_path_factory.mktemp("resolve")
    humble = core + extras["export"] + extras["bags"]
    make = core + extras["all"] + extras["test"]
    in_torch_tree = [r for r in make if canonicalize_name(Requirement(r).name) in TORCH_TREE]
    assert len(in_torch_tree) == len(TORCH_TREE), in_torch_tree
    started = {
        "humble-x86_64": Resolution(folder / "hx", "constraints-humble.txt", humble, humble_platform_args("x86_64")),
        "humble-aarch64": Resolution(folder / "ha", "constraints-humble.txt", humble, humble_platform_args("aarch64")),
        "make": Resolution(folder / "m", "constraints.txt", [r for r in make if r not in in_torch_tree], []),
        "make-torch": Resolution(folder / "mt", "constraints.txt", in_torch_tree, ["--no-deps"]),
    }
    yield started
    for resolution in started.values():  # a deselected or failed test leaves no pip running
        if resolution.proc.poll() is None:
            resolution.proc.kill()
            resolution.proc.wait()


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_humble_constraints_resolve_with_numpy1(resolutions, arch):
    versions = resolutions[f"humble-{arch}"].versions()
    print(f"\nconstraints-humble.txt, Python 3.10, {arch}: " + " ".join(f"{k}=={v}" for k, v in sorted(versions.items())))
    assert versions["numpy"].startswith("1."), versions["numpy"]
    for name, pinned in exact_pins(ROOT / "constraints-humble.txt").items():
        if name in versions:
            assert versions[name] == pinned, (name, versions[name], pinned)
    assert {"opencv-python-headless", "onnxruntime", "onnx", "pyyaml", "tqdm"} <= set(versions)
    assert not {"torch", "torchvision", "tensorrt"} & set(versions), "JetPack's torch/TensorRT must be left alone"


def test_make_route_constraints_resolve_on_python310(resolutions):
    versions = resolutions["make"].versions()
    versions.update(resolutions["make-torch"].versions())
    print("\nconstraints.txt ([all,test]), Python 3.10, x86_64: " + " ".join(f"{k}=={v}" for k, v in sorted(versions.items())))
    pins = exact_pins(ROOT / "constraints.txt")
    assert pins["numpy"] == versions["numpy"] and pins["onnxruntime"] == versions["onnxruntime"], "3.10 markers not applied"
    for name, pinned in pins.items():
        if name in versions:
            assert versions[name] == pinned, (name, versions[name], pinned)
