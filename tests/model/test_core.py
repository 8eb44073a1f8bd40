"""The model core mirrors Rocq ``Core/*.v``: memory laws, exec_op's table, sender view, the causal automaton."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shift_core.model.causal import first_violation, is_causal
from shift_core.model.events import (
    AckLost,
    AppConsume,
    AppReuse,
    Completion,
    Execute,
    PacketLost,
    Receive,
    Send,
    Timeout,
    final_memory,
    sender_view,
)
from shift_core.model.memory import INIT_MEMORY, Memory
from shift_core.model.operations import CAS, FADD, CASResult, FADDVal, Write, WriteAck, exec_op, idempotent

addrs = st.integers(0, 3)
vals = st.integers(0, 5)
mems = st.dictionaries(addrs, vals).map(Memory.of)


@given(mems, addrs, vals)
def test_mem_read_write_same(m: Memory, a: int, v: int) -> None:
    assert m.write(a, v).read(a) == v


@given(mems, addrs, addrs, vals)
def test_mem_read_write_other(m: Memory, a1: int, a2: int, v: int) -> None:
    if a1 != a2:
        assert m.write(a2, v).read(a1) == m.read(a1)


@given(mems, addrs, vals, vals)
def test_mem_write_write_same_is_equality(m: Memory, a: int, v1: int, v2: int) -> None:
    assert m.write(a, v1).write(a, v2) == m.write(a, v2)


def test_exec_op_table() -> None:
    m = Memory.of({0: 5})
    assert exec_op(m, FADD(0, 2)) == (Memory.of({0: 7}), FADDVal(5))
    assert exec_op(m, CAS(0, 5, 1)) == (Memory.of({0: 1}), CASResult(True, 5))
    assert exec_op(m, CAS(0, 4, 1)) == (m, CASResult(False, 5))


def test_wrap_mode_is_modular() -> None:
    m = Memory.of({0: 2**64 - 1}, wrap_bits=64)
    assert exec_op(m, FADD(0, 1))[0].read(0) == 0


@given(mems, addrs, st.integers(1, 5))
def test_fadd_not_idempotent(m: Memory, a: int, d: int) -> None:
    assert not idempotent(FADD(a, d), m)


def test_seed_t1_t2_share_a_view_and_are_causal() -> None:
    w = Write(0, 1)
    t1 = (Send(w), PacketLost(w), Timeout(w))
    t2 = (Send(w), Receive(w), Execute(w, WriteAck()), AppConsume(0, 1), AppReuse(0, 7), AckLost(w), Timeout(w))
    assert sender_view(t1) == sender_view(t2)
    assert is_causal(t1) and is_causal(t2)
    assert final_memory(t2).read(0) == 7


def test_causal_rejects_non_physical_traces() -> None:
    w = Write(0, 1)
    assert first_violation((Send(w), Timeout(w))) == (1, Timeout(w))  # timer fires only after a loss
    assert not is_causal((Send(w), Execute(w, WriteAck())))  # execute needs a receive
    assert not is_causal((Send(w), Receive(w), Execute(w, WriteAck()), AckLost(w), Completion(w, WriteAck())))
    assert not is_causal((AppReuse(0, 1),))  # reuse needs a consume first
    assert Memory() == INIT_MEMORY
