"""The suite's run events as the sim's tables: ``data/<backend>/<stem>.{csv,json}`` (contract 2).

Each stem keeps the columns of ``data/sim/<stem>.csv`` and computes its ``summary`` with the same function the
sim benchmark uses (:func:`shift_core.bench.timeline.summarize` and friends), so figures and the claims table
read either backend alike. What only a real run knows -- per-run verification, actual fault times, the
layer's counters -- goes to ``notes``. The fault matrix's rows keep ``faults.csv``'s columns; values a real
host cannot observe (a responder's hidden re-execution) are left empty rather than guessed.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from typing import Any

import pandas as pd

from shift_core.bench import downtime as sim_downtime
from shift_core.bench import latency as sim_latency
from shift_core.bench import timeline as sim_timeline
from shift_core.bench import verbs_cost as sim_verbs_cost
from shift_core.bench.record import BenchResult

#: columns of the sim's tables (checked against the sim's own output in tests/realverbs)
TIMELINE_COLUMNS = ["strategy", "op", "site", "t_s", "gbps", "default_share", "fault_at_s", "recover_at_s", "errors"]
DOWNTIME_COLUMNS = ["site", "op", "seed", "fault_ns", "first_error_ns", "first_backup_ok_ns", "detect_us",
                    "downtime_us", "app_errors"]
VERBS_COST_COLUMNS = ["variant", "verb", "rep", "time_us"]
LATENCY_COLUMNS = ["variant", "bytes", "iter", "latency_us", "host_ns_per_iter"]
FAULTS_COLUMNS = ["run", "seed", "workload", "strategy", "gives_up", "fault", "site", "outcome", "supported",
                  "detection_us", "downtime_us", "app_wrs", "extra_remote_ops", "extra_ops_per_wr", "copies_per_wr",
                  "resubmitted", "skipped_by_counter", "switch_backs", "duplicate_executions", "ghost_writes",
                  "lost_ops", "untraced_executions", "reason", "virtual_ms", "wall_ms"]


def _ok(events: list[dict[str, Any]], plan: Mapping[str, Any], stem: str) -> list[tuple[dict[str, Any], dict]]:
    """(run plan entry, run event) of ``stem``, including failed runs (their ``status`` says so)."""
    runs = plan["runs"]
    return [(runs[e["index"]], e) for e in events if e["event"] == "run" and runs[e["index"]]["meta"]["stem"] == stem]


def _first_down_s(result: dict[str, Any]) -> float | None:
    """When the first fault took effect (s from the stream start, host clock): the link's state change for a
    link fault, else when its command returned (an upper bound: netem has no state to watch)."""
    times = [f.get("effect_s") or f["end_s"] for f in result.get("faults", []) if f["action"] == "down"]
    times = [t for t in times if t is not None]
    return min(times) if times else None


def verification(stem_op: str, result: dict[str, Any]) -> dict[str, Any]:
    """End-to-end check of a stream: what the target found, and READ's landed bytes at the sender."""
    v = dict(result.get("verify") or {})
    bad = sum(int(v.get(k, 0)) for k in ("duplicates", "gaps", "corrupt", "misplaced", "stale_slots")) + \
        int(result.get("read_bad", 0))
    return {**v, "read_bad": result.get("read_bad", 0), "data_intact": bad == 0}


