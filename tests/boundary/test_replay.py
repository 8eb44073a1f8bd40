"""The independent judge: re-executes a run's events with the model and flags wrong reads and double signals."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shift_core.boundary.ll import LL
from shift_core.boundary.put_signal import SignalProtocol
from shift_core.boundary.replay import replay
from shift_core.boundary.search import search
from shift_core.boundary.simple import Simple, SimpleCTS
from shift_core.boundary.transport import Policy
from shift_core.errors import InvalidModel
from shift_core.model.events import AppConsume


@pytest.mark.parametrize("proto", [Simple(steps=3, slots=2), SimpleCTS(steps=3, slots=2), LL(steps=3, slots=2),
                                   SignalProtocol(steps=3, slots=1)], ids=lambda p: p.check_id)
def test_a_fault_free_run_replays_clean(proto, walk):
    steps = walk(proto)
    init = proto.init()
    assert not replay(steps, init.rx, init.tx).violated


def test_a_tampered_read_does_not_replay(walk):
    proto = Simple(steps=2, slots=1)
    steps = list(walk(proto))
    i = next(k for k, s in enumerate(steps) if s.lane == "receiver" and "read [" in s.text)
    ev = steps[i].events[0]
    assert isinstance(ev, AppConsume)
    steps[i] = replace(steps[i], events=(AppConsume(ev.addr, ev.val + 7),))
    with pytest.raises(InvalidModel, match="does not replay"):
        replay(steps, proto.init().rx)


def test_the_judge_flags_a_double_signal_from_events_alone():
    proto = Simple(steps=2, slots=1, policy=Policy(restart="ack_only"))
    r = search(proto)
    v = replay(r.witnesses["signal_executed_twice"], proto.init().rx)
    assert any(x.startswith("signal_executed_twice") for x in v.violations)
