"""Paper Thm 2 (queue sliding): a retried SEND consumes an extra receive WQE -- NOT mechanized in Rocq.

The paper names ``send_queue_sliding``, but no Rocq commit defines SEND/RECV; the appendix's model is prose
(``theory_appendix.typ`` A.1-A.2, the ``(M, Q_R)`` state). This is our own executable reading of it: the
receiver posted ``r`` receive WQEs pointing at buffers B1..Br (addresses 1..r); the sender sends messages
m1..mk (value i for m_i) in order; a transparent overlay may re-send one already-sent message once (an ACK
was lost). ``Send`` pops the head WQE and writes the buffer, or gets RNR when the queue is empty
(:func:`shift_core.model.operations.exec_op`).

E: a BFS over every such run (r <= 4, k <= 3, at most one retry anywhere after its original), shortest first,
for a run where some message lands somewhere else than it would without the retry (one buffer off, or RNR):
the stream is misaligned. Also checked on every run with a retry: the duplicate consumed one extra WQE
(``retry_is_destructive`` of the never-built Rocq plan). Control: without a retry every run is aligned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from shift_core.model.check import CheckResult, Control
from shift_core.model.diagram import trace_diagram, trace_labels
from shift_core.model.events import Event, Execute, PostRecv, Send
from shift_core.model.explore import bfs
from shift_core.model.memory import INIT_MEMORY, Memory
from shift_core.model.operations import Send as SendOp
from shift_core.model.operations import SendResult, exec_op
from shift_core.theorems.evidence import timed, verdict

CHECK_ID = "thm2_queue_sliding"
DEFAULT_BOUND = 3  #: max messages k
MAX_RQ = 4  #: max posted receive WQEs r


@dataclass(frozen=True, slots=True)
class Run:
    """One run prefix: posted WQEs, memory (buffers + queue), messages sent, landings, retry used."""

    rq_len: int
    memory: Memory
    sent: int
    landed: tuple[tuple[int, int | None], ...]  # (message, buffer or None for RNR), in send order
    retried: bool


def _initial(rq_len: int) -> Run:
    m = INIT_MEMORY
    for b in range(1, rq_len + 1):
        m = m.post_recv(b)
    return Run(rq_len, m, 0, (), False)


def _send(run: Run, msg: int, retry: bool) -> Run:
    m, res = exec_op(run.memory, SendOp(msg))
    assert isinstance(res, SendResult)
    return Run(run.rq_len, m, run.sent + (not retry), (*run.landed, (msg, res.buf)), run.retried or retry)


def _successors(max_msgs: int) -> Callable[[Run], Iterator[tuple[str, Run]]]:
    def successors(run: Run) -> Iterator[tuple[str, Run]]:
        if run.sent < max_msgs:
            yield f"send m{run.sent + 1}", _send(run, run.sent + 1, retry=False)
        if not run.retried:
            for msg in range(1, run.sent + 1):
                yield f"retry m{msg}", _send(run, msg, retry=True)
    return successors


def baseline(rq_len: int, msg: int) -> int | None:
    """Where message ``msg`` lands without any retry: its own buffer B_msg, or RNR past the queue."""
    return msg if msg <= rq_len else None


def misaligned(run: Run) -> bool:
    """Some message other than the duplicate copy landed where it would not have without the retry."""
    seen: set[int] = set()
    for msg, buf in run.landed:
        if msg in seen:
            continue  # the duplicate copy itself
        seen.add(msg)
        if buf != baseline(run.rq_len, msg):
            return True
    return False


def extra_wqe_consumed(run: Run) -> bool:
    """With a retry, the queue is one WQE shorter than the same messages without it (or empty)."""
    without = max(0, run.rq_len - run.sent)
    return len(run.memory.rq) == max(0, without - 1)


def events_of(run: Run) -> tuple[Event, ...]:
    """The run as model events: PostRecv per WQE, then Send + Execute per (re)transmission."""
    evs: list[Event] = [PostRecv(b) for b in range(1, run.rq_len + 1)]
    for msg, buf in run.landed:
        evs += [Send(SendOp(msg)), Execute(SendOp(msg), SendResult(buf))]
    return tuple(evs)


def sliding_search(max_msgs: int = DEFAULT_BOUND, max_rq: int = MAX_RQ) -> CheckResult:
    """E: shortest run in which a transparent SEND retry misaligns the message stream."""
    with timed() as sw:
        ex = bfs([_initial(r) for r in range(1, max_rq + 1)], _successors(max_msgs), max_msgs + 1)
        with_retry = [r for r in ex.order if r.retried]
        bad = [r for r in with_retry if misaligned(r)]
        destructive = sum(extra_wqe_consumed(r) for r in with_retry)
        no_retry = [r for r in ex.order if not r.retried]
        first = ex.first(misaligned)
        later_off = ex.first(lambda r: misaligned(r) and all(b is not None for _m, b in r.landed))
    controls = (
        Control("without a retry every run is aligned (m_i lands in B_i, or RNR past the queue)",
                not any(misaligned(r) for r in no_retry), f"{len(no_retry)} runs"),
        Control("every retry consumes one extra receive WQE (retry_is_destructive)",
                destructive == len(with_retry), f"{destructive} of {len(with_retry)} runs"),
    )
    notes = "appendix model, NOT mechanized in Rocq (no SEND/RECV at any commit)"
    if later_off is not None:
        notes += "; shortest run without RNR: " + ", ".join(ex.path(later_off)) + \
            f" with {later_off.rq_len} WQEs lands " + ", ".join(f"m{m}->B{b}" for m, b in later_off.landed)
    return CheckResult(
        check_id=f"{CHECK_ID}/sliding", title="a retried SEND slides every later message by one receive buffer",
        kind="E", rocq_name="", paper_name="send_queue_sliding", mode="causal",
        bound={"max_messages": max_msgs, "max_recv_wqes": max_rq, "retries": 1}, expected="counterexample",
        verdict=verdict(first is not None), states=ex.generated, unique_states=ex.unique_states,
        max_depth=ex.max_depth, complete=ex.complete, seconds=sw.seconds,
        counterexample=(f"{first.rq_len} receive WQEs", *ex.path(first),
                        *(f"m{m} -> {'RNR' if b is None else f'B{b}'}" for m, b in first.landed)) if first else (),
        controls=controls,
        counts={"runs": ex.unique_states, "runs_with_retry": len(with_retry), "misaligned": len(bad)},
        notes=notes,
        diagram=trace_diagram("Queue sliding (shortest misaligned run)", events_of(first)).to_json()
        if first else None,
    )


def witness() -> CheckResult:
    """W: the appendix's story with three WQEs: m1 lands in B1 and B2 (retry), m2 lands in B3."""
    run = _send(_send(_send(_initial(3), 1, False), 1, True), 2, False)
    ok = run.landed == ((1, 1), (1, 2), (2, 3)) and run.memory.as_dict() == {1: 1, 2: 1, 3: 2}
    return CheckResult(
        check_id=f"{CHECK_ID}/witness", title="m1 duplicated in B1 and B2, m2 lands in B3", kind="W",
        rocq_name="", paper_name="send_queue_sliding", mode="causal", bound={"recv_wqes": 3},
        expected="counterexample", verdict=verdict(ok), states=3, unique_states=3, max_depth=3, complete=True,
        seconds=0.0, counterexample=trace_labels(events_of(run)),
        notes="appendix model, NOT mechanized in Rocq",
        diagram=trace_diagram("Queue sliding: the appendix's story", events_of(run)).to_json(),
    )


def run(bound: int | None = None, mode: str | None = None) -> list[CheckResult]:
    """Queue-sliding evidence; ``bound`` = max messages; ``mode`` is ignored (runs are causal by construction)."""
    return [witness(), sliding_search(DEFAULT_BOUND if bound is None else bound)]
