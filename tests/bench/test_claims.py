"""The claims table: classes follow the data, never the other way round (synthetic data/ trees)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from shift_core.bench.claims import (
    CLASSES,
    COLUMNS,
    ClaimsError,
    build_rows,
    fill,
    judge,
    load_table,
    to_csv,
    to_html,
    validate_rows,
)
from shift_core.bench.config import REPO
from shift_core.bench.record import BENCHES

TABLE = """
claims:
  - {id: ratio, source: s, claim: c, paper: 1.0, unit: ratio, metric: latency.max_ratio_shift,
     check: {kind: within, rel: 0.05}}
  - {id: bound, source: s, claim: c, paper: 1000, unit: us, metric: downtime.max_mean_us,
     check: {kind: at_most, value: 1000},
     by_construction: {sim: "control verbs are free"}, differs_because: {rxe: "TCG guest"}}
  - {id: hw, source: s, claim: c, paper: 2.68, unit: us, metric: latency.standard_us_1, check: {kind: hardware}}
  - {id: verdict, source: s, claim: c, paper: counterexample, unit: verdict,
     metric: theorems.verdict_thm1_indistinguishability, check: {kind: equals}}
  - {id: formula, source: s, claim: c, paper: 0.537, unit: s, metric: detection.detect_s_t14_r7,
     check: {kind: within, rel: 0.05}, by_construction: {sim: "the timer is the formula"}}
  - {id: busy, source: s, claim: c, paper: 1.0, unit: ratio, metric: training.completion_ratio_shift_busy,
     check: {kind: within, rel: 0.1},
     differs_because: {sim: "communication is {comm_share_no_failure:.0%} of an iteration"}}
