"""The core laws of Rocq ``Core/Memory.v`` and ``Core/Operations.v`` (+ ``cas_idempotent_iff``), checked.

* E: every memory over addresses {0,1,2} x values {0..3} (64 memories) against the four read/write laws
  (``mem_read_write_same``, ``mem_read_write_other``, ``mem_write_write_same``, ``mem_write_write_comm``).
* E: the idempotency table over that memory domain x every op with operands in the same domain is *derived*
  by running ``exec_op`` twice, then compared with Rocq's statements: WRITE and READ always idempotent
  (``write_idempotent``), FADD iff delta = 0 (``fadd_not_idempotent``), CAS iff m[a] != e or e = n
  (``cas_idempotent_iff``), plus ``cas_success_changes_state`` and ``cas_fail_idempotent``.
* P: the same laws on seeded random memories with large values, in Rocq's naturals and in 64-bit wrap mode.

A law is expected to *hold*; the control of each E check is that the table contains both idempotent and
non-idempotent cases, so the comparison is not vacuous.
"""

from __future__ import annotations

import itertools
import random

from shift_core.model.check import CheckResult, Control
from shift_core.model.memory import Memory
from shift_core.model.operations import CAS, FADD, Op, Read, Write, exec_op, idempotent
from shift_core.theorems.evidence import timed, verdict

CHECK_ID = "core_laws"
ADDRS = (0, 1, 2)
VALS = (0, 1, 2, 3)
PROPERTY_SAMPLES = 2000
SEED = 20251211


def memories() -> list[Memory]:
    """Every memory over ADDRS x VALS (4^3 = 64)."""
    return [Memory.of(dict(zip(ADDRS, vs, strict=True))) for vs in itertools.product(VALS, repeat=len(ADDRS))]


def _law_failures(mems: list[Memory], vals: tuple[int, ...]) -> dict[str, int]:
    fails = {"mem_read_write_same": 0, "mem_read_write_other": 0, "mem_write_write_same": 0,
             "mem_write_write_comm": 0}
    for m in mems:
        for a1, a2 in itertools.product(ADDRS, repeat=2):
            for v1, v2 in itertools.product(vals, repeat=2):
                fails["mem_read_write_same"] += m.write(a1, v1).read(a1) != v1
                fails["mem_write_write_same"] += m.write(a1, v1).write(a1, v2) != m.write(a1, v2)
                if a1 != a2:
                    fails["mem_read_write_other"] += m.write(a2, v1).read(a1) != m.read(a1)
                    fails["mem_write_write_comm"] += m.write(a1, v1).write(a2, v2) != m.write(a2, v2).write(a1, v1)
    return fails


def memory_laws() -> CheckResult:
    """E: the four Memory.v laws on every bounded memory, address pair and value pair."""
    mems = memories()
    with timed() as sw:
        fails = _law_failures(mems, VALS)
    cases = len(mems) * len(ADDRS) ** 2 * len(VALS) ** 2
    broken = Memory.of({0: 1})
    control = broken.write(0, 2) != broken  # the comparison can tell memories apart
    return CheckResult(
        check_id=f"{CHECK_ID}/memory_laws", title="mem_read/mem_write laws on every bounded memory", kind="E",
        rocq_name="mem_read_write_same / _other / mem_write_write_same / _comm", paper_name="mem_read_write_same",
        mode="rocq", bound={"addrs": len(ADDRS), "vals": len(VALS)}, expected="holds",
        verdict=verdict(any(fails.values())), states=cases, unique_states=len(mems), max_depth=2, complete=True,
        seconds=sw.seconds, controls=(Control("memory equality distinguishes different memories", control),),
        counts={"memories": len(mems), "cases": cases, **{f"failures_{k}": v for k, v in fails.items()}},
    )


def ops() -> list[Op]:
    """Every op with operands in the bounded domain."""
    out: list[Op] = [Read(a) for a in ADDRS]
    out += [Write(a, v) for a in ADDRS for v in VALS]
    out += [FADD(a, d) for a in ADDRS for d in VALS]
    out += [CAS(a, e, n) for a in ADDRS for e in VALS for n in VALS]
    return out


