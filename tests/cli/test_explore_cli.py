"""``shift explore`` through the real CLI: files, exit status on a violated expectation, and the round trip of a
printed violation's schedule through ``shift fabric run --schedule`` (same outcome, same end state)."""

from __future__ import annotations

import csv
import json

from shift_core.explore.report import COVERAGE_COLUMNS, ROW_COLUMNS
from tests.cli.invoke import run


def test_explore_writes_files_and_passes(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(["explore", "--workload", "send_recv", "--strategy", "shift", "--strategy", "naive",
                        "--steps", "1", "--processes", "1", "--out", str(tmp_path)], capsys)
    assert code == 0 and "Failover machine coverage" in out and "26 runs explored" in out
    doc = json.loads((tmp_path / "single.json").read_text())
    assert doc["met"] and doc["manifest"]["wall_seconds"] >= 0 and doc["manifest"]["backend"] == "sim"
    rows = list(csv.DictReader((tmp_path / "single.csv").open()))
    assert tuple(rows[0]) == ROW_COLUMNS and len(rows) == doc["placements"] == 24
    cov = list(csv.DictReader((tmp_path / "single_coverage.csv").open()))
    assert tuple(cov[0]) == COVERAGE_COLUMNS


def test_violation_replays_through_fabric_run(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    strict = tmp_path / "strict.yaml"
    strict.write_text("rules:\n  - {workloads: '*', strategies: '*', silent_corruption: none, source: test}\n")
    code, out, _ = run(["explore", "--workload", "fadd_counter", "--strategy", "shift_unchecked", "--steps", "2",
                        "--processes", "1", "--expectations", str(strict), "--out", str(tmp_path)], capsys)
    assert code == 1 and "violation" in out and "expectation violated" in out
    doc = json.loads((tmp_path / "single.json").read_text())
    v = doc["violations"][0]
    sched = tmp_path / "v.yaml"
    sched.write_text(v["yaml"])
    code, out, _ = run(["fabric", "run", "--schedule", str(sched), "--expect", "silent_corruption",
                        "--out", str(tmp_path / "replay.json")], capsys)
    assert code == 0 and "silent_corruption" in out
    replay = json.loads((tmp_path / "replay.json").read_text())
    row = next(r for r in csv.DictReader((tmp_path / "single.csv").open()) if r["placement"] == v["placement"])
    assert replay["end_state"] == row["end_state"] and replay["unfired"] == []
    code, _, _ = run(["fabric", "run", "--schedule", str(sched), "--expect", "correct"], capsys)
    assert code == 1


def test_bad_input_is_one_line(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - {workloads: [nope], strategies: '*', source: x}\n")
    code, _, err = run(["explore", "--expectations", str(bad), "--out", str(tmp_path)], capsys)
    assert code == 2 and err.startswith("shift: error: expectations file") and err.count("\n") == 1
    code, _, err = run(["explore", "--steps", "300", "--out", str(tmp_path)], capsys)
    assert code == 2 and "explore: n: Input should be less than or equal to 256" in err
    sched = tmp_path / "s.yaml"
    sched.write_text("run: {workload: send_recv, strategy: shift}\n"
                     "faults:\n- {kind: kv_down, when: {transition: {host: A, to: flying}}}\n")
    code, _, err = run(["fabric", "run", "--schedule", str(sched)], capsys)
    assert code == 2 and "a sq state is one of" in err and err.count("\n") == 1
