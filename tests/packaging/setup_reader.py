"""What setup.py declares, read by running it with ``setuptools.setup`` captured (no build, no install)."""

from __future__ import annotations

import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def setup_requirements() -> tuple[list[str], dict[str, list[str]]]:
    """install_requires and extras_require of the repository's setup.py."""
    import setuptools

    captured: dict = {}
    real = setuptools.setup
    setuptools.setup = lambda **kwargs: captured.update(kwargs)
    try:
        runpy.run_path(str(ROOT / "setup.py"), run_name="__main__")
    finally:
        setuptools.setup = real
    return list(captured["install_requires"]), dict(captured["extras_require"])