def timeline(events: list[dict[str, Any]], plan: Mapping[str, Any], cfg: Mapping[str, Any], label: str) -> BenchResult:
    rows, runs, failed = [], [], {}
    fault_at, recover_at = float(cfg["fault_at_s"]), float(cfg["recover_at_s"])
    for entry, ev in _ok(events, plan, "timeline"):
        m = entry["meta"]
        key = f"{m['strategy']}/{m['op']}/{m['site']}"
        if ev["status"] != "ok":
            failed[key] = ev["error"]
            continue
        res = ev["result"]
        sample_ns = float(entry["spec"]["sample_s"]) * 1e9
        for s in res["samples"]:
            rows.append({"strategy": m["strategy"], "op": m["op"], "site": m["site"], "t_s": round(s["t_ns"] / 1e9, 6),
                         "gbps": s["good_bytes"] * 8 / sample_ns, "default_share": s["default_share"],
                         "fault_at_s": fault_at, "recover_at_s": recover_at, "errors": len(res["errors"])})
        runs.append({"run": key, **verification(m["op"], res), "posted": res["posted"], "completed": res["completed"],
                     "first_errors": res["errors"][:3],
                     "first_error_s": None if res["first_error_ns"] is None else res["first_error_ns"] / 1e9,
                     "first_backup_ok_s": None if res["first_backup_ok_ns"] is None
                     else res["first_backup_ok_ns"] / 1e9,
                     "faults": res["faults"], "layer": _counts(res.get("layer")), "peer_layer": _counts(
                         res.get("peer_layer")), "offset_ms": ev["offset"]["before_ns"] / 1e6})
    frame = pd.DataFrame(rows, columns=TIMELINE_COLUMNS)
    summary = sim_timeline.summarize(frame, fault_at, recover_at) if len(frame) else {}
    notes = {"gbps": "goodput of successful app completions per sample (Gb/s), sender's clock",
             "default_share": "share of the sample's polling steps with the sender QP's send queue on its primary",
             "time": "real time on the paper's axis: fault at fault_at_s, recovery at recover_at_s (actual command "
                     "times per run in runs[].faults, peer times mapped onto the host's clock)",
             "runs": runs, "failed": failed}
    return BenchResult("timeline", label, frame, _finite(summary), notes)


def _counts(layer: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (layer or {}).items() if k != "transitions"}


def downtime(events: list[dict[str, Any]], plan: Mapping[str, Any], label: str) -> BenchResult:
    rows, failed, runs = [], {}, []
    for entry, ev in _ok(events, plan, "downtime"):
        m = entry["meta"]
        if ev["status"] != "ok":
            failed[f"{m['site']}/{m['op']}/{m['seed']}"] = ev["error"]
            continue
        res = ev["result"]
        down = _first_down_s(res)
        fault_ns = None if down is None else int(down * 1e9)
        err, ok = res["first_error_ns"], res["first_backup_ok_ns"]
        rows.append({"site": m["site"], "op": m["op"], "seed": m["seed"], "fault_ns": fault_ns, "first_error_ns": err,
                     "first_backup_ok_ns": ok,
                     "detect_us": (err - fault_ns) / 1e3 if err is not None and fault_ns is not None else None,
                     "downtime_us": (ok - err) / 1e3 if err is not None and ok is not None else None,
                     "app_errors": len([e for e in res["errors"] if e])})
        runs.append({"run": f"{m['site']}/{m['op']}/{m['seed']}", **verification(m["op"], res),
                     "faults": res["faults"], "layer": _counts(res.get("layer"))})
    frame = pd.DataFrame(rows, columns=DOWNTIME_COLUMNS)
    summary = sim_downtime.summarize(frame) if frame["downtime_us"].notna().any() else {}
    notes = {"downtime_us": "first error WC -> first successful WC after fallback (sender layer record)",
             "detect_us": "fault took effect -> first error WC (excluded from the paper's downtime)",
             "fault_ns": "when the fault took effect (link state change; netem: its command returned), ns from the "
                         "stream start on the host's clock",
             "rc": dict(plan["rc"]), "runs": runs, "failed": failed}
    return BenchResult("downtime", label, frame, _finite(summary), notes)


def _single(events: list[dict[str, Any]], plan: Mapping[str, Any], stem: str) -> tuple[list[dict], str]:
    got = _ok(events, plan, stem)
    if not got:
        return [], f"{stem} was not run"
    _, ev = got[0]
    if ev["status"] != "ok":
        return [], ev["error"]
    return list(ev["result"]["rows"]), ""


