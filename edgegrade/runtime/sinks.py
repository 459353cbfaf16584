"""Where results go: a JSONL log flushed and synced per line (a crash or power cut loses at
most the line being written); then the sinks, each `write(frame, result, overlay)` and
`close()`: snapshots on a change of result, an annotated video, a window. A log that cannot be
written stops the run (a grade nobody can read later is lost); a sink that cannot is said once
and the grading goes on (`watch`)."""

import json
import os
import sys
import threading
import time
from collections import deque
from pathlib import Path

import cv2

from edgegrade.errors import EdgegradeError, os_error
from edgegrade.files import atomic_write_text, cut_partial_line
from edgegrade.imageio import write_image


MODELS = "models"  # OUT/models/ID.json: what each bundle id in the results stands for


def record_bundle(out: Path, provenance: dict) -> Path:
    """OUT/models/<bundle id>.json, the bundle that graded (path, hashes, kind, precision),
    beside results that name only its id; written once per bundle."""
    path = Path(out) / MODELS / f"{provenance['id']}.json"
    if not path.is_file():
        atomic_write_text(path, json.dumps(provenance, indent=2))
    return path


def ensure_writable(folder: Path) -> Path:
    """Fail before capture starts, not after an hour of grading."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".edgegrade-write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise EdgegradeError(f"{folder}: output folder not writable ({exc.strerror})") from None
    return folder


class JsonlLog:
    """Each line is written at once (unbuffered: a crash of the process loses nothing); a
    background thread fsyncs every `sync_s` while lines were written, so a power cut loses at
    most the last 0.1 s of lines, and the frame loop never waits for an fsync (several ms).
    The writer only sets a flag: waking the thread on every line (an Event) made it take the
    interpreter from the loop, 2 ms at the 95th percentile on one core. Runs append to one log,
    each record naming its `run`. A write that fails (a full disk) is cut back off before the
    error is raised, and a half line left by a crash is cut off when the log is opened again,
    so every line stays valid JSON."""

    def __init__(self, path, run: str = "", fsync: bool = True, sync_s: float = 0.1):
        self.path, self.run = Path(path), run
        ensure_writable(self.path.parent)
        try:
            cut_partial_line(self.path)
            self.f = open(self.path, "ab", buffering=0)  # unbuffered: nothing of a failed line lingers
            self.size = self.path.stat().st_size
        except OSError as exc:
            raise os_error(self.path, exc) from None
        self.dirty, self.closing, self.sync_s = False, threading.Event(), sync_s
        self.syncer = threading.Thread(target=self._sync, daemon=True) if fsync else None
        if self.syncer:
            self.syncer.start()

    def _sync(self):
        while not self.closing.wait(self.sync_s):
            if self.dirty:
                self.dirty = False
                try:
                    os.fsync(self.f.fileno())
                except (OSError, ValueError):
                    return

    def write(self, record: dict):
        line = (json.dumps(record) + "\n").encode()
        try:
            data = memoryview(line)
            while data:
                data = data[self.f.write(data):]
        except OSError as exc:
            try:
                os.ftruncate(self.f.fileno(), self.size)  # no half line left behind
            except OSError:
                pass
            raise os_error(self.path, exc) from None
        self.size += len(line)
        self.dirty = True

    def write_result(self, result, captured: float) -> dict:
        """Log one result with its latency from capture (`result_latency_ms`); -> the record."""
        record = {**result.log_record(), "run": self.run}
        record["result_latency_ms"] = round(1000 * (time.perf_counter() - captured), 2)
        self.write(record)
        return record

    def close(self):
        """Flush and sync what was written; never raises (a write that failed was reported)."""
        if self.f.closed:
            return
        self.closing.set()
        if self.syncer:
            self.syncer.join(timeout=2)
        try:
            os.fsync(self.f.fileno())
        except OSError:
            pass
        try:
            self.f.close()
        except OSError:
            pass


class Snapshots:
    """Frame and overlay PNGs in one folder, named RUN_frameNNNNNN_REASON[_overlay].png (runs
    into one OUT keep theirs apart); the names saved by this run are kept (`saved`, the
    newest last) for the live view, which serves those and nothing else."""

    def __init__(self, folder, run: str = "", keep: int = 200):
        self.folder = ensure_writable(folder)
        self.run, self.count = run, 0
        self.saved: deque = deque(maxlen=keep)  # {"name", "frame", "reason"}

    def save(self, frame, overlay, index: int, reason: str):
        stem = f"{self.run + '_' if self.run else ''}frame{index:06d}_{reason}"
        write_image(self.folder / f"{stem}.png", frame)
        write_image(self.folder / f"{stem}_overlay.png", overlay)
        self.saved.append({"name": stem, "frame": index, "reason": reason})
        self.count += 1


class SnapshotOnChange:
    """Frame and overlay whenever the result changes (grade, count, no embryo); the first too;
    and an embryo's last frame as it leaves (another embryo, none in view, the run's end):
    the report's latest picture of it."""

    def __init__(self, snapshots: Snapshots):
        self.snapshots, self.last, self.held = snapshots, None, None

    def write(self, frame, result, overlay):
        held = self.held
        if held is not None and result.embryo != held[1].embryo:
            self._save_last()
        if result.label != self.last:
            self.snapshots.save(frame.image, overlay, frame.index,
                                f"grade{result.grade}" if result.grade else result.label.replace(" ", "-"))
        self.last = result.label
        self.held = (frame, result, overlay) if result.embryo is not None else None

    def _save_last(self):
        frame, result, overlay = self.held
        self.held = None
        if self.snapshots.saved and self.snapshots.saved[-1]["frame"] == frame.index:
            return  # its change snapshot is its last one
        self.snapshots.save(frame.image, overlay, frame.index, "last")

    def close(self):
        if self.held is not None:
            self._save_last()


