"""Start a real ``depth_node`` as a subprocess (what users run), on a private ROS domain.

Shared by the demo, the end-to-end tests and the latency benchmark, so all three exercise
``python -m disdepth_ros.depth_node --ros-args ...``. Each run gets its own ROS_DOMAIN_ID and
discovery is kept on localhost, so concurrent runs never see each other. No rclpy import:
the process is driven from outside.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from typing import Any, Optional

from ..ros_arguments import param_override

LOCALHOST_ENV = {"ROS_LOCALHOST_ONLY": "1", "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}


def unique_domain_id(offset: int = 0) -> int:
    """A domain in 1..100 derived from the pid, so parallel test processes do not cross-talk."""
    return 1 + (os.getpid() * 7 + offset * 31) % 100


def ros_env(domain_id: int, extra: Optional[dict[str, str]] = None) -> dict[str, str]:
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain_id), PYTHONUNBUFFERED="1", **LOCALHOST_ENV)
    env.setdefault("OMP_NUM_THREADS", "2")
    env.update(extra or {})
    return env


class NodeProcess:
    """``python -m disdepth_ros.depth_node`` with ``-p`` parameters and ``-r`` remappings."""

    def __init__(self, domain_id: int, params: Optional[dict[str, Any]] = None, remap: Optional[dict[str, str]] = None,
                 params_file: Optional[str] = None) -> None:
        cmd = [sys.executable, "-m", "disdepth_ros.depth_node", "--ros-args"]
        if params_file:
            cmd += ["--params-file", params_file]
        for name, value in (params or {}).items():
            cmd += ["-p", param_override(name, value)]  # quoted: any path or string arrives intact
        for src, dst in (remap or {}).items():
            cmd += ["-r", f"{src}:={dst}"]
        self.cmd = cmd
        # Logs go to temporary files, not pipes: nobody reads a pipe until stop(), and a node that
        # logs more than the pipe buffer (64 KB) would block on its next write.
        self._stdout = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")
        self._stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")
        self._result: Optional[tuple[int, str, str]] = None
        self.proc = subprocess.Popen(cmd, env=ros_env(domain_id), stdout=self._stdout, stderr=self._stderr, text=True)
        self.pid = self.proc.pid

    def rss_kb(self) -> int:
        """Resident set size from /proc (Linux), in kB."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stderr_so_far(self) -> str:
        """The node's log while it runs (pread: the child's write offset is shared and left alone)."""
        if self._result is not None:
            return self._result[2]
        return os.pread(self._stderr.fileno(), 1 << 22, 0).decode("utf-8", errors="replace")

    def stop(self, timeout: float = 20.0) -> tuple[int, str, str]:
        """SIGINT (like Ctrl-C), wait, and return (exit code, stdout, stderr); kill if stuck.

        Safe to call again: later calls return the first call's result.
        """
        if self._result is not None:
            return self._result
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        logs = []
        for f in (self._stdout, self._stderr):
            f.seek(0)
            logs.append(f.read())
            f.close()
        self._result = (self.proc.returncode, logs[0], logs[1])
        return self._result
