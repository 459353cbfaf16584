"""Frame sources behind one iterator (`open_source`): live sources (cameras, rtsp, csi, gst)
keep only the newest frame in a capture thread (no backlog, bounded latency) and reconnect
with back-off; files, folders and the synthetic feed yield every frame."""

import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edgegrade.errors import DataError, EdgegradeError
from edgegrade.imageio import is_image, read_image


@dataclass
class Frame:
    index: int
    captured: float  # time.perf_counter() when the frame was read
    image: np.ndarray
    name: str = ""
    truth: dict | None = None  # synthetic feeds that know it: {"embryo", "grade", "ratio"}


class Source:
    live = False

    def __init__(self):
        self.decode_errors = 0
        self.dropped = 0  # live frames overwritten before they were used

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        pass

    def __iter__(self):
        raise NotImplementedError


class FolderSource(Source):
    """A time-lapse export: every image in name order; non-images and unreadable files are
    counted and skipped."""

    def __init__(self, folder: Path, paths: list[Path] | None = None):
        super().__init__()
        self.paths = paths if paths is not None else sorted(p for p in Path(folder).iterdir() if p.is_file())
        if not any(is_image(p) for p in self.paths):
            raise EdgegradeError(f"--source {folder}: no images in this folder")

    def __iter__(self):
        index = 0
        for p in self.paths:
            if not is_image(p):
                self.decode_errors += 1
                continue
            try:
                image = read_image(p)
            except DataError:
                self.decode_errors += 1
                continue
            yield Frame(index, time.perf_counter(), image, p.name)
            index += 1


class SyntheticSource(Source):
    """The synthetic microscope feed. With fps > 0 it behaves as a live camera (capture
    thread, newest frame only) so that latency under load can be measured."""

    def __init__(self, feed, fps=0.0):
        super().__init__()
        self.feed = feed
        self.fps = fps
        self.live = fps > 0

    def __iter__(self):
        truth = self.feed.truth
        if not self.live:
            for i, image in enumerate(self.feed):
                yield Frame(i, time.perf_counter(), image, f"synthetic{i}", truth(i))
            return
        grabber = LatestFrame(lambda: next(self.feed, None), self.fps)
        for frame in grabber.frames(self):  # the grabber counts every frame the feed made
            frame.truth = truth(frame.index)
            yield frame


class LatestFrame:
    """Runs `read` in a thread; consumers always get the newest frame, never a queue."""

    def __init__(self, read, fps=0.0, reconnect=None):
        self.read, self.period, self.reconnect = read, (1.0 / fps if fps else 0.0), reconnect
        self.cond = threading.Condition()
        self.latest: Frame | None = None
        self.stopped = False
        self.ended = False

    def _run(self, source: Source):
        index, backoff = 0, 0.5
        while not self.stopped:
            t0 = time.perf_counter()
            image = self.read()
            if image is None:
                if self.reconnect is None:
                    break
                time.sleep(backoff)  # camera dropped: try again, waiting longer each time
                backoff = min(backoff * 2, 8.0)
                self.reconnect()
                continue
            backoff = 0.5
            with self.cond:
                if self.latest is not None:
                    source.dropped += 1
                self.latest = Frame(index, time.perf_counter(), image)
                self.cond.notify()
            index += 1
            if self.period:
                time.sleep(max(0.0, self.period - (time.perf_counter() - t0)))
        with self.cond:
            self.ended = True
            self.cond.notify()

    def frames(self, source: Source):
        thread = threading.Thread(target=self._run, args=(source,), daemon=True)
        thread.start()
        try:
            while True:
                with self.cond:
                    while self.latest is None and not self.ended:
                        self.cond.wait(0.5)
                    if self.latest is None:
                        return
                    frame, self.latest = self.latest, None
                yield frame
        finally:
            self.stopped = True
            thread.join(timeout=2)


