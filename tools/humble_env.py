"""Create or reuse ``.venv-humble``: the ROS 2 Humble / JetPack 6 Python stack, for ``make test``.

Robots run Python 3.10 with numpy 1.x (apt's, JetPack's torch and cv_bridge are built against
it). The main ``.venv`` has numpy 2, so a numpy-2-only change would pass there and fail on a
robot. This environment installs ``constraints-humble.txt`` with the *oldest* numpy it allows
(which is also ``setup.py``'s lower bound) and runs the tests marked ``torch_free`` in it; ROS
comes from the ``ros-*`` wheels pinned in ``constraints.txt`` (x86_64 only; robots use apt's).

The interpreter is Python 3.10 when one is found (``$HUMBLE_PYTHON``, ``python3.10`` on PATH, or
pyenv's 3.10); otherwise the running Python with the oldest numpy 1.x that has files for it, and
a warning. The install is redone only when an input file or the interpreter changed (stamp file).

Usage: ``python tools/humble_env.py [--venv .venv-humble]``; prints the venv's python path last.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
# The oldest numpy 1.x with wheels for each Python that the Humble pins install with (checked with
# pip's resolver: onnxruntime 1.23 needs >= 1.21.6; opencv 4.11 needs >= 1.23.5 on 3.11, >= 1.26.0 on 3.12).
OLDEST_NUMPY = {(3, 10): "1.21.6", (3, 11): "1.23.5", (3, 12): "1.26.0"}
INPUTS = ("constraints-humble.txt", "constraints.txt", "setup.py", "tools/humble_env.py")
EXTRAS = "export,ros,bags"  # what torch-free tests may need (the node, ONNX Runtime, bag files)
TEST_TOOLS = ("pytest", "pytest-timeout")


def python_version(python: str) -> Optional[tuple[int, int]]:
    """(major, minor) of an interpreter, or None when it does not run (e.g. a pyenv shim without that version)."""
    try:
        out = subprocess.run([python, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    major, minor = out.stdout.split()
    return int(major), int(minor)


def find_python310() -> Optional[str]:
    """The first working Python 3.10: $HUMBLE_PYTHON, python3.10 on PATH, then pyenv's installs."""
    candidates = [os.environ.get("HUMBLE_PYTHON", ""), shutil.which("python3.10") or ""]
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates += sorted(glob.glob(os.path.join(pyenv_root, "versions", "3.10*", "bin", "python3.10")), reverse=True)
    for python in filter(None, candidates):
        if python_version(python) == (3, 10):
            return python
    return None


def ros_pins(constraints: Path) -> str:
    """The ``ros-*`` lines of the main constraints file (the Humble set has none: robots use apt's ROS)."""
    return "".join(line for line in constraints.read_text().splitlines(keepends=True) if line.startswith("ros-"))


def fingerprint(python: str) -> str:
    digest = hashlib.sha256(python.encode())
    for name in INPUTS:
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def run(cmd: list[str]) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def build(venv: Path, base_python: str, numpy_pin: str) -> None:
    if not (venv / "bin" / "python").exists():
        run([base_python, "-m", "venv", str(venv)])
    py = str(venv / "bin" / "python")
    run([py, "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    with tempfile.NamedTemporaryFile("w", suffix="-ros-pins.txt", delete=False) as f:
        f.write(ros_pins(ROOT / "constraints.txt"))
    try:
        run([py, "-m", "pip", "install", "--quiet", "-c", "constraints-humble.txt", "-c", f.name,
             f"numpy=={numpy_pin}", "-e", f".[{EXTRAS}]", *TEST_TOOLS])
    finally:
        os.unlink(f.name)
    run([py, "-c", f"import numpy, cv2, onnxruntime, rclpy; assert numpy.__version__ == '{numpy_pin}', numpy.__version__"])


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", default=str(ROOT / ".venv-humble"), help="where to create the environment")
    args = parser.parse_args(argv)
    venv = Path(args.venv)
    base = find_python310()
    if base is None:
        base = sys.executable
        print(f"humble_env: WARNING: no Python 3.10 found (set HUMBLE_PYTHON); using {base} instead", file=sys.stderr)
    version = python_version(base)
    numpy_pin = OLDEST_NUMPY.get(version or (0, 0))
    if numpy_pin is None:
        print(f"humble_env: Python {version} has no numpy 1.x wheels; cannot build the numpy-1 environment", file=sys.stderr)
        return 2
    stamp = venv / ".disdepth-humble-installed"
    key = fingerprint(base)
    if not (stamp.exists() and stamp.read_text() == key):
        if venv.exists() and python_version(str(venv / "bin" / "python")) != version:
            shutil.rmtree(venv)
        build(venv, base, numpy_pin)
        stamp.write_text(key)
    print(venv / "bin" / "python")
    return 0


if __name__ == "__main__":
    sys.exit(main())
