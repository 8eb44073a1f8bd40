"""Pipeline helpers: a skipped stage is recorded with its reason, figures say "not run" instead of plotting."""

from __future__ import annotations

import json
from pathlib import Path

from shift_core.bench.figure import load, not_run
from shift_core.bench.stage import module_available, write_skipped


def test_skipped_outputs_carry_the_reason(tmp_path: Path) -> None:
    outs = [tmp_path / "x.json", tmp_path / "x.csv"]
    write_skipped(outs, "rxe", "qemu-system-x86_64 not installed")
    record = json.loads(outs[0].read_text())
    assert record["status"] == "skipped" and record["reason"] == "qemu-system-x86_64 not installed"
    frame, why = load(outs[1])
    assert frame is None and why == "qemu-system-x86_64 not installed"
    not_run("title", why, tmp_path / "fig.png")
    assert (tmp_path / "fig.png").read_bytes()[:4] == b"\x89PNG"


def test_module_available_names_what_is_missing() -> None:
    assert module_available("shift_core.cli.main") is None
    assert "not built yet" in (module_available("shift_core.no_such_module") or "")
    assert "__main__" in (module_available("shift_core.backend") or "")
