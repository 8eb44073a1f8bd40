"""The Rocq / paper / Python cross-reference, as data (one table).

Rocq locations are ``file:line`` in ``taooceros/shift-verification`` at HEAD :data:`ROCQ_COMMIT`; the paper's
names (Appendix A) come from the paper-era commit :data:`PAPER_COMMIT`, whose locations are given where the
paper's name differs or was removed at HEAD. ``check`` is the vocabulary check id whose JSON carries the
evidence; ``kind`` is W (witness), E (bounded exhaustive search), P (property) or D (definition only).
The runner exports this table as ``data/theorems/rocq_xref.json``; the book renders it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

ROCQ_REPO = "https://github.com/taooceros/shift-verification"
ROCQ_COMMIT = "a6e39e0"  #: HEAD, pinned for the model
PAPER_COMMIT = "e3e862e"  #: "Add formal appendix": the names the paper uses


@dataclass(frozen=True, slots=True)
class XRef:
    """One row: a Rocq definition or theorem, its paper name, its Python counterpart and its evidence."""

    rocq: str
    rocq_loc: str
    python: str
    check: str
    kind: str
    paper: str = ""
    paper_loc: str = ""
    note: str = ""


_M = "shift_core.model"
_T = "shift_core.theorems"

XREF: tuple[XRef, ...] = (
    # Core/Memory.v
    XRef("init_memory", "coq/Core/Memory.v:25", f"{_M}.memory.INIT_MEMORY", "core_laws", "D",
         note="Rocq values are naturals; Memory(wrap_bits=64) is our hardware-like option"),
    XRef("mem_read", "coq/Core/Memory.v:28", f"{_M}.memory.Memory.read", "core_laws", "D"),
    XRef("mem_write", "coq/Core/Memory.v:31", f"{_M}.memory.Memory.write", "core_laws", "D"),
    XRef("mem_read_write_same", "coq/Core/Memory.v:36", f"{_T}.core_laws.memory_laws", "core_laws", "E",
         paper="mem_read_write_same"),
    XRef("mem_read_write_other", "coq/Core/Memory.v:43", f"{_T}.core_laws.memory_laws", "core_laws", "E"),
    XRef("mem_write_write_same", "coq/Core/Memory.v:53", f"{_T}.core_laws.memory_laws", "core_laws", "E"),
    XRef("mem_write_write_comm", "coq/Core/Memory.v:61", f"{_T}.core_laws.memory_laws", "core_laws", "E"),
    # Core/Operations.v
    XRef("Op", "coq/Core/Operations.v:12", f"{_M}.operations.Op", "core_laws", "D",
         note="Send (SEND/RECV) is our extension; Rocq has no two-sided op"),
    XRef("exec_op", "coq/Core/Operations.v:51", f"{_M}.operations.exec_op", "core_laws", "E",
         paper="exec_op"),
    XRef("write_idempotent", "coq/Core/Operations.v:62", f"{_T}.core_laws.idempotency_table", "core_laws", "E"),
    XRef("fadd_not_idempotent", "coq/Core/Operations.v:69", f"{_T}.thm2_atomics.fadd_non_idempotency",
         "thm2_atomics", "E", paper="fadd_not_idempotent", note="paper says delta > 0; Rocq delta <> 0 (same on N)"),
    XRef("cas_success_changes_state", "coq/Core/Operations.v:95", f"{_T}.core_laws.idempotency_table",
         "core_laws", "E"),
    XRef("cas_fail_idempotent", "coq/Core/Operations.v:110", f"{_T}.core_laws.idempotency_table", "core_laws",
         "E"),
    # Core/Traces.v
    XRef("Event", "coq/Core/Traces.v:12", f"{_M}.events.Event", "thm1_indistinguishability", "D",
         note="PostRecv and Fault are our extensions, invisible to the sender view"),
    XRef("sender_view", "coq/Core/Traces.v:42", f"{_M}.events.sender_view", "thm1_indistinguishability", "P"),
    XRef("sender_indistinguishable", "coq/Core/Traces.v:54", f"{_M}.events.sender_indistinguishable",
         "thm1_indistinguishability", "D"),
    XRef("op_executed", "coq/Core/Traces.v:66", f"{_M}.events.op_executed", "thm1_indistinguishability", "D"),
    XRef("sender_saw_timeout", "coq/Core/Traces.v:74", f"{_M}.events.sender_saw_timeout",
         "thm1_indistinguishability", "D"),
    XRef("memory_after_events", "coq/Core/Traces.v:80", f"{_M}.events.memory_after_events", "thm2_atomics", "D"),
    XRef("final_memory", "coq/Core/Traces.v:92", f"{_M}.events.final_memory", "thm2_atomics", "D"),
    # Core/Properties.v
    XRef("execution_count", "coq/Core/Properties.v:70", f"{_M}.properties.execution_count", "thm2_atomics", "D"),
    XRef("AtMostOnce", "coq/Core/Properties.v:79", f"{_M}.properties.at_most_once", "thm2_atomics", "D"),
    XRef("ExactlyOnce", "coq/Core/Properties.v:83", f"{_M}.properties.exactly_once", "thm2_atomics", "D"),
    XRef("Live", "coq/Core/Properties.v:99", f"{_M}.properties.live", "thm1_indistinguishability", "D"),
    XRef("Overlay", "coq/Core/Properties.v:109", f"{_M}.properties.Overlay", "thm1_indistinguishability", "D"),
    XRef("IsTransparent", "coq/Core/Properties.v:114", f"{_M}.properties.is_transparent_on",
         "thm1_indistinguishability", "P", note="a transparent overlay is modelled as D' on views, lifted by lift()"),
    XRef("Linearizable", "coq/Core/Properties.v", "(not modelled)", "core_laws", "D",
         note="defined as True in Rocq (a placeholder); we do not model it"),
    # Lemma1 + Theorem1
    XRef("ConflictingTraces", "coq/Lemma1/Indistinguishability.v:28", f"{_T}.thm1_indistinguishability",
         "thm1_indistinguishability", "E"),
    XRef("T1_packet_loss", "coq/Lemma1/Indistinguishability.v:34",
         f"{_T}.thm1_indistinguishability.t1_packet_loss", "thm1_indistinguishability", "W"),
    XRef("T2_ack_loss", "coq/Lemma1/Indistinguishability.v:42", f"{_T}.thm1_indistinguishability.t2_ack_loss",
         "thm1_indistinguishability", "W"),
    XRef("indistinguishability_universal", "coq/Lemma1/Indistinguishability.v:54",
         f"{_T}.thm1_indistinguishability.lemma1_witness", "thm1_indistinguishability", "W",
         paper="sender_views_equal", paper_loc="coq/Theorem1/Impossibility.v:133",
         note="renamed at e2d1ab2; the paper-era lemma is about the Write + reuse traces"),
    XRef("SystemSafety", "coq/Theorem1/Impossibility.v:25", f"{_M}.universes.MUST_SKIP",
         "thm1_indistinguishability", "D", paper="ProvidesSafety", paper_loc="coq/Theorem1/Impossibility.v:71",
         note="HEAD: FADD/CAS executed + timeout; paper era: executed + buffer reused (ghost write)"),
    XRef("SystemLiveness", "coq/Theorem1/Impossibility.v:37", f"{_M}.universes.MUST_RETRY",
         "thm1_indistinguishability", "D", paper="ProvidesLiveness", paper_loc="coq/Theorem1/Impossibility.v:82"),
    XRef("impossibility_main", "coq/Theorem1/Impossibility.v:48", f"{_T}.thm1_indistinguishability.search",
         "thm1_indistinguishability", "E", paper="impossibility_safe_retransmission",
         paper_loc="coq/Theorem1/Impossibility.v:181",
         note="HEAD quantifies over FADD/CAS; the paper's statement is Write + AppReuse; we check both"),
    XRef("non_transparent_overlay_achieves_both", "(removed at HEAD; 94c9cc7 coq/Theorem1/Impossibility.v:395)",
         f"{_M}.universes.FibreSearch.oracle_ok", "thm1_indistinguishability", "E",
         note="the positive control: an overlay that sees the whole trace is safe and live"),
    # Lemma2
    XRef("NonIdempotentOp", "coq/Lemma2/Atomics.v:19", f"{_M}.operations.is_non_idempotent", "thm2_atomics", "D"),
    XRef("Idempotent", "coq/Lemma2/Atomics.v:27", f"{_M}.operations.idempotent", "core_laws", "E"),
    XRef("retry_trace", "coq/Lemma2/Atomics.v:35", f"{_T}.thm2_atomics.retry_trace", "thm2_atomics", "W"),
    XRef("retry_double_execution", "coq/Lemma2/Atomics.v:47", f"{_T}.thm2_atomics.retry_trace", "thm2_atomics",
         "W"),
    XRef("fadd_non_idempotent", "coq/Lemma2/Atomics.v:59", f"{_T}.thm2_atomics.fadd_non_idempotency",
         "thm2_atomics", "P"),
    XRef("cas_idempotent_iff", "coq/Lemma2/Atomics.v:81", f"{_T}.core_laws.idempotency_table", "core_laws", "E"),
    XRef("fadd_retry_violates_at_most_once", "coq/Lemma2/FADD.v:101", f"{_T}.thm2_atomics.retry_trace",
         "thm2_atomics", "W"),
    XRef("fadd_example", "coq/Lemma2/FADD.v:118", f"{_T}.thm2_atomics.fadd_example", "thm2_atomics", "W"),
    XRef("cas_double_success", "coq/Lemma2/CAS.v:106", f"{_T}.thm2_atomics.cas_search", "thm2_atomics", "E",
         paper="cas_double_success"),
    XRef("concurrent_cas_trace", "coq/Lemma2/CAS.v:142", f"{_T}.thm2_atomics.concurrent_cas_trace",
         "thm2_atomics", "W"),
    XRef("cas_retry_not_generally_safe", "coq/Lemma2/CAS.v:199", f"{_T}.thm2_atomics.concurrent_cas_trace",
         "thm2_atomics", "W"),
    XRef("(none) send_queue_sliding", "(not mechanized at any commit)", f"{_T}.thm2_queue_sliding",
         "thm2_queue_sliding", "E", paper="send_queue_sliding",
         note="appendix model (theory_appendix.typ A.2); our own (M, Q_R) semantics"),
    # Theorem4 (paper Theorem 3)
    XRef("before_process / writers_before", "coq/Theorem4/ConsensusNumber.v:85", f"{_T}.thm3_consensus",
         "thm3_consensus", "D"),
    XRef("valid_rw_observation", "coq/Theorem4/ConsensusNumber.v:691", f"{_T}.thm3_consensus.rocq_rw_check",
         "thm3_consensus", "E"),
    XRef("readwrite_2consensus_impossible_same_protocol", "coq/Theorem4/ConsensusNumber.v:771",
         f"{_T}.thm3_consensus.rocq_rw_check", "thm3_consensus", "E",
         note="pid-blind decide; the pid-aware variant escapes it (control)"),
    XRef("register_cn_1_verified", "coq/Theorem4/ConsensusNumber.v:1225", f"{_T}.thm3_consensus.herlihy_check",
         "thm3_consensus", "E", paper="register_cn_1_verified",
         note="ours is a genuine bounded Herlihy check over all <=2-step read/write protocols"),
    XRef("fadd_cannot_solve_3consensus", "coq/Theorem4/ConsensusNumber.v:266", f"{_T}.thm3_consensus.fadd_check",
         "thm3_consensus", "E"),
    XRef("fadd_2consensus_protocol", "coq/Theorem4/ConsensusNumber.v:368", f"{_T}.thm3_consensus.fadd_check",
         "thm3_consensus", "E"),
    XRef("cas_can_solve_any_n", "coq/Theorem4/ConsensusNumber.v:1267", f"{_T}.thm3_consensus.cas_check",
         "thm3_consensus", "E"),
    XRef("VerificationMechanism", "coq/Theorem4/FailoverConsensus.v:257", f"{_T}.thm3_consensus.solver_check",
         "thm3_consensus", "D"),
    XRef("solves_failover", "coq/Theorem4/FailoverConsensus.v:282", f"{_T}.thm3_consensus.solver_check",
         "thm3_consensus", "E", note="Rocq's H0/H1 are declared; ours are derived by the CAS schedule search"),
    XRef("failover_unsolvable", "coq/Theorem4/FailoverConsensus.v:304", f"{_T}.thm3_consensus.solver_check",
         "thm3_consensus", "E"),
    XRef("consensus_protocol", "coq/Theorem4/FailoverConsensus.v:394", f"{_T}.thm3_consensus.reduction_witness",
         "thm3_consensus", "W"),
    XRef("failover_solver_yields_2consensus", "coq/Theorem4/FailoverConsensus.v:677",
         f"{_T}.thm3_consensus.reduction_witness", "thm3_consensus", "W", paper="failover_solver_yields_2consensus",
         note="proved ex falso in Rocq; our witness is constructive"),
    XRef("failover_impossible_by_read_cn", "coq/Theorem4/FailoverConsensus.v:715",
         f"{_T}.thm3_consensus.solver_check", "thm3_consensus", "E", paper="failover_impossible_by_read_cn"),
    XRef("failover_consensus_impossible", "coq/Theorem4/FailoverConsensus.v:163",
         f"{_T}.thm3_consensus.past_future_check",
         "thm3_consensus", "E", note="the Past/Future record is empty by its agreement law alone"),
    XRef("no_correct_future_decision", "coq/Theorem4/FailoverConsensus.v:230",
         f"{_T}.thm3_consensus.past_future_check", "thm3_consensus", "E"),
    XRef("zero_copy_failover_impossible_concrete", "coq/Theorem4/FailoverConsensus.v:831",
         f"{_T}.thm1_indistinguishability.zero_copy_concrete", "thm1_indistinguishability", "W",
         note="the paper-era ghost-write pair, still at HEAD"),
    XRef("transparent_cas_failover_impossible", "coq/Theorem4/Hierarchy.v:81", f"{_T}.thm3_consensus.solver_check",
         "thm3_consensus", "E", paper="transparent_cas_failover_impossible",
         note="its TransparentFailover premises are unused in Rocq"),
)


def as_records() -> list[dict[str, str]]:
    """The table as JSON-ready records (for ``data/theorems/rocq_xref.json``)."""
    return [asdict(x) for x in XREF]


def for_check(check_id: str) -> tuple[XRef, ...]:
    """The rows whose evidence lives in one check's JSON."""
    return tuple(x for x in XREF if x.check == check_id)
