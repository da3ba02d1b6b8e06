"""A training run's folder belongs to that run: a new run never replaces its checkpoints.

Why: ``best.pt`` is only ever replaced by a better epoch *of the same run* (the trainer
restores the run's best score before saving). A second, fresh run into the same ``out_dir``
would start from an infinite best score and overwrite ``best.pt`` after its first epoch, and
``last.pt`` (the only way to resume) after every one. Checked by the ``train`` command before
anything is built, so the refusal costs a fraction of a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from disdepth_core.output_paths import OutputPathError, same_file

# The checkpoints a run writes into its folder (the trainer's CHECKPOINT_NAMES); defined here,
# torch-free, so the check runs before the model and the data are built.
RUN_CHECKPOINTS = ("last.pt", "best.pt")


def refuse_to_replace_a_run(out_dir: Path, resume: Optional[str]) -> None:
    """OutputPathError when training into ``out_dir`` would replace another run's checkpoints.

    Allowed: a folder without checkpoints, and ``--resume`` of the run that folder holds (its
    ``last.pt``). Refused: a fresh start over a finished (or interrupted) run, and resuming some
    other checkpoint into it.
    """
    held = [name for name in RUN_CHECKPOINTS if (out_dir / name).is_file()]
    if not held:
        return
    if resume and same_file(resume, out_dir / "last.pt"):
        return
    files = " and ".join(held)
    if resume:
        raise OutputPathError(f"--resume {resume} would continue into log.out_dir {out_dir}, which holds another run's "
                              f"{files}; give a fresh --out-dir for it (or --resume {out_dir / 'last.pt'} to continue that run)")
    raise OutputPathError(f"log.out_dir {out_dir} already holds a run ({files}), which a new run would replace; continue it "
                          "with --resume, or give a fresh --out-dir")
