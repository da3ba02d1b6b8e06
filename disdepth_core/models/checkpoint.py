"""Saving and loading DisDepth checkpoints safely.

A checkpoint is a plain dict (tensors, numbers, strings, lists, dicts) so it loads with
``torch.load(weights_only=True)``: no pickled code runs when a user opens a file from the
internet. It records the full :class:`ModelConfig`, so the model is rebuilt exactly, and a
``meta`` dict (dataset, depth range, focal, input size) that exporters and runtimes carry on.
Files ending in ``.safetensors`` store the same information in the safetensors header.

Writes are atomic (temp file + ``os.replace``) so a crash mid-save never destroys the
previous checkpoint.
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import re
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import torch
from torch import nn

from disdepth_core.errors_text import typed_first_line
from disdepth_core.hashing import file_sha256  # re-exported: other code imports it from here
from disdepth_core.input_files import input_file_problem

from .model_config import ModelConfig

CHECKPOINT_FORMAT = "disdepth-checkpoint"
CHECKPOINT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, or not a DisDepth checkpoint."""


class CheckpointMismatchError(CheckpointError):
    """A checkpoint's weights do not fit the model they are loaded into."""


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` to a temp file in the same folder, fsync, then rename over ``path``."""
    path = Path(path)

    def write(handle: BinaryIO) -> None:
        try:
            torch.save(obj, handle)
        except RuntimeError as err:
            raise write_stopped_error(err, path.parent) from err

    atomic_write(path, write)


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> None:
    """``write(handle)`` into a temp file beside ``path``, fsync, normal file permissions, then
    ``os.replace`` onto ``path`` and fsync the folder: every checkpoint format is written this way,
    so a crash mid-save leaves the previous file intact and a failed write leaves nothing behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_current_umask())  # mkstemp makes 0600; use normal file permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


# What torch's zip writer says when the bytes did not reach the file (a full disk, a quota, a
# network mount that went away): ``[enforce fail at inline_container.cc:672] . unexpected pos``.
_WRITER_FAILURES = ("unexpected pos", "inline_container", "PytorchStreamWriter")


def write_stopped_error(err: BaseException, folder: Path) -> BaseException:
    """A failed checkpoint write as an OSError (so callers report it as one line, exit 2): an
    OSError as it is, torch's writer failure with its likely cause; anything else (a bug) is
    returned unchanged."""
    text = str(err)
    if isinstance(err, OSError) or not isinstance(err, RuntimeError) or not any(m in text for m in _WRITER_FAILURES):
        return err
    try:
        free = os.statvfs(folder)
        room = f"{free.f_bavail * free.f_frsize / 1e6:.1f} MB free there now"
    except OSError:
        room = "free space unknown"
    return OSError(errno.ENOSPC, f"the write stopped early, usually a full disk ({room}; torch: {typed_first_line(err)})")


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (a power loss right after must not bring back the old file)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # e.g. platforms without directory handles
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    config: ModelConfig,
    meta: dict[str, Any] | None = None,
    training_state: dict[str, Any] | None = None,
    half: bool = False,
) -> None:
    """Write model weights, config and metadata (and optionally optimizer state) atomically.

    ``half=True`` stores floating tensors as float16 (the demo model ships this way to stay
    small); loading casts them back to the model's dtype.
    """
    model = getattr(model, "module", model)  # unwrap DistributedDataParallel
    state = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu() for k, v in model.state_dict().items()}
    path = Path(path)
    meta = dict(meta or {})
    if path.suffix == ".safetensors":
        from safetensors.torch import save as safetensors_bytes

        header = {"format": CHECKPOINT_FORMAT, "format_version": str(CHECKPOINT_VERSION),
                  "model_config": json.dumps(config.to_dict()), "meta": json.dumps(meta)}
        data = safetensors_bytes({k: v.contiguous() for k, v in state.items()}, metadata=header)
        atomic_write(path, lambda handle: handle.write(data))  # the same steps (fsync, mode) as .pt files
        return
    payload: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "model_config": config.to_dict(),
        "meta": meta,
        "state_dict": state,
    }
    if training_state is not None:
        payload["training_state"] = training_state
    atomic_torch_save(payload, path)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint into a dict with keys model_config, meta, state_dict (+ training_state)."""
    path = Path(path)
    problem = input_file_problem(path, "checkpoint")
    if problem is not None:
        raise CheckpointError(problem[1])
    if path.suffix == ".safetensors":
        return _read_safetensors(path)
    try:
        with warnings.catch_warnings():  # "Detected pickle protocol 4 ...": any plain pickle, not a checkpoint
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(unpickling_problem(path, err)) from err
    except Exception as err:  # noqa: BLE001 - truncated/corrupt files land here
        raise CheckpointError(f"cannot read checkpoint {path} (corrupt, truncated or not a PyTorch file): "
                              f"{typed_first_line(err)}") from err
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} is not a DisDepth checkpoint (no 'format: {CHECKPOINT_FORMAT}' entry); "
            "backbone ImageNet weights go in model.pretrained_backbone instead"
        )
    if int(payload.get("format_version", 0)) > CHECKPOINT_VERSION:
        raise CheckpointError(f"{path} was written by a newer DisDepth (format {payload['format_version']}); upgrade to read it")
    return payload


_UNSUPPORTED_GLOBAL = re.compile(r"Unsupported global: GLOBAL (\S+)")


def unpickling_problem(path: Path, err: BaseException) -> str:
    """What ``torch.load(weights_only=True)``'s UnpicklingError means for a checkpoint, without
    torch's advice to retry with ``weights_only=False`` (which would run the file's code): bytes
    that are no PyTorch file at all (an image, an exported model, a corrupt copy), or a pickle of
    Python objects (a whole ``torch.save(model)``), which is never loaded."""
    found = _UNSUPPORTED_GLOBAL.search(str(err))
    if found:
        return (f"{path} is not a DisDepth checkpoint: it holds pickled Python objects ({found.group(1).rstrip('.')}), "
                "which are never loaded because loading them can run code; a DisDepth checkpoint holds only tensors "
                "and plain values")
    return (f"cannot read checkpoint {path} (corrupt, truncated or not a PyTorch file): "
            "it is not a DisDepth checkpoint (a corrupt copy or a file of another format)")


def _read_safetensors(path: Path) -> dict[str, Any]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
            state = {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as err:  # noqa: BLE001
        raise CheckpointError(f"cannot read checkpoint {path} (corrupt, truncated or not a safetensors file): "
                              f"{typed_first_line(err)}") from err
    if header.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is a safetensors file without DisDepth metadata")
    return {"format": CHECKPOINT_FORMAT, "model_config": json.loads(header["model_config"]),
            "meta": json.loads(header.get("meta", "{}")), "state_dict": state}


def load_state_dict_checked(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Strict load whose error names the missing, unexpected and mis-shaped keys."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in sorted(set(own) & set(state)) if state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        parts = []
        for label, keys in (("missing in checkpoint", missing), ("unexpected in checkpoint", unexpected), ("shape mismatch", shapes)):
            if keys:
                more = f" (+{len(keys) - 8} more)" if len(keys) > 8 else ""
                parts.append(f"{label}: {', '.join(keys[:8])}{more}")
        raise CheckpointMismatchError(f"checkpoint {source} does not match the model architecture; " + "; ".join(parts))
    model.load_state_dict(state, strict=True)


def load_model(path: str | Path, device: str | torch.device = "cpu", config: ModelConfig | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the student recorded in a checkpoint (or ``config``) and load its weights.

    Returns ``(model in eval mode on device, meta)``; ``meta`` also gets ``checkpoint_sha256``.
    """
    from .registry import build_model_from_config

    payload = read_checkpoint(path)
    cfg = config or ModelConfig.from_dict(payload["model_config"])
    cfg.pretrained_backbone = ""  # weights come from the checkpoint, not the ImageNet file
    model = build_model_from_config(cfg)
    load_state_dict_checked(model, payload["state_dict"], str(path))
    meta = dict(payload.get("meta") or {})
    meta["checkpoint_sha256"] = file_sha256(path)
    meta["model_config"] = cfg.to_dict()
    return model.to(device).eval(), meta

