"""The causal automaton's RC duplicate-detection rule: a re-sent op may complete without executing again."""

from __future__ import annotations

from shift_core.model.causal import is_causal
from shift_core.model.events import AckLost, Completion, Execute, PacketLost, Receive, Send, Timeout
from shift_core.model.operations import FADD, FADDVal


def test_resent_op_completes_from_the_earlier_execution() -> None:
    f = FADD(0, 1)
    executed = (Send(f), Receive(f), Execute(f, FADDVal(0)), AckLost(f))
    assert is_causal((*executed, Send(f), Receive(f), Completion(f, FADDVal(0))))  # duplicate answered from cache
    assert is_causal((*executed, Send(f), PacketLost(f), Completion(f, FADDVal(0))))  # cumulative ACK
    assert not is_causal((*executed, Send(f), Receive(f), Completion(f, FADDVal(1))))  # not the recorded result
    assert not is_causal((Send(f), PacketLost(f), Send(f), Completion(f, FADDVal(0))))  # never executed
    assert not is_causal((*executed, Timeout(f), Completion(f, FADDVal(0))))  # gave up, not re-sent
