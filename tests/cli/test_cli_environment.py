"""What ``disdepth`` sets up before any subcommand imports torch."""

from __future__ import annotations

import os

import pytest

import disdepth_cli

pytestmark = pytest.mark.torch_free  # also runs in .venv-humble (Python 3.10, numpy 1.x, no torch)


@pytest.mark.parametrize("preset, expected", [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_openmp_threads_wait_passively_unless_the_user_says_otherwise(monkeypatch, capsys, preset, expected):
    """Spin-waiting OpenMP threads are ~10x slower on 2 cores shared with another process."""
    if preset is None:
        monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    else:
        monkeypatch.setenv("OMP_WAIT_POLICY", preset)
    with pytest.raises(SystemExit) as stop:
        disdepth_cli.main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.startswith("disdepth ")
    assert os.environ["OMP_WAIT_POLICY"] == expected
