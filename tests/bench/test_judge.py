"""The judge flags exactly the model-level corruptions it names, on hand-built traces (uids differ, as when
a WR is re-posted on the backup QP), and passes a clean trace (positive control)."""

from __future__ import annotations

from shift_core.bench.judge import judge, model_findings
from shift_core.bench.workloads import Ledger, RunResult, tag
from shift_core.model.events import AppConsume, AppReuse, Completion, Execute, Receive, Send
from shift_core.model.operations import FADD, FADDVal, SendResult, Write, WriteAck
from shift_core.model.operations import Send as SendOp
from shift_core.shift.record import LayerRecord

V = tag(1, 7)


def _run(trace, led=None, stalled=False, untraced=0):  # type: ignore[no-untyped-def]
    led = led or Ledger(expected=[V], consumed=[V], done=True)
    return RunResult("nccl_simple", "shift", led, {"A": LayerRecord()}, tuple(trace), 0, 1, None, stalled, untraced)


def test_clean_trace_is_correct() -> None:
    w = Write(0x100, V, uid=1)
    v = judge(_run([Send(w), Receive(w), Execute(w, WriteAck()), Completion(w, WriteAck()), AppConsume(0x100, V)]))
    assert v.outcome == "correct" and v.reasons == ()


def test_duplicate_fadd_across_two_posts_is_corruption() -> None:
    f1, f2 = FADD(0x200, 5, uid=1), FADD(0x200, 5, uid=2)  # the same app op, re-posted on the backup QP
    trace = [Send(f1), Receive(f1), Execute(f1, FADDVal(0)), Send(f2), Receive(f2), Execute(f2, FADDVal(5))]
    dups, ghosts, lost, reasons = model_findings(tuple(trace))
    assert (dups, ghosts, lost) == (1, 0, 0) and "duplicate execution" in reasons[0]
    assert judge(_run(trace)).outcome == "silent_corruption"


def test_duplicate_send_is_queue_sliding() -> None:
    s1, s2 = SendOp(V, uid=1), SendOp(V, uid=2)
    trace = [Execute(s1, SendResult(0x10)), Execute(s2, SendResult(0x20))]
    assert model_findings(tuple(trace))[0] == 1


def test_ghost_write_after_reuse() -> None:
    w1, w2 = Write(0x300, V, uid=1), Write(0x300, V, uid=2)
    trace = [Execute(w1, WriteAck()), AppConsume(0x300, V), AppReuse(0x300, 99), Execute(w2, WriteAck())]
    assert model_findings(tuple(trace))[1] == 1
    assert judge(_run(trace)).outcome == "silent_corruption"


def test_rewrite_before_consumption_is_not_a_ghost() -> None:
    w1, w2 = Write(0x300, V, uid=1), Write(0x300, V, uid=2)
    assert model_findings((Execute(w1, WriteAck()), Execute(w2, WriteAck()), AppConsume(0x300, V)))[1] == 0


def test_lost_op_counts_only_when_no_error_was_surfaced() -> None:
    w = Write(0x400, V, uid=1)
    assert judge(_run([Send(w)])).outcome == "silent_corruption"
    led = Ledger(expected=[V], errors=["error completion"])
    assert judge(_run([Send(w)], led)).outcome == "error_surfaced"


def test_stall_and_app_violations() -> None:
    assert judge(_run([], Ledger(expected=[V]), stalled=True)).outcome == "stall"
    led = Ledger(expected=[V], consumed=[V + 1], violations=["consumed wrong"], done=True)
    assert judge(_run([], led)).outcome == "silent_corruption"


def test_untraced_executions_offset_lost_ops_only() -> None:
    """The sim may execute a superseded go-back-N copy it cannot trace: that many "never executed" ops are not
    evidence (the end-to-end data decides); one lost op more than that still is, and duplicates always are."""
    w1, w2 = Write(0x400, V, uid=1), Write(0x408, tag(1, 8), uid=2)
    v = judge(_run([Send(w1)], untraced=1))
    assert v.outcome == "correct" and v.lost_ops == 0 and v.untraced_executions == 1
    assert "inconclusive" in v.reasons[0]
    assert judge(_run([Send(w1), Send(w2)], untraced=1)).outcome == "silent_corruption"  # 2 lost, 1 untraced
    led = Ledger(expected=[V], consumed=[], violations=["missing item 0"])
    assert judge(_run([Send(w1)], led, untraced=1)).outcome == "silent_corruption"  # the data says it was lost
    f1, f2 = FADD(0x200, 5, uid=1), FADD(0x200, 5, uid=2)
    dup = [Execute(f1, FADDVal(0)), Execute(f2, FADDVal(5))]
    assert judge(_run(dup, untraced=3)).outcome == "silent_corruption"
