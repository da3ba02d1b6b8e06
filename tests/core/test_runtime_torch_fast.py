"""The torch runtime's fast-path options (precision, channels-last, CUDA graphs, compile) on this CPU.

No GPU here: the CUDA-graph capture itself cannot run, so these tests check what the CPU can:
precision and memory-format handling against fp32 eager, the refusal of CPU fp16, and that a
capture that cannot happen (CPU device, failing capture, failing torch.compile) falls back to
eager with one clear message and identical depth. GPU timings come from benchmarks/bench_torch_gpu.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from disdepth_core.runtime import ModelLoadError, load_runtime


def _batch(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(1, 3, 64, 96)).astype(np.float32)


def test_bf16_and_channels_last_agree_with_fp32_eager(tiny_checkpoint):
    """bf16 (runs on CPUs) and channels-last stay within 1e-2 x max depth of fp32 eager; depth is float32."""
    reference = load_runtime(tiny_checkpoint, device="cpu")
    expected = reference.infer(_batch())
    limit = 1e-2 * reference.metadata.max_depth
    for options in ({"channels_last": True}, {"precision": "bf16"}, {"precision": "bf16", "channels_last": True}):
        runtime = load_runtime(tiny_checkpoint, device="cpu", **options)
        depth = runtime.infer(_batch())
        assert depth.dtype == np.float32 and depth.shape == expected.shape
        assert float(np.abs(depth - expected).max()) <= limit, options
        info = runtime.describe()
        assert info["precision"] == options.get("precision", "fp32") and info["channels_last"] == bool(options.get("channels_last"))
    exact = load_runtime(tiny_checkpoint, device="cpu", channels_last=True).infer(_batch())
    np.testing.assert_allclose(exact, expected, rtol=1e-4, atol=1e-4)  # layout alone changes no maths


def test_bad_precision_choices_are_load_errors(tiny_checkpoint):
    with pytest.raises(ModelLoadError, match="fp16 needs a CUDA device"):
        load_runtime(tiny_checkpoint, device="cpu", precision="fp16")
    with pytest.raises(ModelLoadError, match="fp16 needs a CUDA device"):
        load_runtime(tiny_checkpoint, device="cpu", half=True)
    with pytest.raises(ModelLoadError, match="precision must be one of fp32, fp16, bf16, got 'int4'"):
        load_runtime(tiny_checkpoint, device="cpu", precision="int4")
    with pytest.raises(ModelLoadError, match="contradicts"):
        load_runtime(tiny_checkpoint, device="cpu", half=True, precision="bf16")


def test_cuda_graph_on_cpu_runs_eagerly_with_a_message(tiny_checkpoint):
    messages = []
    runtime = load_runtime(tiny_checkpoint, device="cpu", cuda_graph=True, log=messages.append)
    assert messages == ["cuda_graph: CUDA graphs need a CUDA device; running eagerly on cpu"]
    np.testing.assert_array_equal(runtime.infer(_batch()), load_runtime(tiny_checkpoint, device="cpu").infer(_batch()))
    assert not runtime.cuda_graph_active and runtime.describe()["cuda_graph"].startswith("requested, eager")


def test_failed_capture_falls_back_to_eager_once(tiny_checkpoint):
    """A capture that raises (here: CUDA streams on a CPU-only torch) logs one line and the shape runs eagerly."""
    import torch

    from disdepth_core.runtime.torch_fast_path import ForwardPass, GraphedForward

    runtime = load_runtime(tiny_checkpoint, device="cpu")
    forward = ForwardPass(runtime.model, torch.float32, channels_last=False)
    messages = []
    graphed = GraphedForward(forward, torch.device("cpu"), messages.append)
    batch = torch.from_numpy(_batch())
    with torch.inference_mode():
        first = graphed(batch)
        second = graphed(batch)
        eager = forward(batch)
    assert len(messages) == 1 and messages[0].startswith("cuda_graph: capture failed for input 1x3x64x96 (")
    assert messages[0].endswith("running eagerly instead") and not graphed.graphs
    assert torch.equal(first, eager) and torch.equal(second, eager)


def test_compile_failure_falls_back(tiny_checkpoint, monkeypatch):
    """torch.compile failing at the first call (no Triton/compiler on a Jetson) falls back with a message."""
    import torch

    def broken_compile(fn, mode=None):
        def run(*args):
            raise RuntimeError("Triton not available")
        return run

    monkeypatch.setattr(torch, "compile", broken_compile)
    messages = []
    runtime = load_runtime(tiny_checkpoint, device="cpu", compile=True, log=messages.append)
    depth = runtime.infer(_batch())
    assert any("compile: torch.compile failed at the first call (RuntimeError: Triton not available)" in m for m in messages)
    np.testing.assert_array_equal(depth, load_runtime(tiny_checkpoint, device="cpu").infer(_batch()))


def test_node_parameters_reach_the_runtime(tiny_checkpoint):
    """The node's precision/channels_last/cuda_graph/threads parameters become load_runtime options."""
    import torch

    from disdepth_ros.parameters import defaults, runtime_options, validate_value

    assert runtime_options(defaults()) == {"precision": "fp32", "channels_last": False, "cuda_graph": False, "threads": 0}
    values = {**defaults(), "precision": "fp16", "channels_last": True, "cuda_graph": True, "threads": 1}
    assert runtime_options(values) == {"precision": "fp16", "channels_last": True, "cuda_graph": True, "threads": 1}
    assert "must be one of fp32, fp16, bf16" in validate_value("precision", "fp8")
    assert ">= 0" in validate_value("threads", -1)
    before = torch.get_num_threads()
    try:
        runtime = load_runtime(tiny_checkpoint, device="cpu", **runtime_options({**defaults(), "threads": 1}))
        assert runtime.describe()["threads"] == 1
    finally:
        torch.set_num_threads(before)


def test_bench_cli_torch_options(tiny_checkpoint, capsys):
    """``disdepth bench --precision bf16 --channels-last --cuda-graph`` on a CPU: runs, reports, and says graphs are off."""
    from disdepth_cli import main

    assert main(["bench", str(tiny_checkpoint), "--device", "cpu", "--iters", "2", "--warmup", "1", "--precision", "bf16",
                 "--channels-last", "--cuda-graph", "--input-size", "64x96"]) == 0
    out = capsys.readouterr().out
    assert "cuda_graph: CUDA graphs need a CUDA device" in out and "precision      bf16" in out and "channels_last  True" in out
