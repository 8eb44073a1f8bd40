"""RC transport + SHIFT failover moves: restart points, the atomic guard, ACK granularity."""

from __future__ import annotations

from dataclasses import replace

from shift_core.boundary.put_signal import SignalProtocol
from shift_core.boundary.simple import Simple
from shift_core.boundary.transport import Policy, State, nic_moves, post


def _advance(proto, s, n):
    """Execute ``n`` packets on QP 0 (the first 'execute' move each time)."""
    table = proto.table()
    for _ in range(n):
        _, s, _ = next(m for m in nic_moves(s, table, proto.policy) if "execute" in m[0].text)
    return s


def _fault(proto, s):
    table = proto.table()
    return next(m for m in nic_moves(s, table, proto.policy) if "path fails" in m[0].text)


def _posted_step0(proto: Simple) -> State:
    s = proto.init()
    _, s, _ = post(s, 0, (0, 1), proto.table())
    return s


def test_counter_prefix_restarts_after_the_consumed_write_with_imm():
    proto = Simple(steps=2, slots=1)
    s = _advance(proto, _posted_step0(proto), 3)  # D0.p0, D0.p1, I0: nothing acked
    step, s2, violation = _fault(proto, s)
    assert violation is None
    assert s2.qps[0].path == "backup" and s2.qps[0].wr == 2, "resubmission must start after I0"
    assert "resubmits from nothing" in step.text


def test_ack_only_restarts_at_the_first_unacknowledged_wr():
    proto = Simple(steps=2, slots=1, policy=Policy(restart="ack_only"))
    s = _advance(proto, _posted_step0(proto), 3)
    _, s2, _ = _fault(proto, s)
    assert s2.qps[0].wr == 0 and s2.qps[0].resent == 2


def test_skip_sends_resubmits_data_but_skips_the_consumed_imm():
    proto = Simple(steps=2, slots=1, policy=Policy(restart="skip_sends"))
    s = _advance(proto, _posted_step0(proto), 3)
    _, s2, _ = _fault(proto, s)
    assert s2.qps[0].wr == 0 and s2.qps[0].skip == frozenset({1})


def test_a_second_execution_of_a_signal_is_a_violation():
    proto = Simple(steps=2, slots=1, policy=Policy(restart="ack_only"))
    s = _advance(proto, _posted_step0(proto), 3)
    _, s, _ = _fault(proto, s)
    s = _advance(proto, s, 2)  # D0 again
    step, _, violation = next(m for m in nic_moves(s, proto.table(), proto.policy) if "execute" in m[0].text)
    assert "I0" in step.text and violation == "signal_executed_twice"


def test_atomic_guard_refuses_failover_with_an_atomic_in_flight():
    proto = SignalProtocol(steps=2, slots=1)
    s = proto.init()
    _, s, _ = post(s, 0, (0, 1), proto.table())
    s = _advance(proto, s, 3)  # D0 (2 packets) and A0 executed, none acked
    step, s2, violation = _fault(proto, s)
    assert violation is None and s2.qps[0].path == "dead" and "refuses" in step.text
    assert not any("execute" in m[0].text for m in nic_moves(s2, proto.table(), proto.policy))
    unguarded = replace(proto, policy=Policy(atomic_guard=False))
    _, s3, _ = _fault(unguarded, s)
    assert s3.qps[0].path == "backup" and s3.qps[0].wr == 0


def test_signaled_ack_granularity_hides_unsignaled_completions():
    proto = Simple(steps=2, slots=1, policy=Policy(ack="signaled"))
    s = _advance(proto, _posted_step0(proto), 2)  # D0 complete (unsignaled), I0 not yet
    assert not any("completion" in m[0].text for m in nic_moves(s, proto.table(), proto.policy))
    s = _advance(proto, s, 1)
    acks = [m for m in nic_moves(s, proto.table(), proto.policy) if "completion" in m[0].text]
    assert len(acks) == 1 and acks[0][1].qps[0].acked == 2


def test_only_one_fault_per_run():
    proto = Simple(steps=2, slots=1)
    s = replace(proto.init(), faults=1)
    assert not any("path fails" in m[0].text for m in nic_moves(s, proto.table(), proto.policy))
