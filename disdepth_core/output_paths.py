"""One rule for every file or folder a command writes: nothing it reads, nothing it made before.

Why: users name outputs next to inputs all the time (``--output X/last.pt`` beside
``--checkpoint X/last.pt``, ``--out`` equal to the image folder), and a command that writes
first and fails later leaves a half-done state behind. Every writing command therefore runs
these checks *before* it loads a model or renders a frame:

* an output that is an input of the same command is refused (same resolved path, or the same
  file through a symlink, hard link or bind mount: :func:`same_file`);
* an existing output is never replaced: the command refuses with one line saying how to
  proceed (:func:`check_output_file`, :func:`check_output_folder`), or writes beside it and
  says where (:func:`paths_beside_earlier_run`, for the demo's fixed file names);
* a path that cannot be created (a file where a folder belongs, an unwritable folder) is
  reported at start, naming the folder and the reason.

Write failures that happen anyway (a disk that fills up mid-write) are reported by
:func:`write_failure` in the same words. Imports nothing heavy (torch-free robots use it).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Optional, Union

from .entry_point import UserError

PathLike = Union[str, "os.PathLike[str]"]
# (how the command line names it, e.g. "--checkpoint"; the path, or None when not given)
Inputs = Iterable[tuple[str, Optional[PathLike]]]


class OutputPathError(UserError):
    """An output would replace an input or an earlier result, or cannot be written there."""


def same_file(a: PathLike, b: PathLike) -> bool:
    """True when ``a`` and ``b`` name one file or folder (resolved paths, or one inode when both exist)."""
    first, second = Path(a), Path(b)
    try:
        if first.resolve() == second.resolve():
            return True
    except (OSError, RuntimeError):  # a symlink loop: compare inodes below
        pass
    try:
        return os.path.samefile(first, second)
    except OSError:  # one of them does not exist (yet): different files
        return False


def input_clash(path: PathLike, inputs: Inputs) -> Optional[tuple[str, Path]]:
    """The first ``(option, input)`` that ``path`` is the same file as, or None."""
    for option, value in inputs:
        if value is not None and str(value) != "" and same_file(path, value):
            return option, Path(value)
    return None


def check_output_file(path: PathLike, option: str, inputs: Inputs = (), example: str = "model.pt",
                      create_parents: bool = True, is_folder: bool = False) -> Path:
    """``path`` as a Path if a new file can be written there; else :class:`OutputPathError`.

    Refused: an input of the command (``inputs``), a folder or a path written as one (``out/``:
    a trailing separator), unless the output is itself a new folder (``is_folder``: a rosbag2),
    anything that exists already (never replaced: "choose a new path or delete it"), a parent
    that is a file or not writable and, with ``create_parents=False``, a parent folder that
    does not exist (a typo should not quietly become a new folder).
    """
    target = Path(path)
    clash = input_clash(target, inputs)
    if clash:
        raise OutputPathError(f"{option} {target} is the same file as {clash[0]} {clash[1]}: writing it would replace "
                              "that file; choose another path")
    if target.is_dir() and not is_folder:
        raise OutputPathError(f"{option} {target} is a folder; give the file to write, e.g. {target / example}")
    if not is_folder and names_a_folder(path):  # Path() drops the slash: "newdir/" would become a FILE newdir
        raise OutputPathError(f"{option} {os.fspath(path)} ends with a path separator, so it names a folder; "
                              f"give the file to write, e.g. {target / example}")
    if target.exists() or target.is_symlink():
        raise OutputPathError(f"{option} {target} already exists; choose a new path or delete it first "
                              "(an output never replaces a file)")
    parent = target.parent
    if not create_parents and not parent.exists():
        raise OutputPathError(f"{option} folder {parent} does not exist; create it first (mkdir -p {parent})")
    check_creatable_folder(parent, option)
    return target


def names_a_folder(path: PathLike) -> bool:
    """True when ``path`` as given ends with a path separator (``out/``): the user meant a folder."""
    text = os.fspath(path)
    return isinstance(text, str) and text.endswith(tuple(sep for sep in (os.sep, os.altsep) if sep))


def check_output_folder(path: PathLike, option: str, inputs: Inputs = (), results: Sequence[str] = (),
                        what: str = "results") -> Path:
    """``path`` as a Path if it can hold this command's outputs; else :class:`OutputPathError`.

    Refused: an existing file, an input folder of the command, a folder that already holds one
    of ``results`` (the names this run would write: an earlier run's results are never
    replaced), and a path that cannot be created.
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise OutputPathError(f"{option} {folder} is an existing file; give a folder")
    clash = input_clash(folder, inputs)
    if clash:
        raise OutputPathError(f"{option} {folder} is also {clash[0]} {clash[1]}: the outputs would mix with the inputs "
                              "(and be read as inputs by the next run); give another folder")
    found = [name for name in results if (folder / name).exists() or (folder / name).is_symlink()]
    if found:
        more = f" (and {len(found) - 1} more of this run's outputs)" if len(found) > 1 else ""
        raise OutputPathError(f"{option} {folder} already holds {found[0]}{more} from an earlier run, and {what} are never "
                              f"replaced; give a new {option} folder or delete them first")
    check_creatable_folder(folder, option)
    return folder


