"""Headless Chromium driven over the DevTools protocol: open a page, wait for what a user
would see, read it back (image sizes, links). Debian's `chromium`; `make` installs it."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count
from pathlib import Path
from typing import Any

import requests

from flows.server import stop_process

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")

# every <img> (src, loaded, natural width) and every link of the rendered page
PAGE_STATE_JS = """JSON.stringify({
  images: [...document.querySelectorAll('img')].map(i => ({
      src: i.currentSrc || i.src, complete: i.complete, width: i.naturalWidth})),
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  text: document.body ? document.body.innerText : ''
})"""


def chromium_path() -> str | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


class Browser:
    """One headless Chromium with one page, spoken to through its DevTools websocket."""

    def __init__(self, binary: str, profile: Path) -> None:
        self.profile = profile
        self.process = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-dev-shm-usage", "--remote-debugging-port=0",
             f"--user-data-dir={profile}", "--window-size=1400,1000", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self._ids = count(1)
        self.ws: Any = None

    def connect(self, timeout: float = 60) -> None:
        from websockets.sync.client import connect

        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (port_file.is_file() and port_file.read_text().strip()):
            assert self.process.poll() is None, "chromium exited at start"
            assert time.monotonic() < deadline, "chromium wrote no DevToolsActivePort"
            time.sleep(0.2)
        port = port_file.read_text().split()[0]
        while True:
            pages = [t for t in requests.get(f"http://127.0.0.1:{port}/json/list",
                                             timeout=10).json() if t.get("type") == "page"]
            if pages:
                break
            assert time.monotonic() < deadline, "chromium shows no page"
            time.sleep(0.2)
        self.ws = connect(pages[0]["webSocketDebuggerUrl"], max_size=None, open_timeout=30)

    def call(self, method: str, **params: Any) -> Any:
        ident = next(self._ids)
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=120))
            if message.get("id") == ident:
                assert "error" not in message, message["error"]
                return message.get("result")

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def open(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def page_state(self) -> dict[str, Any]:
        return dict(json.loads(self.evaluate(PAGE_STATE_JS) or "{}"))

    def wait_for(self, url: str, ready: Any, timeout: float = 180,
                 reload_every: float = 45) -> dict[str, Any]:
        """Open `url` and poll the page until `ready(state)`; reload now and then (a loaded
        machine may drop a first request). The last state either way."""
        self.open(url)
        deadline = time.monotonic() + timeout
        opened = time.monotonic()
        state: dict[str, Any] = {}
        while time.monotonic() < deadline:
            state = self.page_state()
            if ready(state):
                return state
            if time.monotonic() - opened > reload_every:
                self.open(url)
                opened = time.monotonic()
            time.sleep(0.5)
        return state

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
        stop_process(self.process, signal.SIGTERM, timeout=20)  # its whole process group


@contextmanager
def browser(binary: str) -> Iterator[Browser]:
    with tempfile.TemporaryDirectory(prefix="insarhub-chromium-") as profile:
        chrome = Browser(binary, Path(profile))
        try:
            chrome.connect()
            yield chrome
        finally:
            chrome.close()
