"""Every transition of :mod:`shift_core.shift.machine` is driven by a real run on the sim fabric (no direct
calls into the state machine): each test causes the physical event and checks the layer took that step."""

from __future__ import annotations

from typing import Any

import pytest

from shift_core.kv.memory_store import MemoryKV
from shift_core.shift.machine import RQ_TRANSITIONS, SQ_TRANSITIONS, SQState

from .conftest import DETECT_NS, ack_loss, flap, nic_fatal, run, transitions

SEEN: set[tuple[str, str, str]] = set()


def _record(res: Any) -> set[tuple[str, str, str]]:
    got = transitions(res)
    SEEN.update(got)
    return got


def test_error_safe_and_peer_fallback() -> None:
    res, v, _ = run("send_recv", "shift", nic_fatal("h0.nic0"))
    got = _record(res)
    assert ("sq", "default", "error_safe") in got and ("sq", "default", "peer_fallback") in got
    assert ("rq", "default", "handshake") in got and ("rq", "fallback", "handshake") in got
    assert v.outcome == "correct"


def test_error_unsafe_surfaces_atomics_in_flight() -> None:
    res, v, _ = run("fadd_counter", "shift", nic_fatal("h1.nic0"))
    got = _record(res)
    assert ("sq", "default", "error_unsafe") in got and ("rq", "default", "surfaced") in got
    assert v.outcome == "error_surfaced"


def test_fallback_error_unsafe_when_the_log_shows_an_executed_atomic() -> None:
    res, v, _ = run("fadd_counter", "receiver_log", ack_loss("h0.nic0"))
    got = _record(res)
    assert ("sq", "fallback", "error_unsafe") in got and ("rq", "fallback", "surfaced") in got
    assert v.outcome == "error_surfaced"


def test_second_failure_during_fallback() -> None:
    def fault(b: Any) -> None:
        b.faults.link_down("h1.nic0", at_ns=b.now_ns() + 1_000)
        b.faults.nic_fatal("h1.nic1", at_ns=b.now_ns() + 2_000)

    res, v, _ = run("send_recv", "shift", fault)
    got = _record(res)
    assert ("sq", "fallback", "second_failure") in got and ("rq", "fallback", "second_failure") in got
    assert v.outcome == "error_surfaced"


def test_second_failure_at_the_first_error_when_the_kv_store_was_down_during_setup() -> None:
    kv = MemoryKV("down-at-setup", fresh=True)
    kv.available = False  # shadow verbs cannot publish or look up: the backup never gets connected
    res, v, _ = run("send_recv", "shift", nic_fatal("h1.nic0"), kv=kv)
    got = _record(res)
    assert ("sq", "default", "second_failure") in got
    assert v.outcome == "error_surfaced"


def _at_state(target: SQState, action: Any) -> Any:
    """An ``on_round`` hook that runs ``action(backend, qp)`` once, when host A's SQ first reaches ``target``."""
    done: list[bool] = []

    def hook(b: Any, libs: dict[str, Any]) -> None:
        qp = libs["A"].qps[0]
        if not done and qp.sq_state is target:
            done.append(True)
            action(b, qp)

    return hook


def test_probe_fence_and_switch_back() -> None:
    res, v, _ = run("send_recv", "shift", flap("h0.nic0"), n=150, pace_ns=200_000, after=5)
    got = _record(res)
    for step in (("sq", "fallback", "probe_ok"), ("sq", "wait_signaled", "fence_posted"),
                 ("sq", "wait_drained", "fence_done"), ("rq", "fallback", "switch_back")):
        assert step in got
    assert v.outcome == "correct" and v.switch_backs >= 1


def test_default_error_while_waiting_for_the_fence() -> None:
    hook = _at_state(SQState.WAIT_SIGNALED, lambda b, qp: b.faults.link_down("h0.nic0"))
    res, v, _ = run("send_recv", "shift", flap("h0.nic0"), n=150, pace_ns=200_000, after=5, on_round=hook)
    assert ("sq", "wait_signaled", "default_error") in _record(res)
    assert v.outcome == "correct"


def test_default_error_while_draining() -> None:
    hook = _at_state(SQState.WAIT_DRAINED, lambda b, qp: b.faults.link_down("h0.nic0"))
    res, v, _ = run("send_recv", "shift", flap("h0.nic0"), n=150, pace_ns=200_000, after=5, on_round=hook)
    assert ("sq", "wait_drained", "default_error") in _record(res)
    assert v.outcome == "correct"


def _kill_backup_and_post_unsignaled(b: Any, qp: Any) -> None:
    from shift_core.backend.attrs import SGE, SendWR
    from shift_core.backend.enums import ibv_wr_opcode

    b.faults.nic_fatal("h0.nic1")
    mr = next(m for m in qp.lib.mrs if m.length == 1 << 16)  # the app MR
    qp.post_send(SendWR(wr_id=999, opcode=ibv_wr_opcode.IBV_WR_RDMA_WRITE, send_flags=0,
                        sg_list=[SGE(mr.buf + 60_000, 8, mr.lkey)], remote_addr=mr.buf, rkey=0))


def test_second_failure_while_waiting_for_the_fence() -> None:
    hook = _at_state(SQState.WAIT_SIGNALED, _kill_backup_and_post_unsignaled)
    res, v, _ = run("send_recv", "shift", flap("h0.nic0"), n=150, pace_ns=200_000, after=5, on_round=hook)
    assert ("sq", "wait_signaled", "second_failure") in _record(res)
    assert v.outcome == "error_surfaced"


def test_second_failure_while_draining() -> None:
    """The backup NIC dies while waiting for the fence: the app's next signaled WR (the fence) fails on it."""
    hook = _at_state(SQState.WAIT_SIGNALED, lambda b, qp: b.faults.nic_fatal("h0.nic1"))
    res, v, _ = run("send_recv", "shift", flap("h0.nic0"), n=150, pace_ns=200_000, after=5, on_round=hook)
    assert ("sq", "wait_drained", "second_failure") in _record(res)
    assert v.outcome == "error_surfaced"


@pytest.mark.parametrize("table,queue", [(SQ_TRANSITIONS, "sq"), (RQ_TRANSITIONS, "rq")])
def test_every_table_entry_was_driven(table: dict, queue: str) -> None:  # type: ignore[type-arg]
    """Runs last in this module: the union of the scenarios above covers the whole table."""
    if not SEEN:
        pytest.skip("run the whole module: the scenarios above fill the coverage set")
    missing = [(s.value, e.value) for (s, e) in table if (queue, s.value, e.value) not in SEEN]
    assert not missing, f"transitions no scenario drove: {missing}"


assert DETECT_NS > 0
