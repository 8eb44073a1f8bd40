"""Where the claims table finds our values: one reader per kind of result under ``data/``.

A claim names a metric ``<stem>.<key>``. For the benchmarks that is ``data/<backend>/<stem>.json["summary"][key]``
(:func:`bench_summary`; the sim writes the manifest keys and ``summary`` side by side, a real backend writes
``{"manifest": ..., "summary": ...}``, both are read). The model stages (theorems, boundary, the C fast path) and
the fault matrix keep their own record formats, read by the adapters in :data:`ADAPTERS`; the rxe suite's
perftest and failover files are mapped onto the sim's metric names by :func:`verbs_summary`.

Every reader returns a :class:`Reading`: the values it found, why it found none (a skipped stage's reason), and
the data's own explanation of a value where the producer wrote one (the boundary check's disagreement notes).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Value = float | int | str | None
#: the backends with a column in the claims table, in column order (model stages sit in ``sim``)
BACKENDS = ("sim", "rxe", "nic")
#: fault-matrix workloads that carry atomics (SHIFT refuses to fail them over: a separate claim)
ATOMICS = ("fadd_counter", "cas_lock")


@dataclass(frozen=True)
class Reading:
    """What one reader found: ``values`` by key, ``skip`` (why there are none) and ``explain`` by key."""

    values: Mapping[str, Value] = field(default_factory=dict)
    skip: str | None = None
    explain: Mapping[str, str] = field(default_factory=dict)


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object at ``path``, or ``None`` when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def skip_reason(record: Mapping[str, Any] | None) -> str | None:
    """Why ``record`` holds no result (missing, or a manifest whose status is not ``ok``), else ``None``.

    Reads the status at the top level (sim records, stage manifests) or under ``manifest`` (real backends).
    """
    if record is None:
        return "no result file"
    inner = record.get("manifest")
    head: Mapping[str, Any] = inner if isinstance(inner, Mapping) else record
    status = head.get("status", "ok")
    if status in ("ok", "partial"):
        return None
    return f"{status}: {head.get('reason')}" if status != "skipped" and head.get("reason") else \
        str(head.get("reason") or status)


def backend_skip(data: Path, backend: str) -> str | None:
    """Why a real backend's whole stage did not run (``data/<backend>/manifest.json``), else ``None``.

    A skipped stage leaves older files of an earlier run in place; they must not fill this run's column.
    """
    if backend == "sim":
        return None
    record = read_json(data / backend / "manifest.json")
    if record is None:
        return f"no {backend} stage in this run (data/{backend}/manifest.json missing)"
    return skip_reason(record) if record.get("status") == "skipped" else None


def _theorem_verdict(record: Mapping[str, Any]) -> str:
    """``counterexample`` when a bounded exhaustive search (kind E) found the expected counterexample and every
    expectation of the check held; otherwise says what went wrong (the paper's claim then ``differs``)."""
    results = record.get("results") or [record]
    if record.get("passed") is False:
        return "check failed"
    found = [r for r in results if r.get("kind") == "E" and r.get("expected") == "counterexample"
             and r.get("verdict") == "counterexample"]
    return "counterexample" if found else "no counterexample found"


def theorems_summary(data: Path, backend: str) -> Reading:
    """``verdict_<check>`` for every ``data/theorems/<check>.json`` (backend-independent: the model)."""
    out: dict[str, Value] = {}
    reasons = []
    for path in sorted((data / "theorems").glob("*.json")):
        if path.name in ("manifest.json", "rocq_xref.json"):
            continue
        record = read_json(path)
        why = skip_reason(record)
        if why or record is None:
            reasons.append(f"{path.stem}: {why}")
            continue
        out[f"verdict_{path.stem}"] = _theorem_verdict(record)
    return Reading(out, "; ".join(reasons) or (None if out else "no theorem results"))


def _model_reasoning(notes: str) -> str:
    """The model's own sentence from a boundary disagreement note (``... Model: <why>. ...``)."""
    _, _, model = notes.partition("Model: ")
    first = (model or notes).split(". ")[0].strip().rstrip(".")
    return f"the model check finds it resilient: {first}" if first else ""


def boundary_summary(data: Path, backend: str) -> Reading:
    """``verdict_<protocol>`` (the derived Table 1) and ``cts_share_max_pct`` (ring all-reduce, large messages).

    A protocol whose verdict disagrees with the paper carries the check's own reasoning as its explanation.
    """
    record = read_json(data / "boundary" / "boundary.json")
    why = skip_reason(record)
    if why or record is None:
        return Reading(skip=why)
    out: dict[str, Value] = {f"verdict_{name}": verdict for name, verdict in (record.get("summary") or {}).items()}
    cts = (record.get("cts_share_summary") or {}).get("ring_allreduce") or {}
    if "asymptotic_pct" in cts:
        out["cts_share_max_pct"] = float(cts["asymptotic_pct"])
    explain = {}
    for d in record.get("disagreements") or []:
        name = str(d.get("check_id", "")).split("/")[-1]
        if name and d.get("notes"):
            explain[f"verdict_{name}"] = _model_reasoning(str(d["notes"]))
    return Reading(out, None, explain)


def _csv_rows(path: Path) -> list[dict[str, str]]:
    try:
        return list(csv.DictReader(io.StringIO(path.read_text())))
    except OSError:
        return []


def faults_summary(data: Path, backend: str) -> Reading:
    """Silent corruptions of ``shift`` from the fault matrix's per-run table (``data/<backend>/faults/``)."""
    root = data / backend / "faults"
    why = skip_reason(read_json(root / "faults.json"))
    if why:
        return Reading(skip=why)
    shift = [r for r in _csv_rows(root / "faults.csv") if r.get("strategy") == "shift"]
    if not shift:
        return Reading(skip="no shift runs in the fault matrix")

    def silent(sel: list[dict[str, str]]) -> int:
        return sum(r["outcome"] == "silent_corruption" for r in sel)

    supported = [r for r in shift if r.get("supported") == "True" and r["workload"] not in ATOMICS]
    return Reading({"silent_corruptions_shift_supported": silent(supported),
                    "silent_corruptions_shift_atomics": silent([r for r in shift if r["workload"] in ATOMICS]),
                    "shift_runs": len(shift)})


def fastpath_summary(data: Path, backend: str) -> Reading:
    """``added_ns_<pattern>`` (batch 1) from the C fast path's microbenchmark (``data/fastpath/microbench.json``)."""
    record = read_json(data / "fastpath" / "microbench.json")
    why = skip_reason(record)
    if why or record is None:
        return Reading(skip=why)
    out: dict[str, Value] = {f"added_ns_{r['pattern']}": r.get("added_ns_per_wr")
                             for r in record.get("results", []) if r.get("batch") == 1}
    return Reading(out)


def verbs_summary(data: Path, backend: str) -> dict[str, Value]:
    """Metrics of the rxe / nic suite (the rxe issue's files), named ``<stem>.<key>`` like the sim metrics.

    ``perftest.json``: ib_write_lat / ib_write_bw with the libshift interposer over plain (median of same-run
    pairs); ``failover.csv``: the ``shift`` strategy under link faults (silent corruptions; downtime from the
    first error WC, as the mean per fault scenario and the maximum of those means, like Fig 8b's headline).
    A dedicated ``data/<backend>/<stem>.json`` of the same metric takes precedence (see :func:`lookup`).
    """
    root = data / backend
    out: dict[str, Value] = {}
    perf = read_json(root / "perftest.json")
    if perf and not skip_reason(perf) and perf.get("status", "ok") == "ok":
        summary = perf.get("summary") or {}

        def ratio(tool: str) -> Any:  # paired reps first: same-run pairs cancel most of TCG's noise
            entry = summary.get(tool) or {}
            return entry.get("median_pair_ratio", entry.get("ratio_interposer_over_plain"))

        lat, bw = ratio("ib_write_lat"), ratio("ib_write_bw")
        if lat is not None:
            out["latency.max_ratio_shift"] = float(lat)
        if bw is not None:
            out["timeline.fault_free_ratio_shift_vs_none"] = float(bw)
    shift = [r for r in _csv_rows(root / "failover.csv") if r.get("strategy") == "shift"]
    if shift:
        out["faults.silent_corruptions_shift_supported"] = sum(r.get("outcome") == "silent_corruption" for r in shift)
        by_scenario: dict[str, list[float]] = {}
        for r in shift:
            if r.get("downtime_from_error_ms"):
                key = f"{r.get('workload', '')}/{r.get('scenario', '')}"
                by_scenario.setdefault(key, []).append(float(r["downtime_from_error_ms"]) * 1e3)
        if by_scenario:
            out["downtime.max_mean_us"] = max(sum(v) / len(v) for v in by_scenario.values())
    return out


def bench_summary(stem: str) -> Callable[[Path, str], Reading]:
    """The reader of ``data/<backend>/<stem>.json["summary"]`` (contract 2: real backends have the sim's shape)."""
    def read(data: Path, backend: str) -> Reading:
        record = read_json(data / backend / f"{stem}.json")
        why = skip_reason(record)
        if why or record is None:
            return Reading(skip=why)
        return Reading(dict(record.get("summary") or {}))
    return read


#: stems whose records are not benchmark summaries, and whether they depend on the backend
ADAPTERS: dict[str, tuple[Callable[[Path, str], Reading], bool]] = {
    "theorems": (theorems_summary, False),
    "boundary": (boundary_summary, False),
    "faults": (faults_summary, True),
    "fastpath": (fastpath_summary, False),
}


def is_model_stage(stem: str) -> bool:
    """Whether ``stem``'s result comes from a backend-independent model stage (it sits in the ``sim`` column)."""
    return stem in ADAPTERS and not ADAPTERS[stem][1]


@dataclass(frozen=True)
class Found:
    """One metric on one backend: its ``value`` (``None`` = none), ``skip`` (why there is none), the producer's
    ``explain`` of it, and the stem's whole ``summary`` on that backend (what a reason may quote)."""

    value: Value = None
    skip: str | None = None
    explain: str = ""
    summary: Mapping[str, Value] = field(default_factory=dict)


class Sources:
    """Every reader over one ``data/`` root, each read at most once per (stem, backend)."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self._cache: dict[tuple[str, str], Reading] = {}
        self._verbs: dict[str, dict[str, Value]] = {}

    def lookup(self, stem: str, key: str, backend: str) -> Found:
        """Metric ``stem.key`` on ``backend``: the stem's own file first, then the rxe/nic suite's mapping."""
        if is_model_stage(stem) and backend != "sim":
            return Found()
        why = backend_skip(self.data, backend)
        if why:
            return Found(skip=why)
        reader, _ = ADAPTERS.get(stem, (bench_summary(stem), True))
        if (stem, backend) not in self._cache:
            self._cache[(stem, backend)] = reader(self.data, backend)
        reading = self._cache[(stem, backend)]
        value = reading.values.get(key)
        if value is None and backend != "sim":
            if backend not in self._verbs:
                self._verbs[backend] = verbs_summary(self.data, backend)
            value = self._verbs[backend].get(f"{stem}.{key}")
            if value is not None:
                return Found(value)
        return Found(value, None if value is not None else reading.skip, reading.explain.get(key, ""),
                     reading.values)
