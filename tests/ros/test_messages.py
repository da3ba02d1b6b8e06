"""messages.py: every input encoding, row padding, byte order, round trips and bad messages."""

from __future__ import annotations

import array

import cv2
import numpy as np
import pytest

pytest.importorskip("rclpy")
from sensor_msgs.msg import CameraInfo, CompressedImage, Image  # noqa: E402

from disdepth_core.geometry import depth_to_points, scale_intrinsics  # noqa: E402
from disdepth_core import image_decoding, message_layout  # noqa: E402
from disdepth_ros import messages  # noqa: E402

pytestmark = pytest.mark.torch_free  # also runs in .venv-humble (Python 3.10, numpy 1.x, no torch)

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)


def make_image(pixels: np.ndarray, encoding: str, pad: int = 0, big: bool = False) -> Image:
    """An Image with ``pad`` extra bytes per row, as some drivers send."""
    pixels = pixels.reshape(pixels.shape[0], pixels.shape[1], -1)
    if pixels.dtype == np.uint16:
        pixels = pixels.astype(">u2" if big else "<u2")
    rows = pixels.reshape(pixels.shape[0], -1).view(np.uint8)
    padded = np.zeros((rows.shape[0], rows.shape[1] + pad), dtype=np.uint8)
    padded[:, :rows.shape[1]] = rows
    msg = Image(height=pixels.shape[0], width=pixels.shape[1], encoding=encoding, is_bigendian=big, step=padded.shape[1])
    msg.data = array.array("B", padded.tobytes())
    return msg


@pytest.mark.parametrize("pad", [0, 3])
@pytest.mark.parametrize("encoding,make", [
    ("rgb8", lambda c: c), ("bgr8", lambda c: c[..., ::-1]), ("8UC3", lambda c: c[..., ::-1]),
    ("rgba8", lambda c: np.dstack([c, np.full(c.shape[:2], 9, np.uint8)])),
    ("bgra8", lambda c: np.dstack([c[..., ::-1], np.full(c.shape[:2], 9, np.uint8)])),
    ("8UC4", lambda c: np.dstack([c[..., ::-1], np.full(c.shape[:2], 9, np.uint8)])),
])
def test_color_encodings_to_rgb(encoding, make, pad):
    out = image_decoding.image_to_rgb(make_image(np.ascontiguousarray(make(RGB)), encoding, pad))
    assert out.dtype == np.uint8 and out.shape == RGB.shape
    np.testing.assert_array_equal(out, RGB)


@pytest.mark.parametrize("encoding", ["mono8", "8UC1"])
def test_mono8_is_grey_rgb(encoding):
    grey = RGB[..., 0]
    out = image_decoding.image_to_rgb(make_image(grey, encoding, pad=1))
    np.testing.assert_array_equal(out, np.dstack([grey] * 3))


@pytest.mark.parametrize("big", [False, True])
@pytest.mark.parametrize("encoding,make", [
    ("rgb16", lambda c: c), ("bgr16", lambda c: c[..., ::-1]), ("mono16", lambda c: c[..., :1]), ("16UC1", lambda c: c[..., :1]),
])
def test_16bit_scaled_to_8bit(encoding, make, big):
    wide = RGB.astype(np.uint16) * 257  # 0..65535 spans the full range
    out = image_decoding.image_to_rgb(make_image(np.ascontiguousarray(make(wide)), encoding, pad=2, big=big))
    expected = RGB if "mono" not in encoding and encoding != "16UC1" else np.dstack([RGB[..., 0]] * 3)
    np.testing.assert_array_equal(out, expected)


class _LegacyViewArray(np.ndarray):
    """numpy < 1.23 (Humble's 1.21): ``view`` to a wider dtype of a non-contiguous array raises."""

    def view(self, *args, **kwargs):
        dtype = args[0] if args else kwargs.get("dtype")
        if dtype is not None and not (isinstance(dtype, type) and issubclass(dtype, np.ndarray)):
            if np.dtype(dtype).itemsize != self.dtype.itemsize and not self.flags.c_contiguous:
                raise ValueError("To change to a dtype of a different size, the array must be C-contiguous")
        return super().view(*args, **kwargs)


@pytest.fixture
def legacy_numpy_views(monkeypatch):
    """Every ``np.frombuffer`` array behaves like numpy 1.21 for dtype-changing views."""
    frombuffer = np.frombuffer
    monkeypatch.setattr(np, "frombuffer", lambda *a, **k: frombuffer(*a, **k).view(_LegacyViewArray))
    padded = frombuffer(bytes(24), dtype=np.uint8).view(_LegacyViewArray).reshape(3, 8)[:, :6]
    with pytest.raises(ValueError):  # the shim really reproduces the old failure
        padded.view("<u2")


