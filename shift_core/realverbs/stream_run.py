"""One stream run between the hosts (a Fig 7 timeline, a Fig 8b downtime sample, or a fault-matrix row of a
one-op workload): both halves connect, the host streams while its fault schedule fires, the peer verifies.

Spec keys: ``variant`` (``standard`` or a strategy), ``op``, ``nbytes``, ``depth``, ``slots``, ``duration_s``,
``sample_s``, ``faults`` (:mod:`.faults`), and for downtime runs ``stop_after_failover_s``.
"""

from __future__ import annotations

import time
from typing import Any

from shift_core.realverbs import stream
from shift_core.realverbs.faults import Schedule
from shift_core.realverbs.session import Context, pair_up


def layer_state(ep: Any) -> dict[str, Any]:
    """The layer's counters and queue states (empty for stock verbs)."""
    if ep.lib is None:
        return {}
    rec = ep.lib.record
    return {"app_wrs": rec.app_wrs, "extra_remote_ops": rec.extra_remote_ops, "resubmitted": rec.resubmitted,
            "skipped_by_counter": rec.skipped_by_counter, "switch_backs": rec.switch_backs, "copies": rec.copies,
            "probes": rec.probes, "probe_failures": rec.probe_failures, "errors_surfaced": rec.errors_surfaced,
            "sq_state": ep.qp.sq_state.value, "rq_state": ep.qp.rq_state.value,
            "first_error_ns": rec.first_error_ns, "first_backup_ok_ns": rec.first_backup_ok_ns,
            "transitions": [[t.t_ns, t.queue, t.from_, t.event, t.to] for t in rec.transitions][:40]}


def host(ctx: Context, spec: dict[str, Any]) -> dict[str, Any]:
    nbytes, slots = int(spec["nbytes"]), int(spec["slots"])
    ep, peer = pair_up(ctx, spec["variant"], slots * nbytes, int(spec["depth"]))
    try:
        ctx.ch.recv("receiving")
        t0 = time.monotonic_ns()
        schedule = Schedule(spec.get("faults", []), ctx.ch, t0)
        res = stream.sender(ep, peer, spec["op"], nbytes, int(spec["depth"]), slots, float(spec["duration_s"]),
                            float(spec.get("sample_s", 1.0)), schedule, t0, spec.get("stop_after_failover_s"))
        faults = schedule.finish(ctx.offset)
        ctx.ch.send("stop", last_completed=res.last_completed, last_posted=res.last_posted)
        verified = ctx.ch.recv("verified", timeout_s=120)
        return {"samples": res.samples, "errors": res.errors, "posted": res.posted, "completed": res.completed,
                "read_bad": res.read_bad, "first_error_ns": res.first_error_ns,
                "first_backup_ok_ns": res.first_backup_ok_ns, "faults": faults, "verify": verified["result"],
                "layer": layer_state(ep), "peer_layer": verified["layer"], "t0_ns": t0}
    finally:
        ep.close()


def peer(ctx: Context, spec: dict[str, Any]) -> None:
    nbytes, slots = int(spec["nbytes"]), int(spec["slots"])
    ep, _ = pair_up(ctx, spec["variant"], slots * nbytes, int(spec["depth"]), max_recv=slots)
    try:
        result = stream.receiver(ep, ctx.ch, spec["op"], nbytes, slots)
        ctx.ch.send("verified", result=result, layer=layer_state(ep))
    finally:
        ep.close()
