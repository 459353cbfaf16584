import json
import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from edgegrade.errors import EdgegradeError  # noqa: E402
from edgegrade.runtime.pipeline import Pipeline  # noqa: E402
from edgegrade.runtime.smoothing import SceneSmoother  # noqa: E402
from edgegrade.runtime.sources import Frame, LatestFrame, Source, open_source  # noqa: E402
from edgegrade.runtime.watch import WatchConfig, watch  # noqa: E402
from edgegrade.scenes import render_scene  # noqa: E402

quiet = dict(echo=lambda m: None)


def test_runtime_never_imports_torch(fp16_bundle, tmp_path):
    code = ("import sys; from edgegrade.runtime.watch import WatchConfig, watch; "
            "import edgegrade.runtime.stills, edgegrade.runtime.trt_backend, edgegrade.export.bundle_ops; "
            f"watch(WatchConfig(bundle={str(fp16_bundle)!r}, source='synthetic#3', out={str(tmp_path)!r}, headless=True), echo=lambda m: None); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-1500:]
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_watch_headless_writes_log_summary_and_snapshots(fp16_bundle, tmp_path):
    s = watch(WatchConfig(bundle=str(fp16_bundle), source="synthetic:320x240#12", out=str(tmp_path),
                          headless=True, video=str(tmp_path / "v.mp4")), **quiet)
    lines = [json.loads(x) for x in (tmp_path / "grades.jsonl").read_text().splitlines()]
    assert len(lines) == 12 == s["frames"]
    for key in ("time", "frame", "grade", "ratio", "mask_ratio", "review", "latency_ms", "result_latency_ms"):
        assert key in lines[0]
    assert {"preprocess", "assistant", "grader", "postprocess", "overlay"} <= set(lines[0]["latency_ms"])
    assert json.loads((tmp_path / "summary.json").read_text())["frames"] == 12
    assert list((tmp_path / "snapshots").glob("*_overlay.png"))
    assert (tmp_path / "v.mp4").stat().st_size > 1000


def test_folder_source_skips_and_counts_bad_files(fp16_bundle, tmp_path):
    folder = tmp_path / "lapse"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"t{i}.png"), np.full((90, 120), 100 + i, np.uint8))
    (folder / "notes.txt").write_text("x")
    (folder / "t9.png").write_bytes(cv2.imencode(".png", np.zeros((50, 50), np.uint8))[1].tobytes()[:40])
    s = watch(WatchConfig(bundle=str(fp16_bundle), source=str(folder), out=str(tmp_path / "o"), headless=True), **quiet)
    assert s["frames"] == 3 and s["decode_errors"] == 1  # the truncated PNG; notes.txt is no frame (as in `grade`)


_EMBRYO = render_scene(np.random.default_rng(4), 320, 240, fraction=0.5).image


@pytest.mark.parametrize("frame", [
    _EMBRYO, _EMBRYO.astype(np.uint16) * 257, cv2.cvtColor(_EMBRYO, cv2.COLOR_GRAY2BGRA),
    cv2.cvtColor(_EMBRYO, cv2.COLOR_GRAY2BGR)])
def test_pipeline_takes_grey_16bit_bgra_frames(fp16_bundle, frame):
    with Pipeline(WatchConfig(bundle=fp16_bundle)) as pipe:
        r = pipe.process(Frame(0, time.perf_counter(), frame))
    assert r.roi is not None and r.raw_ratio is not None and 0 <= r.raw_ratio <= 1


def test_empty_well_is_no_embryo_without_running_the_models(fp16_bundle):
    empty = render_scene(np.random.default_rng(4), 320, 240, embryo=False).image
    with Pipeline(WatchConfig(bundle=fp16_bundle)) as pipe:
        r = pipe.process(Frame(0, time.perf_counter(), empty))
    assert r.state == "no-embryo" and r.grade is None and r.raw_ratio is None
    assert set(r.timings) == {"localise"} and r.log_record()["roi"] is None


def test_fixed_roi_is_what_the_models_see(fp16_bundle):
    with Pipeline(WatchConfig(bundle=fp16_bundle, roi="100,60,80,70")) as pipe:
        r = pipe.process(Frame(0, time.perf_counter(), _EMBRYO))
    assert r.roi == {"x": 100, "y": 60, "w": 80, "h": 70, "confidence": 1.0} and "localise" not in r.timings
    assert all(c[:, 0].min() >= 100 - 25 and c[:, 0].max() <= 180 + 25 for c in r.embryo_contours)


