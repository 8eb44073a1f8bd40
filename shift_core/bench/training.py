"""Fig 10 shape: a 2-node data-parallel job (one all-reduce per iteration, NCCL Simple pattern) hit by a fatal
NIC fault, under checkpoint-restart vs SHIFT (idle or busy backup) vs a flapping NIC with switch-back.

Each iteration is ``compute_ms`` of virtual compute, then a 2-rank ring all-reduce of ``bucket_bytes``
(reduce-scatter + all-gather: two steps of ``bucket/2`` each way). A step is NCCL Simple on the wire: the data
as unsignaled RDMA WRITEs of ``CHUNK`` bytes, then one signaled WRITE_WITH_IMM notification the peer waits on.
A checkpoint is taken after every epoch. The fault hits host ``h0``'s default RNIC at ``fault_at_epoch``.

* ``no_failure``: the upper bound (SHIFT layer, no fault).
* ``checkpoint_restart``: stock verbs; the error completion kills the job, which restarts after ``restart_ms``
  from the last checkpoint on a restored NIC (the paper's baseline).
* ``shift_idle`` / ``shift_busy``: SHIFT fails over to the backup RNIC, idle or with ``busy_backup_load`` of its
  line rate taken by competing traffic (modelled as that share of the backup link's rate).
* ``flapping``: the default port goes down and comes back after ``flap_recover_ms``; SHIFT switches back.

Times are simulated milliseconds, not the paper's hours: compare shapes and ratios (config/README.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from shift_core.backend.attrs import SGE, RecvWR, SendWR
from shift_core.backend.enums import ibv_send_flags, ibv_wc_opcode, ibv_wr_opcode
from shift_core.bench.endpoints import STANDARD, Endpoint, layer_missing, open_pair
from shift_core.bench.record import BenchResult, BenchUnavailable
from shift_core.bench.sim import BACKUP, DEFAULT, SENDER, dev, make_backend

CASES = ("no_failure", "checkpoint_restart", "shift_idle", "shift_busy", "flapping")
CHUNK = 512 * 1024  #: NCCL_IB default chunk of a Simple step
STEP_NS = 5_000
FAULT_INTO_ALLREDUCE_NS = 10_000  #: the fault lands this long after the iteration's all-reduce starts


class JobFailed(Exception):
    """The application saw an error completion: the job dies (stock RDMA)."""


def _post_step(ep: Endpoint, peer: Endpoint, nbytes: int, tag: int) -> None:
    """One Simple step from ``ep`` to ``peer``: unsignaled data WRITEs, then a signaled WRITE_WITH_IMM."""
    n_chunks = max(1, math.ceil(nbytes / CHUNK))
    wrs = []
    for i in range(n_chunks):
        length = min(CHUNK, nbytes - i * CHUNK) if nbytes > i * CHUNK else 0
        last = i == n_chunks - 1
        wr = SendWR(wr_id=tag * 1000 + i, sg_list=[SGE(ep.mr.buf + i * CHUNK, max(length, 1), ep.mr.lkey)],
                    opcode=ibv_wr_opcode.IBV_WR_RDMA_WRITE_WITH_IMM if last else ibv_wr_opcode.IBV_WR_RDMA_WRITE,
                    send_flags=int(ibv_send_flags.IBV_SEND_SIGNALED) if last else 0, imm_data=tag)
        wr.set_wr_rdma(peer.mr.rkey, peer.mr.buf + i * CHUNK)
        wrs.append(wr)
    for wr in wrs:
        ep.post_send(wr)


def _allreduce_step(backend: Any, a: Endpoint, b: Endpoint, nbytes: int, tag: int, limit_ns: int) -> None:
    """Both ranks send ``nbytes`` to each other and wait for their own send and the peer's notification."""
    for ep in (a, b):
        ep.post_recv(RecvWR(wr_id=tag, sg_list=[]))
    _post_step(a, b, nbytes, tag)
    _post_step(b, a, nbytes, tag)
    pending = {("a", "send"), ("a", "recv"), ("b", "send"), ("b", "recv")}
    deadline = backend.now_ns() + limit_ns
    while pending:
        if backend.now_ns() > deadline:
            raise JobFailed("all-reduce stalled")
        backend.advance(STEP_NS)
        for name, ep in (("a", a), ("b", b)):
            ep.progress()
            for wc in ep.poll(64):
                if not wc.ok:
                    raise JobFailed(wc.status.name)
                kind = "recv" if wc.opcode == ibv_wc_opcode.IBV_WC_RECV_RDMA_WITH_IMM else "send"
                pending.discard((name, kind))


def _pair(settings: Mapping[str, Any], variant: str, case: str) -> tuple[Any, Endpoint, Endpoint]:
    fabric, p = settings["fabric"], settings["training"]
    backend = make_backend(fabric, int(settings["seed"]))
    if case == "shift_busy":
        for name, nic in backend.fabric.nics.items():
            if name.endswith(BACKUP):
                nic.link.gbps *= 1.0 - float(p["busy_backup_load"])
    a, b = open_pair(backend, variant, int(p["bucket_bytes"]) // 2 + CHUNK, 64, int(fabric["rc_timeout"]),
                     int(fabric["retry_cnt"]), namespace=f"training-{case}")
    return backend, a, b


