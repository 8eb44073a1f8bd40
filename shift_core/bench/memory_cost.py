"""Memory of SHIFT's backup resources: one shadow QP and CQ per connection (paper §4.2, "memory cost").

SHIFT mirrors every QP and CQ on the backup RNIC at setup, so the backup side costs host memory even while idle.
The paper's formula: QP = context + SQ depth × send-WQE size + RQ depth × recv-WQE size; CQ = context + depth ×
CQE size. Its inputs (mlx5 sizes, NCCL's default queue depths) are configuration, so the numbers are recomputed,
never copied: 3120 + 512·256 + 256·16 = 138,288 B ≈ 138 KB; 592 + 512·64 = 33,360 B ≈ 33 KB. Units are decimal
(KB = 10³ B, MB = 10⁶ B), which is how the paper's 171 MB per 1k connections comes out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from shift_core.bench.record import BenchResult


def qp_bytes(p: Mapping[str, int]) -> int:
    """Bytes of one backup QP (context + send queue + receive queue)."""
    return p["qp_context_bytes"] + p["sq_depth"] * p["send_wqe_bytes"] + p["rq_depth"] * p["recv_wqe_bytes"]


def cq_bytes(p: Mapping[str, int]) -> int:
    """Bytes of one backup CQ (context + CQEs)."""
    return p["cq_context_bytes"] + p["cq_depth"] * p["cqe_bytes"]


def run(settings: Mapping[str, Any]) -> BenchResult:
    """Tabulate backup memory for each configured number of connections (one QP + one CQ each)."""
    p = settings["memory_cost"]
    qp, cq = qp_bytes(p), cq_bytes(p)
    rows = [{"connections": n, "qp_bytes": n * qp, "cq_bytes": n * cq, "total_bytes": n * (qp + cq),
             "total_mb": n * (qp + cq) / 1e6} for n in p["connections"]]
    summary = {"qp_bytes": qp, "cq_bytes": cq, "qp_kb": qp / 1e3, "cq_kb": cq / 1e3,
               "per_1k_mb": 1000 * (qp + cq) / 1e6}
    notes = {"formula": "QP = ctx + sq_depth*send_wqe + rq_depth*recv_wqe; CQ = ctx + cq_depth*cqe",
             "units": "decimal: KB = 1e3 B, MB = 1e6 B", "inputs": dict(p)}
    return BenchResult("memory_cost", "sim", pd.DataFrame(rows), summary, notes)
