"""The built book as a reader gets it: served under a sub-path on 127.0.0.1, opened in headless Chromium.

GitHub Pages serves a project site under ``/<repo>/``, so every link, stylesheet, script, image and the vendored
MathJax must resolve relative to that prefix. :func:`serve` serves ``book/_build/html`` at ``/shift/`` only
(anything else is a 404); :func:`browser` starts Debian's ``chromium`` + ``chromedriver`` with the network log on,
so a test sees every request a page made (and can prove that none left 127.0.0.1). :func:`screenshots` saves
each page top to bottom as numbered viewport-sized PNGs.

``python tests/book/bookserver.py [html dir] [out dir]`` (``make book-screenshots``) screenshots every page of the
built book into ``book/_build/screenshots/`` for a human to look at.
"""

from __future__ import annotations

import contextlib
import functools
import json
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PREFIX = "/shift/"  #: the sub-path the site is served under, as on GitHub Pages (https://<owner>.github.io/shift/)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else shutil.which("chromedriver")
WIDTH, HEIGHT = 1280, 1600
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         f"--window-size={WIDTH},{HEIGHT}",
         # any host but the local server fails to resolve, so an off-machine request cannot hang a test
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")


class _SubPath(SimpleHTTPRequestHandler):
    """Serves the directory at :data:`PREFIX` and nothing else."""

    def translate_path(self, path: str) -> str:
        if not path.startswith(PREFIX):
            return str(Path(self.directory) / "__outside_the_sub_path__")
        return super().translate_path("/" + path[len(PREFIX):])

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serve(html: Path) -> Iterator[str]:
    """Serve ``html`` at ``http://127.0.0.1:<port>/shift/``; yields that base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_SubPath, directory=str(html)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}{PREFIX}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def missing_browser() -> str | None:
    """Why the browser cannot run here, or ``None``."""
    missing = [name for name, path in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)) if not path]
    return f"{' and '.join(missing)} not installed (Debian: apt-get install chromium chromium-driver)" if missing \
        else None


@contextlib.contextmanager
def browser() -> Iterator[Any]:
    """Headless Chromium through Debian's chromedriver (never selenium-manager), network log enabled."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    drv = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    drv.set_script_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()


def network(drv: Any) -> tuple[list[str], dict[str, tuple[int, str]]]:
    """The requests since the last call: every URL requested, and URL -> (HTTP status, resource type); a request
    that failed without a response (refused, unresolvable, blocked) has status 0."""
    requested: dict[str, str] = {}
    responses: dict[str, tuple[int, str]] = {}
    for entry in drv.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        params = msg.get("params", {})
        if msg.get("method") == "Network.requestWillBeSent":
            requested[str(params["requestId"])] = str(params["request"]["url"])
        elif msg.get("method") == "Network.responseReceived":
            responses[str(params["response"]["url"])] = (int(params["response"]["status"]), str(params.get("type")))
        elif msg.get("method") == "Network.loadingFailed" and str(params.get("requestId")) in requested:
            responses.setdefault(requested[str(params["requestId"])], (0, str(params.get("type"))))
    return list(requested.values()), responses


def screenshots(drv: Any, url: str, out: Path, name: str, max_shots: int = 12) -> list[Path]:
    """``url`` top to bottom as ``<name>.png`` (the first screen) and ``<name>.NN.png`` (the rest)."""
    drv.set_window_size(WIDTH, HEIGHT)
    drv.get(url)
    time.sleep(0.5)  # fonts and MathJax settle
    out.mkdir(parents=True, exist_ok=True)
    height = int(drv.execute_script("return document.documentElement.scrollHeight;"))
    view = int(drv.execute_script("return window.innerHeight;"))
    shots = []
    for i, top in enumerate(range(0, max(height, 1), view)):
        if i >= max_shots:
            break
        drv.execute_script(f"window.scrollTo(0, {top});")
        time.sleep(0.15)
        path = out / (f"{name}.png" if i == 0 else f"{name}.{i:02d}.png")
        drv.save_screenshot(str(path))
        shots.append(path)
    return shots


def pages(html: Path) -> list[str]:
    """Every page of the book's table of contents that was built, as paths without ``.html``."""
    from bookbuild import toc_files

    return [p for p in toc_files() if (html / f"{p}.html").is_file()]


def main(argv: list[str]) -> int:
    repo = Path(__file__).resolve().parents[2]
    html = Path(argv[0]) if argv else repo / "book" / "_build" / "html"
    out = Path(argv[1]) if len(argv) > 1 else repo / "book" / "_build" / "screenshots"
    why = missing_browser()
    if why:
        print(f"screenshots: {why}", file=sys.stderr)
        return 1
    if not (html / "index.html").is_file():
        print(f"screenshots: no built book at {html}: run `make book` (or `make reproduce`) first", file=sys.stderr)
        return 1
    shutil.rmtree(out, ignore_errors=True)
    with serve(html) as base, browser() as drv:
        for page in pages(html):
            shots = screenshots(drv, base + page + ".html", out, page.replace("/", "__"))
            print(f"{page}: {len(shots)} screenshot(s)")
    print(f"screenshots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
