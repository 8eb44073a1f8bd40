"""Fault schedules: validation errors name the field; valid schedules arm the fabric."""

from __future__ import annotations

import json

import pytest

from shift_core.backend import ibv_event_type
from shift_core.errors import ShiftUserError
from shift_core.fabric import make_fabric
from shift_core.fabric.faults import load_schedule
from shift_core.model.events import Fault


@pytest.mark.parametrize(("schedule", "message"), [
    ({"faults": [{"kind": "packet_loss", "nic": "h0.nic0", "probability": 1.5}]}, r"faults\[0\]\.probability"),
    ({"faults": [{"kind": "meteor", "nic": "h0.nic0"}]}, r"faults\[0\]: unknown kind"),
    ({"faults": [{"kind": "link_down", "nic": "h0.nic0", "at_ns": -5}]}, r"faults\[0\]\.at_ns"),
    ({"faults": [{"kind": "ack_loss", "nic": "h0.nic0"}]}, r"exactly one of probability or psn"),
    ({"faults": [{"kind": "link_down", "nic": "eth0"}]}, r"faults\[0\]\.nic"),
    ({"faults": [{"kind": "link_flap", "nic": "h0.nic0", "down_ns": 5}]}, r"faults\[0\]\.up_ns"),
    ({"falts": []}, r"falts: Extra inputs"),
    ([1, 2], r"expected a mapping"),
])
def test_bad_schedule_is_one_line_naming_the_field(schedule, message) -> None:
    with pytest.raises(ShiftUserError, match=message) as ei:
        load_schedule(schedule)
    assert "\n" not in str(ei.value)


def test_unknown_device_is_reported_when_armed() -> None:
    with pytest.raises(ShiftUserError, match=r"faults\[0\]\.nic: no device 'h7.nic0'"):
        make_fabric(schedule={"faults": [{"kind": "nic_fatal", "nic": "h7.nic0"}]})


def test_yaml_and_json_files(tmp_path) -> None:
    y = tmp_path / "s.yaml"
    y.write_text("faults:\n  - {kind: link_flap, nic: h1.nic0, at_ns: 100, down_ns: 50, up_ns: 50, count: 2}\n"
                 "  - {kind: second_failure, nic: h1.nic1, at_ns: 300, mode: nic_fatal}\n")
    j = tmp_path / "s.json"
    j.write_text(json.dumps({"faults": [{"kind": "link_down", "nic": "h0.nic1", "at_ns": 10}]}))
    b = make_fabric(schedule=y)
    ctx = b.Context(name="h1.nic1")
    b.advance(1000)
    assert [e.what for e in b.recorder.trace if isinstance(e, Fault)] == [
        "link_flap:h1.nic0", "link_up:h1.nic0", "link_flap:h1.nic0", "link_up:h1.nic0", "second_failure:h1.nic1"]
    assert ctx.get_async_event().event_type == ibv_event_type.IBV_EVENT_DEVICE_FATAL
    assert load_schedule(j).faults[0].kind == "link_down"
    bad = tmp_path / "bad.yaml"
    bad.write_text("faults: [unclosed")
    with pytest.raises(ShiftUserError, match="not valid YAML"):
        load_schedule(bad)
    with pytest.raises(ShiftUserError, match="no such file"):
        load_schedule(tmp_path / "missing.yaml")