class VideoSink:
    def __init__(self, path, fps: float = 15.0):
        self.path, self.fps, self.writer = Path(path), fps, None
        ensure_writable(self.path.parent)

    def write_image(self, image):
        if self.writer is None:
            h, w = image.shape[:2]
            self.writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
            if not self.writer.isOpened():
                raise EdgegradeError(f"{self.path}: cannot open a video writer here")
        self.writer.write(image)

    def write(self, frame, result, overlay):
        self.write_image(overlay)

    def close(self):
        if self.writer is not None:
            self.writer.release()


class Window:
    """The overlay in a window (a display and a GUI OpenCV needed): 's' saves a snapshot, 'q'
    or Esc sets `quit`."""

    NAME = "edgegrade"

    def __init__(self, snapshots: Snapshots):
        self.snapshots, self.quit, self.shown = snapshots, False, 0

    @classmethod
    def open(cls, headless: bool, snapshots: Snapshots, warn):
        """A Window, or None (headless, with a warning saying why when a window was wanted)."""
        if headless:
            return None
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform in ("win32", "darwin")):
            warn("no display found: running headless (results go to the log and snapshots)")
            return None
        try:
            cv2.namedWindow(cls.NAME, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
        except cv2.error:
            warn("this OpenCV build has no GUI support (opencv-python-headless?): running headless")
            return None
        return cls(snapshots)

    def write(self, frame, result, overlay):
        if self.shown == 0:  # open at the frame's size, up to 1280 px wide
            scale = min(1.0, 1280 / overlay.shape[1])
            cv2.resizeWindow(self.NAME, int(overlay.shape[1] * scale), int(overlay.shape[0] * scale))
        cv2.imshow(self.NAME, overlay)
        self.shown += 1
        key = cv2.waitKey(1) & 0xFF
        if key == ord("s"):
            self.snapshots.save(frame.image, overlay, frame.index, "key")
        elif key in (ord("q"), 27):
            self.quit = True

    def close(self):
        cv2.destroyWindow(self.NAME)
