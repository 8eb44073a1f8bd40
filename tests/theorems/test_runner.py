"""The runner writes one atomic JSON per check id, the xref table and a merged manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shift_core.errors import ShiftUserError
from shift_core.theorems import __main__ as entry
from shift_core.theorems.registry import resolve
from shift_core.theorems.runner import run_and_write, run_check


def test_writes_records_xref_and_manifest(tmp_path: Path) -> None:
    assert run_and_write(("core_laws",), tmp_path) == {"core_laws": True}
    assert run_and_write(("thm2_queue_sliding",), tmp_path) == {"thm2_queue_sliding": True}
    doc = json.loads((tmp_path / "thm2_queue_sliding.json").read_text())
    assert doc["check_id"] == "thm2_queue_sliding" and doc["passed"] is True
    rec = doc["results"][1]
    for key in ("check_id", "rocq_name", "paper_name", "kind", "bound", "states", "counterexample", "verdict",
                "seconds", "controls", "diagram", "passed"):
        assert key in rec
    assert rec["diagram"]["lanes"] == ["sender", "nic", "receiver"]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert set(manifest["checks"]) == {"core_laws", "thm2_queue_sliding"}  # merged across runs
    xref = json.loads((tmp_path / "rocq_xref.json").read_text())
    assert xref["rocq_commit"] == "a6e39e0" and len(xref["rows"]) > 40
    assert not list(tmp_path.glob(".*.tmp"))


def test_bad_arguments_are_one_line_errors() -> None:
    with pytest.raises(ShiftUserError, match="unknown theorem check"):
        resolve("thm9")
    with pytest.raises(ShiftUserError, match="--bound"):
        run_check("thm1", bound=-1)
    with pytest.raises(ShiftUserError, match="--mode"):
        run_check("thm1", mode="tla")


def test_module_entry_point(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert entry.main(["thm2_queue_sliding", "--out", str(tmp_path)]) == 0
    assert entry.main(["nope", "--out", str(tmp_path)]) == 2
    assert "unknown theorem check" in capsys.readouterr().err
    assert entry.main(["thm2_queue_sliding", "--bound", "1", "--out", str(tmp_path)]) == 1  # bound too small
