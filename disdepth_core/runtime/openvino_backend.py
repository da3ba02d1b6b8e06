"""OpenVINO backend for x86 CPUs: ``load_runtime("model.onnx", backend="openvino")``.

Measured on the same ONNX with 2 threads, OpenVINO in fp32 runs 1.2-1.3x faster than ONNX
Runtime with identical depth. Its CPU default on bf16-capable CPUs is bf16 everywhere, which
the bins read-out does not survive (the cumulative sum of 256 bin widths and the 256-way
softmax-weighted sum lose ~0.4 m in bf16), so precision is pinned explicitly:

* ``precision="fp32"`` (default): every op in f32.
* ``precision="bf16"``: the backbone and decoder in bf16, the bins head (bin centres, logits,
  softmax read-out, final resize) in f32. OpenVINO's CPU plugin has no per-node precision
  override for bf16, so the model is cut at the decoder's output into two compiled models that
  share the tensor between them (no copy). ``benchmarks/bench_openvino.py`` measures it:
  most of bf16's speed-up with a mean error far below 1% of max depth. Offered only for
  DisDepth exports (the cut is found by the head's node names); on CPUs without native bf16
  it is emulated and slower (the load message says so).

Depth metadata comes from the ONNX props (``disdepth export`` writes them), like the ONNX
Runtime backend.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .base import DepthRuntime, InputSpec, ModelLoadError
from .artifact import CONFIDENCE_NAME, INPUT_NAME, LAYOUT_NHWC_UINT8, OUTPUT_NAME, ModelMetadata

PRECISIONS = ("fp32", "bf16")
HEAD_MODULES = ("bin_centers", "bin_probabilities")  # module scopes of the bins head in exported node names


def is_head_op(name: str) -> bool:
    """``/bin_centers/mlp/...`` or, under the uint8-input wrapper, ``/model/bin_centers/...``."""
    return any(part in HEAD_MODULES for part in name.split("/"))


def head_cut_points(model: Any) -> list[tuple[int, int]]:
    """Where bf16 ends: ``(op position in topological order, output index)`` of every tensor that enters
    the bins head from outside it (the decoder's final feature, plus shape tensors of dynamic exports).

    The head is every op named under :data:`HEAD_MODULES` and everything downstream of one
    (the read-out reshape/softmax/matmul/resize the exporter leaves unscoped). Positions, not
    names, identify the cut: auto-generated op names differ between two reads of one file.
    """
    ops = list(model.get_ordered_ops())
    index_of = {op.get_friendly_name(): i for i, op in enumerate(ops)}
    in_head: set[int] = set()
    constant: set[int] = set()  # ops computed from constants only (e.g. a bias reshape): they stay with their consumer
    for i, op in enumerate(ops):
        sources = [index_of[port.get_source_output().get_node().get_friendly_name()] for port in op.inputs()]
        if op.get_type_name() == "Constant" or (sources and all(j in constant for j in sources)):
            constant.add(i)
            continue
        if op.get_type_name() in ("Parameter", "Result"):
            continue
        if is_head_op(op.get_friendly_name()) or any(j in in_head for j in sources):
            in_head.add(i)
    cut: list[tuple[int, int]] = []
    for i in sorted(in_head):
        for port in ops[i].inputs():
            source = port.get_source_output()
            j = index_of[source.get_node().get_friendly_name()]
            if j in in_head or j in constant or ops[j].get_type_name() == "Parameter":
                continue
            if (j, source.get_index()) not in cut:
                cut.append((j, source.get_index()))
    return cut


def _dim(value: Any) -> int:
    return int(value.get_length()) if value.is_static else 0


class OpenVinoRuntime(DepthRuntime):
    backend = "openvino"

    def __init__(self, path: str, device: str = "auto", threads: int = 0, precision: str = "fp32", allow_foreign: bool = False,
                 log: Any = print, **_: Any) -> None:
        try:
            import openvino as ov
        except ImportError as err:
            raise ModelLoadError(f"openvino is not installed, cannot load {path} (pip install 'disdepth_ros[openvino]'): {err}") from err
        if Path(path).suffix.lower() != ".onnx":
            raise ModelLoadError(f"the openvino backend loads .onnx files, not {path}: export one first "
                                 "(disdepth export --checkpoint MODEL --format onnx --output model.onnx)")
        if precision not in PRECISIONS:
            raise ModelLoadError(f"the openvino backend runs fp32 or bf16 (bf16 body, fp32 bins head), got precision {precision!r}")
        core = ov.Core()
        ov_device = self._device_name(str(device), core.available_devices, path)
        metadata = self._metadata(path, allow_foreign)
        try:
            model = core.read_model(str(path))
        except Exception as err:  # noqa: BLE001 - OpenVINO raises RuntimeError subclasses for bad files
            raise ModelLoadError(f"cannot load ONNX model {path} with OpenVINO: {' '.join(str(err).split())[:300]}") from err
        self._check_io(path, model, allow_foreign)
        self.has_confidence = [port.get_any_name() for port in model.outputs][1:2] == [CONFIDENCE_NAME] and not allow_foreign
        config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        self._ov, self.precision, self.ov_device = ov, precision, ov_device
        self.threads = int(threads) or os.cpu_count() or 1
        self.native_bf16 = "BF16" in core.get_property(ov_device, "OPTIMIZATION_CAPABILITIES")
        shape = model.input(0).get_partial_shape()
        try:
            if precision == "fp32":
                self._requests = [core.compile_model(model, ov_device, {**config, "INFERENCE_PRECISION_HINT": "f32"})
                                  .create_infer_request()]
                self._cut = 0
            else:
                if not self.native_bf16:
                    log(f"openvino: {ov_device} has no native bf16 (AVX512_BF16/AMX); bf16 is emulated and likely slower than fp32")
                body, head, self._cut = self._split(core, str(path), path)
                self._requests = [core.compile_model(body, ov_device, {**config, "INFERENCE_PRECISION_HINT": "bf16"}).create_infer_request(),
                                  core.compile_model(head, ov_device, {**config, "INFERENCE_PRECISION_HINT": "f32"}).create_infer_request()]
        except ModelLoadError:
            raise
        except Exception as err:  # noqa: BLE001
            raise ModelLoadError(f"OpenVINO could not compile {path} for {ov_device}: {' '.join(str(err).split())[:300]}") from err
        uint8 = metadata.input_layout == LAYOUT_NHWC_UINT8
        height, width = (_dim(shape[1]), _dim(shape[2])) if uint8 else (_dim(shape[2]), _dim(shape[3]))
        super().__init__(path, metadata, InputSpec(height, width, metadata.input_layout, _dim(shape[0]) or 64))

    @staticmethod
    def _device_name(device: str, available: list[str], path: str) -> str:
        if device in ("auto", "cpu", "CPU"):
            return "CPU"
        if device.startswith("cuda"):
            raise ModelLoadError(f"the openvino backend runs on Intel devices ({', '.join(available)}), not {device!r}; "
                                 f"use backend tensorrt/onnxruntime/torch for CUDA (loading {path})")
        if device.upper() in available:
            return device.upper()
        raise ModelLoadError(f"OpenVINO device {device!r} not available for {path}; available: {', '.join(available)}")

    @staticmethod
    def _metadata(path: str, allow_foreign: bool) -> ModelMetadata:
        from .artifact import read_onnx_metadata

        try:
            return read_onnx_metadata(path)
        except ImportError as err:
            raise ModelLoadError(f"the openvino backend reads DisDepth metadata with the onnx package: {err}") from err
        except ValueError as err:
            if allow_foreign and "not exported by disdepth" in str(err):
                return ModelMetadata(architecture="foreign")
            raise ModelLoadError(str(err)) from err

    @staticmethod
    def _check_io(path: str, model: Any, allow_foreign: bool) -> None:
        if allow_foreign:
            return
        inputs = [port.get_any_name() for port in model.inputs]
        outputs = [port.get_any_name() for port in model.outputs]
        if inputs != [INPUT_NAME] or outputs not in ([OUTPUT_NAME], [OUTPUT_NAME, CONFIDENCE_NAME]):
            raise ModelLoadError(f"{path} is not a DisDepth depth model: inputs {inputs}, outputs {outputs} "
                                 f"(expected {[INPUT_NAME]} and {[OUTPUT_NAME]} or {[OUTPUT_NAME, CONFIDENCE_NAME]})")

    def _split(self, core: Any, model_file: str, path: str) -> tuple[Any, Any, int]:
        """(bf16 body, f32 head, number of cut tensors): the same graph read twice and cut at the head's inputs."""
        ov = self._ov
        body = core.read_model(model_file)
        cut = head_cut_points(body)
        if not cut:
            raise ModelLoadError(f"precision bf16 keeps the bins head in fp32, but {path} has no bins head nodes "
                                 f"({', '.join(HEAD_MODULES)}); re-export it with `disdepth export` or use fp32")
        body_ops = list(body.get_ordered_ops())
        body_model = ov.Model([body_ops[i].output(k) for i, k in cut], body.get_parameters(), "disdepth_body")
        head = core.read_model(model_file)
        head_ops = list(head.get_ordered_ops())
        params = []
        for i, k in cut:
            output = head_ops[i].output(k)
            param = ov.opset13.parameter(output.get_partial_shape(), output.get_element_type(), name=f"cut_{len(params)}")
            for target in list(output.get_target_inputs()):
                target.replace_source_output(param.output(0))
            params.append(param)
        head_model = ov.Model(head.get_results(), params, "disdepth_bins_head")
        return body_model, head_model, len(params)

    def _run(self, images: np.ndarray) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        first = self._requests[0]
        first.infer({0: np.ascontiguousarray(images)})
        last = first
        if self._cut:
            last = self._requests[1]
            for index in range(self._cut):
                last.set_input_tensor(index, first.get_output_tensor(index))  # shares the buffer, no copy
            last.infer()
        depth = last.get_output_tensor(0).data.copy()
        return (depth, last.get_output_tensor(1).data.copy()) if self.has_confidence else depth

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        precision = self.precision if self.precision == "fp32" else "bf16 body + fp32 bins head"
        info.update(device=self.ov_device, precision=precision, openvino=self._ov.__version__, threads=self.threads,
                    native_bf16=self.native_bf16)
        return info

    def close(self) -> None:
        self._requests = []
