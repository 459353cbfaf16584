"""The README's pictures of the live view and the report, taken in Debian's Chromium (headless,
the tests' DevTools driver): `watch --serve` on a synthetic feed of eight embryos with BUNDLE,
the page photographed once it has shown a chart's worth of results; then `report` on that
watch folder, one embryo confirmed, and the report page photographed.

    python scripts/page_screenshots.py bundles/pretrained --out docs

Writes OUT/live_view.jpg and OUT/report.jpg (and leaves the run in a temporary folder)."""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from browser import Browser, live_url  # the tests' DevTools driver

p = argparse.ArgumentParser()
p.add_argument("bundle")
p.add_argument("--out", type=Path, default=Path("docs"))
p.add_argument("--source", default="synthetic-wells@8")
p.add_argument("--results", type=int, default=90, help="Results on the page before the live picture is taken.")
a = p.parse_args()
edgegrade = [sys.executable, "-m", "edgegrade"]


def save(png: bytes, path: Path, width: int = 1100) -> None:
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    if image.shape[1] > width:
        image = cv2.resize(image, (width, round(image.shape[0] * width / image.shape[1])), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    print("wrote", path)


with tempfile.TemporaryDirectory() as tmp:
    run = Path(tmp) / "watch"
    proc = subprocess.Popen([*edgegrade, "watch", "--bundle", a.bundle, "--source", a.source, "--headless",
                             "--out", str(run), "--serve", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = live_url(proc)
    if url is None:
        raise SystemExit(f"watch --serve printed no address:\n{proc.communicate()[0]}")
    with Browser() as b:
        page = b.open(url)
        page.wait_for(f"window.edgegrade && window.edgegrade.shown.length >= {a.results}", seconds=600)
        save(page.screenshot(), a.out / "live_view.jpg")
    proc.communicate(timeout=600)
    if proc.returncode:
        raise SystemExit(f"watch ended with {proc.returncode}")

    report = Path(tmp) / "report"
    subprocess.run([*edgegrade, "report", str(run), "--out", str(report)], check=True)
    first = next(line.split(",")[0] for line in (report / "embryos.csv").read_text().splitlines()[1:])
    subprocess.run([*edgegrade, "confirm", str(report), "--embryo", first, "--grade", "B", "--by", "Dr. Example",
                    "--note", "README picture"], check=True)
    subprocess.run([*edgegrade, "report", str(run), "--out", str(report)], check=True)
    with Browser() as b:
        page = b.open((report / "report.html").as_uri())
        page.wait_for("document.readyState === 'complete'")
        height = page.evaluate("Math.min(document.body.scrollHeight, 2400)")
        b.send("Emulation.setDeviceMetricsOverride", {"width": 1100, "height": height, "deviceScaleFactor": 1,
                                                      "mobile": False}, page.session)
        save(page.screenshot(), a.out / "report.jpg")