def test_latest_frame_drops_backlog():
    src = Source()
    counter = iter(range(10_000))
    grab = LatestFrame(lambda: np.full((4, 4), next(counter) % 255, np.uint8), fps=500)
    seen, lags = 0, []
    for frame in grab.frames(src):
        time.sleep(0.02)  # a slow consumer
        lags.append(time.perf_counter() - frame.captured)
        seen += 1
        if seen == 10:
            break
    assert src.dropped > 10  # frames were overwritten rather than queued
    assert max(lags) < 0.1  # and what we got was always fresh


def test_scene_change_resets_smoothing():
    sm = SceneSmoother(window=5)
    a, b = np.full((64, 64), 60, np.uint8), np.full((64, 64), 200, np.uint8)
    sm.scene_changed(a)
    for r in (0.1, 0.12, 0.11):
        sm.update(r, r)
    assert sm.update(0.5, 0.5)[0] == pytest.approx(0.115)  # median resists one outlier
    assert sm.scene_changed(b) and sm.update(0.4, 0.4) == (0.4, 0.4)


def test_bad_sources_and_outputs(fp16_bundle, tmp_path):
    with pytest.raises(EdgegradeError, match="no camera there"):
        open_source("/dev/video97")
    with pytest.raises(EdgegradeError, match="no such file"):
        open_source(str(tmp_path / "missing.mp4"))
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    if os.access(ro, os.W_OK):
        pytest.skip("running as a user who can write anywhere")
    with pytest.raises(EdgegradeError, match="not writable"):
        watch(WatchConfig(bundle=str(fp16_bundle), out=str(ro / "x"), headless=True), **quiet)


