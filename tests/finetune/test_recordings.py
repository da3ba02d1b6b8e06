"""Reading RGB-D recordings: real rosbag2 files (sqlite3, MCAP) and image folders; every refusal is one line."""

from __future__ import annotations

import numpy as np
import pytest

from disdepth_core.bags.reader import BagError
from disdepth_core.bags.rgbd_writer import write_rgbd_bag
from disdepth_core.bags.writer import BagWriter, MessageFactory
from disdepth_core.data.image_sequence import ImageSequenceRecording
from disdepth_core.data.recordings import RecordingOptions, open_recording
from disdepth_core.rgbd_recording import RecordingError, RgbdFrame, SkippedFrame

from .helpers import TOPICS, image_folder, room_frames, tiny_bag

pytestmark = pytest.mark.torch_free  # also runs in .venv-humble (Python 3.10, numpy 1.x, no torch)
OPTIONS = RecordingOptions(image_topic=TOPICS.compressed, depth_topic=TOPICS.depth)


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_bag_frames_match_what_was_recorded(tmp_path, storage):
    bag = tiny_bag(tmp_path / "bag", storage, count=6)
    with open_recording(bag, RecordingOptions(image_topic=TOPICS.color, depth_topic=TOPICS.depth)) as recording:
        assert recording.info.frames == 6 and recording.info.size_hw == (96, 144)
        assert recording.info.camera_source == f"camera_info {TOPICS.color_info}"  # found beside the image topic
        frames = list(recording.frames())
    expected = room_frames(6)
    assert [f.index for f in frames] == list(range(6)) and not recording.skipped
    for got, want in zip(frames, expected):
        np.testing.assert_array_equal(got.rgb, want.rgb)  # rgb8: lossless
        np.testing.assert_allclose(got.depth, want.depth, atol=0.0006)  # 16UC1 millimetres
        np.testing.assert_allclose(got.K, want.K)
    stamps = [f.stamp_ns for f in frames]
    assert np.allclose(np.diff(stamps), 1e9 / 30, atol=1)  # 30 Hz, paired across the 4 ms depth delay


def test_depth_stamped_later_than_max_dt_is_skipped_and_counted(tmp_path):
    bag = tiny_bag(tmp_path / "bag", count=4, colour="jpeg", depth_delay_s=0.015)
    with open_recording(bag, RecordingOptions(TOPICS.compressed, TOPICS.depth, max_dt=0.01)) as recording:
        items = list(recording.frames())
    assert all(isinstance(i, SkippedFrame) for i in items)
    assert recording.skipped == {"no depth within --max-dt 0.01 s": 4}
    with open_recording(bag, OPTIONS) as recording:  # the default 0.02 s
        assert [i.index for i in recording.frames() if isinstance(i, RgbdFrame)] == [0, 1, 2, 3]


