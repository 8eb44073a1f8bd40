"""Checks on the BUILT book against the data it was built from: what a reader sees, not what a helper returned.

For every theorem check and every boundary protocol check, each record of the data must appear on its page
(``div.shift-record``) with a non-empty bound, its state count, its verdict, and — when the verdict is a
counterexample — the counterexample itself: drawn as a sequence diagram whenever it is a trace or schedule
(:func:`shift_book.records.drawn`), else listed. Every impossibility theorem's page must show at least one drawn
counterexample; the theorems index must give every record's bound and states; and no page may print the
machine's absolute path of the repository or the data. The pipeline's book rule and the book tests both run
:func:`check_book`, so ``make reproduce`` itself proves the pages are not empty.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from bs4 import BeautifulSoup, Tag

from . import records as rec_md
from .data import Record, check_file, records_of

EMPTY = {"", "{}", "empty", "—", "none"}


def _fields(div: Tag) -> dict[str, Tag]:
    """The field table of a rendered record: field name -> its value cell."""
    out: dict[str, Tag] = {}
    table = div.find("table")
    if not isinstance(table, Tag):
        return out
    for tr in table.find_all("tr"):
        cells = tr.find_all("td")
        if len(cells) == 2:
            out[cells[0].get_text(" ", strip=True)] = cells[1]
    return out


def _first_int(text: str) -> int | None:
    m = re.search(r"\d[\d,]*", text)
    return int(m.group(0).replace(",", "")) if m else None


def _image_ok(img: Tag, page: Path) -> bool:
    src = str(img.get("src") or "")
    return bool(src) and (page.parent / src.split("#")[0].split("?")[0]).resolve().is_file()


def check_records(page: Path, recs: list[Record], where: str) -> list[str]:
    """Problems with how ``recs`` render on ``page`` (see the module docstring)."""
    if not page.is_file():
        return [f"{where}: page {page.name} was not built"]
    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    shown: dict[str, Tag] = {}
    for div in soup.select(f"div.{rec_md.RECORD_CLASS}"):
        cell = _fields(div).get("check id")
        if cell is not None:
            shown[cell.get_text(strip=True)] = div
    problems = []
    if not recs:
        problems.append(f"{where}: no records in the data")
    for rec in recs:
        r = rec.result
        div = shown.get(r.check_id)
        if div is None:
            problems.append(f"{where}: record {r.check_id} is not rendered")
            continue
        fields = _fields(div)
        bound = fields.get("bound")
        if not r.bound or bound is None or bound.get_text(" ", strip=True).lower() in EMPTY:
            problems.append(f"{where}: {r.check_id} renders an empty bound")
        explored = fields.get("explored")
        states = _first_int(explored.get_text(" ", strip=True)) if explored is not None else None
        if not states or states != r.states:
            problems.append(f"{where}: {r.check_id} renders no state count (shows {states}, data {r.states})")
        verdict = fields.get("verdict")
        text = verdict.get_text(" ", strip=True) if verdict is not None else ""
        if r.verdict not in text or r.expected not in text:
            problems.append(f"{where}: {r.check_id} renders no verdict vs expectation ({text!r})")
        figures = [img for fig in div.select(f"figure.{rec_md.CEX_FIGURE_CLASS}") for img in fig.find_all("img")]
        drawn_ok = bool(figures) and all(_image_ok(img, page) for img in figures)
        listed = bool(div.select(f"ol.{rec_md.CEX_STEPS_CLASS} li"))
        if r.verdict == "counterexample" and not (drawn_ok or listed):
            problems.append(f"{where}: {r.check_id} has verdict counterexample but shows none")
        if rec_md.drawn(rec) and not drawn_ok:
            problems.append(f"{where}: {r.check_id}'s counterexample is a trace but is not drawn")
    if any(rec.result.expected == "counterexample" for rec in recs) and where.startswith("theorems/") \
            and not any(div.select(f"figure.{rec_md.CEX_FIGURE_CLASS} img") for div in shown.values()):
        problems.append(f"{where}: an impossibility theorem's page without a drawn counterexample")
    return problems


def check_index(page: Path, recs: list[Record]) -> list[str]:
    """The theorems index: one row per record (its link names the record's section) with bound and states."""
    if not page.is_file():
        return ["theorems/index: not built"]
    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    rows: dict[str, list[str]] = {}
    for tr in soup.select("table tr"):
        cells = tr.find_all("td")
        link = cells[0].find("a") if cells else None
        if isinstance(link, Tag) and len(cells) >= 4:
            rows[str(link.get("href", "")).rsplit("#", 1)[-1]] = [td.get_text(" ", strip=True) for td in cells]
    problems = []
    for rec in recs:
        cells = rows.get(rec_md.label(rec.result.check_id))
        if cells is None:
            problems.append(f"theorems/index: no row for {rec.result.check_id}")
        elif cells[2].lower() in EMPTY or _first_int(cells[3]) != rec.result.states:
            problems.append(f"theorems/index: {rec.result.check_id} row lacks its bound or states ({cells})")
    return problems


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def check_book(html: Path, data: Path, repo: Path | None = None) -> list[str]:
    """Every problem of the built book at ``html`` built from ``data`` (empty list: the book is sound)."""
    from shift_core.vocabulary import THEOREM_CHECKS

    problems: list[str] = []
    every: list[Record] = []
    for cid in THEOREM_CHECKS:
        where = f"theorems/{cid}"
        obj = _load(data / "theorems" / f"{cid}.json")
        try:
            recs = list(check_file(obj).records)
        except ValueError as exc:
            problems.append(f"{where}: data/theorems/{cid}.json: {exc}")
            continue
        every += recs
        problems += check_records(html / "theorems" / f"{cid}.html", recs, where)
    problems += check_index(html / "theorems" / "index.html", every)
    boundary = _load(data / "boundary" / "boundary.json")
    if isinstance(boundary, dict) and isinstance(boundary.get("protocols"), list):
        try:
            problems += check_records(html / "boundary.html", records_of(boundary["protocols"]), "boundary")
        except ValueError as exc:
            problems.append(f"boundary: data/boundary/boundary.json: {exc}")
    roots = {str(p.resolve()) for p in (data, repo) if p is not None}
    for page in sorted(html.rglob("*.html")):
        text = page.read_text(encoding="utf-8", errors="replace")
        leaked = sorted(r for r in roots if r in text)
        if leaked:
            problems.append(f"{page.relative_to(html)}: prints the machine's absolute path {leaked[0]}")
    return problems

