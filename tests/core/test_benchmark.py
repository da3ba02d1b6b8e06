"""The benchmark timing loop (pure) and the ``disdepth bench`` command."""

from __future__ import annotations

import numpy as np
import pytest

from disdepth_core.runtime.benchmark import BenchResult, benchmark_runtime
from tests.export.trt_fakes import tiny_disdepth_onnx


class CountingRuntime:
    def __init__(self) -> None:
        self.calls = 0

    def infer(self, batch: np.ndarray) -> np.ndarray:
        self.calls += 1
        return batch

    def describe(self) -> dict:
        return {"backend": "counting"}


def test_percentiles_from_an_injected_clock():
    values, now = [], 0.0
    for i in range(1, 101):  # iteration i takes exactly i ms
        values += [now, now + i / 1000.0]
        now += i / 1000.0
    ticks = iter(values)
    runtime = CountingRuntime()
    result = benchmark_runtime(runtime, np.zeros(1), iters=100, warmup=3, clock=lambda: next(ticks))
    assert runtime.calls == 103 and len(result.latencies_ms) == 100
    assert result.latencies_ms[0] == pytest.approx(1.0) and result.latencies_ms[-1] == pytest.approx(100.0)
    assert result.p50 == pytest.approx(50.5) and result.p95 == pytest.approx(95.05) and result.p99 == pytest.approx(99.01)
    assert result.fps == pytest.approx(1000 / 50.5) and result.details == {"backend": "counting"}
    assert result.peak_rss_delta_mb >= 0.0
    with pytest.raises(ValueError, match="iters"):
        benchmark_runtime(runtime, np.zeros(1), iters=0)
    assert np.isnan(BenchResult([]).p50)


def test_bench_cli_on_onnx(tmp_path, capsys):
    from disdepth_cli import main

    path = tmp_path / "tiny.onnx"
    tiny_disdepth_onnx(path)
    assert main(["bench", str(path), "--iters", "5", "--warmup", "1", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "== onnxruntime @ 64x96" in out and "p50" in out and "p99" in out and "FPS" in out and "peak RSS" in out
    assert main(["bench", str(path), "--input-size", "32x32", "--iters", "2"]) == 2
    assert "fixed input size 64x96" in capsys.readouterr().err
    assert main(["bench", str(path), "--backend", "torch", "--iters", "2"]) == 2
    assert "torch backend needs a checkpoint" in capsys.readouterr().err
    assert main(["bench", str(tmp_path / "nope.onnx")]) == 2


def test_bench_compare_checkpoint_torch_vs_onnxruntime(tiny_checkpoint, capsys):
    from disdepth_cli import main

    assert main(["bench", str(tiny_checkpoint), "--compare", "torch,onnxruntime", "--iters", "2", "--warmup", "1",
                 "--input-size", "64x96"]) == 0
    out = capsys.readouterr().out
    assert "== torch @ 64x96" in out and "== onnxruntime @ 64x96" in out and "speed-up vs torch" in out
    last = out.strip().splitlines()[-1].split()
    assert last[0] == "onnxruntime" and float(last[-1]) < 1e-2  # same input, same depth


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA GPU; this machine has none")
def test_torch_cuda_benchmark_reports_cuda_memory(tiny_checkpoint):
    from disdepth_core.runtime import load_runtime

    runtime = load_runtime(tiny_checkpoint, backend="torch", device="cuda")
    batch = np.zeros((1, 3, 64, 96), np.float32)
    result = benchmark_runtime(runtime, batch, iters=3, warmup=1)
    assert result.cuda_max_allocated_mb is not None and result.cuda_max_allocated_mb > 0
    assert result.details["device"].startswith("cuda")