def test_bad_frames_inside_a_good_bag_are_skipped_and_counted(tmp_path):
    frames = list(room_frames(6))
    frames[2] = RgbdFrame(2, 2, frames[2].rgb, np.zeros_like(frames[2].depth), frames[2].K)  # depth all zero
    path = write_rgbd_bag(frames, tmp_path / "bag", colour="jpeg")
    broken = tmp_path / "broken"
    with BagWriter(broken, "sqlite3") as writer, open_recording(path, OPTIONS) as source:
        for message in source.bag.messages():
            raw = message.raw
            if message.topic == TOPICS.compressed and message.log_time_ns == source_stamp(4):
                msg = source.bag.deserialize(message)
                msg.data = msg.data[: len(msg.data) // 3]  # a truncated JPEG
                raw = writer.typestore.serialize_cdr(msg, message.msgtype)
            writer.add_raw(message.topic, message.msgtype, raw, message.log_time_ns)
    with open_recording(broken, OPTIONS) as recording:
        good = [i.index for i in recording.frames() if isinstance(i, RgbdFrame)]
    assert good == [0, 1, 3, 5]
    assert sum(recording.skipped.values()) == 2 and "depth without a valid pixel (all zero)" in recording.skipped
    assert any(reason.startswith("bad image: cannot decode compressed image") for reason in recording.skipped)


def source_stamp(index: int) -> int:
    return 1_700_000_000 * 10**9 + index * int(round(1e9 / 30))


def _one_line(err: Exception) -> str:
    text = str(err)
    assert "\n" not in text
    return text


def test_missing_topic_lists_what_the_bag_has(tmp_path):
    bag = tiny_bag(tmp_path / "bag", count=2, colour="jpeg")
    with pytest.raises(BagError) as err:
        open_recording(bag, RecordingOptions(TOPICS.compressed, "/camera/depth/image_raw"))
    assert "depth topic '/camera/depth/image_raw' is not in bag" in _one_line(err.value)
    assert f"{TOPICS.depth} (Image, 2)" in str(err.value)


def test_unregistered_depth_is_refused_with_what_to_record(tmp_path):
    bag = tiny_bag(tmp_path / "bag", count=2, colour="jpeg", unregistered=True)
    with open_recording(bag, OPTIONS):
        pass  # the aligned topic is fine
    with pytest.raises(RecordingError) as err:
        open_recording(bag, RecordingOptions(TOPICS.compressed, TOPICS.raw_depth))
    text = _one_line(err.value)
    assert "is not registered to colour" in text and "aligned_depth_to_color" in text


def _bag_with_depth(path, depth_pixels, encoding, depth_hw=None):
    """One colour frame and one depth message of ``encoding`` (raw pixels as given)."""
    factory = MessageFactory()
    frame = room_frames(2)[0]
    with BagWriter(path, "sqlite3") as writer:
        header = factory.header(source_stamp(0), "cam")
        writer.add("/c/image", "sensor_msgs/msg/Image", factory.image(frame.rgb, "rgb8", header), source_stamp(0))
        writer.add("/c/camera_info", "sensor_msgs/msg/CameraInfo", factory.camera_info(frame.K, frame.rgb.shape[:2], header), source_stamp(0))
        writer.add("/d/image", "sensor_msgs/msg/Image", factory.image(depth_pixels, encoding, header), source_stamp(0))
    return path


@pytest.mark.parametrize("pixels,encoding,expected", [
    (np.full((96, 144), 30, np.uint8), "mono8", "is 8-bit (mono8): 8 bits cannot hold metric depth"),
    (np.zeros((96, 144, 3), np.uint8), "rgb8", "has encoding 'rgb8'; supported: 16UC1 or mono16"),
    (np.full((50, 50), 1000, np.uint16), "16UC1", "depth on '/d/image' is 50x50 but the colour images are 144x96"),
])
def test_unusable_depth_is_one_line(tmp_path, pixels, encoding, expected):
    bag = _bag_with_depth(tmp_path / "bag", pixels, encoding)
    with pytest.raises(RecordingError) as err:
        open_recording(bag, RecordingOptions("/c/image", "/d/image"))
    assert expected in _one_line(err.value)


def test_half_size_depth_of_the_same_view_is_resized(tmp_path):
    bag = _bag_with_depth(tmp_path / "bag", np.full((48, 72), 2500, np.uint16), "16UC1")
    with open_recording(bag, RecordingOptions("/c/image", "/d/image")) as recording:
        (frame,) = list(recording.frames())
    assert frame.depth.shape == (96, 144) and np.allclose(frame.depth, 2.5)
    assert "resized to the colour size" in recording.info.depth_note


def test_no_intrinsics_is_one_line_and_command_line_intrinsics_work(tmp_path):
    bag = tiny_bag(tmp_path / "bag", count=2, colour="jpeg", topics=type(TOPICS)(color_info="/elsewhere/info"))
    with pytest.raises(RecordingError) as err:
        open_recording(bag, OPTIONS)
    assert "no camera intrinsics" in _one_line(err.value) and "/elsewhere/info" in str(err.value)
    given = (129.6, 129.6, 71.5, 47.5)
    with open_recording(bag, RecordingOptions(TOPICS.compressed, TOPICS.depth, intrinsics=given)) as recording:
        assert recording.info.K[0, 0] == 129.6 and recording.info.camera_source == "given on the command line"
    with pytest.raises(RecordingError, match="not registered to colour"):  # the aligned depth's own camera_info disagrees
        open_recording(bag, RecordingOptions(TOPICS.compressed, TOPICS.depth, intrinsics=(100.0, 100.0, 72.0, 48.0)))


def test_image_folder_3dmatch_layout(tmp_path):
    folder = image_folder(tmp_path / "seq", count=5)
    with open_recording(folder, RecordingOptions()) as recording:
        assert isinstance(recording, ImageSequenceRecording) and recording.info.camera_source == "camera-intrinsics.txt"
        frames = list(recording.frames())
    assert [f.index for f in frames] == list(range(5))
    np.testing.assert_allclose(frames[3].depth, room_frames(5)[3].depth, atol=0.0006)
    np.testing.assert_array_equal(frames[3].rgb, room_frames(5)[3].rgb)


def test_image_folder_tum_layout_pairs_by_time_and_reads_tum_scale(tmp_path):
    import cv2

    root = tmp_path / "tum"
    (root / "rgb").mkdir(parents=True)
    (root / "depth").mkdir()
    (root / "depth.txt").write_text("# depth maps\n")
    for i, frame in enumerate(room_frames(4)):
        t = 1305031102.0 + i / 30
        cv2.imwrite(str(root / "rgb" / f"{t:.6f}.png"), cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(root / "depth" / f"{t + 0.011:.6f}.png"), np.round(frame.depth * 5000).astype(np.uint16))
    with open_recording(root, RecordingOptions(intrinsics=(130, 130, 72, 48))) as recording:
        frames = list(recording.frames())
    assert len(frames) == 4 and recording.depth_scale == 5000.0
    np.testing.assert_allclose(frames[2].depth, room_frames(4)[2].depth, atol=0.0002)


def test_image_folder_refusals(tmp_path):
    with pytest.raises(RecordingError, match="8-bit"):
        open_recording(image_folder(tmp_path / "a", count=2, depth_dtype=np.uint8, scale=10), RecordingOptions())
    with pytest.raises(RecordingError, match="no camera intrinsics .* pass --fx --fy --cx --cy"):
        open_recording(image_folder(tmp_path / "b", count=2, intrinsics=False), RecordingOptions())
    (tmp_path / "c").mkdir()
    with pytest.raises(RecordingError, match="neither a rosbag2"):
        open_recording(tmp_path / "c", RecordingOptions())