def verbs_cost(events: list[dict[str, Any]], plan: Mapping[str, Any], label: str) -> BenchResult:
    rows, why = _single(events, plan, "verbs_cost")
    frame = pd.DataFrame(rows, columns=VERBS_COST_COLUMNS)
    summary = sim_verbs_cost.summarize(frame) if len(frame) else {}
    notes = {"time_us": "wall clock on the host (Python over pyverbs), median over repetitions for control verbs",
             "modify_qp_rts": "RESET -> INIT -> RTR -> RTS in one call (the SHIFT QP exposes to_rts only)",
             "shadow_setup": "to_rts -> every shadow verb replayed on the backup device (the peer's layer running)",
             "failed": why}
    return BenchResult("verbs_cost", label, frame, _finite(summary), notes)


def latency(events: list[dict[str, Any]], plan: Mapping[str, Any], label: str) -> BenchResult:
    rows, why = _single(events, plan, "latency")
    frame = pd.DataFrame(rows, columns=LATENCY_COLUMNS)
    spec: dict[str, Any] = next((r["spec"] for r in plan["runs"] if r["meta"]["stem"] == "latency"),
                                {"sizes": [], "variants": []})
    summary = sim_latency.summarize(frame, list(spec["sizes"]), list(spec["variants"])) if len(frame) else {}
    notes = {"latency": "round trip / 2 of a WRITE ping-pong polled on the last byte, host's clock (µs)",
             "host_ns_per_iter": "wall clock per iteration of the loop",
             "idle_qps": f"standard + {spec.get('idle_qps')} idle RC QPs in INIT on each host's primary device",
             "failed": why}
    return BenchResult("latency", label, frame, _finite(summary), notes)


def interposer(events: list[dict[str, Any]], plan: Mapping[str, Any], label: str) -> BenchResult:
    """perftest with/without libshift.so: medians, same-rep pair ratios and their spread per tool."""
    from shift_core.realverbs.perftest_output import METRIC, kind

    rows, why = _single(events, plan, "interposer")
    frame = pd.DataFrame(rows)
    summary: dict[str, Any] = {}
    for tool in sorted({r["tool"] for r in rows}):
        metric = METRIC[kind(tool)]
        good = [r for r in rows if r["tool"] == tool and r["valid"]]
        for mode in ("plain", "libshift"):
            vals = [float(r[metric]) for r in good if r["mode"] == mode]
            if vals:
                summary[f"{tool}_median_{mode}"] = statistics.median(vals)
        pairs: dict[int, dict[str, float]] = {}
        for r in good:
            pairs.setdefault(r["rep"], {})[r["mode"]] = float(r[metric])
        ratios = [p["libshift"] / p["plain"] for p in pairs.values() if "libshift" in p and "plain" in p]
        summary[f"{tool}_failed_reps"] = sum(1 for r in rows if r["tool"] == tool and not r["valid"])
        if ratios:
            med = statistics.median(ratios)
            summary[f"{tool}_pair_ratio_median"] = med
            summary[f"{tool}_pair_ratio_min"] = min(ratios)
            summary[f"{tool}_pair_ratio_max"] = max(ratios)
            summary[f"{tool}_pairs"] = len(ratios)
            # overhead > 0: libshift is slower (less bandwidth, more latency)
            summary[f"{tool}_overhead_pct"] = 100 * ((1 / med - 1) if tool.endswith("_bw") else (med - 1))
    notes = {"metric": "bw_avg_gbps for *_bw (Gb/s), t_typical_us for *_lat (µs)",
             "pair_ratio": "libshift / plain of the same rep (interleaved, order alternating per rep)",
             "failed": why}
    return BenchResult("interposer", label, frame, _finite(summary), notes)


def _outcome(intact: bool, errors: int, after: int) -> str:
    if not intact:
        return "silent_corruption"
    if errors:
        return "error_surfaced"
    if after == 0:
        return "stall"
    return "correct"


