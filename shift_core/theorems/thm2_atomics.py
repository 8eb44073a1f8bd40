"""Paper Thm 2 (atomics): FADD is not idempotent, a CAS retry can succeed twice (Rocq ``Lemma2/``).

* ``fadd_not_idempotent`` (``Core/Operations.v``) and ``fadd_non_idempotent`` (``Lemma2/Atomics.v``):
  E over a bounded memory x delta domain (control: delta = 0 *is* idempotent, so the search can come out
  either way) and P over seeded random memories and delta != 0. ``fadd_example`` and ``retry_trace`` (W).
* ``cas_double_success`` (``Lemma2/CAS.v``): Rocq replays one declared story. We *search* every schedule of
  S's CAS(0->1), S's transparent retry of it and up to two third-party ops on one address, shortest first,
  and report how many schedules exist and how many let S's one logical CAS succeed twice. Control: with no
  third party the retry never succeeds twice.
* The ABA histories that Thm 3's failover solvers face (``HistExecuted m`` / ``HistNotExecuted m`` in
  ``Theorem4/FailoverConsensus.v``, *declared* there) are *derived* here: schedules in which S's CAS executed
  once or never, grouped by final memory (:func:`derive_histories`, :func:`ambiguous_pairs`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from shift_core.model.check import CheckResult, Control
from shift_core.model.diagram import op_label, result_label, schedule_diagram, trace_diagram, trace_labels
from shift_core.model.events import (
    AckLost,
    Completion,
    Event,
    Execute,
    Receive,
    Send,
    Timeout,
    final_memory,
)
from shift_core.model.explore import Exploration, bfs
from shift_core.model.memory import INIT_MEMORY, Memory
from shift_core.model.operations import CAS, FADD, CASResult, FADDVal, Op, Write, exec_op, idempotent
from shift_core.model.properties import at_most_once, execution_count
from shift_core.theorems.evidence import timed, verdict

CHECK_ID = "thm2_atomics"
DEFAULT_BOUND = 2  #: max third-party operations interleaved with S's CAS and its retry
PROPERTY_SAMPLES = 2000
SEED = 20251211

S_CAS = CAS(0, 0, 1)  #: S's one logical CAS (Rocq ``CASConcurrent``: target_addr = 0)
#: third-party ops (the P3 of Rocq's story is the first)
THIRD_PARTY: tuple[Op, ...] = (CAS(0, 1, 0), CAS(0, 0, 1), FADD(0, 1), Write(0, 0), Write(0, 1))
S_ACTION = "S"


def retry_trace(op: Op) -> tuple[Event, ...]:
    """Rocq ``retry_trace``: execute, lose the ACK, time out, resend, execute again (results from exec_op)."""
    m1, r1 = exec_op(INIT_MEMORY, op)
    _m2, r2 = exec_op(m1, op)
    return (Send(op), Receive(op), Execute(op, r1), AckLost(op), Timeout(op), Send(op), Receive(op), Execute(op, r2))


def concurrent_cas_trace(addr: int = 0) -> tuple[Event, ...]:
    """Rocq ``concurrent_cas_trace``: S executes, its ACK is lost; P3 CAS(1->0) completes; S retries."""
    s, p = CAS(addr, 0, 1), CAS(addr, 1, 0)
    return (Send(s), Receive(s), Execute(s, CASResult(True, 0)), AckLost(s),
            Send(p), Receive(p), Execute(p, CASResult(True, 1)), Completion(p, CASResult(True, 1)),
            Timeout(s), Send(s), Receive(s), Execute(s, CASResult(True, 0)), Completion(s, CASResult(True, 0)))


def fadd_example() -> CheckResult:
    """W: ``fadd_example``, ``retry_double_execution``, ``fadd_retry_violates_at_most_once``, the CAS story."""
    with timed() as sw:
        m1, r1 = exec_op(INIT_MEMORY, FADD(0, 1))
        m2, r2 = exec_op(m1, FADD(0, 1))
        example = (m1.read(0), m2.read(0), r1, r2) == (1, 2, FADDVal(0), FADDVal(1))
        retries = [execution_count(retry_trace(op), op) == 2 and not at_most_once(retry_trace(op))
                   for op in (FADD(0, 1), S_CAS, Write(0, 1))]
        cas = concurrent_cas_trace()
        cas_ok = execution_count(cas, S_CAS) == 2 and final_memory(cas).read(0) == 1
    ok = example and all(retries) and cas_ok
    return CheckResult(
        check_id=f"{CHECK_ID}/witnesses", title="fadd_example, retry_trace and concurrent_cas_trace replay",
        kind="W", rocq_name="fadd_example / retry_double_execution / cas_retry_not_generally_safe",
        paper_name="cas_double_success", mode="rocq", bound={"witnesses": 5}, expected="counterexample",
        verdict=verdict(ok),
        states=5, unique_states=5, max_depth=len(cas), complete=True, seconds=sw.seconds,
        counterexample=trace_labels(cas), counts={"fadd_example": int(example), "retry_traces_double": sum(retries),
                                                  "cas_story_double": int(cas_ok)},
        notes="retry_trace executes any op twice (WRITE too: AtMostOnce is about counts, not effects)",
        diagram=trace_diagram("Rocq concurrent_cas_trace", cas).to_json(),
    )


def fadd_non_idempotency(addrs: int = 2, max_val: int = 3) -> CheckResult:
    """E: every memory over ``addrs`` x {0..max_val} and every FADD(a, delta) with delta in {0..max_val}."""
    mems = [Memory.of({a: (code // (max_val + 1) ** a) % (max_val + 1) for a in range(addrs)})
            for code in range((max_val + 1) ** addrs)]
    with timed() as sw:
        table = [(m, a, d, idempotent(FADD(a, d), m)) for m in mems for a in range(addrs) for d in range(max_val + 1)]
    bad = [(m, a, d) for m, a, d, idem in table if d != 0 and idem]
    zero_idem = all(idem for _m, _a, d, idem in table if d == 0)
    return CheckResult(
        check_id=f"{CHECK_ID}/fadd_non_idempotency", title="FADD(a, delta) is idempotent iff delta = 0",
        kind="E", rocq_name="fadd_not_idempotent / fadd_non_idempotent", paper_name="fadd_not_idempotent",
        mode="rocq", bound={"addrs": addrs, "max_val": max_val}, expected="holds", verdict=verdict(bool(bad)),
        states=len(table), unique_states=len(table), max_depth=2, complete=True, seconds=sw.seconds,
        counterexample=tuple(f"{m.as_dict()} FADD(a{a},+{d})" for m, a, d in bad[:1]),
        controls=(Control("delta = 0 is idempotent (the search can find idempotent FADDs)", zero_idem),),
        counts={"memories": len(mems), "cases": len(table), "idempotent_with_nonzero_delta": len(bad)},
    )


def fadd_properties(samples: int = PROPERTY_SAMPLES, seed: int = SEED) -> CheckResult:
    """P: for random memories and delta != 0, a retried FADD corrupts both state and return value."""
    rng = random.Random(seed)
    failures = 0
    with timed() as sw:
        for _ in range(samples):
            m = Memory.of({a: rng.randint(0, 2**20) for a in range(rng.randint(0, 4))})
            a, d = rng.randint(0, 4), rng.choice([-1, 1]) * rng.randint(1, 2**20)
            if d < 0 and m.read(a) + 2 * d < 0:
                d = -d  # Rocq memory holds naturals
            m1, r1 = exec_op(m, FADD(a, d))
            m2, r2 = exec_op(m1, FADD(a, d))
            failures += m1 == m2 or r1 == r2
    return CheckResult(
        check_id=f"{CHECK_ID}/fadd_properties", title="a retried FADD corrupts state and return (random)",
        kind="P", rocq_name="fadd_retry_state_corruption / fadd_retry_return_corruption",
        paper_name="fadd_not_idempotent", mode="rocq", bound={"samples": samples, "seed": seed},
        expected="holds", verdict=verdict(failures > 0), states=samples, unique_states=samples, max_depth=2,
        complete=True, seconds=sw.seconds, counts={"samples": samples, "failures": failures},
        notes="seeded stdlib sampling; hypothesis versions in tests/theorems/test_thm2_atomics.py",
    )


@dataclass(frozen=True, slots=True)
class Schedule:
    """A prefix of one interleaving: actions so far, memory, and S's CAS results (original, retry)."""

    actions: tuple[str, ...]
    memory: Memory
    s_results: tuple[CASResult, ...]
    third: int


