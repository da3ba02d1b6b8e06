"""report.html in a real browser (headless Chromium): the page paints and every image decodes.

Chromium is the Debian package ``chromium`` (``.ci/run`` installs it); the test skips with
that reason where it is absent.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import cv2
import numpy as np
import pytest

from disdepth_core.bags.synthetic import COMPRESSED_TOPIC, DEPTH_TOPIC, INFO_TOPIC, write_synthetic_bag
from disdepth_cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)")

# Appended to a copy of the page: after load, record how many <img> did not decode.
CHECK_IMAGES = """<script>window.addEventListener('load', () => {
  const images = Array.from(document.images);
  const broken = images.filter(img => !(img.complete && img.naturalWidth > 0));
  document.body.setAttribute('data-images', images.length);
  document.body.setAttribute('data-broken', broken.length);
});</script>"""


def chromium(*args: str) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=5000", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def image_counts(html_path, extra: str = "") -> tuple[int, int]:
    """(images, broken images) after load, in a copy of the page with the checker (and ``extra``) appended."""
    checked = html_path.with_name("checked_" + html_path.name)
    checked.write_text(html_path.read_text().replace("</body>", extra + CHECK_IMAGES + "</body>"))
    dom = chromium("--dump-dom", checked.as_uri()).stdout
    match = re.search(r'data-images="(\d+)" data-broken="(\d+)"', dom)
    assert match, dom[-2000:]
    return int(match.group(1)), int(match.group(2))


def test_report_renders_with_every_image(tiny_checkpoint, tmp_path):
    bag = write_synthetic_bag(tmp_path / "bag", frames=4, height=96, width=128, storage="mcap", progress=False)
    out = tmp_path / "report"
    assert main(["bag-eval", str(bag), "--model", str(tiny_checkpoint), "--out", str(out), "--no-progress",
                 "--image-topic", COMPRESSED_TOPIC, "--depth-topic", DEPTH_TOPIC, "--camera-info-topic", INFO_TOPIC,
                 "--samples", "3"]) == 0
    report = out / "report.html"
    shot = tmp_path / "report.png"
    chromium("--window-size=1280,1800", f"--screenshot={shot}", report.as_uri())
    pixels = cv2.imread(str(shot))
    assert pixels is not None and pixels.shape[:2] == (1800, 1280)
    assert pixels.std() > 20 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 200  # text, charts and depth maps
    # RGB, prediction, GT and error per sample; one deliberately broken image proves the check can fail
    assert image_counts(report, extra='<img src="data:image/png;base64,AAAA">') == (3 * 4 + 1, 1)
