"""Input checks of the shared frame pipeline: 10/12-bit data in 16-bit images, camera intrinsics."""

from __future__ import annotations

import types

import numpy as np
import pytest

from disdepth_core.image_decoding import image_to_rgb, sixteen_to_eight_bit
from disdepth_core.pipeline import PipelineConfig, aspect_mismatch, intrinsics_problem


def mono16(pixels: np.ndarray):
    return types.SimpleNamespace(encoding="mono16", height=pixels.shape[0], width=pixels.shape[1], step=pixels.shape[1] * 2,
                                 is_bigendian=False, data=pixels.astype("<u2").tobytes())


@pytest.mark.parametrize("bits", [10, 12, 16])
def test_significant_bits_map_white_to_255(bits):
    eight = np.arange(256, dtype=np.uint16).reshape(16, 16)
    data = eight << (bits - 8)  # what a `bits`-bit sensor stores for the same scene
    rgb = image_to_rgb(mono16(data), significant_bits=bits)
    assert rgb.dtype == np.uint8 and rgb.shape == (16, 16, 3)
    np.testing.assert_array_equal(rgb[..., 0], eight)
    if bits < 16:  # the old >> 8 made a 12-bit frame nearly black
        assert image_to_rgb(mono16(data))[..., 0].max() == (255 << (bits - 8)) >> 8


def test_out_of_range_values_saturate_and_bad_settings_are_refused():
    hot = np.array([[4095, 4096, 65535]], dtype=np.uint16)
    np.testing.assert_array_equal(sixteen_to_eight_bit(hot, 12), [[255, 255, 255]])
    with pytest.raises(ValueError, match="8..16"):
        sixteen_to_eight_bit(hot, 7)


def test_pipeline_config_reads_the_parameter():
    from disdepth_ros.parameters import defaults

    assert PipelineConfig.from_params(defaults()).mono16_bits == 16
    assert PipelineConfig.from_params({**defaults(), "mono16_bits": 12}).mono16_bits == 12


@pytest.mark.parametrize("fx, fy, cx, ok", [(500.0, 500.0, 320.0, True), (-500.0, 500.0, 320.0, False), (500.0, 0.0, 320.0, False),
                                            (np.nan, 500.0, 320.0, False), (500.0, np.inf, 320.0, False),
                                            (500.0, 500.0, np.nan, False)])
def test_intrinsics_problem(fx, fy, cx, ok):
    K = np.array([[fx, 0, cx], [0, fy, 240.0], [0, 0, 1]])
    problem = intrinsics_problem(K)
    assert (problem is None) is ok
    if not ok:
        assert "must be finite" in problem


def test_aspect_mismatch_only_when_the_shape_differs():
    assert aspect_mismatch((480, 640), (480, 640)) is None
    assert aspect_mismatch((480, 640), (240, 320)) is None  # binning: same aspect, K scales evenly
    warning = aspect_mismatch((480, 640), (360, 640))
    assert "camera_info is 640x480" in warning and "image is 640x360" in warning and "unevenly" in warning


def test_truncated_compressed_png_is_one_bad_message_without_raw_libpng_lines(capfd):
    import cv2

    from disdepth_core.image_decoding import BadMessageError, compressed_to_rgb

    rgb = np.random.default_rng(1).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    png = cv2.imencode(".png", rgb)[1].tobytes()
    msg = types.SimpleNamespace(format="png", data=png[: len(png) // 2])
    with pytest.raises(BadMessageError, match=r"cannot decode compressed image \(format 'png', \d+ bytes\): .+"):
        compressed_to_rgb(msg)
    assert "libpng" not in capfd.readouterr().err
    msg.data = png
    np.testing.assert_array_equal(compressed_to_rgb(msg), rgb[..., ::-1])  # imencode took rgb as BGR


def test_other_output_during_a_decode_is_passed_on(monkeypatch, capfd):
    """Only codec lines are swallowed: another thread's log written to fd 2 meanwhile still appears."""
    import os

    import cv2

    from disdepth_core import quiet_decode

    def noisy_imdecode(data, flags):
        os.write(2, b"libpng warning: iCCP: known incorrect sRGB profile\nnode log line from another thread\n")
        return np.zeros((2, 2, 3), np.uint8)

    monkeypatch.setattr(cv2, "imdecode", noisy_imdecode)
    image, codec = quiet_decode.imdecode_quiet(np.zeros(4, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (2, 2, 3) and codec == ["iCCP: known incorrect sRGB profile"]
    err = capfd.readouterr().err
    assert "node log line from another thread" in err and "libpng" not in err
