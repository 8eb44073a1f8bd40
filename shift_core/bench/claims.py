"""The claims table: every paper claim beside our sim / rxe / nic values, honestly classed (``data/claims.csv``).

The paper's numbers live in one table, ``config/paper_values.yaml``; ours come from ``data/`` only (the readers
are in :mod:`shift_core.bench.claim_sources`). Each row gets one class of :data:`CLASSES`:

``reproduced``
    a backend *measured* the value and every value we have passes the claim's check;
``by construction``
    the only values we have follow from the inputs or from the emulator's own definition (the sim's RC timer
    *is* the detection formula; memory per QP is arithmetic on configured sizes), declared per backend in the
    table's ``by_construction`` with the reason, so an rxe or nic measurement of the same metric still classes
    the row ``reproduced`` or ``differs``;
``differs``
    a value fails the check: the reason says which backend, by how much, and why (the table's
    ``differs_because`` or the producer's own explanation); nothing is tuned to make it pass;
``needs hardware``
    an absolute hardware number (Gb/s, ns on mlx5) with no nic value yet; sim/rxe values are context only;
``not run``
    no backend produced a value; the reason is the skipped stage's own.

Results of the model stages (theorems, boundary, the C fast path) do not depend on a backend; they sit in the
``sim`` column.
"""

from __future__ import annotations

import csv
import html
import io
import math
import string
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from shift_core.bench.claim_sources import (
    BACKENDS,
    Found,
    Sources,
    Value,
    bench_summary,
    is_model_stage,
    verbs_summary,
)
from shift_core.errors import ShiftUserError

__all__ = ["CLASSES", "COLUMNS", "Claim", "ClaimsError", "bench_summary", "build_rows", "classify", "fill",
           "judge", "load_table", "to_csv", "to_html", "validate_rows", "verbs_summary"]

#: the classes of a claims row, in the order the book explains them
CLASSES = ("reproduced", "by construction", "differs", "needs hardware", "not run")
#: the columns of data/claims.csv (contract 3 of the round's brief)
COLUMNS = ["id", "figure", "source", "claim", "unit", "paper", "paper_text", "sim", "rxe", "nic", "class", "reason"]
#: the figure (data/figures/<stem>.png) that shows a metric's data, so the book puts the row under it
FIGURE_OF = {"timeline": "fig7_timeline", "downtime": "fig8b_downtime", "detection": "fig8b_detection",
             "verbs_cost": "fig9_verbs_cost", "latency": "table2_latency", "training": "fig10_training",
             "memory_cost": "memory_cost", "boundary.cts_share_max_pct": "cts_share", "fastpath": "fig9_verbs_cost"}


class ClaimsError(ShiftUserError):
    """Raised when the paper-values table is malformed or a generated row breaks the table's own rules."""