def check_creatable_folder(folder: PathLike, option: str) -> None:
    """OutputPathError unless ``folder`` exists as a writable folder or can be created (its nearest
    existing ancestor is a writable folder)."""
    current = Path(folder)
    while not current.exists() and current != current.parent:
        if current.is_symlink():  # a dangling link: mkdir would fail on it
            raise OutputPathError(f"{option}: {current} is a broken symbolic link, not a folder")
        current = current.parent
    if not current.is_dir():
        below = "" if current == Path(folder) else f", so {folder} cannot be created"
        raise OutputPathError(f"{option}: {current} is a file, not a folder{below}")
    try:  # a real probe: permissions, a read-only mount or ACLs all answer here (os.access misses the latter as root)
        with tempfile.TemporaryFile(dir=current):
            pass
    except OSError as err:
        raise OutputPathError(f"{option}: cannot write in folder {current}: {err.strerror or err}") from None


def free_suffix(folder: PathLike, names: Sequence[str]) -> str:
    """``""`` when none of ``names`` exists in ``folder``, else the first ``-N`` (N >= 2) for which
    none of the names with that suffix (see :func:`with_suffix`) exists: a run writes beside an
    earlier run's files instead of over them."""
    folder = Path(folder)
    suffix, number = "", 1
    while any((folder / with_suffix(name, suffix)).exists() for name in names):
        number += 1
        suffix = f"-{number}"
    return suffix


def paths_beside_earlier_run(folder: PathLike, names: Sequence[str]) -> tuple[dict[str, Path], Optional[str]]:
    """This run's paths for its fixed file ``names`` in ``folder``, and a note when they moved.

    None of the names exists yet: the names themselves, no note. Otherwise every name gets the
    same ``-N`` suffix (:func:`free_suffix`), so one run's files stay together beside the earlier
    run's, and the note says where they went."""
    folder = Path(folder)
    suffix = free_suffix(folder, names)
    paths = {name: folder / with_suffix(name, suffix) for name in names}
    if not suffix:
        return paths, None
    return paths, (f"note: {folder} holds files of an earlier run ({', '.join(n for n in names if (folder / n).exists())}); "
                   f"they are kept, and this run writes {', '.join(p.name for p in paths.values())} beside them")


def with_suffix(name: str, suffix: str) -> str:
    """``demo.png`` + ``-2`` -> ``demo-2.png``; ``bag_eval`` + ``-2`` -> ``bag_eval-2``."""
    stem, dot, extension = name.partition(".")
    return f"{stem}{suffix}{dot}{extension}"


def write_failure(what: str, path: PathLike, err: BaseException) -> str:
    """One line for a write that failed: what, the folder, the reason (errno text, not a traceback)."""
    target = Path(path)
    reason = getattr(err, "strerror", None) or str(err) or type(err).__name__
    return f"cannot write {what} {target.name} in folder {target.parent}: {reason}"
