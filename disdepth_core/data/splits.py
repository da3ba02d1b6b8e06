"""Split files: the list of samples a dataset reads, kept as data rather than code.

Format (BTS / AdaBins convention), one sample a line::

    image_path depth_path focal

``depth_path`` may be ``None`` (no ground truth, e.g. KITTI Eigen test frames without
projected LiDAR). Blank lines and lines starting with ``#`` are skipped. Paths are relative to
the dataset's image / depth roots (absolute paths are kept as they are). Paths containing
whitespace are not supported, because the format is whitespace-separated.

Every error names the file and the 1-based line number, because split files are tens of
thousands of lines long and "could not convert string to float" alone is useless there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path


class SplitFileError(ValueError):
    """A malformed line in a split file; the message names the file, line number and line."""


@dataclass(frozen=True)
class SplitEntry:
    """One sample of a split file.

    ``line_no`` is kept so that errors found later (missing image, bad PNG) can still point
    at the line that referenced the file.
    """

    image: str
    depth: str | None
    focal: float
    line_no: int


def _parse_focal(text: str, path: Path, line_no: int, line: str) -> float:
    try:
        focal = float(text)
    except ValueError:
        raise SplitFileError(
            f"split file {path} line {line_no}: focal {text!r} is not a number in line {line!r}"
        ) from None
    if not math.isfinite(focal) or focal <= 0.0:
        raise SplitFileError(f"split file {path} line {line_no}: focal must be a positive finite number, got {text!r} in line {line!r}")
    return focal


def parse_split_line(line: str, path: Path | str, line_no: int, default_focal: float | None = None) -> SplitEntry | None:
    """Parse one line; returns ``None`` for blank and comment lines.

    ``default_focal`` allows two-field lines (``image depth``), used by folder datasets whose
    camera focal length comes from the config rather than from every line.
    """
    path = Path(path)
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    fields = stripped.split()
    if len(fields) == 3:
        focal = _parse_focal(fields[2], path, line_no, stripped)
    elif len(fields) == 2 and default_focal is not None:
        focal = float(default_focal)
    else:
        expected = "3 fields (image depth focal)"
        if default_focal is not None:
            expected = "2 or 3 fields (image depth [focal])"
        elif len(fields) == 2:
            expected += "; two-field lines need a focal length in the dataset config"
        raise SplitFileError(f"split file {path} line {line_no}: expected {expected}, found {len(fields)} in line {stripped!r}")
    depth: str | None = None if fields[1] == "None" else fields[1]
    return SplitEntry(image=fields[0], depth=depth, focal=focal, line_no=line_no)


def read_split_file(path: str | Path, default_focal: float | None = None) -> list[SplitEntry]:
    """Read a split file into entries, validating every line up front.

    Validating everything at construction time means a typo on line 20,000 fails before the
    first epoch rather than hours into training. Relative ``path`` is resolved against the
    current working directory. ``default_focal`` (if given, must be positive) is used for
    two-field lines.
    """
    path = Path(path)
    if default_focal is not None and not (math.isfinite(default_focal) and default_focal > 0):
        raise ValueError(f"default_focal must be positive, got {default_focal!r} (reading split file {path})")
    if not path.is_file():
        raise FileNotFoundError(f"split file not found: {path}")
    entries: list[SplitEntry] = []
    with path.open("r", encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            entry = parse_split_line(line, path, line_no, default_focal)
            if entry is not None:
                entries.append(entry)
    return entries
