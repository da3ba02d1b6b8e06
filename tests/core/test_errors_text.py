"""The one shared "exception as one line" helpers and the one exception -> exit status mapping of every entry point."""

from __future__ import annotations

import pytest

from disdepth_core.entry_point import EXIT_BUG, EXIT_INTERRUPTED, EXIT_USER_ERROR, UserError, run_entry_point
from disdepth_core.errors_text import last_line, one_line, typed_first_line

pytestmark = pytest.mark.torch_free  # also runs in .venv-humble (Python 3.10, numpy 1.x, no torch)


def test_one_line_joins_lines_and_falls_back_to_the_type():
    assert one_line(ValueError("bad\n\n  value  \n")) == "bad value"
    assert one_line(KeyError()) == "KeyError"


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


@pytest.mark.parametrize("raised, status, line", [
    (UserError("bad --x\nsecond line"), EXIT_USER_ERROR, "error: bad --x second line\n"),
    (ValueError("not a number"), EXIT_USER_ERROR, "error: not a number\n"),
    (PermissionError(13, "Permission denied", "/root/x"), EXIT_USER_ERROR, "error: [Errno 13] Permission denied: '/root/x'\n"),
    (KeyboardInterrupt(), EXIT_INTERRUPTED, "interrupted\n"),
])
def test_entry_point_maps_user_errors_and_ctrl_c(raised, status, line, capsys):
    def body():
        raise raised

    assert run_entry_point(body) == status
    assert capsys.readouterr().err == line


def test_entry_point_bug_is_one_line_and_debug_reraises(capsys):
    def body():
        raise KeyError("boom")

    assert run_entry_point(body) == EXIT_BUG
    err = capsys.readouterr().err
    assert err.startswith("error: unexpected KeyError: 'boom' (a bug: rerun with --debug") and err.count("\n") == 1
    with pytest.raises(KeyError):
        run_entry_point(body, debug=True)
    assert run_entry_point(lambda: None) == 0 and run_entry_point(lambda: 3) == 3
