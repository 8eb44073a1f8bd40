"""Differential test: the compiled C core and the pure-Python reference, driven by the same random programs
of posts, completions (right and wrong wr_ids), peer-counter acks, truncations, errors and machine events,
must return the same results, raise the same errors and end every step in the same observable state."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shift_core.fastpath import reference
from shift_core.fastpath.records import SGE, WR
from shift_core.shift.machine import RQEvent, SQEvent

OPCODES = [0, 1, 2, 3, 4, 5, 6, 9, 10, 128]

wrs = st.builds(
    WR,
    wr_id=st.integers(0, 5),  # small: duplicate wr_ids are legal in verbs and must not confuse the log
    opcode=st.sampled_from(OPCODES),
    signaled=st.booleans(),
    sg_list=st.lists(st.builds(SGE, st.integers(0, 2**64 - 1), st.integers(0, 2**32 - 1),
                               st.integers(0, 2**32 - 1)), max_size=5).map(tuple),
    remote_addr=st.integers(0, 2**64 - 1),
    rkey=st.integers(0, 2**32 - 1),
    imm_data=st.integers(0, 2**32 - 1),
    compare_add=st.integers(0, 2**64 - 1),
    swap=st.integers(0, 2**64 - 1),
    flags=st.sampled_from([0, 1]),
    send_flags=st.integers(0, 15),
)
queues = st.sampled_from(["sq", "rq"])
ops = st.one_of(
    st.tuples(st.just("post"), queues, wrs),
    st.tuples(st.just("post"), queues, wrs),  # posting twice as likely, so rings fill and wrap
    st.tuples(st.just("complete"), queues, st.one_of(st.none(), st.integers(0, 5))),  # None: the right wr_id
    st.tuples(st.just("ack_remote"), queues, st.integers(0, 12)),
    st.tuples(st.just("truncate"), queues, st.integers(-1, 4)),  # how many of the newest posts to undo
    st.tuples(st.just("error"), st.booleans()),
    st.tuples(st.just("sq_event"), st.sampled_from(list(SQEvent))),
    st.tuples(st.just("rq_event"), st.sampled_from(list(RQEvent))),
)


def oldest_signaled_wr_id(log: Any) -> int | None:
    return next((w.wr_id for w in log.replay() if w.signaled), None)


def apply(core: Any, op: tuple[Any, ...], wr_id_hint: int | None) -> tuple[str, Any]:
    """Run one step; the outcome is ('ok', result) or ('raise', exception class name)."""
    kind = op[0]
    try:
        if kind == "post":
            return "ok", getattr(core, op[1]).post(op[2])
        if kind == "complete":
            return "ok", getattr(core, op[1]).complete(op[2] if op[2] is not None else (wr_id_hint or 0))
        if kind == "ack_remote":
            return "ok", getattr(core, op[1]).ack_remote(op[2])
        if kind == "truncate":
            log = getattr(core, op[1])
            return "ok", log.truncate(log.posted - op[2])
        if kind == "error":
            return "ok", core.on_error(on_backup=op[1])
        if kind == "sq_event":
            return "ok", core.sq_event(op[1])
        return "ok", core.rq_event(op[1])
    except Exception as exc:  # the outcome *is* the exception; both sides must agree on its class
        return "raise", type(exc).__name__


def snapshot(core: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"sq_state": core.sq_state, "rq_state": core.rq_state}
    for name in ("sq", "rq"):
        log = getattr(core, name)
        out[name] = (log.capacity, log.posted, log.retired, log.outstanding, log.two_sided_posted,
                     log.two_sided_retired, log.unsafe_outstanding, list(log.replay()))
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sq_cap=st.integers(1, 8), rq_cap=st.integers(1, 8), program=st.lists(ops, max_size=60))
def test_c_core_matches_the_reference(native: ModuleType, sq_cap: int, rq_cap: int,
                                      program: list[tuple[Any, ...]]) -> None:
    ref, c = reference.QPCore(sq_cap, rq_cap), native.QPCore(sq_cap, rq_cap)
    for step, op in enumerate(program):
        hint = oldest_signaled_wr_id(getattr(ref, op[1])) if op[0] == "complete" else None
        got_ref, got_c = apply(ref, op, hint), apply(c, op, hint)
        assert got_c == got_ref, f"step {step} {op}: C {got_c} != reference {got_ref}"
        assert snapshot(c) == snapshot(ref), f"state differs after step {step} {op}"


def test_the_generator_reaches_every_outcome(native: ModuleType) -> None:
    """Positive control: the operations used above can produce each error class (so agreement is not vacuous)."""
    seen = set()
    core = native.QPCore(2, 2)
    program = [("complete", "sq", None), ("post", "sq", WR(0, 2, sg_list=(SGE(0, 1, 1),) * 5)),
               ("post", "sq", WR(0, 0)), ("post", "sq", WR(1, 0)), ("post", "sq", WR(2, 0)),
               ("ack_remote", "sq", 9), ("truncate", "sq", -1), ("sq_event", SQEvent.FENCE_DONE)]
    for op in program:
        seen.add(apply(core, op, None)[1])
    assert {"NoSignaledRecord", "TooManySGE", "RingOverflow", "CounterAhead", "OutOfRange",
            "IllegalTransition"} <= seen