class Check(BaseModel):
    """How our value is judged against the paper's (``within`` / ``at_most`` / ``at_least`` / ``equals`` /
    ``hardware``)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["within", "at_most", "at_least", "equals", "hardware"]
    rel: float = 0.0
    abs: float = 0.0
    value: float | None = None


class Claim(BaseModel):
    """One row of ``config/paper_values.yaml`` (the fields are described in that file's header)."""

    model_config = ConfigDict(extra="forbid")
    id: str
    source: str
    claim: str
    paper: float | int | str
    unit: str
    metric: str
    check: Check
    paper_text: str = ""
    note: str = ""
    figure: str = ""
    by_construction: dict[str, str] = {}
    differs_because: dict[str, str] = {}

    @field_validator("by_construction", "differs_because")
    @classmethod
    def _per_backend(cls, reasons: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(reasons) - set(BACKENDS))
        if unknown:
            raise ValueError(f"unknown backend {unknown[0]!r}; use one of {', '.join(BACKENDS)}")
        return reasons


#: how a hardware claim's nic value is judged (the paper's readings of rendered figures are about this good)
HARDWARE_CHECK = Check(kind="within", rel=0.1)


def load_table(table: Path) -> list[Claim]:
    """The validated claims of ``table``; a malformed entry raises :class:`ClaimsError` in one line."""
    try:
        raw = yaml.safe_load(table.read_text())["claims"]
    except (OSError, KeyError, TypeError, yaml.YAMLError) as exc:
        raise ClaimsError(f"{table}: not a paper-values table with a 'claims' list ({exc})") from None
    claims = []
    for i, entry in enumerate(raw):
        try:
            claim = Claim.model_validate(entry)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise ClaimsError(f"{table}: claims[{i}] ({entry.get('id', '?')}): {where}: {err['msg']}") from None
        if "." not in claim.metric:
            raise ClaimsError(f"{table}: {claim.id}: metric {claim.metric!r} is not <stem>.<key>")
        empty = [b for b, why in {**claim.by_construction, **claim.differs_because}.items() if not why.strip()]
        if empty:
            raise ClaimsError(f"{table}: {claim.id}: empty reason for backend {empty[0]}; say why")
        claims.append(claim)
    ids = [c.id for c in claims]
    dupes = sorted(i for i, n in Counter(ids).items() if n > 1)
    if dupes:
        raise ClaimsError(f"{table}: duplicate claim ids {dupes}")
    return claims


def judge(check: Check | Mapping[str, Any], paper: Value, ours: Value) -> bool:
    """Does our value pass the claim's check against the paper's value?"""
    c = check if isinstance(check, Check) else _check(check)
    if c.kind == "equals":
        return str(ours) == str(paper) if isinstance(paper, str) else float(ours) == float(paper)  # type: ignore[arg-type]
    x = float(ours)  # type: ignore[arg-type]
    if math.isnan(x):
        return False
    if c.kind == "within":
        tol = max(c.rel * abs(float(paper)), c.abs)  # type: ignore[arg-type]
        return abs(x - float(paper)) <= tol  # type: ignore[arg-type]
    if c.kind == "at_most":
        return x <= float(c.value)  # type: ignore[arg-type]
    if c.kind == "at_least":
        return x >= float(c.value)  # type: ignore[arg-type]
    raise ClaimsError("a hardware claim is judged against a nic value with a 10% tolerance, not by judge()")


def _check(raw: Mapping[str, Any]) -> Check:
    try:
        return Check.model_validate(dict(raw))
    except ValidationError:
        raise ClaimsError(f"paper_values.yaml: unknown check {dict(raw)!r}; "
                          "use within/at_most/at_least/equals/hardware") from None


def _fmt(v: Value) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _expected(claim: Claim, check: Check) -> str:
    """The check in words: ``paper 1.0 ± 10%``, ``≤ 1000``, ``= vulnerable``."""
    unit = f" {claim.unit}" if claim.unit not in ("verdict", "ratio", "fraction") else ""
    if check.kind == "equals":
        return f"paper {_fmt(claim.paper)}"
    if check.kind == "at_most":
        return f"paper ≤ {_fmt(check.value)}{unit}"
    if check.kind == "at_least":
        return f"paper ≥ {_fmt(check.value)}{unit}"
    tol = f"{check.rel:.0%}" if check.rel else f"{_fmt(check.abs)}{unit}"
    return f"paper {_fmt(claim.paper)}{unit} ± {tol}"


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def fill(text: str, summary: Mapping[str, Value]) -> str:
    """``text`` with each ``{key}`` / ``{key:fmt}`` replaced by that key of the stem's summary (``<key missing>``
    if absent), so a reason quotes this run's numbers instead of numbers copied into the table."""
    out = []
    for literal, key, spec, _ in string.Formatter().parse(text):
        out.append(literal)
        if key is None:
            continue
        value = summary.get(key)
        try:
            out.append(f"<{key} missing>" if value is None else format(value, spec or ""))
        except (TypeError, ValueError):
            out.append(str(value))
    return "".join(out)


def classify(claim: Claim, found: Mapping[str, Found]) -> tuple[str, str]:
    """``(class, reason)`` of one claim from what each backend's readers found (see the module docstring)."""
    ours = {b: f.value for b, f in found.items() if f.value is not None}
    note, check = claim.note, claim.check
    if check.kind == "hardware":
        if "nic" not in ours:
            return "needs hardware", _join("absolute hardware number: only a real NIC (the nic column) reproduces "
                                           "it; sim/rxe values are context only", note)
        check, ours = HARDWARE_CHECK, {"nic": ours["nic"]}
    if not ours:
        why = _join(*(f"{b}: {f.skip}" for b, f in found.items() if f.skip))
        return "not run", _join(why or "no backend produced a value", note)
    built = {b: fill(claim.by_construction[b], found[b].summary) for b in ours if b in claim.by_construction}
    failed = [b for b in ours if not judge(check, claim.paper, ours[b])]
    stem = claim.metric.split(".", 1)[0]
    by_construction = _join(*(f"{b} value holds by construction: {why}" for b, why in built.items()
                              if b not in failed))
    if failed:
        parts = []
        for b in failed:
            where = f"the {stem} stage (backend-independent)" if is_model_stage(stem) else b
            why = fill(claim.differs_because.get(b, ""), found[b].summary) or found[b].explain
            if b in built:
                why = _join(f"the value follows by construction ({built[b]}), so our inputs disagree with the "
                            "paper's", why)
            parts.append(f"{where}: {_fmt(ours[b])} vs {_expected(claim, check)} — "
                         + (why or "no explanation recorded yet"))
        return "differs", _join(*parts, by_construction, note)
    if any(b not in built for b in ours):
        return "reproduced", _join(by_construction, note)
    return "by construction", _join(*(f"{b}: {why}" for b, why in built.items()), note)


def build_rows(table: Path, data: Path) -> list[dict[str, str]]:
    """One row per claim of ``table`` with our values from ``data`` (see the module docstring for the classes)."""
    sources = Sources(data)
    rows = []
    for c in load_table(table):
        stem, key = c.metric.split(".", 1)
        found = {b: sources.lookup(stem, key, b) for b in BACKENDS}
        cls, reason = classify(c, found)
        figure = c.figure or FIGURE_OF.get(c.metric) or FIGURE_OF.get(stem, "")
        rows.append({"id": c.id, "figure": figure, "source": c.source, "claim": c.claim, "unit": c.unit,
                     "paper": _fmt(c.paper), "paper_text": c.paper_text,
                     **{b: _fmt(found[b].value) for b in BACKENDS}, "class": cls, "reason": reason})
    validate_rows(rows)
    return rows


def validate_rows(rows: list[dict[str, str]]) -> None:
    """The table's own rules: known columns and classes, and a reason on every row that needs one.

    :raises ClaimsError: naming the first row that breaks a rule (the pipeline then fails, never ships it).
    """
    for row in rows:
        if list(row) != COLUMNS:
            raise ClaimsError(f"claims row {row.get('id', '?')}: columns {list(row)} are not {COLUMNS}")
        if row["class"] not in CLASSES:
            raise ClaimsError(f"claims row {row['id']}: unknown class {row['class']!r}; use one of {CLASSES}")
        if row["class"] in ("differs", "by construction", "not run", "needs hardware") and not row["reason"].strip():
            raise ClaimsError(f"claims row {row['id']}: class {row['class']!r} needs a reason")


def to_csv(rows: list[dict[str, str]]) -> str:
    """``rows`` as ``data/claims.csv`` text."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def to_html(rows: list[dict[str, str]]) -> str:
    """``rows`` as one self-contained HTML page (the Snakemake report shows it; no script, no external asset)."""
    counts = Counter(r["class"] for r in rows)
    summary = ", ".join(f"{counts[c]} {c}" for c in CLASSES if counts[c])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS if c != "paper_text")
    body = []
    for r in rows:
        cells = []
        for c in COLUMNS:
            if c == "paper_text":
                continue
            text = r[c] if c != "paper" or not r["paper_text"] else f"{r['paper']} ({r['paper_text']})"
            cells.append(f'<td class="{html.escape(c)}">{html.escape(text)}</td>')
        body.append(f'<tr class="{html.escape(r["class"].replace(" ", "-"))}">{"".join(cells)}</tr>')
    style = ("body{font-family:sans-serif;font-size:13px}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top}th{background:#eee}"
             "tr.reproduced td.class{background:#d9f2d9}tr.differs td.class{background:#f9d6d5}"
             "tr.by-construction td.class{background:#e8e8f8}tr.needs-hardware td.class{background:#fdf1d3}"
             "td.reason{max-width:40em}")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>SHIFT claims</title>"
            f"<style>{style}</style></head><body>\n<h1>Paper claims beside our values</h1>\n"
            f"<p>{len(rows)} claims: {html.escape(summary)}. Generated from config/paper_values.yaml and data/ "
            f"(shift_core.bench.claims).</p>\n<table><thead><tr>{head}</tr></thead><tbody>\n"
            + "\n".join(body) + "\n</tbody></table></body></html>\n")
