"""Split-file parsing: valid lines, comments, None depth and error messages with line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from disdepth_core.data.splits import SplitEntry, SplitFileError, read_split_file

pytestmark = pytest.mark.torch_free  # also runs in .venv-humble (Python 3.10, numpy 1.x, no torch)


def _write(tmp_path: Path, text: str, name: str = "split.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_entries_skipping_blank_and_comment_lines(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "# KITTI eigen\n"
        "\n"
        "2011_09_26/a/image_02/data/0000000069.png a/proj_depth/groundtruth/image_02/0000000069.png 721.5377\n"
        "   # indented comment\n"
        "bathroom/rgb_00045.jpg None 518.8579\n",
    )
    entries = read_split_file(path)
    assert entries == [
        SplitEntry("2011_09_26/a/image_02/data/0000000069.png",
                   "a/proj_depth/groundtruth/image_02/0000000069.png", 721.5377, 3),
        SplitEntry("bathroom/rgb_00045.jpg", None, 518.8579, 5),
    ]


def test_accepts_string_path_and_empty_file(tmp_path: Path) -> None:
    assert read_split_file(str(_write(tmp_path, "# nothing\n\n"))) == []


@pytest.mark.parametrize(
    "bad_line, needle",
    [
        ("a.png b.png", "3 fields"),
        ("a.png b.png 500 extra", "found 4"),
        ("a.png b.png focal", "not a number"),
        ("a.png b.png -3", "positive"),
        ("a.png b.png 0", "positive"),
        ("a.png b.png nan", "positive"),
    ],
)
def test_malformed_line_names_file_line_and_content(tmp_path: Path, bad_line: str, needle: str) -> None:
    path = _write(tmp_path, "# header\nok.png ok_d.png 720.0\n" + bad_line + "\n", name="my_split.txt")
    with pytest.raises(SplitFileError) as info:
        read_split_file(path)
    message = str(info.value)
    assert "my_split.txt" in message
    assert "line 3" in message
    assert bad_line in message
    assert needle in message
    assert isinstance(info.value, ValueError)


def test_missing_split_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "train.txt"
    with pytest.raises(FileNotFoundError, match="train.txt"):
        read_split_file(missing)


def test_two_field_lines_use_default_focal(tmp_path: Path) -> None:
    path = _write(tmp_path, "a.png a_d.png\nb.png b_d.png 300\n")
    entries = read_split_file(path, default_focal=450.0)
    assert [e.focal for e in entries] == [450.0, 300.0]
    with pytest.raises(SplitFileError, match="line 1.*focal length in the dataset config"):
        read_split_file(path)
    with pytest.raises(ValueError, match="default_focal"):
        read_split_file(path, default_focal=0.0)
