"""Why a file given as input cannot be read, in one line (torch-free, imports nothing heavy).

Every command that reads a model, checkpoint or recording first checks the three things users
get wrong: a folder instead of the file, a path that does not exist, and a file of 0 bytes (an
interrupted copy). One wording for all of them, whatever exception each caller raises.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional


def input_file_problem(path: Path, what: str) -> Optional[tuple[type[Exception], str]]:
    """``(FileNotFoundError or ValueError, message)`` when ``path`` is not a non-empty regular file."""
    if path.is_dir():
        return ValueError, f"{what} {path} is a folder; give the file itself"
    if not path.is_file():
        return FileNotFoundError, f"{what} not found: {path}"
    if path.stat().st_size == 0:
        return ValueError, f"{what} {path} is empty (0 bytes): an interrupted copy or download? Copy it again"
    return None
