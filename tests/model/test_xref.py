"""The Rocq cross-reference is data, and every Python name in it resolves."""

from __future__ import annotations

import importlib
import re

import pytest

from shift_core.model.xref import XREF, as_records, for_check
from shift_core.vocabulary import THEOREM_CHECKS


def _resolve(dotted: str) -> object:
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


@pytest.mark.parametrize("row", [x for x in XREF if x.python.startswith("shift_core")], ids=lambda x: x.rocq)
def test_python_name_resolves(row: object) -> None:
    assert _resolve(row.python) is not None  # type: ignore[attr-defined]


def test_rows_are_well_formed() -> None:
    assert {x.check for x in XREF} <= set(THEOREM_CHECKS)
    assert all(x.kind in {"W", "E", "P", "D"} for x in XREF)
    located = [x for x in XREF if x.rocq_loc.startswith("coq/")]
    assert len(located) > 40
    assert all(re.fullmatch(r"coq/[A-Za-z0-9/]+\.v(:\d+)?", x.rocq_loc) for x in located)
    assert all(for_check(c) for c in THEOREM_CHECKS)
    assert len(as_records()) == len(XREF)


def test_renamed_paper_theorems_are_recorded() -> None:
    by_rocq = {x.rocq: x for x in XREF}
    assert by_rocq["impossibility_main"].paper == "impossibility_safe_retransmission"
    assert by_rocq["indistinguishability_universal"].paper == "sender_views_equal"
    assert "not mechanized" in by_rocq["(none) send_queue_sliding"].rocq_loc
