"""Input-file checks that run before any heavy import (torch, ONNX Runtime, rclpy).

A missing, empty or folder-instead-of-file argument is the most common user mistake; checking
it first gives the one-line error in a fraction of a second instead of after torch loads, and
says the same thing in every subcommand.
"""

from __future__ import annotations

from pathlib import Path


def require_file(path: str | Path, what: str = "model file") -> Path:
    """``path`` as a Path if it is a non-empty regular file; else FileNotFoundError/ValueError naming it."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{what} {path} is a folder; give the file itself")
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    if path.stat().st_size == 0:
        raise ValueError(f"{what} {path} is empty (0 bytes): an interrupted copy or download? Copy it again")
    return path
