"""Fig 8b: SHIFT's fallback downtime per fault site and op — first error completion to the first successful
completion after fallback (the paper's definition; detection before the first error is excluded, see
:mod:`.detection`).

Each run streams ``op`` under strategy ``shift`` on the sim fabric, injects the site's fault at a seeded random
moment, and reads the two timestamps from the sender layer's record (``first_error_ns``,
``first_backup_ok_ns``). The sim charges no time for control verbs (QP reset, modify), so this measures the
protocol's wire cost (drain, rewind, handshake round trip), not the ≈ 0.7 ms of verbs work on ConnectX-5.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import pandas as pd

from shift_core.bench.endpoints import layer_missing, open_pair
from shift_core.bench.record import BenchResult, BenchUnavailable
from shift_core.bench.sim import ack_timeout_ns, inject, make_backend
from shift_core.bench.stream import run_stream

MSG_BYTES = 65536
DEPTH = 16
WARMUP_NS = 200_000


def measure(settings: Mapping[str, Any], site: str, op: str, seed: int) -> dict[str, Any]:
    """One fault injection; the row carries the downtime (µs) or why there is none."""
    fabric = settings["fabric"]
    timeout, retry = int(fabric["rc_timeout"]), int(fabric["retry_cnt"])
    backend = make_backend(fabric, seed)
    a, b = open_pair(backend, "shift", MSG_BYTES, DEPTH, timeout, retry, namespace=f"downtime-{site}-{op}-{seed}")
    fault_at = backend.now_ns() + WARMUP_NS + random.Random(seed).randrange(100_000)
    inject(backend, site, fault_at, None)
    until = fault_at + (retry + 2) * ack_timeout_ns(timeout) + 2_000_000
    run = run_stream(backend, a, b, op, MSG_BYTES, DEPTH, until, until - backend.now_ns(), 0)
    rec = a.lib.record
    first_err, first_ok = rec.first_error_ns, rec.first_backup_ok_ns
    row = {"site": site, "op": op, "seed": seed, "fault_ns": fault_at, "first_error_ns": first_err,
           "first_backup_ok_ns": first_ok, "detect_us": (first_err - fault_at) / 1e3 if first_err else None,
           "downtime_us": (first_ok - first_err) / 1e3 if first_err and first_ok else None,
           "app_errors": len(run.errors)}
    return row


def summarize(frame: pd.DataFrame) -> dict[str, float]:
    """Mean downtime per (site, op), their maximum, and the runs that never failed over (any backend)."""
    means = frame.groupby(["site", "op"])["downtime_us"].mean()
    summary: dict[str, float] = {f"mean_us_{key[0]}_{key[1]}": float(v) for key, v in means.items()}  # type: ignore[index]
    summary["max_mean_us"] = float(means.max())
    summary["runs_without_failover"] = int(frame["downtime_us"].isna().sum())
    return summary


def run(settings: Mapping[str, Any]) -> BenchResult:
    """``downtime.runs`` fault injections per (site, op); summary = means per scenario and their maximum."""
    why = layer_missing()
    if why:
        raise BenchUnavailable(why)
    p, seed = settings["downtime"], int(settings["seed"])
    rows = [measure(settings, site, op, seed * 10_000 + r)
            for site in p["sites"] for op in p["ops"] for r in range(int(p["runs"]))]
    frame = pd.DataFrame(rows)
    summary = summarize(frame)
    notes = {"downtime_us": "first error WC -> first successful WC after fallback (sender layer record)",
             "detect_us": "fault -> first error WC (excluded from the paper's downtime)",
             "rc": {"timeout": settings["fabric"]["rc_timeout"], "retry_cnt": settings["fabric"]["retry_cnt"]}}
    return BenchResult("downtime", "sim", frame, summary, notes)
