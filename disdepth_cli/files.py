"""Input-file checks that run before any heavy import (torch, ONNX Runtime, rclpy).

A missing, empty or folder-instead-of-file argument is the most common user mistake; checking
it first gives the one-line error in a fraction of a second instead of after torch loads, and
says the same thing in every subcommand.
"""

from __future__ import annotations

from pathlib import Path

from disdepth_core.input_files import input_file_problem


def require_file(path: str | Path, what: str = "model file") -> Path:
    """``path`` as a Path if it is a non-empty regular file; else FileNotFoundError/ValueError naming it."""
    path = Path(path)
    problem = input_file_problem(path, what)
    if problem is not None:
        error, message = problem
        raise error(message)
    return path
