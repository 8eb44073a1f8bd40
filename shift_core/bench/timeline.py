"""Fig 7 shape: throughput over time with a failure at t = 5 s and recovery at t = 10 s, per strategy, op and site.

perftest's ``ib_{write,send,read}_bw`` loop (:mod:`.stream`) runs between host ``h0`` and ``h1`` on the sim
fabric (two RNICs per host, :mod:`.sim`); the fault site's default-path fault hits at ``fault_at_s`` and is
undone at ``recover_at_s``. ``none`` is stock verbs with no layer; every other strategy runs through
:mod:`shift_core.shift`. Time is compressed by ``time_scale`` (config/README.md): the CSV's ``t_s`` is on the
paper's axis, rates are exact; the RC timeout is scaled with the axis (``14 + log2(time_scale)``) so failure
detection takes the same share of a sample as at full scale.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from shift_core.bench.endpoints import STANDARD, layer_missing, open_pair
from shift_core.bench.record import BenchResult, BenchUnavailable
from shift_core.bench.sim import inject, make_backend
from shift_core.bench.stream import run_stream

STEP_PER_SAMPLE = 50


def scaled_timeout(paper_timeout: int, time_scale: float) -> int:
    """The RC timeout exponent whose ACK timeout is ``time_scale`` x the paper-axis one (at least 1)."""
    return max(1, round(paper_timeout + math.log2(time_scale)))


class Unsupported(Exception):
    """The strategy refused the stream's first post (e.g. a message larger than its staging slot)."""


def run_one(settings: Mapping[str, Any], strategy: str, op: str, site: str) -> list[dict[str, Any]]:
    """One timeline: a row per sample with goodput and the share of wire bytes on the default NICs.

    :raises Unsupported: the very first post failed, so there is no stream to plot (reported, not drawn as 0).
    """
    p, fabric = settings["timeline"], settings["fabric"]
    scale = float(p["time_scale"])
    sec = 1e9 * scale  # simulated ns per paper second
    sample_ns = int(sec / int(p["samples_per_s"]))
    backend = make_backend(fabric, int(settings["seed"]))
    variant = STANDARD if strategy == "none" else strategy
    timeout = scaled_timeout(int(p["rc_timeout"]), scale)
    a, b = open_pair(backend, variant, int(p["message_bytes"]), int(p["depth"]), timeout, int(fabric["retry_cnt"]),
                     namespace=f"timeline-{strategy}-{op}-{site}")
    start = backend.now_ns()
    inject(backend, site, start + int(p["fault_at_s"] * sec), start + int(p["recover_at_s"] * sec))
    run = run_stream(backend, a, b, op, int(p["message_bytes"]), int(p["depth"]),
                     start + int(p["duration_s"] * sec), sample_ns, max(1000, sample_ns // STEP_PER_SAMPLE))
    if run.errors and not run.ok_ns and run.errors[0][1].startswith("post_send"):
        raise Unsupported(run.errors[0][1])
    rows = []
    for s in run.samples:
        rows.append({"strategy": strategy, "op": op, "site": site, "t_s": round((s.t_ns - start) / sec, 6),
                     "gbps": s.good_bytes * 8 / sample_ns, "default_share": s.default_share,
                     "fault_at_s": p["fault_at_s"],
                     "recover_at_s": p["recover_at_s"], "errors": len(run.errors)})
    return rows


def _mean(frame: pd.DataFrame, col: str, **where: Any) -> float:
    sel = frame
    for key, value in where.items():
        sel = sel[sel[key] == value]
    return float(sel[col].mean()) if len(sel) else float("nan")


def summarize(frame: pd.DataFrame, fault_at: float, recover_at: float) -> dict[str, float]:
    """The Fig 7 findings as ratios (before = samples ending by the fault; during; after recovery)."""
    before = frame[frame.t_s <= fault_at]
    during = frame[(frame.t_s > fault_at) & (frame.t_s <= recover_at)]
    after = frame[frame.t_s > recover_at + 1]  # one sample of grace for the switch-back
    out: dict[str, float] = {}
    b_none, b_shift = _mean(before, "gbps", strategy="none"), _mean(before, "gbps", strategy="shift")
    out["fault_free_ratio_shift_vs_none"] = b_shift / b_none if b_none else float("nan")
    out["after_fault_ratio_none"] = _mean(frame[frame.t_s > fault_at + 1], "gbps", strategy="none") / b_none \
        if b_none else float("nan")
    for site in sorted(frame.site.unique()):
        base = _mean(before, "gbps", strategy="shift", site=site)
        out[f"during_ratio_shift_{site}"] = _mean(during, "gbps", strategy="shift", site=site) / base \
            if base else float("nan")
    out["after_recovery_default_share_shift"] = _mean(after, "default_share", strategy="shift")
    for op in sorted(frame.op.unique()):
        out[f"steady_gbps_{op}"] = _mean(before, "gbps", strategy="none", op=op)
    return out


def run(settings: Mapping[str, Any]) -> BenchResult:
    """Every (strategy, op, site) of the ``timeline`` section."""
    p = settings["timeline"]
    strategies = list(p["strategies"])
    skipped = {}
    why = layer_missing()
    if why:
        skipped = {s: why for s in strategies if s != "none"}
        strategies = [s for s in strategies if s == "none"]
    if not strategies:
        raise BenchUnavailable(why or "no strategy to run")
    rows: list[dict[str, Any]] = []
    for strategy in strategies:
        for op in p["ops"]:
            for site in p["sites"]:
                try:
                    rows += run_one(settings, strategy, op, site)
                except Unsupported as exc:
                    skipped[f"{strategy}/{op}/{site}"] = str(exc)
    frame = pd.DataFrame(rows)
    summary = summarize(frame, float(p["fault_at_s"]), float(p["recover_at_s"]))
    notes = {"time_scale": p["time_scale"], "rc_timeout_sim": scaled_timeout(int(p["rc_timeout"]),
                                                                            float(p["time_scale"])),
             "gbps": "goodput of successful app completions per sample (Gb/s)",
             "default_share": "share of the sample's polling steps with the sender QP on its default NIC (nic0)",
             "skipped": skipped}
    return BenchResult("timeline", "sim", frame, summary, notes)
