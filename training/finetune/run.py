"""One fine-tuning run: check everything, cache the frames, train, release, judge, report.

Order matters for the user: every input problem (output folder, model, recordings, device) is
found before the first frame is decoded; frame decoding and any too-few-frames verdict come
before the first training step; the released ``DIR/model.pt`` is what the held-out frames are
measured with. ``DIR/config.yaml`` is the complete training config (``python -m training.train
--config DIR/config.yaml`` trains the same run); Ctrl-C leaves ``DIR/last.pt`` and the same
command with ``--resume`` continues at that exact step.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Optional

import yaml

from disdepth_core.output_paths import check_creatable_folder, check_output_folder

from .recipe import DataSpec, Recipe, finetune_config
from .start_model import StartModel, check_start_model

CONFIG_NAME, CHECKPOINT_NAME, MODEL_NAME = "config.yaml", "last.pt", "model.pt"
# Keys that --minutes may set differently between a run and its --resume (they are read back).
BUDGET_KEYS = ("optim.max_iters_per_epoch", "data.recording.samples_per_epoch")
OUT_KEYS = ("data.data_root", "log.out_dir")  # where the run folder is: a resumed run takes them from today's --out


class FinetuneError(ValueError):
    """A problem with the command's input; one line, exit status 2."""


@dataclass(frozen=True)
class FinetuneRequest:
    """What the command line asked for."""

    sources: list[str]
    model: str
    out: str
    data: DataSpec
    iterations: Optional[int] = None
    minutes: Optional[float] = None
    synthetic_mix: float = 0.0
    resume: bool = False
    device: str = "auto"
    seed: int = 0
    samples: int = 6
    keep_cache: bool = False
    progress: bool = True


