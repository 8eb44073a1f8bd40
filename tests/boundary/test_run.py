"""The stage entry points: run(), write_results() and ``python -m shift_core.boundary``."""

from __future__ import annotations

import csv
import json

from shift_core.boundary import run, table_rows, write_results
from shift_core.boundary.__main__ import main
from shift_core.model.check import CheckResult


def test_run_and_write_results(tmp_path):
    results = run(2)
    assert all(isinstance(r, CheckResult) and r.kind == "E" and r.check_id.startswith("boundary/") for r in results)
    rows = table_rows(results)
    assert [r["protocol"] for r in rows][:2] == ["nccl_simple", "nccl_simple/cts"]
    assert {"ops", "verdict", "counterexample_length", "states"} <= set(rows[0])
    paths = write_results(results, tmp_path)
    body = json.loads(paths["boundary"].read_text())
    recs = {r["check_id"]: r for r in body["protocols"]}
    assert recs["boundary/nccl_simple/cts"]["boundary_verdict"] == "vulnerable"
    assert recs["boundary/nccl_simple/cts"]["counterexample_lanes"][0]["lane"] == "receiver"
    assert {d["check_id"] for d in body["disagreements"]} == {"boundary/nccl_ll", "boundary/nccl_ll128"}
    assert {r["restart"] for r in body["sensitivity"]} == {"counter_prefix", "skip_sends", "ack_only"}
    assert json.loads(paths["manifest"].read_text())["stage"] == "boundary"
    with paths["cts"].open() as fh:
        assert float(next(iter(csv.DictReader(fh)))["cts_share_pct"]) > 0


def test_module_entry_point(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--bound", "2"]) == 0
    out = capsys.readouterr().out
    assert "nccl_ll128" in out and "vulnerable" in out
    assert (tmp_path / "boundary.json").exists() and (tmp_path / "cts_share.csv").exists()
    assert main(["--bound", "1", "--out", str(tmp_path)]) == 2


def test_table1_summary_words():
    from shift_core.boundary.run import table1_summary

    summary = table1_summary(run(2))
    assert summary == {"nccl_simple": "mostly_resilient", "nccl_ll": "resilient", "nccl_ll128": "resilient",
                       "nvshmem": "mostly_resilient", "mscclpp": "mostly_resilient"}
