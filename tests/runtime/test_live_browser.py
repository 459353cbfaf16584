"""The live view in a real browser: Debian's Chromium, headless, loads the page of a running
`edgegrade watch --serve` and shows what the log says, a picture that changes, and each new
result within half a second of its being logged. Skipped where Chromium is absent (`.ci/run`
installs it)."""

import json
import re
import signal
import subprocess
import sys
import time

import pytest
from browser import CHROMIUM, Browser, live_url

pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")

# the picture as the page shows it, shrunk to 32x32 grey levels: whether it changed
PIXELS = """(() => { const i = document.getElementById('live'); if (!i.naturalWidth) return null;
  const c = document.createElement('canvas'); c.width = c.height = 32; const g = c.getContext('2d');
  g.drawImage(i, 0, 0, 32, 32); return Array.from(g.getImageData(0, 0, 32, 32).data).join(','); })()"""
SHOWN = """(() => ({heading: document.getElementById('grade').textContent,
  where: document.getElementById('where').textContent, shown: window.edgegrade.shown}))()"""


@pytest.fixture
def live_watch(fp16_bundle, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "edgegrade", "watch", "--bundle", str(fp16_bundle), "--source",
                             "synthetic-wells:320x320@8", "--headless", "--out", str(tmp_path), "--serve", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = live_url(proc)
    assert url, "watch --serve printed no address"
    yield url, tmp_path / "grades.jsonl"
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode == 0


def test_the_page_shows_the_logged_grade_and_a_live_picture(live_watch):
    url, log = live_watch
    with Browser() as browser:
        page = browser.open(url)
        page.wait_for("window.edgegrade && window.edgegrade.shown.length > 0")
        first = page.wait_for(PIXELS)
        time.sleep(4)
        second = page.wait_for(PIXELS)
        state = page.evaluate(SHOWN)
    assert first != second  # the picture is live
    records = {r["frame"]: r for r in map(json.loads, log.read_text().splitlines())}
    frame = int(re.match(r"frame (\d+)", state["where"])[1])
    logged = records[frame]
    assert state["heading"] == (f"Grade {logged['grade']}" if logged["grade"] else "No embryo in view")
    assert state["shown"][-1]["frame"] == frame and state["shown"][-1]["grade"] == logged["grade"]
    # each result shown after the page loaded (not the history it opened with), against its log time
    delays = [s["shown"] - s["logged"] for s in state["shown"][1:]]
    assert len(delays) >= 10 and max(delays) < 500, sorted(delays)[-5:]