def test_unwritable_output_fails_before_capture(fp16_bundle, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(EdgegradeError, match="not writable"):
        watch(WatchConfig(bundle=str(fp16_bundle), source="/dev/video97", out=str(blocker / "out"), headless=True), **quiet)


def test_sigterm_stops_cleanly_with_everything_flushed(fp16_bundle, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "edgegrade", "watch", "--bundle", str(fp16_bundle), "--source",
                             "synthetic#100000", "--out", str(tmp_path), "--headless"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = tmp_path / "grades.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and (not log.exists() or log.stat().st_size == 0):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-1500:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["stopped_by_signal"] and summary["frames"] >= 1
    assert len(log.read_text().splitlines()) == summary["frames"]  # every graded frame is in the log


def test_grade_stills_on_real_frames(fp16_bundle, real_dir, tmp_path):
    from click.testing import CliRunner

    from edgegrade.cli import main

    r = CliRunner().invoke(main, ["grade", "--bundle", str(fp16_bundle), str(real_dir), "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    rows = json.loads((tmp_path / "grades.json").read_text())
    assert len(rows) == 6 and all(row["state"] in ("graded", "no-embryo") for row in rows)
    assert len(list(tmp_path.glob("*_overlay.png"))) == 6


def test_watch_on_a_dish_tracks_the_embryo_and_logs_the_empty_well(fp16_bundle, tmp_path):
    from edgegrade.feed import SceneFeed

    s = watch(WatchConfig(bundle=str(fp16_bundle), source="synthetic-dish:320x240#90", out=str(tmp_path),
                          headless=True), **quiet)
    records = [json.loads(line) for line in (tmp_path / "grades.jsonl").read_text().splitlines()]
    assert s["frames"] == 90 and len(records) == 90
    block = SceneFeed.__init__.__defaults__[-1]  # frames per view
    assert block < 90 and all(r["roi"] for r in records[2:block])  # the first view holds an embryo
    empty = records[block + 3:min(90, 2 * block)]  # the empty well, after the tracker's patience
    assert empty and all(r["state"] == "no-embryo" and r["grade"] is None and r["roi"] is None for r in empty)
    assert json.loads(fp16_bundle.joinpath("manifest.json").read_text())["preprocess"]["crop"] == "embryo"


def test_wells_feed_knows_each_embryos_grade():
    from edgegrade.feed import WellsFeed
    from edgegrade.grading import interval

    feed = WellsFeed(160, 160, block=5)
    assert feed.frames == 40 and [feed.truth(5 * i)["grade"] for i in range(8)] == list("ABCDABCD")
    for i, r in enumerate(feed.embryos):
        low, high = interval("ABCD"[i % 4])
        assert low + 0.03 <= r.ratio < high - 0.03
    assert feed.truth(4) == feed.truth(0) != feed.truth(5)  # a block of frames per embryo
    assert len(list(feed)) == 40


def test_watch_on_a_feed_with_truth_reports_agreement_per_grade(fp16_bundle, tmp_path):
    from click.testing import CliRunner

    from edgegrade.cli import main

    r = CliRunner().invoke(main, ["watch", "--bundle", str(fp16_bundle), "--source", "synthetic-wells:160x160#80",
                                  "--headless", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    truth = json.loads((tmp_path / "summary.json").read_text())["truth"]
    assert truth["frames"] == 80 and set(truth["per_grade"]) == {"A", "B"}
    assert all(v["frames"] == 40 and 0 <= v["agreement"] <= 1 for v in truth["per_grade"].values())
    graded = [json.loads(x)["grade"] for x in (tmp_path / "grades.jsonl").read_text().splitlines()]
    assert truth["per_grade"]["A"]["agreement"] == graded[:40].count("A") / 40  # what the log says
    assert "truth: the grade agrees on" in r.output


def test_a_model_that_always_says_one_grade_agrees_on_a_quarter():
    from edgegrade.runtime.pipeline import Result
    from edgegrade.runtime.watch import Tally

    tally = Tally()
    for t in range(40):
        truth = {"embryo": t // 10, "grade": "ABCD"[t // 10], "ratio": 0.0}
        tally.add(Result(index=t, name="", state="graded", grade="D", review=t % 10 == 0), 1.0, truth)
    s = tally.summary()["truth"]
    assert s["agreement"] == 0.25 and s["per_grade"]["D"]["agreement"] == 1 and s["per_grade"]["A"]["agreement"] == 0
    assert s["review"] == 0.1


def test_watch_reports_mean_and_the_per_frame_cost_outside_inference(fp16_bundle, tmp_path):
    s = watch(WatchConfig(bundle=str(fp16_bundle), source="synthetic-dish:1920x1080#8", out=str(tmp_path),
                          headless=True, video=str(tmp_path / "v.mp4")), **quiet)
    lat = s["latency_ms"]
    assert {"mean", "p50", "p95"} <= set(lat["outside_inference"]) and lat["sinks"]["mean"] > 0
    stages = [lat[k]["mean"] for k in ("localise", "preprocess", "postprocess", "overlay", "log") if k in lat]
    # the per-frame sum: its mean is the sum of the stages' means (frames without a stage count 0)
    assert abs(lat["outside_inference"]["mean"] - sum(stages)) < 0.5 * sum(stages)
    assert lat["outside_inference"]["mean"] < lat["result"]["mean"] + lat["sinks"]["mean"]
    video = cv2.VideoCapture(str(tmp_path / "v.mp4"))
    assert video.read()[1].shape[:2] == (540, 960)  # drawn at display size: 1920 / 2


def test_overlay_at_display_size_scales_the_contours():
    from types import SimpleNamespace

    from edgegrade.runtime.overlay import display_factor, draw

    assert [display_factor(w, 1280) for w in (640, 1280, 1920, 3840)] == [1, 1, 2, 3]
    frame = np.zeros((1080, 1920), np.uint8)
    contour = np.array([[1000, 500], [1400, 500], [1400, 900]], np.int32)
    result = SimpleNamespace(roi=None, embryo_contours=[], fragment_contours=[contour], review=False,
                             headline=("Grade A", [], (255, 255, 255)), timings={})
    small, full = draw(frame, result, max_width=1280), draw(frame, result)
    assert small.shape == (540, 960, 3) and full.shape == (1080, 1920, 3)
    assert small[250, 600].any() and full[500, 1200].any() and not small[500, 600].any()
def test_a_long_run_keeps_its_latency_record_bounded():
    """A service grading for days: the summary's latencies cover the last LATENCY_WINDOW
    frames, so memory stays flat (benchmarks/soak.py measures it)."""
    from edgegrade.runtime.pipeline import Result
    from edgegrade.runtime.watch import Tally

    tally = Tally()
    for t in range(Tally.LATENCY_WINDOW + 50):
        result = Result(index=t, name="", state="graded", grade="A")
        result.timings = {"assistant": 1.0}
        tally.add(result, float(t))
    assert len(tally.latencies) == len(tally.stages["assistant"]) == Tally.LATENCY_WINDOW
    assert tally.frames == Tally.LATENCY_WINDOW + 50 and tally.summary()["latency_ms"]["result"]["p50"] > 5000
