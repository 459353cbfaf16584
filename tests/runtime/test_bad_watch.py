"""The bad-input matrix, runtime side (issue 17): `watch` and `grade` given sources that stall,
lie or break, disks that fill up, and boxes outside the frame. Each case: the exit code, one
line naming the file or flag, no traceback, nothing lost or half-written. Signals are sent to
a real `edgegrade watch` process; the rest runs in-process (click's runner)."""

import json
import signal
import socket
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest
from badinput import assert_one_line, disk, run_cli

pytest.importorskip("onnxruntime")

from edgegrade.scenes import render_scene  # noqa: E402

_SCENE = render_scene(np.random.default_rng(4), 320, 240, fraction=0.5).image


class Camera:
    """A network camera (MJPEG over HTTP, as IP cameras and `ffmpeg -f mpjpeg` serve it) that
    sends `frames` frames, then stalls (keeps the connection open, sends nothing: a read
    blocks) or goes away (closes, and nothing listens any more: every reconnect fails)."""

    def __init__(self, frames: int = 12, then: str = "stall"):
        self.frames, self.then, self.sent, self.release = frames, then, threading.Event(), threading.Event()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}/stream.mjpg"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        conn, _ = self.server.accept()
        conn.recv(4096)
        jpg = cv2.imencode(".jpg", cv2.cvtColor(_SCENE, cv2.COLOR_GRAY2BGR))[1].tobytes()
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\n\r\n")
        for _ in range(self.frames):
            conn.sendall(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n" % (len(jpg), jpg))
            time.sleep(1 / 15)
        self.sent.set()
        if self.then == "gone":
            conn.close()
            self.server.close()
            return
        self.release.wait()
        conn.close()

    def close(self):
        self.release.set()
        self.server.close()


def _watch(bundle, source, out):
    return subprocess.Popen([sys.executable, "-m", "edgegrade", "watch", "--bundle", str(bundle), "--source", source,
                             "--out", str(out), "--headless"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(check, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return False


@pytest.mark.parametrize("feed,sig", [
    ("stalled-camera", signal.SIGINT), ("stalled-camera", signal.SIGTERM), ("camera-gone", signal.SIGTERM),
    ("synthetic-live", signal.SIGINT), ("synthetic-live", signal.SIGTERM),
], ids=lambda v: v if isinstance(v, str) else v.name)
def test_cause1_a_signal_ends_watch_within_a_second_whatever_the_source_does(fp16_bundle, tmp_path, feed, sig):
    """Cause 1 (and what already held for a live synthetic feed): the stop reaches the run while
    the capture thread is blocked in a read or waiting to reconnect; the log is whole and
    summary.json is written within a second of the signal."""
    camera = Camera(then="gone" if feed == "camera-gone" else "stall") if "camera" in feed else None
    proc = _watch(fp16_bundle, camera.url if camera else "synthetic:320x240@15#100000", tmp_path)
    log, summary_path = tmp_path / "grades.jsonl", tmp_path / "summary.json"
    try:
        assert _wait_for(lambda: log.exists() and log.stat().st_size > 0, 90), proc.stderr.read() if proc.poll() else ""
        if camera:
            assert camera.sent.wait(30)
            time.sleep(1.0)  # the capture thread is now blocked in a read (stall) or backing off (gone)
        sent = time.monotonic()
        proc.send_signal(sig)
        assert _wait_for(summary_path.exists, 1.0), "no summary.json within a second of the signal"
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        if camera:
            camera.close()
    assert time.monotonic() - sent < 30 and proc.returncode == 0, err[-1500:]
    summary = json.loads(summary_path.read_text())
    records = [json.loads(line) for line in log.read_text().splitlines()]  # every line valid JSON
    assert summary["stopped_by_signal"] and summary["frames"] >= 1 and len(records) == summary["frames"]
    assert "Traceback" not in err


def test_cause9_a_full_disk_stops_watch_with_one_line_and_a_whole_log(fp16_bundle, tmp_path):
    out = tmp_path / "out"
    with disk(out, 48) as how:
        r = run_cli(["watch", "--bundle", fp16_bundle, "--source", "synthetic:160x160#100000", "--out", out,
                     "--headless", "--max-frames", 2000])
        line = assert_one_line(r, 2, "No space left on device" if how == "tmpfs" else "File too large")
        assert "grades.jsonl" in line or "snapshots" in line or "summary" in line
        lines = (out / "grades.jsonl").read_text().splitlines()
        assert lines and all(json.loads(x)["frame"] == i for i, x in enumerate(lines))  # no half line at the end


def test_cause9_a_snapshot_that_cannot_be_written_is_said_once_and_grading_goes_on(fp16_bundle, tmp_path):
    with disk(tmp_path / "snapshots", 40) as how:
        r = run_cli(["watch", "--bundle", fp16_bundle, "--source", "synthetic:320x240#30", "--out", tmp_path,
                     "--headless"])
        assert r.exit_code == 0, r.output
    warnings = [x for x in r.output.splitlines() if x.startswith("warning:") and "snapshots" in x]
    assert len(warnings) == 1 and ("No space left" if how == "tmpfs" else "File too large") in warnings[0]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["frames"] == 30 == len((tmp_path / "grades.jsonl").read_text().splitlines())
    assert summary["sink_failures"]["SnapshotOnChange"] >= 1


def test_cause9_read_only_output_fails_before_capture(fp16_bundle, tmp_path):
    with disk(tmp_path / "ro", 64, read_only=True):
        r = run_cli(["watch", "--bundle", fp16_bundle, "--source", "synthetic#5", "--out", tmp_path / "ro" / "w",
                     "--headless"])
        assert_one_line(r, 2, str(tmp_path / "ro"))


def test_cause10_a_synthetic_source_of_0x0_names_the_flag(fp16_bundle, tmp_path):
    r = run_cli(["watch", "--bundle", fp16_bundle, "--source", "synthetic:0x0", "--out", tmp_path, "--headless"])
    assert_one_line(r, 2, "--source synthetic:0x0", "at least 64x64")


def test_cause13_a_box_outside_the_frame_is_an_error_half_outside_a_warning(fp16_bundle, tmp_path):
    r = run_cli(["watch", "--bundle", fp16_bundle, "--source", "synthetic:640x640#3", "--out", tmp_path,
                 "--headless", "--roi", "5000,5000,100,100"])
    assert_one_line(r, 2, "--roi 5000,5000,100,100", "wholly outside the 640x640 frame")
    assert "wholly outside" in json.loads((tmp_path / "summary.json").read_text())["error"]
    r = run_cli(["watch", "--bundle", fp16_bundle, "--source", "synthetic:640x640#3", "--out", tmp_path / "b",
                 "--headless", "--roi", "600,600,100,100"])
    assert r.exit_code == 0 and r.output.count("warning: --roi 600,600,100,100: only 16% of the box") == 1


def _video(path, frames=20):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (320, 240))
    for i in range(frames):
        writer.write(cv2.cvtColor(np.roll(_SCENE, 2 * i, axis=1), cv2.COLOR_GRAY2BGR))
    writer.release()
    return path.read_bytes()


def test_cause14_a_damaged_video_reports_its_missing_frames(fp16_bundle, tmp_path):
    data = _video(tmp_path / "v.mp4")
    third = len(data) // 3
    (tmp_path / "damaged.mp4").write_bytes(data[:third] + bytes(third) + data[2 * third:])
    r = run_cli(["watch", "--bundle", fp16_bundle, "--source", tmp_path / "damaged.mp4", "--out", tmp_path / "o",
                 "--headless"])
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert_one_line(r, 1, "damaged.mp4", f"read {summary['frames']} of the 20 frames")
    assert summary["frames_expected"] == 20 and summary["frames"] + summary["decode_errors"] == 20
    assert summary["decode_errors"] > 1
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])  # the index (moov) at the end is gone
    r = run_cli(["watch", "--bundle", fp16_bundle, "--source", tmp_path / "cut.mp4", "--out", tmp_path / "o2",
                 "--headless"])
    assert_one_line(r, 2, "cut.mp4", "could not open it")
    r = run_cli(["watch", "--bundle", fp16_bundle, "--source", tmp_path / "v.mp4", "--out", tmp_path / "o3",
                 "--headless"])
    assert r.exit_code == 0 and "decode errors 0" in r.output


def test_cause15_nothing_readable_is_an_error_some_unreadable_is_exit_1(fp16_bundle, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for i in range(3):
        (bad / f"t{i}.jpg").write_bytes(cv2.imencode(".jpg", _SCENE)[1].tobytes()[:300])
    r = run_cli(["watch", "--bundle", fp16_bundle, "--source", bad, "--out", tmp_path / "w", "--headless"])
    assert_one_line(r, 2, f"--source {bad}", "no frame could be read (3 unreadable)")
    r = run_cli(["grade", "--bundle", fp16_bundle, bad, "--out", tmp_path / "g"])
    assert_one_line(r, 2, "none of the 3 image(s) could be read")
    cv2.imwrite(str(bad / "t5.png"), _SCENE)
    r = run_cli(["grade", "--bundle", fp16_bundle, bad, "--out", tmp_path / "g2"])
    assert_one_line(r, 1, "3 of 4 image(s) could not be read", "grades.csv")
    r = run_cli(["watch", "--bundle", fp16_bundle, "--source", bad, "--out", tmp_path / "w2", "--headless"])
    assert_one_line(r, 1, "3 frame(s) could not be read", "1 graded")


def _frames():
    grey = _SCENE
    return {"grey.png": grey, "16bit.png": grey.astype(np.uint16) * 257,
            "bgra.png": cv2.cvtColor(grey, cv2.COLOR_GRAY2BGRA), "float.tiff": grey.astype(np.float32) / 255,
            "1x1.png": grey[:1, :1], "huge.png": cv2.resize(grey, (6000, 4500))}


def test_frames_of_every_kind_are_graded_or_said_empty(fp16_bundle, tmp_path):
    """Held before issue 17: grey, 16-bit, BGRA, float, 1x1 and huge frames."""
    folder = tmp_path / "frames"
    folder.mkdir()
    for name, image in _frames().items():
        assert cv2.imwrite(str(folder / name), image)
    r = run_cli(["grade", "--bundle", fp16_bundle, folder, "--out", tmp_path / "g"])
    assert r.exit_code == 0, r.output
    rows = json.loads((tmp_path / "g" / "grades.json").read_text())
    assert len(rows) == 6 and all(row["state"] in ("graded", "no-embryo") for row in rows)


def test_runs_into_one_folder_append_the_log_and_keep_every_summary(fp16_bundle, tmp_path):
    """Also noticed in issue 17: a second run appends to grades.jsonl (each line names its run)
    and keeps the first run's summary beside its own."""
    for _ in range(2):
        r = run_cli(["watch", "--bundle", fp16_bundle, "--source", "synthetic:160x160#4", "--out", tmp_path,
                     "--headless"])
        assert r.exit_code == 0, r.output
    runs = [json.loads(x)["run"] for x in (tmp_path / "grades.jsonl").read_text().splitlines()]
    kept = list(tmp_path.glob("summary-*.json"))
    latest = json.loads((tmp_path / "summary.json").read_text())
    assert len(runs) == 8 and len(set(runs)) == 2 and len(kept) == 1
    assert json.loads(kept[0].read_text())["run"] == runs[0] and latest["run"] == runs[-1]
