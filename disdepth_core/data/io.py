"""Image and depth-map readers with errors that name the offending file.

OpenCV's ``imread`` returns ``None`` instead of raising, which turns a missing file into a
confusing ``NoneType`` error deep in a DataLoader worker; these wrappers fail early and say
which path was wrong and why.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

# libpng (inside OpenCV) prints "libpng error: ..." / "libpng warning: ..." straight to file
# descriptor 2, and OpenCV's own codec log adds "[ WARN:0@0.01] global grfmt_png.cpp:793 ...", so a
# corrupt file showed raw C-library lines before our clean error. The decoder's output is captured
# around imdecode and folded into the error (or into a warning naming the file).
_LIBRARY_LINE = re.compile(r"^(?:libpng|libjpeg|libtiff)[^:]*:\s*(?P<msg>.*)$|^(?P<jpeg>(?:Corrupt|Premature end of) JPEG.*)$")
_OPENCV_CODEC_LINE = re.compile(r"^\[\s*(?:WARN|ERROR|INFO)[^\]]*\]\s+global\s+(?:grfmt|loadsave|bitstrm)\S*\s+\S+\s+(?P<msg>.*)$")
_STDERR_LOCK = threading.Lock()


def _decoder_message(line: str) -> str | None:
    """The message of a codec line written to stderr by libpng/libjpeg/OpenCV, else None."""
    match = _LIBRARY_LINE.match(line) or _OPENCV_CODEC_LINE.match(line)
    if match is None:
        return None
    return (match.groupdict().get("msg") or match.groupdict().get("jpeg") or "").strip()


class ImageDecodeWarning(UserWarning):
    """The image decoded, but its decoder complained (e.g. an incorrect colour profile)."""


@contextlib.contextmanager
def _native_stderr_captured(into: list[str]) -> Iterator[None]:
    """Route file descriptor 2 to a temp file; decoder messages go to ``into``, other lines back to stderr."""
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all (daemonised): nothing to capture
        yield
        return
    with _STDERR_LOCK, tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            other = []
            for line in sink.read().decode("utf-8", errors="replace").splitlines():
                message = _decoder_message(line)
                if message is None:
                    other.append(line)
                elif message and message not in into:
                    into.append(message)
            if other:  # another thread's output during the window: pass it on unchanged
                sys.stderr.write("\n".join(other) + "\n")


def _imread(path: str | Path, flags: int) -> np.ndarray:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"image file not found: {path}")
    # imdecode from bytes handles non-ASCII paths on every platform, unlike cv2.imread.
    data = np.fromfile(path, dtype=np.uint8)
    if not data.size:
        raise ValueError(f"image file is empty (0 bytes): {path}")
    decoder_lines: list[str] = []
    with _native_stderr_captured(decoder_lines):
        image = cv2.imdecode(data, flags)
    detail = "; ".join(decoder_lines)
    if image is None:
        reason = f"corrupt or truncated: {detail}" if detail else "corrupt or unsupported format"
        raise ValueError(f"could not decode image file ({reason}): {path}")
    if detail:
        warnings.warn(f"{path}: decoder warning: {detail}", ImageDecodeWarning, stacklevel=3)
    return image


def read_rgb(path: str | Path) -> np.ndarray:
    """Read a colour image as ``[H, W, 3]`` uint8 in RGB order (OpenCV loads BGR).

    Grey-scale files are expanded to three channels so every model input has the same layout.
    """
    image = _imread(path, cv2.IMREAD_COLOR)
    return np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))


def read_depth_png(path: str | Path, scale: float) -> np.ndarray:
    """Read a uint16 depth PNG and return metres as float32 ``[H, W]`` (``value / scale``).

    KITTI stores ``metres * 256`` and NYU (BTS sync layout) millimetres, both with 0 meaning
    "no measurement"; 0 stays 0 here. Any other dtype or channel count is rejected, because a
    depth map silently re-encoded as 8-bit or RGB would train on garbage.
    """
    if not scale > 0:
        raise ValueError(f"depth scale must be positive, got {scale!r} (reading {path})")
    depth = _imread(path, cv2.IMREAD_UNCHANGED)
    if depth.dtype != np.uint16 or depth.ndim != 2:
        raise ValueError(
            f"depth file must be a single-channel uint16 PNG, found dtype {depth.dtype} "
            f"shape {tuple(depth.shape)}: {os.fspath(path)}"
        )
    return depth.astype(np.float32) / np.float32(scale)
