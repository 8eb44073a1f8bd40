"""The paper's claims beside ours (``data/claims.csv``), each in its class, shown next to the figure it is about.

The classes and their order come from ``shift_core.bench.claims.CLASSES`` (contract 3: ``reproduced``, ``by
construction``, ``differs``, ``needs hardware``, ``not run``); a row's class is its ``class`` column with the
``reason`` beside it. A claims table written before that contract has ``status`` / ``note`` instead: read as
the same two things, so the book renders either.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

from .markdown import table

#: contract 3's classes, in order (``shift_core.bench.claims.CLASSES`` once the claims producer defines it)
DEFAULT_CLASSES = ("reproduced", "by construction", "differs", "needs hardware", "not run")

#: one paragraph per class: what it means, so a reader can weigh every row
CLASS_TEXT = {
    "reproduced": "a backend measured the value and it passed the claim's check against the paper's number. "
                  "This is evidence: the run could have failed it.",
    "by construction": "the value follows from the inputs or from the emulator's own definition (a formula "
                       "evaluated, a timer that *is* the formula, a cost the emulator does not model). It is shown "
                       "so that the table is complete, but it is no evidence beyond the arithmetic; the reason says "
                       "why.",
    "differs": "our value fails the claim's check. The reason says by how much and why; nothing was tuned to make "
               "it pass.",
    "needs hardware": "an absolute hardware number (throughput in Gb/s, verb costs in ns, sub-millisecond "
                      "downtime). Only a run on real NICs can check it: the sim and rxe values beside it are "
                      "context, not evidence, and the `nic` column stays empty until such a run fills it.",
    "not run": "no backend produced a value in this run; the reason is the stage's skip reason.",
}


def classes() -> tuple[str, ...]:
    """The claim classes in their order (the claims producer's constant when it has one)."""
    try:
        from shift_core.bench import claims as producer
    except ImportError:
        return DEFAULT_CLASSES
    found = getattr(producer, "CLASSES", None)
    return tuple(found) if found else DEFAULT_CLASSES


@dataclass(frozen=True)
class Claim:
    """One row of ``data/claims.csv`` as the book uses it."""

    row: dict[str, str]

    @property
    def id(self) -> str:
        return self.row.get("id", "")

    @property
    def klass(self) -> str:
        """``class`` (contract 3), else the older ``status`` column."""
        return (self.row.get("class") or "").strip() or (self.row.get("status") or "").strip()

    @property
    def reason(self) -> str:
        """``reason`` (contract 3), else the older ``note`` column."""
        if "class" in self.row:
            return (self.row.get("reason") or "").strip()
        return (self.row.get("note") or "").strip()

    @property
    def figure(self) -> str:
        return Path((self.row.get("figure") or "").strip()).stem


def load(rows: Iterable[dict[str, str]]) -> list[Claim]:
    return [Claim(r) for r in rows]


def _num(text: str) -> str:
    """A measured value for display: long floats to 4 significant digits, anything else verbatim."""
    try:
        value = float(text)
    except ValueError:
        return text
    return text if len(text) <= 7 else f"{value:.4g}"


def claims_table(claims: Sequence[Claim]) -> str:
    """Claims, one per row: the paper's value beside ours (per backend) and the class with its full reason."""
    rows = []
    for c in claims:
        r = c.row
        unit = f" [{escape(r['unit'])}]" if r.get("unit") else ""
        source = f"<br><small>{escape(r['source'])}</small>" if r.get("source") else ""
        paper = escape(r.get("paper", "")) + (f"<br><small>{escape(r['paper_text'])}</small>"
                                              if r.get("paper_text") else "")
        ours = "<br>".join(f"{b}: <b>{escape(_num(r[b]))}</b>" for b in ("sim", "rxe", "nic") if r.get(b)) or "—"
        klass = f"<b>{escape(c.klass)}</b>" + (f"<br><small>{escape(c.reason)}</small>" if c.reason else "")
        rows.append([f"<code>{escape(c.id)}</code> {escape(r.get('claim', ''))}{unit}{source}", paper, ours, klass])
    return table(["claim", "paper", "ours", "class"], rows, raw=True)


def class_paragraphs(claims: Sequence[Claim]) -> str:
    """One paragraph per class with how many claims it holds in this run (a class not listed in the
    producer's order, e.g. from an older table, is described as found)."""
    order = list(classes())
    order += sorted({c.klass for c in claims} - set(order))
    out = ""
    for klass in order:
        members = [c for c in claims if c.klass == klass]
        n = len(members)
        text = CLASS_TEXT.get(klass, "a class this book has no description for.")
        out += f"**{klass}** — {n} claim{'s' if n != 1 else ''} in this run: {text}"
        if klass in ("by construction", "differs") and members:
            missing = [c.id for c in members if not c.reason]
            if missing:
                out += f" (**no reason given** for {', '.join(f'`{m}`' for m in missing)}.)"
        out += "\n\n"
    return out
