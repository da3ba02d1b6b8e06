"""``cv2.imdecode`` without the codec's raw stderr lines: its complaints come back as strings.

libpng (inside OpenCV) prints ``libpng error: ...`` / ``libpng warning: ...`` straight to file
descriptor 2, and OpenCV's codec log adds ``[ WARN:0@0.01] global grfmt_png.cpp:793 ...``, so a
truncated PNG showed raw C-library lines before (or, in the node, instead of) a clean message.
File descriptor 2 is redirected to a temporary file around the decode; codec lines are returned
for the caller's error or warning, anything else written meanwhile (another thread's log) is
passed on to stderr unchanged. Costs about 60 us per decode (measured on the 2-core CI machine).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
from typing import Iterator, Optional

import cv2
import numpy as np

_LIBRARY_LINE = re.compile(r"^(?:libpng|libjpeg|libtiff)[^:]*:\s*(?P<msg>.*)$|^(?P<jpeg>(?:Corrupt|Premature end of) JPEG.*)$")
_OPENCV_CODEC_LINE = re.compile(r"^\[\s*(?:WARN|ERROR|INFO)[^\]]*\]\s+global\s+(?:grfmt|loadsave|bitstrm)\S*\s+\S+\s+(?P<msg>.*)$")
_STDERR_LOCK = threading.Lock()  # fd 2 is process-wide: one redirect at a time


def decoder_message(line: str) -> Optional[str]:
    """The message of a codec line written to stderr by libpng/libjpeg/OpenCV, else None."""
    match = _LIBRARY_LINE.match(line) or _OPENCV_CODEC_LINE.match(line)
    if match is None:
        return None
    return (match.groupdict().get("msg") or match.groupdict().get("jpeg") or "").strip()


@contextlib.contextmanager
def _native_stderr_captured(into: list[str]) -> Iterator[None]:
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all (daemonised): nothing to capture
        yield
        return
    with _STDERR_LOCK, tempfile.TemporaryFile() as sink:
        if sys.stderr is not None:
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
                message = decoder_message(line)
                if message is None:
                    other.append(line)
                elif message and message not in into:
                    into.append(message)
            if other and sys.stderr is not None:
                sys.stderr.write("\n".join(other) + "\n")


def imdecode_quiet(data: np.ndarray, flags: int) -> tuple[Optional[np.ndarray], list[str]]:
    """``(cv2.imdecode(data, flags), the codec's messages)``; the image is None when decoding failed."""
    messages: list[str] = []
    with _native_stderr_captured(messages):
        image = cv2.imdecode(data, flags)
    return image, messages
