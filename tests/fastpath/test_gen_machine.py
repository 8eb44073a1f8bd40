"""The C transition table, compiled, equals the Python one (shift_core/shift/machine.py) pair by pair."""

from __future__ import annotations

import itertools
from types import ModuleType

import pytest

from shift_core.fastpath import gen_machine
from shift_core.shift import machine

MACHINES = [
    ("sq", machine.SQState, machine.SQEvent, machine.SQ_TRANSITIONS),
    ("rq", machine.RQState, machine.RQEvent, machine.RQ_TRANSITIONS),
]


@pytest.mark.parametrize(("prefix", "states", "events", "table"), MACHINES, ids=["sq", "rq"])
def test_compiled_table_equals_python(native: ModuleType, prefix: str, states: type, events: type,
                                      table: dict) -> None:
    lib, ffi = native.lib, native.ffi
    step = getattr(lib, f"shift_{prefix}_next")
    st, ev = list(states), list(events)
    assert getattr(lib, f"SHIFT_{prefix.upper()}_NSTATES") == len(st)
    assert getattr(lib, f"SHIFT_{prefix.upper()}_NEVENTS") == len(ev)
    assert [ffi.string(getattr(lib, f"shift_{prefix}_state_names")[i]).decode() for i in range(len(st))] == \
        [s.name for s in st]
    assert [ffi.string(getattr(lib, f"shift_{prefix}_event_names")[i]).decode() for i in range(len(ev))] == \
        [e.name for e in ev]
    checked = 0
    for (i, s), (j, e) in itertools.product(enumerate(st), enumerate(ev)):
        expect = st.index(table[(s, e)]) if (s, e) in table else -1
        assert step(i, j) == expect, f"{prefix}: ({s.name}, {e.name}) C {step(i, j)} != Python {expect}"
        checked += 1
    assert checked == len(st) * len(ev)
    assert sum(step(i, j) >= 0 for i in range(len(st)) for j in range(len(ev))) == len(table)  # positive control
    assert step(-1, 0) == step(len(st), 0) == step(0, len(ev)) == -1


def test_compiled_fingerprint_is_current(native: ModuleType) -> None:
    assert native.ffi.string(native.lib.SHIFT_MACHINE_FINGERPRINT).decode() == gen_machine.fingerprint()


def test_generator_picks_up_new_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry added to machine.py appears in the generated header, and changes the fingerprint."""
    before, fp = gen_machine.render(), gen_machine.fingerprint()
    extra = dict(machine.SQ_TRANSITIONS)
    missing = next(k for k in itertools.product(machine.SQState, machine.SQEvent) if k not in extra)
    extra[missing] = machine.SQState.FAILED
    monkeypatch.setattr(machine, "SQ_TRANSITIONS", extra)
    after = gen_machine.render()
    assert after != before and gen_machine.fingerprint() != fp
    row = next(line for line in after.splitlines() if line.startswith(f"    /* {missing[0].name} */"))
    cells = row.split("{")[1].rstrip("},").split(", ")
    assert cells[list(machine.SQEvent).index(missing[1])] == str(list(machine.SQState).index(machine.SQState.FAILED))


def test_header_on_disk_is_what_the_generator_renders(native: ModuleType) -> None:
    assert gen_machine.DEFAULT_OUTPUT.read_text(encoding="utf-8") == gen_machine.render()
