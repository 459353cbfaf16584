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
from pathlib import Path

import cv2

from edgegrade.errors import EdgegradeError, os_error
from edgegrade.files import cut_partial_line
from edgegrade.imageio import write_image


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

    def write_result(self, result, captured: float) -> float:
        """Log one result with its latency from capture; -> that latency (ms)."""
        record = {**result.log_record(), "run": self.run}
        record["result_latency_ms"] = round(1000 * (time.perf_counter() - captured), 2)
        self.write(record)
        return record["result_latency_ms"]

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
    def __init__(self, folder):
        self.folder = ensure_writable(folder)
        self.count = 0

    def save(self, frame, overlay, index: int, reason: str):
        stem = f"frame{index:06d}_{reason}"
        write_image(self.folder / f"{stem}.png", frame)
        write_image(self.folder / f"{stem}_overlay.png", overlay)
        self.count += 1


class SnapshotOnChange:
    """Frame and overlay whenever the result changes (grade, count, no embryo); the first too."""

    def __init__(self, snapshots: Snapshots):
        self.snapshots, self.last = snapshots, None

    def write(self, frame, result, overlay):
        if result.label != self.last:
            self.snapshots.save(frame.image, overlay, frame.index,
                                f"grade{result.grade}" if result.grade else result.label.replace(" ", "-"))
        self.last = result.label

    def close(self):
        pass


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
