"""Building a folder once when several processes want it: a lock to take turns, one rename to publish.

The frame cache of a recording (:mod:`disdepth_core.data.frame_cache`) and the synthetic pool
(:mod:`disdepth_core.synthetic.training_pool`) are folders built in a temporary place and renamed
into place, so a reader never sees one half written. Several processes may ask for the same
folder at once (the ranks of a DDP run, two runs given one folder): :func:`build_lock` lets one
build while the others wait and then find it built; :func:`publish_folder` keeps the rename safe
even where no lock can be had.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Optional


@contextlib.contextmanager
def build_lock(root: str | Path) -> Iterator[None]:
    """Hold an exclusive lock for building the folder ``root``, so concurrent builders of it (the
    ranks of a DDP run, two runs given one folder) take turns: the first builds, the others wait
    and then find it built (check again inside the lock).

    The lock is a POSIX ``flock`` on ``.NAME.lock`` beside ``root``, removed when released (a
    waiter that wakes on a removed file takes the lock again on the current one). Where ``flock``
    is unavailable (no ``fcntl``, a filesystem without locks) no lock is held; :func:`publish_folder`
    keeps concurrent builds safe then, only not shared.
    """
    root = Path(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    path = root.with_name(f".{root.name}.lock")
    handle = _lock(path)
    try:
        yield
    finally:
        if handle is not None:
            with contextlib.suppress(OSError):
                os.unlink(path)  # before releasing: a process that opens the path later makes a new lock
            handle.close()  # releases the lock


def _lock(path: Path) -> Optional[BinaryIO]:
    """An open file holding the exclusive ``flock`` of ``path`` (waits for it), or None where
    there is no such lock (not POSIX, a filesystem without locks)."""
    try:
        import fcntl
    except ImportError:
        return None
    while True:
        handle = open(path, "ab")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            current, mine = os.stat(path), os.fstat(handle.fileno())
            if (current.st_dev, current.st_ino) == (mine.st_dev, mine.st_ino):
                return handle
        except FileNotFoundError:
            pass
        except OSError:  # no locks here: build unshared
            handle.close()
            return None
        handle.close()  # the holder before removed this file on release: lock the one there now


def publish_folder(tmp: Path, root: Path, complete: Callable[[], bool]) -> None:
    """Put the finished folder ``tmp`` in place of ``root`` (one rename: a reader never sees it half
    written). When that fails because another process published ``root`` meanwhile and
    ``complete()`` says that folder holds what was built here (the same key), it is kept and
    ``tmp`` removed; any other failure removes ``tmp`` and is raised."""
    try:
        if root.exists():
            shutil.rmtree(root)
        os.replace(tmp, root)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not complete():
            raise