def _schedule_successors(max_s: int, max_third: int) -> Callable[[Schedule], Iterator[tuple[str, Schedule]]]:
    def successors(st: Schedule) -> Iterator[tuple[str, Schedule]]:
        if len(st.s_results) < max_s:
            m, res = exec_op(st.memory, S_CAS)
            assert isinstance(res, CASResult)
            yield S_ACTION, Schedule((*st.actions, S_ACTION), m, (*st.s_results, res), st.third)
        if st.third < max_third:
            for op in THIRD_PARTY:
                m, _res = exec_op(st.memory, op)
                label = f"P:{op_label(op)}"
                yield label, Schedule((*st.actions, label), m, st.s_results, st.third + 1)
    return successors


def explore_schedules(max_s: int, max_third: int) -> Exploration[Schedule, str]:
    """BFS over every interleaving of ``max_s`` executions of S's CAS with <= ``max_third`` third-party ops."""
    return bfs([Schedule((), INIT_MEMORY, (), 0)], _schedule_successors(max_s, max_third), max_s + max_third)


def _double(st: Schedule) -> bool:
    return len(st.s_results) == 2 and all(r.success for r in st.s_results)


def _steps(actions: tuple[str, ...]) -> list[tuple[str, str]]:
    out, memory, n_s = [], INIT_MEMORY, 0
    for a in actions:
        op = S_CAS if a == S_ACTION else next(o for o in THIRD_PARTY if f"P:{op_label(o)}" == a)
        memory, res = exec_op(memory, op)
        who = "S" if a == S_ACTION else "P"
        what = ("retry " if a == S_ACTION and n_s else "") + op_label(op)
        n_s += a == S_ACTION
        out.append((who, f"{what} -> {result_label(res)}; m[a0]={memory.read(0)}"))
    return out


