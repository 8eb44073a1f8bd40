"""The built book in a real browser: headless Chromium opens every chapter from a local HTTP server.

Asserts per page: the heading is there, every image decoded (non-zero natural size), MathJax — loaded from the
vendored copy, never a CDN — typeset every formula (no raw TeX delimiters left in the text), and no request left
127.0.0.1. Saves one full-page screenshot per chapter under ``book/_build/screenshots/``. Skips with the reason
when Chromium or chromedriver is missing, except in CI (``CI=true``), where a missing browser is a failure.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from bookbuild import BOOK, BuiltBook

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else shutil.which("chromedriver")
SCREENSHOTS = BOOK / "_build" / "screenshots"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,1600")

#: page -> a heading it must show (the chapter's h1)
PAGES: dict[str, str] = {
    "intro": "SHIFT and the boundary of RDMA failover",
    "model": "The trace model",
    "theorems/index": "The theorems, checked",
    "theorems/core_laws": "Core laws",
    "theorems/thm1_indistinguishability": "Theorem 1",
    "theorems/thm2_atomics": "Theorem 2: atomics",
    "theorems/thm2_queue_sliding": "queue sliding",
    "theorems/thm3_consensus": "consensus barrier",
    "boundary": "The protocol boundary",
    "design": "SHIFT",
    "results": "Results",
    "reference/xref": "Rocq cross-reference",
    "reference/api": "API reference",
    "reference/provenance": "Provenance",
}


def _require_browser() -> None:
    missing = [name for name, path in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)) if not path]
    if missing:
        reason = f"{' and '.join(missing)} not installed (Debian: apt-get install chromium chromium-driver)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must run the browser test: {reason}")
        pytest.skip(reason)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server(built_book: BuiltBook) -> Iterator[str]:
    assert built_book.returncode == 0 or (built_book.html / "intro.html").is_file(), built_book.log[-2000:]
    handler = functools.partial(_QuietHandler, directory=str(built_book.html))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    drv = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)  # explicit: no selenium-manager
    drv.set_script_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()


def _typeset(drv: Any) -> dict[str, Any]:
    """Wait for MathJax's startup typesetting; report its version and where it was loaded from."""
    return drv.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const report = () => done({
            version: window.MathJax && window.MathJax.version,
            src: [...document.scripts].map(s => s.src).filter(s => s.includes('mathjax')),
            containers: document.querySelectorAll('mjx-container').length,
            errors: document.querySelectorAll('mjx-merror, [data-mjx-error]').length,
        });
        const wait = (n) => {
            if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
                MathJax.startup.promise.then(report, report);
            } else if (n > 0) { setTimeout(() => wait(n - 1), 100); } else { report(); }
        };
        if ([...document.scripts].some(s => s.src.includes('mathjax'))) { wait(100); } else { report(); }
    """)


@pytest.mark.parametrize("page", list(PAGES))
def test_page_renders(page: str, server: str, driver: Any, built_book: BuiltBook) -> None:
    driver.get(f"{server}/{page}.html")
    math = _typeset(driver)
    h1 = driver.find_element("css selector", "article.bd-article h1").get_attribute("textContent") or ""
    assert PAGES[page].lower() in h1.lower(), f"{page}: heading {h1!r}"

    images = driver.execute_script(
        "return [...document.images].map(i => [i.getAttribute('src'), i.complete, i.naturalWidth]);")
    broken = [src for src, complete, width in images if not complete or width == 0]
    assert not broken, f"{page}: images not rendered: {broken}"

    html = (built_book.html / f"{page}.html").read_text(encoding="utf-8")
    if 'class="math' in html:  # Sphinx loads MathJax only where there is math
        assert math["version"], f"{page}: MathJax did not load"
        assert math["src"] and all("/_static/mathjax/" in s and s.startswith(server) for s in math["src"])
        assert math["containers"] > 0, f"{page}: has math but MathJax typeset none"
    assert math["errors"] == 0, f"{page}: MathJax reported {math['errors']} TeX errors"
    text = driver.execute_script("return document.querySelector('article.bd-article').textContent;")
    raw = re.findall(r"\$\$|\\\(|\\\[|\\begin\{|\\mathcal|\\sigma", text)
    assert not raw, f"{page}: raw TeX left on the page: {raw[:5]}"

    resources = driver.execute_script("return performance.getEntriesByType('resource').map(r => r.name);")
    offsite = [r for r in resources if not r.startswith(server) and not r.startswith("data:")]
    assert not offsite, f"{page}: requests left the machine: {offsite}"

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return Math.min(document.body.scrollHeight, 5000);")
    driver.set_window_size(1280, max(900, int(height)))
    shot = SCREENSHOTS / f"{page.replace('/', '__')}.png"
    assert driver.save_screenshot(str(shot)), f"{page}: screenshot failed"
    driver.set_window_size(1280, 1600)
    assert shot.stat().st_size > 10_000
