"""Counterexamples export to sender / NIC / receiver lanes and to Mermaid."""

from __future__ import annotations

from shift_core.model.diagram import TRACE_LANES, event_label, pair_diagram, schedule_diagram, trace_diagram
from shift_core.model.events import AckLost, AppConsume, AppReuse, Execute, PacketLost, Receive, Send, Timeout
from shift_core.model.operations import FADD, FADDVal, Write, WriteAck


def test_trace_lanes_and_losses() -> None:
    w = Write(0, 1)
    d = trace_diagram("t2", (Send(w), Receive(w), Execute(w, WriteAck()), AppConsume(0, 1), AppReuse(0, 2),
                             AckLost(w), Timeout(w)))
    assert d.lanes == TRACE_LANES
    kinds = [(s.src, s.dst, s.lost) for s in d.steps]
    assert kinds == [("sender", "nic", False), ("nic", "nic", False), ("nic", "nic", False),
                     ("receiver", "receiver", False), ("receiver", "receiver", False), ("nic", "sender", True),
                     ("sender", "sender", False)]
    mermaid = d.to_mermaid()
    assert mermaid.startswith("sequenceDiagram") and "nic--xsender" in mermaid and "Note over receiver" in mermaid


def test_pair_and_schedule_json() -> None:
    f = FADD(0, 1)
    d = pair_diagram("pair", (Send(f), PacketLost(f), Timeout(f)), (Send(f), Timeout(f)))
    assert len(d.steps) == 7 and d.steps[2].lost
    js = schedule_diagram("cas", ("S", "P"), [("S", "CAS"), ("P", "CAS")]).to_json()
    assert js["lanes"] == ["S", "P", "memory"] and len(js["steps"]) == 2


def test_labels() -> None:
    assert event_label(Execute(FADD(0, 1), FADDVal(0))) == "Execute(FADD(a0,+1)) -> old=0"
    assert event_label(AppReuse(0, 2)) == "AppReuse(a0,2)"
