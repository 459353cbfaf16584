"""Debian's Chromium, headless, driven over the DevTools protocol on a pipe
(--remote-debugging-pipe: JSON messages separated by NUL on file descriptors 3 and 4), so the
browser tests need no websocket library and no browser download. `.ci/run` installs the
package; where it is absent the tests that need it skip, saying so."""

import base64
import fcntl
import json
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
         "--disable-component-update", "--disable-sync", "--disable-extensions", "--mute-audio",
         "--window-size=1280,1000", "--remote-debugging-pipe"]


def live_url(proc) -> str | None:
    """The address `watch --serve` prints (its line 'live view: URL'), read from its stdout
    (text mode); None if it ended without one."""
    for line in proc.stdout:
        m = re.search(r"live view: (http://\S+)", line)
        if m:
            return m[1]
    return None


class Browser:
    def __init__(self, executable: str = CHROMIUM):
        self.profile = tempfile.mkdtemp(prefix="edgegrade-chromium-")
        to_browser, self.commands = os.pipe()
        self.replies, from_browser = os.pipe()

        def on_fds_3_and_4():  # in the child: its end of each pipe as fd 3 (commands) and 4 (replies)
            a, b = fcntl.fcntl(to_browser, fcntl.F_DUPFD, 10), fcntl.fcntl(from_browser, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen([executable, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                                     preexec_fn=on_fds_3_and_4, close_fds=False, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(to_browser)
        os.close(from_browser)
        self.next_id, self.waiting, self.lock = 0, {}, threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        buf = b""
        with os.fdopen(self.replies, "rb", buffering=0) as f:
            while chunk := f.read(65536):
                buf += chunk
                while b"\0" in buf:
                    message, buf = buf.split(b"\0", 1)
                    reply = json.loads(message)
                    box = self.waiting.get(reply.get("id"))
                    if box is not None:
                        box.put(reply)

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30):
        with self.lock:
            self.next_id += 1
            n = self.next_id
            box = self.waiting[n] = queue.Queue()
            message = {"id": n, "method": method, "params": params or {}}
            if session:
                message["sessionId"] = session
            os.write(self.commands, json.dumps(message).encode() + b"\0")
        reply = box.get(timeout=timeout)
        del self.waiting[n]
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def open(self, url: str) -> "Page":
        target = self.send("Target.createTarget", {"url": url})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        return Page(self, session)

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except Exception:  # noqa: BLE001 - it may be gone already
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        os.close(self.commands)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Page:
    def __init__(self, browser: Browser, session: str):
        self.browser, self.session = browser, session

    def evaluate(self, expression: str):
        result = self.browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                        "awaitPromise": True}, self.session)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:60]}...: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def wait_for(self, expression: str, seconds: float = 30):
        """The expression's value once it is true (an error, e.g. before the page has loaded,
        counts as false)."""
        deadline, error = time.monotonic() + seconds, None
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except RuntimeError as exc:
                value, error = None, exc
            if value:
                return value
            time.sleep(0.1)
        raise TimeoutError(f"{expression} still false after {seconds} s (last error: {error})")

    def screenshot(self) -> bytes:
        return base64.b64decode(self.browser.send("Page.captureScreenshot", {"format": "png"}, self.session)["data"])
