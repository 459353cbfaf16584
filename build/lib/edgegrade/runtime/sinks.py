"""Where results go: a JSONL log flushed and synced per line (a crash or power cut loses at
most the line being written), snapshots, an optional annotated video."""

import json
import os
import threading
from pathlib import Path

import cv2

from edgegrade.errors import EdgegradeError
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
    """Each line is written and flushed at once (a crash of the process loses nothing); a
    background thread fsyncs after every write, so a power cut loses at most the lines of
    the last few milliseconds without an fsync (several ms) on the frame loop."""

    def __init__(self, path, fsync: bool = True):
        self.path = Path(path)
        ensure_writable(self.path.parent)
        self.f = open(self.path, "a", buffering=1)
        self.dirty = threading.Event()
        self.closing = False
        self.syncer = threading.Thread(target=self._sync, daemon=True) if fsync else None
        if self.syncer:
            self.syncer.start()

    def _sync(self):
        while not self.closing:
            if self.dirty.wait(0.5):
                self.dirty.clear()
                try:
                    os.fsync(self.f.fileno())
                except (OSError, ValueError):
                    return

    def write(self, record: dict):
        self.f.write(json.dumps(record) + "\n")
        self.f.flush()
        self.dirty.set()

    def close(self):
        if self.f.closed:
            return
        self.closing = True
        if self.syncer:
            self.dirty.set()
            self.syncer.join(timeout=2)
        self.f.flush()
        os.fsync(self.f.fileno())
        self.f.close()


class Snapshots:
    def __init__(self, folder):
        self.folder = ensure_writable(folder)
        self.count = 0

    def save(self, frame, overlay, index: int, reason: str):
        stem = f"frame{index:06d}_{reason}"
        write_image(self.folder / f"{stem}.png", frame)
        write_image(self.folder / f"{stem}_overlay.png", overlay)
        self.count += 1


class VideoSink:
    def __init__(self, path, fps: float = 15.0):
        self.path, self.fps, self.writer = Path(path), fps, None
        ensure_writable(self.path.parent)

    def write(self, image):
        if self.writer is None:
            h, w = image.shape[:2]
            self.writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
            if not self.writer.isOpened():
                raise EdgegradeError(f"{self.path}: cannot open a video writer here")
        self.writer.write(image)

    def close(self):
        if self.writer is not None:
            self.writer.release()
