"""The built book in a real browser, served as GitHub Pages serves it: under a sub-path (``/shift/``) on 127.0.0.1.

Headless Chromium opens every chapter and asserts what a reader depends on: the heading is there, every
stylesheet, script and image the page requested loaded (HTTP 200; images decoded), MathJax — the vendored copy,
never a CDN — typeset every formula, and no request left 127.0.0.1 (the browser's own network log, not just the
resource-timing list). Screenshots of every page are saved next to the test's build (``<build>/screenshots/``);
``make book-screenshots`` takes them of the real book. Skips with the reason when Chromium or chromedriver is
missing, except in CI (``CI=true``), where a missing browser is a failure.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import bookserver as book_site
import pytest
from bookbuild import BuiltBook, toc_files

pytestmark = pytest.mark.browser

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
    "explore": "Systematic fault exploration",
    "ae": "Artifact evaluation",
    "runbook": "Runbook",
    "reference/index": "Reference",
    "reference/xref": "Rocq cross-reference",
    "reference/api": "API reference",
    "reference/provenance": "Provenance",
}


#: what is wider than the article's column (every dropdown opened): tables, display math, figures. Code blocks
#: may scroll (API docstrings quote YAML as written); these may not, or their right edge is cut off
TOO_WIDE = r"""
    document.querySelectorAll('article.bd-article details').forEach(d => { d.open = true; });
    const article = document.querySelector('article.bd-article');
    const out = [];
    for (const el of article.querySelectorAll('table, mjx-container[display="true"], figure img')) {
        const over = Math.round(el.getBoundingClientRect().width - article.clientWidth);
        const what = Array.from(String(el.innerText || el.getAttribute('src') || '')).slice(0, 50).join('');
        if (over > 2) out.push(String(el.tagName) + ' by ' + over + ' px: ' + what.split('\n').join(' '));
    }
    return out;
"""


def test_every_page_of_the_toc_is_checked() -> None:
    assert set(PAGES) == set(toc_files())


@pytest.fixture(scope="module")
def server(built_book: BuiltBook) -> Iterator[str]:
    assert built_book.returncode == 0 or (built_book.html / "intro.html").is_file(), built_book.log[-2000:]
    with book_site.serve(built_book.html) as base:
        yield base


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    why = book_site.missing_browser()
    if why:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must run the browser test: {why}")
        pytest.skip(why)
    with book_site.browser() as drv:
        yield drv


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


def test_outside_the_sub_path_nothing_is_served(server: str) -> None:
    """The test serves only /shift/, so a page that linked to the site's root would break here, as on Pages."""
    from urllib.error import HTTPError
    from urllib.request import urlopen

    root = server[: -len(book_site.PREFIX)]
    with pytest.raises(HTTPError):
        urlopen(f"{root}/index.html", timeout=10)
    with urlopen(f"{server}index.html", timeout=10) as resp:
        assert resp.status == 200


@pytest.mark.parametrize("page", list(PAGES))
def test_page_renders_under_the_sub_path(page: str, server: str, driver: Any, built_book: BuiltBook) -> None:
    book_site.network(driver)  # drop what earlier pages logged
    driver.get(f"{server}{page}.html")
    math = _typeset(driver)
    h1 = driver.find_element("css selector", "article.bd-article h1").get_attribute("textContent") or ""
    assert PAGES[page].lower() in h1.lower(), f"{page}: heading {h1!r}"

    images = driver.execute_script(
        "return [...document.images].map(i => [i.currentSrc || i.src, i.complete, i.naturalWidth]);")
    broken = [src for src, complete, width in images if not complete or width == 0]
    assert not broken, f"{page}: images not rendered: {broken}"
    sheets = driver.execute_script(
        "return [...document.styleSheets].filter(s => s.href).map(s => [s.href, s.cssRules.length]);")
    assert sheets and all(n > 0 for _href, n in sheets), f"{page}: empty or unloaded stylesheets {sheets}"
    assert any("shift.css" in href for href, _n in sheets), f"{page}: the book's own stylesheet is not loaded"

    html = (built_book.html / f"{page}.html").read_text(encoding="utf-8")
    if 'class="math' in html:  # Sphinx loads MathJax only where there is math
        assert math["version"], f"{page}: MathJax did not load"
        assert math["src"] and all(s.startswith(f"{server}_static/mathjax/") for s in math["src"])
        assert math["containers"] > 0, f"{page}: has math but MathJax typeset none"
    assert math["errors"] == 0, f"{page}: MathJax reported {math['errors']} TeX errors"
    too_wide = driver.execute_script(TOO_WIDE)
    assert not too_wide, f"{page}: wider than the column at {book_site.WIDTH} px: {too_wide}"
    text = driver.execute_script("return document.querySelector('article.bd-article').textContent;")
    raw = re.findall(r"\$\$|\\\(|\\\[|\\begin\{|\\mathcal|\\sigma", text)
    assert not raw, f"{page}: raw TeX left on the page: {raw[:5]}"

    requested, responses = book_site.network(driver)
    offsite = [u for u in requested if not u.startswith(server) and not u.startswith(("data:", "blob:"))]
    assert not offsite, f"{page}: requests left the machine or the sub-path: {offsite}"
    loaded = (200, 304)  # 304: the browser revalidated its cached copy
    failed = {u: r for u, r in responses.items()
              if r[0] not in loaded and r[1] in ("Stylesheet", "Script", "Image", "Font")}
    assert not failed, f"{page}: resources that did not load: {failed}"
    kinds = {r[1] for r in responses.values() if r[0] in loaded}
    assert {"Stylesheet", "Script"} <= kinds, f"{page}: no CSS or JS was loaded at all ({kinds})"
    assert all(urlsplit(u).path.startswith(book_site.PREFIX) for u in responses if u.startswith("http"))


def test_screenshots_of_every_page(server: str, driver: Any, built_book: BuiltBook) -> None:
    out = built_book.html.parent / "screenshots"
    for page in PAGES:
        shots = book_site.screenshots(driver, f"{server}{page}.html", out, page.replace("/", "__"), max_shots=2)
        assert shots and shots[0].stat().st_size > 10_000, f"{page}: screenshot failed"
