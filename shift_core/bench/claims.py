"""The claims table: every paper claim beside our sim / rxe / nic values, with a status (``data/claims.csv``).

The paper's numbers live in one table, ``config/paper_values.yaml``; ours come from ``data/`` only. Each claim
names a metric ``<stem>.<key>``: for our benchmarks that is ``data/<backend>/<stem>.json`` ``["summary"][key]``;
the theorem, boundary, fault-matrix and rxe/nic suite stages keep their own record formats, read by the
adapters below (:func:`verbs_summary` maps the rxe suite's perftest and failover results onto the same names).

Status: ``reproduced`` (every value we have passes the claim's check), ``differs`` (one fails: the row says
by how much, and nothing is tuned to make it pass), ``needs hardware`` (an absolute hardware number, or a check
with no sim/rxe value possible), ``not run`` (the stage was skipped; its reason is in the row). Results of the
model stages (theorems, boundary, the C fast path) do not depend on a backend; they sit in the ``sim`` column.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from shift_core.errors import ShiftUserError

BACKEND_DIRS = {"sim": "sim", "rxe": "rxe", "nic": "nic"}
COLUMNS = ["id", "figure", "source", "claim", "unit", "paper", "paper_text", "sim", "rxe", "nic", "status", "note"]
#: the figure (data/figures/<stem>.png) that shows a metric's data, so the book puts the row under it
FIGURE_OF = {"timeline": "fig7_timeline", "downtime": "fig8b_downtime", "detection": "fig8b_detection",
             "verbs_cost": "fig9_verbs_cost", "latency": "table2_latency", "training": "fig10_training",
             "memory_cost": "memory_cost", "boundary.cts_share_max_pct": "cts_share", "fastpath": "fig9_verbs_cost"}
Value = float | int | str | None


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _skip_reason(record: Mapping[str, Any] | None) -> str | None:
    if record is None:
        return "no result file"
    if record.get("status") == "skipped":
        return str(record.get("reason") or "skipped")
    return None


def _theorem_verdict(record: Mapping[str, Any]) -> str:
    """``counterexample`` when a bounded exhaustive search (kind E) found the expected counterexample and every
    expectation of the check held; otherwise says what went wrong (the paper's claim then ``differs``)."""
    results = record.get("results") or [record]
    if record.get("passed") is False:
        return "check failed"
    found = [r for r in results if r.get("kind") == "E" and r.get("expected") == "counterexample"
             and r.get("verdict") == "counterexample"]
    return "counterexample" if found else "no counterexample found"


def theorems_summary(data: Path, backend: str) -> tuple[dict[str, Value], str | None]:
    """``verdict_<check>`` for every ``data/theorems/<check>.json`` (backend-independent: the model)."""
    out: dict[str, Value] = {}
    reasons = []
    for path in sorted((data / "theorems").glob("*.json")):
        if path.name == "manifest.json":
            continue
        record = _read_json(path)
        why = _skip_reason(record)
        if why or record is None:
            reasons.append(f"{path.stem}: {why}")
            continue
        out[f"verdict_{path.stem}"] = _theorem_verdict(record)
    return out, "; ".join(reasons) or None


def boundary_summary(data: Path, backend: str) -> tuple[dict[str, Value], str | None]:
    """``verdict_<protocol>`` (the derived Table 1) and ``cts_share_max_pct`` (ring all-reduce, large messages)."""
    record = _read_json(data / "boundary" / "boundary.json")
    why = _skip_reason(record)
    if why or record is None:
        return {}, why
    out: dict[str, Value] = {f"verdict_{name}": verdict for name, verdict in (record.get("summary") or {}).items()}
    cts = (record.get("cts_share_summary") or {}).get("ring_allreduce") or {}
    if "asymptotic_pct" in cts:
        out["cts_share_max_pct"] = float(cts["asymptotic_pct"])
    return out, None


ATOMICS = ("fadd_counter", "cas_lock")


def faults_summary(data: Path, backend: str) -> tuple[dict[str, Value], str | None]:
    """Silent corruptions of ``shift`` from the fault matrix's per-run table (``data/<backend>/faults/``)."""
    root = data / BACKEND_DIRS[backend] / "faults"
    why = _skip_reason(_read_json(root / "faults.json"))
    if why:
        return {}, why
    rows = list(csv.DictReader(io.StringIO((root / "faults.csv").read_text())))
    shift = [r for r in rows if r.get("strategy") == "shift"]
    if not shift:
        return {}, "no shift runs in the fault matrix"

    def silent(sel: list[dict[str, str]]) -> int:
        return sum(r["outcome"] == "silent_corruption" for r in sel)

    supported = [r for r in shift if r.get("supported") == "True" and r["workload"] not in ATOMICS]
    return {"silent_corruptions_shift_supported": silent(supported),
            "silent_corruptions_shift_atomics": silent([r for r in shift if r["workload"] in ATOMICS]),
            "shift_runs": len(shift)}, None


def fastpath_summary(data: Path, backend: str) -> tuple[dict[str, Value], str | None]:
    """``added_ns_<pattern>`` (batch 1) from the C fast path's microbenchmark (``data/fastpath/microbench.json``)."""
    record = _read_json(data / "fastpath" / "microbench.json")
    why = _skip_reason(record)
    if why or record is None:
        return {}, why
    out: dict[str, Value] = {}
    for r in record.get("results", []):
        if r.get("batch") == 1:
            out[f"added_ns_{r['pattern']}"] = r.get("added_ns_per_wr")
    return out, None


def verbs_summary(data: Path, backend: str) -> dict[str, Value]:
    """Metrics of the rxe / nic suite (the rxe issue's files), named like the sim metrics they answer.

    ``perftest.json``: ib_write_lat / ib_write_bw with the libshift interposer over plain (median of same-run
    pairs);
    ``failover.csv``: the ``shift`` strategy under link faults (downtime from the first error, silent corruption).
    """
    root = data / BACKEND_DIRS[backend]
    out: dict[str, Value] = {}
    perf = _read_json(root / "perftest.json")
    if perf and not _skip_reason(perf):
        summary = perf.get("summary") or {}
        def ratio(tool: str) -> Any:  # paired reps first: same-run pairs cancel most of TCG's noise
            entry = summary.get(tool) or {}
            return entry.get("median_pair_ratio", entry.get("ratio_interposer_over_plain"))

        lat, bw = ratio("ib_write_lat"), ratio("ib_write_bw")
        if lat is not None:
            out["latency.max_ratio_shift"] = float(lat)
        if bw is not None:
            out["timeline.fault_free_ratio_shift_vs_none"] = float(bw)
    try:
        rows = list(csv.DictReader(io.StringIO((root / "failover.csv").read_text())))
    except OSError:
        rows = []
    shift = [r for r in rows if r.get("strategy") == "shift"]
    if shift:
        out["faults.silent_corruptions_shift_supported"] = sum(r.get("outcome") == "silent_corruption" for r in shift)
        down = [float(r["downtime_from_error_ms"]) * 1e3 for r in shift if r.get("downtime_from_error_ms")]
        if down:
            out["downtime.max_mean_us"] = sum(down) / len(down)
    return {k: v for k, v in out.items() if not _answered_by_bench(root, k)}


def _answered_by_bench(root: Path, key: str) -> bool:
    """The two-host suite's own file (the sim's shape) holds ``key``: it wins over the one-guest mappings above."""
    stem, name = key.split(".", 1)
    record = _read_json(root / "faults" / "faults.json" if stem == "faults" else root / f"{stem}.json")
    if record is None or _skip_reason(record) or record.get("status") == "failed":
        return False
    return stem == "faults" or name in (record.get("summary") or {})


def bench_summary(stem: str) -> Callable[[Path, str], tuple[dict[str, Value], str | None]]:
    def read(data: Path, backend: str) -> tuple[dict[str, Value], str | None]:
        record = _read_json(data / BACKEND_DIRS[backend] / f"{stem}.json")
        why = _skip_reason(record)
        if why or record is None:
            return {}, why
        return dict(record.get("summary", {})), None
    return read


#: stems whose records are not benchmark summaries, and whether they depend on the backend
ADAPTERS: dict[str, tuple[Callable[[Path, str], tuple[dict[str, Value], str | None]], bool]] = {
    "theorems": (theorems_summary, False),
    "boundary": (boundary_summary, False),
    "faults": (faults_summary, True),
    "fastpath": (fastpath_summary, False),
}


def judge(check: Mapping[str, Any], paper: Value, ours: Value) -> bool:
    """Does our value pass the claim's check against the paper's value?"""
    kind = check["kind"]
    if kind == "equals":
        return str(ours) == str(paper) if isinstance(paper, str) else float(ours) == float(paper)  # type: ignore[arg-type]
    x = float(ours)  # type: ignore[arg-type]
    if math.isnan(x):
        return False
    if kind == "within":
        tol = max(float(check.get("rel", 0)) * abs(float(paper)), float(check.get("abs", 0)))  # type: ignore[arg-type]
        return abs(x - float(paper)) <= tol  # type: ignore[arg-type]
    if kind == "at_most":
        return x <= float(check["value"])
    if kind == "at_least":
        return x >= float(check["value"])
    raise ShiftUserError(f"paper_values.yaml: unknown check kind {kind!r}; use within/at_most/at_least/equals/hardware")


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _fmt(v: Value) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def build_rows(table: Path, data: Path) -> list[dict[str, str]]:
    """One row per claim of ``table`` with our values from ``data``."""
    claims = yaml.safe_load(table.read_text())["claims"]
    cache: dict[tuple[str, str], tuple[dict[str, Value], str | None]] = {}

    verbs: dict[str, dict[str, Value]] = {}

    def lookup(stem: str, key: str, backend: str) -> tuple[Value, str | None]:
        if backend != "sim":
            if backend not in verbs:
                verbs[backend] = verbs_summary(data, backend)
            if f"{stem}.{key}" in verbs[backend]:
                return verbs[backend][f"{stem}.{key}"], None
        reader, per_backend = ADAPTERS.get(stem, (bench_summary(stem), True))
        if not per_backend and backend != "sim":
            return None, None
        if (stem, backend) not in cache:
            cache[(stem, backend)] = reader(data, backend)
        summary, why = cache[(stem, backend)]
        return summary.get(key), why

    rows = []
    for c in claims:
        stem, key = c["metric"].split(".", 1)
        values = {b: lookup(stem, key, b) for b in BACKEND_DIRS}
        ours = {b: v for b, (v, _) in values.items() if v is not None}
        check, note = c["check"], c.get("note", "")
        if check["kind"] == "hardware":
            status = "needs hardware"
            if "nic" in ours:
                status = "reproduced" if judge({"kind": "within", "rel": 0.1}, c["paper"], ours["nic"]) else "differs"
            note = _join(note, "absolute hardware number; sim/rxe values are context only")
        elif not ours:
            status = "not run"
            note = _join(values["sim"][1] or "no value produced", note)
        else:
            failed = [b for b, v in ours.items() if not judge(check, c["paper"], v)]
            status = "differs" if failed else "reproduced"
            model_only = stem in ADAPTERS and not ADAPTERS[stem][1]
            if failed:
                where = f"the {stem} stage (model, backend-independent)" if model_only else ", ".join(failed)
                note = _join(f"differs on {where}", note)
        figure = c.get("figure") or FIGURE_OF.get(c["metric"]) or FIGURE_OF.get(stem, "")
        rows.append({"id": c["id"], "figure": figure, "source": c["source"], "claim": c["claim"], "unit": c["unit"],
                     "paper": _fmt(c["paper"]), "paper_text": c.get("paper_text", ""),
                     "sim": _fmt(values["sim"][0]), "rxe": _fmt(values["rxe"][0]), "nic": _fmt(values["nic"][0]),
                     "status": status, "note": note})
    return rows


def to_csv(rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