def cas_search(max_third: int = DEFAULT_BOUND) -> CheckResult:
    """E: search interleavings for S's CAS succeeding twice (Rocq ``cas_double_success``)."""
    with timed() as sw:
        ex = explore_schedules(2, max_third)
        complete_runs = [s for s in ex.order if len(s.s_results) == 2]
        bad = [s for s in complete_runs if _double(s)]
        first = ex.first(_double)
        control = explore_schedules(2, 0)
    lost_p = sum(1 for s in bad if any(a.startswith("P:") for a in s.actions))
    return CheckResult(
        check_id=f"{CHECK_ID}/cas_double_success", title="a transparent CAS retry succeeds twice under concurrency",
        kind="E", rocq_name="cas_double_success", paper_name="cas_double_success", mode="rocq",
        bound={"third_party_ops": max_third, "values": "naturals from 0", "third_party_menu": len(THIRD_PARTY)},
        expected="counterexample", verdict=verdict(first is not None), states=ex.generated,
        unique_states=ex.unique_states, max_depth=ex.max_depth, complete=ex.complete, seconds=sw.seconds,
        counterexample=tuple(f"{w}: {t}" for w, t in _steps(first.actions)) if first else (),
        controls=(Control("with no third party the retry never succeeds twice",
                          control.first(_double) is None and any(len(s.s_results) == 2 for s in control.order),
                          f"{control.unique_states} schedules"),),
        counts={"schedules_with_retry": len(complete_runs), "double_success": len(bad),
                "double_success_overwriting_a_third_party": lost_p},
        notes="the shortest schedule is Rocq's story S, P3:CAS(1->0), S-retry (p3_modification_lost)",
        diagram=schedule_diagram("CAS double success (shortest schedule)", ("S", "P"), _steps(first.actions))
        .to_json() if first else None,
    )