def rocq_says_idempotent(op: Op, m: Memory) -> bool:
    """Rocq's statements about ``Idempotent op m`` (write_idempotent, fadd_not_idempotent, cas_idempotent_iff)."""
    if isinstance(op, (Read, Write)):
        return True
    if isinstance(op, FADD):
        return op.delta == 0
    assert isinstance(op, CAS)
    return m.read(op.addr) != op.expected or op.expected == op.new


def idempotency_table() -> CheckResult:
    """E: derive idempotency by executing twice; compare with Rocq's lemmas; check the CAS state lemmas."""
    mems, all_ops = memories(), ops()
    with timed() as sw:
        table = [(op, m, idempotent(op, m)) for op in all_ops for m in mems]
        disagree = [(op, m) for op, m, idem in table if idem != rocq_says_idempotent(op, m)]
        cas_state = 0
        for op, m, _idem in table:
            if isinstance(op, CAS):
                m1 = exec_op(m, op)[0]
                if m.read(op.addr) == op.expected and op.expected != op.new:
                    cas_state += m1.read(op.addr) == m.read(op.addr)  # cas_success_changes_state broken
                if m.read(op.addr) != op.expected:
                    cas_state += m1 != m  # cas_fail_idempotent broken
    n_idem = sum(idem for _op, _m, idem in table)
    return CheckResult(
        check_id=f"{CHECK_ID}/idempotency_table", title="derived idempotency table = Rocq's lemmas", kind="E",
        rocq_name="write_idempotent / cas_idempotent_iff / cas_success_changes_state / cas_fail_idempotent",
        paper_name="", mode="rocq", bound={"addrs": len(ADDRS), "vals": len(VALS)}, expected="holds",
        verdict=verdict(bool(disagree) or cas_state > 0), states=len(table), unique_states=len(table),
        max_depth=2, complete=True, seconds=sw.seconds,
        counterexample=tuple(f"{op} on {m.as_dict()}" for op, m in disagree[:3]),
        controls=(Control("the table holds both idempotent and non-idempotent cases",
                          0 < n_idem < len(table), f"{n_idem} idempotent of {len(table)}"),),
        counts={"ops": len(all_ops), "memories": len(mems), "cases": len(table), "idempotent": n_idem,
                "disagreements": len(disagree), "cas_state_lemma_failures": cas_state},
        notes="Idempotent = same memory AND same result after a second execution (Rocq Lemma2/Atomics.v)",
    )


def law_properties(samples: int = PROPERTY_SAMPLES, seed: int = SEED) -> CheckResult:
    """P: the memory laws on random memories with 64-bit values, in naturals and in 64-bit wrap mode."""
    rng = random.Random(seed)
    failures = 0
    with timed() as sw:
        for i in range(samples):
            wrap = 64 if i % 2 else None
            m = Memory.of({a: rng.randint(0, 2**64 - 1) for a in ADDRS if rng.random() < 0.7}, wrap_bits=wrap)
            v1, v2 = rng.randint(0, 2**64 - 1), rng.randint(0, 2**64 - 1)
            a1, a2 = rng.choice(ADDRS), rng.choice(ADDRS)
            failures += m.write(a1, v1).read(a1) != v1
            failures += m.write(a1, v1).write(a1, v2) != m.write(a1, v2)
            if a1 != a2:
                failures += m.write(a2, v1).read(a1) != m.read(a1)
                failures += m.write(a1, v1).write(a2, v2) != m.write(a2, v2).write(a1, v1)
    return CheckResult(
        check_id=f"{CHECK_ID}/law_properties", title="memory laws on random 64-bit memories (naturals and wrap)",
        kind="P", rocq_name="mem_read_write_same / _other / mem_write_write_same / _comm", paper_name="",
        mode="rocq", bound={"samples": samples, "seed": seed}, expected="holds", verdict=verdict(failures > 0),
        states=samples, unique_states=samples, max_depth=2, complete=True, seconds=sw.seconds,
        counts={"samples": samples, "failures": failures},
        notes="wrap_bits=64 is our hardware-like option; Rocq memory holds unbounded naturals",
    )


def run(bound: int | None = None, mode: str | None = None) -> list[CheckResult]:
    """The core laws (fixed bounds: ``bound`` and ``mode`` do not apply)."""
    return [memory_laws(), idempotency_table(), law_properties()]
