"""Check records (:class:`shift_core.model.check.CheckResult`) as book sections: the facts a reviewer needs to
trust a bounded search (what was searched, how much, what was found, which control proves it is not vacuous) and
the shortest counterexample drawn as a sequence diagram.

Every rendered record is a ``shift-record`` container whose field table uses fixed row names ("check id",
"bound", "explored", "verdict"); :mod:`shift_book.verify` reads the built HTML through those names, so a record
that renders with an empty bound, no state counts or no counterexample fails the build.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from html import escape
from typing import Any

from shift_core.model.check import CheckResult

from . import seqdiagram
from .data import Record
from .markdown import admonition, table

KINDS = {"W": "witness (the paper's or Rocq's own example, evaluated)",
         "E": "bounded exhaustive search (breadth-first: the first counterexample is a shortest one)",
         "P": "property-based (Hypothesis instances)"}
#: how the CSS class of a record names its verdict (``verdict-counterexample`` / ``verdict-holds``)
RECORD_CLASS = "shift-record"
CEX_FIGURE_CLASS = "shift-cex"
CEX_STEPS_CLASS = "shift-cex-steps"


def fmt_value(value: Any) -> str:
    """A bound or count value for a table cell: lists joined, dicts as ``k=v``, numbers with separators."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt_value(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={fmt_value(v)}" for k, v in value.items())
    return str(value)


def fmt_bound(bound: dict[str, Any]) -> str:
    """``{"max_trace_length": 6}`` -> ``max_trace_length = 6`` (one item per line in a cell; numbers as given,
    since a bound may be a seed)."""
    return "<br>".join(f"`{k}` = {escape(str(v) if isinstance(v, int) else fmt_value(v))}" for k, v in bound.items())


def explored(r: CheckResult) -> str:
    """States (or traces, schedules, protocols) generated, and how many were distinct."""
    same = r.unique_states == r.states
    return f"{r.states:,} generated" + ("" if same else f", {r.unique_states:,} distinct") + \
        f"; max depth {r.max_depth:,}" + ("" if r.complete else " — **bound not exhausted**")


def verdict(r: CheckResult) -> str:
    """The verdict beside the expectation, and whether the check passed (or disagrees with the paper)."""
    source = "the paper" if r.expected_from == "paper" else "the theorem"
    head = f"**{r.verdict}** (expected **{r.expected}**, from {source})"
    if r.disagrees_with_paper:
        return head + " — disagrees with the paper (complete search, controls passed)"
    return head + (" — check passed" if r.passed else " — **CHECK FAILED**")


def controls(r: CheckResult) -> str:
    """The positive controls' outcome in one cell (``—`` for a witness or property check, which has none)."""
    if not r.controls:
        return "—"
    return "<br>".join(f"{'✓' if c.passed else '✗ FAILED:'} {escape(c.name)}"
                       + (f" <small>({escape(c.detail)})</small>" if c.detail else "") for c in r.controls)


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_']*")


def rocq_anchor(name: str) -> str:
    """The HTML id of a Rocq name on the cross-reference page."""
    return "rocq-" + re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()


def rocq_cell(r: CheckResult, known: set[str], xref_href: str) -> str:
    """The Rocq name(s) of a record, each linked to its cross-reference row when that row exists."""
    if not r.rocq_name:
        return "not mechanized in Rocq (our own model of the paper's argument)"

    def link(m: re.Match[str]) -> str:
        name = m.group(0)
        if name not in known:
            return f"<code>{escape(name)}</code>"
        return (f'<a class="reference internal" href="{xref_href}#{rocq_anchor(name)}">'
                f"<code>{escape(name)}</code></a>")

    return _IDENT.sub(link, escape(r.rocq_name))


def short_id(check_id: str) -> str:
    """``thm1_indistinguishability/head_fadd_rocq`` -> ``head_fadd_rocq`` (the page already names the check)."""
    return check_id.split("/", 1)[1] if "/" in check_id else check_id


def slug(check_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "__", check_id)


def label(check_id: str) -> str:
    """The Sphinx label of a record's section (``rec-thm1-indistinguishability-head-fadd-rocq``), already in
    docutils' id form, so the HTML id of the section is the same string."""
    return "rec-" + re.sub(r"[^a-z0-9]+", "-", check_id.lower()).strip("-")


def drawn(rec: Record) -> list[dict[str, Any]]:
    """The drawable diagrams of a record: its producer's ``diagram`` / ``diagrams``, else its counterexample
    labels when they are a trace or schedule (:func:`shift_book.seqdiagram.is_trace`), else its pair's traces."""
    r = rec.result
    out = [d for d in ([r.diagram] if isinstance(r.diagram, dict) else []) + list(rec.raw.get("diagrams") or [])
           if isinstance(d, dict)]
    if out:
        return out
    if seqdiagram.is_trace(r.counterexample):
        return [seqdiagram.from_labels(r.counterexample, f"{r.check_id}: shortest counterexample")]
    pair = [t for t in r.counterexample_pair if seqdiagram.is_trace(t)]
    if len(pair) == len(r.counterexample_pair) and pair:
        return [seqdiagram.from_labels(t, f"{r.check_id}: trace {i + 1} of the pair") for i, t in enumerate(pair)]
    return []


