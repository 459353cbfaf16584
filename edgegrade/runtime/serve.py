"""`watch --serve [HOST:]PORT`: a read-only live view of the run, for a box with no screen.

    /                 the page (live.html, live.js): the overlay, grade, ratio, REVIEW, a chart
                      of the ratio over recent frames, the run's snapshots
    /stream.mjpg      the newest overlay as MJPEG, at most --serve-fps pictures a second (a slow
                      viewer skips pictures, never queues them)
    /api/latest       the newest result (the log's record, with its `seq`), JSON
    /api/history      the last HISTORY results and what the run is, JSON
    /api/events       new results as they are logged (server-sent events)
    /api/snapshots    the snapshots this run saved; /snapshots/NAME.png serves those, nothing else

Safe by default: it listens on 127.0.0.1 (and then answers only requests addressed to a local
name, so a web page cannot reach it by DNS rebinding); any other address needs a token, given
(--serve-token, EDGEGRADE_SERVE_TOKEN) or generated and printed once, asked of every request
(?token= or 'Authorization: Bearer'). GET and HEAD only; no file is served but the page and
the snapshots this run wrote, by exact name (no listing, no path from the request).

The frame loop only hands over references (`publish`: the record and the overlay already
made); the JPEG is encoded in the viewers' threads, once per picture, at most --serve-fps
times a second, and the viewers' threads look for news on a timer instead of being woken
per frame (waking a thread per frame takes the interpreter from the loop)."""

import hmac
import ipaddress
import json
import re
import secrets
import socket
import threading
import time
from collections import Counter, deque
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import cv2

from edgegrade.errors import EdgegradeError

HISTORY = 600  # results kept for /api/history and the page's chart
POLL = 0.1  # s: how often a viewer's thread looks for a new result (the page is < 0.5 s behind the log)
MAX_STREAMS = 8  # open picture and event streams at once; more are told 503
KEEPALIVE = 15.0  # s between comments on an idle event stream
SOCKET_TIMEOUT = 10.0  # s: a viewer that stops reading is dropped
STATIC = {"/": ("live.html", "text/html; charset=utf-8"), "/live.js": ("live.js", "text/javascript; charset=utf-8")}
LOCAL_NAMES = {"localhost", "127.0.0.1", "::1"}
SNAPSHOT_NAME = re.compile(r"/snapshots/([A-Za-z0-9._-]+?)(_overlay)?\.png")
HEADERS = {
    "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'",
}


def parse_address(spec: str) -> tuple[str, int]:
    """'[HOST:]PORT' -> (host, port); HOST defaults to 127.0.0.1, IPv6 in brackets."""
    host, sep, port = str(spec).strip().rpartition(":")
    host = host.strip("[]") if sep else "127.0.0.1"
    if not port.isdigit() or int(port) > 65535 or (sep and not host):
        raise EdgegradeError(f"--serve {spec}: expected [HOST:]PORT, PORT a number from 0 to 65535")
    return host, int(port)


def is_local(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class LiveView:
    """The server and what it shows; `publish` is the frame loop's only call."""

    def __init__(self, spec: str, token: str | None, fps: float, snapshots, info: dict, echo=print):
        host, port = parse_address(spec)
        self.local = is_local(host) and not token
        self.token = None if self.local else (token or secrets.token_urlsafe(18))
        self.period, self.snapshots, self.info = 1.0 / fps, snapshots, info
        self.seq, self.latest, self.overlay = 0, None, None
        self.history: deque = deque(maxlen=HISTORY)
        self.lock, self.encoding = threading.Lock(), threading.Lock()
        self.jpeg_cache = (0, b"")
        self.closing = threading.Event()
        self.streams = threading.BoundedSemaphore(MAX_STREAMS)
        self.counts, self.counts_lock = Counter(), threading.Lock()  # what was served, for the summary
        self.pages = {path: (resources.files("edgegrade.runtime").joinpath(name).read_bytes(), kind)
                      for path, (name, kind) in STATIC.items()}
        handler = type("Handler", (Handler,), {"view": self})
        try:
            server_class = Server6 if ":" in host else Server
            self.server = server_class((host, port), handler)
        except OSError as exc:
            raise EdgegradeError(f"--serve {spec}: cannot listen there ({exc.strerror or exc})") from None
        self.port = self.server.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.port}/" + (f"?token={self.token}" if self.token else "")
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2},
                                       daemon=True, name="edgegrade-serve")
        self.thread.start()
        echo(f"live view: {self.url}" + ("" if self.local else
                                         " (the token is asked of every request; it is not shown again)"))

    def publish(self, record: dict, overlay, **extra) -> None:
        """A result as logged (with `extra` for the page) and its overlay: references handed
        over, no picture copied or encoded."""
        with self.lock:
            self.seq += 1
            record = {**record, **extra, "seq": self.seq}
            self.history.append(record)
            self.latest, self.overlay = record, overlay

    def since(self, seq: int) -> list[dict]:
        with self.lock:
            if self.seq <= seq:
                return []
            return [r for r in self.history if r["seq"] > seq]

    def jpeg(self) -> tuple[int, bytes]:
        """The newest overlay as JPEG, encoded once however many viewers ask."""
        with self.encoding:
            seq, overlay = self.seq, self.overlay
            if overlay is not None and self.jpeg_cache[0] != seq:
                ok, buf = cv2.imencode(".jpg", overlay, [cv2.IMWRITE_JPEG_QUALITY, 80])
                if ok:
                    self.jpeg_cache = (seq, buf.tobytes())
            return self.jpeg_cache

    def snapshot(self, name: str, overlay: bool) -> bytes | None:
        """A PNG this run saved, by its exact name (in `saved`, so never a path from a request)."""
        if not any(s["name"] == name for s in list(self.snapshots.saved)):
            return None
        try:
            return (Path(self.snapshots.folder) / f"{name}{'_overlay' if overlay else ''}.png").read_bytes()
        except OSError:
            return None

    def count(self, what: str, n: int = 1) -> None:
        with self.counts_lock:
            self.counts[what] += n

    def stats(self) -> dict:
        """For summary.json: where it listened and what it served (pictures, event batches,
        requests refused), so a run says whether anyone watched."""
        with self.counts_lock:
            return {"url": self.url.split("?")[0], "token": self.token is not None, **dict(self.counts)}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=1)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Server6(Server):
    address_family = socket.AF_INET6