@pytest.mark.parametrize("big", [False, True])
@pytest.mark.parametrize("encoding,channels", [("mono16", 1), ("16UC1", 1), ("rgb16", 3), ("bgra16", 4)])
def test_padded_16bit_is_a_non_contiguous_view_on_legacy_numpy(encoding, channels, big, legacy_numpy_views):
    wide = RNG.integers(0, 65536, (5, 7, channels), dtype=np.uint16)
    msg = make_image(wide, encoding, pad=6, big=big)  # a padded row: the pixel rows are not contiguous
    pixels = image_decoding.image_view(msg)
    assert pixels.shape == (5, 7, channels) and pixels.dtype.itemsize == 2
    assert not pixels.flags.c_contiguous and np.shares_memory(pixels, np.frombuffer(msg.data, np.uint8))  # no copy
    np.testing.assert_array_equal(pixels, wide)
    assert image_decoding.image_to_rgb(msg).shape == (5, 7, 3)


def test_padded_16uc1_and_32fc1_depth_on_legacy_numpy(legacy_numpy_views):
    mm = np.array([[500, 0, 2000], [65535, 1234, 7]], dtype=np.uint16)
    np.testing.assert_allclose(image_decoding.image_to_depth(make_image(mm, "16UC1", pad=4)),
                               [[0.5, np.nan, 2.0], [65.535, 1.234, 0.007]], rtol=1e-6)
    metres = np.array([[0.5, np.nan, 2.0], [70.0, 1.25, -1.0]], dtype=np.float32)
    for big in (False, True):
        raw = metres.astype(">f4" if big else "<f4").view(np.uint8).reshape(2, 12)
        padded = np.zeros((2, 20), np.uint8)
        padded[:, :12] = raw
        msg = Image(height=2, width=3, encoding="32FC1", is_bigendian=big, step=20, data=array.array("B", padded.tobytes()))
        np.testing.assert_array_equal(image_decoding.image_to_depth(msg), metres)


@pytest.mark.parametrize("encoding,step", [("mono16", 15), ("rgb16", 43), ("32FC1", 30)])
def test_step_not_a_multiple_of_the_channel_size_is_bad(encoding, step):
    msg = Image(height=2, width=7, encoding=encoding, step=step, data=array.array("B", bytes(2 * step)))
    with pytest.raises(image_decoding.BadMessageError, match="not a multiple"):
        image_decoding.image_to_depth(msg) if encoding == "32FC1" else image_decoding.image_view(msg)


def test_16bit_step_shorter_than_a_row_is_bad():
    msg = Image(height=2, width=7, encoding="rgb16", step=40, data=array.array("B", bytes(80)))
    with pytest.raises(image_decoding.BadMessageError, match="shorter"):
        image_decoding.image_to_rgb(msg)


def test_rgb8_is_a_view_without_copy():
    msg = make_image(RGB, "rgb8", pad=4)
    out = image_decoding.image_to_rgb(msg)
    assert not out.flags.owndata and np.shares_memory(out, np.frombuffer(msg.data, np.uint8))


@pytest.mark.parametrize("mutate,needle", [
    (lambda m: setattr(m, "encoding", "yuv422_yuy2x"), "encoding"),
    (lambda m: setattr(m, "height", 0), "zero-sized"),
    (lambda m: setattr(m, "step", 5), "step"),
    (lambda m: setattr(m, "data", array.array("B", bytes(10))), "data has 10 bytes"),
])
def test_bad_images_raise(mutate, needle):
    msg = make_image(RGB, "rgb8")
    mutate(msg)
    with pytest.raises(image_decoding.BadMessageError, match=needle):
        image_decoding.image_to_rgb(msg)


def test_compressed_decode_and_garbage():
    ok, jpg = cv2.imencode(".png", RGB[..., ::-1])
    msg = CompressedImage(format="png", data=messages.to_byte_array(jpg))
    np.testing.assert_array_equal(image_decoding.compressed_to_rgb(msg), RGB)
    with pytest.raises(image_decoding.BadMessageError):
        image_decoding.compressed_to_rgb(CompressedImage(format="jpeg", data=array.array("B", b"not a jpeg")))
    with pytest.raises(image_decoding.BadMessageError):
        image_decoding.compressed_to_rgb(CompressedImage(format="jpeg"))