def faults(events: list[dict[str, Any]], plan: Mapping[str, Any], label: str) -> tuple[pd.DataFrame, dict]:
    """Fault-matrix rows with ``faults.csv``'s columns, and :func:`shift_core.bench.matrix.summarize`'s summary."""
    from shift_core.bench.matrix import summarize
    from shift_core.bench.workloads import SUPPORTED_WORKLOADS
    from shift_core.shift.strategy import STRATEGY_TABLE

    rows, failed = [], {}
    for i, (entry, ev) in enumerate(_ok(events, plan, "faults")):
        m = entry["meta"]
        if ev["status"] != "ok":
            failed[entry["name"]] = ev["error"]
            continue
        res = ev["result"]
        v = res["verify"]
        lay, peer_lay = res.get("layer") or {}, res.get("peer_layer") or {}
        dup, gaps = int(v.get("duplicates", 0)), int(v.get("gaps", 0))
        intact = verification("", res)["data_intact"]
        sender_errors = len(res["errors"]) if isinstance(res.get("errors"), list) else int(res.get("errors", 0))
        errors = sender_errors + int(v.get("errors", 0))  # error completions either application polled
        down = _first_down_s(res)
        t0 = res["t0_ns"]
        first_err = lay.get("first_error_ns")
        first_ok = lay.get("first_backup_ok_ns")
        if "completed_after_fault" in res:
            after = int(res["completed_after_fault"])
        else:  # a stream: completions in the samples that end after the fault
            nbytes = int(entry["spec"]["nbytes"])
            after = sum(s["good_bytes"] for s in res["samples"] if down is not None and s["t_ns"] > down * 1e9) \
                // nbytes
        app_wrs = int(lay.get("app_wrs", 0)) + int(peer_lay.get("app_wrs", 0)) or int(res.get("posted", 0))
        extra = int(lay.get("extra_remote_ops", 0)) + int(peer_lay.get("extra_remote_ops", 0))
        copies = int(lay.get("copies", 0)) + int(peer_lay.get("copies", 0))
        wall = entry["spec"]["duration_s"] * 1e3
        rows.append({
            "run": i, "seed": 0, "workload": m["workload"], "strategy": m["strategy"],
            "gives_up": STRATEGY_TABLE[m["strategy"]].gives_up, "fault": m["fault"], "site": m["site"],
            "outcome": _outcome(intact, errors, int(after)), "supported": m["workload"] in SUPPORTED_WORKLOADS,
            "detection_us": round((first_err - t0) / 1e3 - down * 1e6, 3) if first_err and down is not None else None,
            "downtime_us": round((first_ok - first_err) / 1e3, 3) if first_err and first_ok else None,
            "app_wrs": app_wrs, "extra_remote_ops": extra, "extra_ops_per_wr": round(extra / max(1, app_wrs), 4),
            "copies_per_wr": round(copies / max(1, app_wrs), 4),
            "resubmitted": int(lay.get("resubmitted", 0)) + int(peer_lay.get("resubmitted", 0)),
            "skipped_by_counter": int(lay.get("skipped_by_counter", 0)) + int(peer_lay.get("skipped_by_counter", 0)),
            "switch_backs": int(lay.get("switch_backs", 0)) + int(peer_lay.get("switch_backs", 0)),
            "duplicate_executions": dup, "ghost_writes": None, "lost_ops": gaps, "untraced_executions": None,
            "reason": _reason(res, v), "virtual_ms": round(wall, 3), "wall_ms": round(ev["seconds"] * 1e3, 2)})
    frame = pd.DataFrame(rows, columns=FAULTS_COLUMNS)
    summary = summarize(rows) if rows else {}
    summary["failed_runs"] = failed
    return frame, summary


def _reason(res: dict[str, Any], v: dict[str, Any]) -> str:
    errs = res.get("errors")
    if isinstance(errs, list) and errs:
        return f"error completion {errs[0][1]}"
    if v.get("duplicates"):
        return f"{v['duplicates']} duplicate deliveries at the receiver"
    return ""


def _finite(summary: Mapping[str, Any]) -> dict[str, Any]:
    """NaN/inf become ``None`` (strict JSON; a missing value, not a number)."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in summary.items()}