class Handler(BaseHTTPRequestHandler):
    view: LiveView
    timeout = SOCKET_TIMEOUT
    server_version = "edgegrade"
    sys_version = ""

    def log_message(self, *args):  # no per-request lines on the console
        pass

    def do_HEAD(self):
        self.do_GET(head=True)

    def do_GET(self, head: bool = False):
        url = urlsplit(self.path)
        query, view = parse_qs(url.query), self.view
        refusal = self.refusal(query)
        if refusal:
            status, message, extra = refusal
            view.count("refused")
            return self.send(status, {"error": message}, extra=extra, head=head)
        path = url.path
        if path in view.pages:
            body, kind = view.pages[path]
            if view.token and path == "/":  # the script is asked for with the token too
                body = body.replace(b'src="live.js"', f'src="live.js?token={quote(view.token)}"'.encode())
            return self.send(HTTPStatus.OK, body, kind, head=head)
        if path == "/api/latest":
            return self.send(HTTPStatus.OK, view.latest, head=head)
        if path == "/api/history":
            return self.send(HTTPStatus.OK, {"info": view.info, "records": view.since(0)}, head=head)
        if path == "/api/snapshots":
            return self.send(HTTPStatus.OK, {"snapshots": list(view.snapshots.saved)}, head=head)
        m = SNAPSHOT_NAME.fullmatch(path)
        data = m and view.snapshot(m[1], bool(m[2]))
        if data:
            return self.send(HTTPStatus.OK, data, "image/png", head=head)
        if path in ("/stream.mjpg", "/api/events") and not head:
            return self.stream(path, query)
        return self.send(HTTPStatus.NOT_FOUND, {"error": "not found"}, head=head)

    def refuse_method(self):
        self.send(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "read-only: GET and HEAD only"}, extra={"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = refuse_method

    def refusal(self, query) -> tuple | None:
        """(status, message, extra headers) when the request may not be answered."""
        view = self.view
        if view.token:
            given = (query.get("token") or [""])[0]
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Bearer "):
                given = auth[7:].strip()
            if not hmac.compare_digest(given.encode(), view.token.encode()):
                return HTTPStatus.UNAUTHORIZED, "token required", {"WWW-Authenticate": "Bearer"}
            return None
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]").lower()
        if host not in LOCAL_NAMES:  # a page elsewhere that renamed itself to 127.0.0.1 (DNS rebinding)
            return HTTPStatus.FORBIDDEN, "this live view answers local addresses only", {}
        return None

    def send(self, status, body, kind: str = "application/json", head: bool = False, extra=None):
        if kind == "application/json":
            body = json.dumps(body).encode()
        try:
            self.send_response(status)
            for k, v in {**HEADERS, **(extra or {}), "Content-Type": kind, "Content-Length": str(len(body))}.items():
                self.send_header(k, v)
            self.end_headers()
            if not head:
                self.wfile.write(body)
        except OSError:  # the viewer went away
            pass

    def stream(self, path: str, query):
        view = self.view
        if not view.streams.acquire(blocking=False):
            view.count("refused")
            return self.send(HTTPStatus.SERVICE_UNAVAILABLE, {"error": f"at most {MAX_STREAMS} viewers at once"})
        view.count("viewers" if path == "/stream.mjpg" else "event_streams")
        try:
            kind = ("multipart/x-mixed-replace; boundary=frame" if path == "/stream.mjpg"
                    else "text/event-stream; charset=utf-8")
            self.send_response(HTTPStatus.OK)
            for k, v in {**HEADERS, "Content-Type": kind}.items():
                self.send_header(k, v)
            self.end_headers()
            if path == "/stream.mjpg":
                self.pictures()
            else:
                self.events(int(self.headers.get("Last-Event-ID") or (query.get("since") or ["0"])[0] or 0))
        except (OSError, ValueError):  # the viewer went away (or sent a bad `since`)
            pass
        finally:
            view.streams.release()

    def pictures(self):
        view, shown = self.view, -1
        while not view.closing.is_set():
            t0 = time.monotonic()
            seq, jpg = view.jpeg()
            if seq != shown and jpg:
                self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n"
                                 % (len(jpg), jpg))
                self.wfile.flush()
                shown = seq
                view.count("pictures")
            view.closing.wait(max(POLL / 2, view.period - (time.monotonic() - t0)))

    def events(self, sent: int):
        view, quiet_since = self.view, time.monotonic()
        while not view.closing.is_set():
            new = view.since(sent)
            if new:
                sent = new[-1]["seq"]
                self.wfile.write(f"id: {sent}\ndata: {json.dumps(new)}\n\n".encode())
                self.wfile.flush()
                view.count("results_sent", len(new))
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > KEEPALIVE:
                self.wfile.write(b": keepalive\n\n")
                self.wfile.flush()
                quiet_since = time.monotonic()
            view.closing.wait(POLL)