def run_case(settings: Mapping[str, Any], case: str) -> list[dict[str, Any]]:
    """One job to completion: a row per finished iteration (job time in ms, progress in %)."""
    p = settings["training"]
    per_epoch, epochs = int(p["iters_per_epoch"]), int(p["epochs"])
    total = per_epoch * epochs
    fault_iter = int(float(p["fault_at_epoch"]) * per_epoch)
    variant = STANDARD if case == "checkpoint_restart" else "shift"
    half = int(p["bucket_bytes"]) // 2
    compute_ns = int(float(p["compute_ms"]) * 1e6)
    backend, a, b = _pair(settings, variant, case)
    rows: list[dict[str, Any]] = []
    offset_ns, done, restarts = 0, 0, 0
    fault_armed = case != "no_failure"
    while done < total:
        if fault_armed and done == fault_iter:
            fault_armed = False
            nic = dev(SENDER, DEFAULT)
            hit = backend.now_ns() + compute_ns + FAULT_INTO_ALLREDUCE_NS  # with the all-reduce in flight
            if case == "flapping":
                backend.faults.link_down(nic, at_ns=hit)
                backend.faults.link_up(nic, at_ns=hit + int(float(p["flap_recover_ms"]) * 1e6))
            else:
                backend.faults.nic_fatal(nic, at_ns=hit)
        try:
            backend.advance(compute_ns)
            for step in range(2):
                _allreduce_step(backend, a, b, half, done * 2 + step + 1, 10 * compute_ns + 50_000_000)
        except JobFailed:
            if variant != STANDARD:
                raise
            restarts += 1
            t_fail = offset_ns + backend.now_ns()
            rows.append({"case": case, "iter": done, "t_ms": t_fail / 1e6, "progress_pct": 100 * done / total,
                         "event": "failure"})
            done = (done // per_epoch) * per_epoch  # back to the last checkpoint
            offset_ns = t_fail + int(float(p["restart_ms"]) * 1e6)
            backend, a, b = _pair(settings, variant, case)  # the restored NIC, a relaunched job
            offset_ns -= backend.now_ns()
            rows.append({"case": case, "iter": done, "t_ms": (offset_ns + backend.now_ns()) / 1e6,
                         "progress_pct": 100 * done / total, "event": "restart"})
            continue
        done += 1
        rows.append({"case": case, "iter": done, "t_ms": (offset_ns + backend.now_ns()) / 1e6,
                     "progress_pct": 100 * done / total, "event": "checkpoint" if done % per_epoch == 0 else ""})
    return rows


def _iteration_ms(frame: pd.DataFrame, case: str) -> pd.Series:
    """Duration (ms) of each completed iteration of ``case``, indexed by iteration number."""
    done = frame[(frame.case == case) & ~frame.event.isin(["failure", "restart"])].sort_values("t_ms")
    return done.set_index("iter")["t_ms"].diff().dropna()


def _iteration_shape(frame: pd.DataFrame, compute_ms: float, fault_iter: int) -> dict[str, float]:
    """What explains the completion ratios: the communication share of a fault-free iteration, and how much
    longer an iteration takes once SHIFT runs on the backup (median after the fault / median before)."""
    base = _iteration_ms(frame, "no_failure")
    out = {"comm_share_no_failure": float(1 - compute_ms / base.median())} if len(base) else {}
    for case in ("shift_idle", "shift_busy"):
        it = _iteration_ms(frame, case)
        before, after = it[it.index <= fault_iter], it[it.index > fault_iter + 1]
        if len(before) and len(after):
            out[f"iter_ratio_after_fault_{case}"] = float(after.median() / before.median())
    return out


def run(settings: Mapping[str, Any]) -> BenchResult:
    """All cases; summary = completion-time ratios vs ``no_failure`` and the checkpoint-restart loss."""
    why = layer_missing()
    if why:
        raise BenchUnavailable(why)
    p = settings["training"]
    frame = pd.DataFrame([row for case in CASES for row in run_case(settings, case)])
    end = frame.groupby("case")["t_ms"].max()
    base = float(end["no_failure"])
    summary: dict[str, float] = {f"completion_ms_{c}": float(end[c]) for c in CASES}
    for case in CASES[1:]:
        key = "completion_ratio_" + case
        summary[key] = float(end[case]) / base
    fails = frame[(frame.case == "checkpoint_restart") & (frame.event == "failure")]
    restarts = frame[(frame.case == "checkpoint_restart") & (frame.event == "restart")]
    per_epoch = int(p["iters_per_epoch"])
    if len(fails) and len(restarts):
        summary["lost_epochs_checkpoint_restart"] = (int(fails.iloc[0]["iter"]) - int(restarts.iloc[0]["iter"])) \
            / per_epoch
    summary.update(_iteration_shape(frame, float(p["compute_ms"]), int(float(p["fault_at_epoch"]) * per_epoch)))
    notes = {"t_ms": "job time in simulated ms (restart cost included)", "cases": list(CASES),
             "busy_backup": f"backup links at {1 - float(p['busy_backup_load']):.0%} of their rate"}
    return BenchResult("training", "sim", frame, summary, notes)
