"""The window path for real: `edgegrade watch` without --headless on an Xvfb display, with a
GUI build of OpenCV, and a screenshot of the live overlay (docs/watch_window.png).

Needs Debian's xvfb and a Python whose OpenCV has a GUI (the project itself depends on the
headless wheel): `.ci/run` builds one in .venv-gui and names it in EDGEGRADE_GUI_PYTHON."""

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

GUI_PYTHON = os.environ.get("EDGEGRADE_GUI_PYTHON", "")


@pytest.fixture
def display():
    if not shutil.which("Xvfb"):
        pytest.skip("Xvfb not installed (apt-get install xvfb)")
    if not GUI_PYTHON or not Path(GUI_PYTHON).exists():
        pytest.skip("no GUI OpenCV Python (set EDGEGRADE_GUI_PYTHON; .ci/run builds .venv-gui)")
    server = subprocess.Popen(["Xvfb", ":97", "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    yield ":97"
    server.terminate()
    server.wait(timeout=10)


def test_watch_opens_a_window_with_the_overlay(display, fp16_bundle, tmp_path):
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
    proc = subprocess.Popen([GUI_PYTHON, "-m", "edgegrade", "watch", "--bundle", str(fp16_bundle),
                             "--source", "synthetic:640x480#100000", "--out", str(tmp_path)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = tmp_path / "grades.jsonl"
    deadline = time.time() + 90
    while time.time() < deadline and (not log.exists() or len(log.read_text().splitlines()) < 5):
        time.sleep(0.3)
    shot = subprocess.run([GUI_PYTHON, "-c", (
        "import sys; from PIL import ImageGrab; "
        f"ImageGrab.grab(xdisplay={display!r}).save(sys.argv[1])"), str(tmp_path / "screen.png")],
        capture_output=True, text=True)
    proc.terminate()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-1500:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["window"] is True, out + err
    assert shot.returncode == 0, shot.stderr[-800:]
    import cv2

    screen = cv2.imread(str(tmp_path / "screen.png"))
    assert screen is not None and screen.std() > 20  # the window drew the frame, not a blank screen
    first = cv2.imread(str(next((tmp_path / "snapshots").glob("*_overlay.png"))))
    h, w = first.shape[:2]
    panel = first[h // 4: 3 * h // 4, w // 4: 3 * w // 4]  # the embryo region of the overlay
    match = cv2.matchTemplate(screen, panel, cv2.TM_CCOEFF_NORMED).max()
    assert match > 0.7, f"the overlay is not on screen (best match {match:.2f})"
    if os.environ.get("EDGEGRADE_SCREENSHOT"):
        shutil.copy(tmp_path / "screen.png", os.environ["EDGEGRADE_SCREENSHOT"])