#: emit(rel, content) -> the srcdir-absolute path of the written fragment
Emit = Callable[[str, str | bytes], str]


def figure(emit: Emit, spec: dict[str, Any], name: str, caption: str) -> str:
    """A sequence diagram as a MyST figure (class :data:`CEX_FIGURE_CLASS`)."""
    path = emit(f"diagrams/{name}.svg", seqdiagram.render(spec))
    return (f"\n```{{figure}} {path}\n:alt: {spec.get('title') or caption}\n:figclass: {CEX_FIGURE_CLASS}\n"
            f"\n{caption}\n```\n\n")


def steps_list(steps: Sequence[str]) -> str:
    """A counterexample that is not a trace (a decider table, a proof step) as a numbered list."""
    items = "".join(f"<li><code>{escape(s)}</code></li>" for s in steps)
    return f'\n<ol class="{CEX_STEPS_CLASS}">{items}</ol>\n\n'


def record_section(rec: Record, emit: Emit, known: set[str], xref_href: str, level: str = "###",
                   notes_seen: dict[str, str] | None = None) -> str:
    """One record: heading, field table, counterexample (drawn when it is a trace), notes.

    :param notes_seen: notes already printed on the page -> where (MyST); a note shared by several records (the
        LL and LL128 model notes) is printed once and referred to afterwards. Updated in place.
    """
    r = rec.result
    out = f"{level} `{short_id(r.check_id)}`: {r.title}\n\n"
    out += f"::::{{container}} {RECORD_CLASS} verdict-{r.verdict}\n"
    if r.disagrees_with_paper:
        out += admonition("important", f"The search's verdict (**{r.verdict}**) differs from what the paper "
                                       f"implies (**{r.expected}**). Reported as found, not tuned away; see the "
                                       "notes below.", title="Disagreement with the paper")
    rows = [["check id", f"`{r.check_id}`"],
            ["evidence", f"**{r.kind}**: {KINDS.get(r.kind, r.kind)}"],
            ["Rocq name", rocq_cell(r, known, xref_href)]]
    if r.paper_name and r.paper_name != r.rocq_name:
        rows.append(["paper name", f"`{r.paper_name}`"])
    rows += [["universe", f"`{r.mode}`"],
             ["bound", fmt_bound(r.bound) or "**empty**"],
             ["explored", explored(r)],
             ["verdict", verdict(r)],
             ["positive controls", controls(r)],
             ["search time", f"{r.seconds:.3g} s" if r.seconds >= 0.001 else "< 1 ms"]]
    if r.counts:
        rows.append(["counts", "<br>".join(f"`{k}` = {fmt_value(v)}" for k, v in r.counts.items())])
    out += table(["field", "value"], rows, raw=True)
    diagrams = drawn(rec)
    steps = list(r.counterexample)
    if r.verdict == "counterexample" or steps or diagrams:
        n = len(steps)
        what = f"shortest counterexample ({n} step{'s' if n != 1 else ''})" if n else "counterexample"
        out += f"\n**The {what}**"
        if diagrams:
            out += " — sequence diagram, lanes left to right:\n"
            for i, spec in enumerate(diagrams):
                out += figure(emit, spec, f"{slug(r.check_id)}.{i + 1}", str(spec.get("title") or r.check_id))
        elif steps:
            out += " — an argument, not a message trace, so it is listed rather than drawn:\n" + steps_list(steps)
        else:
            out += ": **none recorded**, although the verdict is a counterexample.\n\n"
    else:
        where = {"P": "on every sampled instance", "W": "for the witness"}.get(r.kind, "on the whole bound")
        out += f"\nNo counterexample: the property holds {where}.\n\n"
    if r.notes and notes_seen is not None and r.notes in notes_seen:
        out += f"\n*Notes from the check:* the same as {notes_seen[r.notes]}.\n\n"
    elif r.notes:
        out += admonition("note", r.notes, title="Notes from the check")
        if notes_seen is not None:
            notes_seen[r.notes] = f"{{ref}}`{short_id(r.check_id)} <{label(r.check_id)}>`"
    return out + "::::\n\n"


def summary_table(recs: Iterable[Record], link: Callable[[CheckResult], str]) -> str:
    """One row per record: the bound, the states explored and the verdict (the theorems index and each page)."""
    rows = []
    for rec in recs:
        r = rec.result
        ok = "✓" if r.passed else ("(disagrees with the paper)" if r.disagrees_with_paper else "✗ FAILED")
        bound = ", ".join(f"{k}={v}" for k, v in r.bound.items())
        rows.append([f"{link(r)} <small>({r.kind})</small>", f"`{r.mode}`",
                     f"<small>{escape(bound)}</small>" if bound else "**empty**", f"{r.states:,}",
                     f"{r.verdict}&nbsp;{ok}"])
    return table(["record (kind)", "universe", "bound", "states", "verdict"], rows, raw=True)
