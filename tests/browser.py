"""A headless Chromium driven over the DevTools protocol, for the tests that use the HTML report as a reader does.

Chromium speaks the protocol over a pipe (`--remote-debugging-pipe`: it reads commands from its file descriptor 3
and writes answers and events to 4, each a JSON object ended by a NUL byte), so no WebSocket client and no browser
driver package is needed: the standard library and the Chromium the report tests already use.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


class BrowserError(RuntimeError):
    pass


def chromium_binary() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    """One headless Chromium with one page. `open(url)` loads a page; `evaluate(js)` runs JavaScript in it and
    returns its value; `errors` collects the console's errors and the page's uncaught exceptions."""

    def __init__(self, profile: Path, downloads: Path | None = None, timeout: float = 60.0):
        binary = chromium_binary()
        if binary is None:
            raise BrowserError("no chromium on the PATH")
        self.timeout = timeout
        to_browser, self._writer = os.pipe()
        self._reader, from_browser = os.pipe()
        # The pipe's ends move to descriptors above those the redirections name, then to 3 and 4 in the browser.
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser, from_browser)]
        for fd in (to_browser, from_browser):
            os.close(fd)
        command = " ".join(
            [f"exec {binary}", *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank",
             f"3<&{high[0]} 4>&{high[1]} {high[0]}<&- {high[1]}>&-"]
        )  # fmt: skip
        self.process = subprocess.Popen(
            ["bash", "-c", command], pass_fds=high, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for fd in high:
            os.close(fd)
        self._buffer = b""
        self._id = 0
        self.events: list[dict] = []
        self.errors: list[str] = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)
        if downloads is not None:
            self.call("Browser.setDownloadBehavior",
                      {"behavior": "allow", "downloadPath": str(downloads), "eventsEnabled": True})  # fmt: skip

    def _send(self, message: dict) -> None:
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._writer, data) :]

    def _next(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._reader], [], [], left)[0]:
                raise BrowserError("Chromium did not answer in time")
            chunk = os.read(self._reader, 1 << 20)
            if not chunk:
                raise BrowserError("Chromium closed its pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        event = json.loads(message)
        self._note(event)
        return event

    def _note(self, event: dict) -> None:
        method = event.get("method")
        if method == "Runtime.exceptionThrown":
            details = event["params"]["exceptionDetails"]
            self.errors.append(details.get("exception", {}).get("description") or details.get("text", "exception"))
        elif method == "Runtime.consoleAPICalled" and event["params"]["type"] in ("error", "assert"):
            self.errors.append(" ".join(str(a.get("value", a.get("description"))) for a in event["params"]["args"]))
        elif method == "Log.entryAdded" and event["params"]["entry"]["level"] == "error":
            self.errors.append(event["params"]["entry"]["text"])
        if method:
            self.events.append(event)

    def call(self, method: str, params: dict | None = None, session: bool = False) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        self._send(message)
        deadline = time.monotonic() + self.timeout
        while True:
            answer = self._next(deadline)
            if answer.get("id") == self._id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer.get("result", {})

    def wait_for(self, method: str, timeout: float | None = None, since: int = 0) -> dict:
        """The first event named `method` after the `since`-th event seen, waiting for it if need be."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            found = next((e for e in self.events[since:] if e["method"] == method), None)
            if found:
                return found
            self._next(deadline)

    def open(self, url: str) -> None:
        """Load `url` and wait for its load event."""
        since = len(self.events)
        self.call("Page.navigate", {"url": url}, session=True)
        self.wait_for("Page.loadEventFired", since=since)

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (a promise is awaited)."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, session=True)  # fmt: skip
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:80]}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def close(self) -> None:
        with contextlib.suppress(BrowserError):  # it may close its pipe before it answers
            self.call("Browser.close")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._writer)
        os.close(self._reader)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
