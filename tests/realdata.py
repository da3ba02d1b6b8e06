"""Where the real RGB-D frames live for tests (they stay outside the repository)."""

from __future__ import annotations

from pathlib import Path

from disdepth_core.data.realdata import find_realdata_root


def realdata_root() -> Path | None:
    """The ``shared/realdata`` folder next to (or above) this checkout, or None."""
    return find_realdata_root(Path(__file__).resolve().parents[1])
