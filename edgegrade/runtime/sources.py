"""Frame sources behind one call, `source.frames(stop)`: live sources (cameras, rtsp, csi,
gst) keep only the newest frame in a capture thread (no backlog, bounded latency) and
reconnect with back-off; files, folders and the synthetic feed yield every frame, read one
ahead in a thread. Either way the consumer waits at most POLL seconds between looks at `stop`
(set by SIGINT/SIGTERM), so a camera that stopped sending, a reconnect back-off or a read that
hangs never keeps `watch` from ending."""

import queue
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edgegrade.errors import DataError, EdgegradeError
from edgegrade.imageio import is_image, read_image

POLL = 0.05  # seconds: the longest a wait for a frame goes without looking at the stop request
FRAME_COUNT_SLACK = 0.02  # a container's frame count may be an estimate: a shortfall this small is not one
MIN_SYNTHETIC_SIDE = 64


@dataclass
class Frame:
    index: int
    captured: float  # time.perf_counter() when the frame was read (files: when it was handed on)
    image: np.ndarray
    name: str = ""
    truth: dict | None = None  # synthetic feeds that know it: {"embryo", "grade", "ratio"}


class Source:
    live = False

    def __init__(self):
        self.decode_errors = 0  # frames that could not be read (for a video, those it lists but did not give)
        self.dropped = 0  # live frames overwritten before they were used
        self.expected: int | None = None  # frames a video's container lists

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        pass

    def frames(self, stop: threading.Event | None = None):
        """Every frame until the source ends or `stop` is set (live sources override this
        with the newest frame only)."""
        return prefetch(iter(self), stop or threading.Event())

    def __iter__(self):
        raise NotImplementedError


def prefetch(frames, stop: threading.Event, depth: int = 2):
    """Every frame of `frames`, in order, read up to `depth` ahead in a thread: a read that
    hangs (a stalled network share, a pipe) holds the thread, never the caller, which sees
    `stop` within POLL seconds. An error in the reader is raised in the caller."""
    handed, halt, end = queue.Queue(depth), threading.Event(), object()

    def offer(item) -> bool:
        while not halt.is_set():
            try:
                handed.put(item, timeout=POLL)
                return True
            except queue.Full:
                pass
        return False

    def run():
        try:
            for frame in frames:
                if not offer(frame):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, raised there
            offer(exc)
            return
        offer(end)

    reader = threading.Thread(target=run, daemon=True, name="edgegrade-reader")
    reader.start()
    try:
        while not stop.is_set():
            try:
                item = handed.get(timeout=POLL)
            except queue.Empty:
                continue
            if item is end:
                return
            if isinstance(item, BaseException):
                raise item
            item.captured = time.perf_counter()  # a file's frame is 'captured' when the pipeline gets it
            yield item
    finally:
        halt.set()
        reader.join(timeout=POLL)  # a reader stuck in a read is left behind (a daemon thread)


class FolderSource(Source):
    """A time-lapse export: every image in name order; unreadable images are counted and
    skipped, other files ignored (as `grade` does)."""

    def __init__(self, folder: Path, paths: list[Path] | None = None):
        super().__init__()
        paths = paths if paths is not None else sorted(p for p in Path(folder).iterdir() if p.is_file())
        self.paths = [p for p in paths if is_image(p)]
        if not self.paths:
            raise EdgegradeError(f"--source {folder}: no images in this folder")

    def __iter__(self):
        index = 0
        for p in self.paths:
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
        for i, image in enumerate(self.feed):
            yield Frame(i, time.perf_counter(), image, f"synthetic{i}", truth(i))

    def frames(self, stop=None):
        if not self.live:
            return super().frames(stop)
        return self._live(stop)

    def _live(self, stop):
        grabber = LatestFrame(lambda: next(self.feed, None), self.fps)
        for frame in grabber.frames(self, stop):  # the grabber counts every frame the feed made
            frame.truth = self.feed.truth(frame.index)
            yield frame


