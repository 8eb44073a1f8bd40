"""Core laws: the four memory laws and the derived idempotency table agree with Rocq's lemmas."""

from __future__ import annotations

from shift_core.model.check import CheckResult
from shift_core.model.memory import Memory
from shift_core.model.operations import CAS, FADD, Write
from shift_core.theorems import core_laws


def test_results(results: dict[str, CheckResult]) -> None:
    mine = [r for cid, r in results.items() if cid.startswith("core_laws/")]
    assert len(mine) == 3 and all(r.passed for r in mine)
    table = results["core_laws/idempotency_table"]
    assert (table.counts["cases"], table.counts["idempotent"]) == (4800, 3648)


def test_rocq_statement_table_can_disagree() -> None:
    """The comparison is not vacuous: a wrong statement would be caught."""
    m = Memory.of({0: 1})
    assert core_laws.rocq_says_idempotent(CAS(0, 1, 2), m) is False
    assert core_laws.rocq_says_idempotent(FADD(0, 0), m) is True
    assert core_laws.rocq_says_idempotent(Write(0, 5), m) is True
