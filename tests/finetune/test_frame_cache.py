"""The frame cache's split (a gap of time before the held-out frames) and its build by one process of many."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from disdepth_core.data.frame_cache import GAP, HELDOUT, MIN_GAP_S, MIN_TRAIN_FRAMES, TRAIN, FrameCache, split_labels
from disdepth_core.data.recordings import RecordingOptions
from disdepth_core import folder_build
from disdepth_core.synthetic import training_pool

from .helpers import TOPICS, tiny_bag

ROOT = Path(__file__).resolve().parents[2]
PERIOD_30HZ = int(round(1e9 / 30))


def stamps(count: int, period_ns: int = PERIOD_30HZ, start_ns: int = 1_700_000_000 * 10**9) -> list[int]:
    return [start_ns + i * period_ns for i in range(count)]


def test_the_gap_is_the_second_before_the_held_out_frames():
    """Review finding: a gap of 1 % of the frames is 0.1 s at 30 Hz, so the first held-out frames
    were near-duplicates of the last training ones."""
    times = stamps(300)
    labels = split_labels(300, 0.2, times)
    assert Counter(labels) == {TRAIN: 211, GAP: 29, HELDOUT: 60}
    assert labels == sorted(labels, key=[TRAIN, GAP, HELDOUT].index)  # contiguous: train, gap, held out
    first_held, last_train = times[labels.index(HELDOUT)], times[labels.index(GAP) - 1]
    assert first_held - last_train >= MIN_GAP_S * 1e9 - 1e6  # (a frame exactly 1 s before stays, whatever the rounding)
    assert first_held - times[labels.index(GAP)] < MIN_GAP_S * 1e9  # and no more is dropped than that second


def test_the_gap_falls_back_to_counting_frames_without_times():
    assert split_labels(300, 0.2) == split_labels(300, 0.2, [0] * 300) == [TRAIN] * 237 + [GAP] * 3 + [HELDOUT] * 60
    backwards = stamps(300)[::-1]  # not a time order: no time to measure with
    assert split_labels(300, 0.2, backwards) == split_labels(300, 0.2)
    # frames 1 s apart (every 30th of a 30 Hz recording): no frame is within the second, 1 % stays
    assert Counter(split_labels(300, 0.2, stamps(300, 10**9)))[GAP] == 3


def test_a_short_recording_spares_at_most_a_tenth_of_its_frames():
    """A recording of a few seconds cannot give a whole second of its views to the gap."""
    assert Counter(split_labels(24, 0.2, stamps(24))) == {TRAIN: 17, GAP: 2, HELDOUT: 5}  # 0.8 s
    assert Counter(split_labels(50, 0.2, stamps(50))) == {TRAIN: 35, GAP: 5, HELDOUT: 10}  # the shared 1.7 s fragment
    assert Counter(split_labels(20, 0.5, stamps(20))) == {TRAIN: MIN_TRAIN_FRAMES, GAP: 2, HELDOUT: 10}
    assert Counter(split_labels(6, 0.2, stamps(6))) == {TRAIN: 3, GAP: 1, HELDOUT: 2}  # the 1 % gap: too few (refused later)


def test_the_cache_splits_by_the_recordings_stamps(tmp_path):
    from disdepth_core.data.frame_cache import build_frame_cache
    from disdepth_core.data.recordings import open_recording

    bag = tiny_bag(tmp_path / "bag", count=60, colour="jpeg", rate_hz=5.0)  # 12 s
    with open_recording(bag, RecordingOptions(TOPICS.compressed, TOPICS.depth)) as recording:
        cache = build_frame_cache(tmp_path / "cache", [recording], (48, 72), {"test": 1}, progress=False, log=lambda _: None)
    labels = [f["split"] for f in cache.frames]
    assert labels == [TRAIN] * 44 + [GAP] * 4 + [HELDOUT] * 12  # frames 0.2 s apart: 0.8 s dropped, 1.0 s kept
    first_held = cache.frames[labels.index(HELDOUT)]["stamp_ns"]
    assert first_held - cache.frames[43]["stamp_ns"] == pytest.approx(1e9, abs=1e6)


BUILDER = """
import os, sys, time
from pathlib import Path
from disdepth_core.data import frame_cache
from disdepth_core.data.recordings import RecordingOptions, open_recording

