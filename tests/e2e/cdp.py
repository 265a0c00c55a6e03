"""Headless Debian Chromium driven over the DevTools protocol (no Selenium, no downloads).

`open_page(path)` loads a local file and returns what a browser test asserts on: console messages
and errors, every network request other than the page itself, and a way to evaluate JavaScript in
the loaded page (the report itself has no scripts; the test reads the DOM from outside).
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class PageLoad:
    url: str
    console: list[dict] = field(default_factory=list)  # Runtime.consoleAPICalled + Log.entryAdded
    exceptions: list[dict] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # every request URL except the page itself
    _session: "Browser | None" = None

    @property
    def errors(self) -> list[str]:
        found = [json.dumps(e)[:300] for e in self.exceptions]
        for entry in self.console:
            if entry.get("level") in ("error", "warning") or entry.get("type") in ("error", "assert", "warning"):
                found.append(json.dumps(entry)[:300])
        return found

    def evaluate(self, expression: str) -> Any:
        return self._session.evaluate(expression)


class Browser:
    """One headless Chromium with one page target; use as a context manager."""

    def __init__(self, timeout: float = 30.0):
        binary = chromium_path()
        if binary is None:
            raise RuntimeError("chromium not installed: `make test` installs it (tests/ensure_system_packages.sh)")
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="pwatch-chromium-")
        self.proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.ws = connect(self._devtools_url(), max_size=None, open_timeout=timeout).__enter__()
        self._ids = itertools.count(1)
        self._events: list[dict] = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=True)

    def _devtools_url(self) -> str:
        deadline = time.monotonic() + self.timeout
        seen = []
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line and self.proc.poll() is not None:
                break
            seen.append(line)
            match = re.search(r"DevTools listening on (ws://\S+)", line)
            if match:
                return match.group(1)
        raise RuntimeError("chromium did not start: " + "".join(seen[-10:]))

    def call(self, method: str, params: dict | None = None, session: bool = False) -> dict:
        message_id = next(self._ids)
        message = {"id": message_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        self.ws.send(json.dumps(message))
        deadline = time.monotonic() + self.timeout
        while True:
            reply = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._events.append(reply)

    def _drain(self, until: str | None, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                event = json.loads(self.ws.recv(timeout=max(0.05, deadline - time.monotonic())))
            except TimeoutError:
                return
            self._events.append(event)
            if until and event.get("method") == until:
                return

    def evaluate(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluate failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, path: Path, settle: float = 1.0) -> PageLoad:
        """Navigate to a local file, wait for load plus `settle` seconds, and collect events."""
        return self.goto(Path(path).resolve().as_uri(), settle)

    def goto(self, url: str, settle: float = 1.0) -> PageLoad:
        """Navigate to `url` (a file: or http: URL), wait for load plus `settle` seconds, and collect events."""
        self._events.clear()
        self.call("Page.navigate", {"url": url}, session=True)
        load = self._loaded(None, settle)  # load.url: where it landed, after any redirect
        load.requests = [r for r in load.requests if r != url]
        return load

    def _loaded(self, url: str | None, settle: float) -> PageLoad:
        """Wait for the load event plus `settle` seconds; collect the events (url None: wherever we landed)."""
        self._drain("Page.loadEventFired", self.timeout)
        self._drain(None, settle)  # late requests (fonts, images, prefetch) would show up here
        url = url or self.evaluate("location.href")
        load = PageLoad(url=url, _session=self)
        for event in self._events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Network.requestWillBeSent" and params["request"]["url"] != url:
                load.requests.append(params["request"]["url"])
            elif method == "Runtime.consoleAPICalled":
                load.console.append({"type": params.get("type"), "args": params.get("args")})
            elif method == "Log.entryAdded":
                load.console.append(params["entry"])
            elif method == "Runtime.exceptionThrown":
                load.exceptions.append(params["exceptionDetails"])
            elif method == "Page.javascriptDialogOpening":  # alert() ran: a script executed
                load.exceptions.append({"dialog": params.get("message")})
        return load

    def press(self, key: str, navigates: bool = False, settle: float = 0.5) -> PageLoad | None:
        """Press one printable key (or Escape/Enter) in the page; with `navigates`, wait for the next page."""
        self._events.clear()
        codes = {"Escape": ("Escape", 27), "Enter": ("Enter", 13)}
        code, vk = codes[key] if key in codes else (f"Key{key.upper()}", ord(key.upper()))
        text = {"Enter": "\r"}.get(key, key if len(key) == 1 else "")
        down = {"type": "keyDown", "key": key, "code": code, "windowsVirtualKeyCode": vk}
        if text:
            down["text"] = text
        self.call("Input.dispatchKeyEvent", down, session=True)
        self.call("Input.dispatchKeyEvent", {"type": "keyUp", "key": key, "code": code, "windowsVirtualKeyCode": vk}, session=True)
        if navigates:
            return self._loaded(None, settle)
        self._drain(None, settle)
        return None

    def type_text(self, text: str) -> None:
        """Type `text` into the focused element."""
        self.call("Input.insertText", {"text": text}, session=True)

    def submit(self, expression: str, settle: float = 0.5) -> PageLoad:
        """Run `expression` (which submits a form or follows a link) and wait for the next page."""
        self._events.clear()
        self.call("Runtime.evaluate", {"expression": expression}, session=True)
        return self._loaded(None, settle)

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