"""


def _bench(data: Path, backend: str, stem: str, summary: dict[str, object], status: str = "ok",
           *, nested: bool = False) -> None:
    """A benchmark record: the sim's flat shape, or a real backend's ``{"manifest", "summary"}`` (contract 2)."""
    (data / backend).mkdir(parents=True, exist_ok=True)
    head = {"status": status, "reason": "no guest" if status == "skipped" else "", "backend": backend}
    record = {"manifest": head, "summary": summary} if nested else {**head, "summary": summary}
    (data / backend / f"{stem}.json").write_text(json.dumps(record))


def _stage(data: Path, backend: str, status: str = "ok", reason: str = "") -> None:
    (data / backend).mkdir(parents=True, exist_ok=True)
    (data / backend / "manifest.json").write_text(json.dumps({"status": status, "reason": reason}))


def _theorem(data: Path, kind: str = "E") -> None:
    (data / "theorems").mkdir(parents=True, exist_ok=True)
    found = {"kind": kind, "expected": "counterexample", "verdict": "counterexample"}
    (data / "theorems" / "thm1_indistinguishability.json").write_text(
        json.dumps({"check_id": "thm1_indistinguishability", "passed": True, "results": [found]}))


@pytest.fixture
def table(tmp_path: Path) -> Path:
    path = tmp_path / "paper_values.yaml"
    path.write_text(TABLE)
    return path


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


def _rows(table: Path, data: Path) -> dict[str, dict[str, str]]:
    return {r["id"]: r for r in build_rows(table, data)}


def test_every_class_is_reachable(table: Path, data: Path) -> None:
    _bench(data, "sim", "latency", {"max_ratio_shift": 1.01, "standard_us_1": 1.9})
    _bench(data, "sim", "detection", {"detect_s_t14_r7": 0.537})
    _bench(data, "sim", "training", {"completion_ratio_shift_busy": 1.3, "comm_share_no_failure": 0.25})
    _theorem(data)
    rows = _rows(table, data)
    assert rows["ratio"]["class"] == "reproduced" and rows["ratio"]["sim"] == "1.01"
    assert rows["formula"]["class"] == "by construction" and "the timer is the formula" in rows["formula"]["reason"]
    assert rows["busy"]["class"] == "differs"
    assert rows["hw"]["class"] == "needs hardware" and rows["hw"]["sim"] == "1.9"
    assert rows["bound"]["class"] == "not run"  # no downtime file at all
    assert rows["verdict"]["class"] == "reproduced"
    assert {r["class"] for r in rows.values()} == set(CLASSES)


def test_a_differs_reason_says_where_by_how_much_and_why(table: Path, data: Path) -> None:
    _bench(data, "sim", "training", {"completion_ratio_shift_busy": 1.3, "comm_share_no_failure": 0.25})
    reason = _rows(table, data)["busy"]["reason"]
    assert reason.startswith("sim: 1.3 vs paper 1") and "10%" in reason
    assert "communication is 25% of an iteration" in reason  # quoted from this run's summary, not the table


def test_a_differs_without_an_explanation_says_so(table: Path, data: Path) -> None:
    _bench(data, "sim", "latency", {"max_ratio_shift": 1.5})
    row = _rows(table, data)["ratio"]
    assert row["class"] == "differs" and "no explanation recorded yet" in row["reason"]


def test_a_measurement_outranks_a_value_that_holds_by_construction(table: Path, data: Path) -> None:
    _bench(data, "sim", "downtime", {"max_mean_us": 9.0})
    assert _rows(table, data)["bound"]["class"] == "by construction"
    _stage(data, "rxe")
    _bench(data, "rxe", "downtime", {"max_mean_us": 800.0}, nested=True)
    row = _rows(table, data)["bound"]
    assert row["class"] == "reproduced" and row["rxe"] == "800"
    assert "sim value holds by construction: control verbs are free" in row["reason"]
    _bench(data, "rxe", "downtime", {"max_mean_us": 14000.0}, nested=True)
    row = _rows(table, data)["bound"]
    assert row["class"] == "differs" and row["reason"].startswith("rxe: 14000 vs paper ≤ 1000 us — TCG guest")


def test_a_value_by_construction_that_disagrees_differs(table: Path, data: Path) -> None:
    _bench(data, "sim", "detection", {"detect_s_t14_r7": 0.6})
    row = _rows(table, data)["formula"]
    assert row["class"] == "differs" and "our inputs disagree" in row["reason"]


def test_theorem_without_a_search_counterexample_differs(table: Path, data: Path) -> None:
    _theorem(data, kind="W")
    row = _rows(table, data)["verdict"]
    assert row["class"] == "differs" and row["sim"] == "no counterexample found"
    assert "theorems stage (backend-independent)" in row["reason"]


def test_a_nic_value_decides_a_hardware_claim(table: Path, data: Path) -> None:
    _stage(data, "nic")
    _bench(data, "nic", "latency", {"standard_us_1": 2.7}, nested=True)
    assert _rows(table, data)["hw"]["class"] == "reproduced"
    _bench(data, "nic", "latency", {"standard_us_1": 5.0}, nested=True)
    assert _rows(table, data)["hw"]["class"] == "differs"


def test_skipped_stage_is_not_run_with_its_reason(table: Path, data: Path) -> None:
    _bench(data, "sim", "latency", {}, status="skipped")
    row = _rows(table, data)["ratio"]
    assert row["class"] == "not run" and "sim: no guest" in row["reason"]


def test_a_skipped_backend_stage_ignores_files_left_by_an_earlier_run(table: Path, data: Path) -> None:
    _bench(data, "sim", "latency", {"max_ratio_shift": 1.0})
    _bench(data, "rxe", "latency", {"max_ratio_shift": 1.3}, nested=True)  # stale
    _stage(data, "rxe", "skipped", "disabled in config")
    row = _rows(table, data)["ratio"]
    assert row["rxe"] == "" and row["class"] == "reproduced"
    _stage(data, "rxe")
    row = _rows(table, data)["ratio"]
    assert row["rxe"] == "1.3" and row["class"] == "differs" and row["reason"].startswith("rxe: 1.3")


def test_rxe_suite_results_fill_the_rxe_column(table: Path, data: Path) -> None:
    """The rxe suite's own files (perftest.json, failover.csv) answer the sim's metric names."""
    _bench(data, "sim", "latency", {"max_ratio_shift": 1.0})
    _stage(data, "rxe")
    lat = {"median_pair_ratio": 1.02, "ratio_interposer_over_plain": 0.9}
    (data / "rxe" / "perftest.json").write_text(json.dumps({"status": "ok", "summary": {"ib_write_lat": lat}}))
    (data / "rxe" / "failover.csv").write_text(
        "strategy,scenario,workload,outcome,downtime_from_error_ms\n"
        "shift,link_down,w,correct,2.0\nshift,link_down,w,correct,4.0\nshift,loss,w,correct,1.0\n"
        "none,link_down,w,error_surfaced,\n")
    rows = _rows(table, data)
    assert rows["ratio"]["rxe"] == "1.02" and rows["ratio"]["class"] == "reproduced"
    assert rows["bound"]["rxe"] == "3000"  # the larger of the per-scenario means (3 ms and 1 ms)
    assert rows["bound"]["class"] == "differs" and "TCG guest" in rows["bound"]["reason"]


def test_a_dedicated_backend_file_takes_precedence_over_the_suite_mapping(table: Path, data: Path) -> None:
    _stage(data, "rxe")
    (data / "rxe" / "perftest.json").write_text(
        json.dumps({"status": "ok", "summary": {"ib_write_lat": {"median_pair_ratio": 1.5}}}))
    _bench(data, "rxe", "latency", {"max_ratio_shift": 1.01}, nested=True)
    assert _rows(table, data)["ratio"]["rxe"] == "1.01"


def test_a_row_that_needs_a_reason_and_has_none_is_rejected() -> None:
    good = {**dict.fromkeys(COLUMNS, "x"), "class": "reproduced"}
    validate_rows([good])
    for cls in ("differs", "by construction", "not run", "needs hardware"):
        with pytest.raises(ClaimsError, match="needs a reason"):
            validate_rows([{**good, "class": cls, "reason": " "}])
    with pytest.raises(ClaimsError, match="unknown class"):
        validate_rows([{**good, "class": "roughly"}])


def test_every_generated_row_that_needs_a_reason_has_one(table: Path, data: Path) -> None:
    _bench(data, "sim", "latency", {"max_ratio_shift": 2.0, "standard_us_1": 1.9})
    _bench(data, "sim", "detection", {"detect_s_t14_r7": 0.537})
    _bench(data, "sim", "training", {"completion_ratio_shift_busy": 1.3})
    for row in build_rows(table, data):
        assert row["class"] == "reproduced" or row["reason"].strip(), row


def test_table_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "t.yaml"
    bad.write_text("claims:\n  - {id: a, source: s, claim: c, paper: 1, unit: u, metric: m.k, "
                   "check: {kind: within}, by_construction: {gpu: why}}\n")
    with pytest.raises(ClaimsError, match="unknown backend 'gpu'"):
        load_table(bad)
    bad.write_text("claims:\n  - {id: a, source: s, claim: c, paper: 1, unit: u, metric: m.k, "
                   "check: {kind: within}, by_construction: {sim: ''}}\n")
    with pytest.raises(ClaimsError, match="empty reason for backend sim"):
        load_table(bad)
    bad.write_text("claims:\n  - {id: a, source: s, claim: c, paper: 1, unit: u, metric: m.k, "
                   "check: {kind: roughly}}\n")
    with pytest.raises(ClaimsError, match=r"claims\[0\] \(a\): check.kind"):
        load_table(bad)


def test_fill_quotes_the_summary_and_marks_a_missing_key() -> None:
    assert fill("{a:.0%} and {b}", {"a": 0.25, "b": 3}) == "25% and 3"
    assert fill("{c:.2f}", {}) == "<c missing>"


def test_csv_and_html_have_one_row_per_claim(table: Path, data: Path) -> None:
    rows = build_rows(table, data)
    parsed = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert [r["id"] for r in parsed] == ["ratio", "bound", "hw", "verdict", "formula", "busy"]
    assert list(parsed[0]) == COLUMNS
    page = to_html(rows)
    assert page.count("<tr class=") == len(rows) and "<script" not in page and "http" not in page


def test_judge_kinds() -> None:
    assert judge({"kind": "within", "rel": 0.1}, 10, 10.9)
    assert not judge({"kind": "within", "rel": 0.1}, 10, 11.1)
    assert judge({"kind": "within", "rel": 0, "abs": 0.01}, 0.0, 0.005)
    assert judge({"kind": "at_least", "value": 3}, 0, 3)
    assert not judge({"kind": "equals"}, "vulnerable", "mostly_resilient")
    assert not judge({"kind": "within", "rel": 0.1}, 1.0, float("nan"))
    with pytest.raises(ClaimsError):
        judge({"kind": "roughly"}, 1, 1)


def test_shipped_table_is_well_formed() -> None:
    claims = load_table(REPO / "config" / "paper_values.yaml")
    stems = {c.metric.split(".", 1)[0] for c in claims}
    assert stems <= {*BENCHES, "theorems", "boundary", "faults", "fastpath"}
    rows = build_rows(REPO / "config" / "paper_values.yaml", Path("/nonexistent"))
    assert len({r["id"] for r in rows}) == len(rows) > 40
    assert {r["class"] for r in rows} <= {"not run", "needs hardware"}
    assert all(r["reason"] for r in rows)