bag, root, marker, go, image_topic, depth_topic = sys.argv[1:]
resize = frame_cache.resize_frame

def slow_resize(*args):  # a slow decode, so the two builds would overlap
    with open(marker, "a") as handle:
        handle.write(f"{os.getpid()}\\n")
    time.sleep(0.03)
    return resize(*args)

frame_cache.resize_frame = slow_resize
while not Path(go).exists():
    time.sleep(0.005)
with open_recording(bag, RecordingOptions(image_topic, depth_topic)) as recording:
    cache = frame_cache.build_frame_cache(root, [recording], (48, 72), {"test": 1}, progress=False, log=lambda _: None)
print(len(cache.frames), (cache.root / "frames.json").stat().st_ino)
"""


def test_two_processes_building_one_cache_share_one_build(tmp_path):
    """Review finding: every DDP rank decoded the recording into the same folder, and the last
    rmtree + rename could fail (ENOTEMPTY). Now one decodes; the other waits and opens its cache."""
    bag = tiny_bag(tmp_path / "bag", count=24, colour="jpeg")
    root, marker, go = tmp_path / "runs" / "cache", tmp_path / "decoded.txt", tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_WAIT_POLICY": "PASSIVE"}
    args = [sys.executable, "-c", BUILDER, str(bag), str(root), str(marker), str(go), TOPICS.compressed, TOPICS.depth]
    builders = [subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(2)]
    time.sleep(0.5)  # both started (imports done or nearly)
    go.touch()
    outputs = [builder.communicate(timeout=300) for builder in builders]
    assert [builder.returncode for builder in builders] == [0, 0], [err for _, err in outputs]
    assert len({out for out, _ in outputs}) == 1  # the same cache: 24 frames, one frames.json
    decoders = Counter(marker.read_text().split())
    assert len(decoders) == 1 and sum(decoders.values()) == 24, decoders  # decoded once, by one process
    assert sorted(p.name for p in root.parent.iterdir()) == ["cache"]  # no lock file or temporary folder left
    assert len(FrameCache.open(root).frames) == 24


def test_a_cache_published_meanwhile_by_another_process_is_kept(tmp_path, monkeypatch):
    """Without a lock (no flock on the filesystem), a rename that fails because another builder
    published the same cache first keeps that one."""
    root, tmp = tmp_path / "cache", tmp_path / ".cache.9.tmp"
    tmp.mkdir()
    (tmp / "frames.json").write_text("{}")

    def other_process_wins(src, dst):
        Path(dst).mkdir()
        (Path(dst) / "frames.json").write_text(json.dumps({"key": "k"}))
        raise OSError(errno.ENOTEMPTY, "Directory not empty")

    monkeypatch.setattr(folder_build.os, "replace", other_process_wins)
    complete = lambda: json.loads((root / "frames.json").read_text()).get("key") == "k"  # noqa: E731
    folder_build.publish_folder(tmp, root, complete)
    assert complete() and not tmp.exists()
    tmp.mkdir()
    with pytest.raises(OSError, match="not empty"):  # a folder that is not the same cache: the failure stands
        folder_build.publish_folder(tmp, tmp_path / "other", lambda: False)
    assert not tmp.exists()


def test_the_synthetic_pool_is_rendered_once_for_concurrent_callers(tmp_path, monkeypatch):
    calls = []
    render = training_pool._render

    def slow_render(*args):
        calls.append(threading.get_ident())
        time.sleep(0.3)
        render(*args)

    monkeypatch.setattr(training_pool, "_render", slow_render)
    results: list = []

    def ensure():  # flock locks each open file: two threads wait for each other as two processes do
        results.append(training_pool.ensure_synthetic_pool(tmp_path / "pool", 2, (24, 32), 30.0, progress=False))

    threads = [threading.Thread(target=ensure) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(calls) == 1 and len(results) == 2
    np.testing.assert_array_equal(results[0][1], results[1][1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pool"]