def run_finetune(request: FinetuneRequest, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Do the whole run; returns the content of ``DIR/metrics.json``."""
    out = Path(request.out)
    check_out_dir(out, [Path(s) for s in request.sources] + [Path(request.model)], request.resume)
    start = check_start_model(request.model)
    check_device(request.device)
    check_recordings(request.data, log)
    recipe = Recipe(iterations=request.iterations or Recipe.iterations, synthetic_mix=request.synthetic_mix)
    mapping = finetune_config(start, request.data, recipe, out, request.seed)
    if request.resume:
        mapping = resumed_config(out, mapping, budget_may_differ=request.minutes is not None)
    else:
        out.mkdir(parents=True)
    cfg = parse_config(mapping)
    from disdepth_core.data.bag_dataset import ensure_frame_cache

    try:
        cache = ensure_frame_cache(cfg.data, request.progress, log, describe=False)  # check_recordings described them
        log(describe_split(cache))
        if request.minutes is not None and not request.resume:
            iterations = iterations_for_minutes(cfg, request.minutes, request.device, log)
            mapping = finetune_config(start, request.data, replace(recipe, iterations=iterations), out, request.seed)
            cfg = parse_config(mapping)
        (out / CONFIG_NAME).write_text(yaml.safe_dump(mapping, sort_keys=False))
    except BaseException:
        if not request.resume:  # nothing was trained: leave no folder behind that a retry would trip over
            shutil.rmtree(out, ignore_errors=True)
        raise
    trainer, wall = train(cfg, out, request)
    release(trainer, out / MODEL_NAME, start)
    from disdepth_core.data.bag_dataset import recording_options

    from .heldout import evaluate_heldout
    from .report import write_finetune_report

    labels = [(f"before: {start.path.parent.name}/{start.path.name}", str(start.path)), ("after: fine-tuned", str(out / MODEL_NAME))]
    held = evaluate_heldout(cache, recording_options(cfg.data), labels, request.samples, request.progress, log)
    info = run_info(request, start, cfg, cache, trainer, wall, out)
    paths = write_finetune_report(out, held, info)
    metrics = json_load(paths["metrics"])
    if not request.keep_cache:
        shutil.rmtree(out / "cache", ignore_errors=True)
        (out / CHECKPOINT_NAME).unlink(missing_ok=True)
    log(final_summary(metrics, out))
    return metrics


# ---------------------------------------------------------------- checks (before any work)
def check_out_dir(out: Path, inputs: list[Path], resume: bool) -> None:
    """A new, writable ``--out`` (or, with ``--resume``, the folder of an unfinished run), never an input.

    The project's output rule (:mod:`disdepth_core.output_paths`), plus one of this command's own:
    ``--out`` may not lie inside an input folder or hold one (the next run would read the cache,
    checkpoints and report as recordings, or write into a recording).
    """
    resolved = out.resolve()
    for item in inputs:
        item = item.resolve()
        if item in resolved.parents or resolved in item.parents:
            raise FinetuneError(f"--out {out} would write into (or over) the input {item}; choose a folder outside the inputs")
    if resume:
        if not (out / CONFIG_NAME).is_file():
            raise FinetuneError(f"--resume: {out} holds no fine-tuning run ({CONFIG_NAME} is missing); start without --resume")
        if (out / MODEL_NAME).is_file() and not (out / CHECKPOINT_NAME).is_file():
            raise FinetuneError(f"--resume: the run in {out} has finished ({MODEL_NAME} is there); choose a new --out")
        check_creatable_folder(out, "--out")
        return
    if out.exists():
        raise FinetuneError(f"--out {out} already exists; choose a new folder (or add --resume to continue the run in it)")
    check_output_folder(out, "--out", inputs=[("the input", item) for item in inputs])


def check_device(device: str) -> None:
    from training.distributed import resolve_device

    resolve_device(device)  # ValueError with one line for an unavailable device


def check_recordings(data: DataSpec, log: Callable[[str], None]) -> None:
    """Open every recording (their checks run on open) and make sure they come from one camera."""
    from disdepth_core.data.frame_cache import check_one_camera
    from disdepth_core.data.recordings import RecordingOptions, open_recording

    if data.val_fraction <= 0:
        raise FinetuneError("--val-fraction must be above 0: the held-out frames are how the result is judged")
    options = RecordingOptions(data.image_topic, data.depth_topic, data.camera_info_topic, data.max_dt, data.intrinsics,
                               data.depth_scale or None)
    recordings = []
    try:
        for source in data.sources:
            recordings.append(open_recording(source, options))
        check_one_camera(recordings)
        for recording in recordings:
            log(f"[finetune] {recording.info.describe()}")
    finally:
        for recording in recordings:
            recording.close()


def resumed_config(out: Path, mapping: dict[str, Any], budget_may_differ: bool) -> dict[str, Any]:
    """The run's saved config, after checking the command line asks for the same run."""
    saved = yaml.safe_load((out / CONFIG_NAME).read_text())
    now, before = _flatten(mapping), _flatten(saved)
    differ = [key for key in sorted(set(now) | set(before)) if now.get(key) != before.get(key)
              and key not in OUT_KEYS and not (budget_may_differ and key in BUDGET_KEYS)]
    if differ:
        key = differ[0]
        raise FinetuneError(f"--resume: the run in {out} was started with other arguments ({key}: {before.get(key)!r} there, "
                            f"{now.get(key)!r} now{f'; {len(differ) - 1} more' if len(differ) > 1 else ''}); repeat its command")
    # The folder itself: where it is now, however --out was spelled then (relative, moved, linked).
    saved["data"]["data_root"], saved["log"]["out_dir"] = mapping["data"]["data_root"], mapping["log"]["out_dir"]
    return saved



def _flatten(mapping: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def parse_config(mapping: dict[str, Any]):
    from training.train_config import train_config_from_dict

    return train_config_from_dict(yaml.safe_load(yaml.safe_dump(mapping)))  # a deep copy the loader may keep


# ---------------------------------------------------------------- the work
def describe_split(cache) -> str:
    from collections import Counter

    from disdepth_core.data.frame_cache import GAP, HELDOUT, TRAIN

    labels = Counter(frame["split"] for frame in cache.frames)
    skipped = {reason: count for per_source in cache.manifest["skipped"].values() for reason, count in per_source.items()}
    text = (f"[finetune] {len(cache.frames)} RGB-D frames cached at {cache.size_hw[1]}x{cache.size_hw[0]}: {labels[TRAIN]} to train on, "
            f"{labels[HELDOUT]} held out (the last {100 * cache.manifest['val_fraction']:.0f} % of each recording), "
            f"{labels[GAP]} between them left out")
    if skipped:
        text += "; skipped " + ", ".join(f"{count} ({reason})" for reason, count in sorted(skipped.items(), key=lambda kv: -kv[1]))
    for source, error in cache.manifest.get("read_errors", {}).items():
        text += f"\nwarning: {source} stopped early: {error}"
    return text


def iterations_for_minutes(cfg, minutes: float, device: str, log: Callable[[str], None]) -> int:
    """Iterations that fit ``minutes`` on this machine, from three timed training steps."""
    from .budget import seconds_per_step

    per_step = seconds_per_step(cfg, device)
    iterations = max(10, int(minutes * 60.0 * 0.9 / per_step))  # 10 % left for releasing and the report
    log(f"[finetune] --minutes {minutes:g}: {per_step:.2f} s per step here -> {iterations} iterations")
    return iterations


def train(cfg, out: Path, request: FinetuneRequest):
    """Train with the project's trainer; Ctrl-C saves ``last.pt`` and says how to continue."""
    from training.trainer import Trainer, TrainingError

    checkpoint = out / CHECKPOINT_NAME
    try:
        trainer = Trainer(cfg, resume=str(checkpoint) if request.resume and checkpoint.is_file() else None,
                          device=request.device, progress=request.progress)
        start = time.perf_counter()
        trainer.train()
    except TrainingError as err:
        raise FinetuneError(str(err)) from None
    except KeyboardInterrupt:
        print(f"[finetune] stopped; {checkpoint} keeps the run: repeat the command with --resume to continue at this step",
              flush=True)
        raise
    return trainer, time.perf_counter() - start


def release(trainer, path: Path, start: StartModel) -> None:
    """``DIR/model.pt``: the student alone (float32) with the metadata runtimes read, including the
    recording's camera (``train_focal`` in network pixels, ``camera``: its intrinsics and size)."""
    from disdepth_core.hashing import file_sha256
    from disdepth_core.models.checkpoint import save_checkpoint

    meta = trainer.checkpoint_meta() | {
        "epoch": trainer.epoch, "released_from": CHECKPOINT_NAME,
        "finetuned_from": {"model": start.path.name, "sha256": file_sha256(start.path), "config_name": start.meta.get("config_name")},
    }
    save_checkpoint(path, trainer.model, trainer.cfg.model, meta)


def run_info(request: FinetuneRequest, start: StartModel, cfg, cache, trainer, wall: float, out: Path) -> dict[str, Any]:
    """Everything about the run that metrics.json records besides the held-out frames."""
    from collections import Counter

    from disdepth_core.data.frame_cache import GAP, HELDOUT, TRAIN

    labels = Counter(frame["split"] for frame in cache.frames)
    skipped = {reason: count for per_source in cache.manifest["skipped"].values() for reason, count in per_source.items()}
    done = trainer.global_step
    return {
        "model": {"start": str(start.path), "result": str(out / MODEL_NAME), "backbone": start.backbone,
                  "input_size": list(start.input_hw), "depth_range": [start.min_depth, start.max_depth]},
        "recordings": {"sources": cache.manifest["sources"], "describe": cache.manifest["describe"]},
        "camera": trainer.checkpoint_meta().get("camera"), "train_focal": trainer.checkpoint_meta().get("train_focal"),
        "frames": {"cached": len(cache.frames), "train": labels[TRAIN], "heldout": labels[HELDOUT], "gap": labels[GAP],
                   "skipped": sum(skipped.values()), "skipped_reasons": skipped, "every_kth": cache.manifest["step"],
                   "val_fraction": cache.manifest["val_fraction"], "cache_size": list(cache.size_hw)},
        "training": {"iterations": done, "batch_size": cfg.optim.batch_size, "device": str(trainer.dist.device),
                     "wall_s": wall, "images_per_s": done * cfg.optim.batch_size / max(wall, 1e-9),
                     "synthetic_mix": cfg.data.recording.synthetic_mix, "train_size": [cfg.data.train_height, cfg.data.train_width],
                     "zoom": [cfg.data.recording.zoom_min, cfg.data.recording.zoom_max], "lr": cfg.optim.lr,
                     "end_lr_ratio": cfg.optim.end_lr_ratio,
                     "freeze_batchnorm": cfg.finetune.freeze_batchnorm,
                     "config": str(out / CONFIG_NAME)},
    }


def json_load(path: Path) -> dict[str, Any]:
    import json

    return json.loads(path.read_text())


def final_summary(metrics: dict[str, Any], out: Path) -> str:
    held = metrics["heldout"]
    rows = [("before", held["before"]), ("after", held["after"]),
            (f"set constant {held['set_constant']['depth_m']:.2f} m", held["set_constant"])]
    lines = [f"held-out frames: {held['frames_evaluated']} ({held['protocol']['note']})",
             f"  {'':28s} {'abs_rel':>8s} {'rmse':>8s} {'d1':>8s}"]
    lines += [f"  {label:28s} {m['abs_rel']:8.4f} {m['rmse']:8.4f} {m['d1']:8.4f}" for label, m in rows]
    lines.append(f"wrote {out / MODEL_NAME}, {out / 'metrics.json'} and {out / 'report.html'}")
    lines.append(f"deploy: disdepth node --model {out / MODEL_NAME} ... (docs/finetune.md)")
    return "\n".join(lines)
