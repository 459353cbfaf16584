"""The live view's server (`watch --serve`): what it answers, to whom, and what it never serves.
In-process, without a model: results are published as the frame loop would. The page in a
real browser against a running `watch` is tests/runtime/test_live_browser.py."""

import http.client
import json
import threading
import time

import numpy as np
import pytest

from edgegrade.errors import EdgegradeError
from edgegrade.runtime.serve import MAX_STREAMS, LiveView, parse_address
from edgegrade.runtime.sinks import Snapshots


@pytest.fixture
def view(tmp_path):
    snaps = Snapshots(tmp_path / "out" / "snapshots", run="R")
    (tmp_path / "out" / "grades.jsonl").write_text("{}\n")
    (tmp_path / "secret.txt").write_text("outside the run")
    frame = np.full((60, 80, 3), 90, np.uint8)
    snaps.save(frame, frame, 7, "gradeB")
    with LiveView("127.0.0.1:0", None, 20, snaps, {"run": "R", "grades": []}, echo=lambda m: None) as v:
        yield v


def get(view, path, host=None, headers=None, method="GET"):
    conn = http.client.HTTPConnection("127.0.0.1", view.port, timeout=5)
    conn.putrequest(method, path, skip_host=True)
    conn.putheader("Host", host or f"127.0.0.1:{view.port}")
    for k, v in (headers or {}).items():
        conn.putheader(k, v)
    conn.endheaders()
    r = conn.getresponse()
    body = r.read() if r.getheader("Content-Type", "").split(";")[0] not in (
        "multipart/x-mixed-replace", "text/event-stream") else r
    return r, body


def publish(view, n=3, start=0):
    for i in range(start, start + n):
        view.publish({"frame": i, "grade": "AB"[i % 2], "ratio": 0.05 + 0.1 * (i % 2), "review": False, "time": time.time()},
                     np.full((60, 80, 3), 10 * i % 255, np.uint8), heading=f"Grade {'AB'[i % 2]}", snapshots=1)


def test_parse_address():
    assert parse_address("8080") == ("127.0.0.1", 8080)
    assert parse_address("0.0.0.0:80") == ("0.0.0.0", 80)
    assert parse_address("[::1]:0") == ("::1", 0)
    for bad in ("", "http", "host:", ":80", "1.2.3.4:70000"):
        with pytest.raises(EdgegradeError, match="--serve"):
            parse_address(bad)


def test_the_page_the_latest_result_and_the_history(view):
    r, body = get(view, "/")
    assert r.status == 200 and b"edgegrade live" in body and r.getheader("Cache-Control") == "no-store"
    assert "script-src 'self'" in r.getheader("Content-Security-Policy")
    assert json.loads(get(view, "/api/latest")[1]) is None  # nothing graded yet
    publish(view, 3)
    latest = json.loads(get(view, "/api/latest")[1])
    assert latest["frame"] == 2 and latest["seq"] == 3 and latest["heading"] == "Grade A"
    history = json.loads(get(view, "/api/history")[1])
    assert [x["frame"] for x in history["records"]] == [0, 1, 2] and history["info"]["run"] == "R"


def test_snapshots_by_exact_name_and_nothing_else(view):
    names = json.loads(get(view, "/api/snapshots")[1])["snapshots"]
    assert [s["name"] for s in names] == ["R_frame000007_gradeB"]
    r, body = get(view, "/snapshots/R_frame000007_gradeB_overlay.png")
    assert r.status == 200 and body[:4] == b"\x89PNG"
    for path in ("/snapshots/", "/snapshots", "/snapshots/../grades.jsonl", "/snapshots/..%2Fgrades.jsonl",
                 "/../secret.txt", "/grades.jsonl", "/snapshots/R_frame000008_gradeB.png", "//etc/passwd",
                 "/snapshots/R_frame000007_gradeB_overlay.png/../../grades.jsonl", "/live.html"):
        r, body = get(view, path)
        assert r.status == 404 and b"outside" not in body and b"{}" != body, path


def test_read_only(view):
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        r, _ = get(view, "/api/latest", method=method)
        assert r.status == 405 and r.getheader("Allow") == "GET, HEAD"


def test_a_local_view_answers_local_names_only(view):
    assert get(view, "/", host=f"localhost:{view.port}")[0].status == 200
    r, body = get(view, "/api/latest", host="evil.example:80")  # a page that rebound its name to 127.0.0.1
    assert r.status == 403 and b"local" in body


