"""Checkpoint -> one self-contained, verified ONNX file (``disdepth export --format onnx``).

The graph includes the bins-to-depth post-processing (the eval-mode student already does it)
and, with ``uint8_input``, the normalisation too, so a deployment only feeds camera pixels.
After export the file is run with ONNX Runtime and compared with PyTorch on the same input;
a disagreement beyond the tolerance is an error, never a silently wrong artifact.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from disdepth_core.runtime.artifact import LAYOUT_NCHW_FLOAT, LAYOUT_NHWC_UINT8, ModelMetadata

from disdepth_core.runtime.artifact import CONFIDENCE_NAME, INPUT_NAME, OUTPUT_NAME, embed_onnx_metadata

DEFAULT_OPSET = 17  # highest opset TensorRT 8.6 (JetPack 5) parses fully
MIN_OPSET = 11  # opsets 9-10 cannot express the bins head (measured with torch 2.x), <= 8 lack expand/resize
MAX_OPSET = 23  # newest opset any supported torch exports; older torch builds stop earlier (checked at export)
REL_TOLERANCE = 1e-3
ABS_TOLERANCE_PER_METRE = 1e-3  # absolute tolerance = this * max_depth


class ExportCheckError(ValueError):
    """ONNX Runtime and PyTorch disagree on the exported model beyond the tolerance."""


@dataclass
class ExportCheck:
    """Worst disagreement between ONNX Runtime and PyTorch over the checked input sizes."""

    max_abs: float
    max_rel: float
    atol: float
    rtol: float
    sizes: list[tuple[int, int]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.max_abs <= self.atol and self.max_rel <= self.rtol

    def summary(self) -> str:
        sizes = ", ".join(f"{h}x{w}" for h, w in self.sizes)
        return (f"max abs diff {self.max_abs:.3g} m (tolerance {self.atol:.3g}), max rel diff {self.max_rel:.3g} "
                f"(tolerance {self.rtol:.3g}) at {sizes}")


@dataclass
class ExportResult:
    path: Path
    metadata: ModelMetadata
    check: ExportCheck | None
    simplified: bool
    seconds: float


def with_confidence(model: Any) -> Any:
    """``model`` as a module whose forward returns ``(depth, confidence)``: the two graph outputs.

    The confidence is computed from the bins distributions inside the graph
    (:func:`disdepth_core.models.heads.depth_confidence`), so every runtime returns it in the
    same pass as the depth.
    """
    from torch import nn

    class DepthAndConfidence(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, image: Any) -> Any:
            return self.model.forward_with_confidence(image)

    return DepthAndConfidence().eval()


def make_uint8_wrapper(model: Any, mean: tuple[float, ...], std: tuple[float, ...]) -> Any:
    """Wrap ``model`` so it takes uint8 NHWC RGB and normalises inside the graph.

    Saves a per-frame float conversion on the robot's CPU and lets TensorRT fuse the scale into
    the first convolution.
    """
    import torch
    from torch import nn

    class UInt8Input(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model
            scale = torch.tensor([1.0 / (255.0 * s) for s in std]).reshape(1, 3, 1, 1)
            offset = torch.tensor([-m / s for m, s in zip(mean, std)]).reshape(1, 3, 1, 1)
            self.register_buffer("scale", scale)
            self.register_buffer("offset", offset)

        def forward(self, image: torch.Tensor) -> Any:
            x = image.float().permute(0, 3, 1, 2)  # Cast first: TensorRT rejects UINT8 intermediate tensors
            return self.model(x * self.scale + self.offset)

    return UInt8Input().eval()


def random_input(metadata: ModelMetadata, height: int, width: int, seed: int = 0) -> np.ndarray:
    """A realistic random batch in the model's layout (random pixels, normalised if float)."""
    from disdepth_core.runtime.preprocess import normalize_to_nchw

    rgb = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    if metadata.input_layout == LAYOUT_NHWC_UINT8:
        return rgb[None].copy()
    return normalize_to_nchw(rgb, metadata.mean, metadata.std)


