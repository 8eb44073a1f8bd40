"""The book builds offline from the fixture data with Sphinx warnings as errors, and what it shows is the data.

Checks: every chapter of ``_toc.yml`` becomes a page, every image a page references exists in the output, every
internal link resolves (file and anchor), math is left for the vendored MathJax (never a CDN), the pages carry the
fixture's numbers, and results the fixture lacks are reported as "not generated in this run" instead of invented.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml
from bookbuild import FIXTURE_DATA, REPO, BuiltBook, toc_files


class Links(HTMLParser):
    """Collects ``img src``, ``a href``, ``script src`` and element ids of one page."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.hrefs: list[str] = []
        self.scripts: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"] or "")
        if tag == "img" and a.get("src"):
            self.images.append(a["src"] or "")
        if tag == "a" and a.get("href"):
            self.hrefs.append(a["href"] or "")
        if tag == "script" and a.get("src"):
            self.scripts.append(a["src"] or "")


def parse(page: Path) -> Links:
    p = Links()
    p.feed(page.read_text(encoding="utf-8"))
    return p


def pages(book: BuiltBook) -> list[Path]:
    return [book.html / f"{doc}.html" for doc in toc_files()]


def test_build_has_no_warnings(built_book: BuiltBook) -> None:
    warnings = sorted({line for line in built_book.log.splitlines() if "WARNING" in line or "ERROR" in line})
    assert built_book.returncode == 0, "book build failed (-W -n):\n" + "\n".join(warnings) + built_book.log[-3000:]
    assert not warnings


def test_every_chapter_exists(built_book: BuiltBook) -> None:
    docs = toc_files()
    assert {"intro", "model", "boundary", "design", "results", "reference/xref", "reference/api",
            "reference/provenance"} <= set(docs)
    from shift_core.vocabulary import THEOREM_CHECKS

    assert {f"theorems/{cid}" for cid in THEOREM_CHECKS} <= set(docs), "one page per theorem check id"
    missing = [str(p) for p in pages(built_book) if not p.is_file()]
    assert not missing


def test_every_referenced_image_exists(built_book: BuiltBook) -> None:
    seen = 0
    for page in pages(built_book):
        for src in parse(page).images:
            if urlsplit(src).scheme:
                continue  # none expected; asserted offline-only below
            target = (page.parent / unquote(urlsplit(src).path)).resolve()
            assert target.is_file(), f"{page.name}: image {src} missing"
            seen += 1
    figures = sorted(p.name for p in (FIXTURE_DATA / "figures").glob("*.png"))
    shown = parse(built_book.html / "results.html").images + parse(built_book.html / "boundary.html").images
    for name in figures:  # every figure of the run, on the results page or (CTS share) beside Table 1
        assert any(Path(src).name == name for src in shown), f"figure {name} not shown"
    assert seen >= len(figures) + 4  # + sequence diagrams, state machines, trilemma


def test_no_broken_internal_links(built_book: BuiltBook) -> None:
    ids: dict[Path, set[str]] = {}
    for page in sorted(built_book.html.rglob("*.html")):
        ids[page.resolve()] = parse(page).ids
    broken = []
    for page in pages(built_book):
        for href in parse(page).hrefs:
            parts = urlsplit(href)
            if parts.scheme or href.startswith(("mailto:", "//")):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page.resolve()
            if not target.exists():
                broken.append(f"{page.name}: {href} (no file)")
            elif parts.fragment and target.suffix == ".html" and parts.fragment not in ids.get(target, set()):
                broken.append(f"{page.name}: {href} (no anchor)")
    assert not broken, "\n".join(broken)


def test_math_uses_the_vendored_mathjax_only(built_book: BuiltBook) -> None:
    assert (built_book.html / "_static" / "mathjax" / "tex-svg-full.js").is_file()
    math_pages = 0
    for page in pages(built_book):
        scripts = parse(page).scripts
        mathjax = [s for s in scripts if "_static/mathjax/" in s]
        has_math = 'class="math' in page.read_text(encoding="utf-8")
        # Sphinx loads MathJax on pages with math (and their toctree parents): the vendored copy, at most once
        assert len(mathjax) <= 1 and len(mathjax) >= has_math, f"{page.name}: MathJax scripts {mathjax}"
        math_pages += has_math
        external = [s for s in scripts if urlsplit(s).scheme in ("http", "https") or s.startswith("//")]
        assert not external, f"{page.name}: loads scripts from the network: {external}"
    assert math_pages >= 6  # intro, model and the theorem pages state their definitions in math
    assert "\\sigma(\\mathcal{T}" in (built_book.html / "intro.html").read_text()  # left for MathJax to typeset


def test_every_record_is_rendered_with_its_data(built_book: BuiltBook) -> None:
    """The check the pipeline's book rule runs: every theorem and boundary record on its page with its bound,
    states, verdict and (drawn) counterexample; the index with bounds and state counts; no machine path."""
    from shift_book.verify import check_book

    problems = check_book(built_book.html, FIXTURE_DATA, REPO)
    assert not problems, "\n".join(problems)


