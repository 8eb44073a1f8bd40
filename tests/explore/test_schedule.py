"""Replayable schedules: YAML round trip, one-line errors, and a replay equal to the run it came from."""

from __future__ import annotations

import pytest
import yaml

from shift_core.errors import ShiftUserError
from shift_core.explore.runner import execute
from shift_core.explore.schedule import load_replay

FLAP = {"run": {"workload": "nccl_simple", "strategy": "shift", "n": 4},
        "faults": [{"kind": "link_down", "nic": "h0.nic0", "when": {"message": 3}},
                   {"kind": "link_up", "nic": "h0.nic0", "when": {"transition": {"host": "any", "to": "fallback"}}}]}


def test_yaml_round_trip_is_one_line_per_fault() -> None:
    s = load_replay(FLAP)
    text = s.to_yaml()
    assert text.splitlines()[0] == "run: {workload: nccl_simple, strategy: shift}"
    assert len(text.splitlines()) == 4 and "'on'" not in text  # no YAML-1.1 boolean key
    assert load_replay(yaml.safe_load(text)) == s


def test_replay_is_the_same_run() -> None:
    a, b = execute(load_replay(FLAP), census=True), execute(load_replay(FLAP))
    assert (a.outcome, a.end_state, a.steps) == (b.outcome, b.end_state, b.steps)
    assert a.unfired == [] and a.first_fault is not None
    labels = {m.label for m in a.messages}
    assert {"A.backup.handshake", "B.backup.handshake", "A.default.probe"} <= labels
    assert ("A", "sq", "wait_drained", "fence_done", "default") in a.steps  # the flap switches back


@pytest.mark.parametrize(("doc", "match"), [
    ({"run": {"workload": "nope", "strategy": "shift"}}, r"run\.workload: unknown workload"),
    ({"run": {"workload": "send_recv", "strategy": "shift", "retry_cnt": 7}}, r"run\.retry_cnt"),
    ({"run": {"workload": "send_recv", "strategy": "shift"},
      "faults": [{"kind": "drop_message", "when": {"response": 2}}]}, r"drop_message needs when: \{message"),
    ({"run": {"workload": "send_recv", "strategy": "shift"},
      "faults": [{"kind": "link_down", "nic": "h0.nic0", "at_ns": 5, "when": {"message": 1}}]}, r"not both"),
    ({"run": {"workload": "send_recv", "strategy": "shift"},
      "faults": [{"kind": "link_down", "nic": "h0.nic0", "when": {"message": 1, "response": 1}}]}, r"exactly one"),
])
def test_bad_schedule_is_one_line(doc, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ShiftUserError, match=match) as ei:
        load_replay(doc)
    assert "\n" not in str(ei.value)
