"""Paired ablation rows: with one seed, the supervised, kd, fam and disdepth runs start from the same student.

Without this, a difference between two rows mixes the method's effect with the luck of two
different initialisations (the teacher used to be built first and drew from the same RNG). Real
classes at tiny sizes: the trainer, the GhostNet + LG-Conv student, the Swin-nano teacher file.
"""

from __future__ import annotations

import torch

from tests.training.test_distill import distill_mapping, teacher_checkpoint  # noqa: F401 (fixture)
from training.train_config import train_config_from_dict
from training.trainer import Trainer

ROWS = ("supervised", "kd", "fam", "disdepth")


def start_of_run(root, out, teacher, row: str, seed: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The student's initial weights and the global RNG state right after the trainer is built."""
    mapping = distill_mapping(root, out, teacher, "disdepth" if row == "supervised" else row)
    mapping["seed"] = seed
    mapping["distill"]["enabled"] = row != "supervised"
    trainer = Trainer(train_config_from_dict(mapping), device="cpu", progress=False)
    return {k: v.clone() for k, v in trainer.module.student.state_dict().items()}, torch.get_rng_state()


def test_rows_of_one_seed_start_bit_identical_and_draw_the_same_randomness(synthetic_root, tmp_path, teacher_checkpoint):
    starts = {row: start_of_run(synthetic_root, tmp_path / row, teacher_checkpoint, row, seed=5) for row in ROWS}
    reference, reference_rng = starts["supervised"]
    for row, (state, rng) in starts.items():
        assert state.keys() == reference.keys(), row
        assert all(torch.equal(state[k], reference[k]) for k in reference), f"{row} starts from another student"
        # Teacher and FAM/LAM are built under fork_rng: what the run draws later is the same too.
        assert torch.equal(rng, reference_rng), row
    other, _ = start_of_run(synthetic_root, tmp_path / "seed6", teacher_checkpoint, "disdepth", seed=6)
    assert not all(torch.equal(other[k], reference[k]) for k in reference)  # the seed does change the student
