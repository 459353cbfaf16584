"""`edgegrade watch`: live grading next to the microscope camera.

Capture -> pipeline -> which embryo it is -> overlay -> the JSONL log, then the live view
(--serve) and the other sinks (snapshots on a change, video, window), until the source ends,
--max-frames, 'q' in the window, or SIGINT/SIGTERM.
A signal ends the run within about a second whatever the source is doing (the frame loop and
every wait for a frame look at it), with the log flushed and summary.json written. Runs into
one OUT append to its grades.jsonl (each record names its run); an earlier run's summary.json
is kept as summary-<its run>.json."""

import json
import signal
import threading
import time
from collections import Counter
from contextlib import nullcontext
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import numpy as np

from edgegrade.configs import WatchConfig
from edgegrade.errors import EdgegradeError, Incomplete
from edgegrade.files import atomic_write_text
from edgegrade.runtime.overlay import draw
from edgegrade.runtime.pipeline import Pipeline
from edgegrade.runtime.sinks import (JsonlLog, SnapshotOnChange, Snapshots, VideoSink, Window, ensure_writable,
                                     record_bundle)
from edgegrade.runtime.sources import open_source
from edgegrade.timelapse import EmbryoIds

SUMMARY = "summary.json"


class StopFlag:
    """SIGINT/SIGTERM set `event`; the frame loop and the sources' waits look at it (at least
    every sources.POLL seconds), so the run ends with everything flushed. Installed only from
    the main thread (the only one Python lets handle signals)."""

    def __init__(self):
        self.event = threading.Event()
        self.previous = {}

    @property
    def stop(self) -> bool:
        return self.event.is_set()

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, *_):
        self.event.set()

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


# What the loop spends on a frame besides the models, waiting for the camera and the other
# sinks (video, snapshots, window: reported as "sinks").
OUTSIDE_INFERENCE = ("localise", "preprocess", "postprocess", "overlay", "log")


class Recent:
    """The last `n` values, in a ring allocated (and touched) up front: its memory does not
    change however long the run."""

    def __init__(self, n: int):
        self.ring, self.count = np.full(n, np.nan), 0

    def append(self, value: float):
        self.ring[self.count % len(self.ring)] = value
        self.count += 1

    def __len__(self):
        return min(self.count, len(self.ring))

    def values(self) -> np.ndarray:
        return self.ring[:len(self)]


def percentiles(values) -> dict:
    values = values.values() if isinstance(values, Recent) else values
    if len(values) == 0:
        return {}
    a = np.asarray(values)
    return {"mean": round(float(a.mean()), 2), "p50": round(float(np.percentile(a, 50)), 2),
            "p95": round(float(np.percentile(a, 95)), 2)}


