"""bag-eval checks its topics and files before it loads a model (review findings).

A topic named for two roles used to fill only the first (the sparse anchor silently never ran,
exit 0); an empty --sparse-depth-topic silently turned the anchor off; a missing bag or topic was
reported only after the model had been exported for the fast CPU path (seconds to minutes).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from disdepth_cli import main
from disdepth_core.bags.writer import BagWriter, MessageFactory

IMAGE, DEPTH, INFO = "/cam/image", "/cam/depth", "/cam/info"


@pytest.fixture(scope="module")
def bag(tmp_path_factory):
    path = tmp_path_factory.mktemp("roles") / "bag"
    factory = MessageFactory()
    rgb = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    with BagWriter(path, "sqlite3") as writer:
        header = factory.header(1, "cam")
        writer.add(IMAGE, "sensor_msgs/msg/Image", factory.image(rgb, "rgb8", header), 1)
        writer.add(DEPTH, "sensor_msgs/msg/Image", factory.image(np.full((48, 64), 2.0, np.float32), "32FC1", header), 1)
    return path


CASES = [
    (["--depth-topic", DEPTH, "--sparse-depth-topic", DEPTH], f"--depth-topic and --sparse-depth-topic are both {DEPTH}"),
    (["--depth-topic", IMAGE], f"--image-topic and --depth-topic are both {IMAGE}"),
    (["--sparse-depth-topic", IMAGE], f"--image-topic and --sparse-depth-topic are both {IMAGE}"),
    (["--sparse-depth-topic", ""], "--sparse-depth-topic is empty: give a topic name; the bag's topics: /cam/depth"),
    (["--depth-topic", "/nope"], "ground-truth depth topic '/nope' is not in bag"),
]


@pytest.mark.parametrize("extra,expected", CASES, ids=[" ".join(c[0]) or "empty" for c in CASES])
def test_topic_roles_are_checked_before_the_model_loads(bag, tmp_path, capsys, extra, expected):
    missing_model = tmp_path / "never_loaded.pt"
    missing_model.write_bytes(b"not a model: loading it would fail differently")
    code = main(["bag-eval", str(bag), "--model", str(missing_model), "--image-topic", IMAGE, "--out", str(tmp_path / "out"),
                 "--no-progress", *extra])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and expected in err, err
    assert not (tmp_path / "out").exists()


def test_a_missing_model_or_bag_is_one_line_without_a_fast_path_attempt(bag, tmp_path, capsys):
    start = time.perf_counter()
    assert main(["bag-eval", str(tmp_path / "no_bag"), "--model", str(tmp_path / "nope.pt"), "--image-topic", IMAGE,
                 "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: model file not found") and "fast CPU path" not in captured.out + captured.err
    assert time.perf_counter() - start < 10