def test_depth_round_trips_32fc1_and_16uc1():
    depth = np.array([[0.5, np.nan, 2.0], [70.0, 1.2345, -1.0]], dtype=np.float32)
    msg = messages.depth_to_image(depth, Image().header, "32FC1")
    assert (msg.encoding, msg.step, len(msg.data)) == ("32FC1", 12, 24)
    np.testing.assert_array_equal(image_decoding.image_to_depth(msg), depth)
    mm = messages.depth_to_image(depth, Image().header, "16UC1")
    assert mm.encoding == "16UC1" and mm.step == 6
    raw = image_decoding.image_view(mm)[..., 0]
    np.testing.assert_array_equal(raw, [[500, 0, 2000], [0, 1234, 0]])  # NaN, > 65.5 m and negative -> 0


def test_array_to_image_round_trip_rgb():
    msg = messages.array_to_image(RGB, "rgb8")
    assert msg.step == 21 and isinstance(msg.data, array.array)
    np.testing.assert_array_equal(image_decoding.image_to_rgb(msg), RGB)


@pytest.mark.parametrize("rgb", [False, True])
def test_cloud_layout_and_round_trip(rgb):
    depth = np.full((4, 6), 2.0, dtype=np.float32)
    depth[1, 2] = np.nan
    K = np.array([[50.0, 0, 3.0], [0, 50.0, 2.0], [0, 0, 1]])
    from disdepth_core.pipeline import byte_backed_float32, pack_rgb

    packed = byte_backed_float32((4, 6, 4 if rgb else 3))
    depth_to_points(depth, K, out=packed[..., :3])
    colors = RNG.integers(0, 256, (4, 6, 3), dtype=np.uint8)
    if rgb:
        pack_rgb(colors, packed[..., 3].view(np.uint32))
    msg = messages.points_to_cloud(packed, Image().header, rgb)
    assert (msg.height, msg.width, msg.is_dense) == (4, 6, False)
    assert msg.point_step == (16 if rgb else 12) and msg.row_step == msg.point_step * 6  # unpadded points
    assert msg.data is messages.byte_storage(packed)  # the byte-backed buffer is taken as is: no copy
    assert [(f.name, f.offset, f.datatype) for f in msg.fields][:3] == [("x", 0, 7), ("y", 4, 7), ("z", 8, 7)]
    xyz, got_colors = message_layout.cloud_to_arrays(msg)
    np.testing.assert_array_equal(xyz, depth_to_points(depth, K))
    if rgb:
        assert [(f.name, f.offset) for f in msg.fields][3] == ("rgb", 12)
        np.testing.assert_array_equal(got_colors, colors)
        word = int(packed[0, 0, 3:4].view(np.uint32)[0])
        assert word == (int(colors[0, 0, 0]) << 16) | (int(colors[0, 0, 1]) << 8) | int(colors[0, 0, 2])
    else:
        assert got_colors is None


def test_camera_info_for_scales_k_and_p():
    K = np.array([[500.0, 0, 319.5], [0, 500.0, 239.5], [0, 0, 1]])
    info = CameraInfo(height=480, width=640, distortion_model="plumb_bob")
    info.k = list(K.reshape(-1))
    info.p = [500.0, 0, 319.5, -25.0, 0, 500.0, 239.5, 0, 0, 0, 1, 0]
    K_out = scale_intrinsics(K, (480, 640), (240, 320))
    out = messages.camera_info_for(info, K_out, (240, 320), info.header)
    assert (out.height, out.width) == (240, 320)
    np.testing.assert_allclose(np.reshape(out.k, (3, 3)), K_out)
    P = np.reshape(out.p, (3, 4))
    np.testing.assert_allclose(P[:, :3], K_out)
    assert P[0, 3] == pytest.approx(-12.5)


@pytest.mark.parametrize("rgb", [False, True])
def test_padded_and_plain_arrays_still_publish(rgb):
    """depth_image_proc-style padded arrays (and any plain numpy array) are copied into the message, fields placed right."""
    depth = np.full((3, 5), 1.5, dtype=np.float32)
    K = np.array([[40.0, 0, 2.0], [0, 40.0, 1.0], [0, 0, 1]])
    padded = np.zeros((3, 5, 8 if rgb else 4), dtype=np.float32)
    depth_to_points(depth, K, out=padded[..., :3])
    msg = messages.points_to_cloud(padded, Image().header, rgb)
    assert msg.point_step == (32 if rgb else 16) and messages.byte_storage(padded) is None
    assert [(f.name, f.offset) for f in msg.fields][3:] == ([("rgb", 16)] if rgb else [])
    np.testing.assert_array_equal(message_layout.cloud_to_arrays(msg)[0], depth_to_points(depth, K))
    view = messages.byte_storage(np.zeros(3, np.float32)[1:])
    assert view is None