def compare_outputs(onnx_path: str | Path, torch_model: Any, metadata: ModelMetadata, sizes: list[tuple[int, int]]) -> ExportCheck:
    """Run ORT (CPU) and PyTorch on the same random input at each size; report worst diffs.

    ``torch_model`` returns depth, or ``(depth, confidence)`` for a two-output export; the
    confidence (in [0, 1]) is held to the same tolerances as depth expressed per metre of range
    (``atol / max_depth`` absolute), so a graph whose second output drifted fails the export too.
    """
    import onnxruntime as ort
    import torch

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    check = ExportCheck(0.0, 0.0, ABS_TOLERANCE_PER_METRE * metadata.max_depth, REL_TOLERANCE, list(sizes))
    for index, (height, width) in enumerate(sizes):
        batch = random_input(metadata, height, width, seed=index)
        ours = session.run(names, {INPUT_NAME: batch})
        with torch.inference_mode():
            reference = torch_model(torch.from_numpy(batch))
        reference = [t.numpy() for t in reference] if isinstance(reference, (tuple, list)) else [reference.numpy()]
        if len(ours) != len(reference):
            raise ExportCheckError(f"{onnx_path}: ONNX has {len(ours)} outputs ({', '.join(names)}), PyTorch {len(reference)}")
        for name, got, expected in zip(names, ours, reference):
            if got.shape != expected.shape:
                raise ExportCheckError(f"{onnx_path}: ONNX output {name!r} shape {got.shape} != PyTorch {expected.shape} "
                                       f"at {height}x{width}")
            diff = np.abs(got.astype(np.float64) - expected)
            if name == CONFIDENCE_NAME:  # in [0, 1]: compare as if it were depth over the range
                diff = diff * metadata.max_depth
                check.max_abs = max(check.max_abs, float(diff.max()))
                continue
            check.max_abs = max(check.max_abs, float(diff.max()))
            check.max_rel = max(check.max_rel, float((diff / np.maximum(np.abs(expected), metadata.min_depth)).max()))
    return check


def simplify_onnx(model: Any, log: Callable[[str], None] = print) -> tuple[Any, bool]:
    """onnxslim where it helps (fewer nodes); any failure keeps the original with a warning."""
    try:
        import onnxslim

        slim = onnxslim.slim(model)
    except Exception as err:  # noqa: BLE001 - simplification is optional by design
        log(f"warning: onnxslim simplification failed ({type(err).__name__}: {str(err)[:200]}); keeping the unsimplified graph")
        return model, False
    if slim is None or len(slim.graph.node) >= len(model.graph.node):
        log("simplification did not reduce the graph; keeping the original")
        return model, False
    log(f"simplified with onnxslim: {len(model.graph.node)} -> {len(slim.graph.node)} nodes")
    return slim, True


def _fix_output_shape(model: Any, metadata: ModelMetadata) -> None:
    """Name every output's dims ``[1,1,H,W]`` (the tracer leaves opaque symbols for batch/channel)."""
    values: list[Any] = [1, 1, "height", "width"] if metadata.dynamic_shape else [1, 1, metadata.input_height, metadata.input_width]
    for output in model.graph.output:
        for dim, value in zip(output.type.tensor_type.shape.dim, values):
            if isinstance(value, int):
                dim.dim_value = value
            else:
                dim.dim_param = value


