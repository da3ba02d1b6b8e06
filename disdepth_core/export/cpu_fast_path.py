"""The fast CPU path by default: a checkpoint on a machine without CUDA runs from a cached, verified ONNX.

Measured on the bundled demo model: PyTorch eager ~35 ms a frame where OpenVINO runs the same
network in ~13 ms, yet ``backend: auto`` on a ``.pt`` used to mean torch. Now, when the node,
``predict``, ``bag-eval``/``eval`` or ``demo`` get a checkpoint with ``backend: auto`` and there is
no CUDA device (or ``device: cpu``), :func:`fast_cpu_model` exports it once with the project's
exporter (checked against PyTorch, both outputs), caches the ONNX keyed by the checkpoint's
sha256 and the input size, and hands back the fastest installed CPU runtime: OpenVINO, else ONNX
Runtime, with one log line saying so. ``backend: torch`` still forces PyTorch, and so do the
torch-only speed options (``precision`` other than fp32, ``channels_last``, ``cuda_graph``).

The cache (``$DISDEPTH_CACHE_DIR``, else ``$XDG_CACHE_HOME/disdepth/onnx``, else
``~/.cache/disdepth/onnx``) holds ``<stem>-<sha256[:16]>-<HxW|dynamic>-v<N>.onnx`` and a JSON sidecar
recording the checkpoint's and the ONNX file's sha256 and size, like TensorRT engines. A hit is
checked against both hashes, so a corrupt, truncated or replaced entry (or one from an older
exporter, :data:`CACHE_VERSION`) is rebuilt, with the reason in the log line. Files are written to
a temporary name and renamed, so two processes exporting at once, or one killed midway, never
leave a half-written entry. A hit needs no torch import at all (the robot's start is faster too);
if the export cannot be made (no onnx/onnxruntime, an unwritable cache, a failed check) the
model runs on torch as before, with the reason.
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path
from typing import Any, Callable, Optional

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".safetensors")
CACHE_VERSION = 3  # bump when the exported graph changes (2: the confidence output; 3: its 5x5 footprint)
TORCH_ONLY_OPTIONS = {"precision": "fp32", "channels_last": False, "cuda_graph": False, "compile": False}


def cache_dir() -> Path:
    """``$DISDEPTH_CACHE_DIR``, else ``$XDG_CACHE_HOME/disdepth/onnx``, else ``~/.cache/disdepth/onnx``."""
    if os.environ.get("DISDEPTH_CACHE_DIR"):
        return Path(os.environ["DISDEPTH_CACHE_DIR"]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "disdepth" / "onnx"


def has_cuda_device() -> bool:
    """Whether the CUDA driver sees a GPU, asked without importing torch (ctypes on libcuda)."""
    try:
        from disdepth_core.runtime.cuda_driver import CtypesDriver

        return CtypesDriver().device_count() > 0
    except Exception:  # noqa: BLE001 - no driver, no device, a broken install: no CUDA here
        return False


def fastest_cpu_runtime() -> Optional[str]:
    """``openvino`` (measured faster on x86 CPUs), else ``onnxruntime``, else None, by what is installed."""
    for name in ("openvino", "onnxruntime"):
        if importlib.util.find_spec(name) is not None:
            return name
    return None


def fast_path_reason(path: str | Path, backend: str, device: str, options: dict[str, Any]) -> Optional[str]:
    """Why ``path`` keeps its backend (a reason for the log), or None when the fast CPU path applies."""
    if backend != "auto" or Path(path).suffix.lower() not in CHECKPOINT_SUFFIXES:
        return "not a checkpoint with backend auto"
    if not Path(path).is_file():
        return "no such file (the loader says so in its own words)"
    torch_only = [f"{name} {options[name]}" for name, default in TORCH_ONLY_OPTIONS.items()
                  if name in options and options[name] != default]
    if torch_only:
        return f"torch-only options asked for ({', '.join(torch_only)})"
    if str(device).startswith("cuda"):
        return f"device {device} asked for (torch runs on it)"
    if device not in ("auto", "cpu"):
        return f"device {device!r} is torch's to accept or refuse"
    if device == "auto" and has_cuda_device():
        return "a CUDA device is available (torch runs on it)"
    if fastest_cpu_runtime() is None or importlib.util.find_spec("onnx") is None:
        return "neither OpenVINO nor ONNX Runtime (with onnx) is installed"
    return None


def cache_key(checkpoint_sha256: str, input_hw: Optional[tuple[int, int]], dynamic: bool) -> str:
    size = "dynamic" if dynamic else ("model" if input_hw is None else f"{input_hw[0]}x{input_hw[1]}")
    return f"{checkpoint_sha256[:16]}-{size}-v{CACHE_VERSION}"


def cached_onnx(checkpoint: str | Path, input_hw: Optional[tuple[int, int]] = None, dynamic: bool = False,
                folder: Optional[Path] = None, log: Callable[[str], None] = print) -> tuple[Path, str]:
    """The verified ONNX of ``checkpoint`` in the cache, exported now if missing or invalid: (path, what happened)."""
    from disdepth_core.hashing import file_sha256
    from disdepth_core.runtime.artifact import read_sidecar, write_sidecar

    checkpoint = Path(checkpoint)
    digest = file_sha256(checkpoint)
    key = cache_key(digest, input_hw, dynamic)
    folder = Path(folder) if folder is not None else cache_dir()
    onnx_path = folder / f"{checkpoint.stem}-{key}.onnx"
    problem = _entry_problem(onnx_path, read_sidecar(onnx_path), digest, key)
    if problem is None:
        return onnx_path, "cache hit"
    from disdepth_core.export.onnx_export import export_onnx

    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    result = export_onnx(checkpoint, onnx_path, input_hw, dynamic=dynamic, log=lambda _line: None)
    metadata = result.metadata
    metadata.extra.update(cache_key=key, onnx_sha256=file_sha256(onnx_path), onnx_size=onnx_path.stat().st_size,
                          cached_checkpoint_sha256=digest)
    write_sidecar(onnx_path, metadata)
    return onnx_path, f"{problem}: exported and verified in {time.perf_counter() - start:.1f} s"


def _entry_problem(onnx_path: Path, sidecar: Any, checkpoint_sha256: str, key: str) -> Optional[str]:
    """Why the cache entry cannot be used (then it is rebuilt), or None."""
    from disdepth_core.hashing import file_sha256

    if not onnx_path.is_file():
        return "not cached yet"
    if sidecar is None:
        return "cache entry without a readable sidecar"
    extra = sidecar.extra
    if extra.get("cache_key") != key or extra.get("cached_checkpoint_sha256") != checkpoint_sha256:
        return "stale cache entry (another checkpoint or exporter version)"
    if extra.get("onnx_size") != onnx_path.stat().st_size or extra.get("onnx_sha256") != file_sha256(onnx_path):
        return "corrupt cache entry (the ONNX does not match its recorded size or sha256)"
    return None


def fast_cpu_model(path: str | Path, backend: str = "auto", device: str = "auto", options: Optional[dict[str, Any]] = None,
                   input_hw: Optional[tuple[int, int]] = None, dynamic: bool = False,
                   log: Callable[[str], None] = print) -> tuple[str, str]:
    """``(model path, backend)`` to load: the cached ONNX and the fastest CPU runtime when the fast path applies,
    else ``(path, backend)`` unchanged. Logs one line when it switches (or when it could not)."""
    options = options or {}
    if fast_path_reason(path, backend, device, options) is not None:
        return str(path), backend
    runtime = fastest_cpu_runtime()
    try:
        onnx_path, how = cached_onnx(path, input_hw, dynamic, log=log)
    except Exception as err:  # noqa: BLE001 - any failure keeps the model running on torch
        log(f"fast CPU path unavailable for {path} ({type(err).__name__}: {' '.join(str(err).split())[:200]}); "
            "running it with PyTorch")
        return str(path), backend
    log(f"fast CPU path: {path} runs on {runtime} from the verified ONNX {onnx_path} ({how}); backend torch forces PyTorch")
    return str(onnx_path), runtime
