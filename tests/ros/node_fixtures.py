"""Start a real depth_node subprocess plus a CameraClient on a private ROS domain."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import pytest

pytest.importorskip("rclpy")
from disdepth_ros.harness.camera_client import CameraClient  # noqa: E402
from disdepth_ros.harness.node_process import NodeProcess, unique_domain_id  # noqa: E402


@contextlib.contextmanager
def running_node(checkpoint, offset: int, params: dict[str, Any], **client_kwargs: Any) -> Iterator[tuple[NodeProcess, CameraClient]]:
    """Yield (node process, client) once discovered; on exit require a clean SIGINT shutdown."""
    domain = unique_domain_id(offset)
    base = {"model_path": str(checkpoint), "backend": "torch", "device": "cpu", "diagnostics_period": 0.5}
    proc = NodeProcess(domain, {**base, **params})
    client = CameraClient(domain, **client_kwargs)
    try:
        if not client.wait_for_node(90.0):
            rc, out, err = proc.stop()
            pytest.fail(f"node did not come up (rc {rc}): {err[-3000:]}")
        yield proc, client
    finally:
        client.close()
        rc, out, err = proc.stop()
        assert rc == 0, err[-3000:]
        assert "Traceback" not in err, err[-3000:]
