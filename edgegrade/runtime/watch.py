"""`edgegrade watch`: live grading next to the microscope camera.

Capture -> pipeline -> overlay -> window / JSONL log / snapshots / video, until the source
ends, --max-frames, 'q' in the window, or SIGINT/SIGTERM (which stop cleanly, flushed)."""

import json
import os
import signal
import sys
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

from edgegrade.configs import WatchConfig
from edgegrade.runtime.overlay import draw
from edgegrade.runtime.pipeline import Pipeline
from edgegrade.runtime.sinks import JsonlLog, Snapshots, VideoSink, ensure_writable
from edgegrade.runtime.sources import open_source

WINDOW = "edgegrade"


def open_window(headless: bool, warn) -> bool:
    if headless:
        return False
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform in ("win32", "darwin")):
        warn("no display found: running headless (results go to the log and snapshots)")
        return False
    try:
        cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
        return True
    except cv2.error:
        warn("this OpenCV build has no GUI support (opencv-python-headless?): running headless")
        return False


class StopFlag:
    """SIGINT/SIGTERM end the loop after the current frame, so everything gets flushed."""

    def __init__(self):
        self.stop = False
        self.previous = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, *_):
        self.stop = True

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def percentiles(values) -> dict:
    if not values:
        return {}
    a = np.asarray(values)
    return {"p50": round(float(np.percentile(a, 50)), 2), "p95": round(float(np.percentile(a, 95)), 2)}


def watch(cfg: WatchConfig, echo=print) -> dict:
    out = ensure_writable(Path(cfg.out))  # fail before capture starts
    log = JsonlLog(cfg.log or out / "grades.jsonl")
    snaps = Snapshots(out / "snapshots")
    video = VideoSink(cfg.video) if cfg.video else None
    stages, grades, latencies = {}, Counter(), []
    frames, last_grade, last, start = 0, "start", None, time.perf_counter()  # first frame snapshots too
    with Pipeline(cfg) as pipe, open_source(cfg.source) as source, StopFlag() as flag:
        window = open_window(cfg.headless, lambda m: echo(f"warning: {m}"))
        echo(f"watching {cfg.source} with {cfg.bundle} ({pipe.manifest['kind']}, {pipe.manifest['precision']}; "
             f"backends {pipe.backend_names})")
        try:
            for frame in source:
                handoff = 1000 * (time.perf_counter() - frame.captured)
                result = pipe.process(frame)
                t0 = time.perf_counter()
                fps = frames / max(1e-9, t0 - start) if frames else None
                overlay = draw(frame.image, result, fps)
                t1 = time.perf_counter()
                result.timings = {"capture_handoff": handoff, **result.timings, "overlay": 1000 * (t1 - t0)}
                record = result.log_record()
                record["result_latency_ms"] = round(1000 * (time.perf_counter() - frame.captured), 2)
                log.write(record)
                result.timings["log"] = 1000 * (time.perf_counter() - t1)
                for k, v in result.timings.items():
                    stages.setdefault(k, []).append(v)
                latencies.append(record["result_latency_ms"])
                grades[result.label] += 1
                if cfg.snapshot_on_change and result.label != last_grade:
                    snaps.save(frame.image, overlay, frame.index, f"grade{result.grade}" if result.grade
                               else result.label.replace(" ", "-"))
                last_grade, last = result.label, result
                if video:
                    video.write(overlay)
                if window:
                    if frames == 0:  # open at the frame's size, up to 1280 px wide
                        scale = min(1.0, 1280 / overlay.shape[1])
                        cv2.resizeWindow(WINDOW, int(overlay.shape[1] * scale), int(overlay.shape[0] * scale))
                    cv2.imshow(WINDOW, overlay)
                    key = cv2.waitKey(1) & 0xFF
                    if key == ord("s"):
                        snaps.save(frame.image, overlay, frame.index, "key")
                    elif key in (ord("q"), 27):
                        break
                frames += 1
                if flag.stop or (cfg.max_frames and frames >= cfg.max_frames):
                    break
        finally:
            log.close()
            if video:
                video.close()
            if window:
                cv2.destroyWindow(WINDOW)
        elapsed = time.perf_counter() - start
        summary = {
            "frames": frames, "seconds": round(elapsed, 2), "fps": round(frames / max(elapsed, 1e-9), 2),
            "final_grade": last.grade if last else None, "final_ratio": last.ratio if last else None,
            "final_mask_ratio": last.mask_ratio if last else None, "grades": dict(grades),
            "final_inclusions": last.inclusions if last else None,
            "final": " ".join([last.headline[0]] + last.headline[1][:1]) if last else None,
            "latency_ms": {"result": percentiles(latencies), **{k: percentiles(v) for k, v in stages.items()}},
            "decode_errors": source.decode_errors, "dropped_frames": source.dropped,
            "snapshots": snaps.count, "log": str(log.path), "backends": pipe.backend_names, "window": window,
            "stopped_by_signal": flag.stop, "config": asdict(cfg),
        }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
