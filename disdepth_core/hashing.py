"""File hashing shared by checkpoints, ONNX export and TensorRT engines, with no heavy imports.

It lives outside :mod:`disdepth_core.models` (whose package imports torch) because robots that
only build and run TensorRT engines often have no torch: verifying an engine's sidecar or
recording an ONNX file's hash must not pull in training machinery.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in ``chunk``-byte blocks so large engines never sit in memory twice."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()
