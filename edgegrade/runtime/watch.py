"""`edgegrade watch`: live grading next to the microscope camera.

Capture -> pipeline -> overlay -> the JSONL log, then the other sinks (snapshots on a change,
video, window), until the source ends, --max-frames, 'q' in the window, or SIGINT/SIGTERM
(which stop cleanly, flushed)."""

import json
import signal
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import numpy as np

from edgegrade.configs import WatchConfig
from edgegrade.runtime.overlay import draw
from edgegrade.runtime.pipeline import Pipeline
from edgegrade.runtime.sinks import JsonlLog, SnapshotOnChange, Snapshots, VideoSink, Window, ensure_writable
from edgegrade.runtime.sources import open_source


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


# What the loop spends on a frame besides the models, waiting for the camera and the other
# sinks (video, snapshots, window: reported as "sinks").
OUTSIDE_INFERENCE = ("localise", "preprocess", "postprocess", "overlay", "log")


def percentiles(values) -> dict:
    if not values:
        return {}
    a = np.asarray(values)
    return {"mean": round(float(a.mean()), 2), "p50": round(float(np.percentile(a, 50)), 2),
            "p95": round(float(np.percentile(a, 95)), 2)}


class Tally:
    """What the summary reports: frames, results, per-stage and result latencies, the last result."""

    def __init__(self):
        self.frames, self.last, self.start = 0, None, time.perf_counter()
        self.stages, self.results, self.latencies = {}, Counter(), []
        self.truth = {}  # true grade -> [frames, graded so, flagged for review]

    @property
    def fps(self) -> float | None:
        return self.frames / max(1e-9, time.perf_counter() - self.start) if self.frames else None

    def add(self, result, latency_ms: float, truth: dict | None = None):
        for k, v in result.timings.items():
            self.stages.setdefault(k, []).append(v)
        # per frame, so its p95 is a frame's, not a sum of the stages' p95s
        self.stages.setdefault("outside_inference", []).append(
            sum(v for k, v in result.timings.items() if k in OUTSIDE_INFERENCE))
        if truth is not None:  # a synthetic feed that knows each frame's grade
            counts = self.truth.setdefault(truth["grade"], [0, 0, 0])
            counts[0] += 1
            counts[1] += result.grade == truth["grade"]
            counts[2] += bool(result.review)
        self.latencies.append(latency_ms)
        self.results[result.label] += 1
        self.frames += 1
        self.last = result

    def summary(self) -> dict:
        elapsed, last = time.perf_counter() - self.start, self.last
        return {
            "frames": self.frames, "seconds": round(elapsed, 2), "fps": round(self.frames / max(elapsed, 1e-9), 2),
            "final_grade": last.grade if last else None, "final_ratio": last.ratio if last else None,
            "final_mask_ratio": last.mask_ratio if last else None, "grades": dict(self.results),
            "final_inclusions": last.inclusions if last else None,
            "final": " ".join([last.headline[0]] + last.headline[1][:1]) if last else None,
            "latency_ms": {"result": percentiles(self.latencies), **{k: percentiles(v) for k, v in self.stages.items()}},
            **({"truth": self.truth_summary()} if self.truth else {}),
        }

    def truth_summary(self) -> dict:
        """Agreement of the graded frames with the feed's truth, overall and per true grade."""
        frames = sum(c[0] for c in self.truth.values())
        return {"frames": frames, "agreement": round(sum(c[1] for c in self.truth.values()) / frames, 4),
                "review": round(sum(c[2] for c in self.truth.values()) / frames, 4),
                "per_grade": {g: {"frames": c[0], "agreement": round(c[1] / c[0], 4), "review": round(c[2] / c[0], 4)}
                              for g, c in sorted(self.truth.items())}}


def watch(cfg: WatchConfig, echo=print) -> dict:
    out = ensure_writable(Path(cfg.out))  # fail before capture starts
    log = JsonlLog(cfg.log or out / "grades.jsonl")
    snaps = Snapshots(out / "snapshots")
    tally = Tally()
    with Pipeline(cfg) as pipe, open_source(cfg.source) as source, StopFlag() as flag:
        window = Window.open(cfg.headless, snaps, lambda m: echo(f"warning: {m}"))
        sinks = [s for s in (SnapshotOnChange(snaps) if cfg.snapshot_on_change else None,
                             VideoSink(cfg.video) if cfg.video else None, window) if s is not None]
        echo(f"watching {cfg.source} with {cfg.bundle} ({pipe.manifest['kind']}, {pipe.manifest['precision']}; "
             f"backends {pipe.backend_names})")
        try:
            for frame in source:
                handoff = 1000 * (time.perf_counter() - frame.captured)
                result = pipe.process(frame)
                t0 = time.perf_counter()
                overlay = draw(frame.image, result, tally.fps, cfg.display_width)
                t1 = time.perf_counter()
                result.timings = {"capture_handoff": handoff, **result.timings, "overlay": 1000 * (t1 - t0)}
                latency = log.write_result(result, frame.captured)  # first: every result is logged
                t2 = time.perf_counter()
                result.timings["log"] = 1000 * (t2 - t1)
                for sink in sinks:
                    sink.write(frame, result, overlay)
                result.timings["sinks"] = 1000 * (time.perf_counter() - t2)  # video, snapshots, window
                tally.add(result, latency, frame.truth)
                if flag.stop or (window and window.quit) or (cfg.max_frames and tally.frames >= cfg.max_frames):
                    break
        finally:
            log.close()
            for sink in sinks:
                sink.close()
        summary = {**tally.summary(), "decode_errors": source.decode_errors, "dropped_frames": source.dropped,
                   "snapshots": snaps.count, "log": str(log.path), "backends": pipe.backend_names,
                   "window": window is not None, "stopped_by_signal": flag.stop, "config": asdict(cfg)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