class CaptureSource(Source):
    """cv2.VideoCapture: cameras, /dev/videoN, rtsp://, GStreamer pipelines, video files."""

    def __init__(self, target, api=cv2.CAP_ANY, live=True, description=""):
        super().__init__()
        self.target, self.api, self.live = target, api, live
        self.description = description or str(target)
        self.cap = self._open()
        if self.cap is None:
            raise EdgegradeError(self._failure())

    def _open(self):
        cap = cv2.VideoCapture(self.target, self.api)
        if not cap.isOpened():
            cap.release()
            return None
        return cap

    def _failure(self) -> str:
        if isinstance(self.target, int) or str(self.target).startswith("/dev/video"):
            found = sorted(str(p) for p in Path("/dev").glob("video*"))
            return (f"--source {self.description}: no camera there (tried OpenCV index/device "
                    f"{self.target}; devices present: {', '.join(found) or 'none'})")
        if self.api == cv2.CAP_GSTREAMER and not re.search(r"GStreamer:\s+YES", cv2.getBuildInformation()):
            return (f"--source {self.description}: this OpenCV has no GStreamer support; on a Jetson use "
                    "JetPack's OpenCV (python3-opencv) instead of the pip wheel")
        return f"--source {self.description}: OpenCV could not open it"

    def _read(self):
        if self.cap is None:
            return None
        ok, image = self.cap.read()
        if not ok:
            if not self.live:
                return None
            self.decode_errors += 1
            return None
        return image

    def _reconnect(self):
        if self.cap is not None:
            self.cap.release()
        self.cap = self._open()

    def __iter__(self):
        if self.live:
            yield from LatestFrame(self._read, reconnect=self._reconnect).frames(self)
            return
        index = 0
        while True:
            image = self._read()
            if image is None:
                return
            yield Frame(index, time.perf_counter(), image)
            index += 1

    def close(self):
        if self.cap is not None:
            self.cap.release()


def csi_pipeline(sensor: int, width=1920, height=1080, fps=30) -> str:
    return (f"nvarguscamerasrc sensor-id={sensor} ! video/x-raw(memory:NVMM), width={width}, height={height}, "
            f"framerate={fps}/1 ! nvvidconv ! video/x-raw, format=BGRx ! videoconvert ! "
            "video/x-raw, format=BGR ! appsink drop=true max-buffers=1")


def open_source(spec: str) -> Source:
    """`0`, `/dev/video0`, `file.mp4`, `rtsp://...`, `csi://0`, `gst:PIPELINE`, a folder,
    `synthetic[:WxH][@FPS][#N]` (one embryo filling the frame), `synthetic-wells[...]` (eight
    embryos of known grades, two of each, one after another), `synthetic-dish[...]` (full dish
    frames: embryos at several magnifications and an empty well, in turn) or
    `synthetic-oocyte[...]` (MII oocytes one after another)."""
    spec = str(spec)
    if spec.startswith("synthetic"):
        m = re.fullmatch(r"synthetic(?:-(wells|dish|oocyte))?(?::(\d+)x(\d+))?(?:@(\d+(?:\.\d+)?))?(?:#(\d+))?", spec)
        if not m:
            raise EdgegradeError(f"--source {spec}: expected synthetic[-wells|-dish|-oocyte][:WxH][@FPS][#FRAMES]")
        from edgegrade.feed import FEEDS

        feed = FEEDS[m.group(1) or ""]
        w, h = int(m.group(2) or feed.size[0]), int(m.group(3) or feed.size[1])
        frames = int(m.group(5) or feed.default_frames)
        return SyntheticSource(feed(w, h, 0, frames), fps=float(m.group(4) or 0))
    if spec.isdigit():
        return CaptureSource(int(spec), cv2.CAP_V4L2 if Path("/dev/video0").exists() else cv2.CAP_ANY)
    if spec.startswith("/dev/video"):
        return CaptureSource(spec, cv2.CAP_V4L2)
    if spec.startswith("csi://"):
        return CaptureSource(csi_pipeline(int(spec[6:] or 0)), cv2.CAP_GSTREAMER, description=spec)
    if spec.startswith("gst:"):
        return CaptureSource(spec[4:], cv2.CAP_GSTREAMER, description=spec)
    if re.match(r"^(rtsp|rtmp|http|https)://", spec):
        return CaptureSource(spec, cv2.CAP_FFMPEG)
    path = Path(spec)
    if path.is_dir():
        return FolderSource(path)
    if path.is_file():
        if is_image(path):
            return FolderSource(path.parent, [path])
        return CaptureSource(str(path), cv2.CAP_ANY, live=False)
    raise EdgegradeError(f"--source {spec}: no such file, folder, camera or URL")
