"""Readers for the real RGB-D frames in ``shared/realdata`` (each set's own depth encoding).

The frames stay outside the repository (their licences are stricter than ours); this module
only knows how to find and decode them, as documented in ``shared/realdata/README.md``.
"""

from __future__ import annotations

import os
from pathlib import Path


def find_realdata_root(start: Path | None = None) -> Path | None:
    """``$DISDEPTH_REALDATA``, else the first ``shared/realdata`` beside ``start`` or one of its parents."""
    env = os.environ.get("DISDEPTH_REALDATA")
    if env:
        return Path(env) if Path(env).is_dir() else None
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "shared" / "realdata"
        if candidate.is_dir():
            return candidate
    return None