class LatestFrame:
    """Runs `read` in a thread; consumers always get the newest frame, never a queue. A read
    that blocks (a camera that stopped sending) holds only that thread."""

    def __init__(self, read, fps=0.0, reconnect=None):
        self.read, self.period, self.reconnect = read, (1.0 / fps if fps else 0.0), reconnect
        self.cond = threading.Condition()
        self.latest: Frame | None = None
        self.halt = threading.Event()  # the consumer is done: the reader ends at its next step
        self.ended = False

    def _run(self, source: Source):
        index, backoff = 0, 0.5
        while not self.halt.is_set():
            t0 = time.perf_counter()
            image = self.read()
            if image is None:
                if self.reconnect is None:
                    break
                if self.halt.wait(backoff):  # camera dropped: try again, waiting longer each time
                    break
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
                self.halt.wait(max(0.0, self.period - (time.perf_counter() - t0)))
        with self.cond:
            self.ended = True
            self.cond.notify()

    def frames(self, source: Source, stop: threading.Event | None = None):
        stop = stop or threading.Event()
        thread = threading.Thread(target=self._run, args=(source,), daemon=True, name="edgegrade-capture")
        thread.start()
        try:
            while not stop.is_set():
                with self.cond:
                    if self.latest is None and not self.ended:
                        self.cond.wait(POLL)
                    if self.latest is None:
                        if self.ended:
                            return
                        continue
                    frame, self.latest = self.latest, None
                yield frame
        finally:
            self.halt.set()
            thread.join(timeout=POLL)  # a reader blocked in a read is left behind (a daemon thread)


class CaptureSource(Source):
    """cv2.VideoCapture: cameras, /dev/videoN, rtsp://, GStreamer pipelines, video files. A
    video file is read past damaged stretches while its container says frames remain, and the
    frames it lists but never gave are counted as decode errors."""

    def __init__(self, target, api=cv2.CAP_ANY, live=True, description=""):
        super().__init__()
        self.target, self.api, self.live = target, api, live
        self.description = description or str(target)
        self.reading = threading.Lock()  # held during a read: never release a capture under it
        self.cap = self._open()
        if self.cap is None:
            raise EdgegradeError(self._failure())
        if not live:
            count = int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT))
            self.expected = count if count > 0 else None

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
        with self.reading:
            if self.cap is None:
                return None
            ok, image = self.cap.read()
        if not ok:
            if self.live:
                self.decode_errors += 1
            return None
        return image

    def _reconnect(self):
        with self.reading:
            if self.cap is not None:
                self.cap.release()
            self.cap = self._open()

    def frames(self, stop=None):
        if not self.live:
            return super().frames(stop)
        return LatestFrame(self._read, reconnect=self._reconnect).frames(self, stop)

    def __iter__(self):
        index = failed = 0
        while True:
            image = self._read()
            if image is not None:
                failed = 0
                yield Frame(index, time.perf_counter(), image)
                index += 1
            elif self.expected and index + failed < self.expected:
                failed += 1  # a damaged stretch: the container says frames remain, keep reading
            else:
                break
        missing = (self.expected or 0) - index
        if missing > max(1, FRAME_COUNT_SLACK * (self.expected or 0)):
            self.decode_errors += missing

    def close(self):
        # a read still blocked in another thread keeps the capture: releasing it there could
        # crash the process; it goes with the process
        if self.reading.acquire(timeout=0.2):
            try:
                if self.cap is not None:
                    self.cap.release()
                    self.cap = None
            finally:
                self.reading.release()


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
        # no #N: the feed's own length (synthetic-wells: each embryo's block once)
        frames, fps = int(m.group(5) or feed.default_frames), float(m.group(4) or 0)
        if min(w, h) < MIN_SYNTHETIC_SIDE or (m.group(5) and frames < 1) or (m.group(4) and fps <= 0):
            raise EdgegradeError(f"--source {spec}: frames of at least {MIN_SYNTHETIC_SIDE}x{MIN_SYNTHETIC_SIDE} px, "
                                 "at least 1 frame (#N) and a rate above 0 (@FPS)")
        return SyntheticSource(feed(w, h, 0, frames), fps=fps)
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
