"""The executable trace model of RDMA failover: the judge of every run (Rocq ``Core/*.v``).

Paper-to-Rocq numbering, written once: the appendix's Theorem 1 (indistinguishability) is Rocq
``Lemma1/`` + ``Theorem1/``; Theorem 2 (non-idempotency: FADD, CAS, queue sliding) is ``Lemma2/`` (queue
sliding has no Rocq counterpart); Theorem 3 (consensus barrier) is ``Theorem4/``. Rocq pinned at
``a6e39e0`` (HEAD); the paper's names come from ``e3e862e``. The per-definition cross-reference is data:
:mod:`shift_core.model.xref`.

Modules: :mod:`.memory`, :mod:`.operations`, :mod:`.events` (traces, sender view), :mod:`.properties`
(counts, safety/liveness, overlays), :mod:`.causal` (the ``causal`` universe's automaton).
The model imports nothing else of the project.
"""
