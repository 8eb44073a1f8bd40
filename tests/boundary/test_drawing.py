"""Counterexamples as sequence diagrams on the sender / NIC / receiver lanes."""

from __future__ import annotations

from shift_core.boundary.drawing import diagram, parse
from shift_core.boundary.search import search
from shift_core.boundary.simple import SimpleCTS


def test_cts_counterexample_draws_on_three_lanes():
    w = search(SimpleCTS(steps=2, slots=1)).witnesses["stale_cts_read"]
    d = diagram("cts", [str(s) for s in w]).to_json()
    assert d["lanes"] == ["sender", "nic", "receiver"]
    steps = d["steps"]
    assert len(steps) == len(w)
    assert steps[0]["src"] == "receiver" and steps[0]["dst"] == "nic"  # the receiver posts the CTS WRITE
    assert any(s["src"] == "*" and "path fails" in s["label"] for s in steps)  # fault across every lane
    assert steps[-1]["src"] == steps[-1]["dst"] == "sender"  # the stale read happens at the data sender


def test_parse_round_trips_a_step_label():
    assert parse("[receiver] read [100] = 1") == ("receiver", "read [100] = 1")
