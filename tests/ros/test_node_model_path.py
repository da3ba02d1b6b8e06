"""Issue 20, cause 5: the node starts on any existing model path.

rcl parses ``-p name:=value`` as YAML, so an unquoted path was cut at `` #``, turned into a
mapping by ``: ``, a list by ``[...]`` or an integer when all digits. ``disdepth node --model``
and the node harness now pass the value quoted (:mod:`disdepth_ros.ros_arguments`). Checked
three ways: rcl's own parse of every awkward string (in-process, fast), real ``disdepth node``
subprocesses on files with such names, and the harness starting the node on one.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytest.importorskip("rclpy")
pytest.importorskip("onnxruntime")
from disdepth_ros.harness.node_process import NodeProcess, ros_env, unique_domain_id  # noqa: E402
from disdepth_ros.ros_arguments import param_override  # noqa: E402
from tests.export.trt_fakes import tiny_disdepth_onnx  # noqa: E402

pytestmark = pytest.mark.torch_free  # also runs in .venv-humble (Python 3.10, numpy 1.x, no torch: the robots' stack)

REPO = Path(__file__).resolve().parents[2]
AWKWARD = ["/models/a b #c: d [e] {f}/m.onnx", "12345", "007", "0x1F", "true", "null", "1e3", "-5", "~/m.onnx", "a'b\"c\\d",
           "tab\there", "new\nline", " lead", "x,y", "a:=b", "#start", "*star", "&anchor", "!tag", "%pct", "@at", "- dash",
           "? q", ">fold", "|lit", "ümlaut/ß/模型.onnx", ""]


def test_rcl_reads_every_quoted_string_back_exactly():
    import rclpy
    from rclpy.node import Node

    wrong = []
    for value in AWKWARD:
        context = rclpy.Context()
        rclpy.init(args=["x", "--ros-args", "-p", param_override("model_path", value)], context=context,
                   domain_id=unique_domain_id(61))
        try:
            node = Node("probe", context=context, automatically_declare_parameters_from_overrides=True)
            got = node.get_parameter("model_path").value
            node.destroy_node()
        finally:
            rclpy.try_shutdown(context=context)
        if got != value:
            wrong.append((value, got))
    assert not wrong
    assert param_override("x", 5.0) == "x:=5.0" and param_override("x", True) == "x:=true" and param_override("x", 3) == "x:=3"


# Model file names a user may well have (relative ones are taken from the node's working folder).
PATHS = ["with space #1/model: v2 [best].onnx", "12345", "[0]/{a}: b #c/m.onnx"]


def _wait_ready(proc: subprocess.Popen, log: Path, timeout: float = 120.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if "ready:" in text or proc.poll() is not None:
            return text
        time.sleep(0.3)
    return log.read_text(errors="replace")


def test_disdepth_node_starts_on_awkward_model_paths(tmp_path):
    model = tmp_path / "tiny.onnx"
    tiny_disdepth_onnx(model, height=48, width=64)
    runs = []
    for i, relative in enumerate(PATHS):
        target = tmp_path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(model, target)
        env = ros_env(unique_domain_id(70 + i), {"PYTHONPATH": str(REPO)})
        if i == 0:  # issue 20, cause 6: a profile Fast DDS cannot parse is reported as not applied
            (tmp_path / "bad.xml").write_text("<dds><profiles><participant>\n")
            env["DISDEPTH_DDS_PROFILE"] = str(tmp_path / "bad.xml")
        env.pop("DISDEPTH_DEBUG", None)
        log = tmp_path / f"node{i}.log"
        with open(log, "w") as stderr:
            proc = subprocess.Popen([sys.executable, "-m", "disdepth_cli", "node", "--model", relative, "--backend", "onnxruntime"],
                                    cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=stderr, text=True)
        runs.append((relative, proc, log))
    try:
        for relative, proc, log in runs:
            text = _wait_ready(proc, log)
            assert "ready: onnxruntime" in text, f"{relative!r}: {text[-2000:]}"
            assert str(tmp_path / relative) in text or relative in text
        first_log = runs[0][2].read_text()
        assert f"DDS profile: not applied: {tmp_path / 'bad.xml'} is not valid XML" in first_log, first_log[-2000:]
    finally:
        for _, proc, _ in runs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        codes = [proc.wait(timeout=30) for _, proc, _ in runs]
    assert codes == [0] * len(runs), [log.read_text()[-1500:] for _, _, log in runs]


def test_the_harness_passes_any_path(tmp_path):
    folder = Path(tempfile.mkdtemp(prefix="a b #c: [d] ", dir=tmp_path))
    model = folder / "99.onnx"
    tiny_disdepth_onnx(model, height=48, width=64)
    proc = NodeProcess(unique_domain_id(75), {"model_path": str(model), "backend": "onnxruntime", "device": "cpu"})
    try:
        deadline = time.monotonic() + 120
        while "ready:" not in proc.stderr_so_far() and proc.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.3)
        assert f"ready: onnxruntime {model}" in proc.stderr_so_far(), proc.stderr_so_far()[-2000:]
    finally:
        rc, _, err = proc.stop()
    assert rc == 0, err[-2000:]
    assert os.path.isfile(model)
