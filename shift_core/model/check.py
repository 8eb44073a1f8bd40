"""The result record of every check (theorems, boundary): frozen data, written as JSON under ``data/``.

An impossibility theorem is an *expected* counterexample: ``expected="counterexample"`` and the check passes
when the search finds one. Every exhaustive (E) check also runs a positive control that must succeed, so no
check is vacuous; its outcome is part of the record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Literal

Kind = Literal["W", "E", "P"]  # witness, bounded exhaustive search, property-based
Verdict = Literal["counterexample", "holds"]


@dataclass(frozen=True, slots=True)
class Control:
    """A positive control: something the search must find possible (oracle overlay, pid-aware decider...)."""

    name: str
    passed: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's outcome.

    :param check_id: the vocabulary id (e.g. ``thm1_indistinguishability``), plus a ``/variant`` suffix.
    :param rocq_name: the Rocq theorem this mirrors (HEAD a6e39e0), or ``""`` when not mechanized.
    :param paper_name: the paper's name where it differs (paper-era e3e862e), else ``""``.
    :param counterexample: the shortest counterexample as a list of printable steps (events or actions).
    :param states: states (or traces) generated; ``unique_states``: distinct ones; ``complete``: the bound was
        exhausted (a "holds" verdict from an incomplete search is not evidence).
    :param expected_from: where the expectation comes from: ``"theorem"`` (a proved result: a mismatch is a
        failure of the model or the check) or ``"paper"`` (a claim in the paper's prose or tables: a mismatch
        from a complete search with passing controls is a reported *disagreement*, not a failure).
    :param diagram: the counterexample as a drawable sequence diagram
        (:meth:`shift_core.model.diagram.Diagram.to_json`), or ``None``.
    """

    check_id: str
    title: str
    kind: Kind
    rocq_name: str
    paper_name: str
    mode: str
    bound: dict[str, Any]
    expected: Verdict
    verdict: Verdict
    states: int
    unique_states: int
    max_depth: int
    complete: bool
    seconds: float
    counterexample: tuple[str, ...] = ()
    counterexample_pair: tuple[tuple[str, ...], ...] = ()
    controls: tuple[Control, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    notes: str = ""
    diagram: dict[str, Any] | None = None
    expected_from: Literal["theorem", "paper"] = "theorem"

    @property
    def counterexample_length(self) -> int:
        return len(self.counterexample)

    @property
    def passed(self) -> bool:
        """The verdict matches the expectation, the search completed, and every positive control passed."""
        return self.verdict == self.expected and self.complete and all(c.passed for c in self.controls)

    @property
    def disagrees_with_paper(self) -> bool:
        """A complete, controlled search whose verdict differs from a claim of the paper (a finding to report)."""
        return (self.expected_from == "paper" and self.verdict != self.expected and self.complete
                and all(c.passed for c in self.controls))

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> CheckResult:
        """The record :meth:`to_json` wrote (readers such as the book use this, never their own schema).

        Keys :meth:`to_json` derives (``passed``, ``counterexample_length``, ``disagrees_with_paper``) and keys a
        producer adds beside the record (e.g. the boundary stage's ``protocol``) are ignored here.

        :raises ValueError: when ``obj`` lacks a field of the record (the message names them).
        """
        names = {f.name for f in fields(cls)}
        required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
        missing = sorted(required - set(obj))
        if missing:
            raise ValueError(f"not a CheckResult record: missing {', '.join(missing)}")
        kw = {k: v for k, v in obj.items() if k in names}
        kw["counterexample"] = tuple(str(s) for s in kw.get("counterexample") or ())
        kw["counterexample_pair"] = tuple(tuple(str(s) for s in t) for t in kw.get("counterexample_pair") or ())
        kw["controls"] = tuple(Control(str(c["name"]), bool(c["passed"]), str(c.get("detail", "")))
                               for c in kw.get("controls") or ())
        return cls(**kw)

    def to_json(self) -> dict[str, Any]:
        return {
            "check_id": self.check_id, "title": self.title, "kind": self.kind, "rocq_name": self.rocq_name,
            "paper_name": self.paper_name, "mode": self.mode, "bound": self.bound, "expected": self.expected,
            "verdict": self.verdict, "passed": self.passed, "states": self.states,
            "unique_states": self.unique_states, "max_depth": self.max_depth, "complete": self.complete,
            "seconds": round(self.seconds, 4), "counterexample": list(self.counterexample),
            "counterexample_length": self.counterexample_length,
            "counterexample_pair": [list(t) for t in self.counterexample_pair],
            "controls": [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in self.controls],
            "counts": self.counts, "notes": self.notes, "diagram": self.diagram,
            "expected_from": self.expected_from, "disagrees_with_paper": self.disagrees_with_paper,
        }
