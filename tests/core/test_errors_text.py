"""The one shared "exception as one line" helpers (used by the CLI, train, bags, trainer, checkpoint)."""

from __future__ import annotations

import pytest

from disdepth_core import cli
from disdepth_core.errors_text import last_line, one_line, typed_first_line

pytestmark = pytest.mark.torch_free  # also runs in .venv-humble (Python 3.10, numpy 1.x, no torch)


def test_one_line_joins_lines_and_falls_back_to_the_type():
    assert one_line(ValueError("bad\n\n  value  \n")) == "bad value"
    assert one_line(KeyError()) == "KeyError"
    assert cli.one_line is one_line


def test_one_line_limit_cuts_with_an_ellipsis():
    assert one_line(ValueError("x" * 300), limit=300) == "x" * 300
    cut = one_line(ValueError("x" * 301), limit=300)
    assert len(cut) == 300 and cut.endswith("...")


def test_typed_first_line_and_last_line():
    assert typed_first_line(OSError("first\nsecond")) == "OSError: first"
    assert typed_first_line(OSError("y" * 500)) == "OSError: " + "y" * 200
    assert typed_first_line(EOFError()) == "EOFError"
    assert last_line(RuntimeError("Traceback:\n  File x\nValueError: boom")) == "ValueError: boom"
    assert last_line(RuntimeError("boom")) == "RuntimeError: boom"
    assert last_line(RuntimeError()) == "RuntimeError"
