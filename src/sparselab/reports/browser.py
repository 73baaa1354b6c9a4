"""Open report pages in headless Chromium and record what a reader's browser would see.

A small Chrome DevTools Protocol client over one websocket (`websocket-client`): Debian's
`chromium` runs headless with an empty profile and no background networking; every non-local
host name fails to resolve, so a page that reaches for a CDN shows up as a request (recorded)
instead of waiting on the network. Pages are served from a localhost HTTP server.
"""
from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websocket

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost")
WIDTH, HEIGHT = 1280, 900

# What the page looks like once loaded: links, overflow, visible text.
SNAPSHOT_JS = r"""(() => {
  const W = document.documentElement.clientWidth;
  const links = [];
  for (const el of document.querySelectorAll('[href],[src]')) {
    for (const a of ['href', 'src']) {
      const v = el.getAttribute(a);
      if (v !== null) links.push([el.tagName.toLowerCase(), a, v]);
    }
  }
  const wide = [];
  for (const el of document.querySelectorAll('table, pre, img, svg, div, p')) {
    const r = el.getBoundingClientRect();
    const ox = getComputedStyle(el).overflowX;
    const hidden = (ox === 'auto' || ox === 'scroll') && el.scrollWidth > el.clientWidth + 1;
    if ((r.width > 0 && r.right > W + 1) || hidden) {
      if (el.tagName === 'DIV' && !hidden && el.querySelector('table, pre, img, svg')) continue;
      wide.push(el.tagName.toLowerCase() + ' ' + Math.round(Math.max(r.right, el.scrollWidth))
                + 'px: ' + (el.innerText || el.getAttribute('src') || '').replace(/\s+/g, ' ')
                .slice(0, 80));
    }
  }
  return JSON.stringify({
    scroll_width: document.documentElement.scrollWidth, viewport: W,
    links: links, wide: wide.slice(0, 20), text: document.body ? document.body.innerText : '',
    ids: Array.from(document.querySelectorAll('[id],[name]')).map(e => e.id || e.getAttribute('name')),
    stderr_boxes: document.querySelectorAll(
      '[data-mime-type="application/vnd.jupyter.stderr"]').length,
  });
})()"""


@dataclass
class Visit:
    """What loading one page produced."""

    url: str
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    failed: list[str] = field(default_factory=list)  # "url: error" for failed loads / >= 400
    console_errors: list[str] = field(default_factory=list)
    snapshot: dict[str, Any] = field(default_factory=dict)
    loaded: bool = False


def find_chromium() -> str | None:
    """`$SPARSELAB_CHROMIUM`, else the first of chromium / chromium-browser / google-chrome."""
    env = os.environ.get("SPARSELAB_CHROMIUM")
    if env:
        return env if shutil.which(env) else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


class Chromium:
    """One headless Chromium and one page target; `visit(url)` loads a page at 1280 px."""

    def __init__(self, binary: str, timeout: float = 60.0):
        self.profile = tempfile.TemporaryDirectory(prefix="sparselab-chromium-",
                                                   ignore_cleanup_errors=True)
        self.proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={self.profile.name}", "--remote-debugging-port=0",
             f"--window-size={WIDTH},{HEIGHT}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)  # its own process group: close() ends its helpers too
        active = Path(self.profile.name) / "DevToolsActivePort"
        deadline = time.time() + timeout
        while not (active.exists() and len(active.read_text().split()) >= 2):
            if self.proc.poll() is not None or time.time() > deadline:
                self.close()
                raise RuntimeError(f"{binary} did not start its DevTools endpoint")
            time.sleep(0.1)
        port, path = active.read_text().split()[:2]
        self.ws = websocket.create_connection(f"ws://127.0.0.1:{port}{path}", timeout=timeout,
                                              suppress_origin=True)
        self._id = 0
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=WIDTH, height=HEIGHT,
                  deviceScaleFactor=1, mobile=False)
        self.events: list[dict] = []

    def call(self, method: str, session: bool = False, **params) -> dict:
        """Send one command and wait for its answer (events that arrive meanwhile are kept)."""
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        self.ws.send(json.dumps(msg))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply and hasattr(self, "events"):
                self.events.append(reply)

    def _pump(self, until: float) -> None:
        self.ws.settimeout(max(until - time.time(), 0.01))
        try:
            self.events.append(json.loads(self.ws.recv()))
        except websocket.WebSocketTimeoutException:  # nothing arrived: the page is quiet
            return
        finally:
            self.ws.settimeout(60)

    def visit(self, url: str, timeout: float = 30.0, settle: float = 0.5) -> Visit:
        """Load `url`, wait for its load event and a quiet `settle` seconds, then snapshot it."""
        self.events = []
        out = Visit(url)
        self.call("Page.navigate", session=True, url=url)
        last = time.time()
        deadline = last + timeout
        while time.time() < deadline:
            n = len(self.events)
            self._pump(time.time() + 0.1)
            if len(self.events) > n:
                last = time.time()
            out.loaded = out.loaded or any(e.get("method") == "Page.loadEventFired"
                                           for e in self.events[n:])
            if out.loaded and time.time() - last >= settle:
                break
        res = self.call("Runtime.evaluate", session=True, expression=SNAPSHOT_JS, returnByValue=True)
        out.snapshot = json.loads(res["result"]["value"])
        self._digest(out)
        return out

    def _digest(self, out: Visit) -> None:
        urls = {}
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Network.requestWillBeSent":
                urls[p["requestId"]] = p["request"]["url"]
                out.requests.append(p["request"]["url"])
            elif m == "Network.loadingFailed":
                out.failed.append(f"{urls.get(p['requestId'], '?')}: {p.get('errorText')}")
            elif m == "Network.responseReceived" and p["response"].get("status", 200) >= 400:
                out.failed.append(f"{p['response']['url']}: HTTP {p['response']['status']}")
            elif m == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                out.console_errors.append(d.get("exception", {}).get("description") or d.get("text"))
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.console_errors.append(" ".join(str(a.get("value", a.get("description")))
                                                   for a in p.get("args", [])))
            elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
                out.console_errors.append(f"{p['entry'].get('text')} ({p['entry'].get('url', '')})")

    def close(self) -> None:
        """Stop the browser (only the process this object started) and drop its profile."""
        if getattr(self, "ws", None):
            self.ws.close()  # closing a dead socket is a no-op in websocket-client
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the group of the browser we started
            self.proc.wait(10)
        except ProcessLookupError:  # already gone
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.profile.cleanup()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test output clean
        pass


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve `root` on a free localhost port in a daemon thread; returns (server, base URL)."""
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"