class Tally:
    """What the summary reports: frames, results, the last result, per-stage and result
    latencies (over the last LATENCY_WINDOW frames, in rings allocated up front: a service
    that runs for days keeps constant memory)."""

    LATENCY_WINDOW = 10_000

    def __init__(self):
        self.frames, self.last, self.start = 0, None, time.perf_counter()
        self.stages, self.results = {}, Counter()
        self.latencies = Recent(self.LATENCY_WINDOW)
        self.truth = {}  # true grade -> [frames, graded so, flagged for review]

    @property
    def fps(self) -> float | None:
        return self.frames / max(1e-9, time.perf_counter() - self.start) if self.frames else None

    def add(self, result, latency_ms: float, truth: dict | None = None):
        for k, v in result.timings.items():
            if k not in self.stages:
                self.stages[k] = Recent(self.LATENCY_WINDOW)
            self.stages[k].append(v)
        # per frame, so its p95 is a frame's, not a sum of the stages' p95s
        if "outside_inference" not in self.stages:
            self.stages["outside_inference"] = Recent(self.LATENCY_WINDOW)
        self.stages["outside_inference"].append(sum(v for k, v in result.timings.items() if k in OUTSIDE_INFERENCE))
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
    run = datetime.now().strftime("%Y%m%dT%H%M%S.%f")  # when it started: names its log lines and summary
    snaps = Snapshots(out / "snapshots", run=run)
    tally, failed_sinks = Tally(), Counter()
    warn = lambda m: echo(f"warning: {m}")  # noqa: E731
    with StopFlag() as flag, Pipeline(cfg, warn=warn) as pipe, open_source(cfg.source) as source, \
            live_view(cfg, snaps, pipe, run, echo) as live:
        record_bundle(out, pipe.provenance())
        embryos = EmbryoIds(run)
        log = JsonlLog(cfg.log or out / "grades.jsonl", run=run)
        window = Window.open(cfg.headless, snaps, warn)
        sinks = [s for s in (SnapshotOnChange(snaps) if cfg.snapshot_on_change else None,
                             VideoSink(cfg.video) if cfg.video else None, window) if s is not None]
        echo(f"watching {cfg.source} with {cfg.bundle} ({pipe.manifest['kind']}, {pipe.manifest['precision']}; "
             f"backends {pipe.backend_names})")
        error = None
        try:
            for frame in source.frames(flag.event):
                handoff = 1000 * (time.perf_counter() - frame.captured)
                result = pipe.process(frame)
                result.embryo, result.timepoint = embryos.assign(result.name, result.scene_change,
                                                                 result.state != pipe.task.empty_state)
                t0 = time.perf_counter()
                overlay = draw(frame.image, result, tally.fps, cfg.display_width)
                t1 = time.perf_counter()
                result.timings = {"capture_handoff": handoff, **result.timings, "overlay": 1000 * (t1 - t0)}
                record = log.write_result(result, frame.captured)  # first: every result is logged
                t2 = time.perf_counter()
                result.timings["log"] = 1000 * (t2 - t1)
                if live is not None:
                    live.publish(record, overlay, heading=result.headline[0], snapshots=snaps.count)
                for sink in sinks:
                    try:
                        sink.write(frame, result, overlay)
                    except EdgegradeError as exc:  # a picture lost, never a grade: say so once
                        if not failed_sinks[type(sink).__name__]:
                            warn(f"{exc}; grading goes on (said once; counted in {SUMMARY})")
                        failed_sinks[type(sink).__name__] += 1
                result.timings["sinks"] = 1000 * (time.perf_counter() - t2)  # video, snapshots, window
                tally.add(result, record["result_latency_ms"], frame.truth)
                if flag.stop or (window and window.quit) or (cfg.max_frames and tally.frames >= cfg.max_frames):
                    break
        except BaseException as exc:
            error = exc
            raise
        finally:
            log.close()
            for sink in sinks:
                try:
                    sink.close()
                except EdgegradeError as exc:  # the last pictures lost (a full disk): said, and counted
                    warn(f"{exc}")
                    failed_sinks[type(sink).__name__] += 1
            summary = {**tally.summary(), "run": run, "decode_errors": source.decode_errors,
                       "frames_expected": source.expected, "live": source.live, "dropped_frames": source.dropped,
                       "snapshots": snaps.count, "sink_failures": dict(failed_sinks), "log": str(log.path),
                       "backends": pipe.backend_names, "window": window is not None,
                       "stopped_by_signal": flag.stop, "bundle_id": pipe.bundle_id,
                       **({"live_view": live.stats()} if live is not None else {}),
                       "config": {**asdict(cfg), "serve_token": "(given)" if cfg.serve_token else None},
                       **({"error": str(getattr(error, "message", error))} if error is not None else {})}
            write_summary(out / SUMMARY, summary, quiet=error is not None)
    return summary


def live_view(cfg: WatchConfig, snaps: Snapshots, pipe: Pipeline, run: str, echo):
    """--serve: the live view of this run (edgegrade.runtime.serve), listening before the
    first frame; else a context that holds None."""
    if not cfg.serve:
        return nullcontext()
    from edgegrade.grading import grade_table
    from edgegrade.runtime.serve import LiveView

    info = {"run": run, "source": cfg.source, "bundle": f"{Path(cfg.bundle).name} ({pipe.bundle_id})",
            "grades": grade_table() if pipe.task.graded else []}
    return LiveView(cfg.serve, cfg.serve_token, cfg.serve_fps, snaps, info, echo)


def keep_earlier_summary(out: Path) -> None:
    """summary.json is the latest run's; an earlier one is kept beside it under its run's name."""
    path = out / SUMMARY
    if not path.is_file():
        return
    try:
        run = json.loads(path.read_text()).get("run")
    except (OSError, ValueError, AttributeError):
        run = None
    run = run or time.strftime("%Y%m%dT%H%M%S", time.localtime(path.stat().st_mtime))
    target, n = out / f"summary-{run}.json", 1
    while target.exists():
        n += 1
        target = out / f"summary-{run}-{n}.json"
    path.rename(target)


def write_summary(path: Path, summary: dict, quiet: bool = False) -> None:
    """Written whole or not at all; when the run already failed (`quiet`), a summary that
    cannot be written does not hide that failure."""
    try:
        keep_earlier_summary(path.parent)
        atomic_write_text(path, json.dumps(summary, indent=2))
    except (EdgegradeError, OSError):
        if not quiet:
            raise


def verdict(summary: dict) -> EdgegradeError | None:
    """What the exit code says about a finished run: an error when no frame could be graded
    (unless a signal stopped a run that had simply not had one yet); Incomplete when a file or
    folder had frames that could not be read, or a video gave fewer than its container lists."""
    source, graded, unread = summary["config"]["source"], summary["frames"], summary["decode_errors"]
    if graded == 0 and (unread or not summary["stopped_by_signal"]):
        return EdgegradeError(f"--source {source}: no frame could be read"
                              + (f" ({unread} unreadable)" if unread else ""))
    if unread and not summary["live"]:
        listed = summary.get("frames_expected")
        what = (f"read {listed - unread} of the {listed} frames its container lists (truncated or damaged)" if listed
                else f"{unread} frame(s) could not be read and were skipped")
        return Incomplete(f"--source {source}: {what}; {graded} graded, see {summary['log']}")
    return None
