"""Thm 2 (atomics): FADD non-idempotency (hypothesis), the CAS double success FOUND by search, ABA derived."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shift_core.model.check import CheckResult
from shift_core.model.memory import Memory
from shift_core.model.operations import FADD, exec_op, idempotent
from shift_core.model.properties import at_most_once
from shift_core.theorems import thm2_atomics as thm2

ID = "thm2_atomics"
mems = st.dictionaries(st.integers(0, 3), st.integers(0, 2**64)).map(Memory.of)


@given(mems, st.integers(0, 3), st.integers(1, 2**64))
def test_fadd_not_idempotent(m: Memory, a: int, d: int) -> None:
    m1, r1 = exec_op(m, FADD(a, d))
    m2, r2 = exec_op(m1, FADD(a, d))
    assert not idempotent(FADD(a, d), m)
    assert m2.read(a) != m1.read(a) and r1 != r2  # fadd_retry_state_corruption + return corruption


@given(st.integers(1, 100))
def test_fadd_retry_violates_at_most_once(d: int) -> None:
    assert not at_most_once(thm2.retry_trace(FADD(0, d)))


def test_every_result_passes(results: dict[str, CheckResult]) -> None:
    mine = [r for cid, r in results.items() if cid.startswith(ID)]
    assert len(mine) == 5 and all(r.passed for r in mine)


def test_cas_search_shortest_is_the_rocq_story(results: dict[str, CheckResult]) -> None:
    r = results[f"{ID}/cas_double_success"]
    assert r.counterexample == ("S: CAS(a0,0->1) -> ok,old=0; m[a0]=1", "P: CAS(a0,1->0) -> ok,old=1; m[a0]=0",
                                "S: retry CAS(a0,0->1) -> ok,old=0; m[a0]=1")
    # golden: 1 + 3*5 + 6*25 schedules contain S's CAS and its retry; 25 of them double-succeed
    assert r.counts["schedules_with_retry"] == 166 and r.counts["double_success"] == 25
    assert r.unique_states == 283


def test_cas_search_bound_zero_finds_nothing() -> None:
    r = thm2.cas_search(0)
    assert r.verdict == "holds" and not r.passed


def test_aba_pairs_are_derived(results: dict[str, CheckResult]) -> None:
    r = results[f"{ID}/aba_histories"]
    assert r.counts["histories"] == 117 and r.counts["ambiguous_pairs"] == 1077
    assert r.counts["pairs_undone"] == 195 and r.counts["pairs_kept"] == 471 and r.counts["pairs_failed"] == 411
    hist, _ = thm2.derive_histories(2)
    pairs = thm2.ambiguous_pairs(hist)
    undone = [p for p in pairs if p[0].kind() == "undone"]
    assert (undone[0][0].actions, undone[0][1].actions) == (("S", "P:CAS(a0,1->0)"), ())  # Rocq's H1/H0
    assert all(e.memory == n.memory and e.executed and not n.executed for e, n in pairs)
