"""Where ``disdepth predict`` writes each frame's files, decided and checked before any inference.

Why: outputs are named after their input (``a.png`` -> ``a_depth.png``), so ``a.png`` and
``a.jpg`` in one folder used to share one output and the second frame silently replaced the
first; and an ``--out`` equal to the input folder filled it with PNGs that the next run read
as camera images. Here every input gets a distinct name, the output folder may not be the
input folder, and files of an earlier run are never replaced (:mod:`disdepth_core.output_paths`).
"""

from __future__ import annotations

import glob
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from disdepth_core.output_paths import check_output_folder

OUTPUT_ENDINGS = ("_depth.png", "_depth_color.png", ".ply")


def frame_names(paths: Sequence[Path]) -> list[str]:
    """One distinct output name per input file: its stem, or ``stem_ext`` where stems repeat
    (``a.png``, ``a.jpg`` -> ``a_png``, ``a_jpg``), with ``_2``, ``_3`` ... for what still collides."""
    stems = Counter(path.stem for path in paths)
    names: list[str] = []
    taken: set[str] = set()
    for path in paths:
        name = path.stem if stems[path.stem] == 1 else f"{path.stem}_{path.suffix.lstrip('.').lower()}"
        candidate, number = name, 2
        while candidate in taken:
            candidate, number = f"{name}_{number}", number + 1
        taken.add(candidate)
        names.append(candidate)
    return names


def output_files(name: str) -> list[str]:
    """The files written for frame ``name`` (the PLY only with intrinsics; checked either way)."""
    return [name + ending for ending in OUTPUT_ENDINGS]


def video_outputs_present(out_dir: Path, stem: str) -> list[str]:
    """Files of an earlier run on a video named ``stem`` in ``out_dir`` (frame names are ``stem_NNNNNN``)."""
    pattern = glob.escape(stem) + "_" + "[0-9]" * 6
    return sorted(path.name for ending in OUTPUT_ENDINGS for path in out_dir.glob(pattern + ending))


def check_predict_outputs(out: str | Path, source: Path, names: Sequence[str] | None) -> Path:
    """The output folder, checked: not the input folder, no earlier output of these ``names``
    (None: a video, whose frame names follow ``source``'s stem). Raises OutputPathError."""
    out_dir = Path(out)
    inputs = [("the input folder", source)] if source.is_dir() else [("the input", source)]
    if names is None:
        results = video_outputs_present(out_dir, source.stem) if out_dir.is_dir() else []
    else:
        results = [file for name in names for file in output_files(name)]
    return check_output_folder(out_dir, "--out", inputs, results, what="depth outputs")
