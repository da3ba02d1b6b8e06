"""File digests shared by checkpoints, ONNX files and TensorRT engines.

Kept out of ``models.checkpoint`` (which imports torch) because the TensorRT path checks engine
and ONNX digests on robots that have no torch.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex digest used to tie exported artifacts to the checkpoint or ONNX they came from."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()
