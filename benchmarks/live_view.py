"""Does the live view slow grading? `edgegrade watch` on an uncapped source (every frame, as
fast as the models go), alternately without --serve and with --serve and one browser attached
(Debian's Chromium, headless, on the same machine: its CPU counts against grading), `--runs`
times each; frames/s over the second half of each run (steady state, from the log's times),
median per condition and their ratio. With the browser, also how long after being logged each
result was on the page (the page's own record, same clock). `--viewer fetch` attaches, instead
of a browser, a client that only downloads the picture stream and the events (what the box
itself does for a browser on another computer, the usual set-up for a headless box).

    python benchmarks/live_view.py --bundle bundles/pretrained --runs 5 --out runs/live_view

Target (issue 18): median frames/s with the browser >= 95 % of the median without; each
result on the page within 0.5 s. Writes OUT/live_view.json. Not a test: it takes minutes."""

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from browser import CHROMIUM, Browser, live_url  # noqa: E402  (the tests' DevTools driver)


def steady_fps(log: Path) -> float:
    """Frames per second over the second half of the run, from the log's own times."""
    times = [json.loads(line)["time"] for line in log.read_text().splitlines()]
    half = times[len(times) // 2:]
    return (len(half) - 1) / (half[-1] - half[0])


def fetch(url: str) -> None:
    """A viewer that renders nothing: the MJPEG stream and the event stream read and dropped."""
    def drain(path):
        try:
            with urllib.request.urlopen(url + path, timeout=30) as r:
                while r.read(65536):
                    pass
        except OSError:  # the run ended
            pass
    threads = [threading.Thread(target=drain, args=(p,), daemon=True) for p in ("stream.mjpg", "api/events")]
    for t in threads:  # they end with the run; communicate() below waits for it
        t.start()


def run(a, out: Path, browser: bool) -> dict:
    cmd = [sys.executable, "-m", "edgegrade", "watch", "--bundle", a.bundle, "--source", a.source, "--headless",
           "--out", str(out), "--threads", str(a.threads)] + (
        ["--serve", "127.0.0.1:0", "--serve-fps", str(a.serve_fps)] if browser else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    delays = []
    if browser:
        url = live_url(proc)
        if url is None:
            raise SystemExit(f"watch --serve printed no address:\n{proc.communicate()[0]}")
        if a.viewer == "fetch":
            fetch(url)
        else:
            with Browser() as b:
                page = b.open(url)
                while proc.poll() is None:  # keep the page open until the run ends; collect what it showed
                    shown = page.evaluate("window.edgegrade ? window.edgegrade.shown : []") or []
                    delays = [s["shown"] - s["logged"] for s in shown[1:]] or delays
                    time.sleep(1.0)
    output = proc.communicate(timeout=600)[0]
    if proc.returncode:
        raise SystemExit(output)
    summary = json.loads((out / "summary.json").read_text())
    return {"browser": browser, "fps": round(steady_fps(out / "grades.jsonl"), 3), "frames": summary["frames"],
            "live_view": summary.get("live_view"),
            **({"delay_ms_p50": round(statistics.median(delays)), "delay_ms_max": round(max(delays)),
                "delays": len(delays)} if delays else {})}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bundle", required=True)
    p.add_argument("--source", default="synthetic-wells:640x640#400", help="An uncapped source (no @FPS).")
    p.add_argument("--runs", type=int, default=5, help="Runs per condition, alternating.")
    p.add_argument("--threads", type=int, default=0, help="watch --threads (ONNX Runtime; 0: all cores).")
    p.add_argument("--out", default="runs/live_view")
    p.add_argument("--viewer", choices=("chromium", "fetch"), default="chromium",
                   help="chromium: Debian's browser on the same machine; fetch: a client that only downloads.")
    p.add_argument("--serve-fps", type=float, default=10.0, help="watch --serve-fps")
    a = p.parse_args()
    if CHROMIUM is None and a.viewer == "chromium":
        raise SystemExit("Debian's chromium is needed (apt-get install chromium)")
    out = Path(a.out)
    results = []
    for i in range(a.runs):
        for browser in ((False, True) if i % 2 == 0 else (True, False)):  # alternate which goes first
            r = run(a, out / f"run{i}-{'browser' if browser else 'plain'}", browser)
            results.append(r)
            print(json.dumps(r), flush=True)
    plain = statistics.median(r["fps"] for r in results if not r["browser"])
    watched = statistics.median(r["fps"] for r in results if r["browser"])
    # each round's pair side by side too: the machine's speed drifts over minutes, which moves the
    # medians of the two conditions apart more than a round's own pair
    rounds = [results[2 * i:2 * i + 2] for i in range(a.runs)]
    paired = statistics.median(next(r["fps"] for r in pair if r["browser"]) /
                               next(r["fps"] for r in pair if not r["browser"]) for pair in rounds)
    verdict = {"paired_ratio_median": round(paired, 4), "source": a.source, "bundle": a.bundle, "runs": a.runs, "viewer": a.viewer, "serve_fps": a.serve_fps, "median_fps_without": round(plain, 3),
               "median_fps_with_browser": round(watched, 3), "ratio": round(watched / plain, 4),
               "delay_ms_max": max((r.get("delay_ms_max", 0) for r in results), default=None), "results": results}
    out.mkdir(parents=True, exist_ok=True)
    (out / "live_view.json").write_text(json.dumps(verdict, indent=2))
    print(f"median fps without {plain:.2f}, with a browser {watched:.2f}: {100 * watched / plain:.1f} % "
          f"(median of each round's ratio: {100 * paired:.1f} %); "
          f"page delay max {verdict['delay_ms_max']} ms")


if __name__ == "__main__":
    main()