def test_the_page_check_catches_an_empty_result(built_book: BuiltBook, tmp_path: Path) -> None:
    """The same check fails on the symptoms of the old bug: an empty bound, no states, no drawn counterexample."""
    import shutil

    from shift_book.verify import check_book

    html = tmp_path / "html"
    shutil.copytree(built_book.html, html)
    page = html / "theorems" / "thm1_indistinguishability.html"
    text = page.read_text(encoding="utf-8")
    text = re.sub(r"(<td><p>bound</p></td>\s*<td>).*?(</td>)", r"\1<p>{}</p>\2", text, count=1, flags=re.S)
    text = re.sub(r"(<td><p>explored</p></td>\s*<td>).*?(</td>)", r"\1<p></p>\2", text, count=1, flags=re.S)
    text = re.sub(r'<figure class="shift-cex[^"]*".*?</figure>', "", text, flags=re.S)
    page.write_text(text, encoding="utf-8")
    problems = "\n".join(check_book(html, FIXTURE_DATA, REPO))
    assert "renders an empty bound" in problems and "renders no state count" in problems
    assert "is a trace but is not drawn" in problems and "without a drawn counterexample" in problems
    (html / "intro.html").write_text(f"<p>{REPO}/data</p>", encoding="utf-8")
    assert "prints the machine's absolute path" in "\n".join(check_book(html, FIXTURE_DATA, REPO))


def test_pages_show_the_fixture_numbers(built_book: BuiltBook) -> None:
    from shift_book.data import check_file

    cf = check_file(json.loads((FIXTURE_DATA / "theorems" / "thm1_indistinguishability.json").read_text()))
    html = (built_book.html / "theorems" / "thm1_indistinguishability.html").read_text()
    for rec in cf.records:
        assert rec.result.check_id in html
        assert f"{rec.result.states:,} generated" in html, f"states of {rec.result.check_id} not shown"
    assert "Rocq name" in html and "indistinguishability_universal" in html
    assert 'href="../reference/xref.html#rocq-impossibility-main"' in html  # Rocq names link to the xref row
    assert 'id="rocq-impossibility-main"' in (built_book.html / "reference" / "xref.html").read_text()
    results = (built_book.html / "results.html").read_text()
    assert "fig8b_sender_nic_write" in results and "710" in results
    boundary = json.loads((FIXTURE_DATA / "boundary" / "boundary.json").read_text())
    page = (built_book.html / "boundary.html").read_text()
    for rec in boundary["protocols"]:
        assert rec["check_id"] in page
    notes = {d["notes"] for d in boundary["disagreements"]}
    for note in notes:  # a disagreement with the paper is shown as such, and a shared note only once
        assert page.count(note[:60].replace("'", "&#8217;")) + page.count(note[:60]) >= 1
    assert page.count("Disagreement with the paper:") == len(notes)
    machine = (built_book.src / "_generated" / "machine_sq.svg").read_text()
    from shift_core.shift.machine import SQ_TRANSITIONS

    for (src, event), dst in SQ_TRANSITIONS.items():
        assert src.name in machine and dst.name in machine and event.value in machine


def test_figures_are_named_without_numbers_that_collide_with_the_papers(built_book: BuiltBook) -> None:
    """No automatic "Fig. N" anywhere; the paper's numbers appear only on the paper's own figures."""
    for page in pages(built_book):
        assert 'class="caption-number"' not in page.read_text(encoding="utf-8"), page.name
    design = re.sub(r"<[^>]+>", "", (built_book.html / "design.html").read_text())
    assert not re.search(r"\bFig\.? ?(8|9|10|11|12)\b", design)
    results = re.sub(r"<[^>]+>", "", (built_book.html / "results.html").read_text())
    assert "Reproduces the paper’s Fig 8b" in results or "Reproduces the paper's Fig 8b" in results


def test_missing_results_are_reported_not_invented(built_book: BuiltBook) -> None:
    intro = re.sub(r"<[^>]+>", "", (built_book.html / "intro.html").read_text())
    assert "not generated in this run" in intro  # the fixture has no data/nic/
    assert "fixture: qemu-system-x86_64 not installed" in intro  # rxe is a skipped stage
    provenance = re.sub(r"<[^>]+>", "", (built_book.html / "reference" / "provenance.html").read_text())
    assert "Files this book looked for and did not find" in provenance
    sim = json.loads((FIXTURE_DATA / "sim" / "manifest.json").read_text())
    assert f"{sim['wall_seconds']:,.1f} s" in provenance  # each stage's measured wall time, from its manifest
    assert sim["commit"][:10] in provenance and sim["config_hash"][:8] in provenance
    assert '"versions"' not in provenance and "{" not in provenance.split("Package versions")[1][:400]  # no dumps
    results = re.sub(r"<[^>]+>", "", (built_book.html / "results.html").read_text())
    assert "not run" in results  # Fig 7's claims: no result file in the fixture, classed as such


def test_the_site_can_be_published_as_is(built_book: BuiltBook) -> None:
    """GitHub Pages serves the directory unchanged only with .nojekyll (else _static/ and _images/ vanish)."""
    assert (built_book.html / ".nojekyll").is_file()
    assert (built_book.html / "_static").is_dir() and (built_book.html / "_images").is_dir()


def test_the_published_book_is_the_one_the_pipeline_builds() -> None:
    """The Pages workflow runs the README's `make reproduce` (whose book rule runs book/build.sh and checks the
    pages) and publishes its output; `make book` runs the same script."""
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "book.yml").read_text())
    steps = workflow["jobs"]["build"]["steps"]
    runs = [s.get("run", "") for s in steps]
    assert any(r.strip() == "make reproduce" for r in runs)
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "book/_build/html"
    assert any(str(s.get("uses", "")).startswith("actions/deploy-pages") for s in workflow["jobs"]["deploy"]["steps"])
    rule = (REPO / "workflow" / "scripts" / "build_book.py").read_text()
    assert '"build.sh"' in rule and "check_book" in rule
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^book: .*\n\t.*bash book/build\.sh", makefile, re.M)
