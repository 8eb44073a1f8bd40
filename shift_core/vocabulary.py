"""One name per concept, across code, data files, tests, pipeline rules and the book.

A check id names its module (``shift_core/theorems/<id>.py``), its test (``tests/theorems/test_<id>.py``), its
result (``data/theorems/<id>.json``), its pipeline rule (``check_<id>``) and its book page
(``book/theorems/<id>.md``). Strategy, workload, fault and outcome names are the values used in CLI options,
CSV columns and figure legends.
"""

from __future__ import annotations

#: theorem checks (paper Appendix A; Rocq directories in brackets)
THEOREM_CHECKS: tuple[str, ...] = (
    "core_laws",                 # Core/Memory.v + Core/Operations.v laws
    "thm1_indistinguishability",  # paper Thm 1 [Lemma1/ + Theorem1/]
    "thm2_atomics",              # paper Thm 2: FADD non-idempotency + CAS double success [Lemma2/]
    "thm2_queue_sliding",        # paper Thm 2: queue sliding (appendix model; not mechanized in Rocq)
    "thm3_consensus",            # paper Thm 3: consensus barrier [Theorem4/]
)

#: protocols of the boundary check (paper Table 1)
BOUNDARY_PROTOCOLS: tuple[str, ...] = ("nccl_simple", "nccl_ll", "nccl_ll128", "nvshmem", "mscclpp")

#: failover strategies; each gives up one Trilemma property (or continuity, for `none`)
STRATEGIES: tuple[str, ...] = ("none", "naive", "shift", "receiver_log", "staging")

#: the Trilemma's properties
TRILEMMA: tuple[str, ...] = ("exactly_once", "receiver_opacity", "zero_copy")

#: workloads of the fault matrix and benchmarks
WORKLOADS: tuple[str, ...] = (
    "nccl_simple", "nccl_ll", "nccl_ll128", "rdma_read", "send_recv", "fadd_counter", "cas_lock", "buffer_reuse",
)

#: fault kinds of fault schedules
FAULT_KINDS: tuple[str, ...] = ("nic_fatal", "link_down", "link_flap", "packet_loss", "ack_loss", "second_failure")

#: where a fault is injected
FAULT_SITES: tuple[str, ...] = ("sender_nic", "receiver_nic", "switch_port")

#: outcome of one judged run
OUTCOMES: tuple[str, ...] = ("correct", "error_surfaced", "silent_corruption", "stall")

#: backends (pyverbs-shaped), in the order the claims table and figures show them; `sim` is the embedded default
BACKENDS: tuple[str, ...] = ("sim", "rxe", "nic")