@dataclass(frozen=True, slots=True)
class History:
    """Rocq ``HistExecuted m`` / ``HistNotExecuted m``, with the schedule that produced it."""

    actions: tuple[str, ...]
    executed: bool
    memory: Memory

    def kind(self) -> str:
        """For executed histories: ``undone`` (S's CAS succeeded, a third party restored the value),
        ``failed`` (S's CAS executed but failed), else ``kept``."""
        if not self.executed:
            return "never"
        st = INIT_MEMORY
        for a in self.actions:
            op = S_CAS if a == S_ACTION else next(o for o in THIRD_PARTY if f"P:{op_label(o)}" == a)
            before = st
            st, res = exec_op(st, op)
            if a == S_ACTION:
                assert isinstance(res, CASResult)
                if not res.success:
                    return "failed"
                return "undone" if self.memory == before else "kept"
        raise AssertionError("executed history without S")


def derive_histories(max_third: int = DEFAULT_BOUND) -> tuple[list[History], int]:
    """Every schedule where S's CAS executed once or never, with <= max_third third-party ops (BFS order)."""
    ex = explore_schedules(1, max_third)
    return [History(s.actions, bool(s.s_results), s.memory) for s in ex.order], ex.unique_states


def ambiguous_pairs(histories: list[History]) -> list[tuple[History, History]]:
    """(executed, never executed) pairs with the same final memory, shortest (then BFS order) first."""
    never: dict[Memory, list[History]] = {}
    for h in histories:
        if not h.executed:
            never.setdefault(h.memory, []).append(h)
    pairs = [(e, n) for e in histories if e.executed for n in never.get(e.memory, [])]
    rank = {h: i for i, h in enumerate(histories)}
    return sorted(pairs, key=lambda p: (max(len(p[0].actions), len(p[1].actions)),
                                        len(p[0].actions) + len(p[1].actions), rank[p[0]], rank[p[1]]))


def aba_pairs(max_third: int = DEFAULT_BOUND) -> CheckResult:
    """E: derive the histories a failover verifier cannot tell apart (same final memory)."""
    with timed() as sw:
        hist, states = derive_histories(max_third)
        pairs = ambiguous_pairs(hist)
        by_kind: dict[str, tuple[History, History]] = {}
        counts: dict[str, int] = {"histories": len(hist), "ambiguous_pairs": len(pairs)}
        for e, n in pairs:
            counts[f"pairs_{e.kind()}"] = counts.get(f"pairs_{e.kind()}", 0) + 1
            by_kind.setdefault(e.kind(), (e, n))
        solo, _ = derive_histories(0)
        control_ok = not ambiguous_pairs(solo) and len(solo) == 2
    first = pairs[0] if pairs else None
    shown = {k: f"executed {list(e.actions)} vs never {list(n.actions)} -> m={e.memory.as_dict()}"
             for k, (e, n) in by_kind.items()}
    return CheckResult(
        check_id=f"{CHECK_ID}/aba_histories", title="executed and never-executed CAS histories with equal memory",
        kind="E", rocq_name="H0_H1_same_memory", paper_name="", mode="rocq",
        bound={"third_party_ops": max_third}, expected="counterexample", verdict=verdict(first is not None),
        states=states, unique_states=states, max_depth=1 + max_third, complete=True, seconds=sw.seconds,
        counterexample=(f"executed: {list(first[0].actions)}", f"never: {list(first[1].actions)}",
                        f"final memory: {first[0].memory.as_dict()}") if first else (),
        counterexample_pair=(first[0].actions, first[1].actions) if first else (),
        controls=(Control("without a third party, executed and never-executed memories differ", control_ok),),
        counts=counts, notes="; ".join(f"{k}: {v}" for k, v in sorted(shown.items())),
    )


def run(bound: int | None = None, mode: str | None = None) -> list[CheckResult]:
    """All Thm 2 (atomics) evidence; ``bound`` = max third-party ops; ``mode`` is ignored (no trace universe)."""
    k = DEFAULT_BOUND if bound is None else bound
    return [fadd_example(), fadd_non_idempotency(), fadd_properties(), cas_search(k), aba_pairs(k)]
