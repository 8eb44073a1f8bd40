"""The fault matrix: seeded random fault schedules x workload x strategy x fault kind on the ``sim`` fabric,
each run judged by :func:`shift_core.bench.judge.judge`, summarised as an outcome table with detection
latency, failover downtime and each strategy's cost (extra remote ops and copies per app WR).

A schedule is data (:class:`shift_core.bench.matrix.Schedule`): the run is a pure function of it, so any row of the
CSV replays with ``shift faults --replay <run> --seed <seed>`` (same seed and filters, same run index). Runs are
spread over worker processes; cells are visited round-robin so a truncated matrix is still balanced.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from statistics import median
from typing import Any

from shift_core.backend.enums import local_ack_timeout_ns
from shift_core.bench.judge import Verdict, judge
from shift_core.bench.workloads import SUPPORTED_WORKLOADS, RunResult, run_failover
from shift_core.errors import ShiftUserError
from shift_core.kv.memory_store import MemoryKV
from shift_core.shift.strategy import STRATEGY_TABLE
from shift_core.vocabulary import FAULT_KINDS, FAULT_SITES, OUTCOMES, STRATEGIES, WORKLOADS

HOSTS = {"A": ("h0.nic0", "h0.nic1"), "B": ("h1.nic0", "h1.nic1")}
SITE_NIC = {"sender_nic": "h0.nic0", "receiver_nic": "h1.nic0", "switch_port": "h1.nic0"}
PROFILES = {"quick": 1_200, "default": 10_080, "full": 100_080}  #: schedules per profile (multiples of 240)


@dataclass(frozen=True, slots=True)
class MatrixConfig:
    """Run parameters shared by every schedule (recorded in the output and its manifest)."""

    n: int = 8                   #: workload steps per run
    timeout: int = 10            #: RC local ACK timeout exponent (4.096 us x 2^10 = 4.2 ms)
    retry_cnt: int = 2           #: RC retries: detection = (retry_cnt + 1) x timeout = 12.6 ms
    dup_write: str = "reexecute"  #: the fabric's duplicate-WRITE behaviour (rxe: "ack_only")
    deadline_ns: int = 400_000_000
    max_poll_ns: int = 200_000   #: idle apps back off to this poll interval (detection is quantized by it)

    @property
    def detect_ns(self) -> int:
        return (self.retry_cnt + 1) * local_ack_timeout_ns(self.timeout)


@dataclass(frozen=True, slots=True)
class Schedule:
    """One seeded fault schedule: which run, what to break, where and when."""

    run: int
    seed: int
    workload: str
    strategy: str
    fault: str
    site: str
    after_ops: int
    params: dict[str, float] = field(default_factory=dict)


def make_schedules(runs: int, workloads: Iterable[str] = WORKLOADS, strategies: Iterable[str] = STRATEGIES,
                   faults: Iterable[str] = FAULT_KINDS, seed: int = 0, n: int = 8) -> list[Schedule]:
    """``runs`` schedules over the product of the given names, round-robin, each with seeded parameters.

    :raises ShiftUserError: on an unknown name or a non-positive ``runs``.
    """
    wls, sts, fks = list(workloads), list(strategies), list(faults)
    for kind, names, known in (("workload", wls, WORKLOADS), ("strategy", sts, STRATEGIES),
                               ("fault", fks, FAULT_KINDS)):
        bad = [x for x in names if x not in known]
        if bad or not names:
            raise ShiftUserError(f"unknown or empty {kind} {bad or names}: choose from {', '.join(known)}")
    if runs <= 0:
        raise ShiftUserError(f"--runs must be positive, got {runs}")
    cells = list(itertools.product(wls, sts, fks))
    out = []
    for i in range(runs):
        wl, st, fk = cells[i % len(cells)]
        rng = random.Random(seed * 1_000_003 + i)
        site = rng.choice(FAULT_SITES)
        params = {
            "delay": rng.uniform(0.0, 3_000.0),         # ns after the trigger (traffic still in flight)
            "scale": rng.uniform(0.4, 3.0),             # fault duration in units of the detection time
            "up": rng.uniform(0.2, 2.0),                # flap: up time, same unit
            "count": float(rng.randint(1, 3)),          # flap cycles
            "prob": rng.uniform(0.05, 1.0),             # loss probability
            "second": rng.uniform(0.0, 2.5),            # second failure: delay after the first, same unit
            "second_kv": float(rng.random() < 0.25),    # second failure is the KV store going down
            "second_host": float(rng.random() < 0.5),   # whose backup NIC dies
        }
        out.append(Schedule(i, seed, wl, st, fk, site, rng.randint(0, max(0, n // 2)), params))
    return out


def _fault_hook(b: Any, s: Schedule, cfg: MatrixConfig, kv: MemoryKV) -> Callable[[], None]:
    nic = SITE_NIC[s.site]
    p = s.params
    det = cfg.detect_ns

    def hook() -> None:
        at = b.now_ns() + int(p["delay"])
        dur = int(p["scale"] * det)
        f = b.faults
        if s.fault == "nic_fatal":
            if s.site == "switch_port":
                f.link_down(nic, at_ns=at, label="switch_port_down")
            else:
                f.nic_fatal(nic, at_ns=at)
        elif s.fault == "link_down":
            f.link_down(nic, at_ns=at)
        elif s.fault == "link_flap":
            f.link_flap(nic, at, dur, int(p["up"] * det), int(p["count"]))
        elif s.fault == "packet_loss":
            f.packet_loss(nic, probability=p["prob"], at_ns=at, until_ns=at + dur)
        elif s.fault == "ack_loss":
            requester = "h0.nic0" if s.site != "receiver_nic" else "h1.nic0"
            f.ack_loss(requester, probability=p["prob"], at_ns=at, until_ns=at + dur)
        elif s.fault == "second_failure":
            f.link_down(nic, at_ns=at)
            t2 = at + int(p["second"] * det)
            if p["second_kv"]:
                b.fabric.env.schedule_at(t2, setattr, kv, "available", False)
            else:
                f.nic_fatal("h0.nic1" if p["second_host"] else "h1.nic1", at_ns=t2, label="second_failure")
        else:  # pragma: no cover - make_schedules validates
            raise ShiftUserError(f"unknown fault {s.fault!r}")

    return hook


def replay(s: Schedule, cfg: MatrixConfig = MatrixConfig()) -> tuple[RunResult, Verdict]:
    """Run and judge one schedule on a fresh fabric seeded from it (same schedule, same run)."""
    from shift_core.fabric import make_fabric

    b = make_fabric(seed=s.seed * 1_000_003 + s.run, dup_write=cfg.dup_write)
    kv = MemoryKV.private()
    res = run_failover(b, HOSTS, s.workload, s.strategy, n=cfg.n, kv=kv, fault_hook=_fault_hook(b, s, cfg, kv),
                       fault_after_ops=s.after_ops, deadline_ns=cfg.deadline_ns, timeout=cfg.timeout,
                       retry_cnt=cfg.retry_cnt, max_poll_ns=cfg.max_poll_ns)
    return res, judge(res)


def run_schedule(s: Schedule, cfg: MatrixConfig = MatrixConfig()) -> dict[str, Any]:
    """Run and judge one schedule; one CSV row."""
    t = time.perf_counter()
    res, v = replay(s, cfg)
    wrs = max(1, v.app_wrs)
    return {
        "run": s.run, "seed": s.seed, "workload": s.workload, "strategy": s.strategy,
        "gives_up": STRATEGY_TABLE[s.strategy].gives_up, "fault": s.fault, "site": s.site, "outcome": v.outcome,
        "supported": s.workload in SUPPORTED_WORKLOADS,
        "detection_us": None if v.detection_ns is None else round(v.detection_ns / 1000, 3),
        "downtime_us": None if v.downtime_ns is None else round(v.downtime_ns / 1000, 3),
        "app_wrs": v.app_wrs, "extra_remote_ops": v.extra_remote_ops,
        "extra_ops_per_wr": round(v.extra_remote_ops / wrs, 4), "copies_per_wr": round(v.copies / wrs, 4),
        "resubmitted": v.resubmitted, "skipped_by_counter": v.skipped_by_counter, "switch_backs": v.switch_backs,
        "duplicate_executions": v.duplicate_executions, "ghost_writes": v.ghost_writes, "lost_ops": v.lost_ops,
        "untraced_executions": v.untraced_executions,
        "reason": v.reasons[0] if v.reasons else "", "virtual_ms": round((res.t_end_ns - res.t_start_ns) / 1e6, 3),
        "wall_ms": round((time.perf_counter() - t) * 1000, 2),
    }


_CFG = MatrixConfig()


def _init(cfg: MatrixConfig) -> None:
    global _CFG
    _CFG = cfg


def _work(s: Schedule) -> dict[str, Any]:
    return run_schedule(s, _CFG)


def run_matrix(schedules: list[Schedule], cfg: MatrixConfig = MatrixConfig(), processes: int = 2) -> Iterator[
        dict[str, Any]]:
    """Yield one judged row per schedule (in completion order), using ``processes`` worker processes."""
    if processes <= 1:
        for s in schedules:
            yield run_schedule(s, cfg)
        return
    ctx = mp.get_context("fork")
    with ctx.Pool(processes, initializer=_init, initargs=(cfg,)) as pool:
        yield from pool.imap_unordered(_work, schedules, chunksize=16)


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Outcome counts per (strategy, workload) and per (strategy, fault); medians of detection, downtime, cost."""
    by_sw: dict[str, Counter[str]] = defaultdict(Counter)
    by_sf: dict[str, Counter[str]] = defaultdict(Counter)
    cost: dict[str, list[float]] = defaultdict(list)
    det: dict[str, list[float]] = defaultdict(list)
    down: dict[str, list[float]] = defaultdict(list)
    copies: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        by_sw[f"{r['strategy']}/{r['workload']}"][r["outcome"]] += 1
        by_sf[f"{r['strategy']}/{r['fault']}"][r["outcome"]] += 1
        cost[r["strategy"]].append(r["extra_ops_per_wr"])
        copies[r["strategy"]].append(r["copies_per_wr"])
        if r["detection_us"] is not None:
            det[r["strategy"]].append(r["detection_us"])
        if r["downtime_us"] is not None:
            down[r["strategy"]].append(r["downtime_us"])

    def table(c: dict[str, Counter[str]]) -> dict[str, dict[str, int]]:
        return {k: {o: c[k][o] for o in OUTCOMES} for k in sorted(c)}

    def med(d: dict[str, list[float]]) -> dict[str, float | None]:
        return {s: (round(median(d[s]), 3) if d.get(s) else None) for s in STRATEGIES if s in cost}

    return {
        "runs": len(rows), "by_strategy_workload": table(by_sw), "by_strategy_fault": table(by_sf),
        "median_detection_us": med(det), "median_downtime_us": med(down),
        "mean_extra_ops_per_wr": {s: round(sum(v) / len(v), 4) for s, v in cost.items()},
        "mean_copies_per_wr": {s: round(sum(v) / len(v), 4) for s, v in copies.items()},
        "silent_corruption_on_supported": {s: sum(1 for r in rows if r["strategy"] == s and r["supported"]
                                                   and r["outcome"] == "silent_corruption") for s in cost},
    }


def schedule_json(s: Schedule) -> dict[str, Any]:
    return asdict(s)
