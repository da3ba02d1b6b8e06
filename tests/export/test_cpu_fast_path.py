"""The fast CPU path: a checkpoint with backend auto on a machine without CUDA runs from a cached, verified ONNX.

Real exports of the tiny checkpoint, real OpenVINO / ONNX Runtime sessions, and a real node
subprocess; each test gets its own cache folder so hits and misses are the test's own.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest

from disdepth_core.export import cpu_fast_path
from disdepth_core.export.cpu_fast_path import cached_onnx, fast_cpu_model, fast_path_reason, fastest_cpu_runtime
from disdepth_core.runtime import load_runtime


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("DISDEPTH_CACHE_DIR", str(folder))
    monkeypatch.setattr(cpu_fast_path, "has_cuda_device", lambda: False)  # the CI machine has none either
    return folder


@pytest.fixture(scope="module")
def exported(tiny_checkpoint, tmp_path_factory):
    """One export of the tiny checkpoint at its own size (tests copy it into their own cache)."""
    folder = tmp_path_factory.mktemp("exported")
    cached_onnx(tiny_checkpoint, folder=folder, log=lambda _m: None)
    return folder


def prefill(cache, exported) -> None:
    shutil.copytree(exported, cache)


def test_checkpoint_runs_on_the_fastest_cpu_runtime_from_one_export(cache, tiny_checkpoint, monkeypatch):
    lines = []
    path, backend = fast_cpu_model(tiny_checkpoint, "auto", "auto", log=lines.append)
    name = path.rsplit("/", 1)[1]
    assert backend == fastest_cpu_runtime() == "openvino"
    assert name.startswith(f"{tiny_checkpoint.stem}-") and name.endswith(f"-model-v{cpu_fast_path.CACHE_VERSION}.onnx")
    assert path.startswith(str(cache)) and path.endswith(".onnx") and (cache / (path.split("/")[-1] + ".json")).is_file()
    assert len(lines) == 1 and lines[0].startswith(f"fast CPU path: {tiny_checkpoint} runs on openvino from the verified ONNX")
    assert "not cached yet: exported and verified in" in lines[0] and "backend torch forces PyTorch" in lines[0]

    def no_export(*args, **kwargs):
        raise AssertionError("a cache hit must not export again")

    monkeypatch.setattr("disdepth_core.export.onnx_export.export_onnx", no_export)
    again = []
    assert fast_cpu_model(tiny_checkpoint, "auto", "cpu", log=again.append) == (path, backend)
    assert "(cache hit)" in again[0]
    batch = np.random.default_rng(0).normal(size=(1, 3, 64, 96)).astype(np.float32)
    with load_runtime(path, backend=backend, device="cpu") as fast, load_runtime(tiny_checkpoint, backend="torch", device="cpu") as eager:
        assert fast.has_confidence and eager.has_confidence
        for ours, reference in zip(fast.infer_with_confidence(batch), eager.infer_with_confidence(batch)):
            np.testing.assert_allclose(ours, reference, atol=1e-3 * 10.0, rtol=1e-3)


def test_corrupt_and_stale_entries_are_rebuilt(cache, exported, tiny_checkpoint):
    from disdepth_core.hashing import file_sha256
    from disdepth_core.runtime.artifact import read_sidecar

    prefill(cache, exported)
    path, how = cached_onnx(tiny_checkpoint)
    assert how == "cache hit"
    data = path.read_bytes()
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # same size, one bit flipped
    rebuilt, how = cached_onnx(tiny_checkpoint)
    assert rebuilt == path and how.startswith("corrupt cache entry (the ONNX does not match its recorded size or sha256)")
    assert path.read_bytes() == data and cached_onnx(tiny_checkpoint)[1] == "cache hit"
    sidecar = path.with_name(path.name + ".json")
    assert sorted(p.name for p in cache.iterdir()) == [path.name, sidecar.name]  # no temporary files left behind
    digest, key = file_sha256(tiny_checkpoint), path.stem.split("-", 1)[1]
    other = read_sidecar(path)
    other.extra["cache_key"] = "0123-model-v1"  # written by an older exporter
    assert cpu_fast_path._entry_problem(path, other, digest, key).startswith("stale cache entry")
    assert cpu_fast_path._entry_problem(path, None, digest, key) == "cache entry without a readable sidecar"
    assert cpu_fast_path._entry_problem(path, read_sidecar(path), "f" * 64, key).startswith("stale cache entry")


def test_when_torch_is_kept(cache, tiny_checkpoint, tmp_path, monkeypatch):
    assert fast_path_reason(tiny_checkpoint, "torch", "cpu", {}) == "not a checkpoint with backend auto"
    assert fast_path_reason(tmp_path / "m.onnx", "auto", "cpu", {}) == "not a checkpoint with backend auto"
    assert fast_path_reason(tiny_checkpoint, "auto", "cpu", {"precision": "bf16"}) == "torch-only options asked for (precision bf16)"
    assert fast_path_reason(tiny_checkpoint, "auto", "cuda:0", {}) == "device cuda:0 asked for (torch runs on it)"
    assert fast_path_reason(tiny_checkpoint, "auto", "tpu", {}) == "device 'tpu' is torch's to accept or refuse"
    missing, lines = tmp_path / "missing.pt", []  # the loader reports it: no "fast path unavailable" line first
    assert fast_cpu_model(missing, "auto", "cpu", log=lines.append) == (str(missing), "auto") and lines == []
    monkeypatch.setattr(cpu_fast_path, "has_cuda_device", lambda: True)
    assert fast_path_reason(tiny_checkpoint, "auto", "auto", {}) == "a CUDA device is available (torch runs on it)"
    assert fast_cpu_model(tiny_checkpoint, "auto", "auto") == (str(tiny_checkpoint), "auto")
    monkeypatch.setattr(cpu_fast_path, "has_cuda_device", lambda: False)

    def failing_export(*args, **kwargs):
        raise ValueError("exported x disagrees with PyTorch")

    monkeypatch.setattr("disdepth_core.export.onnx_export.export_onnx", failing_export)
    lines = []
    assert fast_cpu_model(tiny_checkpoint, "auto", "cpu", log=lines.append) == (str(tiny_checkpoint), "auto")
    assert lines == [f"fast CPU path unavailable for {tiny_checkpoint} (ValueError: exported x disagrees with PyTorch); "
                     "running it with PyTorch"]


def test_a_cache_hit_imports_no_torch(cache, exported, tiny_checkpoint):
    prefill(cache, exported)
    code = ("import sys\nfrom disdepth_core.export import cpu_fast_path\ncpu_fast_path.has_cuda_device = lambda: False\n"
            f"path, backend = cpu_fast_path.fast_cpu_model({str(tiny_checkpoint)!r}, 'auto', 'auto')\n"
            "from disdepth_core.runtime import load_runtime\nload_runtime(path, backend=backend, device='cpu')\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "(cache hit)" in result.stdout, result.stderr[-2000:]


def test_node_with_a_checkpoint_runs_openvino_by_default(cache, exported, tiny_checkpoint):
    pytest.importorskip("rclpy")
    from tests.ros.node_fixtures import running_node
    from disdepth_core.synthetic.render import render_frame

    prefill(cache, exported)  # a hit: the node (another process) decides on the CI machine's own CUDA state
    frame = render_frame("nyu", 0, 0, 96, 128)
    with running_node(tiny_checkpoint, 71, {"backend": "auto"}) as (proc, client):
        assert client.publish_until(lambda: bool(client.received["depth"]) and bool(client.diagnostics()), frame.rgb, frame.K)
        assert client.diagnostics()["backend"] == "openvino"
        assert "fast CPU path: " in proc.stderr_so_far() and "runs on openvino from the verified ONNX" in proc.stderr_so_far()