def test_any_other_address_needs_the_token_on_every_request(tmp_path):
    lines = []
    snaps = Snapshots(tmp_path / "snapshots", run="R")
    with LiveView("0.0.0.0:0", None, 10, snaps, {"run": "R"}, echo=lines.append) as v:
        token = v.token
        assert len(token) >= 20 and len(lines) == 1 and f"?token={token}" in lines[0]
        for path in ("/", "/live.js", "/api/latest", "/api/history", "/stream.mjpg", "/api/events"):
            r, _ = get(v, path)
            assert r.status == 401 and r.getheader("WWW-Authenticate") == "Bearer", path
            assert get(v, path + "?token=wrong" + token)[0].status == 401
        r, body = get(v, f"/?token={token}")
        assert r.status == 200 and f'src="live.js?token={token}"'.encode() in body  # the script asks with it too
        assert get(v, f"/live.js?token={token}")[0].status == 200
        assert get(v, "/api/latest", headers={"Authorization": f"Bearer {token}"})[0].status == 200
    with LiveView("127.0.0.1:0", "given-token", 10, snaps, {}, echo=lines.append) as v:
        assert v.token == "given-token" and get(v, "/")[0].status == 401  # a token given is asked for locally too
        assert get(v, "/?token=given-token")[0].status == 200


def test_a_port_in_use_is_one_line(view):
    with pytest.raises(EdgegradeError, match=f"--serve 127.0.0.1:{view.port}: cannot listen there"):
        LiveView(f"127.0.0.1:{view.port}", None, 10, view.snapshots, {}, echo=lambda m: None)


def read_parts(response, n, seconds=5):
    """The first n JPEGs of an MJPEG response."""
    parts, deadline = [], time.monotonic() + seconds
    while len(parts) < n and time.monotonic() < deadline:
        line = response.fp.readline()
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
            response.fp.readline()
            parts.append(response.fp.read(length))
    return parts


def test_the_picture_stream_shows_the_newest_overlay_only(view):
    publish(view, 1)
    r, stream = get(view, "/stream.mjpg")
    assert r.status == 200 and r.getheader("Content-Type").startswith("multipart/x-mixed-replace")
    (first,) = read_parts(stream, 1)
    assert first[:2] == b"\xff\xd8"
    publish(view, 30, start=1)  # a burst faster than the stream: it skips to the newest
    second, = read_parts(stream, 1)
    assert second != first and view.jpeg()[0] == 31 and view.jpeg()[1] == second
    r.close()


def test_events_carry_every_new_result_within_a_poll(view):
    publish(view, 2)
    r, stream = get(view, "/api/events?since=1")
    got, start = [], time.monotonic()

    def later():
        time.sleep(0.3)
        publish(view, 1, start=2)
    threading.Thread(target=later).start()
    while len(got) < 2 and time.monotonic() - start < 5:
        line = stream.fp.readline()
        if line.startswith(b"data: "):
            got += [x["frame"] for x in json.loads(line[6:])]
    assert got == [1, 2] and time.monotonic() - start < 0.3 + 0.5
    r.close()


def test_too_many_viewers_are_told_to_wait(view):
    open_streams = [get(view, "/api/events")[0] for _ in range(MAX_STREAMS)]
    r, _ = get(view, "/stream.mjpg")
    assert r.status == 503
    for s in open_streams:
        s.close()


@pytest.mark.parametrize("spec,words", [("abc", "--serve abc: expected [HOST:]PORT"),
                                        ("127.0.0.1:99999", "--serve 127.0.0.1:99999")])
def test_watch_with_a_bad_serve_address_fails_before_grading(fp16_bundle, tmp_path, spec, words):
    from badinput import assert_one_line, run_cli

    r = run_cli(["watch", "--bundle", fp16_bundle, "--source", "synthetic#5", "--headless", "--out", tmp_path,
                 "--serve", spec])
    assert_one_line(r, 2, words)
    assert not (tmp_path / "grades.jsonl").exists()


def test_watch_with_a_port_in_use_fails_before_grading(fp16_bundle, tmp_path, view):
    from badinput import assert_one_line, run_cli

    r = run_cli(["watch", "--bundle", fp16_bundle, "--source", "synthetic#5", "--headless", "--out", tmp_path / "w",
                 "--serve", str(view.port)])
    assert_one_line(r, 2, f"--serve {view.port}: cannot listen there")
    assert not (tmp_path / "w" / "grades.jsonl").exists()


def test_the_token_is_not_kept_in_the_summary(fp16_bundle, tmp_path):
    from badinput import run_cli

    r = run_cli(["watch", "--bundle", fp16_bundle, "--source", "synthetic#3", "--headless", "--out", tmp_path,
                 "--serve", "0.0.0.0:0", "--serve-token", "s3cret-token-abc"])
    assert r.exit_code == 0 and "s3cret-token-abc" in r.output  # printed once, where the user started it
    assert "s3cret-token-abc" not in (tmp_path / "summary.json").read_text()
    assert json.loads((tmp_path / "summary.json").read_text())["config"]["serve_token"] == "(given)"