def export_onnx(checkpoint: str | Path, output: str | Path, input_hw: tuple[int, int] | None = None, dynamic: bool = False,
                opset: int = DEFAULT_OPSET, uint8_input: bool = False, simplify: bool = True, check: bool = True,
                log: Callable[[str], None] = print, confidence: bool = True) -> ExportResult:
    """Export a checkpoint to ``output`` and verify it; raises :class:`ExportCheckError` on mismatch.

    ``input_hw`` defaults to the checkpoint's training size; ``dynamic`` makes height/width free
    (batch stays 1, which is what the robot runs and what keeps TensorRT profiles simple).
    ``confidence`` adds the second output ``confidence`` (``[1,1,H,W]`` in [0, 1], computed in the
    graph from the bins distributions); ``False`` writes the one-output graph of older releases.
    The file appears at ``output`` only after the check passed (written to a temporary name in
    the same folder, then renamed), so a failed or interrupted export never leaves a bad file.
    """
    import onnx
    import torch

    from disdepth_core.models.checkpoint import CheckpointError, load_model

    start = time.perf_counter()
    check_opset(opset)
    checkpoint, output = Path(checkpoint), Path(output)
    if not checkpoint.is_file():
        raise FileNotFoundError(f"checkpoint not found: {checkpoint}")
    try:
        model, meta = load_model(checkpoint)
    except CheckpointError as err:
        raise ValueError(str(err)) from err
    if input_hw is None and not meta.get("train_input_size"):
        raise ValueError(f"checkpoint {checkpoint} records no train_input_size in its metadata; pass --input-size HxW")
    metadata = ModelMetadata.from_checkpoint_meta(meta, input_hw)
    metadata.input_layout = LAYOUT_NHWC_UINT8 if uint8_input else LAYOUT_NCHW_FLOAT
    metadata.dynamic_shape = bool(dynamic)
    metadata.extra.update(onnx_opset=int(opset), source_checkpoint=checkpoint.name)
    if confidence:
        metadata.extra["confidence"] = "footprint bins spread (disdepth_core.models.heads.depth_confidence)"
    height, width = metadata.input_height, metadata.input_width
    if height <= 0 or width <= 0:
        raise ValueError(f"invalid input size {height}x{width} for {checkpoint}")

    net = with_confidence(model) if confidence else model
    net = make_uint8_wrapper(net, metadata.mean, metadata.std) if uint8_input else net
    dummy = torch.from_numpy(random_input(metadata, height, width))
    output_names = [OUTPUT_NAME, CONFIDENCE_NAME] if confidence else [OUTPUT_NAME]
    axes = {INPUT_NAME: {1: "height", 2: "width"} if uint8_input else {2: "height", 3: "width"},
            **{name: {2: "height", 3: "width"} for name in output_names}} if dynamic else None
    output.parent.mkdir(parents=True, exist_ok=True)
    log(f"exporting {checkpoint} ({metadata.architecture}) at {height}x{width} {metadata.input_layout}"
        f"{' dynamic' if dynamic else ''}, opset {opset}")
    with tempfile.TemporaryDirectory(prefix="disdepth-export-") as tmp:
        raw = Path(tmp) / "raw.onnx"
        with torch.no_grad(), _quiet_tracer():
            torch.onnx.export(net, (dummy,), str(raw), dynamo=False, opset_version=int(opset), input_names=[INPUT_NAME],
                              output_names=output_names, dynamic_axes=axes, do_constant_folding=True)
        proto = onnx.load(str(raw))
    simplified = False
    if simplify:
        proto, simplified = simplify_onnx(proto, log)
    _fix_output_shape(proto, metadata)
    embed_onnx_metadata(proto, metadata)
    onnx.checker.check_model(proto)
    tmp_out = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    onnx.save_model(proto, str(tmp_out))
    result_check = None
    try:
        if check:
            sizes = [(height, width)] + ([(height + 32, width + 64)] if dynamic else [])
            result_check = compare_outputs(tmp_out, net, metadata, sizes)
            log(f"ONNX Runtime vs PyTorch: {result_check.summary()}")
            if not result_check.passed:
                raise ExportCheckError(f"exported {output} disagrees with PyTorch: {result_check.summary()}")
        os.replace(tmp_out, output)
    finally:
        tmp_out.unlink(missing_ok=True)
    seconds = time.perf_counter() - start
    log(f"wrote {output} ({output.stat().st_size / 1e6:.1f} MB) in {seconds:.1f} s")
    return ExportResult(output, metadata, result_check, simplified, seconds)


def check_opset(opset: int) -> None:
    """ValueError unless ``opset`` is one this model and the installed torch can export."""
    import torch

    try:
        from torch.onnx._constants import ONNX_MAX_OPSET as torch_max  # private, but stable since torch 1.13
    except ImportError:
        torch_max = MAX_OPSET
    high = min(MAX_OPSET, int(torch_max))
    if not MIN_OPSET <= int(opset) <= high:
        raise ValueError(f"ONNX opset {opset} is not supported: use {MIN_OPSET} to {high} with torch {torch.__version__} "
                         f"(default {DEFAULT_OPSET})")


@contextlib.contextmanager
def _quiet_tracer() -> Iterator[None]:
    """Hide TracerWarnings (the ORT-vs-PyTorch check is the real guard against bad traces)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=Warning, module=r"torch\..*")
        warnings.filterwarnings("ignore", message=r".*[Tt]race.*")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        yield
