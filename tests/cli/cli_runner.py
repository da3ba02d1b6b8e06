"""Running table-driven CLI cases in subprocesses: one environment, one way to expand and run argv.

The error-table tests (test_cli_errors, test_output_rule, test_review_cli_fixes) each run the real
command the way a user would; this is the part they share.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def cli_env(unset: tuple[str, ...] = ("DISDEPTH_DEBUG",), **extra: str) -> dict[str, str]:
    """The environment of a CLI case: this checkout importable, one thread, no GPU, no debug tracebacks."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", **extra}
    for name in unset:
        env.pop(name, None)
    return env


def run_case(argv: list[str], tmp: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    """``argv`` with ``{tmp}`` filled in, run in ``tmp`` as ``python -m disdepth_cli ARGV`` or, when its
    first item is ``-m``, as that module (``python -m training.release ...``)."""
    argv = [arg.replace("{tmp}", str(tmp)) for arg in argv]
    command = [sys.executable, *argv] if argv[:1] == ["-m"] else [sys.executable, "-m", "disdepth_cli", *argv]
    return subprocess.run(command, capture_output=True, text=True, cwd=tmp, env=env, timeout=timeout)
